package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// TestMetricsAddUp places orders through the three binaries, stops them (the
// last interval is flushed on the way out) and reads back every EMF line they
// wrote: each passes the format's rules, each names its service and the
// environment it was deployed to, and the values add up to the orders: each
// placed and published once, fulfilled once, a coupon exactly for those of
// 80.00 or more, one request latency per form post; the publisher's outbox
// relay reports its last poll as recent. A counter with nothing to count is
// not written at all, so the ones a good day leaves at 0 are made to count
// once here, each to what the logs say: a publish SNS refuses (the relay
// publishes the order later), a handler whose DynamoDB is unavailable (its
// message retried), a malformed message in each queue (dead-lettered).
func TestMetricsAddUp(t *testing.T) {
	integration.Short(t)
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := faultProxy(t, emu)
	client := sqs.NewFromConfig(emu.Config)
	for _, w := range []string{"fulfilment", "promotion"} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:    aws.String(dep.Services[w].QueueURL),
			MessageBody: aws.String(`{"Type":"Notification","Message":"not an event"}`),
		}); err != nil {
			t.Fatal(err)
		}
	}
	fast := "METRICS_INTERVAL=1s"
	s := startServices(t, emu, dep, map[string][]string{
		"publisher":  {fast, "AWS_ENDPOINT_URL_SNS=" + p.URL(), "OUTBOX_INTERVAL=500ms", "OUTBOX_RETRY_BASE=500ms"},
		"fulfilment": {fast, "AWS_ENDPOINT_URL_DYNAMODB=" + p.URL()},
		"promotion":  {fast, "AWS_ENDPOINT_URL_DYNAMODB=" + p.URL()},
	})

	amounts := []string{"95.00", "20.00", "80.00", "79.99", "150.00", "10.00", "80.01"}
	coupons := 4 // 95.00, 80.00, 150.00, 80.01
	ids := map[string]bool{}
	// The first order's publish fails; once it has, the workers' DynamoDB does,
	// until each has failed on that order when the relay publishes it.
	p.Set(faults.Rule{Service: "sns", APIs: []string{"Publish"}, Kind: faults.Unavailable})
	ids[placeOrder(t, s.BaseURL, "Metrics Customer 0", amounts[0])] = true
	waitUntil(t, "the first order's publish to fail", 30*time.Second, func() bool {
		return logged(s, "publisher", "publish failed, order kept in the outbox") > 0
	})
	p.Set(faults.Rule{Service: "dynamodb", Callers: []string{"fulfilment", "promotion"}, Kind: faults.Unavailable})
	waitUntil(t, "both workers to fail on the first order", time.Minute, func() bool {
		return logged(s, "fulfilment", handlerFailed) > 0 && logged(s, "promotion", handlerFailed) > 0
	})
	p.Set()
	for i, amount := range amounts[1:] {
		ids[placeOrder(t, s.BaseURL, fmt.Sprintf("Metrics Customer %d", i+1), amount)] = true
	}
	waitUntil(t, "every order fulfilled, every coupon issued and both malformed messages dead-lettered", 2*time.Minute, func() bool {
		return len(s.Processed("fulfilment")) == len(ids) && len(s.Processed("promotion")) == coupons &&
			emu.QueueDepth(ctx, t, dep.Services["fulfilment"].DLQURL) == 1 && emu.QueueDepth(ctx, t, dep.Services["promotion"].DLQURL) == 1
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
		// What went wrong, as the logs tell it.
		"publisher PublishFailures":          float64(logged(s, "publisher", "publish failed, order kept in the outbox")),
		"fulfilment Messages{retry}":         float64(logged(s, "fulfilment", handlerFailed)),
		"promotion Messages{retry}":          float64(logged(s, "promotion", handlerFailed)),
		"fulfilment Messages{poison}":        float64(poisoned(s, "fulfilment", false)),
		"promotion Messages{poison}":         float64(poisoned(s, "promotion", false)),
		"fulfilment Messages{dead-lettered}": 1,
		"promotion Messages{dead-lettered}":  1,
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		// Every metric here has something to count: a missing one is misnamed or not recorded.
		got, ok := sums[k]
		switch {
		case want[k] == 0:
			t.Errorf("%s: the logs show nothing for it to count; want at least one (did the test's fault fire?)", k)
		case !ok:
			t.Errorf("%s: not written; want %v", k, want[k])
		case got != want[k]:
			t.Errorf("%s adds up to %v; want %v", k, got, want[k])
		}
	}
	for _, w := range []string{"fulfilment", "promotion"} {
		if n := poisoned(s, w, true); n != 1 {
			t.Errorf("%s logged %d malformed messages as dead-lettered next; want 1", w, n)
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

// handlerFailed is the workers' log message for a handler error, its message to be retried.
const handlerFailed = "handler failed, message will be retried"

// logged counts svc's log lines with message msg.
func logged(s *Services, svc, msg string) int {
	n := 0
	for _, l := range logLines(s.Logs.String(), svc) {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

// poisoned counts svc's log lines about a message left for the dead-letter queue, those of
// its last receive (the DLQ next) or the others.
func poisoned(s *Services, svc string, last bool) int {
	n := 0
	for _, l := range logLines(s.Logs.String(), svc) {
		if l["msg"] != nil && l["outcome"] == "poison" && l["dead_letter_next"] == last {
			n++
		}
	}
	return n
}
