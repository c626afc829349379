package e2e

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// A chaos scenario: AWS misbehaving for a while, through a fault-injecting
// proxy, while a steady stream of orders goes through the three binaries.
type scenario struct {
	name string
	// routes names which services' calls of which AWS service go through
	// the fault proxy: service → AWS service (sqs, sns, dynamodb).
	routes map[string][]string
	rules  []faults.Rule
	// short is the fault's length in make test; make chaos (CHAOS=full)
	// runs it for long.
	short, long time.Duration
	// noDuplicates: no handler may run twice for one message (the heartbeat
	// keeps slow messages hidden).
	noDuplicates bool
	// second starts a second worker of this service whose every AWS call
	// goes through the fault proxy, as caller <service>-b; before are the
	// rules in force from the start, before the fault.
	second string
	before []faults.Rule
	// env adds variables per service.
	env map[string][]string
	// stalledOutbox: the publisher's relay cannot complete a poll; its
	// OutboxPollAge must rise past the outbox-stalled alarm's threshold
	// within the alarm's period, and every order be published once.
	stalledOutbox bool
	// minFaults is the least the proxy must have injected of each kind of
	// fault the scenario's rules name (before's included), in its short
	// version; a scenario whose calls never reached the proxy would
	// otherwise pass as a happy-path run.
	minFaults map[faults.Kind]int
}

var scenarios = []scenario{
	{
		name:   "DynamoDB unavailable to the workers, longer than a message's retry budget",
		routes: map[string][]string{"fulfilment": {"dynamodb"}, "promotion": {"dynamodb"}},
		rules:  []faults.Rule{{Service: "dynamodb", Kind: faults.Unavailable}},
		short:  45 * time.Second, long: 5 * time.Minute,
		minFaults: map[faults.Kind]int{faults.Unavailable: 20}, // about 50 in 45s: the workers pause and probe in an outage
	},
	{
		name:   "SQS throttling or 5xx on 20% of receives, deletes and visibility changes",
		routes: map[string][]string{"fulfilment": {"sqs"}, "promotion": {"sqs"}},
		rules: []faults.Rule{
			{Service: "sqs", APIs: []string{"ReceiveMessage", "DeleteMessageBatch"}, Kind: faults.ThrottleAlt, Share: 0.1},
			{Service: "sqs", APIs: []string{"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"}, Kind: faults.Unavailable, Share: 0.11},
		},
		short: 20 * time.Second, long: time.Minute,
		minFaults: map[faults.Kind]int{faults.ThrottleAlt: 2, faults.Unavailable: 2},
	},
	{
		name:   "SNS failing half the publishes",
		routes: map[string][]string{"publisher": {"sns"}},
		rules:  []faults.Rule{{Service: "sns", APIs: []string{"Publish"}, Kind: faults.Unavailable, Share: 0.5}},
		short:  20 * time.Second, long: time.Minute,
		minFaults: map[faults.Kind]int{faults.Unavailable: 10},
	},
	{
		// Connections accepted, never answered: only a deadline on each call frees the relay.
		// The form's own writes (PutItem) and reads (GetItem) still work, so orders keep coming;
		// the request's reschedule after its failed publish (UpdateItem) gives up after its timeout.
		name:   "the publisher's outbox relay black-holed on DynamoDB (Query, UpdateItem) while SNS fails every publish",
		routes: map[string][]string{"publisher": {"dynamodb", "sns"}},
		rules: []faults.Rule{
			{Service: "dynamodb", APIs: []string{"Query", "UpdateItem"}, Kind: faults.BlackHole},
			{Service: "sns", APIs: []string{"Publish"}, Kind: faults.Unavailable},
		},
		// Longer than the alarm's threshold (60s), so the gauge passes it here too.
		short: 75 * time.Second, long: 2 * time.Minute,
		env:           map[string][]string{"publisher": {"METRICS_INTERVAL=1s"}},
		stalledOutbox: true,
		minFaults:     map[faults.Kind]int{faults.BlackHole: 5, faults.Unavailable: 10},
	},
	{
		name:   "2s added latency on the workers' DynamoDB",
		routes: map[string][]string{"fulfilment": {"dynamodb"}, "promotion": {"dynamodb"}},
		rules:  []faults.Rule{{Service: "dynamodb", Kind: faults.Latency, Delay: 2 * time.Second}},
		short:  20 * time.Second, long: time.Minute,
		noDuplicates: true,
		minFaults:    map[faults.Kind]int{faults.Latency: 20},
	},
	{
		name:   "a second fulfilment worker black-holed mid-batch (its messages come back to the first)",
		second: "fulfilment",
		// Slow first, so it always holds messages when it goes dark.
		before: []faults.Rule{{Callers: []string{"fulfilment-b"}, Service: "dynamodb", Kind: faults.Latency, Delay: 3 * time.Second}},
		rules:  []faults.Rule{{Callers: []string{"fulfilment-b"}, Kind: faults.BlackHole}},
		short:  20 * time.Second, long: time.Minute,
		// Slowed at least once (so it held a message), then black-holed.
		minFaults: map[faults.Kind]int{faults.Latency: 1, faults.BlackHole: 1},
	},
}

// chaosRow is one line of make chaos's table.
type chaosRow struct {
	scenario                                           string
	orders, fulfilled, coupons, duplicates, dead, lost int
	recovered                                          time.Duration
}

var (
	chaosMu    sync.Mutex
	chaosTable []chaosRow
)

// TestChaos runs each scenario and checks the invariant: every accepted
// order fulfilled exactly once in effect, a coupon exactly for each order
// of 80.00 or more, nothing in a dead-letter queue, nothing lost. make chaos
// (CHAOS=full) runs the long versions and prints the table.
func TestChaos(t *testing.T) {
	full := os.Getenv("CHAOS") == "full"
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			d := sc.short
			if full {
				d = sc.long
			}
			runScenario(t, sc, d)
		})
	}
	chaosMu.Lock()
	defer chaosMu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | orders | fulfilled | coupons | duplicates absorbed | dead-lettered | lost | done after recovery |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range chaosTable {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %s |\n", r.scenario, r.orders, r.fulfilled, r.coupons, r.duplicates, r.dead, r.lost, r.recovered.Round(time.Second))
	}
	t.Logf("chaos scenarios:\n%s", b.String())
	if file := os.Getenv("CHAOS_REPORT"); file != "" {
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func runScenario(t *testing.T, sc scenario, outage time.Duration) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	p := faultProxy(t, emu)
	extra := map[string][]string{}
	for svc, apis := range sc.routes {
		for _, api := range apis {
			extra[svc] = append(extra[svc], fmt.Sprintf("AWS_ENDPOINT_URL_%s=%s", strings.ToUpper(api), p.URL()))
		}
	}
	// The publisher republishes what SNS refused from its outbox: poll often.
	extra["publisher"] = append(extra["publisher"], "OUTBOX_INTERVAL=500ms", "OUTBOX_RETRY_BASE=500ms", "OUTBOX_RETRY_MAX=5s")
	for svc, env := range sc.env {
		extra[svc] = append(extra[svc], env...)
	}
	s := startServices(t, emu, dep, extra)
	if sc.second != "" {
		// Its hung handlers give their messages up after 15s, not 5 minutes.
		s.startExtra(t, emu, sc.second, sc.second+"-b", "AWS_ENDPOINT_URL="+p.URL(), "AWS_SDK_UA_APP_ID="+sc.second+"-b", "WORKER_HANDLER_TIMEOUT=15s")
	}
	p.Set(sc.before...)
	ctx, cancel := context.WithTimeout(context.Background(), outage+4*time.Minute)
	defer cancel()

	// A steady stream of orders, one every 500ms, before, during and after.
	amounts := map[string]string{}
	place := func() {
		amount := []string{"25.00", "79.99", "80.00", "120.00"}[len(amounts)%4]
		amounts[placeOrder(t, s.BaseURL, fmt.Sprintf("Barbara Liskov %d", len(amounts)), amount)] = amount
		time.Sleep(500 * time.Millisecond)
	}
	for range 6 {
		place()
	}
	p.Set(sc.rules...)
	began := time.Now()
	for time.Since(began) < outage {
		place()
	}
	p.Set()
	recovered := time.Now()
	injected := p.Injected()
	t.Logf("faults for %s: %v", recovered.Sub(began).Round(time.Second), injected)
	checkFaults(t, sc, injected)
	for range 6 {
		place()
	}

	wantCoupons := 0
	for _, a := range amounts {
		if a == "80.00" || a == "120.00" {
			wantCoupons++
		}
	}
	db := dynamodb.NewFromConfig(emu.Config)
	fulfilmentsTable, couponsTable := dep.Services["fulfilment"].Tables["fulfilmentsTable"], dep.Services["promotion"].Tables["couponsTable"]
	var fulfilled, coupons []row
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		fulfilled, coupons = scan(ctx, t, db, fulfilmentsTable), scan(ctx, t, db, couponsTable)
		if len(fulfilled) == len(amounts) && len(coupons) == wantCoupons {
			break
		}
	}
	done := time.Since(recovered)
	dead := emu.QueueDepth(ctx, t, dep.Services["fulfilment"].DLQURL) + emu.QueueDepth(ctx, t, dep.Services["promotion"].DLQURL)
	r := chaosRow{scenario: sc.name, orders: len(amounts), fulfilled: len(fulfilled), coupons: len(coupons), dead: dead, recovered: done}
	for id := range amounts {
		if !slices.ContainsFunc(fulfilled, func(f row) bool { return f.OrderID == id }) {
			r.lost++
		}
	}
	for _, w := range []string{"fulfilment", "promotion"} {
		for id, outcomes := range s.Processed(w) {
			if _, ok := amounts[id]; !ok {
				t.Errorf("%s processed unknown order %s", w, id)
			}
			effects := 0
			for _, o := range outcomes {
				switch o {
				case "fulfilled", "coupon issued":
					effects++
				case "duplicate":
					r.duplicates++
				}
			}
			if effects > 1 {
				t.Errorf("%s: order %s had its effect %d times (%v); want once", w, id, effects, outcomes)
			}
		}
	}
	chaosMu.Lock()
	chaosTable = append(chaosTable, r)
	chaosMu.Unlock()

	if r.lost > 0 || len(coupons) != wantCoupons {
		t.Errorf("2m after recovery: %d of %d orders fulfilled (%d lost), %d of %d coupons issued", len(fulfilled), len(amounts), r.lost, len(coupons), wantCoupons)
	} else if done > 30*time.Second { // reported, not failed: a loaded machine's emulator is slower, and nothing was lost
		t.Logf("NOTE: all done %s after recovery, beyond the 30s the engine's probe back-off (at most 30s) promises", done.Round(time.Second))
	}
	if dead != 0 {
		t.Errorf("%d messages in the dead-letter queues; want none (a bad minute of AWS is not a poison message)", dead)
	}
	for _, c := range coupons {
		if a := amounts[c.OrderID]; a != "80.00" && a != "120.00" {
			t.Errorf("coupon for order %s of %s; want coupons only for 80.00 or more", c.OrderID, a)
		}
	}
	if sc.noDuplicates && r.duplicates > 0 {
		t.Errorf("%d duplicate deliveries handled; want none: the heartbeat keeps a slow message hidden", r.duplicates)
	}
	if sc.stalledOutbox {
		checkStalledOutbox(t, s, amounts, began, recovered)
	}
	t.Logf("%d orders, %d fulfilled, %d coupons, %d duplicates absorbed, %d dead-lettered, done %s after recovery",
		r.orders, r.fulfilled, r.coupons, r.duplicates, r.dead, done.Round(time.Second))
}

// checkFaults fails a scenario whose faults did not fire: fewer of a kind than its minimum, or
// none at all for a service whose calls it routes through the proxy (its route broken, that
// service ran a happy path).
func checkFaults(t *testing.T, sc scenario, injected map[faults.Fault]int) {
	t.Helper()
	byKind, byCaller := map[faults.Kind]int{}, map[string]int{}
	for f, n := range injected {
		byKind[f.Kind] += n
		byCaller[f.Caller] += n
	}
	for _, r := range append(slices.Clone(sc.before), sc.rules...) {
		if sc.minFaults[r.Kind] < 1 {
			t.Errorf("scenario sets no minimum for its %s faults; want one in minFaults", r.Kind)
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(sc.minFaults)) {
		if n, want := byKind[kind], sc.minFaults[kind]; n < want {
			t.Errorf("the proxy injected %d %s faults; want at least %d (do the calls reach it?); all injected: %v", n, kind, want, injected)
		}
	}
	callers := slices.Collect(maps.Keys(sc.routes))
	if sc.second != "" {
		callers = append(callers, sc.second+"-b")
	}
	for _, c := range slices.Sorted(slices.Values(callers)) {
		if byCaller[c] == 0 {
			t.Errorf("%s got no fault; want its calls routed through the proxy and faulted", c)
		}
	}
}

// checkStalledOutbox: while the relay could complete no poll (from began to recovered), the
// publisher's OutboxPollAge rose past the outbox-stalled alarm's threshold within the alarm's
// period (both read from copilot/publisher/addons/alarms.yml) and stayed above it until the
// fault ended; after it, every order was published exactly once.
func checkStalledOutbox(t *testing.T, s *Services, amounts map[string]string, began, recovered time.Time) {
	t.Helper()
	tpl, err := cfn.Load(filepath.Join(integration.RepoRoot(t), "copilot", "publisher", "addons", "alarms.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var threshold, period float64
	for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		if p["MetricName"] != metrics.OutboxPollAge {
			continue
		}
		param, ok := cfn.Ref(p["Threshold"])
		if !ok {
			t.Fatalf("alarms.yml %s: Threshold %v; want !Ref of a parameter", id, p["Threshold"])
		}
		threshold, _ = strconv.ParseFloat(fmt.Sprint(tpl.Parameters[param].Default), 64)
		period, _ = strconv.ParseFloat(fmt.Sprint(p["Period"]), 64)
	}
	if threshold <= 0 || period <= 0 {
		t.Fatalf("no alarm on %s with a threshold and a period in copilot/publisher/addons/alarms.yml", metrics.OutboxPollAge)
	}

	// The publisher's gauge, as CloudWatch would receive it.
	var crossed time.Time
	var peak float64
	sc := bufio.NewScanner(strings.NewReader(s.Logs.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, raw, ok := strings.Cut(sc.Text(), " | ")
		if !ok || strings.TrimSpace(name) != "publisher" {
			continue
		}
		l, err := metrics.Parse([]byte(raw))
		if err != nil {
			continue
		}
		v, ok := l.Values[metrics.OutboxPollAge]
		if !ok || l.Time.Before(began) || l.Time.After(recovered) {
			continue
		}
		peak = max(peak, v[0])
		if v[0] > threshold && crossed.IsZero() {
			crossed = l.Time
		}
	}
	switch {
	case crossed.IsZero():
		t.Errorf("%s peaked at %.0fs during the %s stall; want above the alarm's threshold, %.0fs", metrics.OutboxPollAge, peak, recovered.Sub(began).Round(time.Second), threshold)
	case crossed.Sub(began) > time.Duration(threshold+period)*time.Second:
		t.Errorf("%s passed the threshold (%.0fs) %s after the stall began; want within the alarm's period (%.0fs) of it", metrics.OutboxPollAge, threshold, crossed.Sub(began).Round(time.Second), period)
	default:
		t.Logf("%s passed the alarm's threshold (%.0fs) %s after the stall began (alarm period %.0fs); peak %.0fs", metrics.OutboxPollAge, threshold, crossed.Sub(began).Round(time.Second), period, peak)
	}

	// Every order published exactly once (the relay's log line per publish).
	published := map[string]int{}
	for _, l := range logLines(s.Logs.String(), "publisher") {
		if l["msg"] == "order published" {
			published[fmt.Sprint(l["order_id"])]++
		}
	}
	for id := range amounts {
		if n := published[id]; n != 1 {
			t.Errorf("order %s published %d times; want exactly once", id, n)
		}
	}
}
