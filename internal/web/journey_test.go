package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/web"
)

const refreshTag = `<meta http-equiv="refresh" content="2">`

// fakeJourney is an in-memory web.Journey: the records the workers wrote,
// by order id, and an error per table.
type fakeJourney struct {
	mu            sync.Mutex
	fulfilments   map[string]fulfilment.Fulfilment
	coupons       map[string]promotion.Coupon
	fulfilmentErr error
	couponErr     error
	// read, when set, runs first in every call (to block, or to look at ctx).
	read       func(ctx context.Context, table string) error
	tablesRead []string
}

func newFakeJourney() *fakeJourney {
	return &fakeJourney{fulfilments: map[string]fulfilment.Fulfilment{}, coupons: map[string]promotion.Coupon{}}
}

func (f *fakeJourney) Fulfilment(ctx context.Context, id string) (fulfilment.Fulfilment, bool, error) {
	if err := f.called(ctx, "fulfilments"); err != nil {
		return fulfilment.Fulfilment{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fulfilmentErr != nil {
		return fulfilment.Fulfilment{}, false, f.fulfilmentErr
	}
	r, ok := f.fulfilments[id]
	return r, ok, nil
}

func (f *fakeJourney) Coupon(ctx context.Context, id string) (promotion.Coupon, bool, error) {
	if err := f.called(ctx, "coupons"); err != nil {
		return promotion.Coupon{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.couponErr != nil {
		return promotion.Coupon{}, false, f.couponErr
	}
	r, ok := f.coupons[id]
	return r, ok, nil
}

func (f *fakeJourney) called(ctx context.Context, table string) error {
	f.mu.Lock()
	f.tablesRead = append(f.tablesRead, table)
	read := f.read
	f.mu.Unlock()
	if read != nil {
		return read(ctx, table)
	}
	return nil
}

func (f *fakeJourney) reads(table string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.tablesRead {
		if t == table {
			n++
		}
	}
	return n
}

func (f *fakeJourney) fulfil(id string, at time.Time) {
	f.fulfilments[id] = fulfilment.Fulfilment{OrderID: id, Customer: "Ada Lovelace", FulfilledAt: at.Format(time.RFC3339Nano)}
}

func (f *fakeJourney) issue(id, code string, at time.Time) {
	f.coupons[id] = promotion.Coupon{OrderID: id, Code: code, Percent: promotion.DiscountPercent, IssuedAt: at.Format(time.RFC3339Nano)}
}

// journeyServer serves the order page 5s after the order was placed.
func journeyServer(o web.Orders, j web.Journey) *web.Server {
	return journeyServerAt(o, j, 5*time.Second)
}

// journeyServerAt serves the order page age after the order was placed.
func journeyServerAt(o web.Orders, j web.Journey, age time.Duration) *web.Server {
	now := func() time.Time { return placedAt.Add(age) }
	return web.NewServer(o, fakePinger{}, j, sample, now, discard, nil)
}

func record(amount money.Cents, published bool) checkout.Record {
	r := checkout.Record{Order: order.Order{ID: testID, Customer: "Ada Lovelace", Amount: amount, CreatedAt: placedAt}}
	if published {
		r.Published, r.PublishedAt = true, placedAt.Add(time.Second)
	}
	return r
}

// getOrder serves the order page of testID, which must answer 200 and stay
// out of every cache.
func getOrder(t *testing.T, srv http.Handler) response {
	t.Helper()
	res := serve(t, srv, httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil))
	if res.Status != http.StatusOK {
		t.Fatalf("GET /orders/%s status = %d; want 200:\n%s", testID, res.Status, res.Body)
	}
	if got, want := res.Header.Get("Cache-Control"), "no-store, private"; got != want {
		t.Errorf("Cache-Control = %q; want %q", got, want)
	}
	return res
}

func wantIn(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %s:\n%s", w, body)
		}
	}
}

func wantNotIn(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(body, u) {
			t.Errorf("page has %s:\n%s", u, body)
		}
	}
}

// TestOrderJourneyPending: while a step is pending the page reloads itself
// with a meta refresh, in the head, and says so; no script is involved, so
// the CSP needs no script-src.
func TestOrderJourneyPending(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rec     checkout.Record
		fulfil  bool
		want    []string
		wantNot []string
	}{
		{"unpublished", record(95_00, false), false,
			[]string{`<span class="badge wait">Being processed</span>`, `<dd id="order-fulfilment"><span class="badge wait">Waiting</span>`, `<dd id="order-coupon"><span class="badge wait">Being issued</span>`}, nil},
		{"published, not fulfilled", record(95_00, true), false,
			[]string{`<span class="badge ok">Published</span>`, `<span class="badge wait">Waiting</span>`, `Being issued`}, nil},
		{"fulfilled, coupon not issued yet", record(80_00, true), true,
			[]string{`<span class="badge ok">Fulfilled</span> at <time datetime="2026-05-01T12:30:02Z">12:30:02 UTC</time>`, `Being issued`}, []string{"Waiting"}},
		{"small order published, not fulfilled", record(20_00, true), false,
			[]string{`<span class="badge wait">Waiting</span>`}, []string{"order-coupon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newFakeJourney()
			if tc.fulfil {
				j.fulfil(testID, placedAt.Add(2*time.Second))
			}
			res := getOrder(t, journeyServer(newFakeOrders(tc.rec), j))
			head, _, _ := strings.Cut(res.Body, "</head>")
			if !strings.Contains(head, refreshTag) {
				t.Errorf("page head lacks %s:\n%s", refreshTag, res.Body)
			}
			wantIn(t, res.Body, append(tc.want, `id="refresh-note"`)...)
			wantNotIn(t, res.Body, append(tc.wantNot, "<script")...)
			if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") {
				t.Errorf("Content-Security-Policy %q allows scripts; the page needs none", csp)
			}
		})
	}
}

// TestOrderJourneyStopsRefreshingOldOrders: a step still pending long after
// the order was placed (a worker down for hours) no longer reloads the page:
// every open tab would poll the tables for as long as it stays open.
func TestOrderJourneyStopsRefreshingOldOrders(t *testing.T) {
	for _, tc := range []struct {
		age         time.Duration
		wantRefresh bool
	}{
		{web.RefreshFor - time.Second, true},
		{web.RefreshFor + time.Second, false},
	} {
		res := getOrder(t, journeyServerAt(newFakeOrders(record(95_00, true)), newFakeJourney(), tc.age))
		if got := strings.Contains(res.Body, refreshTag); got != tc.wantRefresh {
			t.Errorf("placed %v ago: refresh %t; want %t:\n%s", tc.age, got, tc.wantRefresh, res.Body)
		}
		if !tc.wantRefresh {
			wantIn(t, res.Body, `<span class="badge wait">Waiting</span>`, "reload the page to check again")
		}
	}
}

// TestOrderJourneyComplete: an order of 80.00 or more, fulfilled, with its
// coupon: the code and its discount, and no more refreshing.
func TestOrderJourneyComplete(t *testing.T) {
	j := newFakeJourney()
	j.fulfil(testID, placedAt.Add(2*time.Second))
	j.issue(testID, "K7PM-Q2XD", placedAt.Add(3*time.Second))
	res := getOrder(t, journeyServer(newFakeOrders(record(95_00, true)), j))
	wantIn(t, res.Body,
		`<dd id="order-fulfilment"><span class="badge ok">Fulfilled</span> at <time datetime="2026-05-01T12:30:02Z">12:30:02 UTC</time></dd>`,
		`<dt>Coupon</dt><dd id="order-coupon"><code id="coupon-code">K7PM-Q2XD</code> <span id="coupon-discount">20% off</span> your next purchase</dd>`,
	)
	wantNotIn(t, res.Body, `http-equiv="refresh"`, `id="refresh-note"`, "Waiting", "Being issued", "Unknown")
}

// TestOrderJourneySmallOrder: an order below the threshold earns no coupon:
// no coupon line, the coupons table not read, no refresh once fulfilled.
func TestOrderJourneySmallOrder(t *testing.T) {
	j := newFakeJourney()
	j.fulfil(testID, placedAt.Add(2*time.Second))
	res := getOrder(t, journeyServer(newFakeOrders(record(20_00, true)), j))
	wantIn(t, res.Body, `<span class="badge ok">Fulfilled</span> at`)
	wantNotIn(t, res.Body, `http-equiv="refresh"`, "Coupon", "order-coupon", "coupon-code")
	if n := j.reads("coupons"); n != 0 {
		t.Errorf("coupons table read %d times for a 20.00 order; want 0", n)
	}
}

// TestOrderJourneyUnknown: a worker's table that cannot be read makes its
// line say unknown, never the page fail; an unknown step alone does not keep
// the page refreshing.
func TestOrderJourneyUnknown(t *testing.T) {
	denied := errors.New("AccessDeniedException: not authorized to perform dynamodb:GetItem")
	for _, tc := range []struct {
		name                       string
		fulfilmentErr, couponErr   error
		wantFulfilment, wantCoupon string
	}{
		{"both unreadable", denied, denied, "Unknown", "Unknown"},
		{"fulfilments unreadable", denied, nil, "Unknown", "K7PM-Q2XD"},
		{"coupons unreadable", nil, errors.New("ResourceNotFoundException: table not found"), "Fulfilled", "Unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newFakeJourney()
			j.fulfil(testID, placedAt.Add(2*time.Second))
			j.issue(testID, "K7PM-Q2XD", placedAt.Add(3*time.Second))
			j.fulfilmentErr, j.couponErr = tc.fulfilmentErr, tc.couponErr
			res := getOrder(t, journeyServer(newFakeOrders(record(95_00, true)), j))
			fulfilmentLine := between(res.Body, `<dd id="order-fulfilment">`, "</dd>")
			couponLine := between(res.Body, `<dd id="order-coupon">`, "</dd>")
			if !strings.Contains(fulfilmentLine, tc.wantFulfilment) {
				t.Errorf("fulfilment line %q; want it to say %s", fulfilmentLine, tc.wantFulfilment)
			}
			if !strings.Contains(couponLine, tc.wantCoupon) {
				t.Errorf("coupon line %q; want it to say %s", couponLine, tc.wantCoupon)
			}
			wantNotIn(t, res.Body, `http-equiv="refresh"`, "AccessDenied", "ResourceNotFound")
		})
	}

	t.Run("no journey reader", func(t *testing.T) {
		res := getOrder(t, newServer(newFakeOrders(record(95_00, true)), fakePinger{}))
		wantIn(t, between(res.Body, `<dd id="order-fulfilment">`, "</dd>"), `<span class="badge unknown">Unknown</span>`)
		wantIn(t, between(res.Body, `<dd id="order-coupon">`, "</dd>"), `<span class="badge unknown">Unknown</span>`)
	})

	t.Run("unpublished still refreshes", func(t *testing.T) {
		j := newFakeJourney()
		j.fulfilmentErr, j.couponErr = denied, denied
		res := getOrder(t, journeyServer(newFakeOrders(record(95_00, false)), j))
		wantIn(t, res.Body, refreshTag, "Unknown")
	})
}

// TestOrderJourneyBounded: both reads run at once, under one deadline of
// web.JourneyTimeout; a read that never answers, even one that ignores its
// context, makes its line unknown after that long, and the page answers.
func TestOrderJourneyBounded(t *testing.T) {
	t.Run("in parallel, with a deadline", func(t *testing.T) {
		j := newFakeJourney()
		j.fulfil(testID, placedAt.Add(2*time.Second))
		j.issue(testID, "K7PM-Q2XD", placedAt.Add(3*time.Second))
		var mu sync.Mutex
		inFlight := 0
		both := make(chan struct{})
		j.read = func(ctx context.Context, table string) error {
			deadline, ok := ctx.Deadline()
			if !ok || time.Until(deadline) > web.JourneyTimeout {
				t.Errorf("read of %s: deadline %v (set %t); want one within %v", table, deadline, ok, web.JourneyTimeout)
			}
			mu.Lock()
			if inFlight++; inFlight == 2 {
				close(both)
			}
			mu.Unlock()
			select { // each read waits for the other: they must overlap
			case <-both:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		res := getOrder(t, journeyServer(newFakeOrders(record(95_00, true)), j))
		wantIn(t, res.Body, `<span class="badge ok">Fulfilled</span>`, `<code id="coupon-code">K7PM-Q2XD</code>`)
	})

	for _, ignoresContext := range []bool{false, true} {
		name := map[bool]string{false: "a read that times out", true: "a read that ignores its context"}[ignoresContext]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				j := newFakeJourney()
				j.issue(testID, "K7PM-Q2XD", placedAt.Add(3*time.Second))
				j.read = func(ctx context.Context, table string) error {
					if table == "coupons" {
						return nil
					}
					if ignoresContext {
						<-release
						return nil
					}
					<-ctx.Done()
					return ctx.Err()
				}
				begin := time.Now()
				res := getOrder(t, journeyServer(newFakeOrders(record(95_00, true)), j))
				if took := time.Since(begin); took != web.JourneyTimeout {
					t.Errorf("page took %v; want the %v journey timeout", took, web.JourneyTimeout)
				}
				wantIn(t, between(res.Body, `<dd id="order-fulfilment">`, "</dd>"), "Unknown")
				wantIn(t, res.Body, `<code id="coupon-code">K7PM-Q2XD</code>`)
				close(release)
			})
		})
	}
}

// TestOrderJourneyEscapesCoupon: the coupon code comes from another
// service's table; the page escapes it like any other text.
func TestOrderJourneyEscapesCoupon(t *testing.T) {
	j := newFakeJourney()
	j.fulfil(testID, placedAt.Add(2*time.Second))
	j.issue(testID, `<script>alert("x")</script>&`, placedAt.Add(3*time.Second))
	res := getOrder(t, journeyServer(newFakeOrders(record(95_00, true)), j))
	wantIn(t, res.Body, `<code id="coupon-code">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;</code>`)
	wantNotIn(t, res.Body, "<script>")
}

// between returns the text of s after the first start, up to end.
func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}
