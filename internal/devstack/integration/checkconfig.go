package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

var (
	built    = map[string]error{} // cmd/<name> built into builtDir, and how
	builtMu  sync.Mutex
	builtDir string
)

// Binary builds cmd/<name> once per test process and returns its path. A package whose tests
// call it removes the builds in its TestMain with RemoveBinaries.
func Binary(t testing.TB, name string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if builtDir == "" {
		dir, err := os.MkdirTemp("", "pubsub-bin-")
		if err != nil {
			t.Fatal(err)
		}
		builtDir = dir
	}
	err, ok := built[name]
	if !ok {
		cmd := exec.Command("go", "build", "-trimpath", "-o", builtDir+string(filepath.Separator), "./cmd/"+name)
		cmd.Dir = RepoRoot(t)
		if out, cerr := cmd.CombinedOutput(); cerr != nil {
			err = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, cerr, out)
		}
		built[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(builtDir, name)
}

// RemoveBinaries removes what Binary built.
func RemoveBinaries() {
	builtMu.Lock()
	defer builtMu.Unlock()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
}

// CheckConfig runs cmd/<svc> with -check-config and exactly env: the binary loads and
// validates its configuration and prints it, touching no AWS. It returns the settings printed
// (VARIABLE → value), or the binary's own error, which names the variable.
func CheckConfig(t testing.TB, svc string, env map[string]string) (map[string]string, error) {
	t.Helper()
	cmd := exec.Command(Binary(t, svc), "-check-config")
	cmd.Env = []string{} // exactly env, nothing of the test's own
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cmd/%s -check-config: %v: %s", svc, err, strings.TrimSpace(stderr.String()))
	}
	settings := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		k, v, _ := strings.Cut(line, "=")
		settings[k] = v
	}
	return settings, nil
}

var (
	renderedOnce  sync.Once
	renderedCache *cfn.Rendered
	renderedErr   error
)

// Rendered returns the templates Copilot rendered into RENDERED_DIR (relative to the repository
// root, or absolute; make test renders them), read once per test process, or skips (fails under
// REQUIRE_INTEGRATION=1) when RENDERED_DIR is not set.
func Rendered(t testing.TB) *cfn.Rendered {
	t.Helper()
	dir := envDir(t, "RENDERED_DIR", "the templates Copilot renders are not checked: "+
		"run `make render` and set RENDERED_DIR=infrastructure (make test does both)")
	renderedOnce.Do(func() { renderedCache, renderedErr = cfn.LoadRendered(dir) })
	if renderedErr != nil {
		t.Fatalf("RENDERED_DIR=%s: %v", dir, renderedErr)
	}
	return renderedCache
}

var (
	assemblyOnce  sync.Once
	assemblyCache *cfn.Assembly
	assemblyErr   error
)

// Assembly returns the cloud assembly the AWS CDK app synthesized into CDK_OUT_DIR (relative to
// the repository root, or absolute; make test synthesizes it with make synth), for the
// application Copilot rendered, read once per test process, or skips (fails under
// REQUIRE_INTEGRATION=1) when CDK_OUT_DIR is not set.
func Assembly(t testing.TB) *cfn.Assembly {
	t.Helper()
	dir := envDir(t, "CDK_OUT_DIR", "the stacks the CDK app synthesizes are not checked: "+
		"run `make synth` and set CDK_OUT_DIR=deploy/cdk/cdk.out (make test does both)")
	app := Rendered(t).Info.App
	assemblyOnce.Do(func() { assemblyCache, assemblyErr = cfn.LoadAssembly(dir, app) })
	if assemblyErr != nil {
		t.Fatalf("CDK_OUT_DIR=%s: %v", dir, assemblyErr)
	}
	return assemblyCache
}

// StandInAccount is the account a deployment is instantiated in when its templates name none
// (the CDK app's are environment-agnostic), and StandInRegion its region.
const (
	StandInAccount = "123456789012"
	StandInRegion  = "eu-west-1"
)

// EachDeployment runs check as a subtest per deployer, named after it ("copilot", "cdk"), on its
// stacks as deployed to the environment they were written for: Copilot's render (RENDERED_DIR)
// in its region and account, the CDK app's assembly (CDK_OUT_DIR) in the stand-in ones, with the
// services Copilot rendered. A deployer whose folder is not set is skipped (failed under
// REQUIRE_INTEGRATION=1) alone. The checks that hold for either way of deploying run so.
func EachDeployment(t *testing.T, check func(t *testing.T, d *cfn.Deployment)) {
	t.Run("copilot", func(t *testing.T) {
		r := Rendered(t)
		account, err := r.Account()
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Deployment(r.Info.Env, r.Info.Region, account)
		if err != nil {
			t.Fatalf("RENDERED_DIR: %v", err)
		}
		check(t, d)
	})
	t.Run("cdk", func(t *testing.T) {
		a := Assembly(t)
		d, err := a.Deployment(a.Env, StandInRegion, StandInAccount, Rendered(t).Services())
		if err != nil {
			t.Fatalf("CDK_OUT_DIR: %v", err)
		}
		check(t, d)
	})
}

// envDir returns the folder the variable name gives, relative to the repository root or
// absolute, or skips (fails under REQUIRE_INTEGRATION=1) saying that, unset, what is not done.
func envDir(t testing.TB, name, what string) string {
	t.Helper()
	dir := os.Getenv(name)
	if dir == "" {
		skip.OrFail(t, name+" is not set, so "+what)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(RepoRoot(t), dir)
	}
	return dir
}
