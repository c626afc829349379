package promotion_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/ddb/ddbtest"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/worker"
)

const (
	testTable = "pubsub-test-promotion-couponsTable"
	orderID   = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	// otherOrderID holds the codes the fake table says are taken.
	otherOrderID = "0b6c2d1e-4f3a-4b5c-8d7e-9f0a1b2c3d4e"
	// alphabet is the coupon code alphabet, written out here so a change to
	// it is a decision: no 0/O, 1/I/L, which are easy to confuse when typed.
	alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
)

var issuedAt = time.Date(2026, 5, 1, 14, 30, 0, 0, time.FixedZone("CEST", 2*60*60))

// fakeTable is the shared fake DynamoDB with the coupons table. With
// collisions set, that many code claims find their code claimed already, by
// another order.
type fakeTable struct {
	*ddbtest.DB
	collisions int
	collided   []string // the codes claimed by another order before us
}

func (f *fakeTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	key, _ := in.Item[promotion.KeyAttribute].(*types.AttributeValueMemberS)
	if key != nil && strings.HasPrefix(key.Value, promotion.CodeKeyPrefix) && f.collisions > 0 {
		f.collisions--
		f.collided = append(f.collided, strings.TrimPrefix(key.Value, promotion.CodeKeyPrefix))
		f.Put(testTable, map[string]string{"orderId": key.Value, "claimedBy": otherOrderID})
	}
	return f.DB.PutItem(ctx, in, opts...)
}

func newHandler(t *testing.T) (*promotion.Handler, *fakeTable) {
	db := &fakeTable{DB: ddbtest.New(t, ddbtest.Table{Name: testTable, Key: promotion.KeyAttribute})}
	return promotion.NewHandler(db, testTable, func() time.Time { return issuedAt }), db
}

func placed(amount money.Cents) events.OrderPlaced {
	return events.OrderPlaced{Order: order.Order{ID: orderID, Customer: "Ada Lovelace", Amount: amount, CreatedAt: issuedAt}}
}

func coupon(t *testing.T, item map[string]types.AttributeValue) promotion.Coupon {
	t.Helper()
	var c promotion.Coupon
	if err := attributevalue.UnmarshalMap(item, &c); err != nil {
		t.Fatalf("stored coupon: %v", err)
	}
	return c
}

// split returns the stored coupons by order id, and the code claims' owners
// by code.
func split(t *testing.T, db *fakeTable) (coupons map[string]promotion.Coupon, claims map[string]string) {
	t.Helper()
	coupons, claims = map[string]promotion.Coupon{}, map[string]string{}
	for key, item := range db.Items(testTable) {
		if code, ok := strings.CutPrefix(key, promotion.CodeKeyPrefix); ok {
			by, _ := item["claimedBy"].(*types.AttributeValueMemberS)
			if by == nil {
				t.Fatalf("code claim %s has no claimedBy: %v", key, item)
			}
			claims[code] = by.Value
			continue
		}
		coupons[key] = coupon(t, item)
	}
	return coupons, claims
}

var codePattern = regexp.MustCompile(`^[` + alphabet + `]{4}-[` + alphabet + `]{4}$`)

func TestQualifies(t *testing.T) {
	for _, tc := range []struct {
		amount money.Cents
		want   bool
	}{
		{0, false},
		{1, false},
		{79_99, false},
		{80_00, true}, // the threshold itself earns a coupon
		{80_01, true},
		{1_000_000_00, true},
	} {
		if got := promotion.Qualifies(tc.amount); got != tc.want {
			t.Errorf("Qualifies(%s) = %v; want %v", tc.amount, got, tc.want)
		}
	}
	if got, want := promotion.Threshold.String(), "80.00"; got != want {
		t.Errorf("Threshold = %s; want %s", got, want)
	}
}

func TestHandle(t *testing.T) {
	for _, tc := range []struct {
		amount      money.Cents
		wantOutcome worker.Outcome
		wantCoupon  bool
	}{
		{79_99, promotion.OutcomeBelowThreshold, false},
		{1, promotion.OutcomeBelowThreshold, false},
		{80_00, promotion.OutcomeIssued, true},
		{95_50, promotion.OutcomeIssued, true},
	} {
		t.Run(tc.amount.String(), func(t *testing.T) {
			h, db := newHandler(t)
			outcome, err := h.Handle(context.Background(), placed(tc.amount))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if outcome != tc.wantOutcome {
				t.Errorf("outcome = %q; want %q", outcome, tc.wantOutcome)
			}
			if !tc.wantCoupon {
				if len(db.Puts) != 0 {
					t.Errorf("PutItem called %d times; want no coupon below the threshold", len(db.Puts))
				}
				return
			}
			coupons, claims := split(t, db)
			if len(coupons) != 1 {
				t.Fatalf("stored %d coupons; want 1", len(coupons))
			}
			got := coupons[orderID]
			if diff := cmp.Diff(map[string]string{got.Code: orderID}, claims); diff != "" {
				t.Errorf("code claims, code to order (-want +got):\n%s", diff)
			}
			if !codePattern.MatchString(got.Code) {
				t.Errorf("coupon code %q; want XXXX-XXXX from %s", got.Code, alphabet)
			}
			want := promotion.Coupon{
				OrderID:     orderID,
				Code:        got.Code,
				Customer:    "Ada Lovelace",
				Percent:     20,
				OrderAmount: tc.amount.String(),
				IssuedAt:    "2026-05-01T12:30:00Z",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored coupon (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandleDuplicate delivers the same order twice: the second delivery is
// reported as a duplicate and the first coupon stays as it was.
func TestHandleDuplicate(t *testing.T) {
	h, db := newHandler(t)
	if outcome, err := h.Handle(context.Background(), placed(95_50)); err != nil || outcome != promotion.OutcomeIssued {
		t.Fatalf("first Handle = %q, %v; want %q, nil", outcome, err, promotion.OutcomeIssued)
	}
	first := coupon(t, db.Items(testTable)[orderID])

	outcome, err := h.Handle(context.Background(), placed(95_50))
	if err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	if outcome != worker.Duplicate {
		t.Errorf("second outcome = %q; want %q", outcome, worker.Duplicate)
	}
	if diff := cmp.Diff(first, coupon(t, db.Items(testTable)[orderID])); diff != "" {
		t.Errorf("coupon after a redelivery (-first +now):\n%s", diff)
	}
	// The redelivery claimed a code it did not use; the coupon's stays ours.
	coupons, claims := split(t, db)
	if len(coupons) != 1 || claims[first.Code] != orderID {
		t.Errorf("after a redelivery: %d coupons, code %s claimed by %q; want 1 coupon whose code is claimed by %s", len(coupons), first.Code, claims[first.Code], orderID)
	}
}

// TestHandleCodeCollision makes the first two codes drawn already claimed
// by another order: the handler draws again until a claim succeeds, issues
// the coupon with that code and leaves the other order's claims alone.
func TestHandleCodeCollision(t *testing.T) {
	h, db := newHandler(t)
	db.collisions = 2
	outcome, err := h.Handle(context.Background(), placed(95_50))
	if err != nil || outcome != promotion.OutcomeIssued {
		t.Fatalf("Handle = %q, %v; want %q, nil", outcome, err, promotion.OutcomeIssued)
	}
	coupons, claims := split(t, db)
	got := coupons[orderID]
	if len(coupons) != 1 || claims[got.Code] != orderID {
		t.Fatalf("%d coupons, code %q claimed by %q; want 1 coupon whose code is claimed by %s", len(coupons), got.Code, claims[got.Code], orderID)
	}
	for _, code := range db.collided {
		if code == got.Code {
			t.Errorf("coupon issued with %s, claimed by another order", code)
		}
		if claims[code] != otherOrderID {
			t.Errorf("code %s claimed by %q after the collision; want it left to %s", code, claims[code], otherOrderID)
		}
	}
	if len(db.Puts) != 4 {
		t.Errorf("%d PutItem calls; want 3 claims and the coupon", len(db.Puts))
	}
}

// TestHandleNoFreeCode makes every code drawn collide: the handler gives up
// after a bounded number of draws with an error (the message is retried),
// and stores no coupon.
func TestHandleNoFreeCode(t *testing.T) {
	h, db := newHandler(t)
	db.collisions = 1000
	outcome, err := h.Handle(context.Background(), placed(95_50))
	if !errors.Is(err, promotion.ErrNoFreeCode) || outcome != "" {
		t.Fatalf("Handle = %q, %v; want an error wrapping %v", outcome, err, promotion.ErrNoFreeCode)
	}
	if n := len(db.Puts); n < 2 || n > 10 {
		t.Errorf("%d claims before giving up; want a few", n)
	}
	if coupons, _ := split(t, db); len(coupons) != 0 {
		t.Errorf("stored %d coupons; want none", len(coupons))
	}
}

func TestHandleStoreError(t *testing.T) {
	h, db := newHandler(t)
	db.Err = errors.New("throttled")
	outcome, err := h.Handle(context.Background(), placed(95_50))
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

// TestNewCode draws 20,000 codes from a fixed seed (cryptotest makes
// crypto/rand deterministic for this test), so its two checks, which are
// statistical, give the same answer on every run: with a fresh random stream
// two of 20,000 codes of 31^8 coincide about once in 4,300 runs (the birthday
// bound, n^2/2N), and the chi-square check fails once in a million. A change
// to how NewCode draws its letters changes the stream it sees, not the odds.
func TestNewCode(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 20)
	const n = 20_000
	seen := make(map[string]bool, n)
	used := map[rune]int{}
	for range n {
		code := promotion.NewCode()
		if !codePattern.MatchString(code) {
			t.Fatalf("NewCode() = %q; want XXXX-XXXX from %s", code, alphabet)
		}
		if seen[code] {
			t.Fatalf("NewCode() returned %q twice in %d codes", code, len(seen)+1)
		}
		seen[code] = true
		for _, r := range strings.ReplaceAll(code, "-", "") {
			used[r]++
		}
	}
	// 160,000 letters: each of the 31 is expected 5,161 times. Pearson's
	// chi-square over the 31 counts (30 degrees of freedom) exceeds 82.6 with
	// probability 1e-6 when the letters are uniform. A letter taken as a
	// random byte modulo 31 makes the first 8 letters 9/8 as likely as the
	// rest: chi-square about 420 (standard deviation about 40), far above.
	expected := float64(n*8) / float64(len(alphabet))
	chi2 := 0.0
	for _, r := range alphabet {
		d := float64(used[r]) - expected
		chi2 += d * d / expected
	}
	if chi2 > 82.6 {
		t.Errorf("letter counts %v: chi-square %.1f over 30 degrees of freedom; want at most 82.6 (p = 1e-6) for letters drawn uniformly", used, chi2)
	}
}
