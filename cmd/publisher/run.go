package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	tel, err := telemetry.Start(ctx, stdout, "publisher", cfg.Telemetry)
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
	svc, err := checkout.NewService(store, pub, time.Now, cfg.Checkout(), log, rec)
	if err != nil {
		return err
	}
	outboxCtx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); svc.RunOutbox(outboxCtx) }()

	// Server.
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.Port)),
		Handler:           web.NewServer(svc, store, journeyReader, web.RandomSample, time.Now, log, rec),
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

	// Shutdown, all of it within web.StopBudget(SHUTDOWN_TIMEOUT), below the
	// task's StopTimeout: stop accepting, let requests in flight and the
	// outbox relay's last publish (stopped with ctx) finish within
	// SHUTDOWN_TIMEOUT; then tel.Stop flushes the spans (deferred above).
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String(), "budget", web.StopBudget(cfg.ShutdownTimeout).String())
	stopOutbox()
	if err := drain(log, srv, serveErr, outboxDone, cfg.ShutdownTimeout); err != nil {
		return err
	}
	log.Info("publisher stopped")
	return nil
}

// drain stops srv and lets the requests in flight and the outbox relay's
// last publish (outboxDone closes when it returns) finish, all within
// timeout: past it, the publisher exits with them unfinished rather than be
// killed by ECS mid-flush. serveErr is srv.Serve's result.
func drain(log *slog.Logger, srv *http.Server, serveErr <-chan error, outboxDone <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutdownErr := srv.Shutdown(ctx)
	if shutdownErr == nil {
		if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	select {
	case <-outboxDone:
	case <-ctx.Done():
		// The order it holds keeps its lease, and is published (again, at
		// worst: consumers are idempotent) once the lease runs out, by
		// whichever publisher task polls first.
		log.Warn("outbox relay still publishing at the shutdown deadline; its order is left to its lease", "timeout", timeout.String())
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: requests still in flight after %s: %w", timeout, shutdownErr)
	}
	return nil
}
