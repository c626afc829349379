package worker

import (
	"context"
	"time"
)

// Stats are the engine's counters since it started. Poison counts receives
// of malformed messages; DeadLettered those among them that were the last
// receive before the DLQ; Pauses the times receiving paused for a failing
// dependency.
type Stats struct {
	Received, Succeeded, Failed, Poison, DeadLettered, Released, Pauses int64
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Received:     e.received.Load(),
		Succeeded:    e.succeeded.Load(),
		Failed:       e.failed.Load(),
		Poison:       e.poison.Load(),
		DeadLettered: e.deadLettered.Load(),
		Released:     e.released.Load(),
		Pauses:       e.pauses.Load(),
	}
}

func (e *Engine) logStats(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(e.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.log.Info("worker stats", statsAttrs(e.Stats())...)
		}
	}
}

func statsAttrs(s Stats) []any {
	return []any{"received", s.Received, "succeeded", s.Succeeded, "failed", s.Failed, "poison", s.Poison, "dead_lettered", s.DeadLettered, "released", s.Released, "pauses", s.Pauses}
}
