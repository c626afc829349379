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

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

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

// TestBrowserPlacesOrder drives the form in headless Chromium: a valid order
// of 95.00 lands on its order page; an invalid total shows the error next to
// the field. Screenshots of each page go to the test's artifact folder
// (go test -artifacts keeps them).
func TestBrowserPlacesOrder(t *testing.T) {
	browser := chromium(t)
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	s := startServices(t, emu, dep, nil)
	out := t.ArtifactDir()
	ctx := startBrowser(t, browser, 90*time.Second)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	shot := func() []byte {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		return png
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(s.BaseURL+"/"), chromedp.WaitVisible(chromedp.CSS("#customer"))); err != nil {
		t.Fatalf("open the form: %v", err)
	}
	formShot := shot()
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#customer"), "Margaret Hamilton"),
		chromedp.SetValue(chromedp.CSS("#amount"), "95.00"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#order-id")),
	); err != nil {
		t.Fatalf("place an order: %v", err)
	}
	orderID, customer, amount, status := text("#order-id"), text("#order-customer"), text("#order-amount"), text("#order-status")
	orderShot := shot()
	if len(orderID) != 36 || customer != "Margaret Hamilton" || amount != "95.00" {
		t.Errorf("order page shows id %q customer %q amount %q, want a UUID, Margaret Hamilton, 95.00", orderID, customer, amount)
	}
	if !strings.Contains(status, "Published") && !strings.Contains(status, "Being processed") {
		t.Errorf("order page status %q, want Published or Being processed", status)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.BaseURL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#amount")),
		chromedp.SetValue(chromedp.CSS("#amount"), "12.345"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#amount-error")),
	); err != nil {
		t.Fatalf("submit an invalid total: %v", err)
	}
	fieldError := text("#amount-error")
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#amount")))
	if err != nil {
		t.Fatal(err)
	}
	errorShot := shot()
	if !strings.Contains(fieldError, "at most two decimal places") {
		t.Errorf("error next to the total = %q, want it to say at most two decimal places", fieldError)
	}
	if typed != "12.345" {
		t.Errorf("total field re-filled with %q, want what was typed, 12.345", typed)
	}

	for name, png := range map[string][]byte{"1-form.png": formShot, "2-order.png": orderShot, "3-invalid-amount.png": errorShot} {
		if len(png) == 0 {
			t.Errorf("no screenshot for %s", name)
			continue
		}
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", out)
}
