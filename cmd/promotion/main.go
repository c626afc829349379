// Command promotion is the promotion worker: it receives orders of 80.00 or
// more (the subscription filters the rest) and issues a 20% coupon for each.
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
		fmt.Fprintf(os.Stderr, "promotion: %v\n", err)
		os.Exit(1)
	}
}
