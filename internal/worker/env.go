package worker

import (
	"fmt"
	"time"

	"github.com/pubsub-app/pubsub/internal/copilotenv"
)

// ConfigFromEnv reads the engine's configuration: the queue from
// COPILOT_QUEUE_URI; the topic the queue subscribes to, named as Copilot
// names it, from COPILOT_APPLICATION_NAME and COPILOT_ENVIRONMENT_NAME and
// the subscription (publisher service, topic); and our own tuning variables,
// each optional: WORKER_CONCURRENCY, WORKER_MAX_RECEIVES (the manifest's
// dead_letter.tries), WORKER_WAIT_TIME, WORKER_VISIBILITY_TIMEOUT (the
// manifest's queue timeout), WORKER_DRAIN_TIMEOUT, WORKER_RETRY_BASE,
// WORKER_RETRY_MAX, WORKER_POISON_DELAY and WORKER_STATS_INTERVAL.
func ConfigFromEnv(getenv copilotenv.Getenv, publisher, topic string) (Config, error) {
	var c Config
	var err error
	if c.QueueURL, err = copilotenv.Required(getenv, "COPILOT_QUEUE_URI"); err != nil {
		return c, err
	}
	app, err := copilotenv.Required(getenv, "COPILOT_APPLICATION_NAME")
	if err != nil {
		return c, err
	}
	env, err := copilotenv.Required(getenv, "COPILOT_ENVIRONMENT_NAME")
	if err != nil {
		return c, err
	}
	c.Topic = fmt.Sprintf("%s-%s-%s-%s", app, env, publisher, topic)
	if c.Concurrency, err = copilotenv.Int(getenv, "WORKER_CONCURRENCY", 0); err != nil {
		return c, err
	}
	if c.MaxReceives, err = copilotenv.Int(getenv, "WORKER_MAX_RECEIVES", 0); err != nil {
		return c, err
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"WORKER_WAIT_TIME", &c.WaitTime},
		{"WORKER_VISIBILITY_TIMEOUT", &c.VisibilityTimeout},
		{"WORKER_DRAIN_TIMEOUT", &c.DrainTimeout},
		{"WORKER_RETRY_BASE", &c.RetryBase},
		{"WORKER_RETRY_MAX", &c.RetryMax},
		{"WORKER_POISON_DELAY", &c.PoisonDelay},
		{"WORKER_STATS_INTERVAL", &c.StatsInterval},
	} {
		if *d.dst, err = copilotenv.Duration(getenv, d.name, 0); err != nil {
			return c, err
		}
		// SQS takes whole seconds; 500ms would silently become 0 (a busy
		// short poll, or a visibility that hides nothing).
		if *d.dst%time.Second != 0 && d.name != "WORKER_DRAIN_TIMEOUT" && d.name != "WORKER_STATS_INTERVAL" {
			return c, fmt.Errorf("%s=%q: SQS takes whole seconds, such as 1s or 20s", d.name, getenv(d.name))
		}
	}
	c.setDefaults()
	return c, nil
}
