// Command bench measures the worker and the publisher against an AWS
// emulator and prints one table: each figure beside its baseline (the bare
// SDK calls, the Go CDK, the original sample's pattern) from the same run,
// so the emulator's speed on this machine cancels out of the ratios.
//
// `make bench` runs it under `dev exec`, which starts moto and sets
// AWS_ENDPOINT_URL. Every scenario provisions a fresh environment from
// ../copilot and deletes it afterwards, so none sees another's messages.
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
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}
