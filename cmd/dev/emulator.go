package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
)

// Emulators the dev tool can start.
const (
	emulatorMoto       = "moto"
	emulatorLocalStack = "localstack"
)

// emulatorChoice is the emulator to start when AWS_ENDPOINT_URL names none.
type emulatorChoice struct {
	kind string // emulatorMoto or emulatorLocalStack
	// explicit is true when -emulator or EMULATOR chose kind; the default
	// leaves the integration tests free to start LocalStack in Docker.
	explicit   bool
	python     string // moto's Python
	localstack string // the folder `make localstack` installs LocalStack into
}

// emulatorEndpoint returns the emulator to use and the variables that lead
// a process to it: the one at AWS_ENDPOINT_URL when set, else the chosen
// emulator started here (until stop is called).
func emulatorEndpoint(ctx context.Context, getenv func(string) string, stdout io.Writer, choice emulatorChoice) (endpoint string, env []string, stop func(), err error) {
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		fmt.Fprintf(stdout, "dev: using the AWS emulator at %s (AWS_ENDPOINT_URL)\n", ep)
		return ep, emulator.Env(ep, getenv), func() {}, nil
	}
	logFile, err := os.CreateTemp("", choice.kind+"-*.log")
	if err != nil {
		return "", nil, nil, fmt.Errorf("create the emulator's log: %w", err)
	}
	var s *emulator.Server
	switch choice.kind {
	case emulatorLocalStack:
		s, err = emulator.StartLocalStack(ctx, emulator.LocalStackInstall(choice.localstack, logFile))
	default:
		s, err = emulator.StartMoto(ctx, choice.python, logFile)
	}
	if err != nil {
		logFile.Close()
		return "", nil, nil, fmt.Errorf("%w (log: %s)", err, logFile.Name())
	}
	fmt.Fprintf(stdout, "dev: started %s at %s (log: %s)\n", s.Name, s.Endpoint, logFile.Name())
	return s.Endpoint, s.Env(getenv), func() { s.Stop(); logFile.Close() }, nil
}
