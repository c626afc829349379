package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// emit returns the EMF lines a service's recorder writes for what rec does,
// in environment "local".
func emit(t *testing.T, svc string, rec func(*metrics.Recorder)) [][]byte {
	t.Helper()
	return emitIn(t, "local", svc, rec)
}

// emitIn is emit in environment env.
func emitIn(t *testing.T, env, svc string, rec func(*metrics.Recorder)) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	r := metrics.New(&buf, svc, env, time.Now)
	rec(r)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
}

func TestSummaryAddsUpTheServicesMetrics(t *testing.T) {
	s := newSummary("local")
	feed := func(svc string, lines [][]byte) {
		for _, l := range lines {
			s.feed(svc, l)
		}
	}
	outcome := func(o string) metrics.Dim { return metrics.Dim{Name: metrics.DimOutcome, Value: o} }
	// Every figure of the summary has metrics to add up, each a different number: a 0 would
	// pass with the metric misnamed (the summary prints 0 for what it never finds).
	for range 2 { // two intervals add up
		feed("publisher", emit(t, "publisher", func(r *metrics.Recorder) {
			r.Add(metrics.OrdersPlaced, 3)
			r.Add(metrics.OrdersPublished, 2)
			r.Add(metrics.PublishFailures, 4)
			r.Set(metrics.OutboxPending, metrics.Count, 1)
		}))
		feed("fulfilment", emit(t, "fulfilment", func(r *metrics.Recorder) {
			r.Add(metrics.Messages, 2, outcome(metrics.OutcomeProcessed))
			r.Add(metrics.Messages, 1, outcome(metrics.OutcomeDuplicate))
			r.Add(metrics.Messages, 3, outcome(metrics.OutcomeRetry))
			r.Add(metrics.Messages, 4, outcome(metrics.OutcomeDeadLettered))
		}))
	}
	feed("promotion", emit(t, "promotion", func(r *metrics.Recorder) {
		r.Add(metrics.Messages, 1, outcome(metrics.OutcomeProcessed))
		r.Add(metrics.Messages, 2, outcome(metrics.OutcomeDuplicate))
		r.Add(metrics.Messages, 3, outcome(metrics.OutcomeRetry))
		r.Add(metrics.Messages, 4, outcome(metrics.OutcomeDeadLettered))
	}))
	s.feed("promotion", []byte(`{"level":"INFO","msg":"message processed"}`)) // a log line
	// Another environment's metrics (the dev tool reads only its own).
	feed("publisher", emitIn(t, "production", "publisher", func(r *metrics.Recorder) { r.Add(metrics.OrdersPlaced, 100) }))
	feed("fulfilment", emitIn(t, "production", "fulfilment", func(r *metrics.Recorder) {
		r.Add(metrics.Messages, 100, outcome(metrics.OutcomeProcessed))
	}))

	want := []string{
		"publisher   placed 6, published 4, publish failures 8, in the outbox 1",
		"fulfilment  processed 4, duplicates 2, retries 6, in DLQ 8",
		"promotion   coupons 1, duplicates 2, retries 3, in DLQ 4",
	}
	if got := s.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// It is printed once per interval with news, not while nothing flows.
	synctest.Test(t, func(t *testing.T) {
		var out integration.SyncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.report(ctx, &out, 10*time.Second) }()
		time.Sleep(time.Minute) // six intervals, the first with news
		cancel()
		<-done
		if n := strings.Count(out.String(), "dev: publisher"); n != 1 {
			t.Errorf("printed the summary %d times in idle intervals after one with news; want once:\n%s", n, out.String())
		}
	})
}
