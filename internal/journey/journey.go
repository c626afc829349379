// Package journey reads what the workers recorded about an order, its
// fulfilment and its coupon, from the workers' own DynamoDB tables, for the
// publisher's order page. Each worker alone writes its table; this package
// only reads them, one GetItem per table, and decodes each item as the
// worker's own record (fulfilment.Fulfilment, promotion.Coupon), so an item's
// shape is defined once, beside the code that writes it.
package journey

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// Getter is the part of the DynamoDB client a Reader uses: GetItem, the only
// action the publisher's task role has on the workers' tables.
type Getter interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Reader reads the fulfilments table and the coupons table.
type Reader struct {
	db                   Getter
	fulfilments, coupons string
}

// NewReader returns a Reader of the two named tables.
func NewReader(db Getter, fulfilmentsTable, couponsTable string) *Reader {
	return &Reader{db: db, fulfilments: fulfilmentsTable, coupons: couponsTable}
}

// Fulfilment returns the order's fulfilment; ok is false while the
// fulfilment service has recorded none.
func (r *Reader) Fulfilment(ctx context.Context, orderID string) (f fulfilment.Fulfilment, ok bool, err error) {
	ok, err = get(ctx, r.db, r.fulfilments, fulfilment.KeyAttribute, orderID, &f)
	return f, ok, err
}

// Coupon returns the coupon issued for the order; ok is false while the
// promotion service has issued none (and always for an order below
// promotion.Threshold).
func (r *Reader) Coupon(ctx context.Context, orderID string) (c promotion.Coupon, ok bool, err error) {
	ok, err = get(ctx, r.db, r.coupons, promotion.KeyAttribute, orderID, &c)
	if ok && c.Code == "" {
		return promotion.Coupon{}, false, fmt.Errorf("coupon of order %s in %s has no code", orderID, r.coupons)
	}
	return c, ok, err
}

// get reads the item keyAttr=key of table into out, and reports whether there
// was one.
//
// The read is strongly consistent. An eventually consistent read may come
// from a replica that has not seen the worker's write yet, so a customer who
// saw "fulfilled" could see "waiting" on the next load; and the page decides
// from this read whether to keep refreshing itself. For items this small
// (under 4 KB) a strong read costs one read unit instead of half of one.
func get(ctx context.Context, db Getter, table, keyAttr, key string, out any) (bool, error) {
	res, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{keyAttr: &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fmt.Errorf("get item %s from %s: %w", key, table, err)
	}
	if len(res.Item) == 0 {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fmt.Errorf("decode item %s of %s: %w", key, table, err)
	}
	return true, nil
}
