package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// TestMetricsAddUp places orders through the three binaries, stops them (the
// last interval is flushed on the way out) and reads back every EMF line they
// wrote: each passes the format's rules, each names its service and the
// environment it was deployed to, and the values add up to the orders: each
// placed and published once, fulfilled once, a coupon exactly for those of
// 80.00 or more, one request latency per form post, nothing retried or
// dead-lettered; the publisher's outbox relay reports its last poll as recent.
func TestMetricsAddUp(t *testing.T) {
	integration.Short(t)
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	fast := []string{"METRICS_INTERVAL=1s"}
	s := startServices(t, emu, dep, map[string][]string{"publisher": fast, "fulfilment": fast, "promotion": fast})

	amounts := []string{"95.00", "20.00", "80.00", "79.99", "150.00", "10.00", "80.01"}
	coupons := 4 // 95.00, 80.00, 150.00, 80.01
	ids := map[string]bool{}
	for i, amount := range amounts {
		ids[placeOrder(t, s.BaseURL, fmt.Sprintf("Metrics Customer %d", i), amount)] = true
	}
	waitUntil(t, "every order fulfilled and every coupon issued", 90*time.Second, func() bool {
		return len(s.Processed("fulfilment")) == len(ids) && len(s.Processed("promotion")) == coupons
	})
	if failed := s.group.Stop(30 * time.Second); len(failed) > 0 {
		t.Fatalf("services did not exit cleanly: %v", failed)
	}

	sums, lines := map[string]float64{}, 0
	var pollAges []float64
	sc := bufio.NewScanner(strings.NewReader(s.Logs.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, raw, ok := strings.Cut(sc.Text(), " | ")
		if !ok {
			continue
		}
		svc := strings.TrimSpace(name)
		l, err := metrics.Parse([]byte(raw))
		if errors.Is(err, metrics.ErrNotEMF) {
			continue
		}
		lines++
		t.Logf("%s | %s", svc, raw) // what CloudWatch Logs receives
		if err != nil {
			t.Errorf("%s wrote an EMF line CloudWatch would reject: %v\n%s", svc, err, raw)
			continue
		}
		if l.Namespace != metrics.Namespace || l.Dims[metrics.DimService] != svc {
			t.Errorf("%s: namespace %q, service %q; want %q, %q", svc, l.Namespace, l.Dims[metrics.DimService], metrics.Namespace, svc)
		}
		// The environment Copilot injects, so one environment's alarms never watch another's.
		if env := l.Dims[metrics.DimEnv]; env != dep.Env {
			t.Errorf("%s: dimension %s = %q; want %q, the environment it runs in", svc, metrics.DimEnv, env, dep.Env)
		}
		if v, ok := l.Values[metrics.OutboxPollAge]; ok {
			if svc != "publisher" || l.Units[metrics.OutboxPollAge] != "Seconds" {
				t.Errorf("%s wrote %s in %s; want the publisher's, in Seconds", svc, metrics.OutboxPollAge, l.Units[metrics.OutboxPollAge])
			}
			pollAges = append(pollAges, v...)
		}
		for name, vals := range l.Values {
			k := svc + " " + name
			if o := l.Dims[metrics.DimOutcome]; o != "" {
				k += "{" + o + "}"
			}
			if r := l.Dims[metrics.DimRoute]; r != "" {
				k += "{" + r + "}"
				sums[k] += float64(len(vals)) // one latency per request
				continue
			}
			switch l.Units[name] {
			case "Seconds":
				continue // gauges of the outbox, checked apart
			case "Count":
				if name != metrics.OutboxPending {
					sums[k] += l.Sum(name)
				}
			default:
				sums[k] += float64(len(vals)) // one duration or age per message
			}
		}
	}
	n, c := float64(len(ids)), float64(coupons)
	want := map[string]float64{
		"publisher OrdersPlaced":                 n,
		"publisher OrdersPublished":              n,
		"publisher RequestLatency{POST /orders}": n,
		"fulfilment Messages{processed}":         n,
		"fulfilment HandlerDuration":             n,
		"fulfilment MessageAge":                  n,
		"promotion Messages{processed}":          c,
		"promotion HandlerDuration":              c,
		"promotion MessageAge":                   c,
		"publisher PublishFailures":              0,
		"fulfilment Messages{retry}":             0,
		"fulfilment Messages{dead-lettered}":     0,
		"promotion Messages{retry}":              0,
		"promotion Messages{dead-lettered}":      0,
	}
	for k, v := range want {
		if sums[k] != v {
			t.Errorf("%s adds up to %v; want %v", k, sums[k], v)
		}
	}
	// The relay polls every 2s: a healthy one never reports a last poll older than a few seconds.
	if len(pollAges) == 0 {
		t.Errorf("the publisher wrote no %s; want one in each flush", metrics.OutboxPollAge)
	}
	for _, a := range pollAges {
		if a < 0 || a > 10 {
			t.Errorf("%s = %v s on a healthy relay; want at most a few seconds", metrics.OutboxPollAge, a)
		}
	}
	t.Logf("%d EMF lines from %d orders (%d of 80.00 or more); sums: %v", lines, len(ids), coupons, sums)
}
