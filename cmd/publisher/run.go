package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/copilotenv"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/logging"
	"github.com/pubsub-app/pubsub/internal/web"
)

// Config is the publisher's configuration.
type Config struct {
	Port            int           // PORT, default 5000
	OrdersTable     string        // ORDERS_TABLE_NAME, from the ordersTable addon
	TopicARN        string        // events.Topic (ordersTopic) in COPILOT_SNS_TOPIC_ARNS
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 20s
	// Outbox tuning: PUBLISH_TIMEOUT, OUTBOX_INTERVAL, OUTBOX_LEASE,
	// OUTBOX_RETRY_BASE and OUTBOX_RETRY_MAX (defaults in checkout.Options).
	Outbox checkout.Options
}

func loadConfig(getenv copilotenv.Getenv) (Config, error) {
	var c Config
	var err error
	if c.Port, err = copilotenv.Int(getenv, "PORT", 5000); err != nil {
		return c, err
	}
	if c.OrdersTable, err = copilotenv.Required(getenv, "ORDERS_TABLE_NAME"); err != nil {
		return c, err
	}
	if c.TopicARN, err = copilotenv.TopicARN(getenv, events.Topic); err != nil {
		return c, err
	}
	if c.ShutdownTimeout, err = copilotenv.Duration(getenv, "SHUTDOWN_TIMEOUT", 20*time.Second); err != nil {
		return c, err
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"PUBLISH_TIMEOUT", &c.Outbox.PublishTimeout},
		{"OUTBOX_INTERVAL", &c.Outbox.Interval},
		{"OUTBOX_LEASE", &c.Outbox.Lease},
		{"OUTBOX_RETRY_BASE", &c.Outbox.RetryBase},
		{"OUTBOX_RETRY_MAX", &c.Outbox.RetryMax},
	} {
		if *d.dst, err = copilotenv.Duration(getenv, d.name, 0); err != nil {
			return c, err
		}
	}
	if c.Outbox.Lease > 0 && c.Outbox.PublishTimeout >= c.Outbox.Lease {
		return c, fmt.Errorf("PUBLISH_TIMEOUT (%s) must be shorter than OUTBOX_LEASE (%s)", c.Outbox.PublishTimeout, c.Outbox.Lease)
	}
	return c, nil
}

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	log := logging.New(stdout, "publisher", getenv("LOG_LEVEL"))

	// Configuration.
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configure publisher: %w", err)
	}

	// AWS: region, credentials and endpoints come from the SDK's own loading.
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}

	// Services.
	store := checkoutdb.New(dynamodb.NewFromConfig(awsCfg), cfg.OrdersTable)
	pub := events.NewPublisher(sns.NewFromConfig(awsCfg), cfg.TopicARN)
	svc := checkout.NewService(store, pub, log, time.Now, cfg.Outbox)
	outboxCtx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); svc.RunOutbox(outboxCtx) }()

	// Server.
	srv := &http.Server{
		Addr:              fmt.Sprintf(":%d", cfg.Port),
		Handler:           web.NewServer(svc, store, log, web.RandomSample),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	log.Info("publisher listening", "addr", ln.Addr().String(), "orders_table", cfg.OrdersTable, "topic_arn", cfg.TopicARN)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	// Shutdown: stop accepting, let requests in flight finish.
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	stopOutbox()
	<-outboxDone
	log.Info("publisher stopped")
	return nil
}
