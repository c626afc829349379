package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// The tests in this file read the manifests as we understand them (topology); those in
// rendered_test.go read what Copilot renders from them.

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

// TestManifestSettings checks what Copilot itself would check only at deploy time, or not at
// all: Copilot ignores keys it does not know, so a misspelt key would silently do nothing.
func TestManifestSettings(t *testing.T) {
	top := integration.LoadTopology(t)
	for _, name := range slices.Sorted(maps.Keys(wantServices)) {
		t.Run(name, func(t *testing.T) {
			s := service(t, top, name)
			m := s.Manifest
			for k := range m {
				if !slices.Contains(knownKeys[s.Type], k) {
					t.Errorf("top-level key %q is not one Copilot knows for a %s; want one of %q", k, s.Type, knownKeys[s.Type])
				}
			}
			cpu, memory := intValue(m["cpu"]), intValue(m["memory"])
			if !validFargate(cpu, memory) {
				t.Errorf("cpu %d, memory %d: not a Fargate pair; want e.g. cpu 256 with memory 512, 1024 or 2048", cpu, memory)
			}

			count, ok := m["count"].(map[string]any)
			if !ok {
				t.Fatalf("count = %v; want autoscaling (range and its metrics)", m["count"])
			}
			if got, want := fmt.Sprint(count["range"]), "1-4"; got != want {
				t.Errorf("count.range = %q; want %q", got, want)
			}
			if lo, hi, err := parseRange(fmt.Sprint(count["range"])); err != nil || lo < 1 || lo > hi {
				t.Errorf("count.range = %v: want min-max with 1 <= min <= max", count["range"])
			}
			metrics := scalingKeys[s.Type]
			var used []string
			for k := range count {
				switch {
				case k == "range" || k == "cooldown":
				case slices.Contains(metrics, k):
					used = append(used, k)
				default:
					t.Errorf("count.%s: not a scaling metric of a %s; want one of %q", k, s.Type, metrics)
				}
			}
			if len(used) == 0 {
				t.Errorf("count has a range but no metric; want one of %q", metrics)
			}
			if s.Type == topology.TypeWorker {
				checkQueueDelay(t, count["queue_delay"])
			} else {
				if got := intValue(count["cpu_percentage"]); got != 70 {
					t.Errorf("count.cpu_percentage = %d; want 70", got)
				}
				if got := intValue(count["requests"]); got <= 0 {
					t.Errorf("count.requests = %v; want a positive number of requests per task per minute", count["requests"])
				}
			}

			deployment, _ := m["deployment"].(map[string]any)
			if got := fmt.Sprint(deployment["rolling"]); got != "default" && got != "recreate" {
				t.Errorf("deployment.rolling = %q; want default (or recreate)", got)
			}
		})
	}
}

// checkQueueDelay checks a worker's count.queue_delay as Copilot validates it.
func checkQueueDelay(t *testing.T, v any) {
	t.Helper()
	qd, ok := v.(map[string]any)
	if !ok {
		t.Errorf("count.queue_delay = %v; want acceptable_latency and msg_processing_time", v)
		return
	}
	latency, err1 := time.ParseDuration(fmt.Sprint(qd["acceptable_latency"]))
	process, err2 := time.ParseDuration(fmt.Sprint(qd["msg_processing_time"]))
	if err1 != nil || err2 != nil || latency <= 0 || process <= 0 {
		t.Errorf("count.queue_delay = %v; want positive durations acceptable_latency and msg_processing_time", qd)
		return
	}
	if process > latency {
		t.Errorf("count.queue_delay: msg_processing_time %v is longer than acceptable_latency %v", process, latency)
	}
}

// --- Copilot's rules, from its manifest code (internal/pkg/manifest, v1.34).

// knownKeys are the top-level keys Copilot reads for each service type.
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

// scalingKeys are the autoscaling metrics Copilot allows in count for each service type.
var scalingKeys = map[string][]string{
	topology.TypeLoadBalancedWeb: {"cpu_percentage", "memory_percentage", "requests", "response_time"},
	topology.TypeWorker:          {"cpu_percentage", "memory_percentage", "queue_delay"},
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

func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("range %q: want min-max", s)
	}
	if lo, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	hi, err = strconv.Atoi(b)
	return lo, hi, err
}

// --- Small helpers over parsed YAML and JSON.

func intValue(v any) int {
	n, _ := v.(int)
	return n
}
