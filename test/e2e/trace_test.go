package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// TestTrace runs the three binaries with tracing on, their spans sent to an
// OTLP/HTTP receiver in the test (what the collector sidecar is on ECS), and
// follows orders through them: an order of 95.00 is one trace across all
// three services (the workers' spans children of the publisher's publish
// span, which the SNS message carries in its X-Amzn-Trace-Id attribute); one
// of 20.00 is one across the publisher and fulfilment, promotion's filter
// policy keeping it out; one of 85.00 placed while SNS is unreachable, and
// published later by the outbox, still joins the trace of the request that
// placed it. Each trace's span tree is logged.
func TestTrace(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	collector := tracingtest.NewCollector(t)
	// SNS is unreachable at first (a connection made while it is up would
	// stay up): the first order waits in the outbox.
	sns := integration.NewTCPProxy(t, "127.0.0.1", recordingEndpoint(t, emu), false) // SNS calls still recorded for the IAM check
	traced := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL, "OTEL_BSP_SCHEDULE_DELAY=200"}
	s := startServices(t, emu, dep, map[string][]string{
		"publisher": append(slices.Clone(traced), "AWS_ENDPOINT_URL_SNS="+sns.URL,
			"PUBLISH_TIMEOUT=2s", "OUTBOX_INTERVAL=250ms", "OUTBOX_RETRY_BASE=250ms", "OUTBOX_RETRY_MAX=1s"),
		"fulfilment": traced,
		"promotion":  traced,
	})

	relayed := submitForm(t, s.BaseURL, "Grace Hopper", "85.00")
	time.Sleep(time.Second) // its publish fails, and the outbox's retries
	if n := len(s.Processed("fulfilment")); n != 0 {
		t.Fatalf("fulfilment processed %d orders while SNS was unreachable; want 0", n)
	}
	sns.Set(true)
	big := submitForm(t, s.BaseURL, "Grace Hopper", "95.00")
	small := submitForm(t, s.BaseURL, "Grace Hopper", "20.00")
	waitUntil(t, "the three orders fulfilled, and the two large ones' coupons issued", time.Minute, func() bool {
		f, p := s.Processed("fulfilment"), s.Processed("promotion")
		return len(f[big]) > 0 && len(f[small]) > 0 && len(p[big]) > 0 && len(f[relayed]) > 0 && len(p[relayed]) > 0
	})

	// The workers' spans are exported within OTEL_BSP_SCHEDULE_DELAY of
	// their end; the message is deleted about then too.
	want := map[string][]string{ // order → the process spans it must have
		big:     {"fulfilment process", "promotion process"},
		small:   {"fulfilment process"},
		relayed: {"fulfilment process", "promotion process"},
	}
	var all []tracingtest.Span
	waitUntil(t, "the spans of the three orders to reach the collector", 30*time.Second, func() bool {
		all = collector.Spans()
		for id, names := range want {
			if orderSpan(all, "POST /orders", id) == nil {
				return false
			}
			for _, n := range names {
				if orderSpan(all, n, id) == nil {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(time.Second) // a promotion span for the small order would show up by now
	all = collector.Spans()

	for _, o := range []struct{ id, amount string }{{big, "95.00"}, {small, "20.00"}, {relayed, "85.00, published by the outbox"}} {
		req := orderSpan(all, "POST /orders", o.id)
		trace := inTrace(all, req.TraceID)
		t.Logf("order %s (%s): trace %s\n%s", o.id, o.amount, xrayID(req.TraceID), spanTree(trace))

		if epoch, err := strconv.ParseInt(req.TraceID[:8], 16, 64); err != nil || time.Since(time.Unix(epoch, 0)) > 10*time.Minute {
			t.Errorf("trace id %s does not start with the time: not an X-Ray id", req.TraceID)
		}
		services := map[string]bool{}
		for _, sp := range trace {
			services[sp.Service] = true
		}
		for _, name := range want[o.id] {
			p := orderSpan(all, name, o.id)
			if p.TraceID != req.TraceID {
				t.Errorf("order %s: %s in trace %s; want the publisher's %s", o.id, name, p.TraceID, req.TraceID)
				continue
			}
			parent := byID(trace, p.ParentSpanID)
			if parent == nil || parent.Service != "publisher" || parent.Name != "ordersTopic publish" {
				t.Errorf("order %s: %s's parent is %+v; want the publisher's ordersTopic publish span", o.id, name, parent)
			}
			if p.Kind != "SPAN_KIND_CONSUMER" || p.Attributes["messaging.system"] != "aws_sqs" || p.Attributes["outcome"] == "" {
				t.Errorf("order %s: %s is %s with attributes %v; want a consumer span with messaging attributes and its outcome", o.id, name, p.Kind, p.Attributes)
			}
			// The handler's table write is the process span's child.
			if !slices.ContainsFunc(trace, func(c tracingtest.Span) bool {
				return c.ParentSpanID == p.SpanID && c.Name == "DynamoDB.PutItem"
			}) {
				t.Errorf("order %s: no DynamoDB.PutItem span under %s", o.id, name)
			}
		}
		for _, name := range []string{"DynamoDB.PutItem", "ordersTopic publish", "SNS.Publish"} {
			if !slices.ContainsFunc(trace, func(c tracingtest.Span) bool { return c.Service == "publisher" && c.Name == name }) {
				t.Errorf("order %s: the publisher's trace has no %s span", o.id, name)
			}
		}
		// The AWS calls are the SDK's own spans (smithy-go's OpenTelemetry
		// adapter), one per call, named service.operation, with what the
		// collector's awsxray exporter reads; the SDK's internal steps
		// (signing, retry loop, ...) are not spans.
		for _, sp := range trace {
			if sp.Kind != "SPAN_KIND_CLIENT" {
				continue
			}
			if a := sp.Attributes; a["rpc.system"] != "aws-api" || a["rpc.service"]+"."+a["rpc.method"] != sp.Name {
				t.Errorf("order %s: client span %s (%s) has rpc attributes %v; want rpc.system aws-api and its name's service and method", o.id, sp.Name, sp.Service, a)
			}
		}
		if i := slices.IndexFunc(trace, func(c tracingtest.Span) bool {
			return slices.Contains([]string{"RetryLoop", "Attempt", "SignRequest", "DoHTTPRequest", "OperationSerializer"}, c.Name)
		}); i >= 0 {
			t.Errorf("order %s: the SDK's internal span %s (%s) is in the trace; want only one span per AWS call", o.id, trace[i].Name, trace[i].Service)
		}
		if o.id == big && !(services["publisher"] && services["fulfilment"] && services["promotion"]) {
			t.Errorf("order %s: trace spans services %v; want publisher, fulfilment and promotion", o.id, services)
		}
		// The log lines about the order name its trace, as X-Ray shows it.
		for svc, msg := range map[string]string{"publisher": "order saved", "fulfilment": "message processed"} {
			if !slices.ContainsFunc(logLines(s.Logs.String(), svc), func(l map[string]any) bool {
				return l["msg"] == msg && l["order_id"] == o.id && l["trace_id"] == xrayID(req.TraceID)
			}) {
				t.Errorf("order %s: no %s line %q with trace_id %s", o.id, svc, msg, xrayID(req.TraceID))
			}
		}
		if o.id == relayed {
			relay := slices.IndexFunc(trace, func(c tracingtest.Span) bool { return c.Name == "outbox relay" })
			if relay < 0 || trace[relay].ParentSpanID != req.SpanID {
				t.Errorf("order %s: no outbox relay span under the request span", o.id)
			}
		}
	}
	if p := orderSpan(all, "promotion process", small); p != nil {
		t.Errorf("order %s of 20.00 has a promotion span: the filter policy should keep it from promotion", small)
	}
	for _, sp := range inTrace(all, orderSpan(all, "POST /orders", small).TraceID) {
		if sp.Service == "promotion" {
			t.Errorf("order %s of 20.00: promotion span %s in its trace", small, sp.Name)
		}
	}
}

// submitForm places an order as a browser does: it reads the form (which
// carries a fresh order id), posts it and returns the order id.
func submitForm(t *testing.T, base, customer, amount string) string {
	t.Helper()
	id := integration.FormID(t, base)
	if got, err := integration.PostOrder(base, id, customer, amount); err != nil || got != id {
		t.Fatalf("submit order %s: placed %q, %v; want a 303 to its page", id, got, err)
	}
	return id
}

// orderSpan returns the span name of order id: the publisher's "POST /orders"
// (only the publisher serves HTTP), a worker's "<svc> process".
func orderSpan(spans []tracingtest.Span, name, id string) *tracingtest.Span {
	for i, s := range spans {
		if s.Name == name && s.Attributes[tracing.OrderIDKey] == id {
			return &spans[i]
		}
	}
	return nil
}

func inTrace(spans []tracingtest.Span, traceID string) []tracingtest.Span {
	var out []tracingtest.Span
	for _, s := range spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

func byID(spans []tracingtest.Span, id string) *tracingtest.Span {
	for i, s := range spans {
		if s.SpanID == id {
			return &spans[i]
		}
	}
	return nil
}

// xrayID writes a trace id as X-Ray shows it: 1-<time>-<rest>.
func xrayID(id string) string { return "1-" + id[:8] + "-" + id[8:] }

// spanTree lays out a trace's spans by parent, children in the order they
// started: "service  span name  ← parent span name".
func spanTree(spans []tracingtest.Span) string {
	spans = slices.Clone(spans)
	slices.SortStableFunc(spans, func(a, b tracingtest.Span) int { return a.Start.Compare(b.Start) })
	var b strings.Builder
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range spans {
			isRoot := depth == 0 && byID(spans, s.ParentSpanID) == nil
			if (depth == 0 && !isRoot) || (depth > 0 && s.ParentSpanID != parent) {
				continue
			}
			parentName := "(root)"
			if p := byID(spans, s.ParentSpanID); p != nil {
				parentName = p.Name
			} else if s.ParentSpanID != "" && s.ParentSpanID != "0000000000000000" {
				parentName = "(not exported: " + s.ParentSpanID + ")"
			}
			name := s.Name
			if s.Error {
				name += " (error)"
			}
			fmt.Fprintf(&b, "  %s%-10s  %-28s  ← %s\n", strings.Repeat("    ", depth), s.Service, name, parentName)
			walk(s.SpanID, depth+1)
		}
	}
	walk("", 0)
	return b.String()
}
