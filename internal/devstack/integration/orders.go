package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// NoRedirect is a client that stops at the publisher's 303, as tests must see it.
var NoRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// PostOrder posts the order form to the publisher at base, with the form's id
// unless id is empty, and returns the order id its 303 to /orders/{id} names.
func PostOrder(base, id, customer, amount string) (string, error) {
	form := url.Values{"customer": {customer}, "amount": {amount}}
	if id != "" {
		form.Set("id", id)
	}
	resp, err := NoRedirect.PostForm(base+"/orders", form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/orders/") {
		return "", fmt.Errorf("POST /orders = %d Location %q; want 303 to /orders/{id}: %s", resp.StatusCode, loc, body)
	}
	return strings.TrimPrefix(loc, "/orders/"), nil
}

var formID = regexp.MustCompile(`name="id" value="([0-9a-f-]{36})"`)

// FormID reads the order form at base and returns the fresh order id it carries.
func FormID(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formID.FindSubmatch(form)
	if m == nil {
		t.Fatalf("no order id in the form:\n%s", form)
	}
	return string(m[1])
}

// WaitUntil polls cond until it holds, failing the test after limit.
func WaitUntil(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// SyncBuffer collects a process's output while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *SyncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// Strings returns the string attribute attr of every item in table that has one.
func Strings(ctx context.Context, t testing.TB, db *dynamodb.Client, table, attr string) []string {
	t.Helper()
	var out []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if v, ok := it[attr].(*types.AttributeValueMemberS); ok {
				out = append(out, v.Value)
			}
		}
	}
	return out
}
