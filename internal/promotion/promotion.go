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
	"github.com/pubsub-app/pubsub/internal/worker"
)

// The promotion rule. The subscription's filter policy in
// copilot/promotion/manifest.yml must use the same threshold, and the order
// form's hint shows it and the discount (templates/form.html); tests check both.
const Threshold money.Cents = 80_00

// DiscountPercent is the coupon's discount on the next purchase.
const DiscountPercent = 20

// Outcomes the handler reports, besides worker.Duplicate for an order whose
// coupon was already issued.
const (
	OutcomeIssued         worker.Outcome = "coupon issued"
	OutcomeBelowThreshold worker.Outcome = "below threshold"
)

// Qualifies reports whether an order of the given amount earns a coupon.
func Qualifies(amount money.Cents) bool { return amount >= Threshold }

// KeyAttribute is the coupons table's partition key: the order id (the
// orderId of Coupon), or CodeKeyPrefix and a code for a code's claim.
// Whoever reads a coupon (the publisher's order page, internal/journey) reads
// the item by it and decodes it as a Coupon.
const KeyAttribute = "orderId"

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
//
// A code is unique by a conditional write: before the coupon, the handler
// claims its code with an item keyed CodeKeyPrefix+code, written only if no
// such item exists, and draws again on a collision. The claim comes first
// so that no coupon is ever stored with an unclaimed code; a redelivery
// claims a code it then does not use (the coupon exists), which costs one
// small item and takes nothing from anyone. Both are single PutItems, the
// one action the promotion task role has on its table.
func (h *Handler) Handle(ctx context.Context, e events.OrderPlaced) (worker.Outcome, error) {
	if !Qualifies(e.Order.Amount) {
		return OutcomeBelowThreshold, nil
	}
	issuedAt := h.now().UTC().Format(time.RFC3339Nano)
	code, err := h.claimCode(ctx, e.Order.ID, issuedAt)
	if err != nil {
		return "", err
	}
	item, err := attributevalue.MarshalMap(Coupon{
		OrderID:     e.Order.ID,
		Code:        code,
		Customer:    e.Order.Customer,
		Percent:     DiscountPercent,
		OrderAmount: e.Order.Amount.String(),
		IssuedAt:    issuedAt,
	})
	if err != nil {
		return "", fmt.Errorf("encode coupon for order %s: %w", e.Order.ID, err)
	}
	err = ddb.PutNew(ctx, h.db, h.table, KeyAttribute, item)
	switch {
	case errors.Is(err, ddb.ErrExists):
		return worker.Duplicate, nil
	case err != nil:
		return "", fmt.Errorf("issue coupon for order %s: %w", e.Order.ID, err)
	}
	return OutcomeIssued, nil
}

// CodeKeyPrefix starts the key (orderId) of the item that claims a coupon
// code in the coupons table: "code#K7PM-Q2XD". Order ids are UUIDs, so the
// two never meet; whoever counts coupons skips these items.
const CodeKeyPrefix = "code#"

// codeClaim is the item that reserves a code for one order.
type codeClaim struct {
	Key       string `dynamodbav:"orderId"` // CodeKeyPrefix + code
	ClaimedBy string `dynamodbav:"claimedBy"`
	ClaimedAt string `dynamodbav:"claimedAt"`
}

// codeTries bounds the draws for a free code. With 31^8 (about 8.5e11)
// codes, a single collision is already rare at millions of coupons; this
// many in a row means the draw is broken, and the order is retried later.
const codeTries = 5

// ErrNoFreeCode is returned when codeTries draws all hit claimed codes.
var ErrNoFreeCode = errors.New("no free coupon code")

// claimCode draws codes until one is claimed for orderID.
func (h *Handler) claimCode(ctx context.Context, orderID, at string) (string, error) {
	for range codeTries {
		code := NewCode()
		item, err := attributevalue.MarshalMap(codeClaim{Key: CodeKeyPrefix + code, ClaimedBy: orderID, ClaimedAt: at})
		if err != nil {
			return "", fmt.Errorf("encode code claim for order %s: %w", orderID, err)
		}
		err = ddb.PutNew(ctx, h.db, h.table, KeyAttribute, item)
		switch {
		case err == nil:
			return code, nil
		case !errors.Is(err, ddb.ErrExists):
			return "", fmt.Errorf("claim coupon code for order %s: %w", orderID, err)
		}
	}
	return "", fmt.Errorf("claim coupon code for order %s: %w after %d draws", orderID, ErrNoFreeCode, codeTries)
}

// codeAlphabet leaves out letters and digits that are easy to confuse when
// typed (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// unbiased is the number of byte values a code letter is drawn from: the
// largest multiple of len(codeAlphabet) a byte holds (248 = 8 × 31). A byte
// at or above it is drawn again; taken modulo 31, the 8 values above would
// make the first 8 letters 9/8 as likely as the others.
const unbiased = 256 - 256%len(codeAlphabet)

// NewCode returns a random coupon code such as "K7PM-Q2XD": 8 characters from
// a 31-letter alphabet, each equally likely, about 40 bits.
func NewCode() string {
	out := make([]byte, 0, 9)
	var buf [16]byte // 8 letters need about 8.3 bytes; 16 rarely run out
	for {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
		for _, c := range buf {
			if int(c) >= unbiased {
				continue
			}
			if len(out) == 4 {
				out = append(out, '-')
			}
			out = append(out, codeAlphabet[int(c)%len(codeAlphabet)])
			if len(out) == 9 {
				return string(out)
			}
		}
	}
}

// Probe tells the worker engine whether the table answers again after a
// failure (see worker.Prober), without writing to it.
func (h *Handler) Probe(ctx context.Context) error {
	return ddb.Probe(ctx, h.db, h.table, KeyAttribute)
}
