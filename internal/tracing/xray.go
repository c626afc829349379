package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// XRayHeader is the header (and SNS/SQS message attribute) that carries the
// trace context in X-Ray's form:
//
//	Root=1-<8 hex digits: the trace's start, Unix seconds>-<24 hex digits>;Parent=<16 hex digits>;Sampled=<0 or 1>
//
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
const XRayHeader = "X-Amzn-Trace-Id"

// XRayPropagator reads and writes the trace context as XRayHeader. It is
// what go.opentelemetry.io/contrib/propagators/aws/xray provided until that
// module was deprecated (September 2026), kept here as the few lines it is.
// A header without a Parent, or with a malformed Root or Parent, is ignored
// (the span starts a trace of its own); fields other than Root, Parent and
// Sampled (Self, which a load balancer adds, Lineage) are skipped; only
// Sampled=1 is sampled (Sampled=? and none leave the decision to us, and we
// do not sample what was not asked for).
type XRayPropagator struct{}

var _ propagation.TextMapPropagator = XRayPropagator{}

// Inject writes ctx's span context to carrier, if it has a valid one.
func (XRayPropagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	tid := sc.TraceID().String()
	sampled := "0"
	if sc.IsSampled() {
		sampled = "1"
	}
	carrier.Set(XRayHeader, "Root=1-"+tid[:8]+"-"+tid[8:]+";Parent="+sc.SpanID().String()+";Sampled="+sampled)
}

// Extract returns ctx with the remote span context carrier holds, or ctx
// unchanged when it holds none that is valid.
func (XRayPropagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if sc, ok := parseXRayHeader(carrier.Get(XRayHeader)); ok {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// Fields returns the one key the propagator writes.
func (XRayPropagator) Fields() []string { return []string{XRayHeader} }

func parseXRayHeader(h string) (trace.SpanContext, bool) {
	var cfg trace.SpanContextConfig
	var root, parent bool
	for field := range strings.SplitSeq(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			// 1-5759e988-bd862e3fe1be46a994272793: version 1, then the
			// 32 hex digits of the trace id split after the first 8.
			if len(v) != 35 || v[:2] != "1-" || v[10] != '-' {
				return trace.SpanContext{}, false
			}
			id, err := trace.TraceIDFromHex(v[2:10] + v[11:])
			if err != nil {
				return trace.SpanContext{}, false
			}
			cfg.TraceID, root = id, true
		case "Parent":
			id, err := trace.SpanIDFromHex(v)
			if err != nil {
				return trace.SpanContext{}, false
			}
			cfg.SpanID, parent = id, true
		case "Sampled":
			if v == "1" {
				cfg.TraceFlags = trace.FlagsSampled
			}
		}
	}
	if !root || !parent {
		return trace.SpanContext{}, false
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

// XRayIDGenerator makes trace ids X-Ray accepts: the first 4 bytes the
// trace's start in Unix seconds, the other 12 random (the collector's awsxray
// exporter drops a span whose trace id does not start with a plausible time).
// Span ids are 8 random bytes. The random bytes come from math/rand/v2's
// top-level functions (ChaCha8, safe for concurrent use).
type XRayIDGenerator struct {
	now func() time.Time // time.Now unless a test sets it
}

// NewIDs returns a new trace id and the id of its first span.
func (g XRayIDGenerator) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	now := time.Now
	if g.now != nil {
		now = g.now
	}
	var tid trace.TraceID
	binary.BigEndian.PutUint32(tid[:4], uint32(now().Unix()))
	binary.BigEndian.PutUint64(tid[4:12], rand.Uint64())
	binary.BigEndian.PutUint32(tid[12:], rand.Uint32())
	return tid, newSpanID()
}

// NewSpanID returns a new span id in trace tid.
func (XRayIDGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() { // all zeros is invalid
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
