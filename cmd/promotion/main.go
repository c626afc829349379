// Command promotion is the promotion worker: it receives orders of 80.00 or
// more (the subscription filters the rest) and issues a 20% coupon for each.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pubsub-app/pubsub/cmd/internal/workerconf"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "promotion: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return workerconf.Run(ctx, "promotion", args, getenv, stdout,
		func(c Config) (workerconf.Config, string) { return c.Worker, c.Table }, promotion.NewHandler)
}
