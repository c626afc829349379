// Package tracing sets up OpenTelemetry for a binary, so that one order is one
// trace across the publisher and both workers: spans go over OTLP/HTTP to the
// collector Copilot runs beside each task (observability.tracing: awsxray,
// the AWS Distro for OpenTelemetry collector, which hands them to X-Ray), with
// X-Ray trace ids and the X-Ray propagator (the X-Amzn-Trace-Id header, and the
// SNS message attribute of that name). Without a collector endpoint it
// installs the no-op provider and propagator: nothing is recorded or sent.
//
// The AWS SDK's clients trace their calls through the SDK's own hooks
// (AWSTracerProvider: smithy-go's OpenTelemetry adapter). The X-Ray
// propagator and id generator are this package's own (xray.go): the
// opentelemetry-go-contrib modules that provided them and the SDK
// instrumentation (propagators/aws, otelaws) were deprecated in September
// 2026 for want of an owner. X-Ray's own OTLP endpoint (with CloudWatch
// Transaction Search) takes W3C trace ids, which would retire the id
// generator, though not Copilot's collector, whose awsxray exporter needs
// X-Ray ids.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// OrderIDKey is the span attribute that names the order a span is about, on
// the publisher's request, publish and relay spans and on each worker's
// message span.
const OrderIDKey = "order.id"

// OrderAttributes name the order id a span is about: OrderIDKey, and X-Ray's
// aws.xray.annotations listing it, so that a collector whose awsxray exporter
// reads that list (opentelemetry-collector-contrib v0.70 and later) makes it
// the annotation order_id, which X-Ray's filter expressions search.
// Copilot's collector (ADOT v0.17.0) predates the list and keeps every
// attribute as metadata: there, find an order's trace by the trace_id its
// log lines carry (TraceID).
func OrderAttributes(id string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String(OrderIDKey, id), attribute.StringSlice("aws.xray.annotations", []string{OrderIDKey})}
}

// TraceID returns the trace of ctx's span as X-Ray writes it
// (1-<8 hex digits: its time>-<24 hex digits>), for log lines, or "" when the
// span is not sampled (tracing off): no trace exists to look up.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return ""
	}
	id := sc.TraceID().String()
	return "1-" + id[:8] + "-" + id[8:]
}

// FlushTimeout bounds the flush of the spans still buffered at exit. It
// comes on top of each service's drain, within ECS's stop timeout (30s): the
// publisher drains for at most SHUTDOWN_TIMEOUT (20s), a worker for at most
// WORKER_DRAIN_TIMEOUT (25s). The collector is on localhost.
const FlushTimeout = 2 * time.Second

// Start installs the global tracer provider and propagator for service (the
// service.name of its spans) and returns stop, which flushes the spans still
// buffered, within FlushTimeout, and stops: call it on exit. endpoint is
// OTEL_EXPORTER_OTLP_ENDPOINT, the collector's OTLP/HTTP base URL (spans go to
// its /v1/traces); with endpoint "" tracing is off: the no-op provider and
// propagator are installed, nothing is exported, and stop does nothing. The
// other OTEL_* variables (OTEL_BSP_SCHEDULE_DELAY,
// OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_RESOURCE_ATTRIBUTES, ...) are the SDK's:
// it reads them itself. Export errors are logged on log, never returned: a
// collector that is down costs spans, never orders. ratio is the share of
// traces started here that are kept (a trace continued from another service
// keeps that service's decision): X-Ray bills by the trace recorded.
func Start(ctx context.Context, service, endpoint string, ratio float64, log *slog.Logger) (stop func(), err error) {
	if endpoint == "" {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		return func() {}, nil
	}
	traces, err := tracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(traces))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter to %s: %w", traces, err)
	}
	res, err := resource.New(ctx,
		resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(service)), // last: it wins over OTEL_SERVICE_NAME
	)
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp), // OTEL_BSP_* tune it
		sdktrace.WithResource(res),
		// X-Ray takes only trace ids that start with their time (the
		// collector's awsxray exporter drops the others).
		sdktrace.WithIDGenerator(XRayIDGenerator{}),
		sdktrace.WithSampler(orderSampler{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))}),
	)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: spans not exported", "error", err.Error())
	}))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(XRayPropagator{})
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans lost at exit", "error", err.Error())
		}
	}, nil
}

// tracesURL is where OTLP/HTTP spans go for the base URL endpoint: its path
// with v1/traces appended, as the OTLP specification reads
// OTEL_EXPORTER_OTLP_ENDPOINT.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%s: want the collector's OTLP/HTTP URL, such as http://localhost:4318", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}

// orderSampler keeps the traces of orders: requests, messages and what they
// call. An AWS call made outside any of them (the outbox's poll every few
// seconds, each worker's long polls, deletes, heartbeats and probes) would be a
// trace of its own, many a minute per task, saying nothing about any order, and
// X-Ray charges by the trace: those, client spans without a parent, are
// dropped. Everything else follows next.
type orderSampler struct{ next sdktrace.Sampler }

func (s orderSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Kind == trace.SpanKindClient && !trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	return s.next.ShouldSample(p)
}

func (s orderSampler) Description() string {
	return "OrderSampler{drop client spans without a parent; else " + s.next.Description() + "}"
}
