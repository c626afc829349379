package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pubsub-app/pubsub/internal/emulator"
	"github.com/pubsub-app/pubsub/internal/procgroup"
	"github.com/pubsub-app/pubsub/internal/topology"
)

// exitError carries a child command's exit code out of run.
type exitError struct{ code int }

func (e exitError) Error() string { return "command exited with status " + strconv.Itoa(e.code) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: dev run|exec [flags]")
	}
	fs := flag.NewFlagSet("dev "+args[1], flag.ContinueOnError)
	python := fs.String("python", ".venv/bin/python", "the Python that has moto[server] installed")
	workspace := fs.String("copilot", "copilot", "the Copilot workspace folder")
	envName := fs.String("env", "local", "the environment name resources are created under")
	bin := fs.String("bin", "bin", "the folder holding the built publisher, fulfilment and promotion")
	port := fs.Int("port", 5000, "the publisher's port")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	switch args[1] {
	case "run":
		return runStack(ctx, getenv, stdout, *python, *workspace, *envName, *bin, *port)
	case "exec":
		if fs.NArg() == 0 {
			return errors.New("usage: dev exec [flags] -- COMMAND [ARGS...]")
		}
		err := execWithEmulator(ctx, getenv, stdout, *python, fs.Args())
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		return err
	default:
		return fmt.Errorf("unknown command %q: want run or exec", args[1])
	}
}

// emulatorEndpoint returns the emulator to use: AWS_ENDPOINT_URL when set,
// else a moto server started here (stop is then non-nil).
func emulatorEndpoint(ctx context.Context, getenv func(string) string, stdout io.Writer, python string) (endpoint string, stop func(), err error) {
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		fmt.Fprintf(stdout, "dev: using the AWS emulator at %s (AWS_ENDPOINT_URL)\n", ep)
		return ep, func() {}, nil
	}
	logFile, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return "", nil, err
	}
	m, err := emulator.StartMoto(ctx, python, logFile)
	if err != nil {
		logFile.Close()
		return "", nil, err
	}
	fmt.Fprintf(stdout, "dev: started moto server at %s (log: %s)\n", m.Endpoint, logFile.Name())
	return m.Endpoint, func() { m.Stop(); logFile.Close() }, nil
}

// execWithEmulator runs a command against an emulator: the one at
// AWS_ENDPOINT_URL, LocalStack (which the tests start) when Docker answers,
// else moto started here for the command's lifetime.
func execWithEmulator(ctx context.Context, getenv func(string) string, stdout io.Writer, python string, argv []string) error {
	env := os.Environ()
	if getenv("AWS_ENDPOINT_URL") == "" && emulator.DockerReachable() {
		fmt.Fprintln(stdout, "dev: Docker answers; the integration tests will start LocalStack")
	} else {
		endpoint, stop, err := emulatorEndpoint(ctx, getenv, stdout, python)
		if err != nil {
			return err
		}
		defer stop()
		env = append(env, emulator.Env(endpoint, getenv)...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, os.Stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError{code: ee.ExitCode()}
	}
	return err
}

// runStack provisions the topology and runs the services until ctx ends or
// one of them exits.
func runStack(ctx context.Context, getenv func(string) string, stdout io.Writer, python, workspace, envName, bin string, port int) error {
	top, err := topology.Load(os.DirFS(workspace))
	if err != nil {
		return err
	}
	endpoint, stop, err := emulatorEndpoint(ctx, getenv, stdout, python)
	if err != nil {
		return err
	}
	defer stop()
	cfg, err := emulator.Config(ctx, endpoint)
	if err != nil {
		return err
	}
	dep, err := topology.Provision(ctx, topology.NewClients(cfg), top, envName)
	if err != nil {
		return err
	}
	for _, s := range top.Services {
		d := dep.Services[s.Name]
		fmt.Fprintf(stdout, "dev: provisioned %s: queue=%q dlq=%q tables=%v\n", s.Name, d.QueueURL, d.DLQURL, d.Tables)
	}

	g := procgroup.New(stdout)
	base := append(os.Environ(), emulator.Env(endpoint, getenv)...)
	for _, s := range top.Services {
		env := append(append([]string{}, base...), dep.Services[s.Name].Environ()...)
		if s.Type == topology.TypeLoadBalancedWeb {
			env = append(env, "PORT="+strconv.Itoa(port))
		}
		if _, err := g.Start(s.Name, filepath.Join(bin, s.Name), nil, env); err != nil {
			g.Stop(5 * time.Second)
			return fmt.Errorf("%w (run `make build` first)", err)
		}
	}
	fmt.Fprintf(stdout, "dev: open http://localhost:%d/ to place an order; Ctrl-C stops everything\n", port)

	exited := make(chan *procgroup.Proc, len(g.Procs()))
	for _, p := range g.Procs() {
		go func() { <-p.Done(); exited <- p }()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "dev: stopping")
	case p := <-exited:
		fmt.Fprintf(stdout, "dev: %s exited (%v); stopping the others\n", p.Name, p.Err())
	}
	failed := g.Stop(30 * time.Second)
	if len(failed) > 0 {
		return fmt.Errorf("services did not stop cleanly: %v", failed)
	}
	return nil
}
