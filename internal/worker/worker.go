// Package worker is the SQS consumer both workers run on: it long-polls a
// queue subscribed to the orders topic, unwraps and decodes each OrderPlaced
// event, runs a handler on a bounded pool, deletes what succeeded in batches
// and leaves what failed for SQS to redeliver or dead-letter.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/retry"
)

// SQSAPI is the part of the SQS client the engine uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Handler does a worker's job for one order. It must be idempotent: the same
// event can arrive more than once. The outcome is a short word for the log
// ("fulfilled", "duplicate", ...). An error wrapping ErrPermanent is treated
// like a malformed message: it will never succeed, so it goes to the DLQ.
type Handler interface {
	Handle(ctx context.Context, e events.OrderPlaced) (outcome string, err error)
}

// ErrPermanent marks a handler error that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// MaxWaitTime is SQS's longest long poll, and the engine's default: the
// fewest empty receives. A stopping engine lets its poll finish, so this also
// bounds how long a stop can wait on one.
const MaxWaitTime = 20 * time.Second

// Config tunes the engine. Zero values take the defaults noted.
type Config struct {
	QueueURL string
	// Topic, when set, is the name of the only topic whose notifications are
	// accepted (the last part of the envelope's TopicArn); any other is poison.
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
}

// Stats are the engine's counters since it started. Poison counts receives
// of malformed messages; DeadLettered those among them that were the last
// receive before the DLQ.
type Stats struct {
	Received, Succeeded, Failed, Poison, DeadLettered, Released int64
}

// Engine consumes one queue.
type Engine struct {
	client  SQSAPI
	handler Handler
	cfg     Config
	log     *slog.Logger

	received, succeeded, failed, poison, deadLettered, released atomic.Int64
}

// New returns an engine for cfg.QueueURL.
func New(client SQSAPI, h Handler, cfg Config, log *slog.Logger) *Engine {
	cfg.setDefaults()
	return &Engine{client: client, handler: h, cfg: cfg, log: log}
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Received:     e.received.Load(),
		Succeeded:    e.succeeded.Load(),
		Failed:       e.failed.Load(),
		Poison:       e.poison.Load(),
		DeadLettered: e.deadLettered.Load(),
		Released:     e.released.Load(),
	}
}

// Run receives and handles messages until ctx is cancelled, then stops
// receiving, gives in-flight handlers up to DrainTimeout to finish, deletes
// what succeeded, hands back what did not and returns nil. A receive in
// flight at the cancellation is let finish and its messages handed back, so
// Run returns within max(DrainTimeout, WaitTime) of the cancellation.
func (e *Engine) Run(ctx context.Context) error {
	// Handlers, heartbeats and deletes outlive ctx by the drain budget.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	// The drain budget runs from the cancellation, whatever is still in
	// flight then: handlers, and the receive that is let finish (see receive).
	runDone, polled := make(chan struct{}), make(chan struct{})
	defer close(runDone)
	go e.cutOffAfterDrainBudget(ctx, runDone, polled, cancelWork)
	del := newDeleter(context.WithoutCancel(ctx), e.client, e.cfg.QueueURL, e.log)
	hb := newHeartbeat(e.client, e.cfg.QueueURL, e.cfg.VisibilityTimeout, e.log)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); hb.run(workCtx) }()
	statsDone := make(chan struct{})
	go e.logStats(ctx, statsDone)

	// A fixed pool of handlers: long-lived goroutines keep their grown
	// stacks, where a goroutine per message would grow a new one each time.
	// A slot is a message held: running, or received ahead and waiting.
	slots := make(chan struct{}, e.cfg.Concurrency+batchSize)
	jobs := make(chan types.Message, e.cfg.Concurrency+batchSize)
	var pool sync.WaitGroup
	for range e.cfg.Concurrency {
		pool.Add(1)
		go func() {
			defer pool.Done()
			for m := range jobs {
				if ctx.Err() != nil {
					// Draining: what has not started goes back at once.
					hb.remove(m)
					e.handBack(m, "message handed back unstarted", []slog.Attr{slog.String("message_id", aws.ToString(m.MessageId))})
				} else {
					e.process(workCtx, m, del, hb)
				}
				<-slots
			}
		}()
	}

	// Receive a full batch once a batch's worth of slots is free: a request
	// costs the same for 1 message as for 10.
	var receiveFailures int
receiving:
	for ctx.Err() == nil {
		n := 0
		for n < batchSize {
			select {
			case slots <- struct{}{}:
				n++
			case <-ctx.Done():
				for range n {
					<-slots
				}
				break receiving
			}
		}
		msgs, err := e.receive(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			receiveFailures++
			wait := retry.Backoff(time.Second, 30*time.Second, receiveFailures)
			e.log.Error("receive failed, retrying", "error", err, "retry_in", wait.String())
			sleep(ctx, wait)
			continue
		}
		receiveFailures = 0
		for _, m := range msgs {
			hb.add(m)
			jobs <- m
		}
	}
	close(polled)
	close(jobs)

	e.log.Info("draining: stopped receiving", "drain_timeout", e.cfg.DrainTimeout.String())
	pool.Wait()
	cancelWork()
	<-hbDone
	del.close()
	<-statsDone
	e.log.Info("worker stopped", statsAttrs(e.Stats())...)
	return nil
}

// cutOffAfterDrainBudget cancels the handlers' context DrainTimeout after
// ctx is cancelled, unless Run returns first: handlers cut off hand their
// messages back. Never while the engine's own poll is still open (polled not
// yet closed): the poll would take back at once what a handler hands back.
func (e *Engine) cutOffAfterDrainBudget(ctx context.Context, runDone, polled <-chan struct{}, cancelWork context.CancelFunc) {
	select {
	case <-ctx.Done():
	case <-runDone:
		return
	}
	t := time.NewTimer(e.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-t.C:
	case <-runDone:
		return
	}
	select {
	case <-polled:
	case <-runDone:
		return
	}
	e.log.Warn("drain budget spent, handing back unfinished messages")
	cancelWork()
}

// receiveGrace is how long past its wait time a receive may take before the
// engine gives up on it: time for the response to travel, not to poll.
const receiveGrace = 10 * time.Second

// receive long-polls for up to n messages. The poll is never abandoned when
// ctx is cancelled: SQS would go on polling for a client that is gone, and
// a message it found then (a new one, or one another task just handed back)
// would stay hidden for the whole visibility timeout. So the poll runs to
// its end (WaitTime at most, within the drain budget), and whatever it
// returns after the cancellation is handed back at once by the pool.
func (e *Engine) receive(ctx context.Context, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.WaitTime+receiveGrace)
	defer cancel()
	out, err := e.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(e.cfg.QueueURL),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(e.cfg.WaitTime / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", e.cfg.QueueURL, err)
	}
	e.received.Add(int64(len(out.Messages)))
	return out.Messages, nil
}

// batchSize is the most messages one receive or delete request carries.
const batchSize = 10

// handBack returns a message to the queue at once (visibility 0) for
// another worker: one received ahead but not started, or one whose handler
// the drain budget cut off.
func (e *Engine) handBack(m types.Message, msg string, attrs []slog.Attr) {
	e.released.Add(1)
	e.log.LogAttrs(context.Background(), slog.LevelWarn, msg, append(attrs, slog.String("outcome", "released"))...)
	e.setVisibility(m, 0, attrs)
}

// process handles one message and logs one line about it.
func (e *Engine) process(ctx context.Context, m types.Message, del *deleter, hb *heartbeat) {
	start := time.Now()
	receives, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("message_id", aws.ToString(m.MessageId)), slog.Int("receive_count", receives))

	ev, err := e.decode(m)
	if err != nil {
		hb.remove(m)
		e.leaveForDLQ(m, receives, "malformed message left for the dead-letter queue", err, attrs)
		return
	}
	attrs = append(attrs, slog.String("order_id", ev.Order.ID))
	outcome, err := e.handler.Handle(ctx, ev)
	// Stop extending the message before it is deleted or made visible again,
	// so no heartbeat undoes either.
	hb.remove(m)
	attrs = append(attrs, slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))

	switch {
	case err == nil:
		e.succeeded.Add(1)
		del.add(m)
		e.log.LogAttrs(context.Background(), slog.LevelInfo, "message processed", append(attrs, slog.String("outcome", outcome))...)
	case errors.Is(err, ErrPermanent):
		e.leaveForDLQ(m, receives, "message can never succeed, left for the dead-letter queue", err, attrs)
	case ctx.Err() != nil:
		e.handBack(m, "handler stopped by shutdown, message handed back", append(attrs, slog.String("error", err.Error())))
	default:
		e.failed.Add(1)
		wait := retry.Backoff(e.cfg.RetryBase, e.cfg.RetryMax, receives)
		e.log.LogAttrs(context.Background(), slog.LevelError, "handler failed, message will be retried",
			append(attrs, slog.String("outcome", "retry"), slog.String("error", err.Error()), slog.String("retry_in", wait.String()))...)
		e.setVisibility(m, wait, attrs)
	}
}

// leaveForDLQ logs a message that can never succeed and makes it visible
// again soon, so SQS's redrive policy moves it to the DLQ after MaxReceives
// receives without waiting out the visibility timeout each time.
func (e *Engine) leaveForDLQ(m types.Message, receives int, msg string, reason error, attrs []slog.Attr) {
	e.poison.Add(1)
	last := receives >= e.cfg.MaxReceives
	if last {
		e.deadLettered.Add(1)
	}
	e.log.LogAttrs(context.Background(), slog.LevelWarn, msg,
		append(attrs, slog.String("outcome", "poison"), slog.String("reason", reason.Error()), slog.Bool("dead_letter_next", last))...)
	e.setVisibility(m, e.cfg.PoisonDelay, attrs)
}

func (e *Engine) decode(m types.Message) (events.OrderPlaced, error) {
	env, err := events.Unwrap([]byte(aws.ToString(m.Body)))
	if err != nil {
		return events.OrderPlaced{}, err
	}
	if e.cfg.Topic != "" && topicName(env.TopicARN) != e.cfg.Topic {
		return events.OrderPlaced{}, fmt.Errorf("%w: notification from topic %q, want topic %q", events.ErrMalformed, env.TopicARN, e.cfg.Topic)
	}
	return events.Decode([]byte(env.Message))
}

// setVisibility makes m visible again after d. It runs on its own short
// context so that it still works while the engine drains.
func (e *Engine) setVisibility(m types.Message, d time.Duration, attrs []slog.Attr) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(e.cfg.QueueURL),
		ReceiptHandle:     m.ReceiptHandle,
		VisibilityTimeout: int32(d / time.Second),
	})
	var gone *types.ReceiptHandleIsInvalid
	var notInFlight *types.MessageNotInflight
	switch {
	case err == nil, errors.As(err, &gone), errors.As(err, &notInFlight):
		// The message was deleted or already redelivered: nothing to extend.
	default:
		e.log.LogAttrs(context.Background(), slog.LevelWarn, "change message visibility failed", append(attrs, slog.String("error", err.Error()))...)
	}
}

func (e *Engine) logStats(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(e.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.log.Info("worker stats", statsAttrs(e.Stats())...)
		}
	}
}

func statsAttrs(s Stats) []any {
	return []any{"received", s.Received, "succeeded", s.Succeeded, "failed", s.Failed, "poison", s.Poison, "dead_lettered", s.DeadLettered, "released", s.Released}
}

// topicName returns the name part of a topic ARN (arn:aws:sns:region:account:name).
func topicName(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
