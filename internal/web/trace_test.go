package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// TestRequestSpan: placing an order is a server span named after its route,
// naming the order; a trace header the client sends is linked, not
// continued (the form is public); health checks and the stylesheet make no
// spans.
func TestRequestSpan(t *testing.T) {
	spans := tracingtest.Install(t)
	h := newServer(newFakeOrders(), fakePinger{})
	r := postForm(url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"95.50"}})
	const foreign = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	r.Header.Set("X-Amzn-Trace-Id", foreign)
	if res := serve(t, h, r); res.Status != http.StatusSeeOther {
		t.Fatalf("POST /orders: %d; want 303", res.Status)
	}
	serve(t, h, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	serve(t, h, httptest.NewRequest(http.MethodGet, "/static/style.css", nil))

	got := spans.GetSpans()
	if len(got) != 1 {
		t.Fatalf("got %d spans %v; want 1 (POST /orders)", len(got), got)
	}
	s := got[0]
	if s.Name != "POST /orders" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q, kind %s; want \"POST /orders\", server", s.Name, s.SpanKind)
	}
	if id, _ := tracingtest.Attr(s, tracing.OrderIDKey); id != testID {
		t.Errorf("%s = %q; want %q", tracing.OrderIDKey, id, testID)
	}
	if s.Parent.IsValid() || len(s.Links) != 1 || s.Links[0].SpanContext.TraceID().String() != "5759e988bd862e3fe1be46a994272793" {
		t.Errorf("parent %v, links %v; want a root linked to the client's trace", s.Parent, s.Links)
	}
}
