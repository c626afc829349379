package web

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// traced gives each request for a route (traceable) a server span ("POST
// /orders", named after the route it matched) under the global tracer
// provider, which the order's DynamoDB write and SNS publish, and through the
// message both workers, join. The form is a public endpoint: a trace header
// the client (or the load balancer) sent is linked, never continued, so no
// caller can put its spans into our traces or pick their sampling.
func traced(traceable func(*http.Request) bool, next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "publisher",
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithFilter(traceable),
	)
}

// traceable reports whether a request is worth a trace: X-Ray bills by the
// trace, and anyone can send requests. Only requests for a page that can
// exist are: not one that matches no route (a scanner's 404s, a wrong
// method's 405s, a path spelled another way), not an order page for an id
// that cannot be an order's, and not the health checks or the stylesheet
// (the load balancer's checks alone would be a trace every few seconds).
func (s *Server) traceable(r *http.Request) bool {
	switch s.match(r) {
	case "", routeHealth, routeStyle:
		return false
	case routeOrder:
		_, err := order.ParseID(strings.TrimPrefix(r.URL.Path, "/orders/"))
		return err == nil
	}
	return true
}

// traceOrder names the order a request is about on its span.
func traceOrder(ctx context.Context, id string) {
	trace.SpanFromContext(ctx).SetAttributes(tracing.OrderAttributes(id)...)
}
