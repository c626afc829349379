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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/backoff"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// SQSAPI is the part of the SQS client the engine uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Handler does a worker's job for one order. It must be idempotent: the same
// event can arrive more than once, and one whose effect is already recorded
// is a Duplicate. An error wrapping ErrPermanent is treated like a malformed
// message: it will never succeed, so it goes to the DLQ.
type Handler interface {
	Handle(ctx context.Context, e events.OrderPlaced) (Outcome, error)
}

// Outcome is what a handler made of an event: a short word for its log line
// and span ("fulfilled", "coupon issued", ...), each handler naming its own.
// The engine tells only Duplicate apart: it counts the rest as processed.
type Outcome string

// Duplicate is the outcome of an event whose effect was already recorded.
const Duplicate Outcome = metrics.OutcomeDuplicate

// metric is the outcome's value of the Messages metric's outcome dimension.
func (o Outcome) metric() string {
	if o == Duplicate {
		return metrics.OutcomeDuplicate
	}
	return metrics.OutcomeProcessed
}

// ErrPermanent marks a handler error that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// Engine consumes one queue.
type Engine struct {
	client  SQSAPI
	handler Handler
	cfg     Config
	log     *slog.Logger

	gate    *gate // shut while a dependency is down
	trace   msgTracer
	metrics *metrics.Recorder
}

// New returns an engine for cfg.QueueURL, or an error naming what cfg lacks.
// It records its messages by outcome, handler durations, message ages and
// pauses on rec (the metrics package's names; nil records nothing).
func New(client SQSAPI, h Handler, cfg Config, log *slog.Logger, rec *metrics.Recorder) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Engine{client: client, handler: h, cfg: cfg, log: log, gate: newGate(), trace: newMsgTracer(cfg), metrics: rec}, nil
}

// Run receives and handles messages until runCtx is cancelled, then stops
// receiving, gives in-flight handlers up to DrainTimeout to finish, deletes
// what succeeded, hands back what did not and returns nil. A receive in
// flight at the cancellation is let finish and its messages handed back, so
// Run returns within max(DrainTimeout, WaitTime) of the cancellation.
func (e *Engine) Run(runCtx context.Context) error {
	// Handlers, heartbeats and deletes outlive runCtx by the drain budget.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(runCtx))
	defer cancelWork()
	// The drain budget runs from the cancellation, whatever is still in
	// flight then: handlers, and the receive that is let finish (see receive).
	runDone, polled := make(chan struct{}), make(chan struct{})
	defer close(runDone)
	go e.cutOffAfterDrainBudget(runCtx, runDone, polled, cancelWork)
	del := newDeleter(context.WithoutCancel(runCtx), e.client, e.cfg.QueueURL, e.log)
	hb := newHeartbeat(e.client, e.cfg.QueueURL, e.cfg.VisibilityTimeout, e.log)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); hb.run(workCtx) }()

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
				if !e.gate.wait(runCtx) || runCtx.Err() != nil {
					// Draining: what has not started goes back at once.
					hb.remove(m)
					e.handBack(m, "message handed back unstarted", []slog.Attr{slog.String("message_id", aws.ToString(m.MessageId))})
				} else {
					e.process(runCtx, workCtx, m, del, hb)
				}
				<-slots
			}
		}()
	}

	// Receive a full batch once a batch's worth of slots is free: a request
	// costs the same for 1 message as for 10.
	var receiveFailures int
receiving:
	for runCtx.Err() == nil {
		if !e.gate.wait(runCtx) {
			break
		}
		n := 0
		for n < batchSize {
			select {
			case slots <- struct{}{}:
				n++
			case <-runCtx.Done():
				for range n {
					<-slots
				}
				break receiving
			}
		}
		msgs, err := e.receive(runCtx, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if runCtx.Err() != nil {
				break
			}
			receiveFailures++
			wait := backoff.Delay(time.Second, 30*time.Second, receiveFailures)
			e.log.Error("receive failed, retrying", "error", err, "retry_in", wait.String())
			sleep(runCtx, wait)
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
	e.log.Info("worker stopped")
	return nil
}

// cutOffAfterDrainBudget cancels the handlers' context DrainTimeout after
// runCtx is cancelled, unless Run returns first: handlers cut off hand their
// messages back. Never while the engine's own poll is still open (polled not
// yet closed): the poll would take back at once what a handler hands back.
func (e *Engine) cutOffAfterDrainBudget(runCtx context.Context, runDone, polled <-chan struct{}, cancelWork context.CancelFunc) {
	select {
	case <-runCtx.Done():
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
// runCtx is cancelled: SQS would go on polling for a client that is gone, and
// a message it found then (a new one, or one another task just handed back)
// would stay hidden for the whole visibility timeout. So the poll runs to
// its end (WaitTime at most, within the drain budget), and whatever it
// returns after the cancellation is handed back at once by the pool.
func (e *Engine) receive(runCtx context.Context, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(runCtx), e.cfg.WaitTime+receiveGrace)
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
