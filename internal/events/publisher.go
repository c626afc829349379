package events

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/tracing"
)

// SNSAPI is the part of the SNS client the publisher uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Publisher sends OrderPlaced events to one SNS topic.
type Publisher struct {
	client   SNSAPI
	topicARN string
}

// NewPublisher returns a Publisher for the topic with the given ARN.
func NewPublisher(client SNSAPI, topicARN string) *Publisher {
	return &Publisher{client: client, topicARN: topicARN}
}

// Publish sends e with the Number attribute amount, which the promotion
// subscription's filter policy matches, and returns the SNS message id. It is
// traced as a producer span, whose context the message carries in one more
// attribute (see Attributes), so the workers' spans join the order's trace.
func (p *Publisher) Publish(ctx context.Context, e OrderPlaced) (string, error) {
	body, err := Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode order %s: %w", e.Order.ID, err)
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, Topic+" publish",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemAWSSNS, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("publish"),
			semconv.MessagingDestinationName(topicName(p.topicARN)),
		),
		trace.WithAttributes(tracing.OrderAttributes(e.Order.ID)...))
	defer span.End()
	attrs := messageAttributes{
		AmountAttribute: {DataType: aws.String("Number"), StringValue: aws.String(e.Order.Amount.String())},
	}
	otel.GetTextMapPropagator().Inject(ctx, attrs)
	out, err := p.client.Publish(ctx, &sns.PublishInput{
		TopicArn:          aws.String(p.topicARN),
		Message:           aws.String(string(body)),
		MessageAttributes: attrs,
	})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return "", fmt.Errorf("publish order %s: %w", e.Order.ID, err)
	}
	span.SetAttributes(semconv.MessagingMessageID(aws.ToString(out.MessageId)))
	return aws.ToString(out.MessageId), nil
}

// tracerName is the instrumentation scope of the events' spans.
const tracerName = "github.com/pubsub-app/pubsub/internal/events"
