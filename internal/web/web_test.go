package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/web"
	"github.com/pubsub-app/pubsub/templates"
)

// testID is a version 4 UUID, as the form issues.
const testID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"

// v1ID is a valid UUID of another version (time-based).
const v1ID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

var placedAt = time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)

// fakeOrders is an in-memory web.Orders.
type fakeOrders struct {
	mu       sync.Mutex
	records  map[string]checkout.Record
	placed   []order.Order
	gets     []string
	placeErr error
	getErr   error
}

func newFakeOrders(recs ...checkout.Record) *fakeOrders {
	f := &fakeOrders{records: map[string]checkout.Record{}}
	for _, r := range recs {
		f.records[r.ID] = r
	}
	return f
}

func (f *fakeOrders) Place(ctx context.Context, o order.Order) (checkout.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.placed = append(f.placed, o)
	if f.placeErr != nil {
		return checkout.Record{}, f.placeErr
	}
	o.CreatedAt = placedAt
	rec := checkout.Record{Order: o}
	f.records[o.ID] = rec
	return rec, nil
}

func (f *fakeOrders) Get(ctx context.Context, id string) (checkout.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, id)
	if f.getErr != nil {
		return checkout.Record{}, f.getErr
	}
	r, ok := f.records[id]
	if !ok {
		return checkout.Record{}, checkout.ErrNotFound
	}
	return r, nil
}

func (f *fakeOrders) placedOrders() []order.Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]order.Order(nil), f.placed...)
}

type fakePinger struct{ err error }

func (p fakePinger) Ping(ctx context.Context) error { return p.err }

func sample() (string, string) { return "Grace Hopper", "42.00" }

// discard is the log of the servers whose log no test reads.
var discard = slog.New(slog.DiscardHandler)

func newServer(o web.Orders, p web.Pinger) *web.Server {
	return web.NewServer(o, p, nil, sample, time.Now, discard, nil)
}

// response is what a handler answered.
type response struct {
	Status int
	Header http.Header
	Body   string
}

func serve(t *testing.T, h http.Handler, r *http.Request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func postForm(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

var hiddenID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]*)">`)

// formID returns the order id a form page carries, checking it is a UUID.
func formID(t *testing.T, body string) string {
	t.Helper()
	m := hiddenID.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("form page has no hidden id field:\n%s", body)
	}
	if _, err := order.ParseNewID(m[1]); err != nil {
		t.Fatalf("form id %q: %v", m[1], err)
	}
	return m[1]
}

func wantHTML(t *testing.T, res response) {
	t.Helper()
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q; want %q", got, "text/html; charset=utf-8")
	}
	if !strings.HasPrefix(res.Body, "<!doctype html>") {
		t.Errorf("body is not an HTML page:\n%s", res.Body)
	}
}

// promotionHint states the promotion rule on the form, fresh or sent back with errors.
var promotionHint = fmt.Sprintf("Orders of %s or more earn a %d%% coupon", promotion.Threshold, promotion.DiscountPercent)

func TestFormPage(t *testing.T) {
	srv := newServer(newFakeOrders(), fakePinger{})
	res := serve(t, srv, httptest.NewRequest(http.MethodGet, "/", nil))
	if res.Status != http.StatusOK {
		t.Fatalf("GET / status = %d; want 200", res.Status)
	}
	wantHTML(t, res)
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
	wantIn(t, res.Body,
		`<form method="post" action="/orders"`,
		`name="customer" type="text" value="Grace Hopper"`,
		`name="amount" type="text" inputmode="decimal" value="42.00"`,
		promotionHint,
	)
	// The template takes the promotion rule's figures from the rule rather
	// than writing them out.
	src, err := fs.ReadFile(templates.FS, "form.html")
	if err != nil {
		t.Fatal(err)
	}
	wantNotIn(t, string(src), promotion.Threshold.String(), fmt.Sprintf("%d%%", promotion.DiscountPercent))
	if strings.Contains(res.Body, `class="error"`) || strings.Contains(res.Body, `role="alert"`) {
		t.Errorf("fresh form shows an error:\n%s", res.Body)
	}
	first := formID(t, res.Body)
	second := formID(t, serve(t, srv, httptest.NewRequest(http.MethodGet, "/", nil)).Body)
	if first == second {
		t.Errorf("two forms carry the same order id %s; want a fresh id each", first)
	}
}

func TestPlaceRedirects(t *testing.T) {
	for _, tc := range []struct {
		name string
		form url.Values
		want order.Order // ID "" means a fresh one
	}{
		{"with id", url.Values{"id": {testID}, "customer": {"  Ada Lovelace "}, "amount": {"95.5"}}, order.Order{ID: testID, Customer: "Ada Lovelace", Amount: 9550}},
		{"without id", url.Values{"customer": {"Ada Lovelace"}, "amount": {"1000000.00"}}, order.Order{Customer: "Ada Lovelace", Amount: 1_000_000_00}},
		{"empty id", url.Values{"id": {""}, "customer": {"Zoë"}, "amount": {"0.01"}}, order.Order{Customer: "Zoë", Amount: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo := newFakeOrders()
			res := serve(t, newServer(fo, fakePinger{}), postForm(tc.form))
			if res.Status != http.StatusSeeOther {
				t.Fatalf("POST /orders status = %d; want 303\n%s", res.Status, res.Body)
			}
			placed := fo.placedOrders()
			if len(placed) != 1 {
				t.Fatalf("Place called %d times; want 1", len(placed))
			}
			want := tc.want
			if want.ID == "" {
				if _, err := order.ParseNewID(placed[0].ID); err != nil {
					t.Errorf("generated order id %q: %v", placed[0].ID, err)
				}
				want.ID = placed[0].ID
			}
			if diff := cmp.Diff(want, placed[0]); diff != "" {
				t.Errorf("placed order (-want +got):\n%s", diff)
			}
			if got, wantLoc := res.Header.Get("Location"), "/orders/"+want.ID; got != wantLoc {
				t.Errorf("Location = %q; want %q", got, wantLoc)
			}
		})
	}
}

func TestPlaceInvalid(t *testing.T) {
	long := strings.Repeat("a", 101)
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantMsgs   []string
		wantValues []string // as they appear, escaped, in the re-filled form
	}{
		{
			name:       "empty customer",
			form:       url.Values{"id": {testID}, "customer": {""}, "amount": {"95.50"}},
			wantMsgs:   []string{"Customer name is required."},
			wantValues: []string{`name="customer" type="text" value=""`, `value="95.50"`},
		},
		{
			name:       "101-character customer",
			form:       url.Values{"id": {testID}, "customer": {long}, "amount": {"95.50"}},
			wantMsgs:   []string{"Customer name must be at most 100 characters."},
			wantValues: []string{`value="` + long + `"`, `value="95.50"`},
		},
		{
			name:       "customer with a control character",
			form:       url.Values{"id": {testID}, "customer": {"Ada\x00"}, "amount": {"95.50"}},
			wantMsgs:   []string{"Customer name must contain only printable characters."},
			wantValues: []string{`value="95.50"`},
		},
		{
			name:       "amount not a number",
			form:       url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"abc"}},
			wantMsgs:   []string{"Order total must be a number like 95 or 95.50."},
			wantValues: []string{`value="Ada Lovelace"`, `value="abc"`},
		},
		{
			name:       "three decimals",
			form:       url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"1.234"}},
			wantMsgs:   []string{"Order total must have at most two decimal places."},
			wantValues: []string{`value="Ada Lovelace"`, `value="1.234"`},
		},
		{
			name:       "zero",
			form:       url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"0"}},
			wantMsgs:   []string{"Order total must be greater than zero."},
			wantValues: []string{`value="Ada Lovelace"`, `value="0"`},
		},
		{
			name:       "too large",
			form:       url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"1000000.01"}},
			wantMsgs:   []string{"Order total must be at most 1000000.00."},
			wantValues: []string{`value="Ada Lovelace"`, `value="1000000.01"`},
		},
		{
			name:       "missing amount",
			form:       url.Values{"id": {testID}, "customer": {"Ada Lovelace"}},
			wantMsgs:   []string{"Order total is required."},
			wantValues: []string{`value="Ada Lovelace"`},
		},
		{
			name:       "both fields",
			form:       url.Values{"id": {testID}, "customer": {" "}, "amount": {"-5"}},
			wantMsgs:   []string{"Customer name is required.", "Order total must be a number like 95 or 95.50."},
			wantValues: []string{`value=" "`, `value="-5"`},
		},
		{
			name:       "markup in the typed values is escaped",
			form:       url.Values{"id": {testID}, "customer": {`"><script>alert(1)</script>`}, "amount": {`1.234"><b>`}},
			wantMsgs:   []string{"Order total must be a number like 95 or 95.50."},
			wantValues: []string{`value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`, `value="1.234&#34;&gt;&lt;b&gt;"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo := newFakeOrders()
			res := serve(t, newServer(fo, fakePinger{}), postForm(tc.form))
			if res.Status != http.StatusBadRequest {
				t.Fatalf("status = %d; want 400", res.Status)
			}
			wantHTML(t, res)
			if n := len(fo.placedOrders()); n != 0 {
				t.Errorf("Place called %d times; want 0", n)
			}
			wantIn(t, res.Body, append(tc.wantMsgs, tc.wantValues...)...)
			wantIn(t, res.Body, "The order was not placed. Please correct the fields marked below.", promotionHint)
			if got := strings.Count(res.Body, `class="error"`); got != len(tc.wantMsgs) {
				t.Errorf("page marks %d fields wrong; want %d", got, len(tc.wantMsgs))
			}
			if got := formID(t, res.Body); got != testID {
				t.Errorf("re-filled form carries id %q; want the submitted %q", got, testID)
			}
			wantNotIn(t, res.Body, "<script>", "<b>")
		})
	}
}

func TestPlaceInvalidIDIssuesNewOne(t *testing.T) {
	for _, bad := range []string{"not-a-uuid", v1ID} {
		t.Run(bad, func(t *testing.T) {
			fo := newFakeOrders()
			res := serve(t, newServer(fo, fakePinger{}), postForm(url.Values{"id": {bad}, "customer": {"Ada Lovelace"}, "amount": {"95.50"}}))
			if res.Status != http.StatusBadRequest {
				t.Fatalf("status = %d; want 400", res.Status)
			}
			if n := len(fo.placedOrders()); n != 0 {
				t.Errorf("Place called %d times; want 0", n)
			}
			wantIn(t, res.Body, "This form had no valid order id; a new one has been issued.", `value="Ada Lovelace"`, `value="95.50"`)
			if id := formID(t, res.Body); id == bad {
				t.Errorf("form re-filled with the invalid id")
			}
		})
	}
}

func TestPlaceErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		want    int
		wantMsg string
	}{
		{"conflict", fmt.Errorf("order %s: %w", testID, checkout.ErrConflict), http.StatusConflict, "Order id already used"},
		{"store down", errors.New("dynamodb unavailable"), http.StatusServiceUnavailable, "it may already have been placed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo := newFakeOrders()
			fo.placeErr = tc.err
			res := serve(t, newServer(fo, fakePinger{}), postForm(url.Values{"id": {testID}, "customer": {"Ada"}, "amount": {"1"}}))
			if res.Status != tc.want {
				t.Fatalf("status = %d; want %d", res.Status, tc.want)
			}
			wantHTML(t, res)
			wantIn(t, res.Body, tc.wantMsg)
			wantNotIn(t, res.Body, "dynamodb") // the internal error
		})
	}
}

// TestPlaceStoreErrorKeepsID: when placing fails in a way that may have
// stored the order (a store error or timeout, also after a duplicate submit),
// the page must not send the customer to a fresh form, whose new id would
// place a second order: it gives back the same order, same id, says it may be
// placed already and that sending it again is safe.
func TestPlaceStoreErrorKeepsID(t *testing.T) {
	for _, err := range []error{
		errors.New("dynamodb unavailable"),
		fmt.Errorf("store order %s: %w", testID, context.DeadlineExceeded),
		fmt.Errorf("read order %s: %w", testID, context.DeadlineExceeded),
	} {
		t.Run(err.Error(), func(t *testing.T) {
			fo := newFakeOrders()
			fo.placeErr = err
			res := serve(t, newServer(fo, fakePinger{}), postForm(url.Values{"id": {testID}, "customer": {" Ada Lovelace "}, "amount": {"95.5"}}))
			wantUnconfirmedPage(t, res, testID)
		})
	}
}

// wantUnconfirmedPage checks the page answering a place that may or may not
// have stored the order id.
func wantUnconfirmedPage(t *testing.T, res response, id string) {
	t.Helper()
	if res.Status != http.StatusServiceUnavailable {
		t.Errorf("status = %d; want 503", res.Status)
	}
	wantHTML(t, res)
	if got := formID(t, res.Body); got != id {
		t.Errorf("form carries order id %s; want the same id %s, so sending it again cannot place a second order", got, id)
	}
	wantIn(t, res.Body,
		`<form method="post" action="/orders"`,
		`value="Ada Lovelace"`,
		`value="95.50"`,
		"it may already have been placed",
		"Submitting this form again is safe",
		`<a href="/orders/`+id+`">`,
	)
	wantNotIn(t, res.Body, "dynamodb", "deadline", "try again", "Nothing was charged")
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
}

// hangingStore is a checkout.Store whose Create never answers, like a
// black-holed DynamoDB; it has no other method a failed Create reaches.
type hangingStore struct{ checkout.Store }

func (hangingStore) Create(ctx context.Context, o order.Order, leaseUntil time.Time) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestPlaceUnderStoreBlackHole: through the real checkout service, a
// DynamoDB that never answers costs a request its StoreTimeout, not the
// server's write timeout, and the customer is told the order may be placed,
// with the same id to send again.
func TestPlaceUnderStoreBlackHole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bound = 50 * time.Millisecond
		svc, err := checkout.NewService(hangingStore{}, nil, time.Now, checkout.Config{PublishTimeout: time.Second, StoreTimeout: bound,
			Lease: time.Minute, RetryBase: time.Second, RetryMax: time.Second, Interval: time.Second, Batch: 1}, discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		res := serve(t, web.NewServer(svc, fakePinger{}, nil, sample, time.Now, discard, nil), postForm(url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"95.50"}}))
		if took := time.Since(begin); took != bound {
			t.Errorf("request took %v; want the %v store timeout", took, bound)
		}
		wantUnconfirmedPage(t, res, testID)
	})
}

func TestOrderPage(t *testing.T) {
	stored := checkout.Record{
		Order:       order.Order{ID: testID, Customer: "Ada Lovelace", Amount: 9550, CreatedAt: placedAt},
		Published:   true,
		PublishedAt: placedAt.Add(time.Second),
		MessageID:   "sns-1",
	}
	const pending = "0b6c2f7e-3f5c-4c55-9b0a-7d5b0a7ad7a1"
	unpublished := checkout.Record{Order: order.Order{ID: pending, Customer: "Grace", Amount: 1, CreatedAt: placedAt}}
	fo := newFakeOrders(stored, unpublished)
	srv := newServer(fo, fakePinger{})

	res := serve(t, srv, httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil))
	if res.Status != http.StatusOK {
		t.Fatalf("GET /orders/%s status = %d; want 200", testID, res.Status)
	}
	wantHTML(t, res)
	// The page shows a customer's name: no browser history or shared cache keeps it.
	if got, want := res.Header.Get("Cache-Control"), "no-store, private"; got != want {
		t.Errorf("Cache-Control = %q; want %q", got, want)
	}
	wantIn(t, res.Body,
		`<code id="order-id">`+testID+`</code>`,
		`<dd id="order-customer">Ada Lovelace</dd>`,
		`<dd id="order-amount">95.50</dd>`,
		`<time datetime="2026-05-01T12:30:00Z">`,
		`<span class="badge ok">Published</span> at 12:30:01 UTC`,
	)

	res = serve(t, srv, httptest.NewRequest(http.MethodGet, "/orders/"+pending, nil))
	if res.Status != http.StatusOK {
		t.Fatalf("GET /orders/%s status = %d; want 200", pending, res.Status)
	}
	wantIn(t, res.Body, `<span class="badge wait">Being processed</span>`)
}

func TestOrderPageNotFound(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		wantGet    bool // whether the id reaches the store
	}{
		{"unknown id", "/orders/0b6c2f7e-3f5c-4c55-9b0a-7d5b0a7ad7a1", true},
		{"not a uuid", "/orders/not-a-uuid", false},
		{"braced uuid", "/orders/%7B" + testID + "%7D", false}, // { is always escaped: canonical
		// An id escaped where it need not be is refused before the order
		// page: TestNonCanonicalPathRefused.
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo := newFakeOrders()
			res := serve(t, newServer(fo, fakePinger{}), httptest.NewRequest(http.MethodGet, tc.path, nil))
			if res.Status != http.StatusNotFound {
				t.Fatalf("GET %s status = %d; want 404", tc.path, res.Status)
			}
			wantHTML(t, res)
			wantIn(t, res.Body, "Order not found")
			if got := len(fo.gets) > 0; got != tc.wantGet {
				t.Errorf("store read = %v (%v); want %v", got, fo.gets, tc.wantGet)
			}
		})
	}
}

func TestOrderPageStoreError(t *testing.T) {
	fo := newFakeOrders()
	fo.getErr = errors.New("dynamodb unavailable")
	res := serve(t, newServer(fo, fakePinger{}), httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil))
	if res.Status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d; want 503", res.Status)
	}
	wantIn(t, res.Body, "Order unavailable")
}

func TestOrderPageEscapesCustomer(t *testing.T) {
	fo := newFakeOrders(checkout.Record{Order: order.Order{ID: testID, Customer: `<script>alert(1)</script>`, Amount: 100, CreatedAt: placedAt}})
	res := serve(t, newServer(fo, fakePinger{}), httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil))
	if res.Status != http.StatusOK {
		t.Fatalf("status = %d; want 200", res.Status)
	}
	wantIn(t, res.Body, `<dd id="order-customer">&lt;script&gt;alert(1)&lt;/script&gt;</dd>`)
	wantNotIn(t, res.Body, "<script>")
}

func TestUnknownPath(t *testing.T) {
	for _, path := range []string{"/nope", "/orders/", "/orders/" + testID + "/x", "/static/form.html", "/static/", "/index.html"} {
		t.Run(path, func(t *testing.T) {
			res := serve(t, newServer(newFakeOrders(), fakePinger{}), httptest.NewRequest(http.MethodGet, path, nil))
			if res.Status != http.StatusNotFound {
				t.Fatalf("GET %s status = %d; want 404", path, res.Status)
			}
			wantHTML(t, res)
			wantIn(t, res.Body, "Page not found")
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		wantAllow    string
	}{
		{http.MethodDelete, "/orders", "POST"},
		{http.MethodGet, "/orders", "POST"},
		{http.MethodPut, "/", "GET, HEAD"},
		{http.MethodPost, "/", "GET, HEAD"},
		{http.MethodPost, "/orders/" + testID, "GET, HEAD"},
		{http.MethodPost, "/healthz", "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			fo := newFakeOrders()
			res := serve(t, newServer(fo, fakePinger{}), httptest.NewRequest(tc.method, tc.path, nil))
			if res.Status != http.StatusMethodNotAllowed {
				t.Fatalf("status = %d; want 405", res.Status)
			}
			if got := res.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q; want %q", got, tc.wantAllow)
			}
			if n := len(fo.placedOrders()); n != 0 {
				t.Errorf("Place called %d times; want 0", n)
			}
		})
	}
}

func TestCrossOriginProtection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site fetch", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"origin on another port", map[string]string{"Origin": "http://example.com:8080"}, http.StatusForbidden},
		{"same-origin fetch", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
		{"user-initiated fetch", map[string]string{"Sec-Fetch-Site": "none"}, http.StatusSeeOther},
		{"same origin", map[string]string{"Origin": "http://example.com"}, http.StatusSeeOther},
		{"no browser headers (curl)", nil, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo := newFakeOrders()
			r := postForm(url.Values{"id": {testID}, "customer": {"Ada"}, "amount": {"95.50"}})
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			res := serve(t, newServer(fo, fakePinger{}), r)
			if res.Status != tc.want {
				t.Fatalf("status = %d (Host %s); want %d\n%s", res.Status, r.Host, tc.want, res.Body)
			}
			wantPlaced := 0
			if tc.want == http.StatusSeeOther {
				wantPlaced = 1
			} else {
				wantHTML(t, res)
				wantIn(t, res.Body, "Request refused")
			}
			if n := len(fo.placedOrders()); n != wantPlaced {
				t.Errorf("Place called %d times; want %d", n, wantPlaced)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	fo := newFakeOrders(checkout.Record{Order: order.Order{ID: testID, Customer: "Ada", Amount: 1, CreatedAt: placedAt}})
	crossSite := postForm(url.Values{"customer": {"Ada"}, "amount": {"1"}})
	crossSite.Header.Set("Sec-Fetch-Site", "cross-site")
	for name, r := range map[string]*http.Request{
		"form":        httptest.NewRequest(http.MethodGet, "/", nil),
		"place":       postForm(url.Values{"customer": {"Ada"}, "amount": {"1"}}),
		"invalid":     postForm(url.Values{"customer": {""}, "amount": {"1"}}),
		"too large":   postForm(url.Values{"customer": {strings.Repeat("a", 17<<10)}}),
		"order":       httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil),
		"no order":    httptest.NewRequest(http.MethodGet, "/orders/x", nil),
		"not found":   httptest.NewRequest(http.MethodGet, "/nope", nil),
		"bad method":  httptest.NewRequest(http.MethodDelete, "/orders", nil),
		"cross-site":  crossSite,
		"health":      httptest.NewRequest(http.MethodGet, "/healthz", nil),
		"stylesheet":  httptest.NewRequest(http.MethodGet, "/static/style.css", nil),
		"head of one": httptest.NewRequest(http.MethodHead, "/", nil),
	} {
		t.Run(name, func(t *testing.T) {
			res := serve(t, newServer(fo, fakePinger{}), r)
			for k, want := range map[string]string{
				"X-Frame-Options":        "DENY",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "same-origin",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q; want %q (status %d)", k, got, want, res.Status)
				}
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q (status %d)", csp, want, res.Status)
				}
			}
		})
	}
}

// TestBodyLimit posts bodies of absolute sizes around the 16 KiB limit: the
// sizes are not derived from web.MaxBodyBytes, so raising the constant fails
// the test.
func TestBodyLimit(t *testing.T) {
	valid := url.Values{"id": {testID}, "customer": {"Ada"}, "amount": {"95.50"}}.Encode() + "&pad="
	for _, tc := range []struct {
		name string
		size int
		want int
	}{
		{"15 KiB", 15 << 10, http.StatusSeeOther},
		{"16 KiB, the limit", 16 << 10, http.StatusSeeOther},
		{"one byte over 16 KiB", 16<<10 + 1, http.StatusRequestEntityTooLarge},
		{"17 KiB", 17 << 10, http.StatusRequestEntityTooLarge},
		{"1 MiB", 1 << 20, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := valid + strings.Repeat("x", tc.size-len(valid))
			r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			fo := newFakeOrders()
			res := serve(t, newServer(fo, fakePinger{}), r)
			if res.Status != tc.want {
				t.Fatalf("POST of %d bytes: status = %d; want %d", len(body), res.Status, tc.want)
			}
			wantPlaced := 0
			if tc.want == http.StatusSeeOther {
				wantPlaced = 1
			} else {
				wantIn(t, res.Body, "Request too large")
			}
			if n := len(fo.placedOrders()); n != wantPlaced {
				t.Errorf("Place called %d times; want %d", n, wantPlaced)
			}
		})
	}
}

// countingPinger counts its calls; each blocks until release is closed, if set.
type countingPinger struct {
	calls   atomic.Int32
	err     error
	release chan struct{}
}

func (p *countingPinger) Ping(ctx context.Context) error {
	p.calls.Add(1)
	if p.release != nil {
		select {
		case <-p.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.err
}

// TestHealthz: /healthz answers whether the orders table is reachable, out
// of every cache, and calls DynamoDB's control plane (DescribeTable, with a
// low quota) at most once per 5 seconds, whatever it answered; on synctest's
// fake clock.
func TestHealthz(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		want     int
		wantBody string
	}{
		{"healthy", nil, http.StatusOK, "ok\n"},
		{"table unreachable", errors.New("describe table: timeout"), http.StatusServiceUnavailable, "unhealthy: orders table unreachable\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &countingPinger{err: tc.err}
				srv := newServer(newFakeOrders(), p)
				start := time.Now()
				check := func(wantCalls int32) {
					t.Helper()
					res := serve(t, srv, httptest.NewRequest(http.MethodGet, "/healthz", nil))
					if res.Status != tc.want || res.Body != tc.wantBody {
						t.Errorf("status = %d, body %q; want %d, %q", res.Status, res.Body, tc.want, tc.wantBody)
					}
					if got := res.Header.Get("Cache-Control"); got != "no-store" {
						t.Errorf("Cache-Control = %q; want no-store", got)
					}
					if got := p.calls.Load(); got != wantCalls {
						t.Errorf("after %v, Ping called %d times; want %d", time.Since(start), got, wantCalls)
					}
				}
				check(1)
				for range 10 {
					check(1)
				}
				time.Sleep(4999 * time.Millisecond)
				check(1)
				time.Sleep(time.Millisecond)
				check(2)
				check(2)
			})
		})
	}
}

// TestHealthzSharesOneCheck: requests arriving while a check runs wait for
// it rather than each starting one; a request that gives up does not cancel
// the check the others wait for.
func TestHealthzSharesOneCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &countingPinger{release: make(chan struct{})}
		srv := newServer(newFakeOrders(), p)
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan response, 1)
		go func() {
			first <- serve(t, srv, httptest.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil))
		}()
		synctest.Wait()
		statuses := make(chan int, 10)
		for range 10 {
			go func() { statuses <- serve(t, srv, httptest.NewRequest(http.MethodGet, "/healthz", nil)).Status }()
		}
		synctest.Wait()
		cancel() // the request that started the check goes away
		if got := (<-first).Status; got != http.StatusServiceUnavailable {
			t.Errorf("cancelled request status = %d; want 503", got)
		}
		close(p.release)
		for range 10 {
			if got := <-statuses; got != http.StatusOK {
				t.Errorf("status = %d; want 200", got)
			}
		}
		if got := p.calls.Load(); got != 1 {
			t.Errorf("Ping called %d times for 11 concurrent requests; want 1", got)
		}
	})
}

func TestStylesheet(t *testing.T) {
	res := serve(t, newServer(newFakeOrders(), fakePinger{}), httptest.NewRequest(http.MethodGet, "/static/style.css", nil))
	if res.Status != http.StatusOK {
		t.Fatalf("status = %d; want 200", res.Status)
	}
	if got := res.Header.Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("Content-Type = %q; want %q", got, "text/css; charset=utf-8")
	}
	want, err := fs.ReadFile(templates.FS, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || res.Body != string(want) {
		t.Errorf("body is not templates/style.css (%d bytes; want %d)", len(res.Body), len(want))
	}
}
