package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
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
}

var scenarios = []scenario{
	{
		name:   "DynamoDB unavailable to the workers, longer than a message's retry budget",
		routes: map[string][]string{"fulfilment": {"dynamodb"}, "promotion": {"dynamodb"}},
		rules:  []faults.Rule{{Service: "dynamodb", Kind: faults.Unavailable}},
		short:  45 * time.Second, long: 5 * time.Minute,
	},
	{
		name:   "SQS throttling or 5xx on 20% of receives, deletes and visibility changes",
		routes: map[string][]string{"fulfilment": {"sqs"}, "promotion": {"sqs"}},
		rules: []faults.Rule{
			{Service: "sqs", APIs: []string{"ReceiveMessage", "DeleteMessageBatch"}, Kind: faults.ThrottleAlt, Share: 0.1},
			{Service: "sqs", APIs: []string{"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"}, Kind: faults.Unavailable, Share: 0.11},
		},
		short: 20 * time.Second, long: time.Minute,
	},
	{
		name:   "SNS failing half the publishes",
		routes: map[string][]string{"publisher": {"sns"}},
		rules:  []faults.Rule{{Service: "sns", APIs: []string{"Publish"}, Kind: faults.Unavailable, Share: 0.5}},
		short:  20 * time.Second, long: time.Minute,
	},
	{
		name:   "2s added latency on the workers' DynamoDB",
		routes: map[string][]string{"fulfilment": {"dynamodb"}, "promotion": {"dynamodb"}},
		rules:  []faults.Rule{{Service: "dynamodb", Kind: faults.Latency, Delay: 2 * time.Second}},
		short:  20 * time.Second, long: time.Minute,
		noDuplicates: true,
	},
	{
		name:   "a second fulfilment worker black-holed mid-batch (its messages come back to the first)",
		second: "fulfilment",
		// Slow first, so it always holds messages when it goes dark.
		before: []faults.Rule{{Callers: []string{"fulfilment-b"}, Service: "dynamodb", Kind: faults.Latency, Delay: 3 * time.Second}},
		rules:  []faults.Rule{{Callers: []string{"fulfilment-b"}, Kind: faults.BlackHole}},
		short:  20 * time.Second, long: time.Minute,
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
	p, err := faults.Start(recordingEndpoint(t, emu))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	extra := map[string][]string{}
	for svc, apis := range sc.routes {
		for _, api := range apis {
			extra[svc] = append(extra[svc], fmt.Sprintf("AWS_ENDPOINT_URL_%s=%s", strings.ToUpper(api), p.URL()))
		}
	}
	// The publisher republishes what SNS refused from its outbox: poll often.
	extra["publisher"] = append(extra["publisher"], "OUTBOX_INTERVAL=500ms", "OUTBOX_RETRY_BASE=500ms", "OUTBOX_RETRY_MAX=5s")
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
	t.Logf("faults for %s: %v", recovered.Sub(began).Round(time.Second), p.Injected())
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
	} else if done > time.Minute {
		t.Errorf("all done %s after recovery; want within a minute", done.Round(time.Second))
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
	t.Logf("%d orders, %d fulfilled, %d coupons, %d duplicates absorbed, %d dead-lettered, done %s after recovery",
		r.orders, r.fulfilled, r.coupons, r.duplicates, r.dead, done.Round(time.Second))
}
