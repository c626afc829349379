package order_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// FuzzParseOrder checks order.Parse's contract on arbitrary form fields: an
// accepted order has a canonical id, a trimmed printable customer name of
// 1–100 characters and a valid amount; a rejected one says which fields are
// wrong, each field at most once and in form order.
func FuzzParseOrder(f *testing.F) {
	for _, s := range [][3]string{
		{goodID, "Ada Lovelace", "95.50"},
		{" " + goodID + " ", "  Ada  ", " 1 "},
		{strings.ToUpper(goodID), "Zoë", "0.01"},
		{"", "", ""},
		{"x", "Ada\x00", "1.234"},
		{goodID, strings.Repeat("é", 100), "1000000.00"},
		{goodID, strings.Repeat("é", 101), "1000000.01"},
		{goodID, "Ada\tLovelace", "1e3"},
		{goodID, "Ada\xff", "-1"},
		{goodID, "\u00a0Ada\u00a0", "007.10"},
		{goodID, "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u00a0Ada", "1"},
		{goodID, "Ada\u202eLovelace\u200d", "1"},
		{v1ID, "Ada", "1"},
		{"{" + goodID + "}", "<script>alert(1)</script>", "95"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	formOrder := map[string]int{"id": 0, "customer": 1, "amount": 2}
	f.Fuzz(func(t *testing.T, id, customer, amount string) {
		o, err := order.Parse(id, customer, amount)
		if n, nerr := order.ParseNew(id, customer, amount); nerr == nil {
			// ParseNew only adds the version rule to Parse.
			if err != nil || n != o {
				t.Fatalf("ParseNew(%q, %q, %q) = %+v, accepted; Parse = %+v, %v", id, customer, amount, n, o, err)
			}
			if v := uuid.MustParse(n.ID).Version(); v != 4 {
				t.Fatalf("ParseNew(%q, ...) accepted a version %d id", id, v)
			}
		}
		if err != nil {
			var verr *order.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse(%q, %q, %q) error %v (%T); want *order.ValidationError", id, customer, amount, err, err)
			}
			if len(verr.Fields) == 0 {
				t.Fatalf("Parse(%q, %q, %q) returned a ValidationError with no fields", id, customer, amount)
			}
			last := -1
			for _, fe := range verr.Fields {
				pos, ok := formOrder[fe.Field]
				if !ok || pos <= last {
					t.Fatalf("Parse(%q, %q, %q) fields %v; want a subset of id, customer, amount in that order", id, customer, amount, err)
				}
				last = pos
				if fe.Err == nil {
					t.Fatalf("Parse(%q, %q, %q) field %q has a nil Err", id, customer, amount, fe.Field)
				}
			}
			if o != (order.Order{}) {
				t.Fatalf("Parse(%q, %q, %q) = %+v with an error; want the zero Order", id, customer, amount, o)
			}
			return
		}
		if o.Customer != strings.TrimSpace(o.Customer) {
			t.Errorf("customer %q is not trimmed", o.Customer)
		}
		if o.Customer != strings.TrimSpace(customer) {
			t.Errorf("customer = %q; want the input trimmed, %q", o.Customer, strings.TrimSpace(customer))
		}
		if !utf8.ValidString(o.Customer) {
			t.Errorf("customer %q is not valid UTF-8", o.Customer)
		}
		if n := utf8.RuneCountInString(o.Customer); n < 1 || n > order.MaxCustomerLen {
			t.Errorf("customer %q has %d characters; want 1..%d", o.Customer, n, order.MaxCustomerLen)
		}
		for i, r := range []rune(o.Customer) {
			switch {
			case r == '\u00a0':
			case r == '\u200c' || r == '\u200d':
				if i == 0 {
					t.Errorf("customer %q starts with the joiner %U", o.Customer, r)
				}
			case !unicode.IsPrint(r):
				t.Errorf("customer %q contains the unprintable %U", o.Customer, r)
			}
		}
		if again, err := order.ParseID(o.ID); err != nil || again != o.ID {
			t.Errorf("id %q does not re-parse to itself: %q, %v", o.ID, again, err)
		}
		if o.Amount <= 0 || o.Amount > money.Max {
			t.Errorf("amount = %d; want 0 < cents <= %d", o.Amount, money.Max)
		}
		if !o.CreatedAt.IsZero() {
			t.Errorf("CreatedAt = %v; want it left zero for the caller", o.CreatedAt)
		}
	})
}
