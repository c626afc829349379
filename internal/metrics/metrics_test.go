package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.UnixMilli(1_764_000_000_000) }

func flushLines(t *testing.T, r *Recorder, buf *bytes.Buffer) []Line {
	t.Helper()
	buf.Reset()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []Line
	for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		l, err := Parse(raw)
		if err != nil {
			t.Fatalf("flushed line fails the EMF rules: %v\n%s", err, raw)
		}
		out = append(out, l)
	}
	return out
}

func find(lines []Line, dims map[string]string) (Line, bool) {
	for _, l := range lines {
		if len(l.Dims) != len(dims) {
			continue
		}
		ok := true
		for k, v := range dims {
			ok = ok && l.Dims[k] == v
		}
		if ok {
			return l, true
		}
	}
	return Line{}, false
}

func TestRecorderAggregatesPerInterval(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "fulfilment", "test", fixedNow)
	for range 250 {
		r.Add(Messages, 1, Dim{DimOutcome, OutcomeProcessed})
		r.Observe(HandlerDuration, Milliseconds, 3)
	}
	r.Add(Messages, 2, Dim{DimOutcome, OutcomeRetry})
	r.Set(OutboxPending, Count, 7)
	r.Set(OutboxPending, Count, 4)

	lines := flushLines(t, r, &buf)
	if len(lines) != 3 {
		t.Fatalf("%d lines; want 3 (one per set of dimension values): %s", len(lines), buf.String())
	}
	processed, ok := find(lines, map[string]string{DimService: "fulfilment", DimEnv: "test", DimOutcome: OutcomeProcessed})
	if !processed.Time.Equal(fixedNow()) {
		t.Errorf("line time %v; want the flush's, %v", processed.Time, fixedNow())
	}
	if !ok || processed.Sum(Messages) != 250 || processed.Namespace != Namespace || processed.Units[Messages] != "Count" {
		t.Errorf("processed line = %+v; want Messages 250 Count in %s", processed, Namespace)
	}
	if retry, _ := find(lines, map[string]string{DimService: "fulfilment", DimEnv: "test", DimOutcome: OutcomeRetry}); retry.Sum(Messages) != 2 {
		t.Errorf("retry Messages = %v; want 2", retry.Sum(Messages))
	}
	plain, _ := find(lines, map[string]string{DimService: "fulfilment", DimEnv: "test"})
	if n := len(plain.Values[HandlerDuration]); n != MaxValues {
		t.Errorf("HandlerDuration carries %d values; want the sample of %d", n, MaxValues)
	}
	if got := plain.Values[OutboxPending]; len(got) != 1 || got[0] != 4 {
		t.Errorf("OutboxPending = %v; want the last value set, 4", got)
	}

	// The next interval starts empty, but for the gauge.
	lines = flushLines(t, r, &buf)
	if len(lines) != 1 || len(lines[0].Values) != 1 || lines[0].Values[OutboxPending][0] != 4 {
		t.Errorf("second flush = %+v; want only the gauge, still 4", lines)
	}
}

// TestEveryLineNamesItsEnvironment: every line carries the environment it
// is given (Copilot's COPILOT_ENVIRONMENT_NAME) as a dimension of every
// metric, so that a test environment's series and alarms are never
// production's.
func TestEveryLineNamesItsEnvironment(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "publisher", "production", fixedNow)
	r.Add(OrdersPlaced, 1)
	r.Observe(RequestLatency, Milliseconds, 5, Dim{DimRoute, "POST /orders"})
	lines := flushLines(t, r, &buf)
	if len(lines) != 2 {
		t.Fatalf("%d lines; want 2: %s", len(lines), buf.String())
	}
	for _, l := range lines {
		if l.Dims[DimEnv] != "production" || l.Dims[DimService] != "publisher" {
			t.Errorf("line dimensions %v; want %s=production beside service", l.Dims, DimEnv)
		}
	}
	if !strings.Contains(buf.String(), `"Dimensions":[["service","env"]]`) || !strings.Contains(buf.String(), `"Dimensions":[["service","env","route"]]`) {
		t.Errorf("want env in every dimension set:\n%s", buf.String())
	}
}

// TestSetFuncIsComputedWhenWritten: a gauge of SetFunc takes its value
// when the metrics are written, so an age keeps rising while nothing sets
// it (a hung outbox relay), in every flush.
func TestSetFuncIsComputedWhenWritten(t *testing.T) {
	var buf bytes.Buffer
	clock := fixedNow()
	r := New(&buf, "publisher", "test", func() time.Time { return clock })
	last := clock
	r.SetFunc(OutboxPollAge, Seconds, func() float64 { return clock.Sub(last).Seconds() })
	for _, want := range []float64{0, 60, 120} {
		l, ok := find(flushLines(t, r, &buf), map[string]string{DimService: "publisher", DimEnv: "test"})
		if got := l.Values[OutboxPollAge]; !ok || len(got) != 1 || got[0] != want || l.Units[OutboxPollAge] != "Seconds" {
			t.Errorf("OutboxPollAge = %v %s; want %v Seconds", got, l.Units[OutboxPollAge], want)
		}
		clock = clock.Add(time.Minute)
	}
}

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *Recorder
	r.Add(Messages, 1)
	r.Set(OutboxPending, Count, 1)
	r.SetFunc(OutboxPollAge, Seconds, func() float64 { return 1 })
	r.Observe(HandlerDuration, Milliseconds, 1)
	r.Since(RequestLatency, time.Now())
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejectsWhatCloudWatchRejects(t *testing.T) {
	aws := func(ts, metrics, dims string) string {
		return `"_aws":{"Timestamp":` + ts + `,"CloudWatchMetrics":[{"Namespace":"pubsub","Dimensions":` + dims + `,"Metrics":` + metrics + `}]}`
	}
	valid := `{` + aws("1764000000000", `[{"Name":"Messages","Unit":"Count"}]`, `[["service"]]`) + `,"service":"x","Messages":1}`
	many := strings.TrimSuffix(strings.Repeat("1,", MaxValues+1), ",")
	dims31 := make([]string, 31)
	members := ""
	for i := range dims31 {
		dims31[i] = fmt.Sprintf("%q", fmt.Sprintf("d%d", i))
		members += fmt.Sprintf(`,"d%d":"v"`, i)
	}
	tests := []struct {
		name, line, want string
	}{
		{"no timestamp", `{` + strings.Replace(aws("0", `[{"Name":"Messages"}]`, `[["service"]]`), `"Timestamp":0,`, ``, 1) + `,"service":"x","Messages":1}`, "Timestamp"},
		{"unknown unit", `{` + aws("1", `[{"Name":"Messages","Unit":"Orders"}]`, `[["service"]]`) + `,"service":"x","Messages":1}`, "not a CloudWatch unit"},
		{"dimension without member", `{` + aws("1", `[{"Name":"Messages"}]`, `[["service"]]`) + `,"Messages":1}`, `dimension "service"`},
		{"empty dimension value", `{` + aws("1", `[{"Name":"Messages"}]`, `[["service"]]`) + `,"service":"","Messages":1}`, "1 to 1024"},
		{"metric without member", `{` + aws("1", `[{"Name":"Messages"}]`, `[["service"]]`) + `,"service":"x"}`, `metric "Messages"`},
		{"too many values", `{` + aws("1", `[{"Name":"Messages"}]`, `[["service"]]`) + `,"service":"x","Messages":[` + many + `]}`, "want 1 to 100"},
		{"string value", `{` + aws("1", `[{"Name":"Messages"}]`, `[["service"]]`) + `,"service":"x","Messages":"1"}`, "neither a number"},
		{"31 dimensions", `{` + aws("1", `[{"Name":"Messages"}]`, `[[`+strings.Join(dims31, ",")+`]]`) + members + `,"Messages":1}`, "at most 30"},
		{"no metrics", `{` + aws("1", `[]`, `[["service"]]`) + `,"service":"x"}`, "0 metrics"},
		{"no dimensions member", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"pubsub","Metrics":[{"Name":"M"}]}]},"M":1}`, "dimensions: missing"},
		{"metric is a dimension", `{` + aws("1", `[{"Name":"service"}]`, `[["service"]]`) + `,"service":"x"}`, "also a dimension"},
		{"bad resolution", `{` + aws("1", `[{"Name":"Messages","StorageResolution":5}]`, `[["service"]]`) + `,"service":"x","Messages":1}`, "StorageResolution"},
	}
	if _, err := Parse([]byte(valid)); err != nil {
		t.Fatalf("valid line rejected: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) = %v; want an error containing %q", tc.line, err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(`{"level":"INFO","msg":"order saved"}`)); !errors.Is(err, ErrNotEMF) {
		t.Errorf("a log line: %v; want ErrNotEMF", err)
	}
}
