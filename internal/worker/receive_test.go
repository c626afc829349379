package worker

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/events"
)

// flakySQS fails its first receives, as SQS does during an outage.
type flakySQS struct {
	*fakeSQS
	mu       sync.Mutex
	failures int
	calls    []time.Time
}

func (f *flakySQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	fail := len(f.calls) <= f.failures
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return f.fakeSQS.ReceiveMessage(ctx, in, opts...)
}

// TestEngineRetriesReceiveErrors makes the first two receives fail: the
// engine waits longer after each (1s, then 2s), keeps running, and handles
// the message once SQS answers.
func TestEngineRetriesReceiveErrors(t *testing.T) {
	client := &flakySQS{fakeSQS: newFakeSQS(t, sqsMessage("h1", snsNotification(t, testTopicARN, testOrder(1)), "1")), failures: 2}
	handled := make(chan struct{}, 1)
	h := handlerFn(func(context.Context, events.OrderPlaced) (string, error) { handled <- struct{}{}; return "ok", nil })
	_, stop, done := startTestEngine(t, client, h, Config{})
	select {
	case <-handled:
	case err := <-done:
		t.Fatalf("Run returned %v during the receive errors; want it to keep going", err)
	case <-time.After(10 * time.Second):
		t.Fatal("message not handled within 10s of two receive errors")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	client.mu.Lock()
	defer client.mu.Unlock()
	first, second := client.calls[1].Sub(client.calls[0]), client.calls[2].Sub(client.calls[1])
	if first < time.Second || second < 2*time.Second || second > 4*time.Second {
		t.Errorf("waits after the failed receives = %s, %s; want about 1s then 2s", first, second)
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		"COPILOT_QUEUE_URI":        testQueueURL,
		"COPILOT_APPLICATION_NAME": "pubsub",
		"COPILOT_ENVIRONMENT_NAME": "test",
	}
	for _, tc := range []struct {
		name    string
		set     map[string]string
		unset   string
		wantErr string // "" for success
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Topic != testTopic || c.Concurrency != 10 || c.MaxReceives != 3 || c.WaitTime != 20*time.Second || c.VisibilityTimeout != 30*time.Second {
				t.Errorf("config = %+v; want topic %s, concurrency 10, max receives 3, wait 20s, visibility 30s", c, testTopic)
			}
		}},
		{name: "tuned", set: map[string]string{"WORKER_CONCURRENCY": "4", "WORKER_MAX_RECEIVES": "5", "WORKER_DRAIN_TIMEOUT": "2500ms", "WORKER_VISIBILITY_TIMEOUT": "45s"}, check: func(t *testing.T, c Config) {
			if c.Concurrency != 4 || c.MaxReceives != 5 || c.DrainTimeout != 2500*time.Millisecond || c.VisibilityTimeout != 45*time.Second {
				t.Errorf("config = %+v; want concurrency 4, max receives 5, drain 2.5s, visibility 45s", c)
			}
		}},
		{name: "no queue", unset: "COPILOT_QUEUE_URI", wantErr: "COPILOT_QUEUE_URI"},
		{name: "no environment", unset: "COPILOT_ENVIRONMENT_NAME", wantErr: "COPILOT_ENVIRONMENT_NAME"},
		{name: "bad concurrency", set: map[string]string{"WORKER_CONCURRENCY": "zero"}, wantErr: "WORKER_CONCURRENCY"},
		{name: "bad duration", set: map[string]string{"WORKER_WAIT_TIME": "soon"}, wantErr: "WORKER_WAIT_TIME"},
		{name: "sub-second wait", set: map[string]string{"WORKER_WAIT_TIME": "500ms"}, wantErr: "whole seconds"},
		{name: "sub-second visibility", set: map[string]string{"WORKER_VISIBILITY_TIMEOUT": "1500ms"}, wantErr: "whole seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.set {
				env[k] = v
			}
			delete(env, tc.unset)
			c, err := ConfigFromEnv(func(k string) string { return env[k] }, "publisher", "ordersTopic")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ConfigFromEnv: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("ConfigFromEnv error = %v; want one naming %q", err, tc.wantErr)
			case tc.check != nil:
				tc.check(t, c)
			}
		})
	}
}

// TestEngineKeepsGoroutinesFlat handles two rounds of 300 messages: the
// second round leaves no more goroutines behind than the first (a fixed
// pool, one deleter, one heartbeat; nothing per message outlives it).
func TestEngineKeepsGoroutinesFlat(t *testing.T) {
	client := newFakeSQS(t)
	h := handlerFn(func(context.Context, events.OrderPlaced) (string, error) { return "ok", nil })
	e, _, _ := startTestEngine(t, client, h, Config{})
	round := func(from int) int {
		for i := from; i < from+300; i++ {
			client.push(sqsMessage("h"+strconv.Itoa(i), snsNotification(t, testTopicARN, testOrder(i)), "1"))
		}
		eventually(t, "the round handled and deleted", func() bool {
			return e.Stats().Succeeded == int64(from+300) && len(client.deleted()) == from+300
		})
		time.Sleep(50 * time.Millisecond) // let finished work unwind
		return runtime.NumGoroutine()
	}
	first := round(0)
	second := round(300)
	if second > first+2 {
		t.Errorf("goroutines after 300 messages = %d, after 600 = %d; want no growth", first, second)
	}
}
