// Package web is the publisher's HTTP interface: the order form, the order
// page and the health check.
package web

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/templates"
)

// Orders places and reads orders.
type Orders interface {
	Place(ctx context.Context, o order.Order) (checkout.Record, error)
	Get(ctx context.Context, id string) (checkout.Record, error)
}

// Pinger reports whether a dependency can be reached.
type Pinger interface {
	Ping(ctx context.Context) error
}

// MaxBodyBytes bounds a request body; the form needs far less.
const MaxBodyBytes = 16 << 10

// Server serves the publisher's pages.
type Server struct {
	orders Orders
	health *healthCache
	log    *slog.Logger
	newID  func() string
	sample func() (customer, amount string)
	pages  map[string]*template.Template
	mux    *http.ServeMux
	h      http.Handler

	journey Journey
	now     func() time.Time
	metrics *metrics.Recorder
}

// OrderReadTimeout bounds the order page's read of the order itself, as
// checkout bounds each store call of placing one (5s): a DynamoDB that does
// not answer makes the page an error that says so, not a request held until
// the server's write timeout (30s) or the client gives up.
const OrderReadTimeout = 5 * time.Second

// NewServer returns the publisher's HTTP handler. /healthz pings health at
// most once every few seconds. journey reads what the workers recorded, for
// the order page (nil: their steps show as unknown). sample gives the
// customer and total the form is pre-filled with; now is the clock the order
// page measures an order's age by. Each request's latency is recorded on rec
// by route (nil records nothing).
func NewServer(orders Orders, health Pinger, journey Journey, sample func() (string, string), now func() time.Time, log *slog.Logger, rec *metrics.Recorder) *Server {
	s := &Server{
		orders:  orders,
		health:  &healthCache{p: health, log: log},
		log:     log,
		newID:   order.NewID,
		sample:  sample,
		pages:   parsePages(),
		mux:     http.NewServeMux(),
		journey: journey,
		now:     now,
		metrics: rec,
	}
	s.routes()
	s.h = s.handler()
	return s
}

// pageFuncs are the values pages read from the rules rather than repeat:
// the form's promotion hint is the promotion rule.
var pageFuncs = template.FuncMap{
	"promotionThreshold": func() string { return promotion.Threshold.String() },
	"promotionPercent":   func() int { return promotion.DiscountPercent },
}

func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range []string{"form", "order", "error"} {
		pages[name] = template.Must(template.New("layout.html").Funcs(pageFuncs).ParseFS(templates.FS, "layout.html", name+".html"))
	}
	return pages
}

// ServeHTTP applies the security middleware and routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.h.ServeHTTP(w, r)
}

func (s *Server) handler() http.Handler {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The path, method and Origin header are the client's, up to 16 KB each:
		// the route, and the others clipped, tell what was refused.
		route := s.match(r)
		if route == "" {
			route = "unmatched"
		}
		s.log.Warn("cross-origin request refused", "method", clip(r.Method, maxLoggedMethod), "route", route, "origin", clip(r.Header.Get("Origin"), maxLoggedOrigin))
		s.renderError(w, http.StatusForbidden, "Request refused", "This form can only be submitted from this site.")
	}))
	return traced(s.traceable, strictTransport(securityHeaders(limitBody(csrf.Handler(http.HandlerFunc(s.route))))))
}

// route sends requests that match no pattern, or whose path is not written
// the one way the routes are (canonical), to the 404 page, and leaves the mux
// to answer 405 (with Allow) for a known path and the wrong method.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	pattern := s.match(r)
	defer s.observe(pattern, start)
	if pattern == "" && (!canonical(r.URL) || !s.pathKnown(r)) {
		s.renderError(w, http.StatusNotFound, "Page not found", "There is nothing at this address.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// observe records a request's latency by route: the pattern it matched
// ("POST /orders", "GET /orders/{id}", ...) or "unmatched", so the
// dimension's values stay few whatever paths clients try.
func (s *Server) observe(pattern string, start time.Time) {
	if pattern == "" {
		pattern = "unmatched"
	}
	s.metrics.Since(metrics.RequestLatency, start, metrics.Dim{Name: metrics.DimRoute, Value: pattern})
}

// match returns the pattern of the route r is for, or "" when there is none:
// its path matches no pattern, or is not canonical.
func (s *Server) match(r *http.Request) string {
	if !canonical(r.URL) {
		return ""
	}
	_, pattern := s.mux.Handler(r)
	return pattern
}

// canonical reports whether u's path is written the one way the routes are:
// no percent-escape where the plain character would do, and no empty, "." or
// ".." segment. The mux would route /%6Frders to POST /orders (it decodes
// each segment) and redirect //orders or /./orders there with a 307, which
// keeps the POST, while what sits in front of it (the load balancer's WAF
// rule, log queries) sees another path. Every route is plain ASCII with no escapes, so
// another spelling of a path is refused (404), never routed: /orders%2F is
// not /orders/, and an order id is never escaped.
func canonical(u *url.URL) bool {
	if u.RawPath != "" {
		// Path's default escaping is not how the client wrote it.
		return false
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	return clean == u.Path
}

func (s *Server) pathKnown(r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			return true
		}
	}
	return false
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}
