// Package order defines an order as the publisher accepts it and the rules an
// order must satisfy, shared by the form, the event decoder and the workers.
package order

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pubsub-app/pubsub/internal/money"
)

// MaxCustomerLen is the longest customer name accepted, in characters.
const MaxCustomerLen = 100

// Order is one customer order. Amount is held in integer cents.
type Order struct {
	ID        string
	Customer  string
	Amount    money.Cents
	CreatedAt time.Time
}

// FieldError says which field of an order is wrong and why.
type FieldError struct {
	Field string // "id", "customer" or "amount"
	Err   error
}

func (e *FieldError) Error() string { return e.Field + " " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// ValidationError lists every field that is wrong, in form order.
type ValidationError struct{ Fields []*FieldError }

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "invalid order: " + strings.Join(msgs, "; ")
}

// Field returns the problem with the named field, or nil.
func (e *ValidationError) Field(name string) error {
	for _, f := range e.Fields {
		if f.Field == name {
			return f.Err
		}
	}
	return nil
}

// Errors about customer names and ids.
var (
	ErrRequired     = errors.New("is required")
	ErrTooLong      = fmt.Errorf("must be at most %d characters", MaxCustomerLen)
	ErrNotPrintable = errors.New("must contain only printable characters")
	ErrBadID        = errors.New("must be a UUID")
)

// NewID returns a fresh order id (a random UUID).
func NewID() string { return uuid.NewString() }

// ParseCustomer trims a customer name and checks it is 1–100 printable characters.
func ParseCustomer(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", ErrRequired
	case !utf8.ValidString(s):
		return "", ErrNotPrintable
	case utf8.RuneCountInString(s) > MaxCustomerLen:
		return "", ErrTooLong
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", ErrNotPrintable
		}
	}
	return s, nil
}

// ParseID checks that s is a UUID in its canonical lower-case form.
func ParseID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrRequired
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return "", ErrBadID
	}
	return u.String(), nil
}

// Parse builds an order from untrusted text fields, reporting every field that
// is wrong at once. CreatedAt is left for the caller to set.
func Parse(id, customer, amount string) (Order, error) {
	var o Order
	var bad []*FieldError
	var err error
	if o.ID, err = ParseID(id); err != nil {
		bad = append(bad, &FieldError{"id", err})
	}
	if o.Customer, err = ParseCustomer(customer); err != nil {
		bad = append(bad, &FieldError{"customer", err})
	}
	if o.Amount, err = money.Parse(amount); err != nil {
		bad = append(bad, &FieldError{"amount", err})
	}
	if bad != nil {
		return Order{}, &ValidationError{Fields: bad}
	}
	return o, nil
}
