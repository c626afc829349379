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
// wrote: each passes the format's rules, and the values add up to the orders:
// each placed and published once, fulfilled once, a coupon exactly for those
// of 80.00 or more, one request latency per form post, nothing retried or
// dead-lettered.
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
	t.Logf("%d EMF lines from %d orders (%d of 80.00 or more); sums: %v", lines, len(ids), coupons, sums)
}
