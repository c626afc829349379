package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/procgroup"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// startPublisher runs the publisher binary alone with extra variables and
// returns its URL and process.
func startPublisher(t *testing.T, emu *integration.Emulator, dep *topology.Deployment, extra ...string) (string, *procgroup.Proc, *syncBuffer) {
	t.Helper()
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	g := procgroup.New(logs)
	env := append(os.Environ(), awsEnv(t, emu, "publisher")...)
	env = append(env, dep.Services["publisher"].Environ()...)
	env = append(env, fmt.Sprintf("PORT=%d", port))
	env = append(env, extra...)
	p, err := g.Start("publisher", filepath.Join(binaries(t), "publisher"), nil, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("publisher output:\n%s", logs.String())
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port), p, logs
}

// TestPublisherDrainsOnSIGTERM stops the publisher while clients post orders:
// every request it accepted is answered in full (303), the ones after are
// refused at connect, the process exits 0, and every answered order is stored.
func TestPublisherDrainsOnSIGTERM(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	base, proc, logs := startPublisher(t, emu, dep)
	waitHealthy(t, base, logs)

	var mu sync.Mutex
	var placed []string
	var broken []error
	reset := map[string]bool{} // customers whose request was reset
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				customer := fmt.Sprintf("Radia Perlman %d-%d", c, n)
				resp, err := client.PostForm(base+"/orders", url.Values{"customer": {customer}, "amount": {"64.00"}})
				mu.Lock()
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					// After the listener closed: refused, never half-answered.
				case err != nil && errors.Is(err, syscall.ECONNRESET):
					// A connection the kernel had completed but the server never
					// accepted is reset when the listener closes: the request was
					// never read. Checked below: no order of it may be stored.
					reset[customer] = true
				case err != nil && errors.Is(err, syscall.EPIPE):
					// The same reset, arrived before the client wrote its
					// request: the write failed whole (the request is one
					// small write), so no byte of it left the client. Checked
					// below like a reset: no order of it may be stored.
					reset[customer] = true
				case err != nil:
					broken = append(broken, err)
				case resp.StatusCode != http.StatusSeeOther:
					broken = append(broken, fmt.Errorf("status %d", resp.StatusCode))
				default:
					placed = append(placed, strings.TrimPrefix(resp.Header.Get("Location"), "/orders/"))
				}
				mu.Unlock()
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	proc.Signal(syscall.SIGTERM)
	select {
	case <-proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("publisher did not exit within 30s of SIGTERM")
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	if err := proc.Err(); err != nil {
		t.Errorf("publisher exited with %v after SIGTERM, want status 0", err)
	}
	if len(broken) > 0 {
		t.Errorf("%d requests broken by the shutdown, want 0; first: %v", len(broken), broken[0])
	}
	if len(placed) == 0 {
		t.Fatal("no order placed before the shutdown; the test proves nothing")
	}
	db := dynamodb.NewFromConfig(emu.Config)
	table := dep.Services["publisher"].Tables["ordersTable"]
	states := orderStates(context.Background(), t, db, table)
	for _, id := range placed {
		if _, ok := states[id]; !ok {
			t.Errorf("order %s was answered 303 but is not stored", id)
		}
	}
	for _, customer := range orderCustomers(context.Background(), t, db, table) {
		if reset[customer] {
			t.Errorf("the request of %q was reset, yet its order is stored: the server read it and never answered", customer)
		}
	}
	t.Logf("%d orders placed before SIGTERM, all stored; %d connections reset unread", len(placed), len(reset))
}

// TestPublisherAnswersConnectionAcceptedBeforeSIGTERM sends SIGTERM between
// the publisher accepting a connection and the request arriving on it, the
// gap a busy task leaves between accepting a connection and reading its
// request: the publisher accepted the connection, so it reads the request
// and answers it (303, the order stored), where http.Server.Shutdown alone
// reads it and closes the connection unanswered (the client sees EOF).
func TestPublisherAnswersConnectionAcceptedBeforeSIGTERM(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	base, proc, logs := startPublisher(t, emu, dep)
	waitHealthy(t, base, logs)

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server accepts connections in the order they completed: once one
	// dialed after conn is answered, conn has been accepted.
	if !healthy(base) {
		t.Fatalf("publisher not healthy\n%s", logs.String())
	}
	proc.Signal(syscall.SIGTERM)
	waitUntil(t, "the publisher shutting down", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"msg":"shutting down"`)
	})
	time.Sleep(100 * time.Millisecond) // the shutdown under way

	customer := "Sally Floyd"
	body := url.Values{"customer": {customer}, "amount": {"64.00"}}.Encode()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(conn, "POST /orders HTTP/1.1\r\nHost: publisher\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body); err != nil {
		t.Fatalf("request on a connection accepted before SIGTERM: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request on a connection accepted before SIGTERM: %v, want 303", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request on a connection accepted before SIGTERM: status %d, want 303", resp.StatusCode)
	}
	select {
	case <-proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("publisher did not exit within 30s of SIGTERM")
	}
	if err := proc.Err(); err != nil {
		t.Errorf("publisher exited with %v after SIGTERM, want status 0", err)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/orders/")
	db := dynamodb.NewFromConfig(emu.Config)
	if _, ok := orderStates(context.Background(), t, db, dep.Services["publisher"].Tables["ordersTable"])[id]; !ok {
		t.Errorf("order %s was answered 303 but is not stored", id)
	}
}

// TestHealthzReportsUnreachableDynamoDB points the publisher's DynamoDB
// endpoint at a closed port: /healthz answers 503, so the load balancer
// takes the task out of service.
func TestHealthzReportsUnreachableDynamoDB(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	closed, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := startPublisher(t, emu, dep, fmt.Sprintf("AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:%d", closed), "AWS_MAX_ATTEMPTS=1")
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /healthz = %d with DynamoDB unreachable, want 503", resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publisher never answered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSlowClientIsCutOff opens a connection and never finishes its headers
// (a slowloris): the publisher closes it after its read-header timeout
// instead of holding it open forever.
func TestSlowClientIsCutOff(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	base, _, logs := startPublisher(t, emu, dep)
	waitHealthy(t, base, logs)

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: publisher\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn) // returns when the server closes the connection
	took := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %s of unfinished headers", took.Round(time.Second))
	}
	if took < 4*time.Second || took > 10*time.Second {
		t.Errorf("server closed the unfinished request after %s, want about its 5s read-header timeout", took.Round(100*time.Millisecond))
	}
}
