package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"math/big"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/copilotenv"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// The topic the publisher publishes to and both workers subscribe to.
const ordersTopic = "ordersTopic"

// ecsDefaultStopTimeout is how long ECS waits between SIGTERM and SIGKILL when the task
// definition sets no StopTimeout; Fargate allows at most fargateMaxStopTimeout.
const (
	ecsDefaultStopTimeout = 30 * time.Second
	fargateMaxStopTimeout = 120 * time.Second
)

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

// TestPublishedTopic: the topic whose ARN the publisher looks up in COPILOT_SNS_TOPIC_ARNS is
// the one its manifest publishes (Copilot injects only the topics a manifest declares).
func TestPublishedTopic(t *testing.T) {
	root := integration.RepoRoot(t)
	pub := service(t, integration.LoadTopology(t), "publisher")
	calls, others := stringArgs(t, filepath.Join(root, "cmd", "publisher"), "copilotenv", "TopicARN", 1)
	if want := []string{ordersTopic}; !slices.Equal(calls, want) || others > 0 {
		t.Fatalf("cmd/publisher looks up topics %q (and %d this test cannot resolve); want %q", calls, others, want)
	}
	if want := []string{ordersTopic}; !slices.Equal(pub.Publishes, want) {
		t.Errorf("copilot/publisher/manifest.yml publish.topics = %q; want %q (the topic cmd/publisher publishes to)", pub.Publishes, want)
	}
}

func TestSubscriptions(t *testing.T) {
	top := integration.LoadTopology(t)
	for _, tc := range []struct {
		svc       string
		filtered  bool // whether the subscription has a filter policy
		rationale string
	}{
		{"fulfilment", false, "fulfilment handles every order"},
		{"promotion", true, "promotion gets only orders at or above promotion.Threshold"},
	} {
		t.Run(tc.svc, func(t *testing.T) {
			s := service(t, top, tc.svc)
			var got []string
			for _, sub := range s.Subscribes {
				got = append(got, sub.Service+":"+sub.Topic)
			}
			if want := []string{"publisher:" + ordersTopic}; !slices.Equal(got, want) {
				t.Fatalf("subscribe.topics = %q; want %q", got, want)
			}
			if got := s.Subscribes[0].FilterPolicy != ""; got != tc.filtered {
				t.Errorf("has a filter policy: got %v; want %v (%s); policy %s", got, tc.filtered, tc.rationale, s.Subscribes[0].FilterPolicy)
			}
		})
	}
}

// TestPromotionFilterPolicy: the subscription's filter policy is the promotion rule, with the
// same threshold as the code (promotion.Threshold, in cents).
func TestPromotionFilterPolicy(t *testing.T) {
	s := service(t, integration.LoadTopology(t), "promotion")
	if len(s.Subscribes) != 1 {
		t.Fatalf("promotion has %d subscriptions; want 1", len(s.Subscribes))
	}
	policy := s.Subscribes[0].FilterPolicy
	dec := json.NewDecoder(strings.NewReader(policy))
	dec.UseNumber()
	var got any
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("filter policy %s: %v", policy, err)
	}
	// The shape, with the threshold taken from the policy itself; then the threshold.
	n, _ := dig(got, "amount", 0, "numeric", 1).(json.Number)
	want := map[string]any{"amount": []any{map[string]any{"numeric": []any{">=", n}}}}
	if n == "" || !cmp.Equal(got, want) {
		t.Fatalf(`filter policy = %s; want exactly {"amount":[{"numeric":[">=",N]}]}`, policy)
	}
	cents, ok := new(big.Rat).SetString(string(n))
	if !ok {
		t.Fatalf("filter policy threshold %s: not a number", n)
	}
	cents.Mul(cents, big.NewRat(100, 1))
	if wantCents := big.NewRat(int64(promotion.Threshold), 1); cents.Cmp(wantCents) != 0 {
		t.Errorf("filter policy threshold = %s, %s cents; want %d cents (promotion.Threshold = %s)",
			n, strings.TrimSuffix(cents.FloatString(2), ".00"), int64(promotion.Threshold), promotion.Threshold)
	}
}

func TestDeadLetterQueues(t *testing.T) {
	top := integration.LoadTopology(t)
	for _, name := range []string{"fulfilment", "promotion"} {
		s := service(t, top, name)
		if got, want := s.Queue.DeadLetterTries, 3; got != want {
			t.Errorf("%s: subscribe.queue.dead_letter.tries = %d; want %d", name, got, want)
		}
	}
}

// TestRequiredVariables: every variable a service's code requires is one Copilot injects
// into its container or one its manifest sets. The variables are read from the code (the
// packages the binary is built from), so a new required variable is checked too; the table
// holds the ones the service cannot be without, and proves the reading finds them.
func TestRequiredVariables(t *testing.T) {
	root := integration.RepoRoot(t)
	top := integration.LoadTopology(t)
	for _, tc := range []struct {
		svc      string
		required []string
		tableVar string // the variable that must carry the service's addon table name
	}{
		{"publisher", []string{"COPILOT_SNS_TOPIC_ARNS", "ORDERS_TABLE_NAME"}, "ORDERS_TABLE_NAME"},
		{"fulfilment", []string{"COPILOT_QUEUE_URI", "FULFILMENTS_TABLE_NAME"}, "FULFILMENTS_TABLE_NAME"},
		{"promotion", []string{"COPILOT_QUEUE_URI", "COUPONS_TABLE_NAME"}, "COUPONS_TABLE_NAME"},
	} {
		t.Run(tc.svc, func(t *testing.T) {
			s := service(t, top, tc.svc)
			code := requiredByCode(t, root, tc.svc)
			t.Logf("cmd/%s requires %q", tc.svc, code)
			for _, v := range tc.required {
				if !slices.Contains(code, v) {
					t.Errorf("cmd/%s requires %q (read from the code); want %s among them", tc.svc, code, v)
				}
			}
			provided := injectedVariables(s)
			for k := range s.Variables {
				if src, ok := provided[k]; ok {
					t.Errorf("manifest variable %s overrides the one %s", k, src)
				}
				provided[k] = "the manifest's variables"
			}
			for _, v := range code {
				if _, ok := provided[v]; !ok {
					t.Errorf("%s is required by cmd/%s; want it injected by Copilot or set in copilot/%s/manifest.yml variables", v, tc.svc, tc.svc)
				}
			}
			var addonVars []string
			for _, tbl := range s.Tables {
				addonVars = append(addonVars, tbl.EnvVar)
			}
			if !slices.Contains(addonVars, tc.tableVar) {
				t.Errorf("table variable %s: the addon tables of %s inject %q; want one to inject it", tc.tableVar, tc.svc, addonVars)
			}
		})
	}
}

// TestShutdownBudgets: on SIGTERM each service gets the task's stop timeout before SIGKILL.
// Its own budget (the worker's drain, the publisher's shutdown) must end before that, and the
// worker must know the queue's real visibility timeout.
func TestShutdownBudgets(t *testing.T) {
	top := integration.LoadTopology(t)
	for _, name := range []string{"fulfilment", "promotion"} {
		t.Run(name, func(t *testing.T) {
			s := service(t, top, name)
			stop, explicit, err := stopTimeout(s.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			if !explicit {
				t.Errorf("taskdef_overrides sets no ContainerDefinitions[0].StopTimeout; want it set, next to the drain budget it bounds")
			}
			if stop > fargateMaxStopTimeout {
				t.Errorf("StopTimeout = %v; want at most %v (Fargate's maximum)", stop, fargateMaxStopTimeout)
			}
			for _, v := range []string{"WORKER_DRAIN_TIMEOUT", "WORKER_VISIBILITY_TIMEOUT"} {
				if s.Variables[v] == "" {
					t.Errorf("variables.%s is not set; want it set in the manifest", v)
				}
			}
			// Parsed as the worker's configuration parses them (copilotenv.Duration).
			env := manifestEnv(s)
			drain, err := copilotenv.Duration(env, "WORKER_DRAIN_TIMEOUT", 0)
			if err != nil {
				t.Fatal(err)
			}
			visibility, err := copilotenv.Duration(env, "WORKER_VISIBILITY_TIMEOUT", 0)
			if err != nil {
				t.Fatal(err)
			}
			if drain >= stop {
				t.Errorf("WORKER_DRAIN_TIMEOUT = %v; want below the stop timeout %v, so the drain ends before SIGKILL", drain, stop)
			}
			// A stopping worker lets its long poll finish (and hands back what it
			// brings), so the poll must end within the drain budget too.
			wait, err := copilotenv.Duration(env, "WORKER_WAIT_TIME", worker.MaxWaitTime)
			if err != nil {
				t.Fatal(err)
			}
			if wait > drain {
				t.Errorf("WORKER_WAIT_TIME = %v; want at most WORKER_DRAIN_TIMEOUT %v: a stopping worker lets its long poll finish within the drain", wait, drain)
			}
			if visibility != s.Queue.Timeout {
				t.Errorf("WORKER_VISIBILITY_TIMEOUT = %v; want %v (subscribe.queue.timeout)", visibility, s.Queue.Timeout)
			}
			// The worker counts receives to know a malformed message's last one; it must
			// count to the queue's tries.
			if v, ok := s.Variables["WORKER_MAX_RECEIVES"]; ok && v != strconv.Itoa(s.Queue.DeadLetterTries) {
				t.Errorf("WORKER_MAX_RECEIVES = %q; want %d (subscribe.queue.dead_letter.tries)", v, s.Queue.DeadLetterTries)
			}
		})
	}
	t.Run("publisher", func(t *testing.T) {
		s := service(t, top, "publisher")
		stop, _, err := stopTimeout(s.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		// The default (20s) is the code's; loadConfig in cmd/publisher reads it the same way.
		d, err := copilotenv.Duration(manifestEnv(s), "SHUTDOWN_TIMEOUT", 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d >= stop {
			t.Errorf("SHUTDOWN_TIMEOUT = %v; want below the stop timeout %v", d, stop)
		}
	})
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
			if lvl := s.Variables["LOG_LEVEL"]; !slices.Contains([]string{"debug", "info", "warn", "error"}, lvl) {
				t.Errorf("variables.LOG_LEVEL = %q; want debug, info, warn or error", lvl)
			}
			if s.Type == topology.TypeLoadBalancedWeb && s.Port != 5000 {
				t.Errorf("image.port = %d; want 5000 (the publisher's default PORT)", s.Port)
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

// --- What Copilot provides.

// injectedVariables are the variables Copilot sets in a service's container, each with where
// it comes from (see /work/shared/COPILOT.md and Copilot's docs on environment variables).
func injectedVariables(s *topology.Service) map[string]string {
	vars := map[string]string{
		"COPILOT_APPLICATION_NAME":           "Copilot injects",
		"COPILOT_ENVIRONMENT_NAME":           "Copilot injects",
		"COPILOT_SERVICE_NAME":               "Copilot injects",
		"COPILOT_SERVICE_DISCOVERY_ENDPOINT": "Copilot injects",
	}
	if s.Type == topology.TypeLoadBalancedWeb {
		vars["COPILOT_LB_DNS"] = "Copilot injects behind a load balancer"
	}
	if len(s.Publishes) > 0 {
		vars["COPILOT_SNS_TOPIC_ARNS"] = "Copilot injects for publish.topics"
	}
	if s.Type == topology.TypeWorker {
		vars["COPILOT_QUEUE_URI"] = "Copilot injects for a worker's queue"
	}
	for _, tbl := range s.Tables {
		vars[tbl.EnvVar] = "Copilot injects from the " + tbl.LogicalID + " addon output"
	}
	return vars
}

// manifestEnv is a getenv over the manifest's variables and placeholders for what Copilot
// injects, as the container would see them.
func manifestEnv(s *topology.Service) copilotenv.Getenv {
	return func(k string) string {
		if v, ok := s.Variables[k]; ok {
			return v
		}
		if _, ok := injectedVariables(s)[k]; ok {
			return "injected-" + k
		}
		return ""
	}
}

// stopTimeout returns the main container's stop timeout from taskdef_overrides, or ECS's
// default, and whether the manifest sets it.
func stopTimeout(m map[string]any) (time.Duration, bool, error) {
	rules, _ := m["taskdef_overrides"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		if rule["path"] != "ContainerDefinitions[0].StopTimeout" {
			continue
		}
		secs, ok := rule["value"].(int)
		if !ok || secs <= 0 {
			return 0, true, fmt.Errorf("taskdef_overrides ContainerDefinitions[0].StopTimeout = %v; want a positive number of seconds", rule["value"])
		}
		return time.Duration(secs) * time.Second, true, nil
	}
	return ecsDefaultStopTimeout, false, nil
}

// --- What the code requires.

// requiredByCode lists, sorted, the variables the service's binary cannot start without: the
// string literals passed to copilotenv.Required and the workerapp.Spec's TableVar in the
// module's packages the binary is built from, and COPILOT_SNS_TOPIC_ARNS where
// copilotenv.TopicARN is called.
func requiredByCode(t *testing.T, root, svc string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/"+svc)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/%s: %v\n%s", svc, err, stderr.String())
	}
	set := map[string]bool{}
	for _, dir := range strings.Fields(string(out)) {
		if filepath.Base(dir) == "copilotenv" {
			continue // the helpers themselves; their callers name the variables
		}
		// A variable name that is not a constant (workerapp's spec.TableVar) is found
		// where it is set: the TableVar fields below.
		vars, _ := stringArgs(t, dir, "copilotenv", "Required", 1)
		for _, v := range vars {
			set[v] = true
		}
		if topics, others := stringArgs(t, dir, "copilotenv", "TopicARN", 1); len(topics)+others > 0 {
			set["COPILOT_SNS_TOPIC_ARNS"] = true
		}
		for _, v := range fieldStrings(t, dir, "TableVar") {
			set[v] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// stringArgs returns the string constants passed as argument arg of calls to pkg.fn in the
// non-test Go files of dir, in order (literals, and constants of this module referred to as
// Name or pkg.Name), and how many calls pass something else.
func stringArgs(t *testing.T, dir, pkg, fn string, arg int) (consts []string, others int) {
	t.Helper()
	inspectDir(t, dir, func(f *ast.File, n ast.Node) {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) <= arg {
			return
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != fn {
			return
		}
		if id, ok := sel.X.(*ast.Ident); !ok || id.Name != pkg {
			return
		}
		if s, ok := constString(t, dir, f, call.Args[arg]); ok {
			consts = append(consts, s)
		} else {
			others++
		}
	})
	return consts, others
}

// fieldStrings returns the string constants given to field name in composite literals.
func fieldStrings(t *testing.T, dir, name string) []string {
	t.Helper()
	var out []string
	inspectDir(t, dir, func(f *ast.File, n ast.Node) {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return
		}
		if id, ok := kv.Key.(*ast.Ident); ok && id.Name == name {
			if s, ok := constString(t, dir, f, kv.Value); ok {
				out = append(out, s)
			}
		}
	})
	return out
}

// constString resolves e, found in file f of package folder dir, to a string: a literal, a
// constant of the same package (Name), or a constant of another package of this module
// (pkg.Name) declared with a literal.
func constString(t *testing.T, dir string, f *ast.File, e ast.Expr) (string, bool) {
	t.Helper()
	switch e := e.(type) {
	case *ast.BasicLit:
		return stringLit(e)
	case *ast.Ident:
		return constDecl(t, dir, e.Name)
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			return "", false
		}
		const module = "github.com/pubsub-app/pubsub/"
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			name := path.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			if name == pkg.Name && strings.HasPrefix(p, module) {
				return constDecl(t, filepath.Join(integration.RepoRoot(t), filepath.FromSlash(strings.TrimPrefix(p, module))), e.Sel.Name)
			}
		}
	}
	return "", false
}

// constDecl returns the string literal a constant named name is declared with in dir.
func constDecl(t *testing.T, dir, name string) (string, bool) {
	t.Helper()
	var val string
	var found bool
	inspectDir(t, dir, func(_ *ast.File, n ast.Node) {
		gd, ok := n.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			return
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name == name && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						val, found = stringLit(lit)
					}
				}
			}
		}
	})
	return val, found
}

func inspectDir(t *testing.T, dir string, visit func(*ast.File, ast.Node)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if n != nil {
				visit(f, n)
			}
			return true
		})
	}
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
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

// dig walks a decoded JSON value by map keys (string) and slice indexes (int).
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}
