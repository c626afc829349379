package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"golang.org/x/sync/errgroup"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
)

// The contenders that drain the fulfilment queue.
const (
	kindEngine   = "engine"
	kindBare     = "bare SDK loop"
	kindGoCDK    = "Go CDK"
	kindOriginal = "original sample loop"
)

// throughputResult is one loaded run of one contender.
type throughputResult struct {
	rate      float64 // messages processed per second in the window
	processed int64   // in the window
	reqPerMsg float64 // SQS requests per processed message in the window
	// calls is the engine's SQS calls in the window by kind, per message;
	// receives, deletes and visibility are those calls counted.
	calls                         string
	receives, deletes, visibility int64
}

// throughput runs one contender on a fresh fulfilment queue that a producer
// keeps about opt.backlog deep, and measures it over window after warm-up.
func (b *bench) throughput(ctx context.Context, kind string, window time.Duration) (throughputResult, error) {
	e, err := b.provision(ctx)
	if err != nil {
		return throughputResult{}, err
	}
	defer e.teardown()

	// The consumer's clients count their calls; the producer's are not the
	// consumer's work, so it has its own, uncounted.
	ops := newOpCounter()
	cfg := ops.config(b.cfg)
	sqsClient, db := sqs.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	engineSQS := &countingSQS{Client: sqsClient}
	handler := fulfilment.NewHandler(db, e.fulfilTbl, time.Now)
	sqsCalls := func() int64 { return total(ops.snapshot(), "SQS") }

	var cons consumer
	switch kind {
	case kindEngine:
		cons = engineConsumer(engineSQS, handler, e, time.Second, b.opt.concurrency)
		sqsCalls = engineSQS.calls
	case kindBare:
		cons = bareConsumer(sqsClient, db, e, time.Second)
	case kindGoCDK:
		cons = gocdkConsumer(sqsClient, handler, e, b.opt.concurrency)
	case kindOriginal:
		cons = originalConsumer(sqsClient, db, e.queueURL, e.fulfilTbl)
	default:
		return throughputResult{}, fmt.Errorf("unknown contender %q", kind)
	}

	var processed atomic.Int64
	prod := &producer{client: sqs.NewFromConfig(b.cfg), queueURL: e.queueURL, topicARN: e.topicARN, target: int64(b.opt.backlog)}
	runCtx, stop := context.WithTimeout(ctx, b.opt.warmup+window+time.Minute)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return prod.run(gctx, processed.Load) })
	g.Go(func() error { return cons(gctx, func(events.OrderPlaced) { processed.Add(1) }) })

	sleep(gctx, b.opt.warmup)
	p0, c0, t0 := processed.Load(), sqsCalls(), time.Now()
	r0, d0, v0 := engineSQS.receives.Load(), engineSQS.deletes.Load(), engineSQS.visibility.Load()
	sleep(gctx, window)
	p1, c1, t1 := processed.Load(), sqsCalls(), time.Now()
	r1, d1, v1 := engineSQS.receives.Load(), engineSQS.deletes.Load(), engineSQS.visibility.Load()
	aborted := gctx.Err() // set only if the producer or consumer failed
	stop()
	if err := g.Wait(); err != nil {
		return throughputResult{}, fmt.Errorf("%s: %w", kind, err)
	}
	if aborted != nil {
		return throughputResult{}, fmt.Errorf("%s: stopped early: %w", kind, aborted)
	}
	if kind == kindEngine {
		// The wrapper counts what the engine calls through worker.SQSAPI; the
		// middleware sees every SQS call the client makes. They must agree,
		// or the engine makes calls the wrapper does not count.
		if mw := total(ops.snapshot(), "SQS"); mw != engineSQS.calls() {
			b.progress("warning: engine SQS calls: wrapper counted %d, SDK middleware %d", engineSQS.calls(), mw)
		}
	}
	n := p1 - p0
	r := throughputResult{processed: n, rate: float64(n) / t1.Sub(t0).Seconds()}
	if n > 0 {
		r.reqPerMsg = float64(c1-c0) / float64(n)
		per := func(a, b int64) float64 { return float64(b-a) / float64(n) }
		r.calls = fmt.Sprintf("ReceiveMessage %.2f, DeleteMessageBatch %.2f, ChangeMessageVisibility %.2f", per(r0, r1), per(d0, d1), per(v0, v1))
		r.receives, r.deletes, r.visibility = r1-r0, d1-d0, v1-v0
	}
	return r, nil
}

// latency publishes orders through SNS at opt.rate for window while a
// contender (with the production 20 s long poll) drains the fulfilment
// queue, and returns each order's time from creation, just before its
// publish, to its fulfilment being written.
func (b *bench) latency(ctx context.Context, kind string, window time.Duration) ([]time.Duration, error) {
	e, err := b.provision(ctx)
	if err != nil {
		return nil, err
	}
	defer e.teardown()

	sqsClient, db := sqs.NewFromConfig(b.cfg), dynamodb.NewFromConfig(b.cfg)
	const wait = 20 * time.Second
	var cons consumer
	switch kind {
	case kindEngine:
		cons = engineConsumer(sqsClient, fulfilment.NewHandler(db, e.fulfilTbl, time.Now), e, wait, b.opt.concurrency)
	case kindBare:
		cons = bareConsumer(sqsClient, db, e, wait)
	default:
		return nil, fmt.Errorf("unknown contender %q", kind)
	}

	var mu sync.Mutex
	var lat []time.Duration
	recorded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(lat)
	}
	runCtx, stop := context.WithTimeout(ctx, window+2*time.Minute)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		return cons(gctx, func(ev events.OrderPlaced) {
			d := time.Since(ev.Order.CreatedAt)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
	})
	// Let the first long poll start, as a worker at rest would be.
	sleep(gctx, time.Second)

	published, err := b.publishAtRate(gctx, events.NewPublisher(sns.NewFromConfig(b.cfg), e.topicARN), window)
	if err == nil {
		// Wait, bounded, for the last orders to be fulfilled.
		deadline := time.Now().Add(30 * time.Second)
		for recorded() < published && time.Now().Before(deadline) && gctx.Err() == nil {
			sleep(gctx, 20*time.Millisecond)
		}
		if got := recorded(); got < published {
			err = fmt.Errorf("%d of %d published orders fulfilled within 30s of the last publish", got, published)
		}
	}
	stop()
	if gerr := g.Wait(); gerr != nil {
		return nil, fmt.Errorf("%s: %w", kind, gerr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return lat, nil
}

// publishAtRate publishes fresh orders at opt.rate for window. Publishes
// run concurrently (up to 8) so one slow publish does not delay the next;
// a tick that finds all 8 busy is skipped, not queued, so the rate stays an
// upper bound and no burst follows a stall.
func (b *bench) publishAtRate(ctx context.Context, pub *events.Publisher, window time.Duration) (int, error) {
	var g errgroup.Group
	g.SetLimit(8)
	var published atomic.Int64
	tick := time.NewTicker(time.Duration(float64(time.Second) / b.opt.rate))
	defer tick.Stop()
	end := time.After(window)
	skipped := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		ok := g.TryGo(func() error {
			o, err := newOrder()
			if err != nil {
				return err
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := pub.Publish(pctx, events.OrderPlaced{Order: o}); err != nil {
				return err
			}
			published.Add(1)
			return nil
		})
		if !ok {
			skipped++
		}
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	if skipped > 0 {
		b.progress("note: %d publish ticks skipped (8 publishes already in flight)", skipped)
	}
	return int(published.Load()), ctx.Err()
}

// idleResult is the empty receives per minute of the engine and of the
// original sample's loop on empty queues.
type idleResult struct {
	engine, original   float64
	engineN, originalN int
}

// idle runs the engine (production 20 s long poll) on the empty fulfilment
// queue and the original sample's loop (5 s polls) on the empty promotion
// queue of the same fresh environment, side by side: idle long polls cost
// the emulator next to nothing, so they do not disturb each other, and
// running them together halves the wait.
func (b *bench) idle(ctx context.Context) (idleResult, error) {
	e, err := b.provision(ctx)
	if err != nil {
		return idleResult{}, err
	}
	defer e.teardown()

	db := dynamodb.NewFromConfig(b.cfg)
	engineSQS := &countingSQS{Client: sqs.NewFromConfig(b.cfg)}
	originalSQS := &countingSQS{Client: sqs.NewFromConfig(b.cfg)}
	noop := func(events.OrderPlaced) {}

	runCtx, stop := context.WithTimeout(ctx, b.opt.idle)
	defer stop()
	start := time.Now()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		return engineConsumer(engineSQS, fulfilment.NewHandler(db, e.fulfilTbl, time.Now), e, 20*time.Second, b.opt.concurrency)(gctx, noop)
	})
	g.Go(func() error {
		return originalConsumer(originalSQS, db, e.promoURL, e.fulfilTbl)(gctx, noop)
	})
	if err := g.Wait(); err != nil {
		return idleResult{}, fmt.Errorf("idle: %w", err)
	}
	r := idleResult{}
	r.engine, r.engineN = perMinute(start, engineSQS.emptyTimes())
	r.original, r.originalN = perMinute(start, originalSQS.emptyTimes())
	return r, nil
}

// perMinute is the rate of the events at times since start: n events over
// the time to the last of them. A poll cut short by the end of the window
// is not counted, and neither is its time, so the rate is not biased by
// where the window happens to end.
func perMinute(start time.Time, at []time.Time) (float64, int) {
	if len(at) == 0 {
		return math.NaN(), 0 // no poll finished within the window
	}
	return float64(len(at)) / at[len(at)-1].Sub(start).Minutes(), len(at)
}
