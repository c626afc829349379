package web_test

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/web"
	"github.com/pubsub-app/pubsub/templates"
)

// TestFormPromotionHint: the form's promotion hint states the promotion rule
// (promotion.Threshold and promotion.DiscountPercent), on a fresh form and on
// one sent back with errors, and the template takes both from the rule rather
// than writing them out.
func TestFormPromotionHint(t *testing.T) {
	threshold, percent := promotion.Threshold.String(), fmt.Sprintf("%d%%", promotion.DiscountPercent)
	want := fmt.Sprintf("Orders of %s or more earn a %s coupon", threshold, percent)

	srv := web.NewServer(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), func() (string, string) { return "Ada Lovelace", "12.00" })
	bad := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(url.Values{"customer": {"Ada"}, "amount": {"1.234"}}.Encode()))
	bad.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, req := range []*http.Request{httptest.NewRequest(http.MethodGet, "/", nil), bad} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s %s (status %d): the page has no %q:\n%s", req.Method, req.URL.Path, rec.Code, want, rec.Body.String())
		}
	}

	src, err := fs.ReadFile(templates.FS, "form.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, literal := range []string{threshold, percent} {
		if strings.Contains(string(src), literal) {
			t.Errorf("templates/form.html writes %q itself; want it from the promotion rule (promotionThreshold, promotionPercent)", literal)
		}
	}
}
