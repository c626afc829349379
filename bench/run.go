package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// options are the command's flags.
type options struct {
	duration    time.Duration // measured time per contender and figure
	rounds      int           // interleaved rounds the throughput figures are split into
	warmup      time.Duration
	idle        time.Duration
	backlog     int
	concurrency int
	rate        float64 // publishes per second for the latency figure
	clients     int
	only        string
	quiet       bool
}

// bench holds what every scenario needs.
type bench struct {
	cfg aws.Config
	top *topology.Topology
	opt options
	out io.Writer // progress lines
	// busy is the engine's throughput round nearest the median, once the
	// worker figures ran: the SQS calls of a worker whose queue never empties.
	busy *throughputResult
}

func (b *bench) progress(format string, args ...any) {
	if !b.opt.quiet {
		fmt.Fprintf(b.out, "bench: "+format+"\n", args...)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	// Flags.
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var opt options
	fs.DurationVar(&opt.duration, "duration", 15*time.Second, "measured time per contender and figure (split across -rounds where rounds alternate)")
	fs.IntVar(&opt.rounds, "rounds", 3, "interleaved rounds for the throughput figures (median reported)")
	fs.DurationVar(&opt.warmup, "warmup", 2*time.Second, "warm-up before each measured window")
	fs.DurationVar(&opt.idle, "idle", 30*time.Second, "how long the idle engine polls an empty queue")
	fs.IntVar(&opt.backlog, "backlog", 50, "queue depth the producer keeps during throughput runs")
	fs.IntVar(&opt.concurrency, "concurrency", 10, "handlers at once, for every worker contender")
	fs.Float64Var(&opt.rate, "rate", 20, "orders published per second for the latency figure")
	fs.IntVar(&opt.clients, "clients", 8, "concurrent clients placing orders")
	fs.StringVar(&opt.only, "only", "", "run only the worker, the publisher or the cost figures")
	fs.BoolVar(&opt.quiet, "q", false, "no progress lines, only the table")
	workspace := fs.String("copilot", "../copilot", "the Copilot workspace the environments are provisioned from")
	python := fs.String("python", "../.venv/bin/python", "the Python with moto[server], used when AWS_ENDPOINT_URL is unset and to read moto's version")
	// A run's table goes where git ignores it; results.md holds the committed
	// figures, replaced by hand when they are worth keeping.
	results := fs.String("o", "out/results.md", "where the table is written as Markdown (empty: nowhere)")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole run")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case opt.rounds < 1 || opt.duration/time.Duration(opt.rounds) < time.Second:
		return fmt.Errorf("-duration %s over -rounds %d: each round needs at least 1s", opt.duration, opt.rounds)
	case opt.backlog < 10 || opt.concurrency < 1 || opt.clients < 1 || opt.rate <= 0 || opt.idle <= 0 || opt.warmup < 0:
		return errors.New("-backlog must be at least 10; -concurrency, -clients, -rate and -idle positive; -warmup not negative")
	case opt.only != "" && opt.only != "worker" && opt.only != "publisher" && opt.only != "cost":
		return fmt.Errorf("-only %q: want worker, publisher or cost", opt.only)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	began := time.Now()

	// Emulator: the one dev exec started, else moto started here (dev exec
	// leaves AWS_ENDPOINT_URL unset where a Docker engine answers).
	endpoint := getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		m, err := emulator.StartMoto(ctx, *python, io.Discard)
		if err != nil {
			return fmt.Errorf("no AWS_ENDPOINT_URL, and starting moto failed: %w", err)
		}
		defer m.Stop()
		endpoint = m.Endpoint
	}
	cfg, err := emulator.Config(ctx, endpoint)
	if err != nil {
		return err
	}
	// Ending a scenario cancels long polls mid-response, which the SDK
	// reports as warnings about unread bodies; failures still come back as
	// errors from the calls.
	cfg.Logger = logging.Nop{}
	top, err := topology.Load(os.DirFS(*workspace))
	if err != nil {
		return fmt.Errorf("load the topology from %s: %w", *workspace, err)
	}
	b := &bench{cfg: cfg, top: top, opt: opt, out: stdout}

	rep := &report{header: []string{
		fmt.Sprintf("pubsub bench, %s; emulator %s (%s); GOMAXPROCS %d; %s",
			time.Now().UTC().Format("2006-01-02 15:04 MST"), endpoint, emulatorName(ctx, endpoint, *python), runtime.GOMAXPROCS(0), runtime.Version()),
		fmt.Sprintf("Each figure beside its baseline from the same run; ratio = value ÷ baseline. Throughput: %d interleaved rounds of %s per contender (median), warm-up %s, backlog ~%d, concurrency %d.",
			opt.rounds, opt.duration/time.Duration(opt.rounds), opt.warmup, opt.backlog, opt.concurrency),
	}}

	// Scenarios, one after another; each stops its goroutines and deletes
	// its environment before the next starts.
	if opt.only == "" || opt.only == "worker" {
		if err := b.workerFigures(ctx, rep); err != nil {
			return err
		}
	}
	if opt.only == "" || opt.only == "publisher" {
		if err := b.publisherFigures(ctx, rep); err != nil {
			return err
		}
	}
	if opt.only == "" || opt.only == "cost" {
		if err := b.costFigures(ctx, rep); err != nil {
			return err
		}
	}
	rep.note("whole run: %s", time.Since(began).Round(time.Second))

	// Output: the table, and the same as Markdown.
	fmt.Fprintln(stdout)
	rep.writeText(stdout)
	if *results != "" {
		var md bytes.Buffer
		rep.writeMarkdown(&md)
		if err := os.MkdirAll(filepath.Dir(*results), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", *results, err)
		}
		if err := os.WriteFile(*results, md.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *results, err)
		}
	}
	return nil
}

// emulatorName says which emulator answers at endpoint: moto (with its
// version, read from python when that is at hand) or unknown.
func emulatorName(ctx context.Context, endpoint, python string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/data.json", nil)
	if err != nil {
		return "unknown emulator"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "unknown emulator"
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "not moto"
	}
	out, err := exec.CommandContext(ctx, python, "-c", "import importlib.metadata as m; print(m.version('moto'))").Output()
	if err != nil {
		return "moto"
	}
	return "moto " + strings.TrimSpace(string(out))
}
