package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestStrictTransportOnlyOverTLS: Strict-Transport-Security is sent on every
// response to a request that came over TLS (the ALB's X-Forwarded-Proto: https,
// or TLS of our own) and on none that came over plain HTTP.
func TestStrictTransportOnlyOverTLS(t *testing.T) {
	srv := newServer(nil, fakePinger{})
	tests := []struct {
		name   string
		target string
		proto  string // X-Forwarded-Proto; "" sends none
		want   string
	}{
		{"plain HTTP", "http://example.com/", "", ""},
		{"ALB over HTTP", "http://example.com/", "http", ""},
		{"ALB over HTTPS", "http://example.com/", "https", "max-age=31536000"},
		{"ALB over HTTPS, upper case", "http://example.com/", "HTTPS", "max-age=31536000"},
		{"ALB over HTTPS, health check path", "http://example.com/healthz", "https", "max-age=31536000"},
		{"ALB over HTTPS, page not found", "http://example.com/nowhere", "https", "max-age=31536000"},
		{"ALB over HTTP, page not found", "http://example.com/nowhere", "http", ""},
		{"not a protocol", "http://example.com/", "https, http", ""},
		{"TLS of our own", "https://example.com/", "", "max-age=31536000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			got := rec.Result().Header.Values("Strict-Transport-Security")
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("Strict-Transport-Security = %q over plain HTTP; want none", got)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("Strict-Transport-Security = %q; want [%q]", got, tt.want)
			}
		})
	}
}
