// Package orders places customer orders: it stores each order and publishes
// its OrderPlaced event, so that an accepted order is never lost or doubled.
package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/orderstore"
)

// ErrConflict is returned when an order id is reused for a different order.
var ErrConflict = errors.New("order id already used for a different order")

// Store is where orders are kept.
type Store interface {
	Create(ctx context.Context, o order.Order) error
	Get(ctx context.Context, id string) (orderstore.Record, error)
	MarkPublished(ctx context.Context, id, messageID string, at time.Time) error
}

// Publisher sends OrderPlaced events.
type Publisher interface {
	Publish(ctx context.Context, e events.OrderPlaced) (string, error)
}

// Service places orders.
type Service struct {
	store Store
	pub   Publisher
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns a Service that keeps orders in store and publishes their
// events with pub.
func NewService(store Store, pub Publisher, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: store, pub: pub, log: log, now: now}
}

// Place stores o and publishes its event. Placing the same order again (a
// double click, a refresh, a retried POST) returns the stored order and
// publishes nothing. A publish failure is not an error to the caller: the
// order is stored as not yet published and is published later.
func (s *Service) Place(ctx context.Context, o order.Order) (orderstore.Record, error) {
	o.CreatedAt = s.now().UTC()
	log := s.log.With("order_id", o.ID)
	err := s.store.Create(ctx, o)
	if errors.Is(err, orderstore.ErrExists) {
		rec, err := s.store.Get(ctx, o.ID)
		if err != nil {
			return orderstore.Record{}, err
		}
		if rec.Customer != o.Customer || rec.Amount != o.Amount {
			log.Warn("order id reused for a different order")
			return orderstore.Record{}, fmt.Errorf("order %s: %w", o.ID, ErrConflict)
		}
		log.Info("duplicate submission, order already stored", "published", rec.Published)
		return rec, nil
	}
	if err != nil {
		return orderstore.Record{}, err
	}
	log.Info("order saved", "amount", o.Amount.String())
	rec := orderstore.Record{Order: o}
	if err := s.publish(ctx, &rec); err != nil {
		log.Error("publish failed, order kept for a later publish", "error", err)
	}
	return rec, nil
}

// publish sends rec's event and records that it was sent.
func (s *Service) publish(ctx context.Context, rec *orderstore.Record) error {
	msgID, err := s.pub.Publish(ctx, events.OrderPlaced{Order: rec.Order})
	if err != nil {
		return err
	}
	at := s.now().UTC()
	s.log.Info("order published", "order_id", rec.ID, "sns_message_id", msgID)
	if err := s.store.MarkPublished(ctx, rec.ID, msgID, at); err != nil {
		// The event is out; a later publish of it is a harmless duplicate.
		return err
	}
	rec.Published, rec.PublishedAt, rec.MessageID = true, at, msgID
	return nil
}

// Get returns a stored order or orderstore.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (orderstore.Record, error) {
	return s.store.Get(ctx, id)
}
