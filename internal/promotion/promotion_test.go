package promotion_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

const (
	testTable = "pubsub-test-promotion-couponsTable"
	orderID   = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	// alphabet is the coupon code alphabet, written out here so a change to
	// it is a decision: no 0/O, 1/I/L, which are easy to confuse when typed.
	alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
)

var issuedAt = time.Date(2026, 5, 1, 14, 30, 0, 0, time.FixedZone("CEST", 2*60*60))

// fakeTable is an in-memory coupons table keyed by orderId. It records its
// inputs and evaluates the condition attribute_not_exists(<key>) as
// DynamoDB does; any other condition fails the call.
type fakeTable struct {
	t     *testing.T
	items map[string]map[string]types.AttributeValue
	err   error
	puts  []*dynamodb.PutItemInput
}

var notExists = regexp.MustCompile(`^attribute_not_exists\((#?\w+)\)$`)

func (f *fakeTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts = append(f.puts, in)
	if f.err != nil {
		return nil, f.err
	}
	if got := aws.ToString(in.TableName); got != testTable {
		f.t.Errorf("PutItem TableName = %q; want %q", got, testTable)
	}
	key, ok := in.Item["orderId"].(*types.AttributeValueMemberS)
	if !ok {
		f.t.Fatalf("PutItem item has no string orderId: %v", in.Item)
	}
	if cond := aws.ToString(in.ConditionExpression); cond != "" {
		m := notExists.FindStringSubmatch(cond)
		if m == nil {
			f.t.Fatalf("PutItem ConditionExpression %q; the fake understands only attribute_not_exists", cond)
		}
		attr := m[1]
		if strings.HasPrefix(attr, "#") {
			attr = in.ExpressionAttributeNames[attr]
		}
		if _, exists := f.items[key.Value][attr]; exists {
			return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
		}
	}
	f.items[key.Value] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func newHandler(t *testing.T) (*promotion.Handler, *fakeTable) {
	db := &fakeTable{t: t, items: map[string]map[string]types.AttributeValue{}}
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
		wantOutcome string
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
				if len(db.puts) != 0 {
					t.Errorf("PutItem called %d times; want no coupon below the threshold", len(db.puts))
				}
				return
			}
			if len(db.items) != 1 {
				t.Fatalf("stored %d coupons; want 1", len(db.items))
			}
			got := coupon(t, db.items[orderID])
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
	first := coupon(t, db.items[orderID])

	outcome, err := h.Handle(context.Background(), placed(95_50))
	if err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	if outcome != promotion.OutcomeDuplicate {
		t.Errorf("second outcome = %q; want %q", outcome, promotion.OutcomeDuplicate)
	}
	if diff := cmp.Diff(first, coupon(t, db.items[orderID])); diff != "" {
		t.Errorf("coupon after a redelivery (-first +now):\n%s", diff)
	}
}

func TestHandleStoreError(t *testing.T) {
	h, db := newHandler(t)
	db.err = errors.New("throttled")
	outcome, err := h.Handle(context.Background(), placed(95_50))
	if !errors.Is(err, db.err) {
		t.Fatalf("Handle error = %v; want it to wrap %v", err, db.err)
	}
	if !strings.Contains(err.Error(), orderID) {
		t.Errorf("Handle error %q does not name the order", err)
	}
	if outcome != "" {
		t.Errorf("outcome = %q; want none with an error", outcome)
	}
}

func TestNewCode(t *testing.T) {
	const n = 10_000
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
	// 80,000 letters: each of the 31 turns up about 2,600 times, so one
	// missing means the code does not draw from the whole alphabet.
	for _, r := range alphabet {
		if used[r] < n*8/len(alphabet)/2 {
			t.Errorf("letter %c used %d times in %d codes; want about %d", r, used[r], n, n*8/len(alphabet))
		}
	}
}
