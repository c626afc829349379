package worker

// These tests run the engine against an in-memory SQS (fakeSQS). They are in
// package worker, not worker_test, only to keep their helper names apart from
// those of the integration tests, which share the worker_test namespace; they
// use nothing but the exported API.
//
// Each test runs in a synctest bubble: time is fake and advances only when
// every goroutine of the test is blocked, so waits that span seconds of
// engine time (long polls, drain budgets, heartbeats) take no real time, and
// "nothing else happened meanwhile" is synctest.Wait, not a sleep that a
// loaded machine can outrun.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/order"
)

const (
	testQueueURL = "http://sqs.eu-west-1.localhost/123456789012/pubsub-test-fulfilment-EventsQueue"
	testTopic    = "pubsub-test-publisher-ordersTopic"
	testTopicARN = "arn:aws:sns:eu-west-1:123456789012:" + testTopic
)

// visChange is one ChangeMessageVisibility call.
type visChange struct {
	Handle  string
	Seconds int32
}

// fakeSQS is an in-memory queue. A received message leaves the queue and is
// never redelivered, so each test sees exactly what the engine did with it.
type fakeSQS struct {
	t       *testing.T
	arrived chan struct{} // poked when messages are queued

	mu        sync.Mutex
	queue     []types.Message
	orphaned  []types.Message // taken by a poll whose client had gone
	received  int             // messages handed out
	requested []int32         // MaxNumberOfMessages of each receive
	waits     []int32         // WaitTimeSeconds of each receive
	batches   [][]string
	vis       []visChange

	// With visibility set, the fake tracks until when each received message
	// is hidden, as SQS does, and records in lapsed the handles of messages
	// that became visible again while the engine still held them.
	visibility  time.Duration
	hiddenUntil map[string]time.Time
	lapsed      []string
}

func newFakeSQS(t *testing.T, msgs ...types.Message) *fakeSQS {
	f := &fakeSQS{t: t, arrived: make(chan struct{}, 1)}
	f.push(msgs...)
	return f
}

func (f *fakeSQS) push(msgs ...types.Message) {
	f.mu.Lock()
	f.queue = append(f.queue, msgs...)
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
}

// ReceiveMessage hands out at most MaxNumberOfMessages queued messages, or
// long-polls for WaitTimeSeconds (20ms when zero), returning early when
// messages arrive. Like SQS, the poll outlives a client that gives up on it:
// when ctx ends, the call returns but the poll goes on to its wait time, and
// what it takes then is orphaned (hidden from everyone until its visibility
// timeout, here for ever).
func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	max := in.MaxNumberOfMessages
	f.mu.Lock()
	f.requested = append(f.requested, max)
	f.waits = append(f.waits, in.WaitTimeSeconds)
	f.mu.Unlock()
	if got := aws.ToString(in.QueueUrl); got != testQueueURL {
		f.t.Errorf("ReceiveMessage QueueUrl = %q; want %q", got, testQueueURL)
	}
	if max < 1 || max > 10 {
		f.t.Errorf("ReceiveMessage MaxNumberOfMessages = %d; want 1..10", max)
		return nil, fmt.Errorf("InvalidParameterValue: MaxNumberOfMessages %d", max)
	}
	if in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > 20 {
		f.t.Errorf("ReceiveMessage WaitTimeSeconds = %d; want 0..20", in.WaitTimeSeconds)
		return nil, fmt.Errorf("InvalidParameterValue: WaitTimeSeconds %d", in.WaitTimeSeconds)
	}
	if !slices.Contains(in.MessageSystemAttributeNames, types.MessageSystemAttributeNameApproximateReceiveCount) {
		f.t.Errorf("ReceiveMessage does not ask for ApproximateReceiveCount: %v", in.MessageSystemAttributeNames)
	}
	wait := time.Duration(in.WaitTimeSeconds) * time.Second
	if wait == 0 {
		wait = 20 * time.Millisecond
	}
	type result struct{ msgs []types.Message }
	polled := make(chan result, 1)
	abandoned := false // guarded by f.mu
	go func() {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			f.mu.Lock()
			if len(f.queue) > 0 {
				n := min(len(f.queue), int(max))
				msgs := slices.Clone(f.queue[:n])
				f.queue = f.queue[n:]
				if abandoned {
					f.orphaned = append(f.orphaned, msgs...)
				} else {
					f.received += n
				}
				for _, m := range msgs {
					f.hide(aws.ToString(m.ReceiptHandle), f.visibility)
				}
				f.mu.Unlock()
				polled <- result{msgs}
				return
			}
			f.mu.Unlock()
			select {
			case <-f.arrived:
			case <-timer.C:
				polled <- result{}
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
		f.mu.Lock()
		abandoned = true
		select {
		case r := <-polled: // taken just before the client gave up: lost all the same
			f.received -= len(r.msgs)
			f.orphaned = append(f.orphaned, r.msgs...)
		default:
		}
		f.mu.Unlock()
		return nil, ctx.Err()
	case r := <-polled:
		return &sqs.ReceiveMessageOutput{Messages: r.msgs}, nil
	}
}

// hide hides a received message for d from now; f.mu must be held.
func (f *fakeSQS) hide(handle string, d time.Duration) {
	if f.visibility == 0 {
		return
	}
	if f.hiddenUntil == nil {
		f.hiddenUntil = map[string]time.Time{}
	}
	f.hiddenUntil[handle] = time.Now().Add(d)
}

// touch records handle as lapsed when its message has become visible again
// before this call (a delete or visibility change); f.mu must be held.
func (f *fakeSQS) touch(handle string) {
	if until, ok := f.hiddenUntil[handle]; ok && time.Now().After(until) {
		f.lapsed = append(f.lapsed, handle)
	}
}

// lapses returns the handles of messages that became visible again while
// the engine still held them: SQS would have redelivered them.
func (f *fakeSQS) lapses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lapsed)
}

// orphans returns the messages taken by polls whose client had gone.
func (f *fakeSQS) orphans() []types.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.orphaned)
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	if got := aws.ToString(in.QueueUrl); got != testQueueURL {
		f.t.Errorf("DeleteMessageBatch QueueUrl = %q; want %q", got, testQueueURL)
	}
	if n := len(in.Entries); n < 1 || n > 10 {
		f.t.Errorf("DeleteMessageBatch with %d entries; want 1..10", n)
		return nil, fmt.Errorf("batch of %d entries", n)
	}
	var handles []string
	ids := map[string]bool{}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if ids[id] {
			f.t.Errorf("DeleteMessageBatch repeats entry id %q", id)
		}
		ids[id] = true
		handles = append(handles, aws.ToString(e.ReceiptHandle))
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	f.mu.Lock()
	f.batches = append(f.batches, handles)
	for _, h := range handles {
		f.touch(h)
		delete(f.hiddenUntil, h)
	}
	f.mu.Unlock()
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if got := aws.ToString(in.QueueUrl); got != testQueueURL {
		f.t.Errorf("ChangeMessageVisibility QueueUrl = %q; want %q", got, testQueueURL)
	}
	f.mu.Lock()
	f.vis = append(f.vis, visChange{aws.ToString(in.ReceiptHandle), in.VisibilityTimeout})
	f.touch(aws.ToString(in.ReceiptHandle))
	f.hide(aws.ToString(in.ReceiptHandle), time.Duration(in.VisibilityTimeout)*time.Second)
	f.mu.Unlock()
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// ChangeMessageVisibilityBatch is the heartbeat's call; it records each
// entry as a visibility change.
func (f *fakeSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	if got := aws.ToString(in.QueueUrl); got != testQueueURL {
		f.t.Errorf("ChangeMessageVisibilityBatch QueueUrl = %q; want %q", got, testQueueURL)
	}
	f.mu.Lock()
	for _, e := range in.Entries {
		f.vis = append(f.vis, visChange{aws.ToString(e.ReceiptHandle), e.VisibilityTimeout})
		f.touch(aws.ToString(e.ReceiptHandle))
		f.hide(aws.ToString(e.ReceiptHandle), time.Duration(e.VisibilityTimeout)*time.Second)
	}
	f.mu.Unlock()
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func (f *fakeSQS) visChanges() []visChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.vis)
}

func (f *fakeSQS) deleteBatches() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

// deleted returns every deleted receipt handle, sorted.
func (f *fakeSQS) deleted() []string {
	var all []string
	for _, b := range f.deleteBatches() {
		all = append(all, b...)
	}
	slices.Sort(all)
	return all
}

func (f *fakeSQS) waitTimes() []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.waits)
}

func (f *fakeSQS) maxRequested() int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Max(append([]int32{0}, f.requested...))
}

func (f *fakeSQS) queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// handlerFn adapts a function to Handler.
type handlerFn func(context.Context, events.OrderPlaced) (string, error)

func (h handlerFn) Handle(ctx context.Context, e events.OrderPlaced) (string, error) {
	return h(ctx, e)
}

// testOrderID returns a distinct valid order id for i.
func testOrderID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// snsNotification returns an SQS body holding the OrderPlaced event for o in
// an SNS envelope from the topic with the given ARN, as SNS delivers it.
func snsNotification(t *testing.T, topicARN string, o order.Order) string {
	t.Helper()
	msg, err := events.Marshal(events.OrderPlaced{Order: o})
	if err != nil {
		t.Fatal(err)
	}
	return envelopeBody(t, topicARN, string(msg))
}

func envelopeBody(t *testing.T, topicARN, message string) string {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"Type":      "Notification",
		"MessageId": "sns-" + strconv.Itoa(len(message)),
		"TopicArn":  topicARN,
		"Message":   message,
		"Timestamp": "2026-05-01T12:30:00.000Z",
		"MessageAttributes": map[string]any{
			"amount": map[string]string{"Type": "Number", "Value": "95.5"},
		},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testOrder(i int) order.Order {
	return order.Order{ID: testOrderID(i), Customer: "Ada Lovelace", Amount: 9550, CreatedAt: time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)}
}

// sqsMessage returns a message with the given receipt handle and body,
// received for the receives-th time ("" leaves the attribute out).
func sqsMessage(handle, body, receives string) types.Message {
	m := types.Message{
		MessageId:     aws.String("msg-" + handle),
		ReceiptHandle: aws.String(handle),
		Body:          aws.String(body),
		Attributes:    map[string]string{},
	}
	if receives != "" {
		m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)] = receives
	}
	return m
}

// startTestEngine runs an engine on client until the test ends or stop is
// called; stop cancels Run's context and returns Run's result.
func startTestEngine(t *testing.T, client SQSAPI, h Handler, cfg Config) (e *Engine, stop func() error, done <-chan error) {
	t.Helper()
	cfg.QueueURL = testQueueURL
	if cfg.WaitTime == 0 {
		cfg.WaitTime = time.Second // the fake returns as soon as messages arrive or ctx ends
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 200 * time.Millisecond
	}
	e = New(client, h, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- e.Run(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-ch:
			case <-time.After(5 * time.Second):
				result = errors.New("Run did not return within 5s of cancellation")
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return e, stop, ch
}

// eventually polls cond until it holds, failing the test after 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEngineDeletesHandledMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 25
		var msgs []types.Message
		var wantHandles, wantIDs []string
		for i := range n {
			h := fmt.Sprintf("handle-%02d", i)
			msgs = append(msgs, sqsMessage(h, snsNotification(t, testTopicARN, testOrder(i)), "1"))
			wantHandles = append(wantHandles, h)
			wantIDs = append(wantIDs, testOrderID(i))
		}
		client := newFakeSQS(t, msgs...)
		var mu sync.Mutex
		var handled []events.OrderPlaced
		e, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			handled = append(handled, ev)
			return "fulfilled", nil
		}), Config{TopicARN: testTopicARN})

		eventually(t, "every message to be deleted", func() bool { return len(client.deleted()) >= n })
		if err := stop(); err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}

		if diff := cmp.Diff(wantHandles, client.deleted()); diff != "" {
			t.Errorf("deleted receipt handles, each once (-want +got):\n%s", diff)
		}
		for i, b := range client.deleteBatches() {
			if len(b) < 1 || len(b) > 10 {
				t.Errorf("delete batch %d has %d entries; want 1..10", i, len(b))
			}
		}
		if got := client.visChanges(); len(got) != 0 {
			t.Errorf("visibility changes = %v; want none", got)
		}
		mu.Lock()
		var gotIDs []string
		for _, ev := range handled {
			gotIDs = append(gotIDs, ev.Order.ID)
			if diff := cmp.Diff(testOrder(0), ev.Order, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ID" }, cmp.Ignore())); diff != "" {
				t.Errorf("handled order %s (-want +got):\n%s", ev.Order.ID, diff)
			}
		}
		mu.Unlock()
		slices.Sort(gotIDs)
		if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
			t.Errorf("handled order ids, each once (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(Stats{Received: n, Succeeded: n}, e.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

func TestEngineBoundsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, limit = 20, 3
		var msgs []types.Message
		for i := range n {
			msgs = append(msgs, sqsMessage(fmt.Sprintf("handle-%02d", i), snsNotification(t, testTopicARN, testOrder(i)), "1"))
		}
		client := newFakeSQS(t, msgs...)
		release := make(chan struct{})
		var mu sync.Mutex
		active, peak := 0, 0
		_, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
			mu.Lock()
			active++
			peak = max(peak, active)
			mu.Unlock()
			<-release
			mu.Lock()
			active--
			mu.Unlock()
			return "fulfilled", nil
		}), Config{Concurrency: limit})

		eventually(t, fmt.Sprintf("%d handlers to run at once", limit), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return active == limit
		})
		synctest.Wait() // a wrongly started fourth handler would be running now
		client.mu.Lock()
		held := client.received
		client.mu.Unlock()
		// The running handlers' messages plus one batch received ahead.
		if held > limit+10 {
			t.Errorf("engine holds %d messages with %d handlers busy; want at most %d (one batch ahead)", held, limit, limit+10)
		}
		close(release)
		eventually(t, "every message to be deleted", func() bool { return len(client.deleted()) == n })
		if err := stop(); err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if peak != limit {
			t.Errorf("at most %d handlers ran at once; want %d", peak, limit)
		}
		if got := client.maxRequested(); got != 10 {
			t.Errorf("ReceiveMessage asked for up to %d messages; want full batches of 10", got)
		}
	})
}

func TestEngineHandlerErrorBacksOff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		receives string
		err      error
		want     int32 // seconds
		stats    Stats
	}{
		{name: "no receive count", receives: "", err: errors.New("throttled"), want: 2, stats: Stats{Received: 1, Failed: 1}},
		{name: "first receive", receives: "1", err: errors.New("throttled"), want: 2, stats: Stats{Received: 1, Failed: 1}},
		{name: "second receive", receives: "2", err: errors.New("throttled"), want: 4, stats: Stats{Received: 1, Failed: 1}},
		{name: "third receive", receives: "3", err: errors.New("throttled"), want: 8, stats: Stats{Received: 1, Failed: 1}},
		{name: "fourth receive", receives: "4", err: errors.New("throttled"), want: 16, stats: Stats{Received: 1, Failed: 1}},
		{name: "capped", receives: "5", err: errors.New("throttled"), want: 30, stats: Stats{Received: 1, Failed: 1}},
		{name: "capped far out", receives: "60", err: errors.New("throttled"), want: 30, stats: Stats{Received: 1, Failed: 1}},
		{name: "permanent error", receives: "1", err: fmt.Errorf("bad coupon: %w", ErrPermanent), want: 5, stats: Stats{Received: 1, Poison: 1}},
		{name: "permanent error on the last receive", receives: "3", err: fmt.Errorf("bad coupon: %w", ErrPermanent), want: 5, stats: Stats{Received: 1, Poison: 1, DeadLettered: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t, sqsMessage("h1", snsNotification(t, testTopicARN, testOrder(1)), tc.receives))
				var mu sync.Mutex
				calls := 0
				e, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
					mu.Lock()
					defer mu.Unlock()
					calls++
					return "", tc.err
				}), Config{RetryBase: 2 * time.Second, RetryMax: 30 * time.Second, PoisonDelay: 5 * time.Second})

				eventually(t, "a visibility change", func() bool { return len(client.visChanges()) > 0 })
				if err := stop(); err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if diff := cmp.Diff([]visChange{{"h1", tc.want}}, client.visChanges()); diff != "" {
					t.Errorf("visibility changes (-want +got):\n%s", diff)
				}
				if got := client.deleted(); len(got) != 0 {
					t.Errorf("deleted %v; want nothing deleted", got)
				}
				mu.Lock()
				if calls != 1 {
					t.Errorf("handler called %d times; want 1", calls)
				}
				mu.Unlock()
				if diff := cmp.Diff(tc.stats, e.Stats()); diff != "" {
					t.Errorf("Stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestEnginePoisonMessages(t *testing.T) {
	badAmount := `{"type":"OrderPlaced","version":1,"order":{"id":"` + testOrderID(1) + `","customer":"Ada","amount":"1.234","createdAt":"2026-05-01T12:30:00Z"}}`
	good := snsNotification(t, testTopicARN, testOrder(1))
	for _, tc := range []struct {
		name, body, receives string
		topic                string // Config.TopicARN
		topicName            string // Config.Topic, the name alone
		stats                Stats
	}{
		{name: "not JSON", body: "this is not an order", receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "empty body", body: "", receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "subscription confirmation", body: `{"Type":"SubscriptionConfirmation","Message":"confirm","TopicArn":"` + testTopicARN + `"}`, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "raw event without envelope", body: badAmount, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "message not an event", body: envelopeBody(t, testTopicARN, "this is not an order"), receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "invalid amount", body: envelopeBody(t, testTopicARN, badAmount), receives: "2", stats: Stats{Received: 1, Poison: 1}},
		{name: "last receive before the DLQ", body: envelopeBody(t, testTopicARN, badAmount), receives: "3", stats: Stats{Received: 1, Poison: 1, DeadLettered: 1}},
		{name: "another topic", body: snsNotification(t, "arn:aws:sns:eu-west-1:123456789012:other-topic", testOrder(1)), topic: testTopicARN, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "topic whose name ends like ours", body: snsNotification(t, "arn:aws:sns:eu-west-1:123456789012:x-"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "our topic's name in another account", body: snsNotification(t, "arn:aws:sns:eu-west-1:999999999999:"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "our topic's name in another region", body: snsNotification(t, "arn:aws:sns:us-east-1:123456789012:"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "our topic's name in another partition", body: snsNotification(t, "arn:aws-us-gov:sns:eu-west-1:123456789012:"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "no topic", body: snsNotification(t, "", testOrder(1)), topic: testTopicARN, receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "our topic when another is configured", body: good, topic: "arn:aws:sns:eu-west-1:123456789012:other-topic", receives: "1", stats: Stats{Received: 1, Poison: 1}},
		{name: "another topic, by name", body: snsNotification(t, "arn:aws:sns:eu-west-1:123456789012:other-topic", testOrder(1)), topicName: testTopic, receives: "1", stats: Stats{Received: 1, Poison: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t, sqsMessage("h1", tc.body, tc.receives))
				var mu sync.Mutex
				calls := 0
				e, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
					mu.Lock()
					defer mu.Unlock()
					calls++
					return "fulfilled", nil
				}), Config{TopicARN: tc.topic, Topic: tc.topicName, PoisonDelay: 5 * time.Second, RetryBase: 2 * time.Second})

				eventually(t, "a visibility change", func() bool { return len(client.visChanges()) > 0 })
				if err := stop(); err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if diff := cmp.Diff([]visChange{{"h1", 5}}, client.visChanges()); diff != "" {
					t.Errorf("visibility changes (-want +got):\n%s", diff)
				}
				if got := client.deleted(); len(got) != 0 {
					t.Errorf("deleted %v; want a poison message left for the DLQ", got)
				}
				mu.Lock()
				if calls != 0 {
					t.Errorf("handler called %d times; want 0", calls)
				}
				mu.Unlock()
				if diff := cmp.Diff(tc.stats, e.Stats()); diff != "" {
					t.Errorf("Stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestEngineAcceptsTopic(t *testing.T) {
	for _, tc := range []struct {
		name, topicARN, topic, arn string
	}{
		{"no topic configured", "", "", "arn:aws:sns:eu-west-1:123456789012:any-topic"},
		{"configured topic", testTopicARN, "", testTopicARN},
		{"configured topic, by name", "", testTopic, testTopicARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t, sqsMessage("h1", snsNotification(t, tc.arn, testOrder(1)), "1"))
				e, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
					return "fulfilled", nil
				}), Config{TopicARN: tc.topicARN, Topic: tc.topic})
				eventually(t, "the message to be deleted", func() bool { return len(client.deleted()) > 0 })
				if err := stop(); err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if diff := cmp.Diff([]string{"h1"}, client.deleted()); diff != "" {
					t.Errorf("deleted (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(Stats{Received: 1, Succeeded: 1}, e.Stats()); diff != "" {
					t.Errorf("Stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestEngineDrainsInFlightWork cancels Run while a handler is running: the
// engine stops receiving at once, waits for the handler, deletes its message
// and returns nil.
func TestEngineDrainsInFlightWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t, sqsMessage("h1", snsNotification(t, testTopicARN, testOrder(1)), "1"))
		started, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		var handlerCtxErr error
		e, stop, done := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
			once.Do(func() { close(started) })
			<-release
			handlerCtxErr = ctx.Err()
			return "fulfilled", nil
		}), Config{DrainTimeout: 5 * time.Second})

		<-started
		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		// Once the cancellation has reached the engine, still in its poll, a
		// message that arrives is taken by that poll and handed back at once,
		// unhandled.
		synctest.Wait()
		client.push(sqsMessage("h2", snsNotification(t, testTopicARN, testOrder(2)), "1"))
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Run returned %v while a handler was still running", err)
		default:
		}
		close(release)
		if err := <-stopped; err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}

		if handlerCtxErr != nil {
			t.Errorf("handler context ended (%v) within the drain budget; want it alive", handlerCtxErr)
		}
		if diff := cmp.Diff([]string{"h1"}, client.deleted()); diff != "" {
			t.Errorf("deleted (-want +got):\n%s", diff)
		}
		if got := client.orphans(); len(got) != 0 {
			t.Errorf("%d message(s) taken by an abandoned poll; want none", len(got))
		}
		if diff := cmp.Diff([]visChange{{"h2", 0}}, client.visChanges()); diff != "" {
			t.Errorf("visibility changes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(Stats{Received: 2, Succeeded: 1, Released: 1}, e.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

// TestEngineDrainTimeoutReleasesMessage cancels Run while a handler is stuck:
// after DrainTimeout the handler's context is cancelled and its message is
// made visible again at once for another worker.
func TestEngineDrainTimeoutReleasesMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const drain = 200 * time.Millisecond
		client := newFakeSQS(t, sqsMessage("h1", snsNotification(t, testTopicARN, testOrder(1)), "1"))
		started := make(chan struct{})
		var once sync.Once
		e, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
			once.Do(func() { close(started) })
			<-ctx.Done()
			return "", ctx.Err()
		}), Config{DrainTimeout: drain, RetryBase: 2 * time.Second})

		<-started
		begin := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		if took := time.Since(begin); took < drain {
			t.Errorf("Run returned %v after cancellation; want it to give the handler the %v drain budget", took, drain)
		}
		if diff := cmp.Diff([]visChange{{"h1", 0}}, client.visChanges()); diff != "" {
			t.Errorf("visibility changes (-want +got):\n%s", diff)
		}
		if got := client.deleted(); len(got) != 0 {
			t.Errorf("deleted %v; want nothing deleted", got)
		}
		if diff := cmp.Diff(Stats{Received: 1, Released: 1}, e.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

// TestEngineStopNeverAbandonsAPoll stops an idle engine in the middle of a
// long poll and sends a message while that poll still runs. The engine lets
// the poll finish instead of abandoning it (SQS would go on polling for a
// client that is gone and hide the message for a visibility timeout), hands
// the message back at once and returns within the poll's wait time.
func TestEngineStopNeverAbandonsAPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wait = 2 * time.Second
		client := newFakeSQS(t)
		e, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
			t.Error("handler called during shutdown")
			return "", nil
		}), Config{WaitTime: wait})
		eventually(t, "a receive", func() bool { return client.maxRequested() > 0 })
		begin := time.Now()
		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		synctest.Wait() // cancelled, and still in its poll
		client.push(sqsMessage("late", snsNotification(t, testTopicARN, testOrder(1)), "1"))
		if err := <-stopped; err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		if took := time.Since(begin); took > wait+time.Second {
			t.Errorf("Run took %v to return after cancellation; want at most the %v poll", took, wait)
		}
		if got := client.orphans(); len(got) != 0 {
			t.Errorf("%d message(s) taken by an abandoned poll; want none", len(got))
		}
		if diff := cmp.Diff([]visChange{{"late", 0}}, client.visChanges()); diff != "" {
			t.Errorf("visibility changes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(Stats{Received: 1, Released: 1}, e.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

// TestEngineHeartbeatExtendsSlowMessage runs one slow and one quick handler:
// the slow one's message has its visibility extended by the queue's
// visibility timeout while it runs; the quick one's is left alone.
func TestEngineHeartbeatExtendsSlowMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := newFakeSQS(t,
			sqsMessage("slow", snsNotification(t, testTopicARN, testOrder(1)), "1"),
			sqsMessage("quick", snsNotification(t, testTopicARN, testOrder(2)), "1"),
		)
		_, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
			if ev.Order.ID != testOrderID(1) {
				return "fulfilled", nil
			}
			// Not eventually: t.Fatal must not be called from the handler's goroutine.
			for deadline := time.Now().Add(5 * time.Second); len(client.visChanges()) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Error("no heartbeat within 5s for the slow message")
					break
				}
			}
			return "fulfilled", nil
		}), Config{VisibilityTimeout: time.Second})

		eventually(t, "both messages to be deleted", func() bool { return len(client.deleted()) == 2 })
		if err := stop(); err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		vis := client.visChanges()
		if len(vis) == 0 {
			t.Fatal("no visibility change; want the slow message extended")
		}
		for _, v := range vis {
			if v != (visChange{"slow", 1}) {
				t.Errorf("visibility change %+v; want only {slow 1}: the slow message extended by the 1s visibility timeout", v)
			}
		}
		if diff := cmp.Diff([]string{"quick", "slow"}, client.deleted()); diff != "" {
			t.Errorf("deleted (-want +got):\n%s", diff)
		}
	})
}

// TestEngineHeartbeatKeepsSlowMessageHidden runs a handler three times
// longer than a 2s visibility timeout (heartbeats every 667ms), as the
// integration test TestHeartbeatKeepsSlowOrderFromRedelivery does on an
// emulator, but on synctest's clock: the message must never become visible
// again before it is deleted, however loaded the machine.
func TestEngineHeartbeatKeepsSlowMessageHidden(t *testing.T) {
	for _, tc := range []struct {
		name       string
		visibility time.Duration // the engine's setting
		queue      time.Duration // the queue's visibility timeout
		want       int32         // seconds each heartbeat extends by
	}{
		{"2s", 2 * time.Second, 2 * time.Second, 2},
		{"30s", 30 * time.Second, 30 * time.Second, 30},
		// SQS counts whole seconds: less than one would make it visible at once.
		{"under a second", 500 * time.Millisecond, time.Second, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t, sqsMessage("slow", snsNotification(t, testTopicARN, testOrder(1)), "1"))
				client.visibility = tc.queue
				slow := 3 * tc.queue
				_, stop, _ := startTestEngine(t, client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
					time.Sleep(slow)
					return "fulfilled", nil
				}), Config{VisibilityTimeout: tc.visibility})

				time.Sleep(slow + time.Second)
				if err := stop(); err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if diff := cmp.Diff([]string{"slow"}, client.deleted()); diff != "" {
					t.Errorf("deleted (-want +got):\n%s", diff)
				}
				if got := client.lapses(); len(got) != 0 {
					t.Errorf("message visible again while its handler ran (%v); want it kept hidden", got)
				}
				vis := client.visChanges()
				if len(vis) < 3 {
					t.Errorf("%d heartbeats in %v with a %v visibility timeout; want at least 3", len(vis), slow, tc.queue)
				}
				for _, v := range vis {
					if v != (visChange{"slow", tc.want}) {
						t.Errorf("visibility change %+v; want {slow %d}", v, tc.want)
					}
				}
			})
		})
	}
}

// TestEngineWaitTime checks the long-poll wait each receive asks for: the
// configured one in whole seconds, at most SQS's 20s (SQS rejects more).
func TestEngineWaitTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait time.Duration
		want int32
	}{
		{"default", 0, 20},
		{"5s", 5 * time.Second, 5},
		{"20s", 20 * time.Second, 20},
		{"above 20s", 30 * time.Second, 20},
		{"an hour", time.Hour, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t)
				e := New(client, handlerFn(func(ctx context.Context, ev events.OrderPlaced) (string, error) {
					return "", nil
				}), Config{QueueURL: testQueueURL, WaitTime: tc.wait}, slog.New(slog.NewTextHandler(io.Discard, nil)))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- e.Run(ctx) }()
				time.Sleep(50 * time.Second) // a few empty polls
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				waits := client.waitTimes()
				if len(waits) < 2 {
					t.Fatalf("%d receives in 50s; want several", len(waits))
				}
				for i, got := range waits {
					if got != tc.want {
						t.Errorf("receive %d WaitTimeSeconds = %d; want %d", i, got, tc.want)
					}
				}
			})
		})
	}
}
