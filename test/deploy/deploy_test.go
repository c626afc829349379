// Package deploy checks what `copilot svc deploy` would ship, without AWS or Docker: the
// Dockerfiles (their go build line is compiled from the context Docker would send), the
// manifests against the binaries that run in the containers (each binary's -check-config
// given the environment Copilot would give it), what Copilot does not check in the manifests,
// and the CloudFormation addons (cfn-lint, the tables' safety defaults). test/rendered checks
// the stacks Copilot renders from them.
package deploy

import (
	"os"
	"testing"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
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

func TestMain(m *testing.M) {
	code := m.Run()
	integration.RemoveBinaries()
	os.Exit(code)
}

// standIn is a deployment of the topology to environment "test" as far as the variables Copilot
// injects go: stand-in ARNs and URLs for what a deploy creates, tables named as their addons
// name them.
func standIn(top *topology.Topology) *topology.Deployment {
	const env, region = "test", "us-east-1:123456789012"
	d := &topology.Deployment{App: top.App, Env: env, Topics: map[string]string{}, Services: map[string]*topology.Deployed{}}
	for _, s := range top.Services {
		dep := &topology.Deployed{Tables: map[string]string{}}
		if s.Type == topology.TypeWorker {
			dep.QueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/" + top.App + "-" + env + "-" + s.Name + "-EventsQueue-X"
		}
		for _, topic := range s.Publishes {
			d.Topics[s.Name+":"+topic] = "arn:aws:sns:" + region + ":" + copilot.TopicName(top.App, env, s.Name, topic)
		}
		for _, tbl := range s.Tables {
			dep.Tables[tbl.LogicalID] = tbl.TableName(top.App, env, s.Name)
		}
		d.Services[s.Name] = dep
	}
	return d
}
