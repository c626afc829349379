package checkout_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// TestTasksDrainOutboxOnce leaves orders in every shard of the outbox of the
// real orders table, at least 8 a shard, and 4 under the single key written before the
// outbox was sharded, all with their leases run out, as a crashed task would,
// and lets six publisher tasks drain it at the same time, each reading the
// same due orders a few at a time from each shard: each order is published
// exactly once and marked published, and the outbox is left empty.
func TestTasksDrainOutboxOnce(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := dynamodb.NewFromConfig(emu.Config)
	table := dep.Services["publisher"].Tables["ordersTable"]
	store := checkoutdb.New(client, table)

	// Create draws each order's shard at random: create orders until every
	// shard holds at least perShard, reading back where each landed.
	const perShard = 8
	var ids []string
	keyOf := map[string]string{}
	inShard := map[string]int{}
	for len(inShard) < checkoutdb.OutboxShards || slices.Min(slices.Collect(maps.Values(inShard))) < perShard {
		if len(ids) == 1000 {
			t.Fatalf("1000 orders created, and the shards hold %v; want at least %d in each of %d", inShard, perShard, checkoutdb.OutboxShards)
		}
		o := order.Order{ID: order.NewID(), Customer: "Tony Hoare", Amount: money.Cents(1000 + len(ids)), CreatedAt: time.Now().UTC()}
		// ErrExists: the SDK retried a write that had landed (moto now and
		// then garbles a response's checksum); the order is stored.
		if err := store.Create(ctx, o, time.Now().Add(-time.Second)); err != nil && !errors.Is(err, checkout.ErrExists) {
			t.Fatal(err)
		}
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table), ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("outbox"),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: o.ID}},
		})
		if err != nil {
			t.Fatal(err)
		}
		key, ok := out.Item["outbox"].(*types.AttributeValueMemberS)
		if !ok {
			t.Fatalf("order %s stored without an outbox key: %v", o.ID, out.Item)
		}
		keyOf[o.ID] = key.Value
		inShard[key.Value]++
		ids = append(ids, o.ID)
	}
	if len(inShard) != checkoutdb.OutboxShards {
		t.Fatalf("orders in outbox keys %v; want %d shards", slices.Sorted(maps.Keys(inShard)), checkoutdb.OutboxShards)
	}
	// Orders an older publisher left under the one key it wrote.
	for i := range 4 {
		id := order.NewID()
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"id":           &types.AttributeValueMemberS{Value: id},
				"customer":     &types.AttributeValueMemberS{Value: "Tony Hoare"},
				"amount":       &types.AttributeValueMemberS{Value: money.Cents(2000 + i).String()},
				"createdAt":    &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)},
				"publishState": &types.AttributeValueMemberS{Value: "pending"},
				"outbox":       &types.AttributeValueMemberS{Value: "pending"},
				"leaseUntil":   &types.AttributeValueMemberS{Value: time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000000Z")},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		keyOf[id] = "pending"
	}

	pub := &countingPublisher{count: map[string]int{}}
	var wg sync.WaitGroup
	for range 6 {
		c := testConfig
		c.Batch = 3
		svc := newService(t, store, pub, time.Now, c)
		wg.Go(func() { svc.DrainOutbox(ctx) })
	}
	wg.Wait()

	for _, id := range ids {
		if n := pub.count[id]; n != 1 {
			t.Errorf("order %s (outbox key %s) published %d times, want once", id, keyOf[id], n)
		}
		rec, err := store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Published {
			t.Errorf("order %s not marked published", id)
		}
	}
	due, err := store.DueOrders(ctx, time.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 0 {
		t.Errorf("%d orders still in the outbox, want 0", len(due))
	}
}

// TestClaimIsAtomic: many tasks claim the same due order at once; exactly one
// wins, as DynamoDB applies a conditional write atomically. moto's server did
// not (it checked, then wrote, on concurrent threads) until the emulator
// package made its DynamoDB writes atomic; TestTasksDrainOutboxOnce then saw
// an order published twice now and then.
func TestClaimIsAtomic(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := checkoutdb.New(dynamodb.NewFromConfig(emu.Config), dep.Services["publisher"].Tables["ordersTable"])
	for i := range 20 {
		o := order.Order{ID: order.NewID(), Customer: "Leslie Lamport", Amount: money.Cents(100 + i), CreatedAt: time.Now().UTC()}
		lease := time.Now().Add(-time.Second)
		if err := store.Create(ctx, o, lease); err != nil && !errors.Is(err, checkout.ErrExists) {
			t.Fatal(err)
		}
		due, err := store.Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		var wins sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wins.Go(func() {
				_, err := store.Claim(ctx, checkout.Due{ID: o.ID, LeaseUntil: due.LeaseUntil}, time.Now(), 30*time.Second)
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if !errors.Is(err, checkout.ErrNotDue) {
					t.Error(err)
				}
			})
		}
		wins.Wait()
		if won != 1 {
			t.Errorf("order %s: %d of 8 concurrent claims won; want exactly 1", o.ID, won)
		}
	}
}
