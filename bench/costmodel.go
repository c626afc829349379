package main

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The cost model: what a design's AWS requests cost at list prices. Money
// is integer microdollars and the arithmetic exact (big.Rat), rounded half
// up to a microdollar once per line; only ratios between designs are float.
// It prices requests only: Fargate, the load balancer, CloudWatch Logs,
// storage and data transfer are outside it.

// Microdollars is an amount of money in millionths of a US dollar.
type Microdollars int64

// parseUSD reads a decimal dollar amount with at most six decimals
// ("0.625", "0.40", "2") as microdollars.
func parseUSD(s string) (Microdollars, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 6 || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("dollar amount %q: want digits with at most six decimals", s)
	}
	frac += strings.Repeat("0", 6-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 9_000_000_000_000 {
		return 0, fmt.Errorf("dollar amount %q: too large", s)
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return Microdollars(w*1_000_000 + f), nil
}

func mustUSD(s string) Microdollars {
	m, err := parseUSD(s)
	if err != nil {
		panic(err)
	}
	return m
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String writes the amount in dollars, exactly, with at least two decimals:
// "$0.027756", "$2.985", "$0.50".
func (m Microdollars) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", int64(m)%1_000_000), "0")
	frac += strings.Repeat("0", max(2-len(frac), 0))
	return fmt.Sprintf("%s$%d.%s", sign, int64(m)/1_000_000, frac)
}

// Unit is what AWS bills a request in.
type Unit int

const (
	// SNSRequest is one Publish request per started 64 KB of payload.
	// SNS's deliveries to SQS queues cost nothing, and SQS does not bill
	// the messages SNS delivers to it.
	SNSRequest Unit = iota
	// SQSRequest is one standard-queue API request per started 64 KB of
	// payload, whether it returns messages or not.
	SQSRequest
	// WRU is a DynamoDB on-demand write request unit: a standard write of
	// up to 1 KB; a transactional write costs two per KB. A write to a table
	// with a global secondary index costs the index's writes too, and a
	// conditional write whose condition fails still consumes its units.
	WRU
	// RRU is a DynamoDB on-demand read request unit: a strongly consistent
	// read of up to 4 KB; an eventually consistent read costs half of one,
	// a transactional read two.
	RRU
)

func (u Unit) String() string {
	switch u {
	case SNSRequest:
		return "SNS request"
	case SQSRequest:
		return "SQS request"
	case WRU:
		return "WRU"
	case RRU:
		return "RRU"
	}
	return fmt.Sprintf("Unit(%d)", int(u))
}

// Prices are list prices per million billing units, in one region, read
// on one day. Free tiers are ignored: they are per account and month, not
// per order.
type Prices struct {
	Region, Checked string
	PerMillion      map[Unit]Microdollars
}

// usEast1 are the list prices in US East (N. Virginia), checked 2026-11-25
// (see docs/performance.md, "Cost per million orders"): SNS standard-topic Publish
// $0.50 per million requests, deliveries to SQS free; SQS standard queues
// $0.40 per million requests (first 1 million a month free, ignored here);
// DynamoDB on-demand, standard table class, $0.625 per million write and
// $0.125 per million read request units (the prices since the on-demand cut
// of 1 November 2024, half the earlier $1.25 and $0.25).
var usEast1 = Prices{
	Region:  "us-east-1",
	Checked: "2026-11-25",
	PerMillion: map[Unit]Microdollars{
		SNSRequest: mustUSD("0.50"),
		SQSRequest: mustUSD("0.40"),
		WRU:        mustUSD("0.625"),
		RRU:        mustUSD("0.125"),
	},
}

// Milli is a count in thousandths: billing units per request, so that half
// a read unit is exact (500).
type Milli int64

func (m Milli) String() string {
	s := strconv.FormatInt(int64(m)/1000, 10)
	if f := int64(m) % 1000; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", f), "0")
	}
	return s
}

// Line is one kind of request in a design's bill: Requests of them over
// Over orders (or over Over days, for an idle bill), each billed Units of
// Unit.
type Line struct {
	Component    string // publisher, relay, fulfilment, promotion
	Service, API string // "SQS", "ReceiveMessage"
	Requests     int64
	Units        Milli
	Unit         Unit
	Why          string // how Units was arrived at
}

// Bill is a design's requests, counted over Over orders or days.
type Bill struct {
	Lines []Line
	Over  int64
}

// Priced is a bill's cost for some number of orders (or days): each line's
// cost, rounded half up to a microdollar, and their sum.
type Priced struct {
	Lines []Microdollars
	Total Microdollars
}

// Cost prices b for n orders (or days): each line costs
// Requests × Units × price per million units × n ÷ (Over × 1000 × 10⁶),
// computed exactly and rounded half up to a microdollar; the total is the
// sum of the rounded lines, so a table of them adds up.
func (b Bill) Cost(p Prices, n int64) (Priced, error) {
	if b.Over <= 0 {
		return Priced{}, fmt.Errorf("a bill counted over %d orders or days", b.Over)
	}
	if n < 0 {
		return Priced{}, fmt.Errorf("cost for %d orders or days", n)
	}
	out := Priced{Lines: make([]Microdollars, len(b.Lines))}
	var errs []error
	for i, l := range b.Lines {
		price, ok := p.PerMillion[l.Unit]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s %s %s: no price for %s in %s", l.Component, l.Service, l.API, l.Unit, p.Region))
			continue
		case l.Requests < 0 || l.Units < 0 || price < 0:
			errs = append(errs, fmt.Errorf("%s %s %s: negative requests, units or price", l.Component, l.Service, l.API))
			continue
		}
		num := new(big.Int).Mul(big.NewInt(l.Requests), big.NewInt(int64(l.Units)))
		num.Mul(num, big.NewInt(int64(price)))
		num.Mul(num, big.NewInt(n))
		den := new(big.Int).Mul(big.NewInt(b.Over), big.NewInt(1000*1_000_000))
		c, err := roundHalfUp(new(big.Rat).SetFrac(num, den))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s %s: %w", l.Component, l.Service, l.API, err))
			continue
		}
		out.Lines[i] = c
		out.Total += c
	}
	if err := errors.Join(errs...); err != nil {
		return Priced{}, err
	}
	return out, nil
}

// roundHalfUp rounds a non-negative rational to the nearest integer, halves
// up, as microdollars.
func roundHalfUp(r *big.Rat) (Microdollars, error) {
	if r.Sign() < 0 {
		return 0, errors.New("negative amount")
	}
	half := new(big.Rat).Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(half.Num(), half.Denom())
	if !q.IsInt64() {
		return 0, errors.New("amount out of range")
	}
	return Microdollars(q.Int64()), nil
}

// Requests sums the requests of the lines of one service ("" for all).
func (b Bill) Requests(service string) int64 {
	var n int64
	for _, l := range b.Lines {
		if service == "" || l.Service == service {
			n += l.Requests
		}
	}
	return n
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// WriteUnits is what one DynamoDB write of an item of itemBytes costs: a
// WRU per started KB, at least one, twice that for a transactional write.
func WriteUnits(itemBytes int, transactional bool) Milli {
	u := max(ceilDiv(itemBytes, 1024), 1)
	if transactional {
		u *= 2
	}
	return Milli(u * 1000)
}

// Consistency is the kind of a DynamoDB read.
type Consistency int

const (
	Eventual Consistency = iota
	Strong
	Transactional
)

// ReadUnits is what one DynamoDB read of bytes costs: per started 4 KB, at
// least one, half an RRU eventually consistent, one strongly consistent, two
// transactional. A Query is one read of the items it returns, so an empty
// Query costs the minimum, half a unit (an index is read eventually
// consistently).
func ReadUnits(bytes int, c Consistency) Milli {
	blocks := max(ceilDiv(bytes, 4096), 1)
	switch c {
	case Strong:
		return Milli(blocks * 1000)
	case Transactional:
		return Milli(blocks * 2000)
	}
	return Milli(blocks * 500)
}

// Chunks64KB is what an SNS or SQS request carrying payloadBytes costs: one
// request per started 64 KB, at least one.
func Chunks64KB(payloadBytes int) Milli {
	return Milli(max(ceilDiv(payloadBytes, 64*1024), 1) * 1000)
}

// ItemSize is an item's size as DynamoDB bills it: for each attribute the
// UTF-8 length of its name plus its value's size (a string's UTF-8 length,
// a number's 1 byte per two significant digits plus 1, a binary's length,
// a boolean or null 1 byte, a list or map 3 bytes plus 1 per element plus
// the elements, a set the sum of its members).
func ItemSize(item map[string]ddbtypes.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v ddbtypes.AttributeValue) int {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return len(v.Value)
	case *ddbtypes.AttributeValueMemberN:
		return numberSize(v.Value)
	case *ddbtypes.AttributeValueMemberB:
		return len(v.Value)
	case *ddbtypes.AttributeValueMemberBOOL, *ddbtypes.AttributeValueMemberNULL:
		return 1
	case *ddbtypes.AttributeValueMemberSS:
		return sum(v.Value, func(s string) int { return len(s) })
	case *ddbtypes.AttributeValueMemberNS:
		return sum(v.Value, numberSize)
	case *ddbtypes.AttributeValueMemberBS:
		return sum(v.Value, func(b []byte) int { return len(b) })
	case *ddbtypes.AttributeValueMemberL:
		return 3 + sum(v.Value, func(e ddbtypes.AttributeValue) int { return 1 + valueSize(e) })
	case *ddbtypes.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// sum is the total of size over xs.
func sum[T any](xs []T, size func(T) int) int {
	n := 0
	for _, x := range xs {
		n += size(x)
	}
	return n
}

// numberSize is a number's size: 1 byte per two significant digits, plus 1
// (DynamoDB trims leading and trailing zeros).
func numberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	digits := strings.ReplaceAll(mant, ".", "")
	digits = strings.Trim(digits, "0") // leading and trailing zeros are not stored
	n := utf8.RuneCountInString(digits)
	return ceilDiv(max(n, 1), 2) + 1
}
