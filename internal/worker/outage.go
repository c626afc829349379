package worker

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/pubsub-app/pubsub/internal/backoff"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// Prober is what a handler offers to tell whether the dependency it failed
// on answers again: a cheap call that reaches the dependency as Handle does
// and changes nothing. While a dependency is down, the engine probes it
// instead of receiving messages, whose receive counts each failure would
// burn on their way to the dead-letter queue. A Handler that is not a Prober
// is probed with the next message once the back-off has passed.
type Prober interface {
	Probe(ctx context.Context) error
}

// Transient reports whether a handler's error is a dependency's bad minute
// rather than the message's fault: throttling, a 5xx, a timeout, a
// connection that failed. The AWS SDK has already retried such a call by
// the time the handler returns it.
func Transient(err error) bool {
	switch {
	case err == nil, errors.Is(err, ErrPermanent):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary,
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary:
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// gate holds receiving (and the start of messages received ahead) while a
// dependency is down.
type gate struct {
	mu     sync.Mutex
	open   chan struct{} // closed while receiving may go on
	paused time.Time     // when it closed, zero while open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

// wait blocks while the gate is closed; false if ctx ended first.
func (g *gate) wait(ctx context.Context) bool {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return true
	case <-ctx.Done():
		return false
	}
}

// close shuts the gate; it reports whether it was open, so exactly one
// caller goes on to probe.
func (g *gate) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused.IsZero() {
		return false
	}
	g.paused = time.Now()
	g.open = make(chan struct{})
	return true
}

// reopen opens the gate and returns how long it was shut.
func (g *gate) reopen() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused.IsZero() {
		return 0
	}
	d := time.Since(g.paused)
	g.paused = time.Time{}
	close(g.open)
	return d
}

// outage pauses receiving after a handler's transient failure and probes
// the dependency until it answers; the first failing handler starts it,
// the others find the gate shut already.
func (e *Engine) outage(ctx context.Context, cause error) {
	if !e.gate.close() {
		return
	}
	e.metrics.Add(metrics.ReceivePauses, 1)
	e.log.Warn("dependency failing: receiving paused, probing it", "error", cause.Error())
	go e.probe(ctx)
}

// probe tries the dependency with growing back-off until it answers, or the
// engine stops (then the drain needs the gate open), and reopens the gate.
func (e *Engine) probe(ctx context.Context) {
	prober, _ := e.handler.(Prober)
	for attempt := 1; ; attempt++ {
		sleep(ctx, backoff.Delay(probeBase, probeMax, attempt))
		if ctx.Err() != nil {
			e.gate.reopen()
			return
		}
		if prober == nil {
			break // try the next message
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := prober.Probe(pctx)
		cancel()
		if err == nil || !Transient(err) {
			break
		}
		e.log.Info("dependency still failing", "probe", attempt, "error", err.Error())
	}
	paused := e.gate.reopen()
	e.log.Info("dependency answers again: receiving resumed", "paused_for", paused.Round(time.Millisecond).String())
}
