package web

import (
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
)

// WithMetrics records each request's latency on m, by route: the pattern it
// matched ("POST /orders", "GET /orders/{id}", ...) or "unmatched", so the
// dimension's values stay few whatever paths clients try.
func WithMetrics(m *metrics.Recorder) Option {
	return func(s *Server) { s.metrics = m }
}

func (s *Server) observe(pattern string, start time.Time) {
	if pattern == "" {
		pattern = "unmatched"
	}
	s.metrics.Since(metrics.RequestLatency, start, metrics.Dim{Name: metrics.DimRoute, Value: pattern})
}
