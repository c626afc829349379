// Package orderstore keeps orders in the publisher's DynamoDB table
// (ordersTable, partition key id), together with whether each order's event
// has been published yet.
package orderstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("order not found")
	ErrExists   = ddb.ErrExists
)

// Record is a stored order and the state of its event.
type Record struct {
	order.Order
	Published   bool
	PublishedAt time.Time
	MessageID   string // the SNS message id, once published
}

// API is the part of the DynamoDB client the store uses.
type API interface {
	ddb.Putter
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
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
}

// Create stores a new order as not yet published. It returns ErrExists, and
// changes nothing, when an order with the same id is stored already.
func (s *Store) Create(ctx context.Context, o order.Order) error {
	av, err := attributevalue.MarshalMap(item{
		ID:           o.ID,
		Customer:     o.Customer,
		Amount:       o.Amount.String(),
		CreatedAt:    o.CreatedAt.UTC().Format(time.RFC3339Nano),
		PublishState: statePending,
	})
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	if err := ddb.PutNew(ctx, s.client, s.table, "id", av); err != nil {
		if errors.Is(err, ddb.ErrExists) {
			return err
		}
		return fmt.Errorf("create order %s: %w", o.ID, err)
	}
	return nil
}

// Get returns the order with the given id, read consistently, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Record{}, fmt.Errorf("get order %s: %w", id, err)
	}
	if out.Item == nil {
		return Record{}, ErrNotFound
	}
	return decode(out.Item)
}

// MarkPublished records that the order's event was published with the given
// SNS message id.
func (s *Store) MarkPublished(ctx context.Context, id, messageID string, at time.Time) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConditionExpression: aws.String("attribute_exists(id)"),
		UpdateExpression:    aws.String("SET publishState = :p, publishedAt = :t, messageId = :m"),
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

// Ping checks that the table can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}); err != nil {
		return fmt.Errorf("describe table %s: %w", s.table, err)
	}
	return nil
}

func decode(av map[string]types.AttributeValue) (Record, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return Record{}, fmt.Errorf("decode order: %w", err)
	}
	amount, err := money.Parse(it.Amount)
	if err != nil {
		return Record{}, fmt.Errorf("decode order %s: amount %q: %w", it.ID, it.Amount, err)
	}
	created, err := time.Parse(time.RFC3339Nano, it.CreatedAt)
	if err != nil {
		return Record{}, fmt.Errorf("decode order %s: createdAt: %w", it.ID, err)
	}
	r := Record{
		Order:     order.Order{ID: it.ID, Customer: it.Customer, Amount: amount, CreatedAt: created},
		Published: it.PublishState == statePublished,
		MessageID: it.MessageID,
	}
	if it.PublishedAt != "" {
		r.PublishedAt, _ = time.Parse(time.RFC3339Nano, it.PublishedAt)
	}
	return r, nil
}
