package fulfilment_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/ddb/ddbtest"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/worker"
)

const (
	testTable = "pubsub-test-fulfilment-fulfilmentsTable"
	orderID   = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
)

var fulfilledAt = time.Date(2026, 5, 1, 14, 30, 0, 0, time.FixedZone("CEST", 2*60*60))

func newHandler(t *testing.T) (*fulfilment.Handler, *ddbtest.DB) {
	db := ddbtest.New(t, ddbtest.Table{Name: testTable, Key: fulfilment.KeyAttribute})
	return fulfilment.NewHandler(db, testTable, func() time.Time { return fulfilledAt }), db
}

func placed(customer string) events.OrderPlaced {
	return events.OrderPlaced{Order: order.Order{ID: orderID, Customer: customer, Amount: 95_50, CreatedAt: fulfilledAt}}
}

func stored(t *testing.T, db *ddbtest.DB) fulfilment.Fulfilment {
	t.Helper()
	var f fulfilment.Fulfilment
	if err := attributevalue.UnmarshalMap(db.Items(testTable)[orderID], &f); err != nil {
		t.Fatalf("stored fulfilment: %v", err)
	}
	return f
}

func TestHandle(t *testing.T) {
	h, db := newHandler(t)
	outcome, err := h.Handle(context.Background(), placed("Ada Lovelace"))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if outcome != fulfilment.OutcomeFulfilled {
		t.Errorf("outcome = %q; want %q", outcome, fulfilment.OutcomeFulfilled)
	}
	want := fulfilment.Fulfilment{OrderID: orderID, Customer: "Ada Lovelace", Amount: "95.50", FulfilledAt: "2026-05-01T12:30:00Z"}
	if diff := cmp.Diff(want, stored(t, db)); diff != "" {
		t.Errorf("stored fulfilment (-want +got):\n%s", diff)
	}
}

// TestHandleDuplicate delivers the same order twice: the second delivery is
// reported as a duplicate and changes nothing.
func TestHandleDuplicate(t *testing.T) {
	h, db := newHandler(t)
	if outcome, err := h.Handle(context.Background(), placed("Ada Lovelace")); err != nil || outcome != fulfilment.OutcomeFulfilled {
		t.Fatalf("first Handle = %q, %v; want %q, nil", outcome, err, fulfilment.OutcomeFulfilled)
	}
	first := stored(t, db)

	outcome, err := h.Handle(context.Background(), placed("Someone Else"))
	if err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	if outcome != worker.Duplicate {
		t.Errorf("second outcome = %q; want %q", outcome, worker.Duplicate)
	}
	if diff := cmp.Diff(first, stored(t, db)); diff != "" {
		t.Errorf("fulfilment after a redelivery (-first +now):\n%s", diff)
	}
}

func TestHandleStoreError(t *testing.T) {
	h, db := newHandler(t)
	db.Err = errors.New("throttled")
	outcome, err := h.Handle(context.Background(), placed("Ada Lovelace"))
	if !errors.Is(err, db.Err) {
		t.Fatalf("Handle error = %v; want it to wrap %v", err, db.Err)
	}
	if !strings.Contains(err.Error(), orderID) {
		t.Errorf("Handle error %q does not name the order", err)
	}
	if outcome != "" {
		t.Errorf("outcome = %q; want none with an error", outcome)
	}
}
