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

	"go.yaml.in/yaml/v3"
)

// TestAddonsPassCfnLint runs cfn-lint (installed into .venv by make venv) over every addon
// template, as CloudFormation would see them on `copilot svc deploy`.
func TestAddonsPassCfnLint(t *testing.T) {
	root := integration.RepoRoot(t)
	bin := os.Getenv("CFN_LINT")
	if bin == "" {
		bin = filepath.Join(root, ".venv", "bin", "cfn-lint")
	}
	if _, err := exec.LookPath(bin); err != nil {
		skip.OrFail(t, fmt.Sprintf("cfn-lint not found (%v): run make venv, or set CFN_LINT", err))
	}
	templates := addonTemplates(t, root)
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
// policies), and fail on any grant no call uses (test/e2e/iam_test.go).

// TestAddonParameters: Copilot passes an addon the parameters App, Env and Name only (and
// those of addons.parameters.yml), so each must be declared and any other needs a default.
func TestAddonParameters(t *testing.T) {
	root := integration.RepoRoot(t)
	for _, f := range addonTemplates(t, root) {
		t.Run(f, func(t *testing.T) {
			tpl := readTemplate(t, filepath.Join(root, f))
			// Copilot merges a service's addon templates into one stack and passes it
			// addons.parameters.yml: each parameter must be declared by one of them.
			declared := map[string]bool{}
			siblings, _ := filepath.Glob(filepath.Join(root, filepath.Dir(f), "*.yml"))
			for _, s := range siblings {
				if filepath.Base(s) != "addons.parameters.yml" {
					for k := range readTemplate(t, s).Parameters {
						declared[k] = true
					}
				}
			}
			// A service's addons get App, Env and Name; the environment's only App and Env.
			reserved := []string{"App", "Env", "Name"}
			if strings.HasPrefix(f, "copilot/environments/") {
				reserved = reserved[:2]
			}
			passed := map[string]bool{}
			for _, p := range reserved {
				passed[p] = true
			}
			for k := range addonsParameters(t, filepath.Join(root, filepath.Dir(f))) {
				if passed[k] {
					t.Errorf("addons.parameters.yml sets %s; Copilot refuses to (%s are its own)", k, strings.Join(reserved, ", "))
				}
				if !declared[k] {
					t.Errorf("addons.parameters.yml sets %s, which no addon template declares; Copilot refuses that", k)
				}
				passed[k] = true
			}
			for _, p := range reserved {
				if _, ok := tpl.Parameters[p]; !ok {
					t.Errorf("parameter %s is not declared; want it (Copilot always passes it)", p)
				}
			}
			for name, p := range tpl.Parameters {
				if !passed[name] && p.Default == nil {
					t.Errorf("parameter %s has no Default and Copilot does not pass it; want a Default", name)
				}
			}
			if !tpl.hasTable() {
				return
			}
			for _, p := range []string{"PointInTimeRecovery", "DeletionProtection"} {
				if d := tpl.Parameters[p].Default; d == nil || *d != "true" {
					t.Errorf("parameter %s: no Default 'true'; want it on unless switched off on purpose", p)
				}
			}
		})
	}
}

// --- CloudFormation templates, as far as these tests read them.

type template struct {
	Parameters map[string]struct {
		Default *string `yaml:"Default"`
	} `yaml:"Parameters"`
	Resources map[string]struct {
		Type string `yaml:"Type"`
	} `yaml:"Resources"`
}

func (tpl template) hasTable() bool {
	for _, r := range tpl.Resources {
		if r.Type == "AWS::DynamoDB::Table" {
			return true
		}
	}
	return false
}

func readTemplate(t *testing.T, file string) template {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tpl template
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return tpl
}

// addonTemplates lists the CloudFormation addons relative to root: copilot/*/addons/*.yml
// except addons.parameters.yml, which is not a template.
func addonTemplates(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "copilot", "*", "addons", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "addons.parameters.yml" {
			out = append(out, rel(root, f))
		}
	}
	if len(out) == 0 {
		t.Fatal("no addon templates under copilot/*/addons/")
	}
	return out
}

// addonsParameters returns the parameters an addons.parameters.yml in dir passes, if any.
func addonsParameters(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "addons.parameters.yml"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Parameters map[string]any `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("parse %s/addons.parameters.yml: %v", dir, err)
	}
	return p.Parameters
}

func rel(root, file string) string {
	r, err := filepath.Rel(root, file)
	if err != nil {
		return file
	}
	return filepath.ToSlash(r)
}
