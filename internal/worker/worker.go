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
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
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

// Engine consumes one queue.
type Engine struct {
	client  SQSAPI
	handler Handler
	cfg     Config
	log     *slog.Logger

	gate  *gate // shut while a dependency is down
	trace msgTracer
	// metrics records outcomes, durations and ages (nil: none).
	metrics *metrics.Recorder

	received, succeeded, failed, poison, deadLettered, released, pauses atomic.Int64
}

// New returns an engine for cfg.QueueURL.
func New(client SQSAPI, h Handler, cfg Config, log *slog.Logger) *Engine {
	cfg.setDefaults()
	return &Engine{client: client, handler: h, cfg: cfg, log: log, gate: newGate(), trace: newMsgTracer(cfg)}
}

// WithMetrics makes the engine record its messages by outcome, handler
// durations and message ages on m (the metrics package's names), and
// returns the engine.
func (e *Engine) WithMetrics(m *metrics.Recorder) *Engine {
	e.metrics = m
	return e
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
				// While a dependency is down, a message received ahead waits
				// (the heartbeat keeps it hidden) rather than fail and burn a
				// receive.
				if !e.gate.wait(ctx) || ctx.Err() != nil {
					// Draining: what has not started goes back at once.
					hb.remove(m)
					e.handBack(m, "message handed back unstarted", []slog.Attr{slog.String("message_id", aws.ToString(m.MessageId))})
				} else {
					e.process(ctx, workCtx, m, del, hb)
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
		if !e.gate.wait(ctx) {
			break
		}
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
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", e.cfg.QueueURL, err)
	}
	e.received.Add(int64(len(out.Messages)))
	return out.Messages, nil
}

// batchSize is the most messages one receive or delete request carries.
const batchSize = 10

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
