package money_test

import (
	"errors"
	"testing"

	"github.com/pubsub-app/pubsub/internal/money"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want money.Cents
	}{
		{"95", 9500},
		{"95.5", 9550},
		{"95.50", 9550},
		{" 1.00 ", 100},
		{"\t12.34\n", 1234},
		{"0.01", 1},
		{"0.1", 10},
		{"1000000.00", money.Max},
		{"1000000", money.Max},
		{"999999.99", money.Max - 1},
		{"007.10", 710},
		{"00000000001.00", 100}, // leading zeros do not count towards the size limit
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := money.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v; want %d", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %d; want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", money.ErrEmpty},
		{"   ", money.ErrEmpty},
		{"abc", money.ErrSyntax},
		{"1.", money.ErrSyntax},
		{".5", money.ErrSyntax},
		{".", money.ErrSyntax},
		{"-1", money.ErrSyntax},
		{"+1", money.ErrSyntax},
		{"1e3", money.ErrSyntax},
		{"1,000", money.ErrSyntax},
		{"1.2.3", money.ErrSyntax},
		{"1 000", money.ErrSyntax},
		{"1.5a", money.ErrSyntax},
		{"٣", money.ErrSyntax}, // a digit, but not an ASCII one
		{"0x10", money.ErrSyntax},
		{"1.234", money.ErrPlaces},
		{"0.001", money.ErrPlaces},
		{"0", money.ErrNotPos},
		{"0.00", money.ErrNotPos},
		{"000.0", money.ErrNotPos},
		{"1000000.01", money.ErrTooLarge},
		{"9999999.99", money.ErrTooLarge},
		{"10000000", money.ErrTooLarge},
		{"99999999999999999999", money.ErrTooLarge},
		{"99999999999999999999.99", money.ErrTooLarge},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := money.Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse(%q) = %d, %v; want error %v", tc.in, got, err, tc.want)
			}
			if got != 0 {
				t.Errorf("Parse(%q) cents = %d on error; want 0", tc.in, got)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   money.Cents
		want string
	}{
		{0, "0.00"},
		{1, "0.01"},
		{10, "0.10"},
		{100, "1.00"},
		{9550, "95.50"},
		{710, "7.10"},
		{money.Max, "1000000.00"},
		{-1, "-0.01"},
		{-9550, "-95.50"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.in.String(); got != tc.want {
				t.Errorf("Cents(%d).String() = %q; want %q", int64(tc.in), got, tc.want)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    money.Cents
		p    int64
		want money.Cents
	}{
		{"20% of 95.50", 9550, 20, 1910},
		{"20% of 0.03 rounds 0.6 cents up", 3, 20, 1},
		{"20% of 0.02 rounds 0.4 cents down", 2, 20, 0},
		{"50% of 0.01 rounds half up", 1, 50, 1},
		{"20% of 80.00", 8000, 20, 1600},
		{"20% of 80.01 rounds 1600.2 down", 8001, 20, 1600},
		{"20% of 80.03 rounds 1600.6 up", 8003, 20, 1601},
		{"20% of the maximum", money.Max, 20, 200_000_00},
		{"100%", 1234, 100, 1234},
		{"0%", 1234, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Percent(tc.p); got != tc.want {
				t.Errorf("Cents(%d).Percent(%d) = %d (%s); want %d (%s)", int64(tc.c), tc.p, got, got, tc.want, tc.want)
			}
		})
	}
}
