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
	// extending holds the handles in the ChangeMessageVisibilityBatch call
	// under way; the channel closes when it returns. SQS applies visibility
	// changes in the order it gets them, so an extend still travelling when
	// a message is handed back (or deleted) could land after the hand-back
	// and hide the message again for a whole visibility timeout: remove
	// waits for it, so the hand-back is always the last word.
	extending map[string]chan struct{}
}

type flight struct {
	id    string
	since time.Time
}

func newHeartbeat(client SQSAPI, queueURL string, visibility time.Duration, log *slog.Logger) *heartbeat {
	return &heartbeat{client: client, queueURL: queueURL, visibility: visibility, log: log, inflight: map[string]flight{}, extending: map[string]chan struct{}{}}
}

func (h *heartbeat) add(m types.Message) {
	h.mu.Lock()
	h.inflight[aws.ToString(m.ReceiptHandle)] = flight{id: aws.ToString(m.MessageId), since: time.Now()}
	h.mu.Unlock()
}

// remove stops extending m. If an extend of m is under way, it waits for
// that call to return (heartbeatCallTimeout at most), so that whatever the
// caller does next with m (hand it back, delete it) reaches SQS after it.
func (h *heartbeat) remove(m types.Message) {
	handle := aws.ToString(m.ReceiptHandle)
	h.mu.Lock()
	delete(h.inflight, handle)
	busy := h.extending[handle]
	h.mu.Unlock()
	if busy != nil {
		<-busy
	}
}

// heartbeatCallTimeout bounds one extend request, and so how long remove
// can wait for one.
const heartbeatCallTimeout = 5 * time.Second

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

// claim marks the entries of batch still in flight as being extended (so
// that remove waits for the call) and returns them with the channel to close
// when the call returns. A message removed since the list was made (its
// handler finished meanwhile) is left out: extending it would undo its
// hand-back.
func (h *heartbeat) claim(batch []types.ChangeMessageVisibilityBatchRequestEntry) ([]types.ChangeMessageVisibilityBatchRequestEntry, chan struct{}) {
	done := make(chan struct{})
	h.mu.Lock()
	defer h.mu.Unlock()
	var live []types.ChangeMessageVisibilityBatchRequestEntry
	for _, b := range batch {
		handle := aws.ToString(b.ReceiptHandle)
		if _, ok := h.inflight[handle]; ok {
			h.extending[handle] = done
			live = append(live, b)
		}
	}
	return live, done
}

// release ends claim's marks once the call has returned.
func (h *heartbeat) release(batch []types.ChangeMessageVisibilityBatchRequestEntry, done chan struct{}) {
	h.mu.Lock()
	for _, b := range batch {
		delete(h.extending, aws.ToString(b.ReceiptHandle))
	}
	h.mu.Unlock()
	close(done)
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
		batch, done := h.claim(due[:min(10, len(due))])
		due = due[min(10, len(due)):]
		if len(batch) == 0 {
			close(done)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, heartbeatCallTimeout)
		out, err := h.client.ChangeMessageVisibilityBatch(cctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(h.queueURL), Entries: batch})
		cancel()
		h.release(batch, done)
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
