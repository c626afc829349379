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

// goodID is a version 4 (random) UUID, as order.NewID makes; v1ID is a
// time-based one.
const (
	goodID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
	v1ID   = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
)

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
		{name: "zero width non-joiner (Persian)", in: "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647", want: "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647"},
		{name: "zero width joiner ending a word (Malayalam chillu)", in: "\u0d05\u0d35\u0d28\u0d4d\u200d", want: "\u0d05\u0d35\u0d28\u0d4d\u200d"},
		{name: "zero width joiner (Hindi)", in: "\u0915\u094d\u200d\u0937", want: "\u0915\u094d\u200d\u0937"},
		{name: "zero width joiner (emoji)", in: "Ada \U0001F469\u200d\U0001F4BB", want: "Ada \U0001F469\u200d\U0001F4BB"},
		{name: "no-break space", in: "Jean\u00a0de\u00a0La Fontaine", want: "Jean\u00a0de\u00a0La Fontaine"},
		{name: "no-break space trimmed", in: "\u00a0Ada\u00a0", want: "Ada"},
		{name: "only no-break spaces", in: "\u00a0\u00a0", wantErr: order.ErrRequired},
		{name: "joiner first", in: "\u200dAda", wantErr: order.ErrNotPrintable},
		{name: "joiner after a space", in: "Ada \u200dLovelace", wantErr: order.ErrNotPrintable},
		{name: "two joiners", in: "Ada\u200d\u200dLovelace", wantErr: order.ErrNotPrintable},
		{name: "only a joiner", in: "\u200d", wantErr: order.ErrNotPrintable},
		{name: "left-to-right embedding", in: "Ada\u202aLovelace", wantErr: order.ErrNotPrintable},
		{name: "right-to-left override", in: "Ada\u202eLovelace", wantErr: order.ErrNotPrintable},
		{name: "pop directional formatting", in: "Ada\u202cLovelace", wantErr: order.ErrNotPrintable},
		{name: "left-to-right isolate", in: "Ada\u2066Lovelace", wantErr: order.ErrNotPrintable},
		{name: "pop directional isolate", in: "Ada\u2069Lovelace", wantErr: order.ErrNotPrintable},
		{name: "left-to-right mark", in: "Ada\u200eLovelace", wantErr: order.ErrNotPrintable},
		{name: "right-to-left mark", in: "Ada\u200fLovelace", wantErr: order.ErrNotPrintable},
		{name: "arabic letter mark", in: "Ada\u061cLovelace", wantErr: order.ErrNotPrintable},
		{name: "zero width space", in: "Ada\u200bLovelace", wantErr: order.ErrNotPrintable},
		{name: "word joiner", in: "Ada\u2060Lovelace", wantErr: order.ErrNotPrintable},
		{name: "byte order mark", in: "Ada\ufeffLovelace", wantErr: order.ErrNotPrintable},
		{name: "soft hyphen", in: "Ada\u00adLovelace", wantErr: order.ErrNotPrintable},
		{name: "tag character", in: "Ada\U000E0041", wantErr: order.ErrNotPrintable},
		{name: "Hangul filler", in: "Ada\u3164", wantErr: order.ErrNotPrintable},
		{name: "halfwidth Hangul filler", in: "\uffa0", wantErr: order.ErrNotPrintable},
		{name: "braille blank", in: "Ada\u2800Lovelace", wantErr: order.ErrNotPrintable},
		{name: "combining grapheme joiner", in: "Ada\u034fLovelace", wantErr: order.ErrNotPrintable},
		{name: "em space", in: "Ada\u2003Lovelace", wantErr: order.ErrNotPrintable},
		{name: "line separator", in: "Ada\u2028Lovelace", wantErr: order.ErrNotPrintable},
		{name: "private use", in: "Ada\ue000", wantErr: order.ErrNotPrintable},
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
			name: "mixed case", in: "F47AC10b-58cc-4372-a567-0e02b2c3d479", wantErr: order.ErrBadID,
		},
		{name: "braces", in: "{" + goodID + "}", wantErr: order.ErrBadID},
		{name: "urn", in: "urn:uuid:" + goodID, wantErr: order.ErrBadID},
		{name: "no hyphens", in: strings.ReplaceAll(goodID, "-", ""), wantErr: order.ErrBadID},
		{name: "one digit short", in: goodID[:35], wantErr: order.ErrBadID},
		{name: "one digit long", in: goodID + "0", wantErr: order.ErrBadID},
		{name: "not hex", in: "f47ac10b-58cc-4372-a567-0e02b2c3d47g", wantErr: order.ErrBadID},
		{name: "garbage", in: "not-a-uuid", wantErr: order.ErrBadID},
		{name: "version 1, accepted ids may predate ParseNewID", in: v1ID, want: v1ID},
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

func TestParseNewID(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		wantErr  error
	}{
		{name: "version 4", in: goodID},
		{name: "version 4, surrounding spaces", in: " " + goodID + "\n"},
		{name: "not a uuid", in: "not-a-uuid", wantErr: order.ErrBadID},
		{name: "upper case", in: strings.ToUpper(goodID), wantErr: order.ErrBadID},
		{name: "empty", in: "", wantErr: order.ErrRequired},
		{name: "nil uuid", in: "00000000-0000-0000-0000-000000000000", wantErr: order.ErrNotRandomID},
		{name: "version 1 (time-based)", in: v1ID, wantErr: order.ErrNotRandomID},
		{name: "version 3", in: "6fa459ea-ee8a-3ca4-894e-db77e160355e", wantErr: order.ErrNotRandomID},
		{name: "version 5", in: "886313e1-3b8a-5372-9b90-0c9aee199e5d", wantErr: order.ErrNotRandomID},
		{name: "version 7", in: "01890a5d-ac96-774b-bcce-b302099a8057", wantErr: order.ErrNotRandomID},
		{name: "version 4, NCS variant", in: "f47ac10b-58cc-4372-0567-0e02b2c3d479", wantErr: order.ErrNotRandomID},
		{name: "version 4, Microsoft variant", in: "f47ac10b-58cc-4372-c567-0e02b2c3d479", wantErr: order.ErrNotRandomID},
		{name: "version 4, future variant", in: "f47ac10b-58cc-4372-e567-0e02b2c3d479", wantErr: order.ErrNotRandomID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := order.ParseNewID(tc.in)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("ParseNewID(%q) = %q, %v; want error %v", tc.in, got, err, tc.wantErr)
			}
			if want := strings.TrimSpace(tc.in); err == nil && got != want {
				t.Errorf("ParseNewID(%q) = %q; want %q", tc.in, got, want)
			}
			if err != nil && got != "" {
				t.Errorf("ParseNewID(%q) = %q on error; want \"\"", tc.in, got)
			}
		})
	}
}

func TestParseNew(t *testing.T) {
	if _, err := order.ParseNew(goodID, "Ada", "1"); err != nil {
		t.Errorf("ParseNew(version 4 id) error: %v; want nil", err)
	}
	_, err := order.ParseNew(v1ID, "Ada", "1")
	var verr *order.ValidationError
	if !errors.As(err, &verr) || !errors.Is(verr.Field("id"), order.ErrNotRandomID) {
		t.Errorf("ParseNew(version 1 id) error = %v; want id %v", err, order.ErrNotRandomID)
	}
}

func TestNewIDParses(t *testing.T) {
	a, b := order.NewID(), order.NewID()
	if a == b {
		t.Errorf("NewID() returned %q twice; want distinct ids", a)
	}
	for _, id := range []string{a, b} {
		if got, err := order.ParseNewID(id); err != nil || got != id {
			t.Errorf("ParseNewID(NewID() = %q) = %q, %v; want it unchanged", id, got, err)
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
