package worker_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"golang.org/x/sync/errgroup"

	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// publishMany publishes n orders through the real topic, 8 at a time.
func publishMany(ctx context.Context, t *testing.T, cfg aws.Config, dep *topology.Deployment, n int, amount string) {
	t.Helper()
	pub := events.NewPublisher(sns.NewFromConfig(cfg), dep.Topics["publisher:ordersTopic"])
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for range n {
		o := newOrder(t, amount)
		g.Go(func() error {
			_, err := pub.Publish(ctx, events.OrderPlaced{Order: o})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestHeartbeatKeepsSlowOrderFromRedelivery runs a handler more than twice
// as slow as the queue's visibility timeout, with a second worker waiting on
// the same queue: the heartbeat keeps the message hidden on the emulator, so
// it is handled once. The heartbeat ticks every third of the timeout and
// first extends a message at the second tick after its receive, so its first
// call has a third of the timeout to reach the emulator: 3s here, not the
// 0.7s of a 2s timeout, which a loaded machine's shared emulator can miss.
// TestEngineHeartbeatKeepsSlowMessageHidden checks the same on the fake clock
// with short timeouts.
func TestHeartbeatKeepsSlowOrderFromRedelivery(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)
	client := sqs.NewFromConfig(emu.Config)
	url := dep.Services["fulfilment"].QueueURL
	const visibility = 9 * time.Second
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second))},
	}); err != nil {
		t.Fatal(err)
	}

	var calls, done atomic.Int32
	slow := worker.HandlerFunc(func(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
		calls.Add(1)
		time.Sleep(2*visibility + 2*time.Second)
		done.Add(1)
		return "slow", nil
	})
	cfg := engineConfig(dep, worker.Config{QueueURL: url, VisibilityTimeout: visibility})
	startEngineWith(ctx, t, emu.Config, slow, cfg)
	startEngineWith(ctx, t, emu.Config, slow, cfg)
	publish(ctx, t, emu.Config, dep, newOrder(t, "10.00"))

	waitFor(t, "the slow handler to finish", time.Minute, func() bool { return done.Load() == 1 })
	time.Sleep(3 * time.Second) // a redelivery would have been picked up by now
	if got := calls.Load(); got != 1 {
		t.Errorf("slow order handled %d times, want 1", got)
	}
	waitFor(t, "the queue to be empty", 10*time.Second, func() bool { return emu.QueueDepth(ctx, t, url) == 0 })
}

// TestFailedHandlerBacksOff fails an order twice: each redelivery waits
// RetryBase × 2^(receives-1), so the gaps grow, and the third try succeeds.
func TestFailedHandlerBacksOff(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)

	var mu sync.Mutex
	var at []time.Time
	flaky := worker.HandlerFunc(func(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if len(at) < 3 {
			return "", errors.New("downstream unavailable")
		}
		return "done", nil
	})
	m, _ := startEngineWith(ctx, t, emu.Config, flaky, engineConfig(dep, worker.Config{QueueURL: dep.Services["fulfilment"].QueueURL, RetryMax: time.Minute}))
	publish(ctx, t, emu.Config, dep, newOrder(t, "10.00"))
	waitFor(t, "the third try to succeed", time.Minute, func() bool { return m.Stats(t).Succeeded == 1 })

	mu.Lock()
	defer mu.Unlock()
	first, second := at[1].Sub(at[0]), at[2].Sub(at[1])
	t.Logf("gaps between tries: %s, %s", first.Round(time.Millisecond), second.Round(time.Millisecond))
	if first < time.Second || second < 2*time.Second {
		t.Errorf("gaps %s and %s, want at least 1s and 2s", first, second)
	}
	if s := m.Stats(t); s.Failed != 2 {
		t.Errorf("failed = %d, want 2", s.Failed)
	}
}

// TestDrainFinishesInFlightWork cancels the engine while five slow handlers
// run: they finish, their messages are deleted, and Run returns.
func TestDrainFinishesInFlightWork(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)
	url := dep.Services["fulfilment"].QueueURL

	var started, finished atomic.Int32
	slow := worker.HandlerFunc(func(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
		started.Add(1)
		time.Sleep(1500 * time.Millisecond)
		finished.Add(1)
		return "done", nil
	})
	publishMany(ctx, t, emu.Config, dep, 5, "10.00")
	_, stop := startEngineWith(ctx, t, emu.Config, slow, engineConfig(dep, worker.Config{QueueURL: url, DrainTimeout: 10 * time.Second}))
	waitFor(t, "five handlers in flight", 30*time.Second, func() bool { return started.Load() == 5 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if got := finished.Load(); got != 5 {
		t.Errorf("%d of 5 in-flight handlers finished before Run returned", got)
	}
	if d := emu.QueueDepth(ctx, t, url); d != 0 {
		t.Errorf("queue holds %d messages after the drain, want 0 (all deleted)", d)
	}
}

// TestDrainHandsBackUnfinishedWork cancels the engine while a handler runs
// longer than the drain budget: Run returns within the budget and the
// message is visible again at once for another worker.
func TestDrainHandsBackUnfinishedWork(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)
	client := sqs.NewFromConfig(emu.Config)
	url := dep.Services["fulfilment"].QueueURL

	var started atomic.Int32
	stuck := worker.HandlerFunc(func(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
		started.Add(1)
		<-ctx.Done()
		return "", ctx.Err()
	})
	publish(ctx, t, emu.Config, dep, newOrder(t, "10.00"))
	m, stop := startEngineWith(ctx, t, emu.Config, stuck, engineConfig(dep, worker.Config{QueueURL: url, DrainTimeout: 500 * time.Millisecond}))
	waitFor(t, "the handler in flight", 30*time.Second, func() bool { return started.Load() == 1 })
	stopped := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	// About the 500ms budget plus the 1s poll under way; a budget ignored
	// would leave Run waiting for the stuck handler until the test's timeout.
	if took := time.Since(stopped); took > 10*time.Second {
		t.Errorf("Run took %s to return after cancel, want about the 500ms drain budget (and the 1s poll under way)", took)
	}
	if got := m.Stats(t).Released; got != 1 {
		t.Errorf("released = %d, want 1", got)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Errorf("received %d messages right after the hand-back, want the 1 handed back", len(out.Messages))
	}
}

// TestStoppingWorkerLeavesNewOrderToNext stops an idle worker in the middle
// of its 20s long poll and publishes an order at once, as happens in every
// rolling deploy. The stopping worker must not leave its poll to the server
// (which would take the order for a client that is gone and hide it for the
// 30s visibility timeout): the next worker receives the order within a few
// seconds.
func TestStoppingWorkerLeavesNewOrderToNext(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)
	client := sqs.NewFromConfig(emu.Config)
	url := dep.Services["fulfilment"].QueueURL

	var handled atomic.Int32
	h := worker.HandlerFunc(func(context.Context, events.OrderPlaced) (worker.Outcome, error) {
		handled.Add(1)
		return "fulfilled", nil
	})
	runCtx, cancelRun := context.WithCancel(ctx)
	m, stop := startEngineWith(runCtx, t, emu.Config, h, engineConfig(dep, worker.Config{QueueURL: url, WaitTime: 20 * time.Second, DrainTimeout: 25 * time.Second}))
	time.Sleep(time.Second) // the first long poll is on the server
	cancelRun()
	publish(ctx, t, emu.Config, dep, newOrder(t, "10.00"))
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if n := handled.Load(); n != 0 {
		t.Errorf("the stopping worker handled %d orders, want 0 (it stopped before the order was published)", n)
	}

	published := time.Now()
	var got int
	// Well under the 30s an abandoned poll would hide the order for, and
	// well over what a loaded machine's emulator takes to deliver it.
	for time.Since(published) < 20*time.Second && got == 0 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = len(out.Messages)
	}
	if got != 1 {
		t.Fatalf("the next worker received no order within 20s of its publication; want it at once (stats of the stopped worker: %+v)", m.Stats(t))
	}
	t.Logf("the next worker received the order %s after its publication (stopped worker: %+v)", time.Since(published).Round(time.Millisecond), m.Stats(t))
}

// TestTwoWorkersShareQueue runs two engines on one queue holding 500 orders:
// every order is fulfilled, each effect exactly once.
func TestTwoWorkersShareQueue(t *testing.T) {
	emu, dep, ctx := deployed(t, 5*time.Minute)
	db := dynamodb.NewFromConfig(emu.Config)
	svc := dep.Services["fulfilment"]

	publishMany(ctx, t, emu.Config, dep, 500, "10.00")
	a := &recorder{Handler: fulfilment.NewHandler(db, svc.Tables["fulfilmentsTable"], time.Now)}
	b := &recorder{Handler: fulfilment.NewHandler(db, svc.Tables["fulfilmentsTable"], time.Now)}
	ma := startEngine(t, emu.Config, dep, a, svc.QueueURL)
	mb := startEngine(t, emu.Config, dep, b, svc.QueueURL)
	waitFor(t, "500 orders handled", 4*time.Minute, func() bool {
		return ma.Stats(t).Succeeded+mb.Stats(t).Succeeded >= 500 && emu.QueueDepth(ctx, t, svc.QueueURL) == 0
	})
	fulfilled := 0
	for _, o := range append(a.Outcomes(), b.Outcomes()...) {
		if o == fulfilment.OutcomeFulfilled {
			fulfilled++
		}
	}
	t.Logf("worker A handled %d, worker B %d", len(a.Outcomes()), len(b.Outcomes()))
	if fulfilled != 500 {
		t.Errorf("%d fulfilled outcomes, want 500", fulfilled)
	}
	if n := countItems(ctx, t, db, svc.Tables["fulfilmentsTable"]); n != 500 {
		t.Errorf("fulfilments table holds %d items, want 500", n)
	}
}

// TestRacingHandlersHaveOneEffect runs each worker's handler for one order
// from ten goroutines at once, as two workers receiving the same message
// would: the conditional write lets exactly one of them record the effect.
func TestRacingHandlersHaveOneEffect(t *testing.T) {
	emu, dep, ctx := deployed(t, time.Minute)
	db := dynamodb.NewFromConfig(emu.Config)
	for _, tc := range []struct {
		name    string
		handler worker.Handler
		table   string
		effect  worker.Outcome
	}{
		{"fulfilment", fulfilment.NewHandler(db, dep.Services["fulfilment"].Tables["fulfilmentsTable"], time.Now), dep.Services["fulfilment"].Tables["fulfilmentsTable"], fulfilment.OutcomeFulfilled},
		{"promotion", promotion.NewHandler(db, dep.Services["promotion"].Tables["couponsTable"], time.Now), dep.Services["promotion"].Tables["couponsTable"], promotion.OutcomeIssued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := events.OrderPlaced{Order: newOrder(t, "250.00")}
			outcomes := make([]worker.Outcome, 10)
			var g errgroup.Group
			for i := range outcomes {
				g.Go(func() (err error) {
					outcomes[i], err = tc.handler.Handle(ctx, ev)
					return err
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			effects := 0
			for _, o := range outcomes {
				switch o {
				case tc.effect:
					effects++
				case worker.Duplicate:
				default:
					t.Errorf("outcome %q, want %q or duplicate", o, tc.effect)
				}
			}
			if effects != 1 {
				t.Errorf("%d of 10 racing handlers recorded the effect, want exactly 1", effects)
			}
			if n := countItems(ctx, t, db, tc.table); n != 1 {
				t.Errorf("table holds %d records (coupon-code claims aside), want 1", n)
			}
		})
	}
}
