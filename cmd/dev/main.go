// Command dev runs the application on this machine without AWS: it starts
// (or finds) an AWS emulator, creates on it the resources that copilot/
// declares, and starts the three services with the variables Copilot would
// inject. `make run` and `make test` call it.
//
//	dev run  [flags]            provision and run the services until Ctrl-C
//	dev exec [flags] -- CMD...  run CMD with AWS_ENDPOINT_URL pointing at an emulator
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
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		os.Exit(1)
	}
}
