package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestOrdersSurviveSNSOutage posts 20 orders while SNS cannot be reached: each
// gets its order page and none is published. Once SNS is back, the outbox
// publishes all 20, each exactly once, and the workers see each once. Then
// one form submitted five times at once places one order, published and
// delivered once, every submit landing on its page.
func TestOrdersSurviveSNSOutage(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	sns := integration.NewTCPProxy(t, "127.0.0.1", emu.Endpoint, false)
	s := startServices(t, emu, dep, map[string][]string{
		"publisher": {
			"AWS_ENDPOINT_URL_SNS=" + sns.URL,
			"PUBLISH_TIMEOUT=2s", "OUTBOX_INTERVAL=250ms", "OUTBOX_RETRY_BASE=250ms", "OUTBOX_RETRY_MAX=2s",
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := dynamodb.NewFromConfig(emu.Config)
	ordersTable := dep.Services["publisher"].Tables["ordersTable"]

	amounts := map[string]string{}
	for i := range 20 {
		amount := "25.00"
		if i%2 == 0 {
			amount = "85.00"
		}
		id, page := placeOrderPage(t, s.BaseURL, "Edsger Dijkstra", amount)
		if !strings.Contains(page, "Being processed") {
			t.Errorf("order %s page does not say it is being processed:\n%s", id, page)
		}
		amounts[id] = amount
	}
	time.Sleep(time.Second) // give a wrong publish time to show up
	for id, state := range orderStates(ctx, t, db, ordersTable) {
		if state != "pending" {
			t.Errorf("order %s is %s while SNS is down, want pending", id, state)
		}
	}
	if got := len(s.Processed("fulfilment")); got != 0 {
		t.Fatalf("fulfilment processed %d orders while SNS was down, want 0", got)
	}

	sns.Set(true)
	restored := time.Now()
	waitUntil(t, "all 20 orders published and fulfilled", time.Minute, func() bool {
		return published(ctx, t, db, ordersTable) == 20 && len(s.Processed("fulfilment")) == 20 && len(s.Processed("promotion")) == 10
	})
	t.Logf("all 20 published and fulfilled %s after SNS came back", time.Since(restored).Round(time.Millisecond))

	id := integration.FormID(t, s.BaseURL)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if got, err := integration.PostOrder(s.BaseURL, id, "Ken Thompson", "120.00"); err != nil || got != id {
				t.Errorf("submit %d of order %s: redirected to the page of %q, %v; want a 303 to its page", i, id, got, err)
			}
		})
	}
	wg.Wait()
	amounts[id] = "120.00"
	waitUntil(t, "the order of five submits published, fulfilled and its coupon issued", 30*time.Second, func() bool {
		return published(ctx, t, db, ordersTable) == 21 && len(s.Processed("fulfilment")[id]) > 0 && len(s.Processed("promotion")[id]) > 0
	})
	time.Sleep(2 * time.Second) // a duplicate publish would show up by now
	if n := len(orderStates(ctx, t, db, ordersTable)); n != 21 {
		t.Errorf("orders table holds %d orders, want 21 (five submits of one form place one)", n)
	}
	for svc, want := range map[string]int{"fulfilment": 21, "promotion": 11} {
		got := s.Processed(svc)
		if len(got) != want {
			t.Errorf("%s saw %d orders, want %d", svc, len(got), want)
		}
		for id, outcomes := range got {
			if _, ok := amounts[id]; !ok || len(outcomes) != 1 {
				t.Errorf("%s: order %s delivered %d times (%v), want once", svc, id, len(outcomes), outcomes)
			}
		}
	}
}

// published counts the orders in the orders table that are published.
func published(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) int {
	n := 0
	for _, st := range orderStates(ctx, t, db, table) {
		if st == "published" {
			n++
		}
	}
	return n
}

// placeOrderPage posts an order and returns its id and the order page.
func placeOrderPage(t *testing.T, base, customer, amount string) (string, string) {
	t.Helper()
	id, err := integration.PostOrder(base, "", customer, amount)
	if err != nil {
		t.Fatal(err)
	}
	page, err := http.Get(base + "/orders/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /orders/%s = %d, want 200", id, page.StatusCode)
	}
	return id, string(body)
}
