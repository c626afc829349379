package deploy

import (
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// The tests in this file read the manifests as we understand them (topology); test/rendered
// reads what Copilot renders from them.

func TestApplicationName(t *testing.T) {
	if got, want := integration.LoadTopology(t).App, "pubsub"; got != want {
		t.Errorf("copilot/.workspace application = %q; want %q", got, want)
	}
}

func TestServices(t *testing.T) {
	got := map[string]string{}
	for _, s := range integration.LoadTopology(t).Services {
		got[s.Name] = s.Type
	}
	if diff := cmp.Diff(wantServices, got); diff != "" {
		t.Errorf("services in copilot/ (name → type) (-want +got):\n%s", diff)
	}
}

// TestBinariesAcceptCopilotEnv runs each binary with -check-config and the environment Copilot
// gives its container: what Copilot injects (for a stand-in deployment of the topology), then
// the manifest's variables. A variable the code requires that neither sets, or a value it
// refuses, fails here with the binary's own message naming it. Every manifest and addon
// variable must be one the binary reads (a misspelt one would silently do nothing), and the
// publisher must listen on the manifest's image.port.
func TestBinariesAcceptCopilotEnv(t *testing.T) {
	top := integration.LoadTopology(t)
	dep := standIn(top)
	for _, name := range slices.Sorted(maps.Keys(wantServices)) {
		t.Run(name, func(t *testing.T) {
			s := service(t, top, name)
			env := dep.Injected(s)
			// The manifest's values as Copilot interpolates them on deploy (the publisher's
			// FULFILMENTS_TABLE_NAME names the table with ${COPILOT_ENVIRONMENT_NAME}).
			for k, v := range s.VariablesIn(dep.App, dep.Env) {
				if _, ok := env[k]; ok {
					t.Errorf("copilot/%s/manifest.yml variables.%s overrides the variable Copilot injects", name, k)
				}
				env[k] = v
			}
			got, err := integration.CheckConfig(t, name, env)
			if err != nil {
				t.Fatalf("with what Copilot injects and copilot/%s/manifest.yml's variables: %v", name, err)
			}
			for _, k := range slices.Sorted(maps.Keys(s.Variables)) {
				if _, ok := got[k]; !ok {
					t.Errorf("copilot/%s/manifest.yml sets %s, which cmd/%s does not read (it reads %q)", name, k, name, slices.Sorted(maps.Keys(got)))
				}
			}
			for _, tbl := range s.Tables {
				if _, ok := got[tbl.EnvVar]; !ok {
					t.Errorf("the %s addon's output %s injects %s, which cmd/%s does not read (it reads %q)", tbl.LogicalID, tbl.Output, tbl.EnvVar, name, slices.Sorted(maps.Keys(got)))
				}
			}
			if s.Type == topology.TypeLoadBalancedWeb && got["PORT"] != strconv.Itoa(s.Port) {
				t.Errorf("image.port = %d; cmd/%s listens on PORT=%s", s.Port, name, got["PORT"])
			}
		})
	}
}

// TestManifestSettings checks what neither Copilot nor cfn-lint checks before a deploy.
// Copilot validates the values of the keys it knows when it renders (make render: count and its
// metrics, range, queue_delay, deployment.rolling), but ignores a key it does not know, so a
// misspelt one would silently do nothing; and only ECS refuses, mid-deploy, a task size Fargate
// does not offer (the rendered task definition takes it as a parameter, which cfn-lint cannot
// see).
func TestManifestSettings(t *testing.T) {
	top := integration.LoadTopology(t)
	for _, name := range slices.Sorted(maps.Keys(wantServices)) {
		t.Run(name, func(t *testing.T) {
			s := service(t, top, name)
			for k := range s.Manifest {
				if !slices.Contains(knownKeys[s.Type], k) {
					t.Errorf("top-level key %q is not one Copilot knows for a %s; want one of %q", k, s.Type, knownKeys[s.Type])
				}
			}
			cpu, _ := s.Manifest["cpu"].(int)
			memory, _ := s.Manifest["memory"].(int)
			if !validFargate(cpu, memory) {
				t.Errorf("cpu %d, memory %d: not a Fargate pair; want e.g. cpu 256 with memory 512, 1024 or 2048", cpu, memory)
			}
		})
	}
}

// knownKeys are the top-level keys Copilot reads for each service type (its manifest code,
// internal/pkg/manifest, v1.34).
var knownKeys = map[string][]string{
	topology.TypeLoadBalancedWeb: {
		"name", "type", "image", "entrypoint", "command", "http", "cpu", "memory", "platform", "count",
		"exec", "variables", "env_file", "secrets", "storage", "logging", "sidecars", "network",
		"publish", "taskdef_overrides", "nlb", "deployment", "observability", "environments",
	},
	topology.TypeWorker: {
		"name", "type", "image", "entrypoint", "command", "cpu", "memory", "platform", "count",
		"exec", "variables", "env_file", "secrets", "storage", "logging", "sidecars", "subscribe",
		"publish", "network", "taskdef_overrides", "deployment", "observability", "environments",
	},
}

// validFargate reports whether cpu units and memory MiB are a task size Fargate offers.
func validFargate(cpu, memory int) bool {
	type span struct{ min, max, step int }
	sizes := map[int]span{
		512:   {1024, 4096, 1024},
		1024:  {2048, 8192, 1024},
		2048:  {4096, 16384, 1024},
		4096:  {8192, 30720, 1024},
		8192:  {16384, 61440, 4096},
		16384: {32768, 122880, 8192},
	}
	if cpu == 256 {
		return memory == 512 || memory == 1024 || memory == 2048
	}
	s, ok := sizes[cpu]
	return ok && memory >= s.min && memory <= s.max && (memory-s.min)%s.step == 0
}
