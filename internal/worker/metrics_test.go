package worker

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// Meter is a metrics recorder for an engine under test (Rec), keeping every
// line it writes. Exported for the integration tests.
type Meter struct {
	Rec *metrics.Recorder
	mu  sync.Mutex
	out bytes.Buffer
}

func NewMeter() *Meter {
	m := &Meter{}
	m.Rec = metrics.New(m, "fulfilment", "test", time.Now)
	return m
}

func (m *Meter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(p)
}

// Lines flushes the recorder and returns every line it has written.
func (m *Meter) Lines(t testing.TB) []metrics.Line {
	t.Helper()
	if err := m.Rec.Flush(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var lines []metrics.Line
	for raw := range bytes.Lines(m.out.Bytes()) {
		l, err := metrics.Parse(bytes.TrimSpace(raw))
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		lines = append(lines, l)
	}
	return lines
}

// Counts returns what the engine has counted so far: Messages by outcome,
// and ReceivePauses.
func (m *Meter) Counts(t testing.TB) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, l := range m.Lines(t) {
		if o, ok := l.Dims[metrics.DimOutcome]; ok {
			got[o] += l.Sum(metrics.Messages)
		}
		if _, ok := l.Values[metrics.ReceivePauses]; ok {
			got[metrics.ReceivePauses] += l.Sum(metrics.ReceivePauses)
		}
	}
	return got
}

// Stats are the engine's counts read back from its metrics: every received
// message has exactly one outcome, so Received is their sum; Poison counts
// the malformed receives, DeadLettered those that were the last before the
// DLQ.
type Stats struct {
	Received, Succeeded, Failed, Poison, DeadLettered, Released, Pauses int64
}

func (m *Meter) Stats(t testing.TB) Stats {
	t.Helper()
	c := m.Counts(t)
	n := func(keys ...string) (sum int64) {
		for _, k := range keys {
			sum += int64(c[k])
		}
		return sum
	}
	return Stats{
		Received:     n(metrics.OutcomeProcessed, metrics.OutcomeDuplicate, metrics.OutcomeRetry, metrics.OutcomePoison, metrics.OutcomeDeadLettered, metrics.OutcomeReleased),
		Succeeded:    n(metrics.OutcomeProcessed, metrics.OutcomeDuplicate),
		Failed:       n(metrics.OutcomeRetry),
		Poison:       n(metrics.OutcomePoison, metrics.OutcomeDeadLettered),
		DeadLettered: n(metrics.OutcomeDeadLettered),
		Released:     n(metrics.OutcomeReleased),
		Pauses:       n(metrics.ReceivePauses),
	}
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
	h := HandlerFunc(func(_ context.Context, ev events.OrderPlaced) (Outcome, error) {
		switch ev.Order.ID {
		case testOrderID(2):
			return Duplicate, nil
		case testOrderID(3):
			return "", errors.New("throttled")
		}
		return "fulfilled", nil
	})
	m, stop, _ := startTestEngine(t, client, h, Config{})
	eventually(t, "five messages handled", func() bool { return m.Stats(t).Received == 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	got := m.Counts(t)
	var durations, ages []float64
	for _, l := range m.Lines(t) {
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
