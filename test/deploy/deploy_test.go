// Package deploy checks what `copilot svc deploy` would ship, without AWS or Docker: the
// Dockerfiles (their go build line is compiled from the context Docker would send), the
// manifests against the code that runs in the containers, and the CloudFormation addons (with
// cfn-lint and against the least privilege each service needs).
package deploy

import (
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// The services the application is made of, with their Copilot types.
var wantServices = map[string]string{
	"publisher":  topology.TypeLoadBalancedWeb,
	"fulfilment": topology.TypeWorker,
	"promotion":  topology.TypeWorker,
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

