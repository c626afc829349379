package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// delivered is the SQS body SNS makes of a publish: the envelope, with each
// message attribute as {"Type", "Value"}.
func delivered(t *testing.T, topicARN, message string, attrs map[string]snstypes.MessageAttributeValue) []byte {
	t.Helper()
	ma := map[string]map[string]string{}
	for k, v := range attrs {
		ma[k] = map[string]string{"Type": aws.ToString(v.DataType), "Value": aws.ToString(v.StringValue)}
	}
	b, err := json.Marshal(map[string]any{
		"Type": "Notification", "MessageId": "m-1", "TopicArn": topicARN, "Message": message,
		"Timestamp": "2026-11-25T09:00:00.000Z", "MessageAttributes": ma,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTraceContextTravelsWithTheEvent publishes inside a span, delivers the
// message as SNS would, and reads the trace context back from the envelope:
// the worker's side continues the publisher's trace, under its publish span.
func TestTraceContextTravelsWithTheEvent(t *testing.T) {
	spans := tracingtest.Install(t)
	ctx, request := otel.Tracer("test").Start(context.Background(), "POST /orders")
	client := &fakeSNS{}
	if _, err := events.NewPublisher(client, testTopic).Publish(ctx, events.OrderPlaced{Order: testOrder()}); err != nil {
		t.Fatal(err)
	}
	request.End()

	in := client.calls[0]
	var names []string
	for k, v := range in.MessageAttributes {
		names = append(names, k+":"+aws.ToString(v.DataType))
	}
	if diff := cmp.Diff([]string{"X-Amzn-Trace-Id:String", "amount:Number"}, slices.Sorted(slices.Values(names))); diff != "" {
		t.Errorf("message attributes (-want +got):\n%s", diff)
	}
	publish := tracingtest.Named(spans, "ordersTopic publish")
	if len(publish) != 1 {
		t.Fatalf("got %d publish spans; want 1: %v", len(publish), spans.GetSpans())
	}
	p := publish[0]
	if p.Parent.SpanID() != request.SpanContext().SpanID() || p.SpanKind != trace.SpanKindProducer {
		t.Errorf("publish span: parent %s, kind %s; want the request span %s, producer", p.Parent.SpanID(), p.SpanKind, request.SpanContext().SpanID())
	}
	if id, _ := tracingtest.Attr(p, tracing.OrderIDKey); id != testID {
		t.Errorf("publish span %s = %q; want %q", tracing.OrderIDKey, id, testID)
	}

	env, ev, err := events.OpenNotification(delivered(t, testTopic, aws.ToString(in.Message), in.MessageAttributes), "")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Order.ID != testID {
		t.Errorf("order %s; want %s", ev.Order.ID, testID)
	}
	got := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(), env.MessageAttributes))
	if !got.IsRemote() || !got.IsSampled() || got.TraceID() != request.SpanContext().TraceID() || got.SpanID() != p.SpanContext.SpanID() {
		t.Errorf("extracted %v (remote %t, sampled %t); want trace %s, span %s (the publish span), remote and sampled",
			got, got.IsRemote(), got.IsSampled(), request.SpanContext().TraceID(), p.SpanContext.SpanID())
	}
	// The filter policy's attribute is untouched.
	if a := env.MessageAttributes[events.AmountAttribute]; a.Type != "Number" || a.Value != "95.50" {
		t.Errorf("amount attribute = %+v; want Number 95.50", a)
	}
}

// TestAttributesLimit: the trace context is only written while SNS's limit
// of 10 attributes leaves room, so it can never make a publish fail.
func TestAttributesLimit(t *testing.T) {
	if events.MaxMessageAttributes != 10 {
		t.Errorf("MaxMessageAttributes = %d; SNS takes 10", events.MaxMessageAttributes)
	}
	envelope := events.Attributes{}
	publish := events.MessageAttributes{}
	for i := range events.MaxMessageAttributes - 1 {
		envelope[fmt.Sprint("a", i)] = events.EnvelopeAttribute{Type: "Number", Value: "1"}
		publish[fmt.Sprint("a", i)] = snstypes.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String("1")}
	}
	for _, c := range []interface {
		Get(string) string
		Set(string, string)
		Keys() []string
	}{envelope, publish} {
		c.Set("X-Amzn-Trace-Id", "Root=1")
		if got := c.Get("X-Amzn-Trace-Id"); got != "Root=1" || len(c.Keys()) != 10 {
			t.Errorf("%T with 9 attributes: Set gave %q and %d attributes; want Root=1 and 10", c, got, len(c.Keys()))
		}
		c.Set("traceparent", "00-x")
		if got := c.Get("traceparent"); got != "" || len(c.Keys()) != 10 {
			t.Errorf("%T with 10 attributes: Set an 11th gave %q and %d attributes; want none and 10", c, got, len(c.Keys()))
		}
		c.Set("X-Amzn-Trace-Id", "Root=2") // replacing one adds none
		if got := c.Get("X-Amzn-Trace-Id"); got != "Root=2" {
			t.Errorf("%T: replacing an attribute at the limit gave %q; want Root=2", c, got)
		}
		if got := c.Get("a0"); got != "" {
			t.Errorf("%T: Get of a Number attribute = %q; want \"\" (the trace context is a String)", c, got)
		}
	}
	var none events.Attributes // an envelope without MessageAttributes
	none.Set("X-Amzn-Trace-Id", "Root=1")
	if got := none.Get("X-Amzn-Trace-Id"); got != "" {
		t.Errorf("nil Attributes: Get = %q after Set; want \"\"", got)
	}
}
