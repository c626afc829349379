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
	ErrNotRandomID  = errors.New("must be a random (version 4) UUID")
)

// NewID returns a fresh order id (a random, version 4 UUID).
func NewID() string { return uuid.NewString() }

// ParseCustomer trims a customer name and checks it is 1–100 printable
// characters. Besides what unicode.IsPrint accepts, a name may hold the
// no-break space and, after a visible character, the zero-width non-joiner
// and joiner that Persian and Indic names (and emoji sequences) need; bidi
// controls and other invisible or format characters are refused,
// so a name cannot reorder or hide the text around it on a page or in a log.
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
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case r == zwnj || r == zwj:
			// A joiner acts on the character before it (a virama, a
			// letter, an emoji), so it must follow a visible one; it may end
			// a word, as in Malayalam's older chillu spelling.
			if i == 0 || !visible(runes[i-1]) {
				return "", ErrNotPrintable
			}
		case r == ' ' || r == nbsp:
		case !visible(r):
			return "", ErrNotPrintable
		}
	}
	return s, nil
}

const (
	nbsp = '\u00a0' // no-break space
	zwnj = '\u200c' // zero width non-joiner
	zwj  = '\u200d' // zero width joiner
)

// visible reports whether r is printable and not one of the blank letters
// and marks that unicode.IsPrint lets through although they show nothing.
func visible(r rune) bool {
	switch r {
	case '\u034f', // combining grapheme joiner
		'\u115f', '\u1160', '\u3164', '\uffa0', // Hangul fillers
		'\u17b4', '\u17b5', // Khmer inherent vowels
		'\u2800': // braille pattern blank
		return false
	}
	return unicode.IsPrint(r) && r != ' '
}

// ParseID checks that s is a UUID in its canonical lower-case form. It reads
// the ids of orders already accepted (the order page, events), which may
// predate the version rule of ParseNewID.
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

// ParseNewID is ParseID for the id of an order being placed, which must also
// be random: version 4, RFC 4122 variant, as NewID makes. The id is the
// address of the order page; refusing the other versions keeps guessable ids
// (a time-based one tells when and where it was made) out of it.
func ParseNewID(s string) (string, error) {
	id, err := ParseID(s)
	if err != nil {
		return "", err
	}
	if u := uuid.MustParse(id); u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		return "", ErrNotRandomID
	}
	return id, nil
}

// Parse builds an order from untrusted text fields, reporting every field that
// is wrong at once. CreatedAt is left for the caller to set.
func Parse(id, customer, amount string) (Order, error) {
	return parse(ParseID, id, customer, amount)
}

// ParseNew is Parse for an order being placed: its id must pass ParseNewID.
func ParseNew(id, customer, amount string) (Order, error) {
	return parse(ParseNewID, id, customer, amount)
}

func parse(parseID func(string) (string, error), id, customer, amount string) (Order, error) {
	var o Order
	var bad []*FieldError
	var err error
	if o.ID, err = parseID(id); err != nil {
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
