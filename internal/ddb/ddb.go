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
