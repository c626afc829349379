package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/web"
)

// newOrder returns a valid order as the form would place it, created now.
func newOrder() (order.Order, error) {
	customer, amount := web.RandomSample()
	o, err := order.Parse(order.NewID(), customer, amount)
	if err != nil {
		return order.Order{}, fmt.Errorf("make an order: %w", err)
	}
	o.CreatedAt = time.Now().UTC()
	return o, nil
}

// snsEnvelope is the body SNS delivers to a queue without raw delivery, as
// Copilot subscribes them: every field SNS sets, so consumers parse what they
// would in production.
type snsEnvelope struct {
	Type              string                  `json:"Type"`
	MessageID         string                  `json:"MessageId"`
	TopicARN          string                  `json:"TopicArn"`
	Message           string                  `json:"Message"`
	Timestamp         string                  `json:"Timestamp"`
	SignatureVersion  string                  `json:"SignatureVersion"`
	Signature         string                  `json:"Signature"`
	SigningCertURL    string                  `json:"SigningCertURL"`
	UnsubscribeURL    string                  `json:"UnsubscribeURL"`
	MessageAttributes map[string]envelopeAttr `json:"MessageAttributes"`
}

type envelopeAttr struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// envelopeBody returns an SNS notification of a fresh OrderPlaced event.
func envelopeBody(topicARN string) (string, error) {
	o, err := newOrder()
	if err != nil {
		return "", err
	}
	msg, err := events.Marshal(events.OrderPlaced{Order: o})
	if err != nil {
		return "", fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	b, err := json.Marshal(snsEnvelope{
		Type:             "Notification",
		MessageID:        order.NewID(),
		TopicARN:         topicARN,
		Message:          string(msg),
		Timestamp:        time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		SignatureVersion: "1",
		Signature:        "EXAMPLE",
		SigningCertURL:   "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
		UnsubscribeURL:   "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topicARN + ":" + order.NewID(),
		MessageAttributes: map[string]envelopeAttr{
			events.AmountAttribute: {Type: "Number", Value: o.Amount.String()},
		},
	})
	if err != nil {
		return "", fmt.Errorf("encode envelope: %w", err)
	}
	return string(b), nil
}

// producer keeps a queue's backlog near target: moto's SQS slows as a queue
// grows, so a bench that let the queue fill would measure moto, not the
// consumer. It sends whenever fewer than target sent messages are unprocessed.
type producer struct {
	client   *sqs.Client
	queueURL string
	topicARN string
	target   int64
	sent     atomic.Int64
}

// run sends batches of 10 until ctx ends; processed reports how many the
// consumer has finished.
func (p *producer) run(ctx context.Context, processed func() int64) error {
	for ctx.Err() == nil {
		if p.sent.Load()-processed() >= p.target {
			sleep(ctx, 2*time.Millisecond)
			continue
		}
		entries := make([]sqstypes.SendMessageBatchRequestEntry, 10)
		for i := range entries {
			body, err := envelopeBody(p.topicARN)
			if err != nil {
				return err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(body)}
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := p.client.SendMessageBatch(sctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: entries})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("send a batch to %s: %w", p.queueURL, err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("send a batch to %s: %d entries failed, first: %s %s", p.queueURL, len(out.Failed), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		p.sent.Add(int64(len(out.Successful)))
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
