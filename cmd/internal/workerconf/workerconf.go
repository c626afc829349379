// Package workerconf is the part of the configuration both worker binaries
// share: the queue and names Copilot injects into a Worker Service, the
// engine's tuning variables and the telemetry's. Each worker's own Config
// (cmd/<worker>/config.go) holds it as its field Worker, next to its table;
// Run is the run both binaries share.
package workerconf

import (
	"time"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/telemetry"
	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// Config is a worker's queue and tuning; its env tags are the engine's only defaults.
type Config struct {
	// Injected by Copilot: the worker's queue, and the application's name,
	// which with the environment's (Telemetry.Env) names the topic it
	// subscribes to (copilot.TopicName). The topic's ARN takes its region
	// and account from the queue's URL (TopicARN).
	QueueURL string `env:"COPILOT_QUEUE_URI, required"`
	App      string `env:"COPILOT_APPLICATION_NAME, required"`
	// The region the SDK is configured with (it reads AWS_REGION, else
	// AWS_DEFAULT_REGION; ECS sets both): the queue's, when its URL does not
	// name one, as an emulator's does not.
	Region        string `env:"AWS_REGION"`
	DefaultRegion string `env:"AWS_DEFAULT_REGION"`

	// Handlers running at once.
	Concurrency int `env:"WORKER_CONCURRENCY, default=10"`
	// The queue's dead_letter.tries: labels a malformed message's last receive.
	MaxReceives int `env:"WORKER_MAX_RECEIVES, default=3"`
	// Long-poll wait of each receive.
	WaitTime time.Duration `env:"WORKER_WAIT_TIME, default=20s"`
	// The queue's visibility timeout (subscribe.queue.timeout).
	VisibilityTimeout time.Duration `env:"WORKER_VISIBILITY_TIMEOUT, default=30s"`
	// How long in-flight work may finish after SIGTERM; below the task's StopTimeout.
	DrainTimeout time.Duration `env:"WORKER_DRAIN_TIMEOUT, default=20s"`
	// Back-off after a handler error: base doubling to max.
	RetryBase time.Duration `env:"WORKER_RETRY_BASE, default=2s"`
	RetryMax  time.Duration `env:"WORKER_RETRY_MAX, default=5m"`
	// How soon a malformed message is redelivered on its way to the DLQ.
	PoisonDelay time.Duration `env:"WORKER_POISON_DELAY, default=1s"`
	// How long one handler may run before its message is retried: a hung
	// call must not hold a slot (its message kept hidden) for hours.
	HandlerTimeout time.Duration `env:"WORKER_HANDLER_TIMEOUT, default=5m"`

	// Logs, metrics and traces.
	Telemetry telemetry.Config
}

// SQS limits: maxReceiveCount is 1 to 1000; a visibility timeout at most 12 hours.
const (
	maxReceiveCount = 1000
	maxVisibility   = 12 * time.Hour
)

// Validate checks the values against what SQS and the engine accept.
func (c *Config) Validate(chk *envconf.Check) {
	if _, err := c.TopicARN(); err != nil {
		chk.Failf(&c.QueueURL, "%v", err)
	}
	chk.Int(&c.Concurrency, 1, 1000)
	chk.Int(&c.MaxReceives, 1, maxReceiveCount)
	chk.Seconds(&c.WaitTime, time.Second, worker.MaxWaitTime)
	chk.Seconds(&c.VisibilityTimeout, time.Second, maxVisibility)
	chk.Duration(&c.DrainTimeout, time.Millisecond, time.Hour)
	if c.DrainTimeout < c.WaitTime {
		// A stopping worker lets its long poll finish, within the drain.
		chk.Failf(&c.DrainTimeout, "want at least %s (%s): a stopping worker lets its long poll finish", chk.Name(&c.WaitTime), c.WaitTime)
	}
	chk.Seconds(&c.RetryBase, time.Second, maxVisibility)
	chk.Seconds(&c.RetryMax, time.Second, maxVisibility)
	if c.RetryMax < c.RetryBase {
		chk.Failf(&c.RetryMax, "want at least %s (%s)", chk.Name(&c.RetryBase), c.RetryBase)
	}
	chk.Seconds(&c.PoisonDelay, time.Second, maxVisibility)
	chk.Duration(&c.HandlerTimeout, time.Second, worker.MaxHandlerTimeout)
}

// TopicARN is the ARN of the only topic whose notifications the worker
// accepts: the publisher's orders topic, as Copilot names it, in the
// partition, region and account of the worker's queue (an environment's
// topic and queues live together).
func (c Config) TopicARN() (string, error) {
	region := c.Region
	if region == "" {
		region = c.DefaultRegion
	}
	loc, err := copilot.QueueLocation(c.QueueURL, region)
	if err != nil {
		return "", err
	}
	return loc.TopicARN(c.App, c.Telemetry.Env, events.PublisherService, events.Topic), nil
}

// Engine is the configuration of the engine of service name: the queue,
// and the only topic whose notifications it accepts (TopicARN). It panics on
// a configuration that Validate refuses: an engine that accepted any topic
// is not the fallback.
func (c Config) Engine(name string) worker.Config {
	topic, err := c.TopicARN()
	if err != nil {
		panic("workerconf: Engine of a configuration Validate refuses: " + err.Error())
	}
	return worker.Config{
		QueueURL:          c.QueueURL,
		Name:              name,
		TopicARN:          topic,
		MaxReceives:       c.MaxReceives,
		Concurrency:       c.Concurrency,
		WaitTime:          c.WaitTime,
		VisibilityTimeout: c.VisibilityTimeout,
		DrainTimeout:      c.DrainTimeout,
		RetryBase:         c.RetryBase,
		RetryMax:          c.RetryMax,
		PoisonDelay:       c.PoisonDelay,
		HandlerTimeout:    c.HandlerTimeout,
	}
}
