package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gocloud.dev/pubsub/awssnssqs"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// consumer drains one queue until ctx ends, calling done for each message
// once its effect (the fulfilment) is durable. It returns nil when stopped
// by ctx, and an error only for a failure while it was meant to run.
type consumer func(ctx context.Context, done func(events.OrderPlaced)) error

// firstError keeps the first failure seen by concurrent handlers.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// doneHandler reports each success of the real handler, and keeps any
// failure that was not caused by the run being stopped: in a bench, a
// handler error means the figures are wrong.
type doneHandler struct {
	h    worker.Handler
	done func(events.OrderPlaced)
	errs *firstError
}

func (d *doneHandler) Handle(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
	outcome, err := d.h.Handle(ctx, e)
	if err != nil {
		if ctx.Err() == nil {
			d.errs.set(fmt.Errorf("handle order %s: %w", e.Order.ID, err))
		}
		return outcome, err
	}
	d.done(e)
	return outcome, nil
}

// engineConsumer runs the real worker engine.
func engineConsumer(client worker.SQSAPI, h worker.Handler, e *env, wait time.Duration, concurrency int) consumer {
	return func(ctx context.Context, done func(events.OrderPlaced)) error {
		var errs firstError
		eng, err := worker.New(client, &doneHandler{h: h, done: done, errs: &errs}, engineConfig("fulfilment", e.queueURL, e.topicARN, concurrency, wait), slog.New(slog.DiscardHandler), nil)
		if err != nil {
			return err
		}
		if err := eng.Run(ctx); err != nil {
			return fmt.Errorf("run the engine: %w", err)
		}
		return errs.get()
	}
}

// engineConfig is the binaries' engine configuration (cmd/internal/workerconf's
// defaults) for service name on queueURL, but for the concurrency and wait
// under test and a short drain: handlers take milliseconds, and a short drain
// keeps scenarios apart.
func engineConfig(name, queueURL, topicARN string, concurrency int, wait time.Duration) worker.Config {
	return worker.Config{
		QueueURL: queueURL, Name: name, TopicARN: topicARN,
		MaxReceives: 3, Concurrency: concurrency, WaitTime: wait, VisibilityTimeout: 30 * time.Second, DrainTimeout: 5 * time.Second,
		RetryBase: 2 * time.Second, RetryMax: 5 * time.Minute, PoisonDelay: time.Second, HandlerTimeout: 5 * time.Minute,
	}
}

// decodeBody unwraps the SNS envelope and decodes the event, as every
// contender must to know which order to fulfil.
func decodeBody(m sqstypes.Message) (events.OrderPlaced, error) {
	env, err := events.Unwrap([]byte(aws.ToString(m.Body)))
	if err != nil {
		return events.OrderPlaced{}, fmt.Errorf("message %s: %w", aws.ToString(m.MessageId), err)
	}
	ev, err := events.Decode([]byte(env.Message))
	if err != nil {
		return events.OrderPlaced{}, fmt.Errorf("message %s: %w", aws.ToString(m.MessageId), err)
	}
	return ev, nil
}

// putFulfilment is the fulfilment handler's write, made with the SDK alone:
// the same item, the same condition. A duplicate is as good as a success.
func putFulfilment(ctx context.Context, db *dynamodb.Client, table string, ev events.OrderPlaced) error {
	o := ev.Order
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]ddbtypes.AttributeValue{
			"orderId":     &ddbtypes.AttributeValueMemberS{Value: o.ID},
			"customer":    &ddbtypes.AttributeValueMemberS{Value: o.Customer},
			"amount":      &ddbtypes.AttributeValueMemberS{Value: o.Amount.String()},
			"fulfilledAt": &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)},
		},
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": "orderId"},
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("put fulfilment of order %s: %w", o.ID, err)
	}
	return nil
}

// bareConsumer is the emulator's ceiling for the engine's calls: receive up
// to 10, write each fulfilment (all at once: a batch is at most 10, the
// engine's concurrency), then delete the batch in one request. No engine,
// no pipelining, no heartbeat: just the calls.
func bareConsumer(client *sqs.Client, db *dynamodb.Client, e *env, wait time.Duration) consumer {
	return func(ctx context.Context, done func(events.OrderPlaced)) error {
		for ctx.Err() == nil {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl:            aws.String(e.queueURL),
				MaxNumberOfMessages: 10,
				WaitTimeSeconds:     int32(wait / time.Second),
				// The engine asks for the receive count (its back-off needs it),
				// so the ceiling does too: the same call.
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
			})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("receive from %s: %w", e.queueURL, err)
			}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				entries []sqstypes.DeleteMessageBatchRequestEntry
				errs    firstError
			)
			for i, m := range out.Messages {
				wg.Go(func() {
					ev, err := decodeBody(m)
					if err == nil {
						err = putFulfilment(ctx, db, e.fulfilTbl, ev)
					}
					if err != nil {
						if ctx.Err() == nil {
							errs.set(err)
						}
						return
					}
					done(ev)
					mu.Lock()
					entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
					mu.Unlock()
				})
			}
			wg.Wait()
			if err := errs.get(); err != nil {
				return err
			}
			if len(entries) == 0 {
				continue
			}
			// The writes are durable: delete even when stopping.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, err = client.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(e.queueURL), Entries: entries})
			cancel()
			if err != nil {
				return fmt.Errorf("delete a batch from %s: %w", e.queueURL, err)
			}
		}
		return nil
	}
}

// gocdkConsumer drains the queue with the Go CDK's SQS subscription, which
// unwraps the SNS envelope itself and batches receives and acks, handing
// each message to the real handler with at most concurrency at once.
func gocdkConsumer(client *sqs.Client, h worker.Handler, e *env, concurrency int) consumer {
	return func(ctx context.Context, done func(events.OrderPlaced)) error {
		sub := awssnssqs.OpenSubscriptionV2(ctx, client, e.queueURL, &awssnssqs.SubscriptionOptions{
			// The same long-poll wait as the engine and the bare loop.
			WaitTime:    time.Second,
			SNSTopicARN: e.topicARN,
		})
		var (
			wg   sync.WaitGroup
			errs firstError
			sem  = make(chan struct{}, concurrency)
		)
	receive:
		for {
			msg, err := sub.Receive(ctx)
			if err != nil {
				if ctx.Err() == nil {
					errs.set(fmt.Errorf("receive with the Go CDK from %s: %w", e.queueURL, err))
				}
				break
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				msg.Nack()
				break receive
			}
			wg.Go(func() {
				defer func() { <-sem }()
				ev, err := events.Decode(msg.Body)
				if err == nil {
					_, err = h.Handle(ctx, ev)
				}
				if err != nil {
					if ctx.Err() == nil {
						errs.set(fmt.Errorf("message %s: %w", msg.LoggableID, err))
					}
					msg.Nack()
					return
				}
				msg.Ack()
				done(ev)
			})
		}
		wg.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := sub.Shutdown(sctx); err != nil {
			errs.set(fmt.Errorf("shut the Go CDK subscription down: %w", err))
		}
		return errs.get()
	}
}

// originalReceiver is what the original sample's loop calls.
type originalReceiver interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// originalConsumer is the original Python sample's loop: receive one
// message with a 5 s wait, handle it, delete it; one at a time.
func originalConsumer(client originalReceiver, db *dynamodb.Client, queueURL, table string) consumer {
	return func(ctx context.Context, done func(events.OrderPlaced)) error {
		for ctx.Err() == nil {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 5})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("receive from %s: %w", queueURL, err)
			}
			for _, m := range out.Messages {
				ev, err := decodeBody(m)
				if err == nil {
					err = putFulfilment(ctx, db, table, ev)
				}
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				done(ev)
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				_, err = client.DeleteMessage(dctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
				cancel()
				if err != nil {
					return fmt.Errorf("delete from %s: %w", queueURL, err)
				}
			}
		}
		return nil
	}
}
