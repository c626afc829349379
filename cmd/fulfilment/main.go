// Command fulfilment is the fulfilment worker: it long-polls its queue,
// subscribed to every order, and records one fulfilment per order.
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
		fmt.Fprintf(os.Stderr, "fulfilment: %v\n", err)
		os.Exit(1)
	}
}
