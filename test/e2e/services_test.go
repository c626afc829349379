package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/procgroup"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// binaries builds the services and the dev tool once for the whole package
// and returns the folder that holds them (integration.Binary's).
func binaries(t *testing.T) string {
	t.Helper()
	var dir string
	for _, name := range []string{"dev", "publisher", "fulfilment", "promotion"} {
		dir = filepath.Dir(integration.Binary(t, name))
	}
	return dir
}

// Services are the three binaries started directly, without the dev tool,
// so a test can give one of them its own variables.
type Services struct {
	BaseURL string
	Dep     *topology.Deployment
	Logs    *syncBuffer
	group   *procgroup.Group
}

// startServices runs the three services on dep; extra adds variables per service.
func startServices(t *testing.T, emu *integration.Emulator, dep *topology.Deployment, extra map[string][]string) *Services {
	t.Helper()
	bin := binaries(t)
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Services{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), Dep: dep, Logs: &syncBuffer{}}
	s.group = procgroup.New(s.Logs)
	for _, name := range []string{"publisher", "fulfilment", "promotion"} {
		env := append(os.Environ(), awsEnv(t, emu, name)...)
		env = append(env, dep.Services[name].Environ()...)
		env = append(env, "PORT="+fmt.Sprint(port), "WORKER_WAIT_TIME=1s")
		env = append(env, extra[name]...)
		if _, err := s.group.Start(name, filepath.Join(bin, name), nil, env); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if failed := s.group.Stop(30 * time.Second); len(failed) > 0 {
			t.Errorf("services did not exit cleanly: %v", failed)
		}
		if t.Failed() {
			t.Logf("service output:\n%s", s.Logs.String())
		}
	})
	waitHealthy(t, s.BaseURL, s.Logs)
	return s
}

// startExtra runs one more process of service svc beside the others, named
// name in the logs, with env added to what the service is given.
func (s *Services) startExtra(t *testing.T, emu *integration.Emulator, svc, name string, env ...string) {
	t.Helper()
	full := append(os.Environ(), awsEnv(t, emu, svc)...)
	full = append(full, s.Dep.Services[svc].Environ()...)
	full = append(full, "WORKER_WAIT_TIME=1s")
	full = append(full, env...)
	if _, err := s.group.Start(name, filepath.Join(binaries(t), svc), nil, full); err != nil {
		t.Fatal(err)
	}
}

func waitHealthy(t *testing.T, base string, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("publisher not healthy within a minute\n%s", logs.String())
}

// Processed returns, per order id, the outcomes a worker logged.
func (s *Services) Processed(svc string) map[string][]string {
	out := map[string][]string{}
	for _, l := range logLines(s.Logs.String(), svc) {
		if l["msg"] == "message processed" {
			id := fmt.Sprint(l["order_id"])
			out[id] = append(out[id], fmt.Sprint(l["outcome"]))
		}
	}
	return out
}

// switchProxy forwards TCP connections to target while up, and refuses them
// (accepts and closes at once) while down: a service that is unreachable.
type switchProxy struct {
	URL    string
	up     atomic.Bool
	ln     net.Listener
	target string
}

func newSwitchProxy(t *testing.T, targetURL string) *switchProxy {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{URL: "http://" + ln.Addr().String(), ln: ln, target: u.Host}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *switchProxy) Set(up bool) { p.up.Store(up) }

func (p *switchProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			c.Close()
			continue
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { _, _ = io.Copy(u, c) }()
			_, _ = io.Copy(c, u)
		}()
	}
}

// orderStates returns publishState per order id in the orders table.
func orderStates(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) map[string]string {
	t.Helper()
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, it := range out.Items {
		id := it["id"].(*types.AttributeValueMemberS).Value
		states[id] = it["publishState"].(*types.AttributeValueMemberS).Value
	}
	return states
}

// orderCustomers returns the customer of every order in the orders table.
func orderCustomers(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) []string {
	t.Helper()
	var out []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if c, ok := it["customer"].(*types.AttributeValueMemberS); ok {
				out = append(out, c.Value)
			}
		}
	}
	return out
}
