package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/backoff"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// handBack returns a message to the queue at once (visibility 0) for
// another worker: one received ahead but not started, or one whose handler
// the drain budget cut off.
func (e *Engine) handBack(m types.Message, msg string, attrs []slog.Attr) {
	e.count(metrics.OutcomeReleased)
	e.log.LogAttrs(context.Background(), slog.LevelWarn, msg, append(attrs, slog.String("outcome", "released"))...)
	e.setVisibility(m, 0, attrs)
}

// process handles one message and logs one line about it. workCtx is the
// handlers' (it outlives runCtx, Run's, by the drain budget); each handler
// gets HandlerTimeout of it. A handler that runs out of time fails with a
// transient error: its message is retried with its back-off, not handed
// back at once as a shutdown's is.
func (e *Engine) process(runCtx, workCtx context.Context, m types.Message, del *deleter, hb *heartbeat) {
	start := time.Now()
	receives, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("message_id", aws.ToString(m.MessageId)), slog.Int("receive_count", receives))

	// Nothing of the notification (its trace context) is read before it is
	// accepted as from Config.TopicARN: env is the zero Envelope unless it is.
	env, ev, err := events.OpenNotification([]byte(aws.ToString(m.Body)), e.cfg.TopicARN)
	msgCtx, span := e.trace.start(workCtx, m, receives, env.MessageAttributes)
	defer span.End()
	if id := tracing.TraceID(msgCtx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id)) // where to find it in X-Ray
	}
	if err != nil {
		e.trace.end(span, "", err)
		hb.remove(m)
		e.leaveForDLQ(m, receives, "malformed message left for the dead-letter queue", err, attrs)
		return
	}
	attrs = append(attrs, slog.String("order_id", ev.Order.ID))
	e.trace.order(span, ev.Order.ID)
	hctx, cancel := context.WithTimeout(msgCtx, e.cfg.HandlerTimeout)
	outcome, err := e.handler.Handle(hctx, ev)
	if err != nil && workCtx.Err() == nil && errors.Is(hctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		// Out of time, whatever the handler made of it (an SDK call's
		// "request canceled", say): a hung dependency, so transient.
		err = fmt.Errorf("handler deadline of %v passed: %w", e.cfg.HandlerTimeout, errors.Join(context.DeadlineExceeded, err))
	}
	cancel()
	// Stop extending the message before it is deleted or made visible again,
	// so no heartbeat undoes either.
	hb.remove(m)
	e.trace.end(span, outcome, err)
	attrs = append(attrs, slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))

	switch {
	case err == nil:
		del.add(m)
		e.count(outcome.metric())
		e.metrics.Since(metrics.HandlerDuration, start)
		if sent, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			e.metrics.Observe(metrics.MessageAge, metrics.Milliseconds, float64(max(time.Since(time.UnixMilli(sent)).Milliseconds(), 0)))
		}
		e.log.LogAttrs(context.Background(), slog.LevelInfo, "message processed", append(attrs, slog.String("outcome", string(outcome)))...)
	case errors.Is(err, ErrPermanent):
		e.leaveForDLQ(m, receives, "message can never succeed, left for the dead-letter queue", err, attrs)
	case workCtx.Err() != nil:
		e.handBack(m, "handler stopped by shutdown, message handed back", append(attrs, slog.String("error", err.Error())))
	default:
		e.count(metrics.OutcomeRetry)
		wait := backoff.Delay(e.cfg.RetryBase, e.cfg.RetryMax, receives)
		e.log.LogAttrs(context.Background(), slog.LevelError, "handler failed, message will be retried",
			append(attrs, slog.String("outcome", "retry"), slog.String("error", err.Error()), slog.String("retry_in", wait.String()))...)
		e.setVisibility(m, wait, attrs)
		if Transient(err) {
			e.outage(runCtx, err)
		}
	}
}

// leaveForDLQ logs a message that can never succeed and makes it visible
// again soon, so SQS's redrive policy moves it to the DLQ after MaxReceives
// receives without waiting out the visibility timeout each time.
func (e *Engine) leaveForDLQ(m types.Message, receives int, msg string, reason error, attrs []slog.Attr) {
	last := receives >= e.cfg.MaxReceives
	if last {
		e.count(metrics.OutcomeDeadLettered)
	} else {
		e.count(metrics.OutcomePoison)
	}
	e.log.LogAttrs(context.Background(), slog.LevelWarn, msg,
		append(attrs, slog.String("outcome", "poison"), slog.String("reason", reason.Error()), slog.Bool("dead_letter_next", last))...)
	e.setVisibility(m, e.cfg.PoisonDelay, attrs)
}

// count records one message's outcome: processed, duplicate, retry, poison
// (redelivered on its way to the DLQ), dead-lettered (its last receive, the
// DLQ next) or released (handed back). Each handled receive has exactly one.
func (e *Engine) count(outcome string) {
	e.metrics.Add(metrics.Messages, 1, metrics.Dim{Name: metrics.DimOutcome, Value: outcome})
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
