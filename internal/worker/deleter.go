package worker

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// flushAfter is how long a delete waits for others to share its batch. The
// handlers of one received batch finish close together, so a short wait
// fills most batches (AWS bills per request); a long one keeps deleted work
// in the queue, which slows receives on an emulator whose cost grows with
// queue depth (250ms cost moto a fifth of its throughput).
const flushAfter = 25 * time.Millisecond

// deleter deletes handled messages in batches of up to 10, the SQS maximum,
// so a busy worker spends one request per ten messages.
type deleter struct {
	client   SQSAPI
	queueURL string
	log      *slog.Logger
	in       chan types.Message
	done     chan struct{}
}

func newDeleter(ctx context.Context, client SQSAPI, queueURL string, log *slog.Logger) *deleter {
	d := &deleter{client: client, queueURL: queueURL, log: log, in: make(chan types.Message, 100), done: make(chan struct{})}
	go d.loop(ctx)
	return d
}

func (d *deleter) add(m types.Message) { d.in <- m }

// close flushes what is pending and waits for it.
func (d *deleter) close() {
	close(d.in)
	<-d.done
}

func (d *deleter) loop(ctx context.Context) {
	defer close(d.done)
	var batch []types.Message
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case m, ok := <-d.in:
			if !ok {
				d.flush(ctx, batch)
				return
			}
			if len(batch) == 0 {
				timer.Reset(flushAfter)
			}
			batch = append(batch, m)
			if len(batch) == 10 {
				timer.Stop()
				d.flush(ctx, batch)
				batch = nil
			}
		case <-timer.C:
			d.flush(ctx, batch)
			batch = nil
		}
	}
}

func (d *deleter) flush(ctx context.Context, batch []types.Message) {
	if len(batch) == 0 {
		return
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
	for i, m := range batch {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := d.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(d.queueURL), Entries: entries})
	if err != nil {
		// The effects are durable and idempotent: a redelivery is harmless.
		d.log.Error("delete batch failed, messages will be redelivered", "count", len(batch), "error", err.Error())
		return
	}
	for _, f := range out.Failed {
		i, _ := strconv.Atoi(aws.ToString(f.Id))
		d.log.Warn("delete failed, message will be redelivered", "message_id", aws.ToString(batch[i].MessageId), "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
	}
}
