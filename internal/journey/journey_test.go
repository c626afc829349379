package journey_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/ddb/ddbtest"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/journey"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

const (
	fulfilmentsTable = "pubsub-test-fulfilment-fulfilmentsTable"
	couponsTable     = "pubsub-test-promotion-couponsTable"
	orderID          = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
)

func newFake(t *testing.T) (*ddbtest.DB, *journey.Reader) {
	db := ddbtest.New(t,
		ddbtest.Table{Name: fulfilmentsTable, Key: fulfilment.KeyAttribute},
		ddbtest.Table{Name: couponsTable, Key: promotion.KeyAttribute})
	return db, journey.NewReader(db, fulfilmentsTable, couponsTable)
}

func TestReaderNothingRecorded(t *testing.T) {
	db, r := newFake(t)
	ctx := context.Background()
	if f, ok, err := r.Fulfilment(ctx, orderID); ok || err != nil {
		t.Errorf("Fulfilment = %+v, %t, %v; want not recorded, no error", f, ok, err)
	}
	if c, ok, err := r.Coupon(ctx, orderID); ok || err != nil {
		t.Errorf("Coupon = %+v, %t, %v; want not recorded, no error", c, ok, err)
	}
	// Each read names its table and asks for the latest write.
	var tables []string
	for _, in := range db.Gets {
		tables = append(tables, aws.ToString(in.TableName))
		if !aws.ToBool(in.ConsistentRead) {
			t.Errorf("GetItem of %s is eventually consistent; want ConsistentRead", aws.ToString(in.TableName))
		}
	}
	if diff := cmp.Diff([]string{fulfilmentsTable, couponsTable}, tables); diff != "" {
		t.Errorf("tables read (-want +got):\n%s", diff)
	}
}

func TestReaderDecodesTheWorkersRecords(t *testing.T) {
	db, r := newFake(t)
	ctx := context.Background()
	wantF := fulfilment.Fulfilment{OrderID: orderID, Customer: "Ada", Amount: "95.00", FulfilledAt: "2026-05-01T12:30:02.5Z"}
	wantC := promotion.Coupon{OrderID: orderID, Code: "K7PM-Q2XD", Customer: "Ada", Percent: 20, OrderAmount: "95.00", IssuedAt: "2026-05-01T12:30:03Z"}
	db.Put(fulfilmentsTable, wantF)
	db.Put(couponsTable, wantC)

	f, ok, err := r.Fulfilment(ctx, orderID)
	if !ok || err != nil {
		t.Fatalf("Fulfilment: %t, %v; want recorded", ok, err)
	}
	if diff := cmp.Diff(wantF, f); diff != "" {
		t.Errorf("Fulfilment (-want +got):\n%s", diff)
	}
	c, ok, err := r.Coupon(ctx, orderID)
	if !ok || err != nil {
		t.Fatalf("Coupon: %t, %v; want recorded", ok, err)
	}
	if diff := cmp.Diff(wantC, c); diff != "" {
		t.Errorf("Coupon (-want +got):\n%s", diff)
	}
}

func TestReaderErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("table unreadable", func(t *testing.T) {
		db, r := newFake(t)
		denied := errors.New("AccessDeniedException")
		db.Err = denied
		if _, ok, err := r.Fulfilment(ctx, orderID); ok || !errors.Is(err, denied) {
			t.Errorf("Fulfilment: %t, %v; want the client's error", ok, err)
		}
		if _, ok, err := r.Coupon(ctx, orderID); ok || !errors.Is(err, denied) {
			t.Errorf("Coupon: %t, %v; want the client's error", ok, err)
		}
	})
	t.Run("item of another shape", func(t *testing.T) {
		db, r := newFake(t)
		db.Put(couponsTable, map[string]string{"orderId": orderID, "code": "K7PM-Q2XD", "percent": "twenty"})
		if c, ok, err := r.Coupon(ctx, orderID); ok || err == nil {
			t.Errorf("Coupon = %+v, %t, %v; want a decoding error", c, ok, err)
		}
	})
	t.Run("coupon without a code", func(t *testing.T) {
		db, r := newFake(t)
		db.Put(couponsTable, promotion.Coupon{OrderID: orderID, Percent: 20})
		if c, ok, err := r.Coupon(ctx, orderID); ok || err == nil {
			t.Errorf("Coupon = %+v, %t, %v; want an error", c, ok, err)
		}
	})
}
