// Package e2e runs the built binaries as processes against the AWS emulator,
// started the way `make run` starts them: through the dev tool, which
// provisions copilot/'s topology and injects Copilot's variables.
package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// syncBuffer and waitUntil are integration's, by their names here.
type syncBuffer = integration.SyncBuffer

var waitUntil = integration.WaitUntil

// Stack is the dev tool running the three services.
type Stack struct {
	BaseURL string
	Env     string // the environment name the resources were created under
	Top     *topology.Topology
	Logs    *syncBuffer
	cmd     *exec.Cmd
	done    chan error
}

// startStack runs `dev run` (what `make run` runs) on the emulator under a
// fresh environment name and waits for the publisher's health check.
func startStack(t *testing.T, emu *integration.Emulator) *Stack {
	t.Helper()
	root := integration.RepoRoot(t)
	bin := binaries(t)
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &Stack{
		BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Env:     "e" + hex.EncodeToString(b),
		Top:     integration.LoadTopology(t),
		Logs:    &syncBuffer{},
		done:    make(chan error, 1),
	}
	s.cmd = exec.Command(filepath.Join(bin, "dev"), "run", "-env", s.Env, "-bin", bin, "-port", strconv.Itoa(port))
	s.cmd.Dir = root
	s.cmd.Env = append(os.Environ(), awsEnv(t, emu, "")...) // dev run labels each service
	s.cmd.Env = append(s.cmd.Env, "WORKER_WAIT_TIME=2s")
	s.cmd.Stdout, s.cmd.Stderr = s.Logs, s.Logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("stack output:\n%s", s.Logs.String())
		}
	})
	waitUntil(t, "the publisher healthy", 2*time.Minute, func() bool {
		select {
		case err := <-s.done:
			t.Fatalf("dev run exited before the publisher was healthy: %v\n%s", err, s.Logs.String())
		default:
		}
		return healthy(s.BaseURL)
	})
	return s
}

// Stop interrupts the dev tool as Ctrl-C would and requires a clean exit.
func (s *Stack) Stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("dev run exited with %v, want 0", err)
		}
	case <-time.After(time.Minute):
		t.Error("dev run did not stop within a minute of SIGINT")
	}
}

// Table returns the name of a service's table.
func (s *Stack) Table(t *testing.T, svc string) string {
	t.Helper()
	tables := s.Top.Service(svc).Tables
	if len(tables) != 1 {
		t.Fatalf("%s has %d tables, want 1", svc, len(tables))
	}
	return tables[0].TableName(s.Top.App, s.Env, svc)
}

// logLines picks a service's JSON lines out of interleaved "name | line" output.
func logLines(out, svc string) []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, line, ok := strings.Cut(sc.Text(), " | ")
		if !ok || strings.TrimSpace(name) != svc {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// placeOrder submits the form as a browser would, follows the redirect to
// the order page and checks the page shows the order; it returns the order id.
func placeOrder(t *testing.T, base, customer, amount string) string {
	t.Helper()
	id, body := placeOrderPage(t, base, customer, amount)
	if !strings.Contains(body, customer) || !strings.Contains(body, amount) {
		t.Fatalf("order page of %s does not show %s and %s:\n%s", id, customer, amount, body)
	}
	return id
}

type row struct {
	OrderID string `dynamodbav:"orderId"`
	Amount  string `dynamodbav:"amount"`
	Order   string `dynamodbav:"orderAmount"`
}

func scan(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) []row {
	t.Helper()
	out, err := db.Scan(ctx, &dynamodb.ScanInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		// The coupons table also holds the items that claim each coupon code.
		FilterExpression:          aws.String("NOT begins_with(orderId, :claim)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":claim": &types.AttributeValueMemberS{Value: promotion.CodeKeyPrefix}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestOrdersFlowThroughTheBinaries posts four orders over HTTP to the running
// publisher: fulfilment records all four, promotion issues coupons for the
// two of 80.00 or more, and each worker logs one line per order it handled.
func TestOrdersFlowThroughTheBinaries(t *testing.T) {
	emu := integration.Start(t)
	s := startStack(t, emu)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := dynamodb.NewFromConfig(emu.Config)

	amountOf := map[string]string{}
	for _, amount := range []string{"20.00", "79.99", "80.00", "150.00"} {
		id := placeOrder(t, s.BaseURL, "Barbara Liskov", amount)
		amountOf[id] = amount
	}

	fulfilments, coupons := s.Table(t, "fulfilment"), s.Table(t, "promotion")
	deadline := time.Now().Add(time.Minute)
	var fs, cs []row
	for {
		fs, cs = scan(ctx, t, db, fulfilments), scan(ctx, t, db, coupons)
		if len(fs) >= 4 && len(cs) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	amounts := func(rows []row, field func(row) string) []string {
		var out []string
		for _, r := range rows {
			if amountOf[r.OrderID] != field(r) {
				t.Errorf("row for order %s has amount %s, want %s", r.OrderID, field(r), amountOf[r.OrderID])
			}
			out = append(out, field(r))
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff([]string{"150.00", "20.00", "79.99", "80.00"}, amounts(fs, func(r row) string { return r.Amount })); diff != "" {
		t.Errorf("fulfilments (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"150.00", "80.00"}, amounts(cs, func(r row) string { return r.Order })); diff != "" {
		t.Errorf("coupons (-want +got):\n%s", diff)
	}

	// Each order page shows the journey the tables hold (the publisher reads the workers'
	// tables, named by its manifest's variables): fulfilled, a coupon exactly for 80.00 or
	// more, and, nothing being pending, no refresh.
	for id, amount := range amountOf {
		resp, err := http.Get(s.BaseURL + "/orders/" + id)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		wantCoupon := amount == "80.00" || amount == "150.00"
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<span class="badge ok">Fulfilled</span>`) ||
			strings.Contains(page, `id="coupon-code"`) != wantCoupon || strings.Contains(page, `http-equiv="refresh"`) {
			t.Errorf("order page of %s (%s): status %d; want 200, fulfilled, coupon shown %t, no refresh:\n%s", id, amount, resp.StatusCode, wantCoupon, page)
		}
	}

	// One JSON line per message, with the order id and the outcome.
	for svc, want := range map[string]int{"fulfilment": 4, "promotion": 2} {
		var seen []string
		for _, l := range logLines(s.Logs.String(), svc) {
			if l["msg"] == "message processed" {
				if _, ok := amountOf[fmt.Sprint(l["order_id"])]; !ok || l["outcome"] == nil {
					t.Errorf("%s log line without a known order id and outcome: %v", svc, l)
				}
				seen = append(seen, fmt.Sprint(l["order_id"]))
			}
		}
		if len(seen) != want {
			t.Errorf("%s logged %d processed messages, want %d", svc, len(seen), want)
		}
	}

	// make run's summary, from the metrics the services write, shows the same.
	summary := []string{
		"dev: publisher   placed 4, published 4,",
		"dev: fulfilment  processed 4, duplicates 0, retries 0, in DLQ 0",
		"dev: promotion   coupons 2, duplicates 0, retries 0, in DLQ 0",
	}
	waitUntil(t, "the dev tool's summary of the four orders", 40*time.Second, func() bool {
		out := s.Logs.String()
		for _, line := range summary {
			if !strings.Contains(out, line) {
				return false
			}
		}
		return true
	})
	for _, line := range strings.Split(s.Logs.String(), "\n") {
		if strings.HasPrefix(line, "dev: publisher ") || strings.HasPrefix(line, "dev: fulfilment ") || strings.HasPrefix(line, "dev: promotion ") {
			t.Log(line)
		}
	}
	s.Stop(t)
}
