// Package rendered checks the CloudFormation templates a deploy creates, as each deployer writes
// them: Copilot's render of copilot/ (tools/render; `make render` writes it to infrastructure/,
// make test to test-output/rendered; RENDERED_DIR) and the CDK app's synthesis (make synth into
// deploy/cdk/cdk.out; CDK_OUT_DIR), both read as a cfn.Deployment: subscriptions and filter
// policies, queues against the workers' settings, each binary's -check-config on its variables,
// stop timeouts, the health check, the read-only root; and, of Copilot's, what only it renders
// (its Lambdas, the tracing sidecar's grants, the rate limit rule, cfn-lint of its templates).
// The folders are relative to the repository root, or absolute.
package rendered

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/web"
)

// deadLetterQueue is the logical id of a worker's dead-letter queue, in its physical name
// (<stack>-DeadLetterQueue-<suffix>): make dlq-show and dlq-redrive find it by that, and the
// addons' dead-letter alarm watches it.
const deadLetterQueue = "DeadLetterQueue"

// ecsDefaultStopTimeout is how long ECS waits between SIGTERM and SIGKILL when the task
// definition sets no StopTimeout; Fargate allows at most fargateMaxStopTimeout.
const (
	deadLetterTries       = 3
	ecsDefaultStopTimeout = 30 * time.Second
	fargateMaxStopTimeout = 120 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	integration.RemoveBinaries()
	os.Exit(code)
}

// TestRenderedIsCurrent: the render is of this copilot/: the same workloads, and each stack
// carries (in Metadata.Manifest) the manifest it was rendered from, which must be today's.
// Addons are not compared; `make render` before the tests keeps both current.
func TestRenderedIsCurrent(t *testing.T) {
	r := integration.Rendered(t)
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
		// Copilot embeds the manifest as it read it: without its blank lines, and with
		// ${COPILOT_APPLICATION_NAME} and ${COPILOT_ENVIRONMENT_NAME} interpolated in its values
		// (the publisher's FULFILMENTS_TABLE_NAME), never in its comments.
		workspace := nonBlankLines(string(b))
		for i, l := range workspace {
			if v, err := copilot.Interpolate(l, r.Info.App, r.Info.Env); err == nil && !strings.HasPrefix(strings.TrimSpace(l), "#") {
				workspace[i] = v
			}
		}
		if diff := cmp.Diff(workspace, nonBlankLines(embedded)); diff != "" {
			t.Errorf("%s: rendered from another copilot/%s/manifest.yml (-workspace +rendered); run make render:\n%s", r.StackFile(w.Name), w.Name, diff)
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

// TestRenderedSubscriptions: in both deployers' stacks, each worker's queue is subscribed once
// to the orders topic, with the promotion rule as the filter policy of promotion's subscription
// only, matched against message attributes (the publisher sends amount as one), and no raw
// delivery (the worker parses the SNS envelope). Subscriptions are looked for in every stack of
// the deployment, and the topic and the queue matched exactly: the topic's ARN as the
// publisher's stack names it, the queue as the one COPILOT_QUEUE_URI names.
func TestRenderedSubscriptions(t *testing.T) {
	integration.EachDeployment(t, checkSubscriptions)
}

func checkSubscriptions(t *testing.T, d *cfn.Deployment) {
	subs := subscriptions(t, d)
	topic := ordersTopicARN(t, d)
	threshold := map[string]any{"amount": []any{map[string]any{"numeric": []any{">=", float64(promotion.Threshold) / 100}}}}
	workerQueues := map[string]string{} // the ARN of each worker's queue → worker
	for _, tc := range []struct {
		svc    string
		policy any // nil for none
		why    string
	}{
		{"fulfilment", nil, "fulfilment handles every order"},
		{"promotion", threshold, "orders of promotion.Threshold (" + promotion.Threshold.String() + ") or more"},
	} {
		t.Run(tc.svc, func(t *testing.T) {
			w := d.Workload(tc.svc)
			if w == nil {
				t.Fatalf("%s: no stack for %s", d.Dir, tc.svc)
			}
			queue := workerQueue(t, w)
			queueARN := resolved(t, w.Stack(), map[string]any{"Fn::GetAtt": []any{queue, "Arn"}})
			workerQueues[queueARN] = tc.svc
			var mine []subscription
			for _, sub := range subs {
				if sub.endpoint == queueARN {
					mine = append(mine, sub)
				}
			}
			if len(mine) != 1 || mine[0].where != w.File {
				t.Fatalf("subscriptions delivering to %s's queue %s: %v; want exactly one, in %s (to %s)", tc.svc, queue, mine, w.File, topic)
			}
			props := mine[0].props
			where := mine[0].String()
			if mine[0].topic != topic {
				t.Errorf("%s: TopicArn %s; want %s, the topic %s of %s", where, mine[0].topic, topic, events.Topic, events.PublisherService)
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
			// A JSON string or the mapping the deployer writes; numbers compared as numbers.
			var got any
			if p, ok := props["FilterPolicy"]; ok {
				if err := json.Unmarshal([]byte(compactJSON(p)), &got); err != nil {
					t.Fatalf("%s: FilterPolicy %v: %v", where, p, err)
				}
			}
			if !cmp.Equal(got, tc.policy) {
				t.Errorf("%s: FilterPolicy = %s; want %s (%s)", where, compactJSON(got), compactJSON(tc.policy), tc.why)
			}
		})
	}
	// Orders go to the workers' queues and nowhere else.
	for _, sub := range subs {
		if _, ok := workerQueues[sub.endpoint]; sub.topic == topic && !ok {
			t.Errorf("%s subscribes %s to the orders topic; want only the workers' queues subscribed", sub, sub.endpoint)
		}
	}
}

// subscription is an AWS::SNS::Subscription of a deployment, its topic and endpoint resolved in
// its stack.
type subscription struct {
	where, name     string // the template's file, the logical id
	topic, endpoint string
	props           map[string]any
}

func (s subscription) String() string { return s.where + ": subscription " + s.name }

// subscriptions lists the subscriptions of every stack of the deployment.
func subscriptions(t *testing.T, d *cfn.Deployment) []subscription {
	t.Helper()
	var out []subscription
	for _, file := range slices.Sorted(maps.Keys(d.Stacks)) {
		s := d.Stacks[file]
		for _, name := range s.Template.OfType("AWS::SNS::Subscription") {
			if !s.Has(name) {
				continue
			}
			props := s.Template.Resources[name].Properties
			out = append(out, subscription{where: file, name: name, props: props,
				topic: resolved(t, s, props["TopicArn"]), endpoint: resolved(t, s, props["Endpoint"])})
		}
	}
	return out
}

// resolved is v resolved in stack s, as a string.
func resolved(t *testing.T, s *cfn.Stack, v any) string {
	t.Helper()
	got, err := s.Resolve(v)
	if err != nil {
		t.Fatalf("stack %s: %v: %v", s.Name, v, err)
	}
	return fmt.Sprint(got)
}

// ordersTopicARN is the ARN of the orders topic: the one the publisher's stack creates, named
// <app>-<env>-<publisher>-<topic> (the name the workers accept).
func ordersTopicARN(t *testing.T, d *cfn.Deployment) string {
	t.Helper()
	svc := events.PublisherService
	w := d.Workload(svc)
	if w == nil {
		t.Fatalf("%s: no stack for %s", d.Dir, svc)
	}
	stack := w.Stack()
	want := strings.Join([]string{d.App, d.Env, svc, events.Topic}, "-")
	var names []string
	for _, id := range stack.Template.OfType("AWS::SNS::Topic") {
		if name := resolved(t, stack, stack.Template.Resources[id].Properties["TopicName"]); name != want {
			names = append(names, name)
			continue
		}
		arn, err := stack.Attr(id, "Ref")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(arn)
	}
	t.Fatalf("%s creates topics %q; want one named %s", w.File, names, want)
	return ""
}

// compactJSON writes v as JSON (a string as it is), ">=" as written.
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

// TestRenderedQueues: in both deployers' stacks, each worker's queue moves a message to its
// dead-letter queue (the queue <app>-<env>-<svc>-DeadLetterQueue of the worker's stack, which
// make dlq-show finds by that name and the dead-letter alarm watches) after as many receives as
// the worker counts (it labels the last one), and hides a received message for as long as the
// worker believes (it extends the visibility of slow messages by that much). The worker's values
// are what its -check-config prints given its container's variables.
func TestRenderedQueues(t *testing.T) {
	integration.EachDeployment(t, func(t *testing.T, d *cfn.Deployment) {
		for _, w := range d.OfType(topology.TypeWorker) {
			t.Run(w.Name, func(t *testing.T) {
				cfg := renderedConfig(t, d, w)
				queue := workerQueue(t, w)
				props := w.Stack().Template.Resources[queue].Properties
				where := fmt.Sprintf("%s: queue %s", w.File, queue)

				redrive, _ := props["RedrivePolicy"].(map[string]any)
				if redrive == nil {
					t.Errorf("%s has no RedrivePolicy; want one (subscribe.queue.dead_letter.tries), or a poison message is received forever", where)
				} else {
					dlq := strings.Join([]string{d.App, d.Env, w.Name, deadLetterQueue}, "-")
					want := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", d.Region, d.Account, dlq)
					var ofStack bool
					for _, id := range w.Stack().Template.OfType("AWS::SQS::Queue") {
						ofStack = ofStack || (id != queue && resolved(t, w.Stack(), map[string]any{"Fn::GetAtt": []any{id, "Arn"}}) == want)
					}
					if got := resolved(t, w.Stack(), redrive["deadLetterTargetArn"]); got != want || !ofStack {
						t.Errorf("%s: deadLetterTargetArn %s (%v); want %s, a queue of the stack named %s (the one make dlq-show finds and the dead-letter alarm watches)", where, got, redrive["deadLetterTargetArn"], want, dlq)
					}
					n, err := wholeNumber(redrive["maxReceiveCount"])
					if err != nil || strconv.Itoa(n) != cfg["WORKER_MAX_RECEIVES"] {
						t.Errorf("%s: redrive maxReceiveCount = %v (%v); the worker counts to WORKER_MAX_RECEIVES=%s", where, redrive["maxReceiveCount"], err, cfg["WORKER_MAX_RECEIVES"])
					}
					if n != deadLetterTries {
						t.Errorf("%s: redrive maxReceiveCount = %d; want %d (DESIGN.md: the DLQ after 3 tries)", where, n, deadLetterTries)
					}
				}
				vis := 30 // SQS's default when the property is absent
				if v, ok := props["VisibilityTimeout"]; ok {
					var err error
					if vis, err = wholeNumber(v); err != nil {
						t.Fatalf("%s: VisibilityTimeout: %v", where, err)
					}
				}
				if want := (time.Duration(vis) * time.Second).String(); cfg["WORKER_VISIBILITY_TIMEOUT"] != want {
					t.Errorf("%s: VisibilityTimeout = %s; the worker's is WORKER_VISIBILITY_TIMEOUT=%s", where, want, cfg["WORKER_VISIBILITY_TIMEOUT"])
				}
			})
		}
	})
}

// TestRenderedVariables: in both deployers' stacks, each binary accepts its task definition's
// variables, resolved as CloudFormation would: its -check-config, which names any variable it
// requires and does not find, succeeds on them.
func TestRenderedVariables(t *testing.T) {
	integration.EachDeployment(t, func(t *testing.T, d *cfn.Deployment) {
		for _, w := range d.Workloads {
			t.Run(w.Name, func(t *testing.T) { renderedConfig(t, d, w) })
		}
	})
}

// TestRenderedAddonOutputs: Copilot turns each addon output (but the policies) into a variable
// whose value is a GetAtt on the addons stack; the output must exist there.
func TestRenderedAddonOutputs(t *testing.T) {
	r := integration.Rendered(t)
	for _, w := range r.Info.Workloads {
		t.Run(w.Name, func(t *testing.T) {
			_, vars, err := r.Container(w.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range slices.Sorted(maps.Keys(vars)) {
				res, attr, ok := cfn.GetAtt(vars[name])
				if !ok || res != "AddonsStack" {
					continue
				}
				output, _ := strings.CutPrefix(attr, "Outputs.")
				addons := r.Addons[w.Name]
				var exists bool
				if addons != nil {
					_, exists = addons.Outputs[output]
				}
				switch {
				case r.Stacks[w.Name].Resources[res].Type != "AWS::CloudFormation::Stack":
					t.Errorf("%s: %s comes from %s, which is not a nested stack of the template", r.StackFile(w.Name), name, res)
				case addons == nil:
					t.Errorf("%s: %s comes from the addons stack, and no %s.addons.stack.yml was rendered", r.StackFile(w.Name), name, w.Name)
				case !exists:
					t.Errorf("%s: %s comes from addons output %s; %s.addons.stack.yml has outputs %q",
						r.StackFile(w.Name), name, output, w.Name, slices.Sorted(maps.Keys(addons.Outputs)))
				}
			}
		})
	}
}

// TestRenderedStopTimeout: on SIGTERM ECS waits the container's StopTimeout before SIGKILL, so
// each service's own budget for finishing in-flight work must end before it, in both deployers'
// stacks: a worker's drain; the publisher's whole shutdown (web.StopBudget: its drain, which the
// outbox's last publish shares, then the span flush and the exit). Each sets StopTimeout itself
// (taskdef_overrides), next to the budget it bounds, rather than rely on ECS's default.
func TestRenderedStopTimeout(t *testing.T) {
	budgets := map[string]struct {
		variable string
		whole    func(time.Duration) time.Duration // the whole shutdown, given the variable
		what     string
	}{
		topology.TypeWorker:          {"WORKER_DRAIN_TIMEOUT", func(d time.Duration) time.Duration { return d }, "the drain"},
		topology.TypeLoadBalancedWeb: {"SHUTDOWN_TIMEOUT", web.StopBudget, "the drain, span flush and exit (web.StopBudget)"},
	}
	integration.EachDeployment(t, func(t *testing.T, d *cfn.Deployment) {
		for _, w := range d.Workloads {
			t.Run(w.Name, func(t *testing.T) {
				b, ok := budgets[w.Type]
				if !ok {
					t.Fatalf("%s is a %s; this test knows the shutdown budget of %q only", w.Name, w.Type, slices.Sorted(maps.Keys(budgets)))
				}
				stop := ecsDefaultStopTimeout
				if v, ok := w.Container["StopTimeout"]; ok {
					n, err := wholeNumber(v)
					if err != nil {
						t.Fatalf("%s: StopTimeout: %v", w.File, err)
					}
					stop = time.Duration(n) * time.Second
				} else {
					t.Errorf("%s: no StopTimeout in the task definition; want it set (taskdef_overrides), next to the shutdown budget it bounds", w.File)
				}
				drain, err := time.ParseDuration(renderedConfig(t, d, w)[b.variable])
				if err != nil {
					t.Fatalf("%s: %s as cmd/%s prints it: %v", w.File, b.variable, w.Name, err)
				}
				if budget := b.whole(drain); stop <= budget {
					t.Errorf("%s: StopTimeout %v; want it above the shutdown budget %v (%s, with %s=%v), or ECS kills the task before in-flight work ends",
						w.File, stop, budget, b.what, b.variable, drain)
				}
				if stop > fargateMaxStopTimeout {
					t.Errorf("%s: StopTimeout %v; want at most %v (Fargate's maximum)", w.File, stop, fargateMaxStopTimeout)
				}
			})
		}
	})
}

// TestRenderedHealthCheck: in both deployers' stacks, the load balancer's target group polls a
// path the publisher serves with a status its matcher accepts, so a healthy task is kept in
// service.
func TestRenderedHealthCheck(t *testing.T) {
	integration.EachDeployment(t, func(t *testing.T, d *cfn.Deployment) {
		for _, w := range d.OfType(topology.TypeLoadBalancedWeb) {
			t.Run(w.Name, func(t *testing.T) {
				stack := w.Stack().Template
				groups := stack.OfType("AWS::ElasticLoadBalancingV2::TargetGroup")
				if len(groups) != 1 {
					t.Fatalf("%s: target groups %q; want one", w.File, groups)
				}
				props := stack.Resources[groups[0]].Properties
				where := fmt.Sprintf("%s: target group %s", w.File, groups[0])
				path := "/" // the target group's default
				if p, ok := props["HealthCheckPath"].(string); ok {
					path = p
				}
				if path != "/healthz" {
					t.Fatalf("%s: HealthCheckPath %q; want /healthz (http.healthcheck.path)", where, path)
				}
				matcher, _ := props["Matcher"].(map[string]any)
				codes := fmt.Sprint(matcher["HttpCode"])

				srv := web.NewServer(nil, healthy{}, nil, func() (string, string) { return "", "" }, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if !slices.Contains(strings.Split(codes, ","), strconv.Itoa(rec.Code)) {
					t.Errorf("%s: GET %s on the publisher answers %d; the health check accepts %s", where, path, rec.Code, codes)
				}
			})
		}
	})
}

// healthy is a dependency that always answers.
type healthy struct{}

func (healthy) Ping(context.Context) error { return nil }

// TestRenderedCfnLint runs cfn-lint over every rendered template, the ones Copilot makes from
// its own templates included: no errors but the one documented below; warnings are logged.
func TestRenderedCfnLint(t *testing.T) {
	r := integration.Rendered(t)
	root := integration.RepoRoot(t)
	bin := os.Getenv("CFN_LINT")
	if bin == "" {
		bin = filepath.Join(root, ".venv", "bin", "cfn-lint")
	}
	if _, err := exec.LookPath(bin); err != nil {
		skip.OrFail(t, fmt.Sprintf("cfn-lint not found (%v): run make venv, or set CFN_LINT", err))
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
		where := fmt.Sprintf("%s:%d %v", f.Filename, f.Location.Start.LineNumber, f.Location.Path)
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

// acceptedLintError accepts the one error cfn-lint finds in Copilot's own environment
// template: E3676 ("Certificates is a required property") on InternalHTTPSListener, the HTTPS
// listener of the internal load balancer, which Copilot writes with certificates only when the
// environment manifest imports some (http.private.certificates; ours has no internal load
// balancer). The listener exists only under the condition ExportInternalHTTPSListener, false
// unless the environment has internal load-balanced workloads with HTTPS; the error is accepted
// only there, and only while the rendered parameters keep that condition false.
func acceptedLintError(r *cfn.Rendered, f lintFinding) (string, bool) {
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

// --- The main container of a task definition.

// renderedConfig is the configuration cmd/<svc> prints with -check-config given the variables of
// its task definition, resolved as CloudFormation would in the deployment's region and account
// (what only a real deployment knows, an unresolved placeholder naming it), with AWS_REGION as
// ECS sets it; the test fails, with the binary's message, if it refuses them.
func renderedConfig(t *testing.T, d *cfn.Deployment, w *cfn.Workload) map[string]string {
	t.Helper()
	env, err := w.Env()
	if err != nil {
		t.Fatal(err)
	}
	env["AWS_REGION"] = d.Region
	cfg, err := integration.CheckConfig(t, w.Name, env)
	if err != nil {
		t.Fatalf("%s: the variables of the task definition (%q): %v", w.File, slices.Sorted(maps.Keys(env)), err)
	}
	return cfg
}

// workerQueue returns the queue a worker reads: the resource COPILOT_QUEUE_URI refers to.
func workerQueue(t *testing.T, w *cfn.Workload) string {
	t.Helper()
	vars, err := w.Vars()
	if err != nil {
		t.Fatal(err)
	}
	q, ok := cfn.Ref(vars["COPILOT_QUEUE_URI"])
	if !ok || w.Stack().Template.Resources[q].Type != "AWS::SQS::Queue" {
		t.Fatalf("%s: COPILOT_QUEUE_URI = %v; want a Ref to a queue of the stack", w.File, vars["COPILOT_QUEUE_URI"])
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
