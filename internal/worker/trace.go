package worker

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// msgTracer traces the handling of each message as a consumer span that
// continues the trace its notification carries (the publisher's, through the
// process's propagator), so the handler's calls, given the span's context,
// join the order's trace. With tracing off (the global no-op provider) a span
// costs next to nothing: attributes are only built for a span that records.
type msgTracer struct {
	tracer trace.Tracer
	name   string // "<Config.Name> process"
	queue  string // the queue's name, the last part of its URL
}

func newMsgTracer(cfg Config) msgTracer {
	return msgTracer{
		tracer: otel.Tracer("github.com/pubsub-app/pubsub/internal/worker"),
		name:   cfg.Name + " process",
		queue:  cfg.QueueURL[strings.LastIndexByte(cfg.QueueURL, '/')+1:],
	}
}

// start starts m's span, received receives times, under the trace context
// in the notification's attrs (nil when the body was no notification: the
// span is then a trace's root).
func (t msgTracer) start(ctx context.Context, m types.Message, receives int, attrs events.Attributes) (context.Context, trace.Span) {
	ctx = otel.GetTextMapPropagator().Extract(ctx, attrs)
	ctx, span := t.tracer.Start(ctx, t.name, trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(
			semconv.MessagingSystemAWSSQS, semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(t.queue), semconv.MessagingMessageID(aws.ToString(m.MessageId)),
			attribute.Int("receive_count", receives), // as the log line names it: a retry shows as a second span with 2

		)
	}
	return ctx, span
}

// order names the order the message is about on its span.
func (msgTracer) order(span trace.Span, id string) {
	if span.IsRecording() {
		span.SetAttributes(tracing.OrderAttributes(id)...)
	}
}

// end records the handler's outcome or error on the span; the caller ends it.
func (msgTracer) end(span trace.Span, outcome Outcome, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "message not processed")
		return
	}
	span.SetAttributes(attribute.String("outcome", string(outcome)))
}
