package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// TestAddonsPassCfnLint runs cfn-lint (installed into .venv by make venv) over every addon
// template, as CloudFormation would see them on `copilot svc deploy`: no finding at all, where
// the run over the rendered stacks (test/rendered) fails on errors only.
func TestAddonsPassCfnLint(t *testing.T) {
	root := integration.RepoRoot(t)
	bin := os.Getenv("CFN_LINT")
	if bin == "" {
		bin = filepath.Join(root, ".venv", "bin", "cfn-lint")
	}
	if _, err := exec.LookPath(bin); err != nil {
		skip.OrFail(t, fmt.Sprintf("cfn-lint not found (%v): run make venv, or set CFN_LINT", err))
	}
	var templates []string
	for _, a := range integration.LoadTopology(t).Addons {
		templates = append(templates, "copilot/"+a.Path)
	}
	if len(templates) == 0 {
		t.Fatal("no addon templates under copilot/*/addons/")
	}
	cmd := exec.Command(bin, templates...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		// cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational.
		t.Fatalf("%s %s: %v; want no findings:\n%s", filepath.Base(bin), strings.Join(templates, " "), err, out)
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Logf("cfn-lint output:\n%s", out)
	}
}

// What each service's task role may do is not checked here against our own reading of the
// addons: the e2e tests record every AWS call the binaries make and evaluate each against the
// task role of the stacks Copilot renders from copilot/ (addon policies, Copilot's queue and key
// policies), and fail on any grant no call uses (test/e2e/iam_test.go). Nor are the addons'
// parameters: Copilot refuses, when it renders them (make render), an addons.parameters.yml that
// sets App, Env or Name or a parameter no addon declares, and a parameter without a Default that
// nothing passes.

// TestTablesKeptSafe: a table's point-in-time recovery and deletion protection are parameters of
// its addon, on unless switched off on purpose.
func TestTablesKeptSafe(t *testing.T) {
	var tables int
	for _, a := range integration.LoadTopology(t).Addons {
		if len(a.Template.OfType("AWS::DynamoDB::Table")) == 0 {
			continue
		}
		tables++
		for _, p := range []string{"PointInTimeRecovery", "DeletionProtection"} {
			if d := a.Template.Parameters[p].Default; fmt.Sprint(d) != "true" {
				t.Errorf("copilot/%s: parameter %s has Default %v; want 'true', on unless switched off on purpose", a.Path, p, d)
			}
		}
	}
	if tables == 0 {
		t.Fatal("no addon in copilot/ declares a DynamoDB table")
	}
}
