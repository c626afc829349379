package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// journeyState is what the order page shows, read in the browser.
type journeyState struct {
	ID, Customer, Amount string  // #order-id, #order-customer, #order-amount
	Origin               float64 // performance.timeOrigin: changes when the document is loaded again
	Refresh              bool    // a meta refresh in the head
	Status               string  // #order-status
	Fulfilment           string  // #order-fulfilment
	Coupon               string  // #order-coupon, "" without one
	HasCoupon            bool
	CouponCode           string // #coupon-code, once issued
}

// readJourney is run in the page by the test (DevTools, not the page's own
// script: the page has none, and its CSP allows none).
const readJourney = `(() => {
	const text = sel => { const e = document.querySelector(sel); return e ? e.textContent.trim() : "" };
	return {
		ID: text("#order-id"), Customer: text("#order-customer"), Amount: text("#order-amount"),
		Origin: performance.timeOrigin,
		Refresh: !!document.querySelector('head meta[http-equiv="refresh"]'),
		Status: text("#order-status"),
		Fulfilment: text("#order-fulfilment"),
		Coupon: text("#order-coupon"),
		HasCoupon: !!document.querySelector("#order-coupon"),
		CouponCode: text("#coupon-code"),
	};
})()`

// TestBrowserOrderJourney drives the form in headless Chromium. It places an
// order of 95.00 and one of 20.00, each landing on its order page (its id,
// customer and total), and leaves each page alone: it reloads itself (a meta
// refresh, no script) until the order is published and fulfilled and, for
// 95.00, its coupon shows with the discount; then it stops reloading. The
// 20.00 order never shows a coupon line. An invalid total shows the error
// next to the field, which keeps what was typed. Screenshots of the form, the
// first pages (journey-95-pending.png, journey-20-pending.png), the finished
// ones (journey-95.png, journey-20.png) and the error go to the test's
// artifact folder (go test -artifacts keeps them).
func TestBrowserOrderJourney(t *testing.T) {
	browser := chromium(t)
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	// The workers' writes are slowed by 2s each, so that the first order page
	// is always rendered before they are done and must refresh to see them.
	p := faultProxy(t, emu)
	p.Set(faults.Rule{Service: "dynamodb", APIs: []string{"PutItem"}, Callers: []string{"fulfilment", "promotion"}, Kind: faults.Latency, Delay: 2 * time.Second})
	slowWrites := []string{"AWS_ENDPOINT_URL_DYNAMODB=" + p.URL()}
	s := startServices(t, emu, dep, map[string][]string{"fulfilment": slowWrites, "promotion": slowWrites})
	out := t.ArtifactDir()
	ctx := startBrowser(t, browser, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.BaseURL+"/"), chromedp.WaitVisible(chromedp.CSS("#customer"))); err != nil {
		t.Fatalf("open the form: %v", err)
	}
	screenshot(ctx, t, filepath.Join(out, "form.png"))

	for _, tc := range []struct {
		amount     string
		wantCoupon bool
		shot       string
	}{
		{"95.00", true, "journey-95.png"},
		{"20.00", false, "journey-20.png"},
	} {
		t.Run(tc.amount, func(t *testing.T) {
			if err := chromedp.Do(ctx,
				chromedp.Navigate(s.BaseURL+"/"),
				chromedp.WaitVisible(chromedp.CSS("#amount")),
				chromedp.SetValue(chromedp.CSS("#customer"), "Grace Hopper"),
				chromedp.SetValue(chromedp.CSS("#amount"), tc.amount),
				chromedp.Click(chromedp.CSS("button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#order-id")),
			); err != nil {
				t.Fatalf("place an order of %s: %v", tc.amount, err)
			}
			first := readState(ctx, t)
			if len(first.ID) != 36 || first.Customer != "Grace Hopper" || first.Amount != tc.amount {
				t.Errorf("order page shows id %q customer %q amount %q, want a UUID, Grace Hopper, %s", first.ID, first.Customer, first.Amount, tc.amount)
			}
			if !strings.Contains(first.Status, "Published") && !strings.Contains(first.Status, "Being processed") {
				t.Errorf("order page status %q, want Published or Being processed", first.Status)
			}
			if !first.Refresh {
				t.Errorf("first order page: no meta refresh while pending (%+v)", first)
			}
			screenshot(ctx, t, filepath.Join(out, strings.TrimSuffix(tc.shot, ".png")+"-pending.png"))

			// The test only reads: every new document is the page's own doing.
			done := func(st journeyState) bool {
				finished := strings.Contains(st.Status, "Published") && strings.Contains(st.Fulfilment, "Fulfilled")
				if tc.wantCoupon {
					finished = finished && st.CouponCode != ""
				}
				return finished
			}
			var last journeyState
			loads := map[float64]bool{first.Origin: true}
			deadline := time.Now().Add(time.Minute)
			for last = readState(ctx, t); !done(last); last = readState(ctx, t) {
				if time.Now().After(deadline) {
					t.Fatalf("order of %s not through within a minute; the page shows %+v\n%s", tc.amount, last, s.Logs.String())
				}
				loads[last.Origin] = true
				time.Sleep(250 * time.Millisecond)
			}
			loads[last.Origin] = true
			if len(loads) < 2 {
				t.Errorf("the page showed the finished order without reloading itself (one document); want it to refresh while pending")
			}
			t.Logf("order of %s through after %d loads of its page", tc.amount, len(loads))

			if last.Refresh {
				t.Errorf("finished order page still has a meta refresh: %+v", last)
			}
			if tc.wantCoupon {
				if code := last.CouponCode; len(code) != 9 || code[4] != '-' {
					t.Errorf("coupon code %q; want one like K7PM-Q2XD", code)
				}
				if !strings.Contains(last.Coupon, "20% off") {
					t.Errorf("coupon line %q; want the 20%% discount", last.Coupon)
				}
			} else if last.HasCoupon {
				t.Errorf("order of %s shows a coupon line %q; want none", tc.amount, last.Coupon)
			}

			screenshot(ctx, t, filepath.Join(out, tc.shot))

			// And it stays put: no reload for longer than the refresh interval.
			time.Sleep(3 * time.Second)
			if after := readState(ctx, t); after.Origin != last.Origin {
				t.Errorf("the finished page loaded again (timeOrigin %v → %v); want it to stop refreshing", last.Origin, after.Origin)
			}
		})
	}

	t.Run("invalid total", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(s.BaseURL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#amount")),
			chromedp.SetValue(chromedp.CSS("#amount"), "12.345"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#amount-error")),
		); err != nil {
			t.Fatalf("submit an invalid total: %v", err)
		}
		fieldError, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#amount-error")))
		if err != nil {
			t.Fatal(err)
		}
		typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#amount")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fieldError, "at most two decimal places") {
			t.Errorf("error next to the total = %q, want it to say at most two decimal places", fieldError)
		}
		if typed != "12.345" {
			t.Errorf("total field re-filled with %q, want what was typed, 12.345", typed)
		}
		screenshot(ctx, t, filepath.Join(out, "invalid-amount.png"))
	})
	t.Logf("screenshots in %s", out)
}

// chromium finds the browser: CHROMIUM, else chromium or chromium-browser on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skip.OrFail(t, "browser test skipped: no Chromium found (apt-get install chromium)")
	return ""
}

// startBrowser starts headless Chromium for the test and returns its context,
// which ends after limit; the browser stops when the test ends.
func startBrowser(t *testing.T, browser string, limit time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first call starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, limit)
	t.Cleanup(cancelTimeout)
	return ctx
}

// readState reads the order page, retrying while the page is between two
// documents (a refresh in progress).
func readState(ctx context.Context, t *testing.T) journeyState {
	t.Helper()
	var st journeyState
	var err error
	for range 40 {
		if st, err = chromedp.Run(ctx, chromedp.Evaluate[journeyState](readJourney)); err == nil && st.Status != "" {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("read the order page: %v (read %+v)", err, st)
	return st
}

func screenshot(ctx context.Context, t *testing.T, file string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
