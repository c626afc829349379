package web

import (
	"context"
	"time"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// Journey reads, read-only, what the workers recorded about an order: the
// fulfilment service's and the promotion service's own tables
// (journey.Reader). ok is false while nothing is recorded yet; an error means
// the table could not be read.
type Journey interface {
	Fulfilment(ctx context.Context, orderID string) (f fulfilment.Fulfilment, ok bool, err error)
	Coupon(ctx context.Context, orderID string) (c promotion.Coupon, ok bool, err error)
}

// JourneyTimeout bounds the order page's reads of the workers' tables, both
// at once: a table that does not answer makes its step "unknown" this long
// after the order itself was read, and never holds the page.
const JourneyTimeout = time.Second

// RefreshSeconds is how often the order page reloads itself while a step is
// pending (a meta refresh: no script, which the CSP would refuse).
const RefreshSeconds = 2

// RefreshFor is how long after an order was placed its page keeps reloading
// itself: past it, a step still pending (a worker down for hours) no longer
// has every open tab poll the tables; the page says to reload instead.
const RefreshFor = 10 * time.Minute

// step is one step of an order's journey past publishing: Done (At is when,
// zero if the record's time cannot be read), not yet, or Unknown (its table
// could not be read just now).
type step struct {
	Done, Unknown bool
	At            time.Time
}

// Pending reports whether the step is known not to have happened yet.
func (s step) Pending() bool { return !s.Done && !s.Unknown }

// couponStep is the coupon's step, with the coupon once it is issued.
type couponStep struct {
	step
	Code    string
	Percent int
}

// orderPage is what the order page shows.
type orderPage struct {
	checkout.Record
	Fulfilment step
	// Coupon is nil for an order that earns none (below promotion.Threshold).
	Coupon *couponStep
	// Old is set once the order was placed more than RefreshFor ago.
	Old bool
}

// Refresh reports whether the page should reload itself: while the order is
// unpublished, or a worker's step is known to be pending. A step that could
// not be read does not refresh the page: a table that stays unreadable
// (a missing grant, a deleted table) would otherwise have every open page
// polling it for ever; a reload tries again.
func (p orderPage) Refresh() bool {
	return p.InProgress() && !p.Old
}

// InProgress reports whether a step is still to come (or the order unpublished).
func (p orderPage) InProgress() bool {
	return !p.Published || p.Fulfilment.Pending() || (p.Coupon != nil && p.Coupon.Pending())
}

// RefreshSeconds is the page's refresh interval, for the template.
func (orderPage) RefreshSeconds() int { return RefreshSeconds }

// orderJourney reads the order's fulfilment and coupon at once, within
// JourneyTimeout; a read that fails, or has not answered by then, makes its
// step unknown (the page does not wait for a read that ignores its context).
func (s *Server) orderJourney(ctx context.Context, rec checkout.Record) orderPage {
	page := orderPage{Record: rec, Fulfilment: step{Unknown: true}, Old: s.now().Sub(rec.CreatedAt) > RefreshFor}
	if promotion.Qualifies(rec.Amount) {
		page.Coupon = &couponStep{step: step{Unknown: true}}
	}
	if s.journey == nil {
		return page
	}
	ctx, cancel := context.WithTimeout(ctx, JourneyTimeout)
	defer cancel()
	// Buffered: a read that answers after the page is gone does not block.
	fulfilled, couponed := make(chan step, 1), make(chan couponStep, 1)
	go func() {
		f, ok, err := s.journey.Fulfilment(ctx, rec.ID)
		if err != nil {
			s.log.Warn("read order journey", "order_id", rec.ID, "step", "fulfilment", "error", err)
			fulfilled <- step{Unknown: true}
			return
		}
		fulfilled <- step{Done: ok, At: parseTime(f.FulfilledAt)}
	}()
	waiting := 1
	if page.Coupon != nil {
		waiting++
		go func() {
			c, ok, err := s.journey.Coupon(ctx, rec.ID)
			if err != nil {
				s.log.Warn("read order journey", "order_id", rec.ID, "step", "coupon", "error", err)
				couponed <- couponStep{step: step{Unknown: true}}
				return
			}
			couponed <- couponStep{step: step{Done: ok, At: parseTime(c.IssuedAt)}, Code: c.Code, Percent: c.Percent}
		}()
	}
	for ; waiting > 0; waiting-- {
		select {
		case st := <-fulfilled:
			page.Fulfilment = st
		case c := <-couponed:
			*page.Coupon = c
		case <-ctx.Done():
			s.log.Warn("read order journey", "order_id", rec.ID, "error", "no answer within "+JourneyTimeout.String())
			return page
		}
	}
	return page
}

// parseTime reads a worker's RFC 3339 timestamp; zero if there is none.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
