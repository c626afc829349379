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
	"sync"
	"sync/atomic"
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
	// The drain stops accepting before srv.Shutdown, and waits for the
	// requests of the connections already accepted (see gate).
	gate := newGate(ln)
	srv.ConnState, srv.ConnContext, srv.Handler = gate.connState, gate.connContext, gate.handler(srv.Handler)
	ln = gate
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
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	stopOutbox()
	gate.settle(log, deadline)
	if err := drain(log, srv, serveErr, outboxDone, time.Until(deadline)); err != nil {
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

// gate is the publisher's listener, and the record of the connections it
// accepted whose first request has not reached the handler yet, for the
// drain. http.Server.Shutdown alone loses requests: a connection accepted
// before it whose request conn.serve reads after it began is closed
// unanswered (net/http's conn.serve returns when shuttingDown() right after
// readRequest, without calling the handler), and the client, which sent its
// whole request to a server that had accepted it, gets EOF. A busy task
// accepts connections whose requests it reads milliseconds later, so
// SIGTERM lands in that gap. settle closes it before drain calls Shutdown:
// it stops accepting (the kernel resets the connections still in the
// backlog, unread) and waits until every accepted connection has had its
// first request handed to the handler, or is closed (the read-header timeout
// closes one that sends nothing).
type gate struct {
	net.Listener
	stopOnce, parkOnce, closeOnce sync.Once
	stopErr                       error
	stopped                       chan struct{} // closed by stop: no more accepts
	parked                        chan struct{} // closed once Accept, stopped, waits for Close
	closed                        chan struct{} // closed by Close, from srv.Shutdown
	draining                      atomic.Bool   // responses from now on close their connection

	mu      sync.Mutex
	unread  map[net.Conn]struct{} // accepted, first request not handed to the handler
	changed chan struct{}         // closed and replaced when unread shrinks
}

// connKey is the context key of the connection a request came on.
type connKey struct{}

func newGate(ln net.Listener) *gate {
	return &gate{Listener: ln, stopped: make(chan struct{}), parked: make(chan struct{}), closed: make(chan struct{}),
		unread: map[net.Conn]struct{}{}, changed: make(chan struct{})}
}

// Accept returns the listener's connections until stop; then, so that
// srv.Serve neither returns early nor sees a connection it would not
// answer, it waits for Close (srv.Shutdown) and returns net.ErrClosed. A
// connection the listener returns after stop, accepted as it closed, is
// still handed to the server, which answers it.
func (g *gate) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err == nil {
		return c, nil
	}
	select {
	case <-g.stopped:
	default:
		return nil, err
	}
	// srv.Serve registered every connection returned before (StateNew, in
	// connState) before calling Accept again.
	g.parkOnce.Do(func() { close(g.parked) })
	<-g.closed
	return nil, net.ErrClosed
}

// stop closes the listener: connections are refused from now on.
func (g *gate) stop() {
	g.stopOnce.Do(func() {
		g.draining.Store(true)
		close(g.stopped)
		g.stopErr = g.Listener.Close()
	})
}

// Close stops the listener and ends the Accept waiting after stop.
func (g *gate) Close() error {
	g.stop()
	g.closeOnce.Do(func() { close(g.closed) })
	return g.stopErr
}

// connState is srv.ConnState: it records each accepted connection until it
// is closed or its first request reaches the handler.
func (g *gate) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		g.mu.Lock()
		g.unread[c] = struct{}{}
		g.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		g.read(c)
	}
}

// connContext is srv.ConnContext: it tells the handler the connection.
func (g *gate) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// handler marks the request's connection read (net/http answers a request
// it called the handler for, Shutdown or not) and, once draining, asks the
// client to close the connection after the response rather than send
// another request on it that Shutdown could close unanswered.
func (g *gate) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			g.read(c)
		}
		if g.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

func (g *gate) read(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.unread[c]; ok {
		delete(g.unread, c)
		close(g.changed)
		g.changed = make(chan struct{})
	}
}

// settle stops accepting and waits, until deadline at most, for every
// accepted connection to have had its first request handed to the handler,
// or to be closed; then srv.Shutdown loses no request it accepted.
func (g *gate) settle(log *slog.Logger, deadline time.Time) {
	start := time.Now()
	g.stop()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	select {
	case <-g.parked:
	case <-g.closed: // srv.Serve returned: it accepts no more
	case <-ctx.Done():
	}
	first := -1
	for {
		g.mu.Lock()
		n, changed := len(g.unread), g.changed
		g.mu.Unlock()
		if first < 0 {
			first = n
		}
		if n == 0 {
			log.Info("stopped accepting; every accepted connection's request is being answered",
				"unread_at_stop", first, "waited", time.Since(start).String())
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			log.Warn("stopped accepting; connections accepted but with no request read at the shutdown deadline", "connections", n)
			return
		}
	}
}
