package web

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/tracing"
)

// traced gives each request a server span ("POST /orders", named after the
// route it matched) under the global tracer provider, which the order's
// DynamoDB write and SNS publish, and through the message both workers, join.
// The form is a public endpoint: a trace header the client (or the load
// balancer) sent is linked, never continued, so no caller can put its spans
// into our traces or pick their sampling. Health checks and the stylesheet
// are not traced: the load balancer's checks alone would be a trace every few
// seconds.
func traced(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "publisher",
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.URL.Path != "/healthz" && !strings.HasPrefix(r.URL.Path, "/static/")
		}),
	)
}

// traceOrder names the order a request is about on its span.
func traceOrder(ctx context.Context, id string) {
	trace.SpanFromContext(ctx).SetAttributes(tracing.OrderAttributes(id)...)
}
