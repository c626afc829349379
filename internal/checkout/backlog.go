package checkout

import (
	"sync"
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
)

// backlog is what this task knows of the outbox: the orders whose publish
// failed or that the relay found due, with when each was placed and last
// seen due. It gives the OutboxPending and OutboxOldestAge gauges without a
// query of their own: a pending order comes due again at least every
// RetryMax (its back-off's cap), so the relay sees it; one another task
// published is not seen again and is forgotten after forgetAfter.
type backlog struct {
	mu          sync.Mutex
	orders      map[string]pendingOrder
	forgetAfter time.Duration
	lastPoll    time.Time // when the relay last completed a poll
}

type pendingOrder struct{ placed, seen time.Time }

func newBacklog(c Config) *backlog {
	return &backlog{orders: map[string]pendingOrder{}, forgetAfter: 2*(c.RetryMax+c.Interval) + c.Lease}
}

// pending notes an order known to be unpublished at now.
func (b *backlog) pending(id string, placed, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.orders[id] = pendingOrder{placed: placed, seen: now}
}

// due notes that the outbox listed id as due at now, if it is known.
func (b *backlog) due(id string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.orders[id]; ok {
		p.seen = now
		b.orders[id] = p
	}
}

// published forgets id.
func (b *backlog) published(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.orders, id)
}

// polled notes that the relay completed a poll of the outbox at now.
func (b *backlog) polled(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastPoll = now
}

// pollAge is how long before now the relay last completed a poll.
func (b *backlog) pollAge(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(now.Sub(b.lastPoll), 0)
}

// report forgets what was not seen lately and sets the gauges: how many
// orders are pending and how long ago the oldest was placed (0 for none).
func (b *backlog) report(m *metrics.Recorder, now time.Time) (n int, oldest time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, p := range b.orders {
		if now.Sub(p.seen) > b.forgetAfter {
			delete(b.orders, id)
			continue
		}
		oldest = max(oldest, now.Sub(p.placed))
	}
	n = len(b.orders)
	m.Set(metrics.OutboxPending, metrics.Count, float64(n))
	m.Set(metrics.OutboxOldestAge, metrics.Seconds, oldest.Seconds())
	return n, oldest
}
