// Command fulfilment is the fulfilment worker: it long-polls its queue,
// subscribed to every order, and records one fulfilment per order.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pubsub-app/pubsub/cmd/internal/workerconf"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "fulfilment: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return workerconf.Run(ctx, "fulfilment", args, getenv, stdout,
		func(c Config) (workerconf.Config, string) { return c.Worker, c.Table }, fulfilment.NewHandler)
}
