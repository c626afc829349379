package worker

import (
	"time"
)

// MaxWaitTime is SQS's longest long poll, and the engine's default: the
// fewest empty receives. A stopping engine lets its poll finish, so this also
// bounds how long a stop can wait on one.
const MaxWaitTime = 20 * time.Second

// VisibilityCeiling is the longest SQS keeps a received message hidden,
// counted from its receipt, however often its visibility is extended.
const VisibilityCeiling = 12 * time.Hour

// MaxHandlerTimeout caps HandlerTimeout well below VisibilityCeiling: a
// message may have waited, received ahead, before its handler started.
const MaxHandlerTimeout = VisibilityCeiling / 2

// Config tunes the engine. Zero values take the defaults noted.
type Config struct {
	QueueURL string
	// Name is the service's, for the span of each message: "<Name> process"
	// (default "worker").
	Name string
	// TopicARN, when set, is the ARN of the only topic whose notifications
	// are accepted, compared whole (partition, region, account and name):
	// any other notification is poison, and nothing in it, its trace context
	// included, is read. The binaries set it from the queue's URL and the
	// names Copilot injects (cmd/internal/workerconf).
	TopicARN string
	// Topic, when set and TopicARN is not, is the name of the only topic
	// whose notifications are accepted (the last part of the envelope's
	// TopicArn). A name alone also accepts a forged notification from a
	// topic of that name in any account or region: it is left for tools
	// that know only the name (bench); a service sets TopicARN.
	Topic string
	// MaxReceives is the queue's dead_letter.tries: a malformed message
	// received this often goes to the DLQ next (default 3). It only labels
	// logs and counters; SQS's redrive policy does the moving.
	MaxReceives int
	// Concurrency is the number of handlers running at once (default 10).
	// One more batch of 10 is received ahead, so receives are always full
	// and handlers never wait on one.
	Concurrency int
	// WaitTime is the long-poll wait of each receive (default 20s, at most 20s).
	WaitTime time.Duration
	// VisibilityTimeout is the queue's visibility timeout; a handler running
	// longer has its message's visibility extended (default 30s).
	VisibilityTimeout time.Duration
	// DrainTimeout bounds how long in-flight handlers may run after the
	// context is cancelled (default 20s, below ECS's 30s stop timeout). Keep
	// it at least WaitTime: the receive in flight is let finish too.
	DrainTimeout time.Duration
	// RetryBase and RetryMax bound the back-off after a handler error: the
	// message becomes visible again after RetryBase × 2^(receives-1), at most
	// RetryMax (defaults 2s and 5m).
	RetryBase, RetryMax time.Duration
	// PoisonDelay is how long a malformed message stays hidden before SQS
	// redelivers it on its way to the DLQ (default 1s).
	PoisonDelay time.Duration
	// StatsInterval is how often the counters are logged (default 1m).
	StatsInterval time.Duration
	// HandlerTimeout is the deadline of each handler's context (default 5m,
	// at most MaxHandlerTimeout). Without one, a call that hangs (a
	// black-holed connection, a dependency that accepts and never answers)
	// holds its slot, and the heartbeat keeps its message hidden, until SQS's
	// 12-hour visibility ceiling. A handler that runs out of time fails like
	// any other: its message is handed back with its back-off, and the
	// deadline counts as a dependency's failure (see Transient), so
	// receiving pauses and the dependency is probed. The default is far
	// above a healthy handler's few DynamoDB calls, SDK retries included.
	HandlerTimeout time.Duration
	// ProbeBase and ProbeMax bound the back-off between probes of a failing
	// dependency while receiving is paused (defaults 1s and 30s);
	// ProbeTimeout bounds one probe (default 5s).
	ProbeBase, ProbeMax, ProbeTimeout time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 10
	}
	if c.MaxReceives <= 0 {
		c.MaxReceives = 3
	}
	def(&c.WaitTime, MaxWaitTime)
	c.WaitTime = min(c.WaitTime, MaxWaitTime)
	def(&c.VisibilityTimeout, 30*time.Second)
	c.VisibilityTimeout = max(c.VisibilityTimeout, time.Second) // SQS counts whole seconds
	def(&c.DrainTimeout, 20*time.Second)
	def(&c.RetryBase, 2*time.Second)
	def(&c.RetryMax, 5*time.Minute)
	def(&c.PoisonDelay, time.Second)
	def(&c.StatsInterval, time.Minute)
	def(&c.HandlerTimeout, 5*time.Minute)
	c.HandlerTimeout = min(c.HandlerTimeout, MaxHandlerTimeout)
	def(&c.ProbeBase, time.Second)
	def(&c.ProbeMax, 30*time.Second)
	def(&c.ProbeTimeout, 5*time.Second)
}
