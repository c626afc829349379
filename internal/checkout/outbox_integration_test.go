package checkout_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// countingPublisher records how often each order is published; it is slow
// enough that two tasks would overlap if their claims did not exclude each
// other.
type countingPublisher struct {
	mu    sync.Mutex
	count map[string]int
}

func (p *countingPublisher) Publish(ctx context.Context, e events.OrderPlaced) (string, error) {
	time.Sleep(20 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count[e.Order.ID]++
	return "msg-" + e.Order.ID, nil
}

// TestTasksDrainOutboxOnce leaves 60 orders in the outbox of the real
// orders table with their leases run out, as a crashed task would, and lets
// six publisher tasks drain it at the same time, each reading the same due
// orders: each order is published exactly once and marked published.
func TestTasksDrainOutboxOnce(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := checkoutdb.New(dynamodb.NewFromConfig(emu.Config), dep.Services["publisher"].Tables["ordersTable"])

	var ids []string
	for i := range 60 {
		o := order.Order{ID: order.NewID(), Customer: "Tony Hoare", Amount: money.Cents(1000 + i), CreatedAt: time.Now().UTC()}
		if err := store.Create(ctx, o, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	pub := &countingPublisher{count: map[string]int{}}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var wg sync.WaitGroup
	for range 6 {
		svc := checkout.NewService(store, pub, log, time.Now, checkout.Options{Batch: 25})
		wg.Go(func() { svc.DrainOutbox(ctx) })
	}
	wg.Wait()

	for _, id := range ids {
		if n := pub.count[id]; n != 1 {
			t.Errorf("order %s published %d times, want once", id, n)
		}
		rec, err := store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Published {
			t.Errorf("order %s not marked published", id)
		}
	}
	due, err := store.ClaimDue(ctx, time.Now().Add(time.Hour), time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 0 {
		t.Errorf("%d orders still in the outbox, want 0", len(due))
	}
}
