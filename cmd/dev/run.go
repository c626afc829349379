package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
	"github.com/pubsub-app/pubsub/internal/devstack/procgroup"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// exitError carries a child command's exit code out of run.
type exitError struct{ code int }

func (e exitError) Error() string { return "command exited with status " + strconv.Itoa(e.code) }

// options are the dev tool's command and flags.
type options struct {
	command   string // run or exec
	emulator  emulatorChoice
	workspace string
	envName   string
	bin       string
	port      int
	argv      []string // exec's command and its arguments
}

// parseArgs reads the command and its flags; EMULATOR (from getenv) is the
// default of -emulator.
func parseArgs(args []string, getenv func(string) string) (options, error) {
	if len(args) < 2 {
		return options{}, errors.New("usage: dev run|exec [flags]")
	}
	o := options{command: args[1]}
	if o.command != "run" && o.command != "exec" {
		return options{}, fmt.Errorf("unknown command %q: want run or exec", o.command)
	}
	fs := flag.NewFlagSet("dev "+o.command, flag.ContinueOnError)
	defaultEmulator := getenv("EMULATOR")
	if defaultEmulator == "" {
		defaultEmulator = emulatorMoto
	}
	fs.StringVar(&o.emulator.kind, "emulator", defaultEmulator, "the emulator to start when AWS_ENDPOINT_URL names none: moto or localstack (EMULATOR sets the default)")
	fs.StringVar(&o.emulator.python, "python", ".venv/bin/python", "the Python that has moto[server] installed")
	fs.StringVar(&o.emulator.localstack, "localstack", ".venv-localstack", "the folder that make localstack installs LocalStack into (its venv/ and root/)")
	fs.StringVar(&o.workspace, "copilot", "copilot", "the Copilot workspace folder")
	fs.StringVar(&o.envName, "env", "local", "the environment name resources are created under")
	fs.StringVar(&o.bin, "bin", "bin", "the folder holding the built publisher, fulfilment and promotion")
	fs.IntVar(&o.port, "port", 5000, "the publisher's port")
	if err := fs.Parse(args[2:]); err != nil {
		return options{}, err
	}
	if k := o.emulator.kind; k != emulatorMoto && k != emulatorLocalStack {
		return options{}, fmt.Errorf("-emulator %q: want %s or %s", k, emulatorMoto, emulatorLocalStack)
	}
	o.emulator.explicit = getenv("EMULATOR") != ""
	fs.Visit(func(f *flag.Flag) { o.emulator.explicit = o.emulator.explicit || f.Name == "emulator" })
	o.argv = fs.Args()
	if o.command == "exec" && len(o.argv) == 0 {
		return options{}, errors.New("usage: dev exec [flags] -- COMMAND [ARGS...]")
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseArgs(args, getenv)
	if err != nil {
		return err
	}
	if o.command == "run" {
		return runStack(ctx, getenv, stdout, o)
	}
	err = execWithEmulator(ctx, getenv, stdout, o.emulator, o.argv)
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	return err
}

// execWithEmulator runs a command against an emulator: the one at
// AWS_ENDPOINT_URL; else, unless one was chosen, LocalStack in Docker (which
// the tests start) when Docker answers; else the chosen one (moto by
// default) started here for the command's lifetime.
func execWithEmulator(ctx context.Context, getenv func(string) string, stdout io.Writer, choice emulatorChoice, argv []string) error {
	env := os.Environ()
	docker := getenv("AWS_ENDPOINT_URL") == "" && !choice.explicit && emulator.DockerReachable()
	if docker {
		// An engine that cannot get the image (no registry, as here) is no reason to fail.
		if why := emulator.ImageUnavailable(ctx, emulator.LocalStackImage(getenv)); why != "" {
			fmt.Fprintf(stdout, "dev: Docker answers, but it cannot start LocalStack (%s); starting %s instead\n", why, choice.kind)
			docker = false
		}
	}
	if docker {
		fmt.Fprintln(stdout, "dev: Docker answers; the integration tests will start LocalStack")
	} else {
		_, emuEnv, stop, err := emulatorEndpoint(ctx, getenv, stdout, choice)
		if err != nil {
			return err
		}
		defer stop()
		env = append(env, emuEnv...)
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

// runStack provisions the topology and runs the services until ctx ends,
// starting again any that exits.
func runStack(ctx context.Context, getenv func(string) string, stdout io.Writer, o options) error {
	top, err := topology.Load(os.DirFS(o.workspace))
	if err != nil {
		return err
	}
	endpoint, emuEnv, stop, err := emulatorEndpoint(ctx, getenv, stdout, o.emulator)
	if err != nil {
		return err
	}
	defer stop()
	cfg, err := emulator.Config(ctx, endpoint)
	if err != nil {
		return err
	}
	dep, err := topology.Provision(ctx, topology.NewClients(cfg), top, o.envName)
	if err != nil {
		return err
	}
	for _, s := range top.Services {
		d := dep.Services[s.Name]
		fmt.Fprintf(stdout, "dev: provisioned %s: queue=%q dlq=%q tables=%v\n", s.Name, d.QueueURL, d.DLQURL, d.Tables)
	}
	fmt.Fprintf(stdout, "dev: dead letters, from another terminal: AWS_ENDPOINT_URL=%s make dlq-show SVC=fulfilment ENV=%s REGION=%s\n", endpoint, o.envName, cfg.Region)

	g := procgroup.New(stdout)
	// Every 10 seconds while orders flow, a line per service from the
	// metrics they write (written every 5 seconds here, unless set).
	sum := newSummary(o.envName)
	g.Tap(sum.feed)
	go sum.report(ctx, stdout, 10*time.Second)
	base := append(os.Environ(), emuEnv...)
	if getenv("METRICS_INTERVAL") == "" {
		base = append(base, "METRICS_INTERVAL=5s")
	}
	for _, s := range top.Services {
		env := append(append([]string{}, base...), dep.Services[s.Name].Environ()...)
		// The SDK puts the app id in each request's User-Agent, so the
		// emulator's logs (and the tests' recording proxy) tell the services apart.
		env = append(env, "AWS_SDK_UA_APP_ID="+s.Name)
		if s.Type == topology.TypeLoadBalancedWeb {
			// Loopback only: on a laptop the form must not be open to the
			// network. On ECS LISTEN_HOST is unset and the publisher listens
			// on every interface, where the load balancer reaches the task.
			env = append(env, "PORT="+strconv.Itoa(o.port), "LISTEN_HOST=127.0.0.1")
		}
		if _, err := g.Start(s.Name, filepath.Join(o.bin, s.Name), nil, env); err != nil {
			g.Stop(5 * time.Second)
			return fmt.Errorf("%w (run `make build` first)", err)
		}
	}
	fmt.Fprintf(stdout, "dev: open http://localhost:%d/ to place an order; Ctrl-C stops everything\n", o.port)

	// Like ECS, which starts a new task when one stops: a service that exits
	// (a crash, a kill -9) is started again after a short back-off while the
	// others keep running, so its queue waits for it and then drains.
	g.Supervise(ctx, procgroup.ECSBackoff, func(format string, args ...any) {
		fmt.Fprintf(stdout, "dev: "+format+"\n", args...)
	})
	// Registered only now, after the Ctrl-C that ended ctx has been
	// delivered: what arrives here is a second one.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	workers := map[string]bool{}
	for _, s := range top.Services {
		workers[s.Name] = s.Type == topology.TypeWorker
	}
	fmt.Fprintln(stdout, "dev: stopping")
	failed := stopServices(g, stdout, stopGrace, workers, again)
	if len(failed) > 0 {
		return fmt.Errorf("services did not stop cleanly: %v", failed)
	}
	return nil
}
