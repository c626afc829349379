package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/telemetry"
	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/journey"
	"github.com/pubsub-app/pubsub/internal/web"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, done, err := envconf.Configure[Config]("publisher", args, getenv, stdout)
	if done {
		return err
	}
	tel, err := telemetry.Start(ctx, stdout, "publisher", cfg.Config)
	if err != nil {
		return err
	}
	defer tel.Stop() // after the drain: the last spans and metrics
	log, rec, awsCfg := tel.Log, tel.Metrics, tel.AWS

	// Services.
	db := dynamodb.NewFromConfig(awsCfg)
	store := checkoutdb.New(db, cfg.OrdersTable)
	// The order page's view of the workers' tables: GetItem only.
	journeyReader := journey.NewReader(db, cfg.FulfilmentsTable, cfg.CouponsTable)
	pub := events.NewPublisher(sns.NewFromConfig(awsCfg), cfg.TopicARN())
	svc := checkout.NewService(store, pub, log, time.Now, cfg.Outbox()).WithMetrics(rec)
	outboxCtx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); svc.RunOutbox(outboxCtx) }()

	// Server.
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.Port)),
		Handler:           web.NewServer(svc, store, log, web.RandomSample, web.WithJourney(journeyReader), web.WithMetrics(rec)),
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
	log.Info("publisher listening", "addr", ln.Addr().String(), "orders_table", cfg.OrdersTable, "topic_arn", cfg.TopicARN(),
		"fulfilments_table", cfg.FulfilmentsTable, "coupons_table", cfg.CouponsTable)
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
