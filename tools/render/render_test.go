package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sampleWorkspace(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"copilot/.workspace":                     "application: shop\n",
		"copilot/web/manifest.yml":               "name: web\ntype: Load Balanced Web Service\npublish:\n  topics:\n    - name: orders\n",
		"copilot/billing/manifest.yml":           "name: billing\ntype: Worker Service\n",
		"copilot/billing/addons/table.yml":       "Resources: {}\n",
		"copilot/nightly/manifest.yml":           "name: nightly\ntype: Scheduled Job\n",
		"copilot/notes/README.md":                "not a workload\n",
		"copilot/environments/prod/manifest.yml": "name: prod\ntype: Environment\n",
		"copilot/environments/test/manifest.yml": "name: test\ntype: Environment\n",
		"Dockerfile.web":                         "FROM scratch\n",
		"go.mod":                                 "module shop\n",
	})
	return root
}

func TestReadWorkspace(t *testing.T) {
	root := sampleWorkspace(t)
	ws, err := readWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	if ws.App != "shop" {
		t.Errorf("App = %q; want shop", ws.App)
	}
	var got []string
	for _, w := range ws.Workloads {
		got = append(got, w.Name+"="+w.Type)
	}
	want := []string{"billing=Worker Service", "nightly=Scheduled Job", "web=Load Balanced Web Service"}
	if !slices.Equal(got, want) {
		t.Errorf("workloads = %q; want %q", got, want)
	}
	if !slices.Equal(ws.Envs, []string{"prod", "test"}) {
		t.Errorf("environments = %q; want [prod test]", ws.Envs)
	}
	if !slices.Equal(ws.loadBalanced(), []string{"web"}) {
		t.Errorf("loadBalanced() = %q; want [web]", ws.loadBalanced())
	}
	if w := ws.Workloads[2]; !slices.Equal(w.Topics, []string{"orders"}) {
		t.Errorf("web topics = %q; want [orders]", w.Topics)
	}
	if !ws.Workloads[1].isJob() || ws.Workloads[0].isJob() {
		t.Errorf("isJob: nightly %v, billing %v; want true, false", ws.Workloads[1].isJob(), ws.Workloads[0].isJob())
	}
	if err := ws.checkEnv("staging"); err == nil || !strings.Contains(err.Error(), "have: prod, test") {
		t.Errorf("checkEnv(staging) = %v; want an error naming prod and test", err)
	}

	dst := t.TempDir()
	if err := ws.copyTo(dst); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"copilot/.workspace", "copilot/billing/addons/table.yml", "Dockerfile.web"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("copy has no %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err == nil {
		t.Errorf("copy has go.mod; want only copilot/ and the Dockerfiles")
	}
}

func TestReadWorkspaceErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no application", map[string]string{"copilot/.workspace": "x: 1\n"}, "names no application"},
		{"name differs from folder", map[string]string{
			"copilot/.workspace": "application: a\n", "copilot/web/manifest.yml": "name: api\ntype: Backend Service\n",
		}, `want name "web"`},
		{"no workload", map[string]string{"copilot/.workspace": "application: a\n"}, "no workload manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			_, err := readWorkspace(root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readWorkspace: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestFindRoot(t *testing.T) {
	root := sampleWorkspace(t)
	got, err := findRoot(filepath.Join(root, "copilot", "web"))
	if err != nil || got != root {
		t.Errorf("findRoot(copilot/web) = %q, %v; want %q", got, err, root)
	}
	if _, err := findRoot(t.TempDir()); err == nil {
		t.Error("findRoot of a folder outside any workspace: no error")
	}
}

func TestCopilotEnv(t *testing.T) {
	proxy := &url.URL{Scheme: "http", Host: "127.0.0.1:4242"}
	got := copilotEnv([]string{
		"PATH=/bin", "HOME=/root", "AWS_PROFILE=prod", "AWS_ENDPOINT_URL=http://x", "AWS_CA_BUNDLE=/etc/ca",
		"https_proxy=http://corp", "NO_PROXY=*", "GOFLAGS=-mod=mod",
	}, proxy, "/tmp/ca.crt", "eu-west-1", "/tmp/home")
	want := []string{
		"PATH=/bin", "GOFLAGS=-mod=mod", "HOME=/tmp/home",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1",
		"HTTPS_PROXY=http://127.0.0.1:4242", "HTTP_PROXY=http://127.0.0.1:4242", "NO_PROXY=", "AWS_CA_BUNDLE=/tmp/ca.crt",
	}
	if !slices.Equal(got, want) {
		t.Errorf("copilotEnv =\n  %q\nwant\n  %q", got, want)
	}
}

func TestPublish(t *testing.T) {
	out := t.TempDir()
	writeFiles(t, out, map[string]string{
		"render.json":        `{"files": ["old-test.stack.yml"]}`,
		"old-test.stack.yml": "stale",
		"notes.txt":          "someone else's",
	})
	rendered := t.TempDir()
	writeFiles(t, rendered, map[string]string{"web-test.stack.yml": "new", "test.env.yml": "env"})
	files, err := publish(rendered, out, renderInfo{App: "shop", Env: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"test.env.yml", "web-test.stack.yml", "render.json"}; !slices.Equal(files, want) {
		t.Errorf("publish wrote %q; want %q", files, want)
	}
	entries, _ := os.ReadDir(out)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{"notes.txt", "render.json", "test.env.yml", "web-test.stack.yml"}; !slices.Equal(left, want) {
		t.Errorf("out holds %q; want %q (the stale template gone, others kept)", left, want)
	}
	var info renderInfo
	b, _ := os.ReadFile(filepath.Join(out, "render.json"))
	if err := json.Unmarshal(b, &info); err != nil || !slices.Equal(info.Files, []string{"test.env.yml", "web-test.stack.yml"}) {
		t.Errorf("render.json = %s (%v); want files test.env.yml, web-test.stack.yml", b, err)
	}

	writeFiles(t, out, map[string]string{"render.json": `{"files": ["../escape"]}`})
	if _, err := publish(rendered, out, renderInfo{}); err == nil {
		t.Error("publish with a render.json listing ../escape: no error")
	}
}

func TestEnvStackOutputsAgreeWithParameters(t *testing.T) {
	ws, err := readWorkspace(sampleWorkspace(t))
	if err != nil {
		t.Fatal(err)
	}
	p := envStackParameters(ws, "test")
	if p["ALBWorkloads"] != "web" || p["AppName"] != "shop" || p["ServiceDiscoveryEndpoint"] != "test.shop.local" {
		t.Errorf("parameters %v; want ALBWorkloads web, AppName shop, endpoint test.shop.local", p)
	}
	if got := envStackOutputs("shop", "test", "eu-west-1", p)["EnabledFeatures"]; got != "web,,,,," {
		t.Errorf("EnabledFeatures = %q; want %q (the template's join of the feature parameters)", got, "web,,,,,")
	}
}

// TestMotoSeed starts the moto proxy with the launcher and seeds it: the SDK reaches it through
// the proxy, and the launcher's patch makes ListStackInstances report the instance's real stack.
// It needs the project's venv (make venv); Copilot is not involved.
func TestMotoSeed(t *testing.T) {
	python := filepath.Join("..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("no %s (REQUIRE_INTEGRATION=1): run make venv", python)
		}
		t.Skipf("no %s: run make venv", python)
	}
	python, _ = filepath.Abs(python)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := startMoto(ctx, python, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	ca, err := m.caPEM()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := proxiedConfig(m.Proxy, ca, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := readWorkspace(sampleWorkspace(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(ctx, cfg, ws, "test"); err != nil {
		t.Fatal(err)
	}

	p, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/copilot/applications/shop/components/nightly")})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(p.Parameter.Value); !strings.Contains(v, `"type":"Scheduled Job"`) {
		t.Errorf("workload parameter = %s; want its type", v)
	}
	cfn := cloudformation.NewFromConfig(cfg)
	inst, err := cfn.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String("shop-infrastructure")})
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Summaries) != 1 {
		t.Fatalf("stack instances: %d; want 1", len(inst.Summaries))
	}
	stacks, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: inst.Summaries[0].StackId})
	if err != nil {
		t.Fatalf("DescribeStacks(the instance's StackId): %v; the launcher's ListStackInstances patch is not in effect", err)
	}
	var outputs []string
	for _, o := range stacks.Stacks[0].Outputs {
		outputs = append(outputs, aws.ToString(o.OutputKey))
	}
	for _, want := range []string{"KMSKeyARN", "PipelineBucket", "ECRRepoweb", "ECRRepobilling"} {
		if !slices.Contains(outputs, want) {
			t.Errorf("instance outputs %q; want %s", outputs, want)
		}
	}

	m.Stop()
	select {
	case <-m.done:
	default:
		t.Error("moto still running after Stop")
	}
}
