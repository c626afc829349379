// Package fulfilment fulfils placed orders: it records one fulfilment per
// order in the fulfilment service's own table, keyed by the order id, so a
// redelivered event changes nothing.
package fulfilment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// OutcomeFulfilled is the handler's outcome of an order it fulfilled; one
// already fulfilled is a worker.Duplicate.
const OutcomeFulfilled worker.Outcome = "fulfilled"

// KeyAttribute is the fulfilments table's partition key: the order id, the
// orderId of Fulfilment. Whoever reads the table (the publisher's order
// page, internal/journey) reads the item by it and decodes it as a Fulfilment.
const KeyAttribute = "orderId"

// Fulfilment is the record of one fulfilled order.
type Fulfilment struct {
	OrderID     string `dynamodbav:"orderId"`
	Customer    string `dynamodbav:"customer"`
	Amount      string `dynamodbav:"amount"`
	FulfilledAt string `dynamodbav:"fulfilledAt"`
}

// Handler fulfils orders into one table.
type Handler struct {
	db    ddb.Putter
	table string
	now   func() time.Time
}

// NewHandler returns a Handler writing to the named table.
func NewHandler(db ddb.Putter, table string, now func() time.Time) *Handler {
	return &Handler{db: db, table: table, now: now}
}

// Handle records the order's fulfilment once; a second delivery of the same
// order is reported as a duplicate and changes nothing.
func (h *Handler) Handle(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
	item, err := attributevalue.MarshalMap(Fulfilment{
		OrderID:     e.Order.ID,
		Customer:    e.Order.Customer,
		Amount:      e.Order.Amount.String(),
		FulfilledAt: h.now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("encode fulfilment of order %s: %w", e.Order.ID, err)
	}
	err = ddb.PutNew(ctx, h.db, h.table, KeyAttribute, item)
	switch {
	case errors.Is(err, ddb.ErrExists):
		return worker.Duplicate, nil
	case err != nil:
		return "", fmt.Errorf("record fulfilment of order %s: %w", e.Order.ID, err)
	}
	return OutcomeFulfilled, nil
}

// Probe tells the worker engine whether the table answers again after a
// failure (see worker.Prober), without writing to it.
func (h *Handler) Probe(ctx context.Context) error {
	return ddb.Probe(ctx, h.db, h.table, KeyAttribute)
}
