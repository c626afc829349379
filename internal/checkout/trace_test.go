package checkout_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// TestRelayContinuesTheOrdersTrace: the outbox publishes an order left
// unpublished in the trace of the request that placed it (the context stored
// with the order), under an "outbox relay" span; an order stored without one
// gets a trace of its own.
func TestRelayContinuesTheOrdersTrace(t *testing.T) {
	spans := tracingtest.Install(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	_, request := otel.Tracer("test").Start(context.Background(), "POST /orders", trace.WithSpanKind(trace.SpanKindServer))
	request.End()
	stored := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(trace.ContextWithSpan(context.Background(), request), stored)

	store := newFakeStore(nil,
		checkout.Record{Order: order.Order{ID: orderID(1), Customer: "Ada", Amount: 9500, CreatedAt: now}, LeaseUntil: now.Add(-time.Second), Attempts: 1, TraceContext: stored},
		checkout.Record{Order: order.Order{ID: orderID(2), Customer: "Ada", Amount: 9500, CreatedAt: now}, LeaseUntil: now.Add(-time.Second)},
	)
	inPublish := map[string]trace.SpanContext{}
	svc := newService(t, store, publisherFunc(func(ctx context.Context, e events.OrderPlaced) (string, error) {
		inPublish[e.Order.ID] = trace.SpanContextFromContext(ctx)
		return "sns-" + e.Order.ID, nil
	}), func() time.Time { return now }, testConfig)

	svc.DrainOutbox(context.Background())

	relays := map[string]trace.SpanContext{}
	for _, s := range tracingtest.Named(spans, "outbox relay") {
		oid, _ := tracingtest.Attr(s, tracing.OrderIDKey)
		relays[oid] = s.SpanContext
		switch oid {
		case orderID(1):
			if s.Parent.SpanID() != request.SpanContext().SpanID() || s.SpanContext.TraceID() != request.SpanContext().TraceID() {
				t.Errorf("relay span of %s: parent %v; want the request span %v", oid, s.Parent, request.SpanContext())
			}
			if a, _ := tracingtest.Attr(s, "publish.attempt"); a != "2" {
				t.Errorf("relay span of %s: publish.attempt %q; want 2", oid, a)
			}
		case orderID(2):
			if s.Parent.IsValid() {
				t.Errorf("relay span of %s, stored without a trace: parent %v; want a root", oid, s.Parent)
			}
		}
	}
	for _, oid := range []string{orderID(1), orderID(2)} {
		if got := inPublish[oid]; !got.IsValid() || got.SpanID() != relays[oid].SpanID() {
			t.Errorf("order %s published in span %v; want its relay span %v", oid, got, relays[oid])
		}
	}
}
