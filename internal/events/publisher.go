package events

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
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
// subscription's filter policy matches, and returns the SNS message id.
func (p *Publisher) Publish(ctx context.Context, e OrderPlaced) (string, error) {
	body, err := Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode order %s: %w", e.Order.ID, err)
	}
	out, err := p.client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(p.topicARN),
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			AmountAttribute: {DataType: aws.String("Number"), StringValue: aws.String(e.Order.Amount.String())},
		},
	})
	if err != nil {
		return "", fmt.Errorf("publish order %s: %w", e.Order.ID, err)
	}
	return aws.ToString(out.MessageId), nil
}
