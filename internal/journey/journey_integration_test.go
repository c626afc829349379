package journey_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/journey"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// TestReaderReadsWhatTheWorkersWrite runs the workers' own handlers against
// the emulator's tables, named as the publisher is given them (its manifest's
// variables, interpolated as Copilot does), and reads back with the Reader:
// nothing before, exactly the workers' records after.
func TestReaderReadsWhatTheWorkersWrite(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := dynamodb.NewFromConfig(emu.Config)

	pub := dep.Services["publisher"].Env
	fulfilments, coupons := pub["FULFILMENTS_TABLE_NAME"], pub["COUPONS_TABLE_NAME"]
	if want := dep.Services["fulfilment"].Tables["fulfilmentsTable"]; fulfilments != want {
		t.Fatalf("publisher's FULFILMENTS_TABLE_NAME = %q; want the fulfilment service's table %q", fulfilments, want)
	}
	if want := dep.Services["promotion"].Tables["couponsTable"]; coupons != want {
		t.Fatalf("publisher's COUPONS_TABLE_NAME = %q; want the promotion service's table %q", coupons, want)
	}
	r := journey.NewReader(db, fulfilments, coupons)

	at := time.Date(2026, 5, 1, 12, 30, 2, 500_000_000, time.UTC)
	clock := func() time.Time { return at }
	e := events.OrderPlaced{Order: order.Order{ID: order.NewID(), Customer: "Ada Lovelace", Amount: 95_00, CreatedAt: at}}

	if f, ok, err := r.Fulfilment(ctx, e.Order.ID); ok || err != nil {
		t.Errorf("Fulfilment before the worker = %+v, %t, %v; want not recorded, no error", f, ok, err)
	}
	if c, ok, err := r.Coupon(ctx, e.Order.ID); ok || err != nil {
		t.Errorf("Coupon before the worker = %+v, %t, %v; want not recorded, no error", c, ok, err)
	}

	if _, err := fulfilment.NewHandler(db, fulfilments, clock).Handle(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := promotion.NewHandler(db, coupons, clock).Handle(ctx, e); err != nil {
		t.Fatal(err)
	}

	f, ok, err := r.Fulfilment(ctx, e.Order.ID)
	if !ok || err != nil {
		t.Fatalf("Fulfilment after the worker: %t, %v; want recorded", ok, err)
	}
	want := fulfilment.Fulfilment{OrderID: e.Order.ID, Customer: "Ada Lovelace", Amount: "95.00", FulfilledAt: "2026-05-01T12:30:02.5Z"}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("Fulfilment (-want +got):\n%s", diff)
	}
	c, ok, err := r.Coupon(ctx, e.Order.ID)
	if !ok || err != nil {
		t.Fatalf("Coupon after the worker: %t, %v; want issued", ok, err)
	}
	wantCoupon := promotion.Coupon{OrderID: e.Order.ID, Customer: "Ada Lovelace", Percent: promotion.DiscountPercent, OrderAmount: "95.00", IssuedAt: "2026-05-01T12:30:02.5Z"}
	if diff := cmp.Diff(wantCoupon, c, cmpopts.IgnoreFields(promotion.Coupon{}, "Code")); diff != "" {
		t.Errorf("Coupon (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`^[A-Z2-9]{4}-[A-Z2-9]{4}$`).MatchString(c.Code) {
		t.Errorf("coupon code %q; want one like K7PM-Q2XD", c.Code)
	}
	// Another order: the first one's records are not its own.
	other := order.NewID()
	if _, ok, err := r.Fulfilment(ctx, other); ok || err != nil {
		t.Errorf("Fulfilment of another order: %t, %v; want not recorded", ok, err)
	}
}

// TestReaderTableUnreadable: a table that does not exist, or does not answer
// in time, is an error (the page says unknown), never "not yet".
func TestReaderTableUnreadable(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := dynamodb.NewFromConfig(emu.Config)
	id := order.NewID()

	missing := journey.NewReader(db, dep.Services["fulfilment"].Tables["fulfilmentsTable"]+"-missing", dep.Services["promotion"].Tables["couponsTable"]+"-missing")
	if _, ok, err := missing.Fulfilment(ctx, id); ok || err == nil {
		t.Errorf("Fulfilment from a missing table: %t, %v; want an error", ok, err)
	}
	if _, ok, err := missing.Coupon(ctx, id); ok || err == nil {
		t.Errorf("Coupon from a missing table: %t, %v; want an error", ok, err)
	}

	p, err := faults.Start(emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Set(faults.Rule{Service: "dynamodb", APIs: []string{"GetItem"}, Kind: faults.Latency, Delay: 5 * time.Second})
	slow := dynamodb.NewFromConfig(emu.Config, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(p.URL()) })
	r := journey.NewReader(slow, dep.Services["fulfilment"].Tables["fulfilmentsTable"], dep.Services["promotion"].Tables["couponsTable"])
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	begin := time.Now()
	if _, ok, err := r.Fulfilment(short, id); ok || err == nil {
		t.Errorf("Fulfilment from a table 5s slow, within 300ms: %t, %v; want an error", ok, err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("the read took %v; want it to end with its context (300ms)", took)
	}
}
