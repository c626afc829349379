package worker

// Tests of the engine's hardening against a hung handler and against its own
// heartbeat, in the style of engine_test.go: fakeSQS on synctest's clock.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/events"
)

// TestEngineHandlerDeadlineFreesSlot runs a handler that hangs until its
// context ends, ahead of a second message on a pool of one. The handler's
// deadline frees the slot: the hung message is retried with its back-off
// (a failure, not a shutdown's hand-back at once), receiving pauses as for
// a hung dependency, and the next message is handled.
func TestEngineHandlerDeadlineFreesSlot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration // the configured HandlerTimeout
		want    time.Duration // the deadline the handler gets
		ownErr  bool          // the handler returns its own error, not ctx.Err()
	}{
		{name: "5m", timeout: 5 * time.Minute, want: 5 * time.Minute},
		{name: "10s", timeout: 10 * time.Second, want: 10 * time.Second},
		{name: "handler's own error at the deadline", timeout: 10 * time.Second, want: 10 * time.Second, ownErr: true},
		{name: "the cap", timeout: MaxHandlerTimeout, want: MaxHandlerTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t,
					sqsMessage("hung", snsNotification(t, testTopicARN, testOrder(1)), "1"),
					sqsMessage("next", snsNotification(t, testTopicARN, testOrder(2)), "1"),
				)
				client.visibility = 30 * time.Second
				start := time.Now()
				var mu sync.Mutex
				var hungErr error
				var nextAt time.Duration
				m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
					if ev.Order.ID == testOrderID(1) {
						<-ctx.Done()
						mu.Lock()
						hungErr = ctx.Err()
						mu.Unlock()
						if tc.ownErr {
							return "", errors.New("operation error DynamoDB: PutItem, request canceled")
						}
						return "", ctx.Err()
					}
					mu.Lock()
					nextAt = time.Since(start)
					mu.Unlock()
					return "fulfilled", nil
				}), Config{Concurrency: 1, HandlerTimeout: tc.timeout, VisibilityTimeout: 30 * time.Second, RetryBase: 2 * time.Second})

				time.Sleep(tc.want - time.Second)
				synctest.Wait()
				if got := client.deleted(); len(got) != 0 {
					t.Fatalf("deleted %v a second before the %v deadline; want the slot still held", got, tc.want)
				}
				time.Sleep(5 * time.Second) // the deadline, and the 1s probe back-off of the pause
				synctest.Wait()
				if err := stop(); err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}

				mu.Lock()
				defer mu.Unlock()
				if !errors.Is(hungErr, context.DeadlineExceeded) {
					t.Errorf("hung handler's context ended with %v; want %v", hungErr, context.DeadlineExceeded)
				}
				if nextAt < tc.want {
					t.Errorf("next message handled %v after the start; want it after the %v deadline freed the slot", nextAt, tc.want)
				}
				if diff := cmp.Diff([]string{"next"}, client.deleted()); diff != "" {
					t.Errorf("deleted (-want +got):\n%s", diff)
				}
				var last visChange
				for _, v := range client.visChanges() {
					if v.Handle == "hung" {
						last = v
					}
				}
				if want := (visChange{"hung", 2}); last != want {
					t.Errorf("last visibility change of the hung message %+v; want %+v: retried with its back-off", last, want)
				}
				if got := client.lapses(); len(got) != 0 {
					t.Errorf("message visible again while its handler ran (%v); want it kept hidden until the deadline", got)
				}
				if diff := cmp.Diff(Stats{Received: 2, Succeeded: 1, Failed: 1, Pauses: 1}, m.Stats(t)); diff != "" {
					t.Errorf("Stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// blockingBatchSQS is fakeSQS whose heartbeat call is held on its way to
// SQS: it signals entered, then waits for release before SQS applies it.
type blockingBatchSQS struct {
	*fakeSQS
	entered chan struct{}
	release chan struct{}
}

func (b *blockingBatchSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.fakeSQS.ChangeMessageVisibilityBatch(ctx, in, opts...)
}

// TestEngineHeartbeatCannotUndoHandBack fails a handler while the
// heartbeat's extend of its message is still on its way to SQS. The extend
// must not land after the hand-back: the last visibility SQS applies is the
// back-off, not the heartbeat's 3s, or the message would stay hidden a whole
// visibility timeout (in production 30s, against a 2s back-off).
func TestEngineHeartbeatCannotUndoHandBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeSQS(t, sqsMessage("slow", snsNotification(t, testTopicARN, testOrder(1)), "1"))
		fake.visibility = 3 * time.Second
		client := &blockingBatchSQS{fakeSQS: fake, entered: make(chan struct{}, 1), release: make(chan struct{})}
		finish := make(chan struct{})
		m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
			<-finish
			return "", errors.New("coupon rule broken") // not transient: no pause
		}), Config{VisibilityTimeout: 3 * time.Second, RetryBase: 2 * time.Second})

		<-client.entered // the heartbeat's extend is in flight
		close(finish)    // the handler fails and hands its message back
		synctest.Wait()
		close(client.release) // the extend reaches SQS
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}

		vis := fake.visChanges()
		if len(vis) == 0 || vis[len(vis)-1] != (visChange{"slow", 2}) {
			t.Errorf("visibility changes %+v; want the hand-back's {slow 2} last", vis)
		}
		if diff := cmp.Diff(Stats{Received: 1, Failed: 1}, m.Stats(t)); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}
