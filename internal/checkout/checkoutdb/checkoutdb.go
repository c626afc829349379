// Package checkoutdb is checkout's store on DynamoDB: orders in the
// publisher's table (ordersTable, partition key id), together with whether
// each order's event has been published yet, and the sparse outbox index of
// those not yet published.
package checkoutdb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// OutboxIndex is the sparse global secondary index of unpublished orders,
// keyed by outbox (the order's shard, "pending#<k>", drawn at random when
// the order is created) and leaseUntil.
const OutboxIndex = "outbox"

// OutboxShards is how many partition key values the outbox index is spread
// over. One key value lives in one index partition, which takes about 1,000
// writes a second, and every order writes the index twice (into the outbox
// with Create, out with MarkPublished): about 500 orders/s a shard, 4,000/s
// for 8, above SNS's default Publish quota in most regions (see docs/design.md's
// capacity model), so the outbox is not what limits first. Each poll queries
// every shard (and the legacy key), 9 queries of about 0.5 read unit when the
// outbox is empty. It may grow (new orders spread wider, every old shard is
// still polled); it must not shrink while orders wait in the shards dropped.
const OutboxShards = 8

// outboxLegacy is the single outbox key written before the outbox was
// sharded. The relay still polls it, so an order written by an older
// publisher task (during a rolling deploy, or left by a failed publish) is
// still published; it can go once the index holds no item with this key.
const outboxLegacy = "pending"

// outboxKey is the key of shard k: "pending#<k>".
func outboxKey(k int) string { return outboxLegacy + "#" + strconv.Itoa(k) }

// newOutboxKey draws the outbox shard of a new order at random, from
// crypto/rand. It is not derived from the order: the id comes with the
// client's form (it is generated when the form is rendered), so any function
// of it, a hash included, lets a client choose ids that all land in one
// shard, one index partition (about 1,000 writes a second), while the others
// idle. The key is stored on the item, and every poll queries every shard,
// so nothing ever needs to compute it again.
func newOutboxKey() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (it crashes the program instead)
	// Uniform while OutboxShards is a power of two; otherwise off by at most
	// OutboxShards/2^64.
	return outboxKey(int(binary.LittleEndian.Uint64(b[:]) % OutboxShards))
}

// outboxKeys are the keys a poll queries: every shard, then the legacy key.
func outboxKeys() []string {
	keys := make([]string, 0, OutboxShards+1)
	for k := range OutboxShards {
		keys = append(keys, outboxKey(k))
	}
	return append(keys, outboxLegacy)
}

// leaseLayout is fixed-width UTC, so the index's string order is time order.
const leaseLayout = "2006-01-02T15:04:05.000000Z"

func leaseString(t time.Time) string { return t.UTC().Format(leaseLayout) }

// API is the part of the DynamoDB client the store uses.
type API interface {
	ddb.Putter
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store reads and writes orders in one table.
type Store struct {
	client API
	table  string
}

// New returns a Store for the named table.
func New(client API, table string) *Store { return &Store{client: client, table: table} }

const (
	statePending   = "pending"
	statePublished = "published"
)

type item struct {
	ID           string `dynamodbav:"id"`
	Customer     string `dynamodbav:"customer"`
	Amount       string `dynamodbav:"amount"` // decimal string, never a float
	CreatedAt    string `dynamodbav:"createdAt"`
	PublishState string `dynamodbav:"publishState"`
	PublishedAt  string `dynamodbav:"publishedAt,omitempty"`
	MessageID    string `dynamodbav:"messageId,omitempty"`
	Outbox       string `dynamodbav:"outbox,omitempty"` // set while unpublished: the sparse index key
	LeaseUntil   string `dynamodbav:"leaseUntil,omitempty"`
	Attempts     int    `dynamodbav:"publishAttempts,omitempty"`
	// The trace the order was placed in (checkout.Record.TraceContext).
	TraceContext map[string]string `dynamodbav:"traceContext,omitempty"`
}

// Create stores a new order as not yet published, in the outbox, leased to
// the caller until leaseUntil. It returns checkout.ErrExists, and changes nothing, when
// an order with the same id is stored already.
func (s *Store) Create(ctx context.Context, o order.Order, leaseUntil time.Time) error {
	av, err := attributevalue.MarshalMap(item{
		ID:           o.ID,
		Customer:     o.Customer,
		Amount:       o.Amount.String(),
		CreatedAt:    o.CreatedAt.UTC().Format(time.RFC3339Nano),
		PublishState: statePending,
		Outbox:       newOutboxKey(),
		LeaseUntil:   leaseString(leaseUntil),
		TraceContext: traceContext(ctx),
	})
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	if err := ddb.PutNew(ctx, s.client, s.table, "id", av); err != nil {
		if errors.Is(err, ddb.ErrExists) {
			return fmt.Errorf("create order %s: %w", o.ID, checkout.ErrExists)
		}
		return fmt.Errorf("create order %s: %w", o.ID, err)
	}
	return nil
}

// Get returns the order with the given id, read consistently, or checkout.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (checkout.Record, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return checkout.Record{}, fmt.Errorf("get order %s: %w", id, err)
	}
	if out.Item == nil {
		return checkout.Record{}, checkout.ErrNotFound
	}
	return decode(out.Item)
}

// MarkPublished records that the order's event was published with the given
// SNS message id, and takes the order out of the outbox.
func (s *Store) MarkPublished(ctx context.Context, id, messageID string, at time.Time) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConditionExpression: aws.String("attribute_exists(id)"),
		UpdateExpression:    aws.String("SET publishState = :p, publishedAt = :t, messageId = :m REMOVE outbox, leaseUntil"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberS{Value: statePublished},
			":t": &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)},
			":m": &types.AttributeValueMemberS{Value: messageID},
		},
	})
	if err != nil {
		return fmt.Errorf("mark order %s published: %w", id, err)
	}
	return nil
}

// Reschedule records a failed publish: the order stays in the outbox with
// attempts failures, and may be claimed again at next.
func (s *Store) Reschedule(ctx context.Context, id string, attempts int, next time.Time) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConditionExpression: aws.String("attribute_exists(outbox)"),
		UpdateExpression:    aws.String("SET leaseUntil = :l, publishAttempts = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":l": &types.AttributeValueMemberS{Value: leaseString(next)},
			":a": &types.AttributeValueMemberN{Value: strconv.Itoa(attempts)},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) { // already published: nothing to reschedule
		return fmt.Errorf("reschedule order %s: %w", id, err)
	}
	return nil
}

// DueOrders reads, from every outbox shard and the legacy key, up to limit
// unpublished orders whose lease has run out by now, the longest overdue of
// each shard first. It claims none: the caller claims each just before
// publishing it. Every poll visits every shard, so a busy shard cannot starve
// another. A shard that fails to answer does not stop the others: their
// orders are returned with the error.
func (s *Store) DueOrders(ctx context.Context, now time.Time, limit int) ([]checkout.Due, error) {
	var due []checkout.Due
	var errs []error
	for _, key := range outboxKeys() {
		out, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			IndexName:              aws.String(OutboxIndex),
			KeyConditionExpression: aws.String("outbox = :o AND leaseUntil <= :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":o":   &types.AttributeValueMemberS{Value: key},
				":now": &types.AttributeValueMemberS{Value: leaseString(now)},
			},
			Limit: aws.Int32(int32(limit)),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("query outbox %s: %w", key, err))
			continue
		}
		for _, it := range out.Items {
			id, ok := it["id"].(*types.AttributeValueMemberS)
			lu, ok2 := it["leaseUntil"].(*types.AttributeValueMemberS)
			if !ok || !ok2 {
				continue
			}
			t, err := time.Parse(leaseLayout, lu.Value)
			if err != nil || leaseString(t) != lu.Value {
				// A lease not in our layout could not be claimed by its value.
				errs = append(errs, fmt.Errorf("order %s: lease %q is not in the layout %s", id.Value, lu.Value, leaseLayout))
				continue
			}
			due = append(due, checkout.Due{ID: id.Value, LeaseUntil: t})
		}
	}
	return due, errors.Join(errs...)
}

// Claim leases the due order d to the caller until now+lease. The write is
// conditional on the lease d was read with, so of several publisher tasks
// exactly one wins each order; the others get checkout.ErrNotDue, as does
// any task once the order is published.
func (s *Store) Claim(ctx context.Context, d checkout.Due, now time.Time, lease time.Duration) (checkout.Record, error) {
	up, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: d.ID}},
		ConditionExpression: aws.String("attribute_exists(outbox) AND leaseUntil = :old"),
		UpdateExpression:    aws.String("SET leaseUntil = :new"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":old": &types.AttributeValueMemberS{Value: leaseString(d.LeaseUntil)},
			":new": &types.AttributeValueMemberS{Value: leaseString(now.Add(lease))},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return checkout.Record{}, fmt.Errorf("claim order %s: %w", d.ID, checkout.ErrNotDue)
	}
	if err != nil {
		return checkout.Record{}, fmt.Errorf("claim order %s: %w", d.ID, err)
	}
	return decode(up.Attributes)
}

// traceContext is the trace context of ctx as the process's propagator
// writes it (X-Amzn-Trace-Id, with tracing on), stored with the order so that
// the outbox can publish its event in the same trace; nil with tracing off.
func traceContext(ctx context.Context) map[string]string {
	c := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// Ping checks that the table can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}); err != nil {
		return fmt.Errorf("describe table %s: %w", s.table, err)
	}
	return nil
}

func decode(av map[string]types.AttributeValue) (checkout.Record, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return checkout.Record{}, fmt.Errorf("decode order: %w", err)
	}
	amount, err := money.Parse(it.Amount)
	if err != nil {
		return checkout.Record{}, fmt.Errorf("decode order %s: amount %q: %w", it.ID, it.Amount, err)
	}
	created, err := time.Parse(time.RFC3339Nano, it.CreatedAt)
	if err != nil {
		return checkout.Record{}, fmt.Errorf("decode order %s: createdAt: %w", it.ID, err)
	}
	r := checkout.Record{
		Order:     order.Order{ID: it.ID, Customer: it.Customer, Amount: amount, CreatedAt: created},
		Published: it.PublishState == statePublished,
		MessageID: it.MessageID,
		Attempts:  it.Attempts,
	}
	r.TraceContext = it.TraceContext
	if it.LeaseUntil != "" {
		r.LeaseUntil, _ = time.Parse(leaseLayout, it.LeaseUntil)
	}
	if it.PublishedAt != "" {
		r.PublishedAt, _ = time.Parse(time.RFC3339Nano, it.PublishedAt)
	}
	return r, nil
}
