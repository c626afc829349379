package tracing

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestXRayPropagatorExtract reads headers as X-Ray, load balancers and the
// SDKs write them (the first is the example in X-Ray's documentation).
func TestXRayPropagatorExtract(t *testing.T) {
	const tid, sid = "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
	tests := []struct {
		header  string
		valid   bool
		sampled bool
	}{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", true, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", true, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", true, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", true, false},
		{"Parent=53995c3f42cd8ad8;Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793", true, true},
		// A load balancer's Self, and Lineage (Lambda's recursion detection), spaces after ';'.
		{"Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", true, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8; Sampled=1; Lineage=a87bd80c:1|68fd508a:5", true, true},
		// No parent: nothing to continue (a load balancer's own root).
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", false, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", false, false},
		{"Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e988bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e98g-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad;Sampled=1", false, false},
		{"Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1", false, false},
		{"", false, false},
		{"garbage", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			ctx := XRayPropagator{}.Extract(context.Background(), propagation.MapCarrier{XRayHeader: tt.header})
			sc := trace.SpanContextFromContext(ctx)
			if sc.IsValid() != tt.valid {
				t.Fatalf("valid span context = %t; want %t (%v)", sc.IsValid(), tt.valid, sc)
			}
			if !tt.valid {
				return
			}
			if sc.TraceID().String() != tid || sc.SpanID().String() != sid || !sc.IsRemote() || sc.IsSampled() != tt.sampled {
				t.Errorf("got trace %s span %s remote %t sampled %t; want %s %s true %t", sc.TraceID(), sc.SpanID(), sc.IsRemote(), sc.IsSampled(), tid, sid, tt.sampled)
			}
		})
	}
}

func TestXRayPropagatorInject(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("5759e988bd862e3fe1be46a994272793")
	sid, _ := trace.SpanIDFromHex("53995c3f42cd8ad8")
	for _, tt := range []struct {
		flags trace.TraceFlags
		want  string
	}{
		{trace.FlagsSampled, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
		{0, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"},
	} {
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: tt.flags}))
		c := propagation.MapCarrier{}
		XRayPropagator{}.Inject(ctx, c)
		if got := c.Get(XRayHeader); got != tt.want {
			t.Errorf("Inject wrote %q; want %q", got, tt.want)
		}
		// And back.
		back := trace.SpanContextFromContext(XRayPropagator{}.Extract(context.Background(), c))
		if back.TraceID() != tid || back.SpanID() != sid || back.TraceFlags() != tt.flags {
			t.Errorf("Extract(Inject) = %v; want trace %s span %s flags %s", back, tid, sid, tt.flags)
		}
	}
	c := propagation.MapCarrier{}
	XRayPropagator{}.Inject(context.Background(), c)
	if len(c) != 0 {
		t.Errorf("Inject without a span wrote %v; want nothing", c)
	}
	if got := (XRayPropagator{}).Fields(); len(got) != 1 || got[0] != "X-Amzn-Trace-Id" {
		t.Errorf("Fields = %q; want [X-Amzn-Trace-Id]", got)
	}
}

func TestXRayIDGenerator(t *testing.T) {
	at := time.Unix(0x5759e988, 0)
	g := XRayIDGenerator{now: func() time.Time { return at }}
	seen := map[trace.TraceID]bool{}
	for range 1000 {
		tid, sid := g.NewIDs(context.Background())
		if got := tid.String()[:8]; got != "5759e988" {
			t.Fatalf("trace id %s starts with %s; want the time, 5759e988", tid, got)
		}
		if !tid.IsValid() || !sid.IsValid() || !g.NewSpanID(context.Background(), tid).IsValid() {
			t.Fatalf("invalid ids %s %s", tid, sid)
		}
		if seen[tid] {
			t.Fatalf("trace id %s twice", tid)
		}
		seen[tid] = true
	}
	tid, _ := XRayIDGenerator{}.NewIDs(context.Background())
	epoch, _ := strconv.ParseInt(tid.String()[:8], 16, 64)
	if d := time.Since(time.Unix(epoch, 0)); d < 0 || d > time.Minute {
		t.Errorf("trace id %s: its time is %v ago; want now", tid, d)
	}
}
