// Package ddb holds the one DynamoDB idiom every store here relies on: a write
// that only succeeds for an item that does not exist yet, which is what makes
// each handler idempotent.
package ddb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrExists is returned by PutNew when an item with the same key is stored.
var ErrExists = errors.New("item already exists")

// Putter is the part of the DynamoDB client PutNew uses.
type Putter interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// PutNew writes item to table unless an item with the same partition key
// (keyAttr) exists, in which case it returns ErrExists and changes nothing.
func PutNew(ctx context.Context, c Putter, table, keyAttr string, item map[string]types.AttributeValue) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": keyAttr},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("put item in %s: %w", table, err)
	}
	return nil
}

// probeKey is the key a probe names; no item with it is ever written.
const probeKey = "probe:never-written"

// Probe tells whether table answers writes again, without writing: a PutItem
// whose condition can never hold. DynamoDB takes it down the path of a real
// write (the table's partition, its throughput) and refuses it with
// ConditionalCheckFailedException, which means the table answers: Probe
// returns nil. Any other error is the table's, and is returned. It needs only
// dynamodb:PutItem, which every handler here has anyway.
func Probe(ctx context.Context, c Putter, table, keyAttr string) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(table),
		Item:                     map[string]types.AttributeValue{keyAttr: &types.AttributeValueMemberS{Value: probeKey}},
		ConditionExpression:      aws.String("attribute_exists(#k) AND attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": keyAttr},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return nil
	case err == nil:
		return fmt.Errorf("probe of %s wrote item %s=%s: its condition can never hold, so the store is not DynamoDB as documented", table, keyAttr, probeKey)
	}
	return fmt.Errorf("probe %s: %w", table, err)
}
