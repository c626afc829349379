package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// lockedBuffer is a bytes.Buffer safe for the recorder's and the test's use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestEngineRecordsOneOutcomePerMessage: each handled receive is counted
// once, under its outcome, and the successful ones' durations and ages
// (from SentTimestamp) are observed.
func TestEngineRecordsOneOutcomePerMessage(t *testing.T) {
	sent := strconv.FormatInt(time.Now().Add(-3*time.Second).UnixMilli(), 10)
	msg := func(handle, body, receives string) types.Message {
		m := sqsMessage(handle, body, receives)
		m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)] = sent
		return m
	}
	good := func(i int) string { return snsNotification(t, testTopicARN, testOrder(i)) }
	client := newFakeSQS(t,
		msg("processed", good(1), "1"),
		msg("duplicate", good(2), "2"),
		msg("retry", good(3), "1"),
		msg("poison", "not json", "1"),
		msg("dead", "not json", "3"),
	)
	h := handlerFn(func(_ context.Context, ev events.OrderPlaced) (string, error) {
		switch ev.Order.ID {
		case testOrderID(2):
			return metrics.OutcomeDuplicate, nil
		case testOrderID(3):
			return "", errors.New("throttled")
		}
		return "fulfilled", nil
	})
	var out lockedBuffer
	rec := metrics.New(&out, "fulfilment", time.Now)
	e := New(client, h, Config{QueueURL: testQueueURL, WaitTime: time.Second, DrainTimeout: 200 * time.Millisecond, ProbeBase: time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil))).WithMetrics(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	eventually(t, "five messages handled", func() bool {
		s := e.Stats()
		return s.Succeeded+s.Failed+s.Poison == 5
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}

	got := map[string]float64{}
	var durations, ages []float64
	for _, raw := range bytes.Split(bytes.TrimSpace(out.b.Bytes()), []byte("\n")) {
		l, err := metrics.Parse(raw)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		if o, ok := l.Dims[metrics.DimOutcome]; ok {
			got[o] += l.Sum(metrics.Messages)
		}
		durations = append(durations, l.Values[metrics.HandlerDuration]...)
		ages = append(ages, l.Values[metrics.MessageAge]...)
	}
	want := map[string]float64{metrics.OutcomeProcessed: 1, metrics.OutcomeDuplicate: 1, metrics.OutcomeRetry: 1, metrics.OutcomePoison: 1, metrics.OutcomeDeadLettered: 1}
	for o, n := range want {
		if v, ok := got[o]; !ok || v != n {
			t.Errorf("Messages{outcome=%s} = %v (written: %t); want %v (all: %v)", o, v, ok, n, got)
		}
	}
	for o := range got {
		if _, ok := want[o]; !ok {
			t.Errorf("Messages{outcome=%s} written (%v); want only %v", o, got[o], want)
		}
	}
	if len(durations) != 2 {
		t.Errorf("HandlerDuration values %v; want one per successful message (2)", durations)
	}
	if len(ages) != 2 || ages[0] < 3000 || ages[1] < 3000 {
		t.Errorf("MessageAge values %v; want two, each at least 3000 ms (sent 3s ago)", ages)
	}
}
