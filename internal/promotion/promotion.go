// Package promotion rewards large orders: an order of Threshold or more earns
// one coupon worth DiscountPercent off the customer's next purchase, recorded
// in the promotion service's own table keyed by the order id.
package promotion

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
)

// The promotion rule. The subscription's filter policy in
// copilot/promotion/manifest.yml must use the same threshold, and the order
// form's hint shows it and the discount (templates/form.html); tests check both.
const Threshold money.Cents = 80_00

// DiscountPercent is the coupon's discount on the next purchase.
const DiscountPercent = 20

// Outcomes the handler reports.
const (
	OutcomeIssued         = "coupon issued"
	OutcomeDuplicate      = "duplicate"
	OutcomeBelowThreshold = "below threshold"
)

// Qualifies reports whether an order of the given amount earns a coupon.
func Qualifies(amount money.Cents) bool { return amount >= Threshold }

// Coupon is one issued coupon.
type Coupon struct {
	OrderID     string `dynamodbav:"orderId"`
	Code        string `dynamodbav:"code"`
	Customer    string `dynamodbav:"customer"`
	Percent     int    `dynamodbav:"percent"`
	OrderAmount string `dynamodbav:"orderAmount"`
	IssuedAt    string `dynamodbav:"issuedAt"`
}

// Handler issues coupons into one table.
type Handler struct {
	db    ddb.Putter
	table string
	now   func() time.Time
}

// NewHandler returns a Handler writing to the named table.
func NewHandler(db ddb.Putter, table string, now func() time.Time) *Handler {
	return &Handler{db: db, table: table, now: now}
}

// Handle issues the order's coupon once. The filter policy should only let
// qualifying orders through; one that does not qualify is acknowledged
// without a coupon.
func (h *Handler) Handle(ctx context.Context, e events.OrderPlaced) (string, error) {
	if !Qualifies(e.Order.Amount) {
		return OutcomeBelowThreshold, nil
	}
	item, err := attributevalue.MarshalMap(Coupon{
		OrderID:     e.Order.ID,
		Code:        NewCode(),
		Customer:    e.Order.Customer,
		Percent:     DiscountPercent,
		OrderAmount: e.Order.Amount.String(),
		IssuedAt:    h.now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("encode coupon for order %s: %w", e.Order.ID, err)
	}
	err = ddb.PutNew(ctx, h.db, h.table, "orderId", item)
	switch {
	case errors.Is(err, ddb.ErrExists):
		return OutcomeDuplicate, nil
	case err != nil:
		return "", fmt.Errorf("issue coupon for order %s: %w", e.Order.ID, err)
	}
	return OutcomeIssued, nil
}

// codeAlphabet leaves out letters and digits that are easy to confuse when
// typed (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// NewCode returns a random coupon code such as "K7PM-Q2XD": 8 characters from
// a 31-letter alphabet, about 40 bits.
func NewCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, codeAlphabet[int(c)%len(codeAlphabet)])
	}
	return string(out)
}

// Probe tells the worker engine whether the table answers again after a
// failure (see worker.Prober), without writing to it.
func (h *Handler) Probe(ctx context.Context) error {
	return ddb.Probe(ctx, h.db, h.table, "orderId")
}
