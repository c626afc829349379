// Package money holds amounts of money as integer cents and converts them to
// and from the decimal strings used on forms, on the wire and in DynamoDB.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cents is an amount of money in hundredths of the currency unit. It is never
// converted through a float.
type Cents int64

// Max is the largest order total the system accepts: 1,000,000.00.
const Max Cents = 1_000_000_00

// Errors returned by Parse; each says what is wrong in words a form can show.
var (
	ErrEmpty    = errors.New("is required")
	ErrSyntax   = errors.New("must be a number like 95 or 95.50")
	ErrPlaces   = errors.New("must have at most two decimal places")
	ErrNotPos   = errors.New("must be greater than zero")
	ErrTooLarge = errors.New("must be at most 1000000.00")
)

// Parse reads a positive decimal amount with at most two decimal places and at
// most Max, such as "95", "95.5" or "95.50". Surrounding spaces are ignored.
func Parse(s string) (Cents, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || (hasDot && !digits(frac)) || (hasDot && frac == "") {
		return 0, ErrSyntax
	}
	if len(frac) > 2 {
		return 0, ErrPlaces
	}
	// Leading zeros aside, more than 7 integer digits is always above Max;
	// checking the length first keeps ParseInt from overflowing.
	trimmed := strings.TrimLeft(whole, "0")
	if len(trimmed) > 7 {
		return 0, ErrTooLarge
	}
	units := int64(0)
	if trimmed != "" {
		u, err := strconv.ParseInt(trimmed, 10, 64)
		if err != nil {
			return 0, ErrSyntax
		}
		units = u
	}
	for len(frac) < 2 {
		frac += "0"
	}
	hundredths, _ := strconv.ParseInt(frac, 10, 64) // two digits, checked above
	c := Cents(units*100 + hundredths)
	switch {
	case c <= 0:
		return 0, ErrNotPos
	case c > Max:
		return 0, ErrTooLarge
	}
	return c, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String formats c with exactly two decimal places: 9550 is "95.50".
func (c Cents) String() string {
	sign := ""
	v := int64(c)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// Percent returns p percent of c, rounded half up to the nearest cent.
func (c Cents) Percent(p int64) Cents {
	return Cents((int64(c)*p + 50) / 100)
}
