package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// benchBody is an SNS envelope holding one OrderPlaced event, as the queue
// delivers it.
func benchBody(b *testing.B) string {
	b.Helper()
	ev, err := events.Marshal(events.OrderPlaced{Order: order.Order{
		ID: order.NewID(), Customer: "Ada Lovelace", Amount: money.Cents(9550), CreatedAt: time.Now().UTC(),
	}})
	if err != nil {
		b.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{
		"Type": "Notification", "MessageId": "5d2f4a5e-1b0c-4f7e-9c3a-2f1e0d9c8b7a",
		"TopicArn": "arn:aws:sns:eu-west-1:123456789012:pubsub-test-publisher-ordersTopic",
		"Message":  string(ev), "Timestamp": "2026-11-25T09:00:00.000Z", "SignatureVersion": "1",
		"Signature": "EXAMPLE", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/cert.pem",
		"UnsubscribeURL":    "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
		"MessageAttributes": map[string]any{"amount": map[string]string{"Type": "Number", "Value": "95.50"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return string(env)
}

// memQueue serves n copies of one body with no network and no waiting, and
// reports when all n are deleted.
type memQueue struct {
	body      string
	mu        sync.Mutex
	left      int
	deleted   atomic.Int64
	n         int64
	allGone   chan struct{}
	closeOnce sync.Once
}

func (q *memQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	k := min(int(in.MaxNumberOfMessages), q.left)
	q.left -= k
	q.mu.Unlock()
	if k == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	msgs := make([]types.Message, k)
	for i := range msgs {
		msgs[i] = types.Message{
			MessageId:     aws.String("m"),
			ReceiptHandle: aws.String("r"),
			Body:          aws.String(q.body),
			Attributes:    map[string]string{"ApproximateReceiveCount": "1"},
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: msgs}, nil
}

func (q *memQueue) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	if q.deleted.Add(int64(len(in.Entries))) >= q.n {
		q.closeOnce.Do(func() { close(q.allGone) })
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

func (q *memQueue) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *memQueue) ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

type nopHandler struct{}

func (nopHandler) Handle(context.Context, events.OrderPlaced) (Outcome, error) { return "ok", nil }

// BenchmarkEngine is the engine's own cost per message: receive, unwrap and
// decode, dispatch to a pool, heartbeat bookkeeping, the per-message JSON log
// line and the batched delete, with an in-memory queue and a handler that
// does nothing. Compare with BenchmarkDecodeFloor.
func BenchmarkEngine(b *testing.B) { benchEngine(b, benchBody(b)) }

// BenchmarkEngineTraced is BenchmarkEngine with tracing on as the binaries
// run it (internal/tracing): an SDK tracer provider with X-Ray ids and a batch
// span processor (its exporter discards), the X-Ray propagator, and messages
// carrying the publisher's trace context: each message is a consumer span
// continuing the trace. The difference with BenchmarkEngine is what tracing
// costs the engine per message.
func BenchmarkEngineTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(discardExporter{}),
		sdktrace.WithIDGenerator(tracing.XRayIDGenerator{}),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(tracing.XRayPropagator{})
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	ctx, publish := tp.Tracer("bench").Start(context.Background(), "ordersTopic publish")
	publish.End()
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	var env map[string]any
	if err := json.Unmarshal([]byte(benchBody(b)), &env); err != nil {
		b.Fatal(err)
	}
	for k, v := range carrier {
		env["MessageAttributes"].(map[string]any)[k] = map[string]string{"Type": "String", "Value": v}
	}
	body, err := json.Marshal(env)
	if err != nil {
		b.Fatal(err)
	}
	benchEngine(b, string(body))
}

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

func benchEngine(b *testing.B, body string) {
	q := &memQueue{body: body, left: b.N, n: int64(b.N), allGone: make(chan struct{})}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// A second's drain after the timed part: the emptied queue's receive
	// returns only when the drain budget cuts it off (20s by default).
	e, err := New(q, nopHandler{}, ConfigForTest(Config{QueueURL: "q", DrainTimeout: time.Second}), log, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() { defer close(done); _ = e.Run(ctx) }()
	<-q.allGone
	b.StopTimer()
	cancel()
	<-done
}

// BenchmarkDecodeFloor is the least any consumer must do per message: unwrap
// the SNS envelope and decode the event.
func BenchmarkDecodeFloor(b *testing.B) {
	body := []byte(benchBody(b))
	b.ReportAllocs()
	for b.Loop() {
		env, err := events.Unwrap(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := events.Decode([]byte(env.Message)); err != nil {
			b.Fatal(err)
		}
	}
}
