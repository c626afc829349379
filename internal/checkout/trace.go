package checkout

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/tracing"
)

// relaySpan starts the span of the outbox publishing rec's event, in the
// trace of the request that placed the order (rec.TraceContext), so that the
// event, and the workers' handling of it, still join the order's trace
// however late the outbox gets to it. An order stored without one (tracing
// was off) starts a trace of its own.
func relaySpan(ctx context.Context, rec Record) (context.Context, trace.Span) {
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(rec.TraceContext))
	return otel.Tracer("github.com/pubsub-app/pubsub/internal/checkout").Start(ctx, "outbox relay",
		trace.WithAttributes(tracing.OrderAttributes(rec.ID)...), trace.WithAttributes(attribute.Int("publish.attempt", rec.Attempts+1)))
}
