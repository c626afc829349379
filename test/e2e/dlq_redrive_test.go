package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// errNotDeployedYet is the fault the test's handler has until the fix is "deployed".
var errNotDeployedYet = errors.New("the fix is not deployed yet")

// brokenUntilFixed is the fulfilment handler with a bug: every order fails
// (an ordinary error, retried with back-off) until fixed is set.
type brokenUntilFixed struct {
	worker.Handler
	fixed    atomic.Bool
	failures atomic.Int64
}

func (h *brokenUntilFixed) Handle(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
	if !h.fixed.Load() {
		h.failures.Add(1)
		return "", fmt.Errorf("fulfil order %s: %w", e.Order.ID, errNotDeployedYet)
	}
	return h.Handler.Handle(ctx, e)
}

// TestDeadLetterRunbook follows the dead-letter runbook (docs/operating.md) with its own
// commands: an order whose handler keeps failing reaches fulfilment's DLQ
// after the manifest's 3 tries; `make dlq-show` shows it there; once the
// cause is fixed, `make dlq-redrive` moves it back and it is fulfilled, once.
// Redrive is SQS's StartMessageMoveTask, which moto does not implement: the
// test runs on LocalStack (make test-localstack) and AWS.
func TestDeadLetterRunbook(t *testing.T) {
	emu := integration.Start(t)
	if os.Getenv("AWS_EMULATOR") == "moto" { // set by bin/dev when it started the emulator
		skip.Exempt(t, noMoveTasks)
	}
	top, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := sqs.NewFromConfig(emu.Config)
	svc, spec := dep.Services["fulfilment"], top.Service("fulfilment")
	dlqARN := queueARN(ctx, t, client, svc.DLQURL)
	requireMessageMoveTasks(ctx, t, client, dlqARN)
	cli := awsCLI(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}

	// The fulfilment engine in-process with the faulty handler, on the
	// deployed queue; retries quick so the 3 tries take seconds.
	db := dynamodb.NewFromConfig(emu.Config)
	table := svc.Tables["fulfilmentsTable"]
	h := &brokenUntilFixed{Handler: fulfilment.NewHandler(db, table, time.Now)}
	logs := &syncBuffer{}
	e, err := worker.New(client, h, worker.Config{
		QueueURL:          svc.QueueURL,
		Name:              "fulfilment",
		TopicARN:          dep.Topics["publisher:ordersTopic"],
		MaxReceives:       spec.Queue.DeadLetterTries,
		Concurrency:       10,
		WaitTime:          time.Second,
		VisibilityTimeout: spec.Queue.Timeout,
		DrainTimeout:      5 * time.Second,
		RetryBase:         time.Second,
		RetryMax:          2 * time.Second,
		PoisonDelay:       time.Second,
		HandlerTimeout:    time.Minute,
	}, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
		if t.Failed() {
			t.Logf("engine log:\n%s", logs.String())
		}
	})

	o, err := order.Parse(order.NewID(), "Edsger Dijkstra", "42.00")
	if err != nil {
		t.Fatal(err)
	}
	o.CreatedAt = time.Now().UTC()
	if _, err := events.NewPublisher(sns.NewFromConfig(emu.Config), dep.Topics["publisher:ordersTopic"]).Publish(ctx, events.OrderPlaced{Order: o}); err != nil {
		t.Fatal(err)
	}

	// 1. It fails on every try and lands in the DLQ.
	waitUntil(t, "the failing order in the DLQ", time.Minute, func() bool { return emu.QueueDepth(ctx, t, svc.DLQURL) == 1 })
	if got, want := h.failures.Load(), int64(spec.Queue.DeadLetterTries); got != want {
		t.Errorf("handler failed %d times before the DLQ; want %d (dead_letter.tries)", got, want)
	}

	// 2. The runbook's look at it: the count, and the message with the order in it.
	runbook := func(target string) string {
		return runMake(ctx, t, emu, target, "SVC=fulfilment", "ENV="+dep.Env, "REGION="+emu.Config.Region, "AWS="+cli)
	}
	out := runbook("dlq-show")
	if !strings.Contains(out, "messages: 1\n") || !strings.Contains(out, o.ID) {
		t.Errorf("make dlq-show does not show 1 message with order %s:\n%s", o.ID, out)
	}

	// 3. The cause is fixed and deployed; the runbook's redrive.
	h.fixed.Store(true)
	out = runbook("dlq-redrive")
	if !strings.Contains(out, "message move task started: ") {
		t.Errorf("make dlq-redrive did not report a started move task:\n%s", out)
	}

	// 4. The order is fulfilled, once, and the DLQ is empty.
	var rows []row
	waitUntil(t, "the redriven order fulfilled", time.Minute, func() bool { rows = scan(ctx, t, db, table); return len(rows) > 0 })
	if len(rows) != 1 || rows[0].OrderID != o.ID || rows[0].Amount != "42.00" {
		t.Errorf("fulfilments = %+v; want one for order %s of 42.00", rows, o.ID)
	}
	waitUntil(t, "the DLQ empty", 30*time.Second, func() bool { return emu.QueueDepth(ctx, t, svc.DLQURL) == 0 })
}

const noMoveTasks = "moto does not implement SQS message move tasks (StartMessageMoveTask), which make dlq-redrive runs; make test-localstack runs this test on LocalStack"

// requireMessageMoveTasks skips the test where an emulator bin/dev did not
// start (AWS_EMULATOR unset) does not implement SQS message move tasks, and
// fails it where one should.
func requireMessageMoveTasks(ctx context.Context, t *testing.T, client *sqs.Client, dlqARN string) {
	t.Helper()
	_, err := client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlqARN)})
	switch emulator := os.Getenv("AWS_EMULATOR"); {
	case err == nil:
	case emulator == "":
		skip.Exempt(t, fmt.Sprintf("the emulator, which bin/dev did not start (AWS_EMULATOR unset), does not answer ListMessageMoveTasks (%v): moto, perhaps? %s", err, noMoveTasks))
	default:
		t.Fatalf("ListMessageMoveTasks on %s: %v", emulator, err)
	}
}

// awsCLI finds the AWS CLI the runbook's targets run: AWS_CLI (make
// test-localstack sets it), else the one in LocalStack's venv, else aws on PATH.
func awsCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AWS_CLI"); p != "" {
		return p
	}
	p := filepath.Join(integration.RepoRoot(t), ".venv-localstack", "venv", "bin", "aws")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		skip.OrFail(t, "no AWS CLI: set AWS_CLI, or run make localstack (its venv has one)")
	}
	return p
}

// runMake runs a make target at the repository root on the emulator and
// returns its output, failing the test if it fails.
func runMake(ctx context.Context, t *testing.T, emu *integration.Emulator, target string, vars ...string) string {
	t.Helper()
	args := append([]string{"--no-print-directory", "-C", integration.RepoRoot(t), target}, vars...)
	cmd := exec.CommandContext(ctx, "make", args...)
	// Not the make that may be running the tests: its flags and job server are not this one's.
	env := []string{}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, emu.Env()...)
	out, err := cmd.CombinedOutput()
	t.Logf("make %s:\n%s", strings.Join(args[3:], " "), out)
	if err != nil {
		t.Fatalf("make %s: %v", target, err)
	}
	return string(out)
}

func queueARN(ctx context.Context, t *testing.T, client *sqs.Client, url string) string {
	t.Helper()
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}
