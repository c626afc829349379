// Package checkoutdb is checkout's store on DynamoDB: orders in the
// publisher's table (ordersTable, partition key id), together with whether
// each order's event has been published yet, and the sparse outbox index of
// those not yet published.
package checkoutdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// OutboxIndex is the sparse global secondary index of unpublished orders,
// keyed by outbox (always outboxPending) and leaseUntil.
const OutboxIndex = "outbox"

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
	outboxPending  = "pending"
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
		Outbox:       outboxPending,
		LeaseUntil:   leaseString(leaseUntil),
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
		ConditionExpression: aws.String("outbox = :o"),
		UpdateExpression:    aws.String("SET leaseUntil = :l, publishAttempts = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o": &types.AttributeValueMemberS{Value: outboxPending},
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

// ClaimDue finds up to limit unpublished orders whose lease has run out by
// now and leases each to the caller until now+lease. A claim is a conditional
// write on the lease it read, so of several publisher tasks exactly one wins
// each order.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]checkout.Record, error) {
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String(OutboxIndex),
		KeyConditionExpression: aws.String("outbox = :o AND leaseUntil <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o":   &types.AttributeValueMemberS{Value: outboxPending},
			":now": &types.AttributeValueMemberS{Value: leaseString(now)},
		},
		Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("query the outbox: %w", err)
	}
	var claimed []checkout.Record
	for _, key := range out.Items {
		id, ok := key["id"].(*types.AttributeValueMemberS)
		old, ok2 := key["leaseUntil"].(*types.AttributeValueMemberS)
		if !ok || !ok2 {
			continue
		}
		up, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(s.table),
			Key:                 map[string]types.AttributeValue{"id": id},
			ConditionExpression: aws.String("outbox = :o AND leaseUntil = :old"),
			UpdateExpression:    aws.String("SET leaseUntil = :new"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":o":   &types.AttributeValueMemberS{Value: outboxPending},
				":old": old,
				":new": &types.AttributeValueMemberS{Value: leaseString(now.Add(lease))},
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			continue // another task claimed or published it first
		}
		if err != nil {
			return claimed, fmt.Errorf("claim order %s: %w", id.Value, err)
		}
		rec, err := decode(up.Attributes)
		if err != nil {
			return claimed, err
		}
		claimed = append(claimed, rec)
	}
	return claimed, nil
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
	if it.LeaseUntil != "" {
		r.LeaseUntil, _ = time.Parse(leaseLayout, it.LeaseUntil)
	}
	if it.PublishedAt != "" {
		r.PublishedAt, _ = time.Parse(time.RFC3339Nano, it.PublishedAt)
	}
	return r, nil
}
