package web

import (
	"net/http"
	"strings"
)

// hstsValue tells browsers to use only HTTPS for this host for a year. No
// includeSubDomains or preload: the domain is the deployer's, and a preload
// entry cannot be taken back quickly.
const hstsValue = "max-age=31536000"

// strictTransport sends Strict-Transport-Security on responses to requests
// that reached us over TLS, and never over plain HTTP (RFC 6797 §7.2: the
// header is for secure transport only). Behind the load balancer TLS ends at
// the ALB, which sets X-Forwarded-Proto to the protocol the client used,
// replacing any value the client sent; r.TLS covers a listener of our own.
func strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}
