package worker

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// tracedNotification is snsNotification with the trace context of ctx in the
// envelope's message attributes, as the publisher writes it.
func tracedNotification(t *testing.T, ctx context.Context, topicARN string, i int) string {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal([]byte(snsNotification(t, topicARN, testOrder(i))), &env); err != nil {
		t.Fatal(err)
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	attrs := env["MessageAttributes"].(map[string]any)
	for k, v := range carrier {
		attrs[k] = map[string]string{"Type": "String", "Value": v}
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEngineContinuesTheTrace: each message is handled in a consumer span,
// "<Name> process", child of the publish span whose context the notification
// carries, naming the order; the handler gets the span's context, so its
// calls join the trace. A malformed message gets a span too, marked failed.
// A notification forged in our topic's name from another account carries a
// trace context too: it is not read, so the forger cannot attach work to a
// trace of its choosing (nor pick what is sampled); its span is a root.
func TestEngineContinuesTheTrace(t *testing.T) {
	spans := tracingtest.Install(t)
	pctx, publish := otel.Tracer("test").Start(context.Background(), "ordersTopic publish", trace.WithSpanKind(trace.SpanKindProducer))
	publish.End()
	fctx, forger := otel.Tracer("test").Start(context.Background(), "forged publish", trace.WithSpanKind(trace.SpanKindProducer))
	forger.End()
	forgedFrom := "arn:aws:sns:eu-west-1:999999999999:" + testTopic
	client := newFakeSQS(t,
		sqsMessage("h-1", tracedNotification(t, pctx, testTopicARN, 1), "1"),
		sqsMessage("h-2", "not an envelope", "1"),
		sqsMessage("h-3", tracedNotification(t, fctx, forgedFrom, 2), "1"),
	)
	var mu sync.Mutex
	var inHandler trace.SpanContext
	_, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		inHandler = trace.SpanContextFromContext(ctx)
		return "fulfilled", nil
	}), Config{TopicARN: testTopicARN, Name: "fulfilment"})
	eventually(t, "the messages to be handled", func() bool {
		return len(client.deleted()) == 1 && len(client.visChanges()) == 2
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	got := tracingtest.Named(spans, "fulfilment process")
	if len(got) != 3 {
		t.Fatalf("got %d spans named %q; want 3: %v", len(got), "fulfilment process", spans.GetSpans())
	}
	for _, s := range got {
		if s.SpanKind != trace.SpanKindConsumer {
			t.Errorf("span kind %s; want consumer", s.SpanKind)
		}
		for key, want := range map[string]string{
			"messaging.system": "aws_sqs", "messaging.operation.type": "process",
			"messaging.destination.name": testQueueURL[strings.LastIndexByte(testQueueURL, '/')+1:],
		} {
			if v, _ := tracingtest.Attr(s, key); v != want {
				t.Errorf("span attribute %s = %q; want %q", key, v, want)
			}
		}
		switch id, _ := tracingtest.Attr(s, "messaging.message.id"); id {
		case "msg-h-1":
			if s.Parent.SpanID() != publish.SpanContext().SpanID() || s.SpanContext.TraceID() != publish.SpanContext().TraceID() || !s.Parent.IsRemote() {
				t.Errorf("span of the traced message: parent %v; want the publish span %v, remote", s.Parent, publish.SpanContext())
			}
			if v, _ := tracingtest.Attr(s, tracing.OrderIDKey); v != testOrderID(1) {
				t.Errorf("%s = %q; want %q", tracing.OrderIDKey, v, testOrderID(1))
			}
			if v, _ := tracingtest.Attr(s, "outcome"); v != "fulfilled" || s.Status.Code == codes.Error {
				t.Errorf("outcome %q, status %v; want fulfilled, not an error", v, s.Status)
			}
			mu.Lock()
			if inHandler.SpanID() != s.SpanContext.SpanID() {
				t.Errorf("handler's context holds span %s; want the message's %s", inHandler.SpanID(), s.SpanContext.SpanID())
			}
			mu.Unlock()
		case "msg-h-2":
			if s.Parent.IsValid() || s.Status.Code != codes.Error {
				t.Errorf("span of the malformed message: parent %v, status %v; want a root, error", s.Parent, s.Status)
			}
		case "msg-h-3":
			if s.Parent.IsValid() || s.SpanContext.TraceID() == forger.SpanContext().TraceID() || s.Status.Code != codes.Error {
				t.Errorf("span of the forged notification: parent %v, trace %s, status %v; want a root of its own trace (not the forger's %s), error",
					s.Parent, s.SpanContext.TraceID(), s.Status, forger.SpanContext().TraceID())
			}
			if v, ok := tracingtest.Attr(s, tracing.OrderIDKey); ok {
				t.Errorf("span of the forged notification names order %q; want no order read from it", v)
			}
		default:
			t.Errorf("span for message %q", id)
		}
	}
}
