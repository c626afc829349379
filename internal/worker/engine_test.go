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
	"sync/atomic"
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
	f.checkQueue("ReceiveMessage", in.QueueUrl)
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

// checkQueue reports a call to a queue other than the test's.
func (f *fakeSQS) checkQueue(call string, url *string) {
	if got := aws.ToString(url); got != testQueueURL {
		f.t.Errorf("%s QueueUrl = %q; want %q", call, got, testQueueURL)
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
func (f *fakeSQS) lapses() []string { return snapshot(&f.mu, &f.lapsed) }

// orphans returns the messages taken by polls whose client had gone.
func (f *fakeSQS) orphans() []types.Message { return snapshot(&f.mu, &f.orphaned) }

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.checkQueue("DeleteMessageBatch", in.QueueUrl)
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
	f.checkQueue("ChangeMessageVisibility", in.QueueUrl)
	f.mu.Lock()
	f.changeVisibility(aws.ToString(in.ReceiptHandle), in.VisibilityTimeout)
	f.mu.Unlock()
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// changeVisibility records and applies one visibility change; f.mu must be held.
func (f *fakeSQS) changeVisibility(handle string, seconds int32) {
	f.vis = append(f.vis, visChange{handle, seconds})
	f.touch(handle)
	f.hide(handle, time.Duration(seconds)*time.Second)
}

// ChangeMessageVisibilityBatch is the heartbeat's call; it records each
// entry as a visibility change.
func (f *fakeSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	f.checkQueue("ChangeMessageVisibilityBatch", in.QueueUrl)
	f.mu.Lock()
	for _, e := range in.Entries {
		f.changeVisibility(aws.ToString(e.ReceiptHandle), e.VisibilityTimeout)
	}
	f.mu.Unlock()
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func (f *fakeSQS) visChanges() []visChange { return snapshot(&f.mu, &f.vis) }

func (f *fakeSQS) deleteBatches() [][]string { return snapshot(&f.mu, &f.batches) }

// deleted returns every deleted receipt handle, sorted.
func (f *fakeSQS) deleted() []string {
	var all []string
	for _, b := range f.deleteBatches() {
		all = append(all, b...)
	}
	slices.Sort(all)
	return all
}

func (f *fakeSQS) waitTimes() []int32 { return snapshot(&f.mu, &f.waits) }

// snapshot returns a copy of *s, read under mu.
func snapshot[T any](mu *sync.Mutex, s *[]T) []T {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(*s)
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

// HandlerFunc adapts a function to Handler. Exported for the integration
// tests.
type HandlerFunc func(context.Context, events.OrderPlaced) (Outcome, error)

func (h HandlerFunc) Handle(ctx context.Context, e events.OrderPlaced) (Outcome, error) {
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

// orderMessages returns messages h<from>..h<to> holding orders from..to from
// our topic, each on its first receive.
func orderMessages(t *testing.T, from, to int) []types.Message {
	var msgs []types.Message
	for i := from; i <= to; i++ {
		msgs = append(msgs, sqsMessage("h"+strconv.Itoa(i), snsNotification(t, testTopicARN, testOrder(i)), "1"))
	}
	return msgs
}

// startTestEngine runs an engine on client, with ConfigForTest(cfg), until
// the test ends or stop is called; stop cancels Run's context and returns
// Run's result. m is the engine's metrics.
func startTestEngine(t *testing.T, client SQSAPI, h Handler, cfg Config) (m *Meter, stop func() error, done <-chan error) {
	t.Helper()
	m = NewMeter()
	e, err := New(client, h, ConfigForTest(cfg), slog.New(slog.NewTextHandler(io.Discard, nil)), m.Rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- e.Run(ctx) }()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-ch:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Run did not return within 30s (a 20s poll and a drain) of cancellation")
		}
	})
	t.Cleanup(func() { _ = stop() })
	return m, stop, ch
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

// TestEngineDeletesHandledMessages runs 25 messages through a pool of 3
// handlers: each message is handled once, with its order intact, and deleted
// in batches of 1 to 10; at most 3 handlers run at once, and the engine
// receives full batches, at most one ahead of its busy handlers.
func TestEngineDeletesHandledMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, limit = 25, 3
		var wantHandles, wantIDs []string
		for i := range n {
			wantHandles = append(wantHandles, "h"+strconv.Itoa(i))
			wantIDs = append(wantIDs, testOrderID(i))
		}
		slices.Sort(wantHandles)
		client := newFakeSQS(t, orderMessages(t, 0, n-1)...)
		release := make(chan struct{})
		var mu sync.Mutex
		var handled []events.OrderPlaced
		active, peak := 0, 0
		m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
			mu.Lock()
			handled = append(handled, ev)
			active++
			peak = max(peak, active)
			mu.Unlock()
			<-release
			mu.Lock()
			active--
			mu.Unlock()
			return "fulfilled", nil
		}), Config{TopicARN: testTopicARN, Concurrency: limit})

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
		if got := client.maxRequested(); got != 10 {
			t.Errorf("ReceiveMessage asked for up to %d messages; want full batches of 10", got)
		}
		mu.Lock()
		if peak != limit {
			t.Errorf("at most %d handlers ran at once; want %d", peak, limit)
		}
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
		if diff := cmp.Diff(Stats{Received: n, Succeeded: n}, m.Stats(t)); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

// TestEngineHandsBackFailedMessages: a message the handler fails on is made
// visible again after its back-off; a poison message (unreadable, from
// another topic, or failed permanently) after PoisonDelay, left for the DLQ.
// Neither is deleted; a poison message never reaches the handler.
func TestEngineHandsBackFailedMessages(t *testing.T) {
	badAmount := `{"type":"OrderPlaced","version":1,"order":{"id":"` + testOrderID(1) + `","customer":"Ada","amount":"1.234","createdAt":"2026-05-01T12:30:00Z"}}`
	good := snsNotification(t, testTopicARN, testOrder(1))
	throttled, permanent := errors.New("throttled"), fmt.Errorf("bad coupon: %w", ErrPermanent)
	failed, poison := Stats{Received: 1, Failed: 1}, Stats{Received: 1, Poison: 1}
	for _, tc := range []struct {
		name, body, receives string
		topic                string // Config.TopicARN, testTopicARN if empty
		err                  error  // the handler's; nil: a poison message the handler must not see
		want                 int32  // seconds
		stats                Stats
	}{
		{name: "no receive count", body: good, receives: "", err: throttled, want: 2, stats: failed},
		{name: "first receive", body: good, receives: "1", err: throttled, want: 2, stats: failed},
		{name: "second receive", body: good, receives: "2", err: throttled, want: 4, stats: failed},
		{name: "third receive", body: good, receives: "3", err: throttled, want: 8, stats: failed},
		{name: "fourth receive", body: good, receives: "4", err: throttled, want: 16, stats: failed},
		{name: "capped", body: good, receives: "5", err: throttled, want: 30, stats: failed},
		{name: "capped far out", body: good, receives: "60", err: throttled, want: 30, stats: failed},
		{name: "permanent error", body: good, receives: "1", err: permanent, want: 5, stats: poison},
		{name: "permanent error on the last receive", body: good, receives: "3", err: permanent, want: 5, stats: Stats{Received: 1, Poison: 1, DeadLettered: 1}},
		{name: "not JSON", body: "this is not an order", receives: "1", want: 5, stats: poison},
		{name: "empty body", body: "", receives: "1", want: 5, stats: poison},
		{name: "subscription confirmation", body: `{"Type":"SubscriptionConfirmation","Message":"confirm","TopicArn":"` + testTopicARN + `"}`, receives: "1", want: 5, stats: poison},
		{name: "raw event without envelope", body: badAmount, receives: "1", want: 5, stats: poison},
		{name: "message not an event", body: envelopeBody(t, testTopicARN, "this is not an order"), receives: "1", want: 5, stats: poison},
		{name: "invalid amount", body: envelopeBody(t, testTopicARN, badAmount), receives: "2", want: 5, stats: poison},
		{name: "last receive before the DLQ", body: envelopeBody(t, testTopicARN, badAmount), receives: "3", want: 5, stats: Stats{Received: 1, Poison: 1, DeadLettered: 1}},
		{name: "another topic", body: snsNotification(t, "arn:aws:sns:eu-west-1:123456789012:other-topic", testOrder(1)), topic: testTopicARN, receives: "1", want: 5, stats: poison},
		{name: "topic whose name ends like ours", body: snsNotification(t, "arn:aws:sns:eu-west-1:123456789012:x-"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", want: 5, stats: poison},
		{name: "our topic's name in another account", body: snsNotification(t, "arn:aws:sns:eu-west-1:999999999999:"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", want: 5, stats: poison},
		{name: "our topic's name in another region", body: snsNotification(t, "arn:aws:sns:us-east-1:123456789012:"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", want: 5, stats: poison},
		{name: "our topic's name in another partition", body: snsNotification(t, "arn:aws-us-gov:sns:eu-west-1:123456789012:"+testTopic, testOrder(1)), topic: testTopicARN, receives: "1", want: 5, stats: poison},
		{name: "no topic", body: snsNotification(t, "", testOrder(1)), topic: testTopicARN, receives: "1", want: 5, stats: poison},
		{name: "our topic when another is configured", body: good, topic: "arn:aws:sns:eu-west-1:123456789012:other-topic", receives: "1", want: 5, stats: poison},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t, sqsMessage("h1", tc.body, tc.receives))
				var calls atomic.Int32
				m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
					calls.Add(1)
					return "", tc.err
				}), Config{TopicARN: tc.topic, RetryBase: 2 * time.Second, RetryMax: 30 * time.Second, PoisonDelay: 5 * time.Second})

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
				wantCalls := int32(0)
				if tc.err != nil {
					wantCalls = 1
				}
				if calls.Load() != wantCalls {
					t.Errorf("handler called %d times; want %d", calls.Load(), wantCalls)
				}
				if diff := cmp.Diff(tc.stats, m.Stats(t)); diff != "" {
					t.Errorf("Stats (-want +got):\n%s", diff)
				}
			})
		})
	}
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
		m, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
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
		if diff := cmp.Diff(Stats{Received: 1, Released: 1}, m.Stats(t)); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

// TestEngineStopNeverAbandonsAPoll stops an idle engine a second into a 5s
// long poll. The engine lets the poll finish instead of abandoning it (SQS
// would go on polling for a client that is gone and hide what it finds for a
// visibility timeout): Run returns when the poll ends, not before, and a
// message that arrives meanwhile is taken by that poll and handed back at
// once, unhandled, while a handler at work is waited for and its message
// deleted.
func TestEngineStopNeverAbandonsAPoll(t *testing.T) {
	const wait = 5 * time.Second
	for _, tc := range []struct {
		name    string
		busy    bool // a handler is at work on h1
		late    bool // a message arrives once the engine is cancelled
		took    time.Duration
		vis     []visChange
		deleted []string
		stats   Stats
	}{
		{name: "empty", took: wait - time.Second},
		{name: "a message arrives", late: true, vis: []visChange{{"late", 0}}, stats: Stats{Received: 1, Released: 1}},
		{name: "a message arrives while a handler works", busy: true, late: true, vis: []visChange{{"late", 0}}, deleted: []string{"h1"}, stats: Stats{Received: 2, Succeeded: 1, Released: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t)
				if tc.busy {
					client.push(orderMessages(t, 1, 1)...)
				}
				release := make(chan struct{})
				m, stop, done := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
					if !tc.busy {
						t.Error("handler called during shutdown")
					}
					<-release
					return "fulfilled", nil
				}), Config{WaitTime: wait})
				time.Sleep(time.Second) // one second into the first poll
				begin := time.Now()
				stopped := make(chan error, 1)
				go func() { stopped <- stop() }()
				synctest.Wait() // cancelled, and still in its poll
				if tc.late {
					client.push(sqsMessage("late", snsNotification(t, testTopicARN, testOrder(1)), "1"))
				}
				if tc.busy {
					synctest.Wait()
					select {
					case err := <-done:
						t.Fatalf("Run returned %v while a handler was still running", err)
					default:
					}
				}
				close(release)
				if err := <-stopped; err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if took := time.Since(begin); took != tc.took {
					t.Errorf("Run returned %v after the cancellation; want %v, when the poll ends", took, tc.took)
				}
				if got := client.orphans(); len(got) != 0 {
					t.Errorf("%d message(s) taken by an abandoned poll; want none", len(got))
				}
				if diff := cmp.Diff(tc.vis, client.visChanges()); diff != "" {
					t.Errorf("visibility changes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.deleted, client.deleted()); diff != "" {
					t.Errorf("deleted (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.stats, m.Stats(t)); diff != "" {
					t.Errorf("Stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestEngineHeartbeatKeepsSlowMessageHidden runs a handler three times
// longer than the visibility timeout (heartbeats every third of it), as the
// integration test TestHeartbeatKeepsSlowOrderFromRedelivery does on an
// emulator, but on synctest's clock: the message must never become visible
// again before it is deleted, however loaded the machine. Each heartbeat
// extends it by the visibility timeout; a quick message beside it is left
// alone.
func TestEngineHeartbeatKeepsSlowMessageHidden(t *testing.T) {
	for _, tc := range []struct {
		name       string
		visibility time.Duration // the engine's setting
		queue      time.Duration // the queue's visibility timeout
		want       int32         // seconds each heartbeat extends by
	}{
		{"1s", time.Second, time.Second, 1},
		{"2s", 2 * time.Second, 2 * time.Second, 2},
		{"30s", 30 * time.Second, 30 * time.Second, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t,
					sqsMessage("slow", snsNotification(t, testTopicARN, testOrder(1)), "1"),
					sqsMessage("quick", snsNotification(t, testTopicARN, testOrder(2)), "1"))
				client.visibility = tc.queue
				slow := 3 * tc.queue
				_, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
					if ev.Order.ID == testOrderID(1) {
						time.Sleep(slow)
					}
					return "fulfilled", nil
				}), Config{VisibilityTimeout: tc.visibility})

				time.Sleep(slow + time.Second)
				if err := stop(); err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if diff := cmp.Diff([]string{"quick", "slow"}, client.deleted()); diff != "" {
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
						t.Errorf("visibility change %+v; want only {slow %d}: the slow message extended by the visibility timeout", v, tc.want)
					}
				}
			})
		})
	}
}

// TestEngineWaitTime checks the long-poll wait each receive asks for: the
// configured one in whole seconds (New refuses more than SQS's 20s).
func TestEngineWaitTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait time.Duration
		want int32
	}{
		{"1s", time.Second, 1},
		{"5s", 5 * time.Second, 5},
		{"20s", 20 * time.Second, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := newFakeSQS(t)
				_, stop, _ := startTestEngine(t, client, HandlerFunc(func(ctx context.Context, ev events.OrderPlaced) (Outcome, error) {
					return "", nil
				}), Config{WaitTime: tc.wait})
				time.Sleep(50 * time.Second) // a few empty polls
				if err := stop(); err != nil {
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
