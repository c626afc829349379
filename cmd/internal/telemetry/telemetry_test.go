package telemetry

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestStopFlushesTheLastMetrics: logs and metrics share stdout, and what was
// recorded since the last interval is written by Stop, not lost.
func TestStopFlushesTheLastMetrics(t *testing.T) {
	var out lockedBuffer
	tel, err := Start(context.Background(), &out, "publisher", Config{LogLevel: "info", MetricsInterval: time.Hour, TraceSampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	tel.Log.Info("order saved", "order_id", "x")
	tel.Metrics.Add(metrics.OrdersPlaced, 1)
	tel.Stop()

	var logs, emf int
	for _, line := range strings.Split(strings.TrimSpace(out.b.String()), "\n") {
		l, err := metrics.Parse([]byte(line))
		switch {
		case errors.Is(err, metrics.ErrNotEMF):
			logs++
		case err != nil:
			t.Errorf("%v: %s", err, line)
		case l.Sum(metrics.OrdersPlaced) == 1 && l.Dims[metrics.DimService] == "publisher":
			emf++
		}
	}
	if logs != 1 || emf != 1 {
		t.Errorf("stdout has %d log and %d EMF lines; want 1 and 1:\n%s", logs, emf, out.b.String())
	}
}

func TestStartRefusesABadCollectorURL(t *testing.T) {
	if _, err := Start(context.Background(), &lockedBuffer{}, "publisher", Config{MetricsInterval: time.Hour, OTLPEndpoint: "localhost:4318"}); err == nil {
		t.Error("Start with OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318: nil error; want one")
	}
}
