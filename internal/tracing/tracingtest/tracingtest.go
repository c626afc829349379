// Package tracingtest records the spans a test makes: it installs, for the
// test's duration, the global tracer provider and propagator that
// internal/tracing installs in the binaries (X-Ray ids, the X-Ray propagator),
// exporting into memory rather than to a collector.
package tracingtest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pubsub-app/pubsub/internal/tracing"
)

// Install records every span ended during the test, synchronously, and
// returns the recorder; the no-op provider and propagator are back after the
// test. Tests that call it must not run in parallel.
func Install(t testing.TB) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(tracing.XRayIDGenerator{}))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(tracing.XRayPropagator{})
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	return exp
}

// Named returns the spans recorded with the given name.
func Named(exp *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Attr returns the value of the attribute key of span s, as a string, and
// whether s has it.
func Attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}
