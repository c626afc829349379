package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestOrdersSurviveSNSOutage posts 20 orders while SNS cannot be reached: each
// gets its order page and none is published. Once SNS is back, the outbox
// publishes all 20, each exactly once, and the workers see each once.
func TestOrdersSurviveSNSOutage(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	sns := newSwitchProxy(t, emu.Endpoint)
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
		published := 0
		for _, st := range orderStates(ctx, t, db, ordersTable) {
			if st == "published" {
				published++
			}
		}
		return published == 20 && len(s.Processed("fulfilment")) == 20 && len(s.Processed("promotion")) == 10
	})
	t.Logf("all 20 published and fulfilled %s after SNS came back", time.Since(restored).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // a duplicate publish would show up by now
	for svc, want := range map[string]int{"fulfilment": 20, "promotion": 10} {
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

// TestConcurrentSubmitsPlaceOneOrder submits one form five times at once: one
// order is stored, one event published, and every submit lands on its page.
func TestConcurrentSubmitsPlaceOneOrder(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	s := startServices(t, emu, dep, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	resp, err := http.Get(s.BaseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="id" value="([0-9a-f-]{36})"`).FindSubmatch(form)
	if m == nil {
		t.Fatalf("no order id in the form:\n%s", form)
	}
	id := string(m[1])

	var wg sync.WaitGroup
	locations := make([]string, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := noRedirect.PostForm(s.BaseURL+"/orders", url.Values{"id": {id}, "customer": {"Ken Thompson"}, "amount": {"120.00"}})
			if err != nil {
				t.Error(err)
				return
			}
			r.Body.Close()
			if r.StatusCode != http.StatusSeeOther {
				t.Errorf("submit %d: status %d, want 303", i, r.StatusCode)
			}
			locations[i] = r.Header.Get("Location")
		}()
	}
	wg.Wait()
	for i, loc := range locations {
		if loc != "/orders/"+id {
			t.Errorf("submit %d redirected to %q, want /orders/%s", i, loc, id)
		}
	}
	waitUntil(t, "the order fulfilled and its coupon issued", 30*time.Second, func() bool {
		return len(s.Processed("fulfilment")) == 1 && len(s.Processed("promotion")) == 1
	})
	time.Sleep(2 * time.Second) // a second event would arrive by now
	db := dynamodb.NewFromConfig(emu.Config)
	if states := orderStates(ctx, t, db, dep.Services["publisher"].Tables["ordersTable"]); len(states) != 1 || states[id] != "published" {
		t.Errorf("orders table = %v, want just %s published", states, id)
	}
	for _, svc := range []string{"fulfilment", "promotion"} {
		if got := s.Processed(svc)[id]; len(got) != 1 {
			t.Errorf("%s received the event %d times (%v), want once", svc, len(got), got)
		}
	}
}

// placeOrderPage posts an order and returns its id and the order page.
func placeOrderPage(t *testing.T, base, customer, amount string) (string, string) {
	t.Helper()
	resp, err := noRedirect.PostForm(base+"/orders", url.Values{"customer": {customer}, "amount": {amount}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/orders/") {
		t.Fatalf("POST /orders = %d Location %q, want 303 to /orders/{id}", resp.StatusCode, loc)
	}
	page, err := http.Get(base + loc)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", loc, page.StatusCode)
	}
	return strings.TrimPrefix(loc, "/orders/"), string(body)
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
