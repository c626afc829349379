package worker

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/events"
)

// flakySQS fails its first receives, as SQS does during an outage.
type flakySQS struct {
	*fakeSQS
	mu       sync.Mutex
	failures int
	calls    []time.Time
}

func (f *flakySQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	fail := len(f.calls) <= f.failures
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return f.fakeSQS.ReceiveMessage(ctx, in, opts...)
}

// TestEngineRetriesReceiveErrors makes the first two receives fail: the
// engine waits longer after each (1s, then 2s), keeps running, and handles
// the message once SQS answers. On synctest's clock the waits are exact,
// however loaded the machine.
func TestEngineRetriesReceiveErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := &flakySQS{fakeSQS: newFakeSQS(t, orderMessages(t, 1, 1)...), failures: 2}
		handled := make(chan struct{}, 1)
		h := HandlerFunc(func(context.Context, events.OrderPlaced) (Outcome, error) { handled <- struct{}{}; return "ok", nil })
		_, stop, done := startTestEngine(t, client, h, Config{})
		select {
		case <-handled:
		case err := <-done:
			t.Fatalf("Run returned %v during the receive errors; want it to keep going", err)
		case <-time.After(10 * time.Second):
			t.Fatal("message not handled within 10s of two receive errors")
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		client.mu.Lock()
		defer client.mu.Unlock()
		if len(client.calls) < 3 {
			t.Fatalf("%d receives; want at least 3 (two failed, one answered)", len(client.calls))
		}
		first, second := client.calls[1].Sub(client.calls[0]), client.calls[2].Sub(client.calls[1])
		if first != time.Second || second != 2*time.Second {
			t.Errorf("waits after the failed receives = %s, %s; want 1s then 2s", first, second)
		}
	})
}

// TestEngineKeepsGoroutinesFlat handles two rounds of 300 messages: the
// second round leaves no more goroutines behind than the first (a fixed
// pool, one deleter, one heartbeat; nothing per message outlives it). In a
// synctest bubble, synctest.Wait lets finished work unwind before counting,
// rather than a sleep a loaded machine may outrun.
func TestEngineKeepsGoroutinesFlat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t)
		h := HandlerFunc(func(context.Context, events.OrderPlaced) (Outcome, error) { return "ok", nil })
		m, _, _ := startTestEngine(t, client, h, Config{})
		round := func(from int) int {
			client.push(orderMessages(t, from, from+299)...)
			eventually(t, "the round handled and deleted", func() bool {
				return m.Stats(t).Succeeded == int64(from+300) && len(client.deleted()) == from+300
			})
			synctest.Wait() // finished work unwound, the engine idle in its poll
			return runtime.NumGoroutine()
		}
		first := round(0)
		second := round(300)
		if second > first+2 {
			t.Errorf("goroutines after 300 messages = %d, after 600 = %d; want no growth", first, second)
		}
	})
}
