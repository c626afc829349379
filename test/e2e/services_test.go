package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Services{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), Dep: dep, Logs: &syncBuffer{}}
	s.group = procgroup.New(s.Logs)
	for _, name := range []string{"publisher", "fulfilment", "promotion"} {
		s.startExtra(t, emu, name, name, append([]string{"PORT=" + fmt.Sprint(port)}, extra[name]...)...)
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
	for !healthy(base) {
		if time.Now().After(deadline) {
			t.Fatalf("publisher not healthy within a minute\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy reports whether the publisher at base answers its health check.
func healthy(base string) bool {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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
	return integration.Strings(ctx, t, db, table, "customer")
}
