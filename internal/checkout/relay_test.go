package checkout_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/order"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// publisherFunc adapts a function to checkout.Publisher.
type publisherFunc func(ctx context.Context, e events.OrderPlaced) (string, error)

func (f publisherFunc) Publish(ctx context.Context, e events.OrderPlaced) (string, error) {
	return f(ctx, e)
}

// TestRelayClaimsEachOrderJustBeforePublishing: one relay publishes on a slow
// SNS (2s a publish) a batch of due orders whose publishing takes longer than
// the lease (25 × 2s > 30s); a second relay polls between each two of its
// publishes. Every publish must happen under a lease still held, and no
// order may be published twice.
func TestRelayClaimsEachOrderJustBeforePublishing(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	store := dueStore(nil, 25, t0)
	published := map[string]int{}
	record := func(e events.OrderPlaced, by string) (string, error) {
		published[e.Order.ID]++
		rec, _ := store.Get(context.Background(), e.Order.ID)
		if !rec.LeaseUntil.After(clock.now()) {
			t.Errorf("%s publishes order %s at %s with its lease run out at %s", by, e.Order.ID, clock.now().Format(time.TimeOnly), rec.LeaseUntil.Format(time.TimeOnly))
		}
		return "sns-" + e.Order.ID, nil
	}
	other := newService(t, store, publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) {
		return record(e, "the other relay")
	}), clock.now, testConfig)
	slow := newService(t, store, publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) {
		clock.advance(2 * time.Second)
		id, err := record(e, "the slow relay")
		other.DrainOutbox(ctx) // the other task's poll
		return id, err
	}), clock.now, testConfig)

	slow.DrainOutbox(context.Background())

	for id, r := range store.records {
		if n := published[id]; n != 1 {
			t.Errorf("order %s published %d times; want once", id, n)
		}
		if !r.Published {
			t.Errorf("order %s not marked published", id)
		}
	}
}

func TestDrainOutbox(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rec := func(i int, attempts int, lease time.Time) checkout.Record {
		return checkout.Record{
			Order:    order.Order{ID: orderID(i), Customer: "Ada", Amount: 100, CreatedAt: now.Add(-time.Hour)},
			Attempts: attempts, LeaseUntil: lease,
		}
	}
	published := checkout.Record{
		Order:     order.Order{ID: orderID(9), Customer: "Ada", Amount: 100, CreatedAt: now.Add(-time.Hour)},
		Published: true, PublishedAt: now.Add(-time.Minute), MessageID: "sns-old",
	}
	log := &callLog{}
	store := newFakeStore(log,
		rec(1, 0, now.Add(-time.Second)), // lease ran out: the request's publish died
		rec(2, 2, now),                   // due now, failed twice before
		rec(3, 0, now.Add(time.Second)),  // still leased
		published,
	)
	pub := &fakePublisher{log: log, failFor: map[string]bool{orderID(2): true}}
	svc := newService(t, store, pub, func() time.Time { return now }, testConfig)

	svc.DrainOutbox(context.Background())

	var gotIDs []string
	for _, e := range pub.published {
		gotIDs = append(gotIDs, e.Order.ID)
	}
	if diff := cmp.Diff([]string{orderID(1), orderID(2)}, gotIDs); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	want := map[string]checkout.Record{
		orderID(1): {Order: rec(1, 0, time.Time{}).Order, Published: true, PublishedAt: now, MessageID: "sns-" + orderID(1)},
		// third failure: RetryBase × 2² = 8s
		orderID(2): rec(2, 3, now.Add(8*time.Second)),
		orderID(3): rec(3, 0, now.Add(time.Second)),
		orderID(9): published,
	}
	if diff := cmp.Diff(want, store.records); diff != "" {
		t.Errorf("stored records (-want +got):\n%s", diff)
	}
	// Each order is claimed just before its publish. The last poll finds
	// nothing due (orderID(2) now waits for its back-off), which ends the drain.
	if diff := cmp.Diff([]string{"DueOrders", "Claim", "Publish", "MarkPublished", "Claim", "Publish", "Reschedule", "DueOrders"}, log.get()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestDrainOutboxBatches(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	log := &callLog{}
	store := dueStore(log, 5, now)
	pub := &fakePublisher{log: log}
	c := testConfig
	c.Batch = 2
	svc := newService(t, store, pub, func() time.Time { return now }, c)

	svc.DrainOutbox(context.Background())

	// Polls go on until one claims nothing: 2, 2, 1, then an empty one.
	if diff := cmp.Diff([]int{2, 2, 2, 2}, store.claims); diff != "" {
		t.Errorf("DueOrders limits (-want +got):\n%s", diff)
	}
	if got := len(pub.published); got != 5 {
		t.Errorf("published %d events; want 5", got)
	}
	for id, r := range store.records {
		if !r.Published {
			t.Errorf("order %s not published", id)
		}
	}
}

func TestDrainOutboxPollError(t *testing.T) {
	log := &callLog{}
	store := newFakeStore(log)
	store.dueErr = errors.New("dynamodb unavailable")
	pub := &fakePublisher{log: log}
	svc := newService(t, store, pub, time.Now, testConfig)

	svc.DrainOutbox(context.Background())

	if diff := cmp.Diff([]string{"DueOrders"}, log.get()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestDrainOutboxClaimError: a claim that fails for DynamoDB's reason ends
// the drain without publishing; the next poll tries again.
func TestDrainOutboxClaimError(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	store := dueStore(nil, 3, now)
	store.claimErr = errors.New("throttled")
	var published int
	pub := publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) { published++; return "sns", nil })
	newService(t, store, pub, func() time.Time { return now }, testConfig).DrainOutbox(context.Background())
	if published != 0 {
		t.Errorf("published %d events after failed claims; want 0", published)
	}
	store.claimErr = nil
	newService(t, store, pub, func() time.Time { return now }, testConfig).DrainOutbox(context.Background())
	if published != 3 {
		t.Errorf("published %d events once claims work again; want 3", published)
	}
}

// TestDrainOutboxStopsClaiming: once the drain's context is cancelled (the
// task is stopping), it claims no further order, so none is left leased to a
// task that is gone; the publish under way finishes.
func TestDrainOutboxStopsClaiming(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	store := dueStore(nil, 3, now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) { cancel(); return "sns", nil })
	newService(t, store, pub, func() time.Time { return now }, testConfig).DrainOutbox(ctx)
	var published, leased int
	for _, r := range store.records {
		switch {
		case r.Published:
			published++
		case r.LeaseUntil.After(now):
			leased++
		}
	}
	if published != 1 || leased != 0 {
		t.Errorf("after a stop: %d published, %d leased; want 1 published and none leased", published, leased)
	}
}

// TestDrainOutboxBoundsEveryStoreCall: under a DynamoDB that accepts the
// relay's calls and never answers, each poll gives up after StoreTimeout, so
// the relay lives to poll again once DynamoDB is back (the SDK sets no read
// timeout of its own).
func TestDrainOutboxBoundsEveryStoreCall(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ name, hang string }{
		{"the poll (Query) black-holed", "DueOrders"},
		{"the claim (UpdateItem) black-holed", "Claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := dueStore(nil, 1, now)
			store.setHang(true, tc.hang)
			c := testConfig
			c.StoreTimeout = 50 * time.Millisecond
			pub := publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) { return "sns", nil })
			svc := newService(t, store, pub, func() time.Time { return now }, c)
			done := make(chan struct{})
			go func() { defer close(done); svc.DrainOutbox(context.Background()) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("DrainOutbox still waiting on the store after 5s; want it to give up after StoreTimeout (%s)", c.StoreTimeout)
			}
		})
	}
}

// TestOutboxPollAgeRisesWhileTheRelayHangs: the relay reports how long ago it
// last completed a poll, computed when the metrics are written: near 0 while
// it polls, rising minute by minute while its DynamoDB calls hang (no poll
// ends, so nothing the relay sets could rise), back near 0 once one completes.
func TestOutboxPollAgeRisesWhileTheRelayHangs(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	store := newFakeStore(nil)
	var out integration.SyncBuffer
	rec := metrics.New(&out, "publisher", "test", clock.now)
	c := testConfig
	c.Interval, c.StoreTimeout = 10*time.Millisecond, 300*time.Millisecond
	pub := publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) { return "sns", nil })
	svc, err := checkout.NewService(store, pub, clock.now, c, discard(), rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.RunOutbox(ctx) }()
	defer func() { cancel(); <-done }()

	age := func() (float64, bool) {
		t.Helper()
		out.Reset()
		if err := rec.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, raw := range strings.Split(out.String(), "\n") {
			if raw == "" {
				continue
			}
			l, err := metrics.Parse([]byte(raw))
			if err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			if v, ok := l.Values[metrics.OutboxPollAge]; ok && l.Units[metrics.OutboxPollAge] == "Seconds" {
				return v[0], true
			}
		}
		return 0, false
	}
	// Polling: each poll completes at the fake clock's time.
	clock.advance(time.Minute)
	waitFor(t, "a poll to complete", func() bool { a, ok := age(); return ok && a == 0 })

	store.setHang(true, "DueOrders", "Claim")
	time.Sleep(50 * time.Millisecond) // the relay is now stuck in a poll, then in the next
	for _, want := range []float64{60, 120, 180} {
		clock.advance(time.Minute)
		if got, ok := age(); !ok || got != want {
			t.Fatalf("hung relay: %s = %v (written: %v); want %v, the time since the last completed poll", metrics.OutboxPollAge, got, ok, want)
		}
	}
	store.setHang(false, "DueOrders", "Claim")
	clock.advance(time.Minute)
	waitFor(t, "a poll to complete after the hang", func() bool { a, ok := age(); return ok && a == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waited 5s for %s", what)
}
