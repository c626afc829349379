package worker

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pubsub-app/pubsub/internal/events"
)

// TestEngineHandsBackUnstartedOnDrain cancels Run while two handlers run and
// three received messages wait for a free one. The waiting messages are
// handed back at once (visibility 0), unhandled, and the heartbeat that keeps
// the still-running message hidden leaves them alone afterwards; the two
// running handlers finish within the drain budget, their contexts alive, and
// their messages are deleted.
func TestEngineHandsBackUnstartedOnDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t, orderMessages(t, 1, 5)...)
		client.visibility = 3 * time.Second
		release := map[string]chan struct{}{testOrderID(1): make(chan struct{}), testOrderID(2): make(chan struct{})}
		var mu sync.Mutex
		var handled []string
		var ctxErrs []error
		m, stop, done := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
			mu.Lock()
			handled = append(handled, ev.Order.ID)
			mu.Unlock()
			if ch, ok := release[ev.Order.ID]; ok {
				<-ch
				mu.Lock()
				ctxErrs = append(ctxErrs, ctx.Err())
				mu.Unlock()
			}
			return "fulfilled", nil
		}), Config{Concurrency: 2, VisibilityTimeout: 3 * time.Second, DrainTimeout: 10 * time.Second})

		synctest.Wait() // h1 and h2 running, h3 to h5 received and waiting
		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		synctest.Wait()
		close(release[testOrderID(1)]) // frees a handler: it must hand back h3 to h5, not run them
		// Two heartbeats (every 1s) while h2 still runs.
		time.Sleep(2500 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("Run returned %v while a handler was still running", err)
		default:
		}
		close(release[testOrderID(2)])
		if err := <-stopped; err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}

		mu.Lock()
		slices.Sort(handled)
		if diff := cmp.Diff([]string{testOrderID(1), testOrderID(2)}, handled); diff != "" {
			t.Errorf("handled orders (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]error{nil, nil}, ctxErrs, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("handler contexts ended within the drain budget; want them alive (-want +got):\n%s", diff)
		}
		mu.Unlock()
		if diff := cmp.Diff([]string{"h1", "h2"}, client.deleted()); diff != "" {
			t.Errorf("deleted (-want +got):\n%s", diff)
		}
		var handedBack []visChange
		heartbeats := 0
		for _, v := range client.visChanges() {
			if v == (visChange{"h2", 3}) {
				heartbeats++
				continue
			}
			handedBack = append(handedBack, v)
		}
		if diff := cmp.Diff([]visChange{{"h3", 0}, {"h4", 0}, {"h5", 0}}, handedBack); diff != "" {
			t.Errorf("visibility changes other than h2's heartbeats (-want +got):\n%s", diff)
		}
		if heartbeats == 0 {
			t.Errorf("h2 not extended while it ran for 2.5s with a 3s visibility timeout")
		}
		if got := client.lapses(); len(got) != 0 {
			t.Errorf("messages visible again while held: %v; want none", got)
		}
		if got := client.orphans(); len(got) != 0 {
			t.Errorf("%d message(s) taken by an abandoned poll; want none", len(got))
		}
		if diff := cmp.Diff(Stats{Received: 5, Succeeded: 2, Released: 3}, m.Stats(t)); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}
