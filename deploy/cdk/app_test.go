package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// These tests synthesize the app as make synth does, into a temporary folder, and read the
// templates back: what each stack holds, that every container gets exactly the variables its
// binary requires (the binaries themselves say, with -check-config), the least-privilege task
// roles, the tables as their addons declare them, and cfn-lint. What only an account shows is
// in docs/cdk.md.

// synthesized is one synthesis of the app: its folder and its templates by stack name.
type synthesized struct {
	Dir       string
	Ws        *workspace
	Templates map[string]*cfn.Template
	Raw       map[string]map[string]any
}

var (
	synthOnce sync.Map // context key → *synthResult
)

type synthResult struct {
	once sync.Once
	s    *synthesized
	err  error
}

// synth synthesizes the app with the context given (key=value), once per context in a run.
func synth(t *testing.T, ctx ...string) *synthesized {
	t.Helper()
	v, _ := synthOnce.LoadOrStore(strings.Join(ctx, " "), &synthResult{})
	r := v.(*synthResult)
	r.once.Do(func() {
		dir, err := os.MkdirTemp("", "cdk-synth-")
		if err != nil {
			r.err = err
			return
		}
		args := []string{"cdk", "-out", dir}
		for _, c := range ctx {
			args = append(args, "-c", c)
		}
		if r.err = run(args, io.Discard); r.err != nil {
			return
		}
		s := &synthesized{Dir: dir, Templates: map[string]*cfn.Template{}, Raw: map[string]map[string]any{}}
		root, _ := findRoot()
		if s.Ws, r.err = loadWorkspace(root); r.err != nil {
			return
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".template.json")
			if s.Templates[name], r.err = cfn.Load(f); r.err != nil {
				return
			}
			b, _ := os.ReadFile(f)
			var raw map[string]any
			if r.err = json.Unmarshal(b, &raw); r.err != nil {
				return
			}
			s.Raw[name] = raw
		}
		r.s = s
	})
	if r.err != nil {
		t.Fatalf("synthesize with %q: %v", ctx, r.err)
	}
	return r.s
}

func TestMain(m *testing.M) {
	code := m.Run()
	synthOnce.Range(func(_, v any) bool {
		if r := v.(*synthResult); r.s != nil {
			os.RemoveAll(r.s.Dir)
		}
		return true
	})
	os.Exit(code)
}

// TestStacks checks the stacks and what each holds, resource type by resource type.
func TestStacks(t *testing.T) {
	s := synth(t)
	worker := map[string]int{
		"AWS::ApplicationAutoScaling::ScalableTarget": 1,
		"AWS::ApplicationAutoScaling::ScalingPolicy":  2, // the backlog steps: below and above the middle
		"AWS::CloudWatch::Alarm":                      4, // the addon's 2, the 2 that drive the steps
		"AWS::EC2::SecurityGroup":                     1,
		"AWS::ECS::Service":                           1,
		"AWS::ECS::TaskDefinition":                    1,
		"AWS::IAM::Policy":                            2, // the table addon's; the execution role's
		"AWS::IAM::Role":                              2, // task, execution
		"AWS::Logs::LogGroup":                         1,
		"AWS::SNS::Subscription":                      2, // to the orders topic; the alarms' e-mail (conditional)
		"AWS::SNS::Topic":                             1, // the alarms'
		"AWS::SQS::Queue":                             2, // events, dead letters
		"AWS::SQS::QueuePolicy":                       1, // the topic may send
	}
	want := map[string]map[string]int{
		"pubsub-test-data": {"AWS::DynamoDB::Table": 3},
		"pubsub-test-env": {
			"AWS::EC2::InternetGateway": 1, "AWS::EC2::Route": 2, "AWS::EC2::RouteTable": 2, "AWS::EC2::Subnet": 2,
			"AWS::EC2::SubnetRouteTableAssociation": 2, "AWS::EC2::VPC": 1, "AWS::EC2::VPCGatewayAttachment": 1,
			"AWS::ECS::Cluster": 1,
		},
		"pubsub-test-publisher": {
			"AWS::ApplicationAutoScaling::ScalableTarget": 1,
			"AWS::ApplicationAutoScaling::ScalingPolicy":  2, // CPU, requests per target
			"AWS::CloudWatch::Alarm":                      6, // the addon's
			"AWS::EC2::SecurityGroup":                     2, // load balancer, tasks
			"AWS::EC2::SecurityGroupEgress":               1,
			"AWS::EC2::SecurityGroupIngress":              1,
			"AWS::ECS::Service":                           1,
			"AWS::ECS::TaskDefinition":                    1,
			"AWS::ElasticLoadBalancingV2::Listener":       1,
			"AWS::ElasticLoadBalancingV2::LoadBalancer":   1,
			"AWS::ElasticLoadBalancingV2::TargetGroup":    1,
			"AWS::IAM::ManagedPolicy":                     2, // the orders table's, the workers' tables read
			"AWS::IAM::Policy":                            1, // the execution role's
			"AWS::IAM::Role":                              2,
			"AWS::Logs::LogGroup":                         1,
			"AWS::SNS::Subscription":                      1, // the alarms' e-mail (conditional)
			"AWS::SNS::Topic":                             2, // orders, alarms
			"AWS::WAFv2::WebACL":                          1,
			"AWS::WAFv2::WebACLAssociation":               1,
		},
		"pubsub-test-fulfilment": worker,
		"pubsub-test-promotion":  worker,
	}
	got := map[string]map[string]int{}
	for name, tmpl := range s.Templates {
		got[name] = map[string]int{}
		for _, r := range tmpl.Resources {
			got[name][r.Type]++
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources per stack (-want +got):\n%s", diff)
	}

	// The CDK's own validation of the templates (its CloudFormation Validate plugin).
	b, err := os.ReadFile(filepath.Join(s.Dir, "validation-report.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var report struct {
		PluginReports []struct {
			PluginName string
			Violations []struct{ RuleName, Description string }
		}
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &report); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			t.Errorf("%s: %s %s", p.PluginName, v.RuleName, v.Description)
		}
	}
}

// TestContext checks the choices a user makes with the context.
func TestContext(t *testing.T) {
	s := synth(t, "waf=false", "alarmEmail=ops@example.com", "deletionProtection=false", "pointInTimeRecovery=false")
	if got := s.Templates["pubsub-test-publisher"].OfType("AWS::WAFv2::WebACL"); len(got) > 0 {
		t.Errorf("waf=false: web ACL %v", got)
	}
	for _, svc := range []string{"publisher", "fulfilment", "promotion"} {
		p := s.Templates["pubsub-test-"+svc].Parameters["AlarmEmail"]
		if p.Default != "ops@example.com" {
			t.Errorf("%s: AlarmEmail default %v; want the address given", svc, p.Default)
		}
	}
	for id, r := range s.Templates["pubsub-test-data"].Resources {
		pitr, _ := r.Properties["PointInTimeRecoverySpecification"].(map[string]any)
		if r.Properties["DeletionProtectionEnabled"] != false || pitr["PointInTimeRecoveryEnabled"] != false {
			t.Errorf("%s: deletion protection %v, point-in-time recovery %v; want both off", id, r.Properties["DeletionProtectionEnabled"], pitr["PointInTimeRecoveryEnabled"])
		}
	}
}

// TestDataStackImportable checks that the data stack can be created by importing a Copilot
// deployment's tables (cdk import): nothing in it but the tables, each retained, named
// literally, no outputs; and each table is its addon's, property for property (resolved here
// by the project's CloudFormation reader, not the app's).
func TestDataStackImportable(t *testing.T) {
	for _, ctx := range [][]string{nil, {"env=live", "tablesEnv=test"}} {
		t.Run(strings.Join(append([]string{"context"}, ctx...), " "), func(t *testing.T) {
			s := synth(t, ctx...)
			name := "pubsub-test-data"
			if len(ctx) > 0 {
				name = "pubsub-live-data"
			}
			data := s.Templates[name]
			if data == nil {
				t.Fatalf("no stack %s", name)
			}
			if len(data.Outputs) > 0 {
				t.Errorf("%s has outputs %v: an import may not add any", name, slices.Sorted(maps.Keys(data.Outputs)))
			}
			raw := s.Raw[name]["Resources"].(map[string]any)
			seen := 0
			for _, svc := range slices.Sorted(maps.Keys(s.Ws.Services)) {
				for _, a := range s.Ws.Services[svc].Addons {
					for _, id := range a.Tables {
						seen++
						got, ok := raw[id].(map[string]any)
						if !ok {
							t.Errorf("%s: no table %s", name, id)
							continue
						}
						for _, p := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
							if got[p] != "Retain" {
								t.Errorf("%s %s: %s %v; want Retain", name, id, p, got[p])
							}
						}
						addon, err := cfn.NewStack("addon", "us-east-1", "123456789012", a.Template, map[string]string{"App": "pubsub", "Env": "test", "Name": svc})
						if err != nil {
							t.Fatal(err)
						}
						want, err := addon.Resolve(a.Template.Resources[id].Properties)
						if err != nil {
							t.Fatal(err)
						}
						if diff := cmp.Diff(normalize(want), normalize(got["Properties"])); diff != "" {
							t.Errorf("%s %s: properties differ from %s (-addon +synthesized):\n%s", name, id, a.File, diff)
						}
						if n, _ := got["Properties"].(map[string]any)["TableName"].(string); !strings.HasPrefix(n, "pubsub-test-") {
							t.Errorf("%s %s: TableName %v; want the literal name of the tables' environment", name, id, n)
						}
					}
				}
			}
			if seen != 3 || len(raw) != seen {
				t.Errorf("%s: %d resources, %d tables in the addons; want the 3 tables alone", name, len(raw), seen)
			}
		})
	}
}

// normalize makes the boolean parameters of an addon ("true") and the JSON booleans of a
// template compare equal.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case bool:
		return fmt.Sprint(x)
	}
	return v
}

// TestContainerVariables runs each binary with -check-config and exactly the variables its
// container gets in the synthesized task definition (tokens resolved as CloudFormation would,
// in a stand-in account): it must accept them; and each variable must be one it requires (it
// fails without it) or one the manifest sets, which both paths share.
func TestContainerVariables(t *testing.T) {
	for _, ctx := range [][]string{nil, {"env=live", "tablesEnv=test"}} {
		t.Run(strings.Join(append([]string{"context"}, ctx...), " "), func(t *testing.T) {
			s := synth(t, ctx...)
			env := "test"
			if len(ctx) > 0 {
				env = "live"
			}
			bins := buildBinaries(t, s.Ws.Root)
			for _, svc := range slices.Sorted(maps.Keys(s.Ws.Services)) {
				t.Run(svc, func(t *testing.T) {
					stackName := "pubsub-" + env + "-" + svc
					tmpl := s.Templates[stackName]
					stack, err := cfn.NewStack(stackName, "eu-west-1", "123456789012", tmpl, nil)
					if err != nil {
						t.Fatal(err)
					}
					c := mainContainer(t, tmpl, svc)
					vars := map[string]string{}
					for _, e := range c["Environment"].([]any) {
						kv := e.(map[string]any)
						v, err := stack.Resolve(kv["Value"])
						if err != nil {
							t.Fatalf("%s: %v", kv["Name"], err)
						}
						vars[kv["Name"].(string)] = fmt.Sprint(v)
					}
					if out, err := checkConfig(bins[svc], vars); err != nil {
						t.Fatalf("%s -check-config with the container's variables: %v\n%s\nvariables: %v", svc, err, out, vars)
					}
					manifest := s.Ws.Services[svc].Variables
					var required, shared []string
					for _, k := range slices.Sorted(maps.Keys(vars)) {
						without := maps.Clone(vars)
						delete(without, k)
						_, err := checkConfig(bins[svc], without)
						_, inManifest := manifest[k]
						switch {
						case err != nil:
							required = append(required, k)
						case inManifest:
							shared = append(shared, k)
						default:
							t.Errorf("%s gets %s, which it does not require and its manifest does not set", svc, k)
						}
					}
					t.Logf("%s: required %v; the manifest's %v", svc, required, shared)
					for k := range manifest {
						if _, ok := vars[k]; !ok {
							t.Errorf("%s: the manifest's %s is not in the task definition", svc, k)
						}
					}
					if got := vars[copilot.EnvEnvironment]; got != env {
						t.Errorf("%s: %s=%q; want %q (the metrics' env dimension the alarms watch)", svc, copilot.EnvEnvironment, got, env)
					}
					for k, v := range vars {
						if strings.HasSuffix(k, "_TABLE_NAME") && !strings.HasPrefix(v, "pubsub-test-") {
							t.Errorf("%s: %s=%q; want a table of the tables' environment (test)", svc, k, v)
						}
					}
				})
			}
		})
	}
}

// buildBinaries builds the three services from the working tree, once per test.
func buildBinaries(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/publisher", "./cmd/fulfilment", "./cmd/promotion")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the services: %v\n%s", err, out)
	}
	return map[string]string{
		"publisher":  filepath.Join(dir, "publisher"),
		"fulfilment": filepath.Join(dir, "fulfilment"),
		"promotion":  filepath.Join(dir, "promotion"),
	}
}

// checkConfig runs bin -check-config with exactly vars as its environment.
func checkConfig(bin string, vars map[string]string) ([]byte, error) {
	cmd := exec.Command(bin, "-check-config")
	cmd.Env = []string{}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd.CombinedOutput()
}

// mainContainer is the service's own container in its task definition.
func mainContainer(t *testing.T, tmpl *cfn.Template, svc string) map[string]any {
	t.Helper()
	for _, id := range tmpl.OfType("AWS::ECS::TaskDefinition") {
		for _, c := range tmpl.Resources[id].Properties["ContainerDefinitions"].([]any) {
			if c := c.(map[string]any); c["Name"] == svc {
				return c
			}
		}
	}
	t.Fatalf("no container %s", svc)
	return nil
}

// TestTaskDefinitions checks what the manifests' taskdef_overrides ask of each task: the stop
// timeout above the binary's shutdown budget, a read-only root file system, the tracing
// sidecar pinned by digest and started first; and the publisher's port and health check.
func TestTaskDefinitions(t *testing.T) {
	s := synth(t)
	for _, svc := range slices.Sorted(maps.Keys(s.Ws.Services)) {
		tmpl := s.Templates["pubsub-test-"+svc]
		c := mainContainer(t, tmpl, svc)
		if c["ReadonlyRootFilesystem"] != true {
			t.Errorf("%s: ReadonlyRootFilesystem %v; want true", svc, c["ReadonlyRootFilesystem"])
		}
		if c["StopTimeout"] != 30 {
			t.Errorf("%s: StopTimeout %v; want 30 (the manifest's)", svc, c["StopTimeout"])
		}
		deps, _ := json.Marshal(c["DependsOn"])
		if string(deps) != `[{"Condition":"START","ContainerName":"aws-otel-collector"}]` {
			t.Errorf("%s: DependsOn %s; want the collector started first", svc, deps)
		}
		var collector map[string]any
		for _, id := range tmpl.OfType("AWS::ECS::TaskDefinition") {
			for _, cc := range tmpl.Resources[id].Properties["ContainerDefinitions"].([]any) {
				if cc := cc.(map[string]any); cc["Name"] == collectorName {
					collector = cc
				}
			}
		}
		if img, _ := collector["Image"].(string); !strings.Contains(img, "aws-otel-collector@sha256:") {
			t.Errorf("%s: collector image %v; want one pinned by digest", svc, collector["Image"])
		}
	}
	pub := s.Templates["pubsub-test-publisher"]
	tg := pub.Resources[pub.OfType("AWS::ElasticLoadBalancingV2::TargetGroup")[0]].Properties
	if tg["HealthCheckPath"] != "/healthz" || tg["HealthyThresholdCount"] != 2 || tg["UnhealthyThresholdCount"] != 3 ||
		tg["HealthCheckIntervalSeconds"] != 10 || tg["HealthCheckTimeoutSeconds"] != 5 {
		t.Errorf("publisher target group health check %v", tg)
	}
	svc := pub.Resources[pub.OfType("AWS::ECS::Service")[0]].Properties
	if svc["HealthCheckGracePeriodSeconds"] != 30 {
		t.Errorf("publisher HealthCheckGracePeriodSeconds %v; want 30", svc["HealthCheckGracePeriodSeconds"])
	}
	if _, ok := svc["DesiredCount"]; ok {
		t.Errorf("publisher DesiredCount %v; want none, so a deploy keeps what autoscaling set", svc["DesiredCount"])
	}
}

// acceptedLint are the cfn-lint warnings accepted in the synthesized templates, each with why,
// and, where one finding alone is accepted, a text its message must hold.
var acceptedLint = map[string]struct{ why, message string }{
	// cloudformationinclude substitutes App, Env and Name into the addons' !Sub strings and
	// keeps the Fn::Sub around the result.
	"W1020": {why: "an Fn::Sub left without variables by cloudformationinclude's parameter substitution"},
	// ApplicationLoadBalancedFargateService's own DependsOn on its target group.
	"W3005": {why: "the CDK's own redundant DependsOn (ApplicationLoadBalancedFargateService)"},
}

// TestCfnLint runs cfn-lint (make venv installs it in .venv) over the synthesized templates:
// no error, and no warning but the accepted ones.
func TestCfnLint(t *testing.T) {
	s := synth(t)
	bin := os.Getenv("CFN_LINT")
	if bin == "" {
		bin = filepath.Join(s.Ws.Root, ".venv", "bin", "cfn-lint")
	}
	if _, err := exec.LookPath(bin); err != nil {
		skip.OrFail(t, fmt.Sprintf("cfn-lint not found (%v): run make venv, or set CFN_LINT", err))
	}
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*.template.json"))
	cmd := exec.Command(bin, append([]string{"--format", "json", "--"}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", bin, err)
	}
	var findings []struct {
		Filename, Level, Message string
		Rule                     struct {
			ID string `json:"Id"`
		}
		Location struct {
			Start struct{ LineNumber int }
		}
	}
	if err := json.Unmarshal(out, &findings); err != nil {
		t.Fatalf("cfn-lint output is not its JSON (%v):\n%s\n%s", err, out, stderr.String())
	}
	counts := map[string]int{}
	for _, f := range findings {
		where := fmt.Sprintf("%s:%d", filepath.Base(f.Filename), f.Location.Start.LineNumber)
		if a, ok := acceptedLint[f.Rule.ID]; ok && f.Level != "Error" && strings.Contains(f.Message, a.message) {
			if counts[f.Rule.ID]++; counts[f.Rule.ID] == 1 {
				t.Logf("accepted %s (%s), first at %s: %s", f.Rule.ID, a.why, where, f.Message)
			}
			continue
		}
		t.Errorf("cfn-lint %s %s at %s: %s", f.Level, f.Rule.ID, where, f.Message)
	}
	t.Logf("cfn-lint over %d templates: %d findings, accepted %v", len(files), len(findings), counts)
}
