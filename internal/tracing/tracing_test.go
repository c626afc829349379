package tracing_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// restore puts the no-op provider and propagator back after a test that
// installs real ones.
func restore(t *testing.T) {
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
}

// TestOffIsNoop: without an endpoint nothing is recorded, propagated or sent,
// even with the SDK's own variable pointing at a collector.
func TestOffIsNoop(t *testing.T) {
	restore(t)
	c := tracingtest.NewCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "1")
	stop, err := tracing.Start(context.Background(), "publisher", "", 1, discard())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := otel.GetTracerProvider().(noop.TracerProvider); !ok {
		t.Errorf("global tracer provider is %T; want noop.TracerProvider", otel.GetTracerProvider())
	}
	ctx, span := otel.Tracer("test").Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("span recording %t, valid context %t; want neither", span.IsRecording(), span.SpanContext().IsValid())
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if len(carrier) != 0 {
		t.Errorf("propagator wrote %v; want nothing", carrier)
	}
	span.End()
	stop()
	time.Sleep(20 * time.Millisecond)
	if n := c.Requests(); n != 0 {
		t.Errorf("collector got %d requests; want 0", n)
	}
}

// TestOnExportsToCollector: with an endpoint, spans reach the collector's
// /v1/traces with the service's name and X-Ray trace ids (their first 8 hex
// digits the time), the X-Ray propagator is installed, and a client span
// without a parent (a background AWS call) is dropped.
func TestOnExportsToCollector(t *testing.T) {
	restore(t)
	c := tracingtest.NewCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	stop, err := tracing.Start(context.Background(), "fulfilment", c.URL+"/", 1, discard())
	if err != nil {
		t.Fatal(err)
	}
	tr := otel.Tracer("test")
	ctx, msg := tr.Start(context.Background(), "fulfilment process", trace.WithSpanKind(trace.SpanKindConsumer))
	_, put := tr.Start(ctx, "DynamoDB.PutItem", trace.WithSpanKind(trace.SpanKindClient))
	put.End()
	msg.End()
	_, poll := tr.Start(context.Background(), "SQS.ReceiveMessage", trace.WithSpanKind(trace.SpanKindClient))
	if poll.IsRecording() {
		t.Error("a client span without a parent is recording; want it dropped")
	}
	poll.End()
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if got := carrier.Keys(); !slices.Equal(got, []string{"X-Amzn-Trace-Id"}) {
		t.Errorf("propagator wrote %q; want only X-Amzn-Trace-Id", got)
	}
	stop() // flushes

	spans := c.Spans()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
		if s.Service != "fulfilment" {
			t.Errorf("span %s: service.name %q; want fulfilment", s.Name, s.Service)
		}
		if s.TraceID != msg.SpanContext().TraceID().String() {
			t.Errorf("span %s in trace %s; want %s", s.Name, s.TraceID, msg.SpanContext().TraceID())
		}
	}
	slices.Sort(names)
	if want := []string{"DynamoDB.PutItem", "fulfilment process"}; !slices.Equal(names, want) {
		t.Errorf("collector got spans %q; want %q", names, want)
	}
	epoch, err := strconv.ParseInt(msg.SpanContext().TraceID().String()[:8], 16, 64)
	if d := time.Since(time.Unix(epoch, 0)); err != nil || d < 0 || d > time.Minute {
		t.Errorf("trace id %s does not start with the time (X-Ray ids do): %v ago", msg.SpanContext().TraceID(), d)
	}
}

func TestStartRefusesBadEndpoint(t *testing.T) {
	restore(t)
	for _, e := range []string{"localhost:4318", "ftp://collector", "http://"} {
		if _, err := tracing.Start(context.Background(), "publisher", e, 1, discard()); err == nil {
			t.Errorf("Start with endpoint %q: no error", e)
		}
	}
}

func TestTraceIDAndOrderAttributes(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("6b073e4fcd4beaa5eaaa22addf5fa24a")
	sid, _ := trace.SpanIDFromHex("53995c3f42cd8ad8")
	sampled := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	if got, want := tracing.TraceID(sampled), "1-6b073e4f-cd4beaa5eaaa22addf5fa24a"; got != want {
		t.Errorf("TraceID = %q; want %q", got, want)
	}
	unsampled := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	if got := tracing.TraceID(unsampled); got != "" {
		t.Errorf("TraceID of an unsampled span = %q; want \"\"", got)
	}
	if got := tracing.TraceID(context.Background()); got != "" {
		t.Errorf("TraceID without a span = %q; want \"\"", got)
	}
	attrs := tracing.OrderAttributes("f47ac10b-58cc-4372-a567-0e02b2c3d479")
	if len(attrs) != 2 || attrs[0].Value.AsString() != "f47ac10b-58cc-4372-a567-0e02b2c3d479" ||
		!slices.Equal(attrs[1].Value.AsStringSlice(), []string{tracing.OrderIDKey}) || attrs[1].Key != "aws.xray.annotations" {
		t.Errorf("OrderAttributes = %v; want order.id and aws.xray.annotations [order.id]", attrs)
	}
}
