package main

import (
	"net"
	"regexp"
	"time"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/telemetry"
	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/web"
)

// Config is the publisher's configuration.
type Config struct {
	// The listen port; the manifest's image.port.
	Port int `env:"PORT, default=5000"`
	// The listen host; "" is every interface (on ECS the load balancer reaches
	// the task's network interface). make run sets 127.0.0.1.
	ListenHost string `env:"LISTEN_HOST"`
	// From the ordersTable addon's output ordersTableName.
	OrdersTable string `env:"ORDERS_TABLE_NAME, required"`
	// The workers' tables, which the order page reads (GetItem only) to show
	// the order's journey; set in the manifest's variables, under the names
	// the workers get them by. Required: a deploy without them would show
	// every order's journey as unknown, so the task stops at start-up instead.
	FulfilmentsTable string `env:"FULFILMENTS_TABLE_NAME, required"`
	CouponsTable     string `env:"COUPONS_TABLE_NAME, required"`
	// Injected by Copilot for publish.topics; must hold events.Topic (ordersTopic).
	TopicARNs copilot.TopicARNs `env:"COPILOT_SNS_TOPIC_ARNS, required"`
	// How long requests in flight and the outbox's last publish may finish
	// after SIGTERM. With the span flush after it (web.StopBudget) it must
	// end before the task's StopTimeout.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=20s"`

	// Placing and publishing (checkout.Config): one publish's timeout, which
	// must be shorter than the lease a claimed order is reserved for; one
	// store call's; how often the outbox is polled, and how many due orders
	// a poll reads from each shard; the back-off between failed publishes of
	// one order.
	PublishTimeout  time.Duration `env:"PUBLISH_TIMEOUT, default=5s"`
	StoreTimeout    time.Duration `env:"STORE_TIMEOUT, default=5s"`
	OutboxLease     time.Duration `env:"OUTBOX_LEASE, default=30s"`
	OutboxInterval  time.Duration `env:"OUTBOX_INTERVAL, default=2s"`
	OutboxBatch     int           `env:"OUTBOX_BATCH, default=25"`
	OutboxRetryBase time.Duration `env:"OUTBOX_RETRY_BASE, default=2s"`
	OutboxRetryMax  time.Duration `env:"OUTBOX_RETRY_MAX, default=1m"`

	// Logs, metrics and traces.
	Telemetry telemetry.Config
}

// Validate checks the values as the publisher uses them.
func (c *Config) Validate(chk *envconf.Check) {
	if c.ListenHost != "" && net.ParseIP(c.ListenHost) == nil {
		chk.Failf(&c.ListenHost, "want an IP address, or empty for every interface")
	}
	chk.Int(&c.Port, 1, 65535)
	// Written by hand in the manifest (an addon output is CloudFormation's
	// own): a value Copilot did not interpolate fails here, not on every read.
	for _, t := range []*string{&c.FulfilmentsTable, &c.CouponsTable} {
		if !tableName.MatchString(*t) {
			chk.Failf(t, "want a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'")
		}
	}
	if _, err := c.TopicARNs.ARN(events.Topic); err != nil {
		chk.Failf(&c.TopicARNs, "want the topic %q (the manifest's publish.topics declares the topics)", events.Topic)
	}
	chk.Duration(&c.ShutdownTimeout, time.Millisecond, web.MaxStopTimeout)
	if b := web.StopBudget(c.ShutdownTimeout); c.ShutdownTimeout > 0 && b >= web.MaxStopTimeout {
		chk.Failf(&c.ShutdownTimeout, "want at most %s: with the span flush and the exit after it the shutdown takes %s, and must end before the task's StopTimeout, at most %s on Fargate",
			web.MaxStopTimeout-(b-c.ShutdownTimeout)-time.Second, b, web.MaxStopTimeout)
	}
	for _, d := range []*time.Duration{&c.PublishTimeout, &c.StoreTimeout, &c.OutboxLease, &c.OutboxInterval, &c.OutboxRetryBase, &c.OutboxRetryMax} {
		chk.Duration(d, time.Millisecond, time.Hour)
	}
	chk.Int(&c.OutboxBatch, 1, 1000)
	if c.PublishTimeout >= c.OutboxLease {
		chk.Failf(&c.PublishTimeout, "want it shorter than %s (%s), or a publish still running could see its order claimed again", chk.Name(&c.OutboxLease), c.OutboxLease)
	}
	if c.OutboxRetryMax < c.OutboxRetryBase {
		chk.Failf(&c.OutboxRetryMax, "want at least %s (%s)", chk.Name(&c.OutboxRetryBase), c.OutboxRetryBase)
	}
}

// tableName is what DynamoDB accepts as a table name.
var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// TopicARN is the ARN of the orders topic.
func (c Config) TopicARN() string { return c.TopicARNs[events.Topic] }

// Checkout is the tuning of placing and publishing orders.
func (c Config) Checkout() checkout.Config {
	return checkout.Config{
		PublishTimeout: c.PublishTimeout,
		StoreTimeout:   c.StoreTimeout,
		Lease:          c.OutboxLease,
		RetryBase:      c.OutboxRetryBase,
		RetryMax:       c.OutboxRetryMax,
		Interval:       c.OutboxInterval,
		Batch:          c.OutboxBatch,
	}
}
