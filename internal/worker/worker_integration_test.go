package worker_test

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// recorder wraps a handler and keeps every outcome it reported.
type recorder struct {
	worker.Handler
	mu       sync.Mutex
	outcomes []worker.Outcome
}

func (r *recorder) Handle(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
	out, err := r.Handler.Handle(ctx, e)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.outcomes = append(r.outcomes, out)
	}
	return out, err
}

func (r *recorder) Outcomes() []worker.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]worker.Outcome(nil), r.outcomes...)
}

// deployed starts the emulator and deploys the stack on it, for a test
// that has limit to run.
func deployed(t *testing.T, limit time.Duration) (*integration.Emulator, *topology.Deployment, context.Context) {
	t.Helper()
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return emu, dep, ctx
}

// startEngine runs an engine on queueURL, accepting dep's orders topic, until
// the test ends, with short waits so the test is quick, and returns its
// metrics.
func startEngine(t *testing.T, cfg aws.Config, dep *topology.Deployment, h worker.Handler, queueURL string) *worker.Meter {
	t.Helper()
	m, _ := startEngineWith(context.Background(), t, cfg, h, engineConfig(dep, worker.Config{QueueURL: queueURL}))
	return m
}

// engineConfig is worker.ConfigForTest(c) accepting dep's orders topic,
// with a quick retry.
func engineConfig(dep *topology.Deployment, c worker.Config) worker.Config {
	c.TopicARN = dep.Topics["publisher:ordersTopic"]
	c.RetryBase = cmp.Or(c.RetryBase, time.Second)
	return worker.ConfigForTest(c)
}

// startEngineWith runs an engine with configuration c until ctx ends, the
// test ends or stop is called, and returns its metrics; stop cancels Run's
// context and returns Run's result.
func startEngineWith(ctx context.Context, t *testing.T, cfg aws.Config, h worker.Handler, c worker.Config) (m *worker.Meter, stop func() error) {
	t.Helper()
	m = worker.NewMeter()
	e, err := worker.New(sqs.NewFromConfig(cfg), h, c, slog.New(slog.NewJSONHandler(io.Discard, nil)), m.Rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	return m, stop
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func publish(ctx context.Context, t *testing.T, cfg aws.Config, dep *topology.Deployment, o order.Order) {
	t.Helper()
	pub := events.NewPublisher(sns.NewFromConfig(cfg), dep.Topics["publisher:ordersTopic"])
	if _, err := pub.Publish(ctx, events.OrderPlaced{Order: o}); err != nil {
		t.Fatal(err)
	}
}

func newOrder(t *testing.T, amount string) order.Order {
	t.Helper()
	c, err := money.Parse(amount)
	if err != nil {
		t.Fatal(err)
	}
	return order.Order{ID: order.NewID(), Customer: "Grace Hopper", Amount: c, CreatedAt: time.Now().UTC()}
}

// countItems counts a table's records across scan pages.
func countItems(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true), Select: "COUNT",
		// The coupons table also holds the items that claim each coupon code.
		FilterExpression:          aws.String("NOT begins_with(orderId, :claim)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":claim": &types.AttributeValueMemberS{Value: promotion.CodeKeyPrefix}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += int(out.Count)
	}
	return n
}

// TestMalformedMessageReachesDLQ sends a message that cannot be decoded to the
// fulfilment queue: it is received exactly 3 times (the manifest's tries),
// lands in the DLQ, and the worker goes on to fulfil the next good order.
func TestMalformedMessageReachesDLQ(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)
	svc := dep.Services["fulfilment"]
	client := sqs.NewFromConfig(emu.Config)
	db := dynamodb.NewFromConfig(emu.Config)

	const poison = `{"Type":"Notification","MessageId":"x","Message":"this is not an order"}`
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(svc.QueueURL), MessageBody: aws.String(poison)}); err != nil {
		t.Fatal(err)
	}
	m := startEngine(t, emu.Config, dep, fulfilment.NewHandler(db, svc.Tables["fulfilmentsTable"], time.Now), svc.QueueURL)
	good := newOrder(t, "42.00")
	publish(ctx, t, emu.Config, dep, good)

	var dead []string
	waitFor(t, "the malformed message in the DLQ", time.Minute, func() bool {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(svc.DLQURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			dead = append(dead, aws.ToString(m.Body))
		}
		return len(dead) > 0
	})
	if len(dead) != 1 || dead[0] != poison {
		t.Errorf("DLQ holds %q, want just the malformed message", dead)
	}
	waitFor(t, "the good order fulfilled", 30*time.Second, func() bool { return m.Stats(t).Succeeded == 1 })
	if n := countItems(ctx, t, db, svc.Tables["fulfilmentsTable"]); n != 1 {
		t.Errorf("fulfilments = %d, want 1", n)
	}
	if got := m.Stats(t).Poison; got != 3 {
		t.Errorf("malformed message received %d times, want 3 (dead_letter.tries)", got)
	}
}

// TestDuplicateDeliveryHasOneEffect publishes the same OrderPlaced event twice,
// as SNS may deliver it: one fulfilment and one coupon result.
func TestDuplicateDeliveryHasOneEffect(t *testing.T) {
	emu, dep, ctx := deployed(t, 2*time.Minute)
	db := dynamodb.NewFromConfig(emu.Config)
	ful, pro := dep.Services["fulfilment"], dep.Services["promotion"]

	o := newOrder(t, "95.50")
	publish(ctx, t, emu.Config, dep, o)
	publish(ctx, t, emu.Config, dep, o)

	fr := &recorder{Handler: fulfilment.NewHandler(db, ful.Tables["fulfilmentsTable"], time.Now)}
	pr := &recorder{Handler: promotion.NewHandler(db, pro.Tables["couponsTable"], time.Now)}
	startEngine(t, emu.Config, dep, fr, ful.QueueURL)
	startEngine(t, emu.Config, dep, pr, pro.QueueURL)
	waitFor(t, "both deliveries handled by both workers", time.Minute, func() bool {
		return len(fr.Outcomes()) == 2 && len(pr.Outcomes()) == 2
	})

	for _, tc := range []struct {
		name  string
		rec   *recorder
		table string
		first worker.Outcome
	}{
		{"fulfilment", fr, ful.Tables["fulfilmentsTable"], fulfilment.OutcomeFulfilled},
		{"promotion", pr, pro.Tables["couponsTable"], promotion.OutcomeIssued},
	} {
		if n := countItems(ctx, t, db, tc.table); n != 1 {
			t.Errorf("%s: %d items, want 1", tc.name, n)
		}
		got := tc.rec.Outcomes()
		if !(got[0] == tc.first && got[1] == worker.Duplicate) && !(got[1] == tc.first && got[0] == worker.Duplicate) {
			t.Errorf("%s outcomes = %q, want one %q and one duplicate", tc.name, got, tc.first)
		}
	}
}
