package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
)

// summary adds up the metrics the services write (EMF lines on their
// stdout, as CloudWatch would) for a one-line-per-service report while
// orders flow: what an operator's dashboard would show, in the terminal.
// Like a dashboard of one environment, it reads only the metrics that name
// its environment (the env dimension every line carries).
type summary struct {
	env     string
	mu      sync.Mutex
	totals  map[string]map[string]float64 // service → "Metric" or "Metric{outcome}" → sum
	changed bool
}

// newSummary returns a summary of environment env's metrics.
func newSummary(env string) *summary {
	return &summary{env: env, totals: map[string]map[string]float64{}}
}

// feed takes one line a service wrote; lines that are not EMF, or not of
// the summary's environment, are ignored.
func (s *summary) feed(_ string, line []byte) {
	l, err := metrics.Parse(line)
	if err != nil {
		return // a log line (ErrNotEMF), or a malformed one: the services' tests catch those
	}
	if l.Dims[metrics.DimEnv] != s.env {
		return // another environment's series, or none named: not this dashboard's
	}
	svc := l.Dims[metrics.DimService]
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.totals[svc]
	if t == nil {
		t = map[string]float64{}
		s.totals[svc] = t
	}
	for name := range l.Values {
		switch name {
		case metrics.OrdersPlaced, metrics.OrdersPublished, metrics.PublishFailures:
			t[name] += l.Sum(name)
		case metrics.Messages:
			t[name+"{"+l.Dims[metrics.DimOutcome]+"}"] += l.Sum(name)
		case metrics.OutboxPending:
			t[name] = l.Sum(name) // a gauge: the latest
		default:
			continue
		}
		s.changed = true
	}
}

// lines is the report: one line per service that has written metrics.
func (s *summary) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if t, ok := s.totals["publisher"]; ok {
		out = append(out, fmt.Sprintf("publisher   placed %.0f, published %.0f, publish failures %.0f, in the outbox %.0f",
			t[metrics.OrdersPlaced], t[metrics.OrdersPublished], t[metrics.PublishFailures], t[metrics.OutboxPending]))
	}
	for _, w := range []struct{ svc, done string }{{"fulfilment", "processed"}, {"promotion", "coupons"}} {
		t, ok := s.totals[w.svc]
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf("%-11s %s %.0f, duplicates %.0f, retries %.0f, in DLQ %.0f", w.svc, w.done,
			t["Messages{"+metrics.OutcomeProcessed+"}"], t["Messages{"+metrics.OutcomeDuplicate+"}"],
			t["Messages{"+metrics.OutcomeRetry+"}"], t["Messages{"+metrics.OutcomeDeadLettered+"}"]))
	}
	return out
}

// report prints the summary every interval in which new metrics arrived,
// until ctx ends.
func (s *summary) report(ctx context.Context, w io.Writer, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		changed := s.changed
		s.changed = false
		s.mu.Unlock()
		if !changed {
			continue
		}
		for _, l := range s.lines() {
			fmt.Fprintf(w, "dev: %s\n", l)
		}
	}
}
