package order_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

const goodID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

func TestParseCustomer(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
		wantErr  error
	}{
		{name: "plain", in: "Ada Lovelace", want: "Ada Lovelace"},
		{name: "trimmed", in: " \t Ada Lovelace \r\n", want: "Ada Lovelace"},
		{name: "inner spaces kept", in: "Ada  Lovelace", want: "Ada  Lovelace"},
		{name: "non-latin", in: "Zoë 李小龍", want: "Zoë 李小龍"},
		{name: "emoji", in: "Ada 🚀", want: "Ada 🚀"},
		{name: "100 ascii", in: strings.Repeat("a", 100), want: strings.Repeat("a", 100)},
		{name: "100 multibyte", in: strings.Repeat("é", 100), want: strings.Repeat("é", 100)},
		{name: "100 after trimming", in: "  " + strings.Repeat("a", 100) + "\n", want: strings.Repeat("a", 100)},
		{name: "101 ascii", in: strings.Repeat("a", 101), wantErr: order.ErrTooLong},
		{name: "101 multibyte", in: strings.Repeat("é", 101), wantErr: order.ErrTooLong},
		{name: "empty", in: "", wantErr: order.ErrRequired},
		{name: "only spaces", in: " \t\n ", wantErr: order.ErrRequired},
		{name: "NUL", in: "Ada\x00", wantErr: order.ErrNotPrintable},
		{name: "inner tab", in: "Ada\tLovelace", wantErr: order.ErrNotPrintable},
		{name: "inner newline", in: "Ada\nLovelace", wantErr: order.ErrNotPrintable},
		{name: "DEL", in: "Ada\x7f", wantErr: order.ErrNotPrintable},
		{name: "escape sequence", in: "Ada\x1b[31m", wantErr: order.ErrNotPrintable},
		{name: "right-to-left override", in: "Ada\u202eLovelace", wantErr: order.ErrNotPrintable},
		{name: "zero width space", in: "Ada\u200bLovelace", wantErr: order.ErrNotPrintable},
		{name: "invalid UTF-8", in: "Ada\xffLovelace", wantErr: order.ErrNotPrintable},
		{name: "truncated UTF-8", in: "Ada\xc3", wantErr: order.ErrNotPrintable},
		{name: "long invalid UTF-8", in: strings.Repeat("\xff", 101), wantErr: order.ErrNotPrintable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := order.ParseCustomer(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("ParseCustomer(%q) = %q, %v; want error %v", tc.in, got, err, tc.wantErr)
				}
				if got != "" {
					t.Errorf("ParseCustomer(%q) = %q on error; want \"\"", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCustomer(%q) error: %v; want %q", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Errorf("ParseCustomer(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
		wantErr  error
	}{
		{name: "canonical", in: goodID, want: goodID},
		{name: "surrounding spaces", in: " " + goodID + "\n", want: goodID},
		{name: "fresh id", in: "0b6c2f7e-3f5c-4c55-9b0a-7d5b0a7ad7a1", want: "0b6c2f7e-3f5c-4c55-9b0a-7d5b0a7ad7a1"},
		{
			name: "upper case", in: strings.ToUpper(goodID), wantErr: order.ErrBadID,
		},
		{
			name: "mixed case", in: "6BA7b810-9dad-11d1-80b4-00c04fd430c8", wantErr: order.ErrBadID,
		},
		{name: "braces", in: "{" + goodID + "}", wantErr: order.ErrBadID},
		{name: "urn", in: "urn:uuid:" + goodID, wantErr: order.ErrBadID},
		{name: "no hyphens", in: strings.ReplaceAll(goodID, "-", ""), wantErr: order.ErrBadID},
		{name: "one digit short", in: goodID[:35], wantErr: order.ErrBadID},
		{name: "one digit long", in: goodID + "0", wantErr: order.ErrBadID},
		{name: "not hex", in: "6ba7b810-9dad-11d1-80b4-00c04fd430cg", wantErr: order.ErrBadID},
		{name: "garbage", in: "not-a-uuid", wantErr: order.ErrBadID},
		{name: "path", in: "../../etc/passwd", wantErr: order.ErrBadID},
		{name: "empty", in: "", wantErr: order.ErrRequired},
		{name: "spaces", in: "   ", wantErr: order.ErrRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := order.ParseID(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("ParseID(%q) = %q, %v; want error %v", tc.in, got, err, tc.wantErr)
				}
				if got != "" {
					t.Errorf("ParseID(%q) = %q on error; want \"\"", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseID(%q) error: %v; want %q", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Errorf("ParseID(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNewIDParses(t *testing.T) {
	a, b := order.NewID(), order.NewID()
	if a == b {
		t.Errorf("NewID() returned %q twice; want distinct ids", a)
	}
	for _, id := range []string{a, b} {
		if got, err := order.ParseID(id); err != nil || got != id {
			t.Errorf("ParseID(NewID() = %q) = %q, %v; want it unchanged", id, got, err)
		}
	}
}

func TestParse(t *testing.T) {
	got, err := order.Parse(" "+goodID, "  Ada Lovelace ", " 95.5 ")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := order.Order{ID: goodID, Customer: "Ada Lovelace", Amount: 9550}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

// fieldErr is a comparable view of an order.FieldError.
type fieldErr struct {
	Field string
	Err   error
}

func TestParseReportsEveryBadField(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		id, customer, amount string
		want                 []fieldErr
		wantMsg              string
	}{
		{
			name: "all three", id: "x", customer: "", amount: "1.234",
			want: []fieldErr{
				{"id", order.ErrBadID},
				{"customer", order.ErrRequired},
				{"amount", money.ErrPlaces},
			},
			wantMsg: "invalid order: id must be a UUID; customer is required; amount must have at most two decimal places",
		},
		{
			name: "id missing, amount too large", id: "", customer: "Ada", amount: "1000000.01",
			want: []fieldErr{
				{"id", order.ErrRequired},
				{"amount", money.ErrTooLarge},
			},
			wantMsg: "invalid order: id is required; amount must be at most 1000000.00",
		},
		{
			name: "customer only", id: goodID, customer: strings.Repeat("é", 101), amount: "1",
			want:    []fieldErr{{"customer", order.ErrTooLong}},
			wantMsg: "invalid order: customer must be at most 100 characters",
		},
		{
			name: "amount only", id: goodID, customer: "Ada", amount: "0",
			want:    []fieldErr{{"amount", money.ErrNotPos}},
			wantMsg: "invalid order: amount must be greater than zero",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := order.Parse(tc.id, tc.customer, tc.amount)
			var verr *order.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse(%q, %q, %q) error = %v; want *order.ValidationError", tc.id, tc.customer, tc.amount, err)
			}
			if diff := cmp.Diff(order.Order{}, o); diff != "" {
				t.Errorf("Parse returned a non-zero order with its error (-want +got):\n%s", diff)
			}
			var got []fieldErr
			for _, f := range verr.Fields {
				got = append(got, fieldErr{f.Field, f.Err})
				if !errors.Is(f, f.Err) {
					t.Errorf("errors.Is(FieldError %q, its Err) = false; want Unwrap to expose it", f.Field)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("ValidationError.Fields (-want +got):\n%s", diff)
			}
			if got := err.Error(); got != tc.wantMsg {
				t.Errorf("Error() = %q; want %q", got, tc.wantMsg)
			}
			for _, w := range tc.want {
				if got := verr.Field(w.Field); !errors.Is(got, w.Err) {
					t.Errorf("Field(%q) = %v; want %v", w.Field, got, w.Err)
				}
			}
			if got := verr.Field("nonexistent"); got != nil {
				t.Errorf("Field(%q) = %v; want nil", "nonexistent", got)
			}
		})
	}
}

func TestValidationErrorFieldOfValidField(t *testing.T) {
	_, err := order.Parse(goodID, "Ada", "abc")
	var verr *order.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse error = %v; want *order.ValidationError", err)
	}
	for _, name := range []string{"id", "customer"} {
		if got := verr.Field(name); got != nil {
			t.Errorf("Field(%q) = %v; want nil for a valid field", name, got)
		}
	}
	if got := verr.Field("amount"); !errors.Is(got, money.ErrSyntax) {
		t.Errorf("Field(%q) = %v; want %v", "amount", got, money.ErrSyntax)
	}
}
