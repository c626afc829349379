package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestNonCanonicalPathRefused: a path written another way than the routes
// are (an escaped letter, an escaped slash or dot, an empty or dot segment)
// is a 404, for GET and POST alike, and reaches no handler: no order placed,
// none read. WAF and log queries see the raw path; the mux would decode or
// clean it and route /%6Frders to POST /orders.
func TestNonCanonicalPathRefused(t *testing.T) {
	for _, path := range []string{
		"/%6Frders",                // /orders, its o escaped
		"/%6frders",                // lower-case hex
		"/orde%72s",                // another letter
		"/orders%2F",               // /orders/ with the slash escaped
		"/orders%2f",               // lower-case hex
		"/%2e/orders",              // /./orders with the dot escaped
		"/%2E%2E/orders",           // /../orders
		"/./orders",                // a dot segment, unescaped
		"/x/../orders",             // a dot-dot segment
		"//orders",                 // an empty segment
		"/orders//",                // an empty last segment
		"/%2Forders",               // //orders with the slash escaped
		"/orders%2F" + testID,      // the order page, its slash escaped
		"/orders/%66" + testID[1:], // the order page, the id's first letter (f) escaped
		"/orders/" + strings.Replace(testID, "-", "%2D", 1), // a dash escaped
		"/orders/..%2F..%2Fetc%2Fpasswd",
		"/orders/./" + testID,
		"/%68ealthz",          // /healthz
		"/static/style%2Ecss", // the stylesheet
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(method+" "+path, func(t *testing.T) {
				fo := newFakeOrders()
				var body *strings.Reader
				if method == http.MethodPost {
					body = strings.NewReader(url.Values{"id": {testID}, "customer": {"Ada Lovelace"}, "amount": {"95.50"}}.Encode())
				} else {
					body = strings.NewReader("")
				}
				r := httptest.NewRequest(method, path, body)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				res := serve(t, newServer(fo, fakePinger{}), r)
				if res.Status != http.StatusNotFound {
					t.Errorf("%s %s: status %d (Location %q); want 404", method, path, res.Status, res.Header.Get("Location"))
				}
				if !strings.Contains(res.Body, "Page not found") {
					t.Errorf("%s %s: page lacks %q:\n%.300s", method, path, "Page not found", res.Body)
				}
				if placed := fo.placedOrders(); len(placed) != 0 {
					t.Errorf("%s %s placed %v; want nothing placed", method, path, placed)
				}
				if len(fo.gets) != 0 {
					t.Errorf("%s %s read the orders %q; want none read", method, path, fo.gets)
				}
			})
		}
	}
}
