package web

import (
	"time"

	"github.com/pubsub-app/pubsub/internal/tracing"
)

// exitSlack is what the publisher's exit takes past the span flush: the last
// interval's metrics written to stdout, and the process gone.
const exitSlack = time.Second

// MaxStopTimeout is the longest stop timeout Fargate allows a container.
const MaxStopTimeout = 2 * time.Minute

// StopBudget is the longest the publisher takes from SIGTERM to exit when it
// drains for drain (SHUTDOWN_TIMEOUT): the drain, which requests in flight
// and the outbox relay's last publish share (cmd/publisher stops waiting for
// either at its end), then the flush of the buffered spans
// (tracing.FlushTimeout), then exitSlack. The task's StopTimeout must exceed
// it, or ECS kills the publisher (SIGKILL) before it is done.
func StopBudget(drain time.Duration) time.Duration {
	return drain + tracing.FlushTimeout + exitSlack
}
