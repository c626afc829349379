package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
	"github.com/pubsub-app/pubsub/internal/web"
)

// TestRejectedInputLoggedBounded: what a client sends is logged as a length
// and a hash, never whole: a rejected POST's id (up to the 16 KB body limit),
// and a refused cross-origin request's path, method and Origin header.
func TestRejectedInputLoggedBounded(t *testing.T) {
	huge := strings.Repeat("x", web.MaxBodyBytes-200)
	sum := sha256.Sum256([]byte(huge))
	crossOrigin := httptest.NewRequest(http.MethodPost, "/"+strings.Repeat("p", 8<<10), nil)
	crossOrigin.Header.Set("Origin", "https://"+strings.Repeat("o", 8<<10)+".example")
	for _, tc := range []struct {
		name string
		r    *http.Request
		want []string // in the log
	}{
		{"rejected id", postForm(url.Values{"id": {huge}, "customer": {"Ada"}, "amount": {"95.50"}}),
			[]string{`"msg":"order rejected"`, `"posted_id":{"len":` + strconv.Itoa(len(huge)) + `,"sha256":"` + hex.EncodeToString(sum[:8]) + `"}`}},
		{"valid id, bad amount", postForm(url.Values{"id": {testID}, "customer": {"Ada"}, "amount": {"x"}}),
			[]string{`"msg":"order rejected"`, `"order_id":"` + testID + `"`}},
		{"cross-origin", crossOrigin, []string{`"msg":"cross-origin request refused"`, `"route":"unmatched"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			srv := web.NewServer(newFakeOrders(), fakePinger{}, nil, sample, time.Now, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
			res := serve(t, srv, tc.r)
			if res.Status != http.StatusBadRequest && res.Status != http.StatusForbidden {
				t.Fatalf("status %d; want 400 or 403", res.Status)
			}
			got := logs.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("log lacks %s:\n%.500s", w, got)
				}
			}
			if n := logs.Len(); n > 1<<10 {
				t.Errorf("logged %d bytes for one request; want at most 1 KB (the client's text bounded):\n%.300s…", n, got)
			}
		})
	}
}

// TestOnlyRoutesTraced: a request that reaches no page (no route, the wrong
// method, a path spelled another way, an order page for an id that cannot be
// an order's) starts no trace: X-Ray bills by the trace, and anyone can send
// them. A request for a page does.
func TestOnlyRoutesTraced(t *testing.T) {
	spans := tracingtest.Install(t)
	h := newServer(newFakeOrders(), fakePinger{})
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/wp-login.php", nil),
		httptest.NewRequest(http.MethodPost, "/nope", nil),
		httptest.NewRequest(http.MethodDelete, "/orders", nil), // 405
		httptest.NewRequest(http.MethodGet, "/orders", nil),    // 405
		httptest.NewRequest(http.MethodPost, "/%6Frders", nil),
		httptest.NewRequest(http.MethodGet, "//orders/"+testID, nil),
		httptest.NewRequest(http.MethodGet, "/orders/not-an-id", nil),
		httptest.NewRequest(http.MethodGet, "/orders/"+strings.Repeat("a", 8<<10), nil),
	} {
		serve(t, h, r)
	}
	names := func(from int) []string {
		var out []string
		for _, s := range spans.GetSpans()[from:] {
			out = append(out, s.Name)
		}
		return out
	}
	if got := names(0); len(got) != 0 {
		t.Errorf("requests for no page started %d spans %q; want none", len(got), got)
	}
	before := len(spans.GetSpans())
	serve(t, h, httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil)) // a 404 for a real id: a page
	serve(t, h, httptest.NewRequest(http.MethodGet, "/", nil))
	if names := names(before); strings.Join(names, ",") != "GET /orders/{id},GET /{$}" {
		t.Errorf("spans %q; want GET /orders/{id}, GET /{$}", names)
	}
}

// blockingOrders is a web.Orders whose Get answers only when its context
// ends, like a black-holed DynamoDB (or, without a deadline, after an hour).
type blockingOrders struct{ web.Orders }

func (blockingOrders) Get(ctx context.Context, id string) (checkout.Record, error) {
	select {
	case <-ctx.Done():
		return checkout.Record{}, ctx.Err()
	case <-time.After(time.Hour):
		return checkout.Record{}, checkout.ErrNotFound
	}
}

// TestOrderPageStoreTimeout: a store that does not answer costs the order
// page OrderReadTimeout, and the page says what happened.
func TestOrderPageStoreTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		res := serve(t, newServer(blockingOrders{}, fakePinger{}), httptest.NewRequest(http.MethodGet, "/orders/"+testID, nil))
		if took := time.Since(begin); took != web.OrderReadTimeout {
			t.Errorf("order page took %v; want the %v read timeout", took, web.OrderReadTimeout)
		}
		if res.Status != http.StatusServiceUnavailable {
			t.Errorf("status %d; want 503", res.Status)
		}
		wantHTML(t, res)
		for _, want := range []string{"Order unavailable", "did not answer within " + web.OrderReadTimeout.String()} {
			if !strings.Contains(res.Body, want) {
				t.Errorf("page lacks %q:\n%s", want, res.Body)
			}
		}
	})
}
