package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/events"
)

// env is one freshly provisioned environment: its own topic, queues and
// tables, so a scenario never sees another's messages or items.
type env struct {
	dep        *topology.Deployment
	topicARN   string
	topicName  string // the last part of the ARN, as the engine checks it
	queueURL   string // the fulfilment worker's queue
	promoURL   string // the promotion worker's queue
	fulfilTbl  string // fulfilmentsTable
	couponsTbl string // couponsTable
	ordersTbl  string // ordersTable
	teardownFn func()
}

// provision creates a fresh environment named b<random hex> from the
// Copilot topology. The returned env's teardown deletes it again, so moto's
// memory (and its per-request cost) does not grow round after round.
func (b *bench) provision(ctx context.Context) (*env, error) {
	var raw [4]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("name an environment: %w", err)
	}
	name := "b" + hex.EncodeToString(raw[:])
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	clients := topology.NewClients(b.cfg)
	dep, err := topology.Provision(pctx, clients, b.top, name)
	e := &env{dep: dep}
	e.teardownFn = func() { b.teardown(clients, dep) }
	if err != nil {
		if dep != nil {
			e.teardown()
		}
		return nil, fmt.Errorf("provision environment %s: %w", name, err)
	}
	ful, pub, promo := dep.Services["fulfilment"], dep.Services[events.PublisherService], dep.Services["promotion"]
	e.topicARN = dep.Topics[events.PublisherService+":"+events.Topic]
	if ful == nil || pub == nil || promo == nil || e.topicARN == "" {
		e.teardown()
		return nil, fmt.Errorf("environment %s: the topology lacks the publisher, fulfilment or promotion service or the %s topic", name, events.Topic)
	}
	e.topicName = e.topicARN[strings.LastIndexByte(e.topicARN, ':')+1:]
	e.queueURL, e.promoURL = ful.QueueURL, promo.QueueURL
	e.fulfilTbl, e.ordersTbl, e.couponsTbl = ful.Tables["fulfilmentsTable"], pub.Tables["ordersTable"], promo.Tables["couponsTable"]
	if e.fulfilTbl == "" || e.ordersTbl == "" || e.couponsTbl == "" {
		e.teardown()
		return nil, fmt.Errorf("environment %s: no fulfilmentsTable, ordersTable or couponsTable in the topology", name)
	}
	return e, nil
}

func (e *env) teardown() { e.teardownFn() }

// teardown deletes what Provision created. It is best effort: a leftover
// resource only costs moto some memory, so failures are reported, not fatal.
func (b *bench) teardown(c topology.Clients, dep *topology.Deployment) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, d := range dep.Services {
		for _, url := range []string{d.QueueURL, d.DLQURL} {
			if url == "" {
				continue
			}
			if _, err := c.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
				errs = append(errs, err)
			}
		}
		for _, t := range d.Tables {
			if _, err := c.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t)}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, arn := range dep.Topics {
		if _, err := c.SNS.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.progress("warning: teardown of environment %s: %v", dep.Env, err)
	}
}

// opCounter counts AWS requests by "Service.Operation" as the service receives them (each
// attempt), recorded by awscalls on the clients made from its config.
type opCounter struct{ rec *awscalls.Recorder }

func newOpCounter() *opCounter { return &opCounter{rec: awscalls.New()} }

// config returns a copy of cfg whose clients' requests are counted here.
func (c *opCounter) config(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.HTTPClient = c.rec.Client(cfg.HTTPClient)
	return cfg
}

// snapshot returns the counts so far.
func (c *opCounter) snapshot() map[string]int64 {
	out := map[string]int64{}
	for _, call := range c.rec.Calls() {
		out[serviceID[call.Service]+"."+call.API]++
	}
	return out
}

// serviceID names a service as the SDK does (its service ID), by the signing name awscalls
// records.
var serviceID = map[string]string{"sqs": "SQS", "sns": "SNS", "dynamodb": "DynamoDB"}

// total sums the counts of one service ("SQS", "SNS", "DynamoDB"), or all
// when service is "".
func total(counts map[string]int64, service string) int64 {
	var n int64
	for op, v := range counts {
		if service == "" || strings.HasPrefix(op, service+".") {
			n += v
		}
	}
	return n
}

// describe lists counts per unit as "PutItem 1.00, Publish 1.00", sorted.
func describe(counts map[string]int64, per int64) string {
	ops := make([]string, 0, len(counts))
	for op := range counts {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %.2f", op[strings.IndexByte(op, '.')+1:], float64(counts[op])/float64(max(per, 1)))
	}
	return strings.Join(parts, ", ")
}

// countingSQS is the engine's SQS client, counting each call the engine
// makes. Embedding the client keeps it a worker.SQSAPI should that interface
// grow; the opCounter on the same client would still see any new call.
type countingSQS struct {
	*sqs.Client
	receives, emptyReceives, deletes, visibility atomic.Int64

	// emptyAt records when each empty receive returned, for the idle rate.
	mu      sync.Mutex
	emptyAt []time.Time
}

func (c *countingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	c.receives.Add(1)
	out, err := c.Client.ReceiveMessage(ctx, in, opts...)
	if err == nil && len(out.Messages) == 0 {
		c.emptyReceives.Add(1)
		c.mu.Lock()
		c.emptyAt = append(c.emptyAt, time.Now())
		c.mu.Unlock()
	}
	return out, err
}

func (c *countingSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	c.deletes.Add(1)
	return c.Client.DeleteMessageBatch(ctx, in, opts...)
}

func (c *countingSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	c.visibility.Add(1)
	return c.Client.ChangeMessageVisibility(ctx, in, opts...)
}

// calls is every call counted so far.
func (c *countingSQS) calls() int64 {
	return c.receives.Load() + c.deletes.Load() + c.visibility.Load()
}

// emptyTimes returns when the empty receives returned.
func (c *countingSQS) emptyTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.emptyAt...)
}
