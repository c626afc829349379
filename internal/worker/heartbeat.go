package worker

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// heartbeat keeps the messages whose handlers run long hidden from other
// workers: every third of the visibility timeout it extends, ten per request,
// the visibility of each message in flight for longer than that.
type heartbeat struct {
	client     SQSAPI
	queueURL   string
	visibility time.Duration
	log        *slog.Logger

	mu       sync.Mutex
	inflight map[string]flight // by receipt handle
}

type flight struct {
	id    string
	since time.Time
}

func newHeartbeat(client SQSAPI, queueURL string, visibility time.Duration, log *slog.Logger) *heartbeat {
	return &heartbeat{client: client, queueURL: queueURL, visibility: visibility, log: log, inflight: map[string]flight{}}
}

func (h *heartbeat) add(m types.Message) {
	h.mu.Lock()
	h.inflight[aws.ToString(m.ReceiptHandle)] = flight{id: aws.ToString(m.MessageId), since: time.Now()}
	h.mu.Unlock()
}

func (h *heartbeat) remove(m types.Message) {
	h.mu.Lock()
	delete(h.inflight, aws.ToString(m.ReceiptHandle))
	h.mu.Unlock()
}

func (h *heartbeat) run(ctx context.Context) {
	every := max(h.visibility/3, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.extend(ctx, time.Now().Add(-every))
		}
	}
}

// extend extends the visibility of every message received before cutoff.
func (h *heartbeat) extend(ctx context.Context, cutoff time.Time) {
	h.mu.Lock()
	var due []types.ChangeMessageVisibilityBatchRequestEntry
	ids := map[string]string{}
	for handle, f := range h.inflight {
		if f.since.Before(cutoff) {
			entryID := strconv.Itoa(len(due))
			due = append(due, types.ChangeMessageVisibilityBatchRequestEntry{
				Id:                aws.String(entryID),
				ReceiptHandle:     aws.String(handle),
				VisibilityTimeout: int32(h.visibility / time.Second),
			})
			ids[entryID] = f.id
		}
	}
	h.mu.Unlock()
	for len(due) > 0 {
		batch := due[:min(10, len(due))]
		due = due[len(batch):]
		out, err := h.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(h.queueURL), Entries: batch})
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("heartbeat failed", "count", len(batch), "error", err.Error())
			}
			continue
		}
		for _, f := range out.Failed {
			// A message deleted or handed back meanwhile has no receipt to
			// extend: that race is expected and harmless.
			switch aws.ToString(f.Code) {
			case "ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight":
			default:
				h.log.Warn("heartbeat failed", "message_id", ids[aws.ToString(f.Id)], "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
			}
		}
	}
}
