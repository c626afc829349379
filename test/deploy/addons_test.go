package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/emulatortest"

	"go.yaml.in/yaml/v3"
)

// TestAddonsPassCfnLint runs cfn-lint (installed into .venv by make venv) over every addon
// template, as CloudFormation would see them on `copilot svc deploy`.
func TestAddonsPassCfnLint(t *testing.T) {
	root := emulatortest.RepoRoot(t)
	bin := os.Getenv("CFN_LINT")
	if bin == "" {
		bin = filepath.Join(root, ".venv", "bin", "cfn-lint")
	}
	if _, err := exec.LookPath(bin); err != nil {
		skipOrFail(t, fmt.Sprintf("cfn-lint not found (%v): run make venv, or set CFN_LINT", err))
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

// TestAddonPolicies: each service's task role gets only the DynamoDB actions its code calls,
// on its own table (and that table's indexes), and at least the ones it cannot work without.
func TestAddonPolicies(t *testing.T) {
	root := emulatortest.RepoRoot(t)
	for _, tc := range []struct {
		svc     string
		needed  []string // actions the code calls
		allowed []string // the most the policy may grant
		comment string
	}{
		{
			svc:     "publisher",
			needed:  []string{"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"},
			allowed: []string{"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:Query"},
			comment: "saves, reads and updates orders, checks the table in /healthz, finds unpublished ones",
		},
		{svc: "fulfilment", needed: []string{"dynamodb:PutItem"}, allowed: []string{"dynamodb:PutItem"}, comment: "a conditional put per order"},
		{svc: "promotion", needed: []string{"dynamodb:PutItem"}, allowed: []string{"dynamodb:PutItem"}, comment: "a conditional put per coupon"},
	} {
		t.Run(tc.svc, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(root, "copilot", tc.svc, "addons", "*.yml"))
			if err != nil {
				t.Fatal(err)
			}
			var granted []string
			policies := 0
			for _, f := range files {
				if filepath.Base(f) == "addons.parameters.yml" {
					continue
				}
				tpl := readTemplate(t, f)
				for id, res := range tpl.Resources {
					if res.Type != "AWS::IAM::ManagedPolicy" && res.Type != "AWS::IAM::Policy" {
						continue
					}
					policies++
					for i, st := range res.Properties.PolicyDocument.Statement {
						where := fmt.Sprintf("%s: %s statement %d", rel(root, f), id, i)
						if st.Effect != "Allow" {
							continue
						}
						for _, a := range scalars(&st.Action) {
							if !slices.Contains(tc.allowed, a) {
								t.Errorf("%s grants %s; want only %q (%s)", where, a, tc.allowed, tc.comment)
							}
							granted = append(granted, a)
						}
						for _, r := range items(&st.Resource) {
							if table, ok := tableArn(r); !ok || tpl.Resources[table].Type != "AWS::DynamoDB::Table" {
								t.Errorf("%s: Resource %s %q; want !GetAtt <table>.Arn or !Sub ${<table>.Arn}/index/* of a table in the same addon", where, r.Tag, r.Value)
							}
						}
					}
				}
			}
			if policies == 0 {
				t.Fatalf("copilot/%s/addons: no IAM policy; want one granting the service its table", tc.svc)
			}
			for _, a := range tc.needed {
				if !slices.Contains(granted, a) {
					t.Errorf("the addons of %s grant %q; want %s among them (the code calls it)", tc.svc, granted, a)
				}
			}
		})
	}
}

// TestAddonParameters: Copilot passes an addon the parameters App, Env and Name only (and
// those of addons.parameters.yml), so each must be declared and any other needs a default.
func TestAddonParameters(t *testing.T) {
	root := emulatortest.RepoRoot(t)
	for _, f := range addonTemplates(t, root) {
		t.Run(f, func(t *testing.T) {
			tpl := readTemplate(t, filepath.Join(root, f))
			passed := map[string]bool{"App": true, "Env": true, "Name": true}
			for k := range addonsParameters(t, filepath.Join(root, filepath.Dir(f))) {
				if passed[k] {
					t.Errorf("addons.parameters.yml sets %s; Copilot refuses to (App, Env and Name are its own)", k)
				}
				if _, ok := tpl.Parameters[k]; !ok {
					t.Errorf("addons.parameters.yml sets %s, which the template does not declare; Copilot refuses that", k)
				}
				passed[k] = true
			}
			for _, p := range []string{"App", "Env", "Name"} {
				if _, ok := tpl.Parameters[p]; !ok {
					t.Errorf("parameter %s is not declared; want it (Copilot always passes it)", p)
				}
			}
			for name, p := range tpl.Parameters {
				if !passed[name] && p.Default == nil {
					t.Errorf("parameter %s has no Default and Copilot does not pass it; want a Default", name)
				}
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
		Type       string `yaml:"Type"`
		Properties struct {
			PolicyDocument struct {
				Statement []struct {
					Effect   string    `yaml:"Effect"`
					Action   yaml.Node `yaml:"Action"`
					Resource yaml.Node `yaml:"Resource"`
				} `yaml:"Statement"`
			} `yaml:"PolicyDocument"`
		} `yaml:"Properties"`
	} `yaml:"Resources"`
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

// items returns a node that is one item or a list of them as a list (Action, Resource).
func items(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	if n.Kind == 0 {
		return nil
	}
	return []*yaml.Node{n}
}

// scalars returns the values of items(n).
func scalars(n *yaml.Node) []string {
	var out []string
	for _, c := range items(n) {
		out = append(out, c.Value)
	}
	return out
}

// tableArn returns the table a policy Resource names: !GetAtt <table>.Arn, or
// !Sub ${<table>.Arn}/index/* for its indexes.
func tableArn(n *yaml.Node) (string, bool) {
	switch n.Tag {
	case "!GetAtt":
		table, ok := strings.CutSuffix(n.Value, ".Arn")
		return table, ok
	case "!Sub":
		s, ok := strings.CutSuffix(n.Value, ".Arn}/index/*")
		if !ok || !strings.HasPrefix(s, "${") {
			return "", false
		}
		return strings.TrimPrefix(s, "${"), true
	}
	return "", false
}

func rel(root, file string) string {
	r, err := filepath.Rel(root, file)
	if err != nil {
		return file
	}
	return filepath.ToSlash(r)
}
