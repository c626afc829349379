package worker

import (
	"errors"
	"fmt"
	"time"
)

// MaxWaitTime is SQS's longest long poll: the fewest empty receives. A
// stopping engine lets its poll finish, so this also bounds how long a stop
// can wait on one.
const MaxWaitTime = 20 * time.Second

// VisibilityCeiling is the longest SQS keeps a received message hidden,
// counted from its receipt, however often its visibility is extended.
const VisibilityCeiling = 12 * time.Hour

// MaxHandlerTimeout caps HandlerTimeout well below VisibilityCeiling: a
// message may have waited, received ahead, before its handler started.
const MaxHandlerTimeout = VisibilityCeiling / 2

// Config tunes the engine. Every field is required: the binaries take the
// values, defaults included, from their environment (cmd/internal/workerconf).
type Config struct {
	QueueURL string
	// Name is the service's, for the span of each message: "<Name> process".
	Name string
	// TopicARN is the ARN of the only topic whose notifications are
	// accepted, compared whole (partition, region, account and name): any
	// other notification is poison, and nothing in it, its trace context
	// included, is read.
	TopicARN string
	// MaxReceives is the queue's dead_letter.tries: a malformed message
	// received this often goes to the DLQ next. It only labels logs and
	// metrics; SQS's redrive policy does the moving.
	MaxReceives int
	// Concurrency is the number of handlers running at once. One more batch
	// of 10 is received ahead, so receives are always full and handlers never
	// wait on one.
	Concurrency int
	// WaitTime is the long-poll wait of each receive, at most MaxWaitTime.
	WaitTime time.Duration
	// VisibilityTimeout is the queue's visibility timeout, at least 1s; a
	// handler running longer has its message's visibility extended.
	VisibilityTimeout time.Duration
	// DrainTimeout bounds how long in-flight handlers may run after the
	// context is cancelled (below ECS's stop timeout). Keep it at least
	// WaitTime: the receive in flight is let finish too.
	DrainTimeout time.Duration
	// RetryBase and RetryMax bound the back-off after a handler error: the
	// message becomes visible again after RetryBase × 2^(receives-1), at most
	// RetryMax.
	RetryBase, RetryMax time.Duration
	// PoisonDelay is how long a malformed message stays hidden before SQS
	// redelivers it on its way to the DLQ.
	PoisonDelay time.Duration
	// HandlerTimeout is the deadline of each handler's context, at most
	// MaxHandlerTimeout. Without one, a call that hangs (a black-holed
	// connection, a dependency that accepts and never answers) holds its
	// slot, and the heartbeat keeps its message hidden, until SQS's 12-hour
	// visibility ceiling. A handler that runs out of time fails like any
	// other: its message is handed back with its back-off, and the deadline
	// counts as a dependency's failure (see Transient), so receiving pauses
	// and the dependency is probed.
	HandlerTimeout time.Duration
}

// validate refuses a configuration the engine cannot run on, naming the
// field; the binaries check the same values first, naming their variables.
func (c Config) validate() error {
	var errs []error
	check := func(ok bool, field, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("worker.Config.%s: want %s", field, want))
		}
	}
	check(c.QueueURL != "", "QueueURL", "the queue's URL")
	check(c.Name != "", "Name", "the service's name")
	check(c.TopicARN != "", "TopicARN", "the ARN of the topic whose notifications are accepted")
	check(c.MaxReceives > 0, "MaxReceives", "a positive number")
	check(c.Concurrency > 0, "Concurrency", "a positive number")
	check(c.WaitTime >= time.Second && c.WaitTime <= MaxWaitTime, "WaitTime", "1s to "+MaxWaitTime.String())
	check(c.VisibilityTimeout >= time.Second && c.VisibilityTimeout <= VisibilityCeiling, "VisibilityTimeout", "1s to "+VisibilityCeiling.String())
	check(c.DrainTimeout > 0, "DrainTimeout", "a positive duration")
	check(c.RetryBase > 0 && c.RetryMax >= c.RetryBase, "RetryMax", "at least RetryBase, and RetryBase positive")
	check(c.PoisonDelay > 0, "PoisonDelay", "a positive duration")
	check(c.HandlerTimeout > 0 && c.HandlerTimeout <= MaxHandlerTimeout, "HandlerTimeout", "a positive duration up to "+MaxHandlerTimeout.String())
	return errors.Join(errs...)
}

// The back-off between probes of a failing dependency while receiving is
// paused, and the bound of one probe.
const (
	probeBase    = time.Second
	probeMax     = 30 * time.Second
	probeTimeout = 5 * time.Second
)
