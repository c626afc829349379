package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestWorkersRideOutDynamoDBOutage takes DynamoDB away from both workers
// (503 on every call, through a fault-injecting proxy) for longer than a
// message's whole retry budget, while orders keep arriving. Before the
// engine paused on a failing dependency, every message in flight burned its
// receives and went to the dead-letter queue. Now: every order is fulfilled
// exactly once, a coupon issued exactly for each order of 80.00 or more,
// nothing is in a dead-letter queue, and all is done soon after DynamoDB
// is back. OUTAGE (a duration) lengthens the outage (make chaos).
func TestWorkersRideOutDynamoDBOutage(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	outage := 45 * time.Second
	if v := os.Getenv("OUTAGE"); v != "" {
		var err error
		if outage, err = time.ParseDuration(v); err != nil {
			t.Fatalf("OUTAGE=%q: %v", v, err)
		}
	}
	p, err := faults.Start(recordingEndpoint(t, emu))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	workers := []string{"AWS_ENDPOINT_URL_DYNAMODB=" + p.URL()}
	s := startServices(t, emu, dep, map[string][]string{"fulfilment": workers, "promotion": workers})
	ctx, cancel := context.WithTimeout(context.Background(), outage+3*time.Minute)
	defer cancel()

	// A steady stream of orders, one every 500ms, before, during and after.
	amounts := map[string]string{}
	place := func(n int) {
		for i := range n {
			amount := []string{"25.00", "79.99", "80.00", "120.00"}[len(amounts)%4]
			amounts[placeOrder(t, s.BaseURL, fmt.Sprintf("Barbara Liskov %d", len(amounts)), amount)] = amount
			if i < n-1 {
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
	place(6)
	p.Set(faults.Rule{Service: "dynamodb", Kind: faults.Unavailable})
	began := time.Now()
	for time.Since(began) < outage {
		place(1)
		time.Sleep(500 * time.Millisecond)
	}
	p.Set()
	recovered := time.Now()
	t.Logf("DynamoDB unavailable to the workers for %s; injected %v", recovered.Sub(began).Round(time.Second), p.Injected())
	place(6)

	wantCoupons := 0
	for _, a := range amounts {
		if a == "80.00" || a == "120.00" {
			wantCoupons++
		}
	}
	db := dynamodb.NewFromConfig(emu.Config)
	fulfilments, coupons := dep.Services["fulfilment"].Tables["fulfilmentsTable"], dep.Services["promotion"].Tables["couponsTable"]
	var fulfilled, issued int
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		fulfilled, issued = len(scan(ctx, t, db, fulfilments)), len(scan(ctx, t, db, coupons))
		if fulfilled == len(amounts) && issued == wantCoupons {
			break
		}
	}
	if fulfilled != len(amounts) || issued != wantCoupons {
		t.Errorf("2m after DynamoDB came back: %d of %d orders fulfilled, %d of %d coupons issued; dead letters: fulfilment %d, promotion %d",
			fulfilled, len(amounts), issued, wantCoupons,
			emu.QueueDepth(ctx, t, dep.Services["fulfilment"].DLQURL), emu.QueueDepth(ctx, t, dep.Services["promotion"].DLQURL))
	} else {
		t.Logf("%d orders, all done %s after DynamoDB came back", len(amounts), time.Since(recovered).Round(time.Second))
		if d := time.Since(recovered); d > 45*time.Second {
			t.Errorf("done %s after recovery; want within 45s (the probe back-off is at most 30s)", d.Round(time.Second))
		}
	}

	for _, w := range []string{"fulfilment", "promotion"} {
		if n := emu.QueueDepth(ctx, t, dep.Services[w].DLQURL); n != 0 {
			t.Errorf("%s dead-letter queue holds %d messages; want none (an outage is not a poison message)", w, n)
		}
		for id, outcomes := range s.Processed(w) {
			if _, ok := amounts[id]; !ok {
				t.Errorf("%s processed unknown order %s", w, id)
			}
			if effects := strings.Count(strings.Join(outcomes, ","), "fulfilled") + strings.Count(strings.Join(outcomes, ","), "coupon issued"); effects > 1 {
				t.Errorf("%s: order %s had effect %d times (%v); want once", w, id, effects, outcomes)
			}
		}
	}
	for _, r := range scan(ctx, t, db, coupons) {
		if a := amounts[r.OrderID]; a != "80.00" && a != "120.00" {
			t.Errorf("coupon for order %s of %s; want coupons only for 80.00 or more", r.OrderID, a)
		}
	}
	if !strings.Contains(s.Logs.String(), "receiving paused") {
		t.Error("no worker logged that it paused receiving; want both to during the outage")
	}
}
