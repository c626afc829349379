package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/copilotenv"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/web"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// The tests in this file read the CloudFormation templates Copilot itself renders from
// copilot/ (tools/render: `make render` writes them to infrastructure/), which are what a
// deploy creates; the other tests here read the manifests as we understand them. The folder
// is named by RENDERED_DIR (relative to the repository root, or absolute).

// loadRendered returns the rendered templates, or skips (fails under REQUIRE_INTEGRATION=1)
// when RENDERED_DIR is not set.
func loadRendered(t *testing.T) *renderedSet {
	t.Helper()
	dir := os.Getenv("RENDERED_DIR")
	if dir == "" {
		integration.SkipOrFail(t, "RENDERED_DIR is not set, so the templates Copilot renders are not checked: "+
			"run `make render` and set RENDERED_DIR=infrastructure (make test does both)")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(integration.RepoRoot(t), dir)
	}
	renderedOnce.Do(func() { renderedCache, renderedErr = readRendered(dir) })
	if renderedErr != nil {
		t.Fatalf("RENDERED_DIR=%s: %v", dir, renderedErr)
	}
	return renderedCache
}

var (
	renderedOnce  sync.Once
	renderedCache *renderedSet
	renderedErr   error
)

// renderedSet is one render: render.json and the templates it lists, parsed.
type renderedSet struct {
	Dir  string
	Info struct {
		Copilot, App, Env, Region string
		Workloads                 []struct{ Name, Type string }
		Files                     []string
	}
	Stacks    map[string]*cfn.Template     // each workload's stack, by workload
	Params    map[string]map[string]string // its stack's parameter values
	Addons    map[string]*cfn.Template     // its addons stack, when it has addons
	Env       *cfn.Template                // the environment's stack
	EnvParams map[string]string
}

// readRendered reads dir as tools/render leaves it. The file names are Copilot's own:
// <workload>-<env>.stack.yml and .params.json, <workload>.addons.stack.yml, <env>.env.yml and
// <env>.env.params.json.
func readRendered(dir string) (*renderedSet, error) {
	r := &renderedSet{Dir: dir, Stacks: map[string]*cfn.Template{}, Params: map[string]map[string]string{}, Addons: map[string]*cfn.Template{}}
	b, err := os.ReadFile(filepath.Join(dir, "render.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: not a folder tools/render wrote (make render)", err)
	}
	if err := json.Unmarshal(b, &r.Info); err != nil {
		return nil, fmt.Errorf("render.json: %w", err)
	}
	if len(r.Info.Workloads) == 0 || r.Info.Env == "" {
		return nil, errors.New("render.json names no workload or no environment")
	}
	for _, w := range r.Info.Workloads {
		if r.Stacks[w.Name], err = cfn.Load(filepath.Join(dir, w.Name+"-"+r.Info.Env+".stack.yml")); err != nil {
			return nil, err
		}
		if r.Params[w.Name], err = cfn.LoadParams(filepath.Join(dir, w.Name+"-"+r.Info.Env+".params.json")); err != nil {
			return nil, err
		}
		addons := filepath.Join(dir, w.Name+".addons.stack.yml")
		if _, err := os.Stat(addons); err == nil {
			if r.Addons[w.Name], err = cfn.Load(addons); err != nil {
				return nil, err
			}
		}
	}
	if r.Env, err = cfn.Load(filepath.Join(dir, r.Info.Env+".env.yml")); err != nil {
		return nil, err
	}
	if r.EnvParams, err = cfn.LoadParams(filepath.Join(dir, r.Info.Env+".env.params.json")); err != nil {
		return nil, err
	}
	return r, nil
}

// workloads lists the rendered workloads of one Copilot type.
func (r *renderedSet) workloads(typ string) []string {
	var out []string
	for _, w := range r.Info.Workloads {
		if w.Type == typ {
			out = append(out, w.Name)
		}
	}
	return out
}

// stackFile names a workload's rendered stack in messages.
func (r *renderedSet) stackFile(svc string) string {
	return filepath.Join(filepath.Base(r.Dir), svc+"-"+r.Info.Env+".stack.yml")
}

// TestRenderedIsCurrent: the render is of this copilot/: the same workloads, and each stack
// carries (in Metadata.Manifest) the manifest it was rendered from, which must be today's.
// Addons are not compared; `make render` before the tests keeps both current.
func TestRenderedIsCurrent(t *testing.T) {
	r := loadRendered(t)
	root := integration.RepoRoot(t)
	top := integration.LoadTopology(t)
	got, want := map[string]string{}, map[string]string{}
	for _, w := range r.Info.Workloads {
		got[w.Name] = w.Type
	}
	for _, s := range top.Services {
		want[s.Name] = s.Type
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered workloads differ from copilot/ (-copilot/ +rendered); run make render:\n%s", diff)
	}
	t.Logf("rendered by copilot %s for app %s, environment %s, region %s", r.Info.Copilot, r.Info.App, r.Info.Env, r.Info.Region)
	for _, w := range r.Info.Workloads {
		embedded, _ := r.Stacks[w.Name].Metadata["Manifest"].(string)
		b, err := os.ReadFile(filepath.Join(root, "copilot", w.Name, "manifest.yml"))
		if err != nil {
			t.Errorf("%s: %v", w.Name, err)
			continue
		}
		// Copilot embeds the manifest without its blank lines.
		if a, b := nonBlankLines(embedded), nonBlankLines(string(b)); !slices.Equal(a, b) {
			i := 0
			for i < min(len(a), len(b)) && a[i] == b[i] {
				i++
			}
			at := func(s []string) string {
				if i < len(s) {
					return s[i]
				}
				return "(end)"
			}
			t.Errorf("%s: rendered from another copilot/%s/manifest.yml (first difference: rendered %q, workspace %q); run make render",
				r.stackFile(w.Name), w.Name, at(a), at(b))
		}
	}
}

func nonBlankLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestRenderedSubscriptions: each worker's queue is subscribed once to the orders topic, with
// the promotion rule as the filter policy of promotion's subscription only, matched against
// message attributes (the publisher sends amount as one), and no raw delivery (the worker
// parses the SNS envelope).
func TestRenderedSubscriptions(t *testing.T) {
	r := loadRendered(t)
	for _, tc := range []struct {
		svc    string
		policy string // "" for none
		why    string
	}{
		{"fulfilment", "", "fulfilment handles every order"},
		{"promotion", thresholdPolicy(promotion.Threshold), "orders of promotion.Threshold (" + promotion.Threshold.String() + ") or more"},
	} {
		t.Run(tc.svc, func(t *testing.T) {
			stack := r.Stacks[tc.svc]
			if stack == nil {
				t.Fatalf("no rendered stack for %s", tc.svc)
			}
			queue := workerQueue(t, r, tc.svc)
			var subs []string
			for _, name := range stack.OfType("AWS::SNS::Subscription") {
				if res, _, ok := cfn.GetAtt(stack.Resources[name].Properties["Endpoint"]); ok && res == queue {
					subs = append(subs, name)
				}
			}
			if len(subs) != 1 {
				t.Fatalf("%s: subscriptions delivering to queue %s: %q; want exactly one (to %s)", r.stackFile(tc.svc), queue, subs, events.Topic)
			}
			props := stack.Resources[subs[0]].Properties
			where := fmt.Sprintf("%s: subscription %s", r.stackFile(tc.svc), subs[0])
			if arn := fmt.Sprint(props["TopicArn"]); !strings.Contains(arn, "-"+events.PublisherService+"-"+events.Topic) {
				t.Errorf("%s: TopicArn %s; want the topic %s of %s", where, arn, events.Topic, events.PublisherService)
			}
			if p := fmt.Sprint(props["Protocol"]); p != "sqs" {
				t.Errorf("%s: Protocol %q; want sqs", where, p)
			}
			if raw, ok := props["RawMessageDelivery"]; ok && fmt.Sprint(raw) == "true" {
				t.Errorf("%s: RawMessageDelivery is on; want it off (the worker reads the SNS envelope)", where)
			}
			if s, ok := props["FilterPolicyScope"]; ok && s != "MessageAttributes" {
				t.Errorf("%s: FilterPolicyScope %v; want MessageAttributes (the default): amount is a message attribute", where, s)
			}
			got, hasPolicy := props["FilterPolicy"]
			switch {
			case tc.policy == "" && hasPolicy:
				t.Errorf("%s: FilterPolicy %s; want none (%s)", where, compactJSON(got), tc.why)
			case tc.policy != "" && !hasPolicy:
				t.Errorf("%s: no FilterPolicy; want %s (%s)", where, tc.policy, tc.why)
			case tc.policy != "":
				g, err := normalJSON(got)
				if err != nil {
					t.Fatalf("%s: FilterPolicy %v: %v", where, got, err)
				}
				w, err := normalJSON(tc.policy)
				if err != nil {
					t.Fatal(err)
				}
				if !cmp.Equal(g, w) {
					t.Errorf("%s: FilterPolicy = %s; want %s (%s)", where, compactJSON(got), tc.policy, tc.why)
				}
			}
		})
	}
}

// thresholdPolicy is the promotion's filter policy for a threshold: {"amount":[{"numeric":
// [">=",80]}]} for 80.00, a whole number of units written as one.
func thresholdPolicy(c money.Cents) string {
	s := strings.TrimSuffix(c.String(), ".00")
	return `{"amount":[{"numeric":[">=",` + s + `]}]}`
}

// normalJSON decodes a filter policy (a JSON string, or the YAML mapping Copilot renders)
// with every number as an exact rational, so 80, 80.0 and 8e1 compare equal.
func normalJSON(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	var norm func(any) any
	norm = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if r, ok := new(big.Rat).SetString(string(x)); ok {
				return "number " + r.RatString()
			}
		case map[string]any:
			for k := range x {
				x[k] = norm(x[k])
			}
		case []any:
			for i := range x {
				x[i] = norm(x[i])
			}
		}
		return v
	}
	return norm(out), nil
}

func compactJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // ">=" as written, not "\u003e="
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// TestRenderedQueues: each worker's queue moves a message to the dead-letter queue after as
// many receives as the worker counts (it labels the last one), and hides a received message for
// as long as the worker believes (it extends the visibility of slow messages by that much).
// The worker's values are read by its own configuration code from the rendered variables, so an
// unset variable means the engine's default.
func TestRenderedQueues(t *testing.T) {
	r := loadRendered(t)
	for _, svc := range r.workloads(topology.TypeWorker) {
		t.Run(svc, func(t *testing.T) {
			env := containerEnv(t, r, svc)
			cfg, err := worker.ConfigFromEnv(env.getenv, events.PublisherService, events.Topic)
			if err != nil {
				t.Fatalf("%s: the worker's configuration from the rendered variables: %v", r.stackFile(svc), err)
			}
			def := engineDefaults(t, env)
			queue := workerQueue(t, r, svc)
			props := r.Stacks[svc].Resources[queue].Properties
			where := fmt.Sprintf("%s: queue %s", r.stackFile(svc), queue)

			redrive, _ := props["RedrivePolicy"].(map[string]any)
			if redrive == nil {
				t.Errorf("%s has no RedrivePolicy; want one (subscribe.queue.dead_letter.tries), or a poison message is received forever", where)
			} else {
				if dlq, _, ok := cfn.GetAtt(redrive["deadLetterTargetArn"]); !ok || r.Stacks[svc].Resources[dlq].Type != "AWS::SQS::Queue" {
					t.Errorf("%s: deadLetterTargetArn %v; want the Arn of a queue of the stack", where, redrive["deadLetterTargetArn"])
				}
				n, err := wholeNumber(redrive["maxReceiveCount"])
				if err != nil {
					t.Errorf("%s: maxReceiveCount: %v", where, err)
				} else if n != cfg.MaxReceives {
					t.Errorf("%s: redrive maxReceiveCount = %d; the worker counts to %d (%s, engine default %d)",
						where, n, cfg.MaxReceives, env.setting("WORKER_MAX_RECEIVES"), def.MaxReceives)
				}
			}

			vis := 30 * time.Second // SQS's default when the property is absent
			if v, ok := props["VisibilityTimeout"]; ok {
				n, err := wholeNumber(v)
				if err != nil {
					t.Fatalf("%s: VisibilityTimeout: %v", where, err)
				}
				vis = time.Duration(n) * time.Second
			}
			if vis != cfg.VisibilityTimeout {
				t.Errorf("%s: VisibilityTimeout = %v; the worker's is %v (%s, engine default %v)",
					where, vis, cfg.VisibilityTimeout, env.setting("WORKER_VISIBILITY_TIMEOUT"), def.VisibilityTimeout)
			}
		})
	}
}

// engineDefaults is the worker's configuration with none of our tuning variables set.
func engineDefaults(t *testing.T, env renderedEnv) worker.Config {
	t.Helper()
	only := map[string]bool{"COPILOT_QUEUE_URI": true, "COPILOT_APPLICATION_NAME": true, "COPILOT_ENVIRONMENT_NAME": true}
	def, err := worker.ConfigFromEnv(func(k string) string {
		if only[k] {
			return env.getenv(k)
		}
		return ""
	}, events.PublisherService, events.Topic)
	if err != nil {
		t.Fatalf("the worker's default configuration: %v", err)
	}
	return def
}

// TestRenderedVariables: every variable a binary cannot start without (read from its code, as
// TestRequiredVariables does) is set in its rendered task definition, whether by Copilot, by
// the manifest or from an addon output; and every addon output wired in exists.
func TestRenderedVariables(t *testing.T) {
	r := loadRendered(t)
	root := integration.RepoRoot(t)
	for _, w := range r.Info.Workloads {
		t.Run(w.Name, func(t *testing.T) {
			env := containerEnv(t, r, w.Name)
			code := requiredByCode(t, root, w.Name)
			for _, v := range code {
				if _, ok := env.vars[v]; !ok {
					t.Errorf("%s: cmd/%s requires %s; the rendered task definition does not set it (it sets %q)",
						r.stackFile(w.Name), w.Name, v, slices.Sorted(maps.Keys(env.vars)))
				}
			}
			t.Logf("cmd/%s requires %q; the task definition sets %q", w.Name, code, slices.Sorted(maps.Keys(env.vars)))

			// Copilot turns each addon output (but the policies) into a variable whose value is
			// a GetAtt on the addons stack; the output must exist there.
			for _, name := range slices.Sorted(maps.Keys(env.vars)) {
				res, attr, ok := cfn.GetAtt(env.vars[name])
				if !ok || res != "AddonsStack" {
					continue
				}
				output, _ := strings.CutPrefix(attr, "Outputs.")
				stack := r.Stacks[w.Name].Resources[res]
				addons := r.Addons[w.Name]
				switch {
				case stack.Type != "AWS::CloudFormation::Stack":
					t.Errorf("%s: %s comes from %s, which is not a nested stack of the template", r.stackFile(w.Name), name, res)
				case addons == nil:
					t.Errorf("%s: %s comes from the addons stack, and no %s.addons.stack.yml was rendered", r.stackFile(w.Name), name, w.Name)
				default:
					if _, ok := addons.Outputs[output]; !ok {
						t.Errorf("%s: %s comes from addons output %s; %s.addons.stack.yml has outputs %q",
							r.stackFile(w.Name), name, output, w.Name, slices.Sorted(maps.Keys(addons.Outputs)))
					}
				}
			}

			// A publisher finds its topic's ARN in COPILOT_SNS_TOPIC_ARNS, which Copilot renders
			// as a literal: the code's lookup must succeed on it.
			if slices.Contains(code, "COPILOT_SNS_TOPIC_ARNS") {
				if _, err := copilotenv.TopicARN(env.getenv, events.Topic); err != nil {
					t.Errorf("%s: the rendered COPILOT_SNS_TOPIC_ARNS %v: %v", r.stackFile(w.Name), env.vars["COPILOT_SNS_TOPIC_ARNS"], err)
				}
			}
		})
	}
}

// TestRenderedStopTimeout: on SIGTERM ECS waits the container's StopTimeout before SIGKILL, so
// each service's own budget for finishing in-flight work must end before it.
func TestRenderedStopTimeout(t *testing.T) {
	r := loadRendered(t)
	budgets := map[string]struct {
		variable string
		read     func(copilotenv.Getenv) (time.Duration, error)
	}{
		topology.TypeWorker: {"WORKER_DRAIN_TIMEOUT", func(getenv copilotenv.Getenv) (time.Duration, error) {
			cfg, err := worker.ConfigFromEnv(getenv, events.PublisherService, events.Topic)
			return cfg.DrainTimeout, err
		}},
		// The default (20s) is cmd/publisher's; its loadConfig reads the variable the same way.
		topology.TypeLoadBalancedWeb: {"SHUTDOWN_TIMEOUT", func(getenv copilotenv.Getenv) (time.Duration, error) {
			return copilotenv.Duration(getenv, "SHUTDOWN_TIMEOUT", 20*time.Second)
		}},
	}
	for _, w := range r.Info.Workloads {
		t.Run(w.Name, func(t *testing.T) {
			b, ok := budgets[w.Type]
			if !ok {
				t.Fatalf("%s is a %s; this test knows the shutdown budget of %q only", w.Name, w.Type, slices.Sorted(maps.Keys(budgets)))
			}
			env := containerEnv(t, r, w.Name)
			stop := ecsDefaultStopTimeout
			if v, ok := env.container["StopTimeout"]; ok {
				n, err := wholeNumber(v)
				if err != nil {
					t.Fatalf("%s: StopTimeout: %v", r.stackFile(w.Name), err)
				}
				stop = time.Duration(n) * time.Second
			} else {
				t.Logf("%s: no StopTimeout in the task definition; ECS's default %v applies", r.stackFile(w.Name), stop)
			}
			budget, err := b.read(env.getenv)
			if err != nil {
				t.Fatalf("%s: %v", r.stackFile(w.Name), err)
			}
			if stop <= budget {
				t.Errorf("%s: StopTimeout %v; want it above the shutdown budget %v (%s), or ECS kills the task before in-flight work ends",
					r.stackFile(w.Name), stop, budget, env.setting(b.variable))
			}
			if stop > fargateMaxStopTimeout {
				t.Errorf("%s: StopTimeout %v; want at most %v (Fargate's maximum)", r.stackFile(w.Name), stop, fargateMaxStopTimeout)
			}
		})
	}
}

// TestRenderedHealthCheck: the load balancer's target group polls a path the publisher serves
// with a status its matcher accepts, so a healthy task is kept in service.
func TestRenderedHealthCheck(t *testing.T) {
	r := loadRendered(t)
	for _, svc := range r.workloads(topology.TypeLoadBalancedWeb) {
		t.Run(svc, func(t *testing.T) {
			stack := r.Stacks[svc]
			groups := stack.OfType("AWS::ElasticLoadBalancingV2::TargetGroup")
			if len(groups) != 1 {
				t.Fatalf("%s: target groups %q; want one", r.stackFile(svc), groups)
			}
			props := stack.Resources[groups[0]].Properties
			where := fmt.Sprintf("%s: target group %s", r.stackFile(svc), groups[0])
			path := "/" // the target group's default
			if p, ok := props["HealthCheckPath"].(string); ok {
				path = p
			}
			if path != "/healthz" {
				t.Errorf("%s: HealthCheckPath %q; want /healthz (http.healthcheck.path)", where, path)
			}
			if !strings.HasPrefix(path, "/") {
				t.Fatalf("%s: HealthCheckPath %q; want a path from the root", where, path)
			}
			matcher, _ := props["Matcher"].(map[string]any)
			codes := fmt.Sprint(matcher["HttpCode"])

			srv := web.NewServer(nil, healthy{}, slog.New(slog.NewTextHandler(io.Discard, nil)), func() (string, string) { return "", "" })
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if !slices.Contains(strings.Split(codes, ","), strconv.Itoa(rec.Code)) {
				t.Errorf("%s: GET %s on the publisher answers %d; the health check accepts %s", where, path, rec.Code, codes)
			}
		})
	}
}

// healthy is a dependency that always answers.
type healthy struct{}

func (healthy) Ping(context.Context) error { return nil }

// TestRenderedCfnLint runs cfn-lint over every rendered template, the ones Copilot makes from
// its own templates included: no errors but the one documented below; warnings are logged.
func TestRenderedCfnLint(t *testing.T) {
	r := loadRendered(t)
	root := integration.RepoRoot(t)
	bin := os.Getenv("CFN_LINT")
	if bin == "" {
		bin = filepath.Join(root, ".venv", "bin", "cfn-lint")
	}
	if _, err := exec.LookPath(bin); err != nil {
		integration.SkipOrFail(t, fmt.Sprintf("cfn-lint not found (%v): run make venv, or set CFN_LINT", err))
	}
	var files []string
	for _, f := range r.Info.Files {
		if strings.HasSuffix(f, ".yml") {
			files = append(files, f)
		}
	}
	args := []string{"--format", "json"}
	if r.Info.Region != "" {
		args = append(args, "--regions", r.Info.Region)
	}
	cmd := exec.Command(bin, append(append(args, "--"), files...)...)
	cmd.Dir = r.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// cfn-lint's exit code is a bit set of what it found (2 errors, 4 warnings, 8 informational);
	// the findings are read from its output instead.
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", bin, err)
	}
	var findings []lintFinding
	if err := json.Unmarshal(out, &findings); err != nil {
		t.Fatalf("cfn-lint output is not its JSON (%v):\n%s\n%s", err, out, stderr.String())
	}
	warnings := map[string][]string{}
	for _, f := range findings {
		where := fmt.Sprintf("%s:%d %s", f.Filename, f.Location.Start.LineNumber, lintPath(f.Location.Path))
		if f.Level != "Error" {
			msg := f.Message
			if len(msg) > 200 { // W3037 lists every action of a service
				msg = msg[:200] + "..."
			}
			warnings[f.Rule.ID] = append(warnings[f.Rule.ID], where+": "+msg)
			continue
		}
		if why, ok := acceptedLintError(r, f); ok {
			t.Logf("accepted %s at %s: %s", f.Rule.ID, where, why)
			continue
		}
		t.Errorf("cfn-lint %s at %s: %s", f.Rule.ID, where, f.Message)
	}
	for _, id := range slices.Sorted(maps.Keys(warnings)) {
		w := warnings[id]
		t.Logf("cfn-lint %s, %d times; first: %s", id, len(w), w[0])
	}
	t.Logf("cfn-lint %s over %q: %d findings", bin, files, len(findings))
}

// lintFinding is one entry of cfn-lint's JSON output.
type lintFinding struct {
	Filename string
	Level    string // Error, Warning or Informational
	Message  string
	Rule     struct {
		ID string `json:"Id"`
	}
	Location struct {
		Start struct{ LineNumber int }
		Path  []any
	}
}

// lintPath writes a finding's path (keys and list indexes) as Resources/Name/Properties/...
func lintPath(p []any) string {
	parts := make([]string, len(p))
	for i, x := range p {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, "/")
}

// acceptedLintError accepts the one error cfn-lint finds in Copilot's own environment
// template: E3676 ("Certificates is a required property") on InternalHTTPSListener, the HTTPS
// listener of the internal load balancer, which Copilot writes with certificates only when the
// environment manifest imports some (http.private.certificates; ours has no internal load
// balancer). The listener exists only under the condition ExportInternalHTTPSListener, false
// unless the environment has internal load-balanced workloads with HTTPS; the error is accepted
// only there, and only while the rendered parameters keep that condition false.
func acceptedLintError(r *renderedSet, f lintFinding) (string, bool) {
	const resource = "InternalHTTPSListener"
	if f.Rule.ID != "E3676" || f.Filename != r.Info.Env+".env.yml" ||
		len(f.Location.Path) < 2 || f.Location.Path[0] != "Resources" || f.Location.Path[1] != resource {
		return "", false
	}
	if r.Env.Resources[resource].Condition != "ExportInternalHTTPSListener" {
		return "", false
	}
	if r.EnvParams["InternalALBWorkloads"] != "" && r.EnvParams["CreateInternalHTTPSListener"] == "true" {
		return "", false // the listener would be created: a real error
	}
	return fmt.Sprintf("Copilot's template; %s is created only under ExportInternalHTTPSListener, false here (InternalALBWorkloads=%q, CreateInternalHTTPSListener=%q)",
		resource, r.EnvParams["InternalALBWorkloads"], r.EnvParams["CreateInternalHTTPSListener"]), true
}

// --- The main container of a rendered task definition.

// renderedEnv is the main container of a workload's task definition and its variables.
type renderedEnv struct {
	container map[string]any
	vars      map[string]any // name → value as rendered (a string, or an intrinsic function)
}

// getenv is the container's environment as the binary would see it: literal values as they
// are, values CloudFormation resolves at deploy time (a queue URL, an addon output) as a
// placeholder naming where they come from.
func (e renderedEnv) getenv(k string) string {
	v, ok := e.vars[k]
	if !ok {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case int, float64, bool:
		return fmt.Sprint(x)
	}
	return "resolved-on-deploy:" + compactJSON(v)
}

// setting describes how the task definition sets a variable, for messages.
func (e renderedEnv) setting(k string) string {
	if _, ok := e.vars[k]; !ok {
		return k + " not set in the task definition"
	}
	return fmt.Sprintf("%s=%q in the task definition", k, e.getenv(k))
}

// containerEnv returns the main container (the one named after the workload) of the
// workload's task definition.
func containerEnv(t *testing.T, r *renderedSet, svc string) renderedEnv {
	t.Helper()
	stack := r.Stacks[svc]
	if stack == nil {
		t.Fatalf("no rendered stack for %s", svc)
	}
	defs := stack.OfType("AWS::ECS::TaskDefinition")
	if len(defs) != 1 {
		t.Fatalf("%s: task definitions %q; want one", r.stackFile(svc), defs)
	}
	containers, _ := stack.Resources[defs[0]].Properties["ContainerDefinitions"].([]any)
	var main map[string]any
	for _, c := range containers {
		m, _ := c.(map[string]any)
		if ref, ok := cfn.Ref(m["Name"]); (ok && ref == "WorkloadName") || m["Name"] == svc {
			main = m
		}
	}
	if main == nil {
		t.Fatalf("%s: task definition %s has no container named after the workload (Ref WorkloadName)", r.stackFile(svc), defs[0])
	}
	e := renderedEnv{container: main, vars: map[string]any{}}
	list, _ := main["Environment"].([]any)
	for _, kv := range list {
		m, _ := kv.(map[string]any)
		name, _ := m["Name"].(string)
		if name == "" {
			t.Fatalf("%s: an Environment entry without a Name: %v", r.stackFile(svc), kv)
		}
		if _, dup := e.vars[name]; dup {
			t.Errorf("%s: %s is set twice in the task definition", r.stackFile(svc), name)
		}
		e.vars[name] = m["Value"]
	}
	return e
}

// workerQueue returns the queue a worker reads: the resource COPILOT_QUEUE_URI refers to.
func workerQueue(t *testing.T, r *renderedSet, svc string) string {
	t.Helper()
	env := containerEnv(t, r, svc)
	q, ok := cfn.Ref(env.vars["COPILOT_QUEUE_URI"])
	if !ok || r.Stacks[svc].Resources[q].Type != "AWS::SQS::Queue" {
		t.Fatalf("%s: COPILOT_QUEUE_URI = %v; want a Ref to a queue of the stack", r.stackFile(svc), env.vars["COPILOT_QUEUE_URI"])
	}
	return q
}

// wholeNumber reads a count or a number of seconds, which CloudFormation takes as a number
// or a numeric string.
func wholeNumber(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case string:
		n, err := strconv.Atoi(x)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v is not a whole number", v)
}
