package web_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/web"
)

func TestRequestLatencyByRoute(t *testing.T) {
	var out bytes.Buffer
	rec := metrics.New(&out, "publisher", "test", time.Now)
	srv := web.NewServer(newFakeOrders(), fakePinger{}, nil, sample, time.Now, discard, rec)
	for _, path := range []string{"/", "/", "/orders/6ba7b810-9dad-41d1-80b4-00c04fd430c8", "/no/such/page"} {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, raw := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		l, err := metrics.Parse(raw)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		got[l.Dims[metrics.DimRoute]] += len(l.Values[metrics.RequestLatency])
	}
	want := map[string]int{"GET /{$}": 2, "GET /orders/{id}": 1, "unmatched": 1}
	for route, n := range want {
		if got[route] != n {
			t.Errorf("RequestLatency{route=%q}: %d values; want %d (all: %v)", route, got[route], n, got)
		}
	}
}
