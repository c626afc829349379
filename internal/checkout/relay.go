package checkout

import (
	"context"
	"errors"
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
)

// The outbox relay: the background loop of every publisher task that
// publishes the orders whose publish failed or was cut short.
//
// Every call it makes has a deadline (StoreTimeout for the store's reads and
// claims, PublishTimeout for a publish and the write after it): the SDK sets
// no read timeout, so a DynamoDB that accepts a connection and never answers
// would otherwise hold the relay, and every order after it, for good. And it
// reports, computed each time the metrics are written, how long ago it last
// completed a poll or claimed an order (OutboxPollAge): a relay that hangs,
// or fails every poll, shows a rising age that an alarm can see, where the
// gauges it sets itself would repeat their last values.

// RunOutbox publishes, until ctx is cancelled, the orders whose publish
// failed or was cut short. Every publisher task runs it; the leases keep two
// tasks from publishing one order at once.
func (s *Service) RunOutbox(ctx context.Context) {
	s.backlog.polled(s.now()) // the age counts from the start until a poll completes
	s.metrics.SetFunc(metrics.OutboxPollAge, metrics.Seconds, func() float64 { return s.backlog.pollAge(s.now()).Seconds() })
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.DrainOutbox(ctx)
	}
}

// DrainOutbox publishes the orders due now, poll by poll, until a poll
// claims nothing: the rest, if any, is another task's. Each order is claimed
// just before its own publish, so its lease (Lease, well above one publish's
// PublishTimeout and the write after it) covers that publish however slow the
// ones before it were; claiming a whole poll up front would let the last
// orders' leases run out while they wait, and another task publish them too.
// A poll is complete when the outbox was read and every order it listed was
// claimed or found taken, whatever the publishes' outcome (a failed publish
// is rescheduled, and the outbox age alarm watches those); each claim
// answered counts too, so a long drain on a slow SNS is not a stalled relay.
func (s *Service) DrainOutbox(ctx context.Context) {
	var now time.Time
	defer func() { s.backlog.report(s.metrics, now) }()
	for ctx.Err() == nil {
		now = s.now().UTC()
		qctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
		due, err := s.store.DueOrders(qctx, now, s.cfg.Batch)
		cancel()
		complete := err == nil
		if err != nil {
			s.log.Error("outbox poll failed", "error", err.Error())
		}
		claimed := 0
		for _, d := range due {
			s.backlog.due(d.ID, now)
			if ctx.Err() != nil {
				return // unclaimed orders stay due for the next task at once
			}
			cctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
			rec, err := s.store.Claim(cctx, d, s.now().UTC(), s.cfg.Lease)
			cancel()
			if errors.Is(err, ErrNotDue) {
				s.backlog.polled(s.now())
				continue // another task claimed or published it first
			}
			if err != nil {
				// DynamoDB is failing: the next poll tries again. A claim
				// that ran out of time may still have been applied: the
				// order's lease then runs out and it is claimed again.
				s.log.Error("outbox claim failed", "order_id", d.ID, "error", err.Error())
				return
			}
			claimed++
			s.backlog.polled(s.now())
			s.backlog.pending(rec.ID, rec.CreatedAt, now)
			rctx, span := relaySpan(ctx, rec)
			s.publish(rctx, &rec)
			span.End()
		}
		if complete {
			s.backlog.polled(s.now())
		}
		if claimed == 0 {
			return
		}
	}
}
