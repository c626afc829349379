// Package deploy checks what `copilot svc deploy` would ship, without AWS or Docker: the
// Dockerfiles (their go build line is compiled from the context Docker would send), the
// manifests against the code that runs in the containers, and the CloudFormation addons (with
// cfn-lint and against the least privilege each service needs).
package deploy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pubsub-app/pubsub/internal/topology"
)

// The services the application is made of, with their Copilot types.
var wantServices = map[string]string{
	"publisher":  topology.TypeLoadBalancedWeb,
	"fulfilment": topology.TypeWorker,
	"promotion":  topology.TypeWorker,
}

// repoRoot is the module root: the folder of go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// loadTopology parses copilot/ as make run and the integration tests do.
func loadTopology(t *testing.T) *topology.Topology {
	t.Helper()
	top, err := topology.Load(os.DirFS(filepath.Join(repoRoot(t), "copilot")))
	if err != nil {
		t.Fatalf("topology.Load(copilot/): %v", err)
	}
	return top
}

// service returns the named service of the topology or stops the test.
func service(t *testing.T, top *topology.Topology, name string) *topology.Service {
	t.Helper()
	s := top.Service(name)
	if s == nil {
		t.Fatalf("copilot/ has no service %q", name)
	}
	return s
}

// skipOrFail skips the test for a missing tool, or fails it when REQUIRE_INTEGRATION=1 (as CI
// sets), so CI can never pass by skipping.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("%s (REQUIRE_INTEGRATION=1, so this is a failure, not a skip)", reason)
	}
	t.Skip(reason)
}
