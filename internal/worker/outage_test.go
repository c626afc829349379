package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pubsub-app/pubsub/internal/events"
)

func TestTransient(t *testing.T) {
	httpErr := func(status int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: errors.New("boom")}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"DynamoDB throttling", fmt.Errorf("record fulfilment: %w", &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}), true},
		{"ThrottlingException", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"503", fmt.Errorf("put: %w", httpErr(503)), true},
		{"500", httpErr(500), true},
		{"connection refused", fmt.Errorf("put: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), true},
		{"timeout", fmt.Errorf("put: %w", context.DeadlineExceeded), true},
		{"permanent", fmt.Errorf("order 1: %w", ErrPermanent), false},
		{"a handler's own error", errors.New("coupon rule broken"), false},
		{"validation", &smithy.GenericAPIError{Code: "ValidationException"}, false},
		{"conditional check", &types.ConditionalCheckFailedException{}, false},
		{"nil", nil, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%s: %v) = %v; want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// dependency is a handler's store that can be taken down: while down, every
// Handle and Probe fails with DynamoDB's throttling error.
type dependency struct {
	down    atomic.Bool
	probes  atomic.Int32
	mu      sync.Mutex
	handled []string
}

func (d *dependency) Handle(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
	if d.down.Load() {
		return "", fmt.Errorf("record order %s: %w", ev.Order.ID, &types.ProvisionedThroughputExceededException{Message: aws.String("throughput exceeded")})
	}
	d.mu.Lock()
	d.handled = append(d.handled, ev.Order.ID)
	d.mu.Unlock()
	return "fulfilled", nil
}

func (d *dependency) Probe(ctx context.Context) error {
	d.probes.Add(1)
	if d.down.Load() {
		return &types.ProvisionedThroughputExceededException{Message: aws.String("throughput exceeded")}
	}
	return nil
}

func (d *dependency) handledIDs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.handled...)
}

// TestEngineOutagePausesReceiving takes the handler's dependency down for
// ten minutes. The message that met the outage is handed back with its
// back-off; the messages received ahead with it wait, unstarted (kept hidden
// by the heartbeat), and nothing more is received, so a message arriving
// meanwhile stays in the queue with its receive count untouched. The engine
// probes the dependency, with back-off, not a message; once a probe answers,
// everything is handled.
func TestEngineOutagePausesReceiving(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t, orderMessages(t, 1, 3)...)
		client.visibility = 30 * time.Second
		dep := &dependency{}
		dep.down.Store(true)
		m, stop, _ := startTestEngine(t, client, dep, Config{Concurrency: 1, VisibilityTimeout: 30 * time.Second, RetryBase: 2 * time.Second})

		synctest.Wait() // h1 failed, h2 and h3 wait
		if got := m.Stats(t); got.Failed != 1 || got.Pauses != 1 {
			t.Fatalf("after the first failure: %+v; want 1 failed, 1 pause", got)
		}
		receives := len(client.waitTimes())
		client.push(orderMessages(t, 4, 4)...)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := len(client.waitTimes()); got != receives {
			t.Errorf("%d receives during the outage; want none", got-receives)
		}
		if client.queued() != 1 {
			t.Errorf("%d messages in the queue during the outage; want the 1 that arrived, untouched", client.queued())
		}
		if got := m.Stats(t).Failed; got != 1 {
			t.Errorf("%d handler failures during the outage; want only the first (the rest wait)", got)
		}
		// Back-off 1s doubling to 30s: about 24 probes in 10 minutes, not one a second.
		if p := dep.probes.Load(); p < 5 || p > 40 {
			t.Errorf("%d probes in 10 minutes; want probing with back-off up to 30s", p)
		}
		if l := client.lapses(); len(l) != 0 {
			t.Errorf("messages %v became visible while they waited; want the heartbeat to keep them hidden", l)
		}

		dep.down.Store(false)
		time.Sleep(31 * time.Second) // the next probe answers
		synctest.Wait()
		want := []string{testOrderID(2), testOrderID(3), testOrderID(4)}
		if got := dep.handledIDs(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("handled after the outage %v; want %v", got, want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		vis := client.visChanges()
		if len(vis) == 0 || vis[0] != (visChange{"h1", 2}) {
			t.Errorf("visibility changes %v; want h1 handed back first with its 2s back-off", vis)
		}
		if got := m.Stats(t).Pauses; got != 1 {
			t.Errorf("pauses = %d; want 1", got)
		}
	})
}

// TestEngineKeepsReceivingOnMessageErrors: an error that is the message's
// (not a dependency's) backs off that message alone.
func TestEngineKeepsReceivingOnMessageErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t, orderMessages(t, 1, 2)...)
		var handled atomic.Int32
		m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
			if ev.Order.ID == testOrderID(1) {
				return "", errors.New("this order breaks a rule")
			}
			handled.Add(1)
			return "fulfilled", nil
		}), Config{Concurrency: 1})
		synctest.Wait()
		client.push(orderMessages(t, 3, 3)...)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := m.Stats(t); got.Pauses != 0 || handled.Load() != 2 {
			t.Errorf("stats %+v, %d handled; want no pause and h2, h3 handled", got, handled.Load())
		}
	})
}

// TestEngineOutageWithoutProber: a handler that cannot probe is tried again
// with the next message once the back-off has passed.
func TestEngineOutageWithoutProber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t, orderMessages(t, 1, 2)...)
		var down atomic.Bool
		down.Store(true)
		var calls atomic.Int32
		m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
			calls.Add(1)
			if down.Load() {
				return "", &smithy.GenericAPIError{Code: "ThrottlingException"}
			}
			return "fulfilled", nil
		}), Config{Concurrency: 1})
		synctest.Wait()
		if calls.Load() != 1 {
			t.Fatalf("%d handler calls right after the failure; want 1 (h2 waits)", calls.Load())
		}
		down.Store(false)
		time.Sleep(2 * time.Second) // past the first probe back-off (1s)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := m.Stats(t); got.Succeeded != 1 || got.Pauses != 1 {
			t.Errorf("stats %+v; want h2 handled after one pause", got)
		}
	})
}

// TestEngineStopsDuringOutage: SIGTERM while paused drains at once: the
// messages waiting are handed back unstarted.
func TestEngineStopsDuringOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t, orderMessages(t, 1, 2)...)
		dep := &dependency{}
		dep.down.Store(true)
		m, stop, _ := startTestEngine(t, client, dep, Config{Concurrency: 1})
		synctest.Wait()
		began := time.Now()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took > 2*time.Second {
			t.Errorf("Run took %v to stop during the outage; want it prompt", took)
		}
		if got := m.Stats(t); got.Released != 1 {
			t.Errorf("stats %+v; want h2 handed back unstarted", got)
		}
	})
}
