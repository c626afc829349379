// Command publisher serves the order form: it saves each order to DynamoDB
// and publishes an OrderPlaced event to the ordersTopic SNS topic.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "publisher: %v\n", err)
		os.Exit(1)
	}
}
