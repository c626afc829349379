package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// healthTTL is how long a health answer, good or bad, is reused. The
	// check calls DynamoDB's control plane (DescribeTable), whose quota is
	// far below the data plane's; load balancer checks from every node,
	// or anyone requesting /healthz, must not add up to a call each.
	healthTTL = 5 * time.Second
	// healthTimeout bounds one check.
	healthTimeout = 2 * time.Second
)

// healthCache answers Ping from the last check for healthTTL; requests that
// arrive while a check runs share it.
type healthCache struct {
	p   Pinger
	log *slog.Logger

	group singleflight.Group
	mu    sync.Mutex
	err   error
	until time.Time // the cached answer is valid before this
}

func (c *healthCache) cached() (ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Before(c.until), c.err
}

// Ping returns the cached answer, or waits for a check (its own or one
// already running) until ctx ends.
func (c *healthCache) Ping(ctx context.Context) error {
	if ok, err := c.cached(); ok {
		return err
	}
	ch := c.group.DoChan("ping", func() (any, error) {
		if ok, err := c.cached(); ok { // a check finished just before this one began
			return nil, err
		}
		// The check is shared, so it must not end with the request that
		// happened to start it.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
		defer cancel()
		err := c.p.Ping(pctx)
		if err != nil {
			c.log.Error("health check failed", "error", err)
		}
		c.mu.Lock()
		c.err, c.until = err, time.Now().Add(healthTTL)
		c.mu.Unlock()
		return nil, err
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}
