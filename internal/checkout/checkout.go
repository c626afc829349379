// Package checkout places customer orders: it stores each order and publishes
// its OrderPlaced event, so that an accepted order is never lost or doubled.
//
// The order table doubles as an outbox. An order is stored in the outbox,
// leased to the request that placed it; that request publishes the event and
// takes the order out. If the publish fails, or the process dies, the lease
// runs out and the background loop (RunOutbox) of any publisher task claims
// the order and publishes it, with growing back-off between failures.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pubsub-app/pubsub/internal/backoff"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// Errors of placing and reading orders; a Store returns ErrExists and
// ErrNotFound.
var (
	// ErrConflict is returned when an order id is reused for a different order.
	ErrConflict = errors.New("order id already used for a different order")
	ErrExists   = errors.New("order exists")
	ErrNotFound = errors.New("order not found")
	// ErrNotDue is returned by Store.Claim when the order is no longer due:
	// another task claimed or published it since it was read.
	ErrNotDue = errors.New("order no longer due")
)

// Due is an order the outbox showed due: unpublished, its lease run out.
type Due struct {
	ID string
	// LeaseUntil is the lease that was read; a claim succeeds only while the
	// stored lease is still this one.
	LeaseUntil time.Time
}

// Record is a stored order and the state of its event.
type Record struct {
	order.Order
	Published   bool
	PublishedAt time.Time
	MessageID   string // the SNS message id, once published
	// Attempts counts failed publishes; LeaseUntil is when the event may next
	// be published by whichever publisher task claims it first.
	Attempts   int
	LeaseUntil time.Time
	// TraceContext is the trace the order was placed in, as the
	// propagator wrote it (empty with tracing off), so that an event the
	// outbox publishes later still joins that trace.
	TraceContext map[string]string
}

// Store is where orders are kept (checkoutdb keeps them in DynamoDB).
type Store interface {
	Create(ctx context.Context, o order.Order, leaseUntil time.Time) error
	Get(ctx context.Context, id string) (Record, error)
	MarkPublished(ctx context.Context, id, messageID string, at time.Time) error
	Reschedule(ctx context.Context, id string, attempts int, next time.Time) error
	// DueOrders reads the unpublished orders whose lease has run out by now,
	// up to limit from each part of the outbox, without claiming them; with
	// an error it returns what it could read.
	DueOrders(ctx context.Context, now time.Time, limit int) ([]Due, error)
	// Claim leases a due order to the caller until now+lease, or returns
	// ErrNotDue when its lease is no longer the one read.
	Claim(ctx context.Context, d Due, now time.Time, lease time.Duration) (Record, error)
}

// Publisher sends OrderPlaced events.
type Publisher interface {
	Publish(ctx context.Context, e events.OrderPlaced) (string, error)
}

// Config tunes placing and publishing. Every field is required: the
// publisher takes the values, defaults included, from its environment
// (cmd/publisher).
type Config struct {
	// PublishTimeout bounds one publish, so a request does not hang on a
	// broken SNS.
	PublishTimeout time.Duration
	// StoreTimeout bounds each store call of Place and of the relay, so a
	// request does not hang on a broken DynamoDB: with the publish after it,
	// a request stays well inside the server's write timeout (30s).
	StoreTimeout time.Duration
	// Lease is how long a claimed order is reserved for the task publishing
	// it; it must exceed PublishTimeout.
	Lease time.Duration
	// RetryBase and RetryMax bound the back-off between failed publishes of
	// one order: RetryBase × 2^(failures-1), at most RetryMax.
	RetryBase, RetryMax time.Duration
	// Interval is how often the outbox is polled; Batch is how many due
	// orders one poll reads from each part (shard) of the outbox. Each is
	// claimed only just before it is published.
	Interval time.Duration
	Batch    int
}

// validate refuses a configuration the service cannot run on, naming the
// field; the publisher checks the same values first, naming its variables.
func (c Config) validate() error {
	var errs []error
	check := func(ok bool, field, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("checkout.Config.%s: want %s", field, want))
		}
	}
	check(c.PublishTimeout > 0, "PublishTimeout", "a positive duration")
	check(c.StoreTimeout > 0, "StoreTimeout", "a positive duration")
	check(c.Lease > c.PublishTimeout, "Lease", "longer than PublishTimeout, or a publish still running could see its order claimed again")
	check(c.RetryBase > 0 && c.RetryMax >= c.RetryBase, "RetryMax", "at least RetryBase, and RetryBase positive")
	check(c.Interval > 0, "Interval", "a positive duration")
	check(c.Batch > 0, "Batch", "a positive number")
	return errors.Join(errs...)
}

// Service places orders.
type Service struct {
	store   Store
	pub     Publisher
	now     func() time.Time
	cfg     Config
	log     *slog.Logger
	metrics *metrics.Recorder
	backlog *backlog
}

// NewService returns a Service that keeps orders in store and publishes their
// events with pub, or an error naming what cfg lacks. It counts orders placed
// and published and failed publishes on rec, and its outbox relay reports the
// orders pending, the age of the oldest and of its last poll (nil records
// nothing).
func NewService(store Store, pub Publisher, now func() time.Time, cfg Config, log *slog.Logger, rec *metrics.Recorder) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, pub: pub, now: now, cfg: cfg, log: log, metrics: rec, backlog: newBacklog(cfg)}, nil
}

// Place stores o and publishes its event. Placing the same order again (a
// double click, a refresh, a retried POST) returns the stored order and
// publishes nothing. A publish failure is not an error to the caller: the
// order stays in the outbox and is published later.
func (s *Service) Place(ctx context.Context, o order.Order) (Record, error) {
	now := s.now().UTC()
	o.CreatedAt = now
	log := s.log.With("order_id", o.ID)
	if id := tracing.TraceID(ctx); id != "" {
		log = log.With("trace_id", id) // where to find the order in X-Ray
	}
	// A store call that runs out of time may still have been applied: the
	// caller must not tell the customer the order was not placed.
	cctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	err := s.store.Create(cctx, o, now.Add(s.cfg.Lease))
	cancel()
	if errors.Is(err, ErrExists) {
		gctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
		defer cancel()
		rec, err := s.store.Get(gctx, o.ID)
		if err != nil {
			return Record{}, fmt.Errorf("read order %s: %w", o.ID, err)
		}
		if rec.Customer != o.Customer || rec.Amount != o.Amount {
			log.Warn("order id reused for a different order")
			return Record{}, fmt.Errorf("order %s: %w", o.ID, ErrConflict)
		}
		log.Info("duplicate submission, order already stored", "published", rec.Published)
		return rec, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("store order %s: %w", o.ID, err)
	}
	log.Info("order saved", "amount", o.Amount.String())
	s.metrics.Add(metrics.OrdersPlaced, 1)
	rec := Record{Order: o}
	s.publish(ctx, &rec)
	return rec, nil
}

// publish sends rec's event and records the result: published, or
// rescheduled with back-off. Failures are logged, not returned: the order is
// safe in the outbox either way.
func (s *Service) publish(ctx context.Context, rec *Record) {
	log := s.log.With("order_id", rec.ID)
	if id := tracing.TraceID(ctx); id != "" {
		log = log.With("trace_id", id)
	}
	// The request may end (the client goes away) while the event is sent;
	// the publish still gets its own bounded time.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PublishTimeout)
	defer cancel()
	msgID, err := s.pub.Publish(pctx, events.OrderPlaced{Order: rec.Order})
	// The bookkeeping write gets its own time: a publish that used up its
	// timeout must still be recorded.
	bctx, cancelBook := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PublishTimeout)
	defer cancelBook()
	if err != nil {
		s.metrics.Add(metrics.PublishFailures, 1)
		attempts := rec.Attempts + 1
		now := s.now()
		s.backlog.pending(rec.ID, rec.CreatedAt, now)
		next := now.Add(backoff.Delay(s.cfg.RetryBase, s.cfg.RetryMax, attempts))
		log.Error("publish failed, order kept in the outbox", "error", err.Error(), "attempts", attempts, "next_attempt", next.UTC().Format(time.RFC3339))
		if err := s.store.Reschedule(bctx, rec.ID, attempts, next); err != nil {
			// The lease runs out on its own; the order is retried then.
			log.Error("reschedule failed", "error", err.Error())
		}
		return
	}
	s.metrics.Add(metrics.OrdersPublished, 1)
	s.backlog.published(rec.ID)
	at := s.now().UTC()
	if err := s.store.MarkPublished(bctx, rec.ID, msgID, at); err != nil {
		// The event is out; when the lease runs out it is published again,
		// a duplicate the idempotent consumers absorb.
		log.Error("order published but not marked", "sns_message_id", msgID, "error", err.Error())
		return
	}
	log.Info("order published", "sns_message_id", msgID, "attempts", rec.Attempts+1)
	rec.Published, rec.PublishedAt, rec.MessageID = true, at, msgID
}

// Get returns a stored order or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Record, error) {
	return s.store.Get(ctx, id)
}
