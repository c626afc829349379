package checkout

import (
	"bytes"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/metrics"
)

func TestBacklogGauges(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := newBacklog(Config{RetryMax: time.Minute, Interval: 2 * time.Second, Lease: 30 * time.Second}) // forgetAfter = 2×(1m+2s)+30s = 2m34s
	var out bytes.Buffer
	m := metrics.New(&out, "publisher", "test", func() time.Time { return t0 })

	tests := []struct {
		name       string
		at         time.Duration // after t0
		do         func(now time.Time)
		wantN      int
		wantOldest time.Duration
	}{
		{"empty", 0, func(time.Time) {}, 0, 0},
		{"a failed publish is pending", 10 * time.Second, func(now time.Time) { b.pending("a", t0, now) }, 1, 10 * time.Second},
		{"a second, younger", 20 * time.Second, func(now time.Time) { b.pending("b", t0.Add(15*time.Second), now) }, 2, 20 * time.Second},
		{"published: forgotten", 30 * time.Second, func(time.Time) { b.published("a") }, 1, 15 * time.Second},
		{"seen due again keeps it", 3 * time.Minute, func(now time.Time) { b.due("b", now) }, 1, 3*time.Minute - 15*time.Second},
		{"an unknown order seen due is not counted", 3 * time.Minute, func(now time.Time) { b.due("c", now) }, 1, 3*time.Minute - 15*time.Second},
		{"not seen for longer than forgetAfter: another task published it", 6 * time.Minute, func(time.Time) {}, 0, 0},
	}
	for _, tc := range tests {
		now := t0.Add(tc.at)
		tc.do(now)
		n, oldest := b.report(m, now)
		if n != tc.wantN || oldest != tc.wantOldest {
			t.Errorf("%s: pending %d, oldest %v; want %d, %v", tc.name, n, oldest, tc.wantN, tc.wantOldest)
		}
		// And as written: both gauges on the line, 0s included (a missing or misnamed one
		// would read as 0).
		out.Reset()
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		l, err := metrics.Parse(bytes.TrimSpace(out.Bytes()))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, g := range []struct {
			name string
			unit metrics.Unit
			want float64
		}{
			{metrics.OutboxPending, metrics.Count, float64(tc.wantN)},
			{metrics.OutboxOldestAge, metrics.Seconds, tc.wantOldest.Seconds()},
		} {
			if v, ok := l.Values[g.name]; !ok || len(v) != 1 || v[0] != g.want || l.Units[g.name] != string(g.unit) {
				t.Errorf("%s: %s written as %v %q (present %t); want %v %s", tc.name, g.name, v, l.Units[g.name], ok, g.want, g.unit)
			}
		}
	}
}
