package money_test

import (
	"errors"
	"testing"

	"github.com/pubsub-app/pubsub/internal/money"
)

// FuzzParse checks that whatever Parse accepts is a positive amount no larger
// than Max that formats to a string Parse reads back unchanged, and that
// whatever it rejects is rejected with one of its sentinel errors.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"95", "95.5", "95.50", " 1.00 ", "0.01", "1000000.00", "007.10",
		"", "abc", "1.", ".5", "-1", "1e3", "1.234", "0", "0.00",
		"1000000.01", "99999999999999999999", "1,000", "\t5\n", "00000000000000000001.5",
		"9223372036854775807", "0.-1", "1.+2", "\u00a01.00\u00a0", "١٢", "1.2\x00",
	} {
		f.Add(s)
	}
	sentinels := []error{money.ErrEmpty, money.ErrSyntax, money.ErrPlaces, money.ErrNotPos, money.ErrTooLarge}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := money.Parse(s)
		if err != nil {
			if c != 0 {
				t.Errorf("Parse(%q) = %d with error %v; want 0", s, c, err)
			}
			for _, want := range sentinels {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Parse(%q) error %v; want one of the sentinel errors", s, err)
		}
		if c <= 0 || c > money.Max {
			t.Fatalf("Parse(%q) = %d; want 0 < cents <= %d", s, c, money.Max)
		}
		again, err := money.Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %d, but Parse(%q) failed: %v", s, c, c.String(), err)
		}
		if again != c {
			t.Fatalf("Parse(%q) = %d, but Parse(%q) = %d", s, c, c.String(), again)
		}
	})
}
