package checkout_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/order"
)

const testID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

// testConfig is the publisher's by default (cmd/publisher's env tags).
var testConfig = checkout.Config{PublishTimeout: 5 * time.Second, StoreTimeout: 5 * time.Second, Lease: 30 * time.Second,
	RetryBase: 2 * time.Second, RetryMax: time.Minute, Interval: 2 * time.Second, Batch: 25}

// newService is checkout.NewService with no log and no metrics.
func newService(t testing.TB, store checkout.Store, pub checkout.Publisher, now func() time.Time, cfg checkout.Config) *checkout.Service {
	t.Helper()
	svc, err := checkout.NewService(store, pub, now, cfg, discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// callLog is the order in which the fakes were called, across both of them;
// a nil one notes nothing.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(c string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// fakeStore is the one in-memory checkout.Store, with the lease semantics of
// checkoutdb.Store: an unpublished order carries a lease, a published one
// does not; a claim succeeds only on an unpublished order whose lease it
// read; MarkPublished and Reschedule are not conditional on the lease.
type fakeStore struct {
	log       *callLog
	createErr error
	getErr    error
	markErr   error
	resErr    error
	dueErr    error // returned by every DueOrders
	claimErr  error // returned by every Claim

	mu      sync.Mutex
	records map[string]checkout.Record
	// hang names the methods that, like a black-holed DynamoDB, accept the
	// call and answer only when its context ends.
	hang        map[string]bool
	creates     []createCall
	marked      []markCall
	rescheduled []rescheduleCall
	// resDeadlines are the deadlines of the Reschedule contexts.
	resDeadlines []time.Time
	claims       []int // limit of each DueOrders
}

type createCall struct {
	Order      order.Order
	LeaseUntil time.Time
}

type markCall struct {
	ID, MessageID string
	At            time.Time
}

type rescheduleCall struct {
	ID       string
	Attempts int
	Next     time.Time
	CtxErr   error // the context's state when called
}

func newFakeStore(log *callLog, recs ...checkout.Record) *fakeStore {
	s := &fakeStore{log: log, records: map[string]checkout.Record{}, hang: map[string]bool{}}
	for _, r := range recs {
		s.records[r.ID] = r
	}
	return s
}

// orderID is the id of the i-th order of a test.
func orderID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// dueStore holds n orders, orderID(0) to orderID(n-1), placed at now with
// their lease run out a second before.
func dueStore(log *callLog, n int, now time.Time) *fakeStore {
	s := newFakeStore(log)
	for i := range n {
		s.records[orderID(i)] = checkout.Record{Order: order.Order{ID: orderID(i), Customer: "Ada", Amount: 100, CreatedAt: now}, LeaseUntil: now.Add(-time.Second)}
	}
	return s
}

// setHang makes the methods named black-holed, or answer again when on is false.
func (s *fakeStore) setHang(on bool, methods ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range methods {
		s.hang[m] = on
	}
}

// enter notes a call of method and, when it hangs, returns the context's
// error once the context ends.
func (s *fakeStore) enter(ctx context.Context, method string) error {
	s.log.add(method)
	s.mu.Lock()
	hang := s.hang[method]
	s.mu.Unlock()
	if !hang {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *fakeStore) Create(ctx context.Context, o order.Order, leaseUntil time.Time) error {
	if err := s.enter(ctx, "Create"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates = append(s.creates, createCall{o, leaseUntil})
	if s.createErr != nil {
		return s.createErr
	}
	if _, ok := s.records[o.ID]; ok {
		return checkout.ErrExists
	}
	s.records[o.ID] = checkout.Record{Order: o, LeaseUntil: leaseUntil}
	return nil
}

func (s *fakeStore) Get(ctx context.Context, id string) (checkout.Record, error) {
	if err := s.enter(ctx, "Get"); err != nil {
		return checkout.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.getErr != nil {
		return checkout.Record{}, s.getErr
	}
	r, ok := s.records[id]
	if !ok {
		return checkout.Record{}, checkout.ErrNotFound
	}
	return r, nil
}

func (s *fakeStore) MarkPublished(ctx context.Context, id, messageID string, at time.Time) error {
	s.log.add("MarkPublished")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marked = append(s.marked, markCall{id, messageID, at})
	if s.markErr != nil {
		return s.markErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := s.records[id]
	r.Published, r.PublishedAt, r.MessageID, r.LeaseUntil = true, at, messageID, time.Time{}
	s.records[id] = r
	return nil
}

func (s *fakeStore) Reschedule(ctx context.Context, id string, attempts int, next time.Time) error {
	s.log.add("Reschedule")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rescheduled = append(s.rescheduled, rescheduleCall{id, attempts, next, ctx.Err()})
	deadline, _ := ctx.Deadline()
	s.resDeadlines = append(s.resDeadlines, deadline)
	if s.resErr != nil {
		return s.resErr
	}
	if err := ctx.Err(); err != nil { // as the SDK does with a spent context
		return err
	}
	if r := s.records[id]; !r.Published {
		r.Attempts, r.LeaseUntil = attempts, next
		s.records[id] = r
	}
	return nil
}

// DueOrders lists, in id order, up to limit unpublished orders whose lease
// has run out.
func (s *fakeStore) DueOrders(ctx context.Context, now time.Time, limit int) ([]checkout.Due, error) {
	if err := s.enter(ctx, "DueOrders"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = append(s.claims, limit)
	if s.dueErr != nil {
		return nil, s.dueErr
	}
	var due []checkout.Due
	for _, id := range slices.Sorted(maps.Keys(s.records)) {
		if r := s.records[id]; !r.Published && !r.LeaseUntil.After(now) && len(due) < limit {
			due = append(due, checkout.Due{ID: id, LeaseUntil: r.LeaseUntil})
		}
	}
	return due, nil
}

// Claim leases d until now+lease if its lease is still the one read.
func (s *fakeStore) Claim(ctx context.Context, d checkout.Due, now time.Time, lease time.Duration) (checkout.Record, error) {
	if err := s.enter(ctx, "Claim"); err != nil {
		return checkout.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimErr != nil {
		return checkout.Record{}, s.claimErr
	}
	r, ok := s.records[d.ID]
	if !ok || r.Published || !r.LeaseUntil.Equal(d.LeaseUntil) {
		return checkout.Record{}, checkout.ErrNotDue
	}
	r.LeaseUntil = now.Add(lease)
	s.records[d.ID] = r
	return r, nil
}

// fakePublisher records the events it is asked to publish and fails for the
// order ids in failFor (or all, when err is set).
type fakePublisher struct {
	log       *callLog
	err       error
	failFor   map[string]bool
	block     bool // wait for the context to end, like a hung SNS
	published []events.OrderPlaced
	ctxs      []context.Context
	ctxErrs   []error // each context's state when Publish was called
}

func (p *fakePublisher) Publish(ctx context.Context, e events.OrderPlaced) (string, error) {
	p.log.add("Publish")
	p.published = append(p.published, e)
	p.ctxs = append(p.ctxs, ctx)
	p.ctxErrs = append(p.ctxErrs, ctx.Err())
	if p.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if p.err != nil {
		return "", p.err
	}
	if p.failFor[e.Order.ID] {
		return "", errors.New("sns throttled")
	}
	return "sns-" + e.Order.ID, nil
}

// steppingClock returns t0, t0+1s, t0+2s, ... in a zone other than UTC, so a
// test sees that the service stores UTC.
func steppingClock() func() time.Time {
	t := time.Date(2026, 5, 1, 14, 30, 0, 0, time.FixedZone("CEST", 2*60*60))
	return func() time.Time {
		now := t
		t = t.Add(time.Second)
		return now
	}
}

var (
	t0 = time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC) // the first clock reading, in UTC
	t1 = t0.Add(time.Second)
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestNewServiceRefusesInvalidConfig: a field left zero or out of range is
// an error that names it, not a default.
func TestNewServiceRefusesInvalidConfig(t *testing.T) {
	for field, edit := range map[string]func(*checkout.Config){
		"PublishTimeout": func(c *checkout.Config) { c.PublishTimeout = 0 },
		"StoreTimeout":   func(c *checkout.Config) { c.StoreTimeout = 0 },
		"Lease":          func(c *checkout.Config) { c.Lease = c.PublishTimeout },
		"RetryMax":       func(c *checkout.Config) { c.RetryMax = time.Second },
		"Interval":       func(c *checkout.Config) { c.Interval = 0 },
		"Batch":          func(c *checkout.Config) { c.Batch = 0 },
	} {
		c := testConfig
		edit(&c)
		if _, err := checkout.NewService(nil, nil, time.Now, c, discard(), nil); err == nil || !strings.Contains(err.Error(), "checkout.Config."+field+":") {
			t.Errorf("NewService with %s out of range: %v; want an error naming it", field, err)
		}
	}
}

func TestPlace(t *testing.T) {
	input := order.Order{ID: testID, Customer: "Ada Lovelace", Amount: 9550}
	placed := input
	placed.CreatedAt = t0
	lease := t0.Add(testConfig.Lease)
	earlier := checkout.Record{
		Order:       order.Order{ID: testID, Customer: "Ada Lovelace", Amount: 9550, CreatedAt: t0.Add(-time.Hour)},
		Published:   true,
		PublishedAt: t0.Add(-time.Hour + time.Second),
		MessageID:   "sns-earlier",
	}
	unpublished := checkout.Record{Order: earlier.Order, Attempts: 2, LeaseUntil: t0.Add(time.Minute)}
	otherAmount := checkout.Record{Order: order.Order{ID: testID, Customer: "Ada Lovelace", Amount: 9551, CreatedAt: t0.Add(-time.Hour)}}
	otherCustomer := checkout.Record{Order: order.Order{ID: testID, Customer: "Grace Hopper", Amount: 9550, CreatedAt: t0.Add(-time.Hour)}}
	storeDown := errors.New("dynamodb unavailable")
	const msgID = "sns-" + testID

	for _, tc := range []struct {
		name    string
		stored  []checkout.Record
		store   *fakeStore // only its error fields are used
		pubErr  error
		want    checkout.Record
		wantErr error

		wantCalls       []string
		wantPublished   []events.OrderPlaced
		wantMarked      []markCall
		wantRescheduled []rescheduleCall
		wantStored      map[string]checkout.Record
	}{
		{
			name:          "new order is stored, published and marked",
			want:          checkout.Record{Order: placed, Published: true, PublishedAt: t1, MessageID: msgID},
			wantCalls:     []string{"Create", "Publish", "MarkPublished"},
			wantPublished: []events.OrderPlaced{{Order: placed}},
			wantMarked:    []markCall{{testID, msgID, t1}},
			wantStored:    map[string]checkout.Record{testID: {Order: placed, Published: true, PublishedAt: t1, MessageID: msgID}},
		},
		{
			name:            "publish failure is not an error; the order stays in the outbox, rescheduled",
			pubErr:          errors.New("sns throttled"),
			want:            checkout.Record{Order: placed},
			wantCalls:       []string{"Create", "Publish", "Reschedule"},
			wantPublished:   []events.OrderPlaced{{Order: placed}},
			wantRescheduled: []rescheduleCall{{testID, 1, t1.Add(testConfig.RetryBase), nil}},
			wantStored:      map[string]checkout.Record{testID: {Order: placed, Attempts: 1, LeaseUntil: t1.Add(testConfig.RetryBase)}},
		},
		{
			name:            "publish and reschedule failures are not an error; the lease stands",
			store:           &fakeStore{resErr: storeDown},
			pubErr:          errors.New("sns throttled"),
			want:            checkout.Record{Order: placed},
			wantCalls:       []string{"Create", "Publish", "Reschedule"},
			wantPublished:   []events.OrderPlaced{{Order: placed}},
			wantRescheduled: []rescheduleCall{{testID, 1, t1.Add(testConfig.RetryBase), nil}},
			wantStored:      map[string]checkout.Record{testID: {Order: placed, LeaseUntil: lease}},
		},
		{
			name:          "mark failure after a publish is not an error; the lease stands",
			store:         &fakeStore{markErr: storeDown},
			want:          checkout.Record{Order: placed},
			wantCalls:     []string{"Create", "Publish", "MarkPublished"},
			wantPublished: []events.OrderPlaced{{Order: placed}},
			wantMarked:    []markCall{{testID, msgID, t1}},
			wantStored:    map[string]checkout.Record{testID: {Order: placed, LeaseUntil: lease}},
		},
		{
			name:       "duplicate returns the stored order and publishes nothing",
			stored:     []checkout.Record{earlier},
			want:       earlier,
			wantCalls:  []string{"Create", "Get"},
			wantStored: map[string]checkout.Record{testID: earlier},
		},
		{
			name:       "duplicate of an order still in the outbox publishes nothing",
			stored:     []checkout.Record{unpublished},
			want:       unpublished,
			wantCalls:  []string{"Create", "Get"},
			wantStored: map[string]checkout.Record{testID: unpublished},
		},
		{
			name:       "same id with a different amount is a conflict",
			stored:     []checkout.Record{otherAmount},
			wantErr:    checkout.ErrConflict,
			wantCalls:  []string{"Create", "Get"},
			wantStored: map[string]checkout.Record{testID: otherAmount},
		},
		{
			name:       "same id with a different customer is a conflict",
			stored:     []checkout.Record{otherCustomer},
			wantErr:    checkout.ErrConflict,
			wantCalls:  []string{"Create", "Get"},
			wantStored: map[string]checkout.Record{testID: otherCustomer},
		},
		{
			name:       "store error is returned and nothing is published",
			store:      &fakeStore{createErr: storeDown},
			wantErr:    storeDown,
			wantCalls:  []string{"Create"},
			wantStored: map[string]checkout.Record{},
		},
		{
			name:       "duplicate whose read fails is an error and publishes nothing",
			stored:     []checkout.Record{earlier},
			store:      &fakeStore{getErr: storeDown},
			wantErr:    storeDown,
			wantCalls:  []string{"Create", "Get"},
			wantStored: map[string]checkout.Record{testID: earlier},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &callLog{}
			store := newFakeStore(log, tc.stored...)
			if tc.store != nil {
				store.createErr, store.getErr, store.markErr, store.resErr = tc.store.createErr, tc.store.getErr, tc.store.markErr, tc.store.resErr
			}
			pub := &fakePublisher{log: log, err: tc.pubErr}
			svc := newService(t, store, pub, steppingClock(), testConfig)

			got, err := svc.Place(context.Background(), input)

			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Place error = %v; want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Errorf("Place error = %v; want nil", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Place record (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCalls, log.get()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			// Every case stores the order first, under a lease.
			if diff := cmp.Diff([]createCall{{placed, lease}}, store.creates); diff != "" {
				t.Errorf("Create calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPublished, pub.published); diff != "" {
				t.Errorf("published events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMarked, store.marked); diff != "" {
				t.Errorf("MarkPublished calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRescheduled, store.rescheduled); diff != "" {
				t.Errorf("Reschedule calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStored, store.records); diff != "" {
				t.Errorf("stored records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlaceStoresUTC(t *testing.T) {
	log := &callLog{}
	store := newFakeStore(log)
	svc := newService(t, store, &fakePublisher{log: log}, steppingClock(), testConfig)
	rec, err := svc.Place(context.Background(), order.Order{ID: testID, Customer: "Ada", Amount: 1})
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	for name, at := range map[string]time.Time{
		"record CreatedAt":   rec.CreatedAt,
		"record PublishedAt": rec.PublishedAt,
		"stored CreatedAt":   store.records[testID].CreatedAt,
		"lease":              store.creates[0].LeaseUntil,
	} {
		if at.Location() != time.UTC {
			t.Errorf("%s = %v; want it in UTC", name, at)
		}
	}
}

// TestPlacePublishOutlivesRequest checks that a request cancelled (the client
// went away) after its order was stored still publishes the event, within
// PublishTimeout.
func TestPlacePublishOutlivesRequest(t *testing.T) {
	log := &callLog{}
	store := newFakeStore(log)
	pub := &fakePublisher{log: log}
	svc := newService(t, store, pub, steppingClock(), testConfig)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	begin := time.Now()
	rec, err := svc.Place(ctx, order.Order{ID: testID, Customer: "Ada", Amount: 1})
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if len(pub.ctxs) != 1 {
		t.Fatalf("Publish called %d times; want 1", len(pub.ctxs))
	}
	if err := pub.ctxErrs[0]; err != nil {
		t.Errorf("publish context had ended (%v) with the request; want it to outlive the request", err)
	}
	deadline, ok := pub.ctxs[0].Deadline()
	if !ok || deadline.After(begin.Add(testConfig.PublishTimeout+time.Second)) {
		t.Errorf("publish context deadline = %v, %v; want one within PublishTimeout (%v)", deadline, ok, testConfig.PublishTimeout)
	}
	if !rec.Published {
		t.Errorf("record Published = false; want the event published despite the cancelled request")
	}
}

// TestPlaceRescheduleAfterPublishTimeout: when SNS hangs until PublishTimeout,
// the failure must still be recorded with back-off, on a context of its own
// that the spent publish did not use up. It runs on synctest's fake clock,
// so the 20ms budgets are exact however loaded the machine is.
func TestPlaceRescheduleAfterPublishTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &callLog{}
		store := newFakeStore(log)
		pub := &fakePublisher{log: log, block: true}
		c := testConfig
		c.PublishTimeout = 20 * time.Millisecond
		svc := newService(t, store, pub, steppingClock(), c)

		begin := time.Now()
		rec, err := svc.Place(context.Background(), order.Order{ID: testID, Customer: "Ada", Amount: 1})
		if err != nil {
			t.Fatalf("Place error = %v; want nil", err)
		}
		if took := time.Since(begin); took != c.PublishTimeout {
			t.Errorf("Place took %v; want the %v publish timeout", took, c.PublishTimeout)
		}
		if rec.Published {
			t.Errorf("record Published = true; want false after a publish timeout")
		}
		if len(store.rescheduled) != 1 {
			t.Fatalf("Reschedule called %d times; want 1", len(store.rescheduled))
		}
		if err := store.rescheduled[0].CtxErr; err != nil {
			t.Fatalf("Reschedule ran on a spent context (%v): after a publish timeout the failure would never be recorded", err)
		}
		if got, want := store.resDeadlines[0], begin.Add(2*c.PublishTimeout); !got.Equal(want) {
			t.Errorf("Reschedule context deadline = %v; want %v, PublishTimeout after the publish gave up", got, want)
		}
		if got := store.records[testID].Attempts; got != 1 {
			t.Errorf("stored Attempts = %d; want 1", got)
		}
	})
}

// TestPlaceStoreTimeout: under a DynamoDB that never answers, Place gives up
// after StoreTimeout (by default 5s, well inside the server's 30s write
// timeout) with an error, rather than holding the request until the server
// cuts it off, and publishes nothing. On synctest's fake clock the bound is exact.
func TestPlaceStoreTimeout(t *testing.T) {
	earlier := checkout.Record{Order: order.Order{ID: testID, Customer: "Ada", Amount: 1, CreatedAt: t0}}
	for _, tc := range []struct {
		name         string
		storeTimeout time.Duration
		hang         string // the store method that never answers
		stored       []checkout.Record
		want         time.Duration
		wantCalls    []string
	}{
		{name: "create hangs, the publisher's bound", storeTimeout: 5 * time.Second, hang: "Create", want: 5 * time.Second, wantCalls: []string{"Create"}},
		{name: "create hangs", storeTimeout: 50 * time.Millisecond, hang: "Create", want: 50 * time.Millisecond, wantCalls: []string{"Create"}},
		{name: "duplicate's read hangs", storeTimeout: 50 * time.Millisecond, hang: "Get", stored: []checkout.Record{earlier}, want: 50 * time.Millisecond, wantCalls: []string{"Create", "Get"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &callLog{}
				store := newFakeStore(log, tc.stored...)
				store.setHang(true, tc.hang)
				pub := &fakePublisher{log: log}
				c := testConfig
				c.StoreTimeout = tc.storeTimeout
				svc := newService(t, store, pub, steppingClock(), c)

				begin := time.Now()
				_, err := svc.Place(context.Background(), order.Order{ID: testID, Customer: "Ada", Amount: 1})
				if took := time.Since(begin); took != tc.want {
					t.Errorf("Place took %v; want the %v store timeout", took, tc.want)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Place error = %v; want %v", err, context.DeadlineExceeded)
				}
				if diff := cmp.Diff(tc.wantCalls, log.get()); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestGet(t *testing.T) {
	stored := checkout.Record{Order: order.Order{ID: testID, Customer: "Ada", Amount: 1, CreatedAt: t0}, Published: true}
	log := &callLog{}
	svc := newService(t, newFakeStore(log, stored), &fakePublisher{log: log}, steppingClock(), testConfig)

	got, err := svc.Get(context.Background(), testID)
	if err != nil {
		t.Fatalf("Get(%s): %v", testID, err)
	}
	if diff := cmp.Diff(stored, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	const other = "0b6c2f7e-3f5c-4c55-9b0a-7d5b0a7ad7a1"
	if _, err := svc.Get(context.Background(), other); !errors.Is(err, checkout.ErrNotFound) {
		t.Errorf("Get(%s) error = %v; want %v", other, err, checkout.ErrNotFound)
	}
}
