package alarms

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// TestDeployWarnsWithoutAlarmEmail: make deploy says, once and before deploying anything, which
// services have no AlarmEmail in their addons.parameters.yml (their alarms would notify a topic
// nobody is subscribed to), and says nothing when every service has one. The Makefile runs in a
// scratch folder with its own copilot/ and a stand-in copilot CLI that echoes its commands.
func TestDeployWarnsWithoutAlarmEmail(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		skip.OrFail(t, "no make on PATH")
	}
	makefile, err := os.ReadFile(filepath.Join(integration.RepoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	const warning = "WARNING: no AlarmEmail for"
	tests := []struct {
		name   string
		params map[string]string // service → its addons.parameters.yml's AlarmEmail line ("" for none)
		want   string            // the warning's list of services; "" for no warning
	}{
		{"none set", map[string]string{}, warning + " publisher fulfilment promotion:"},
		{"one set, one empty, one quoted empty", map[string]string{
			"publisher": "  AlarmEmail: oncall@example.com", "fulfilment": "  AlarmEmail: ''", "promotion": `  AlarmEmail: "" # nobody yet`,
		}, warning + " fulfilment promotion:"},
		{"all set", map[string]string{
			"publisher": "  AlarmEmail: oncall@example.com", "fulfilment": "  AlarmEmail: 'oncall@example.com'", "promotion": `  AlarmEmail: "oncall@example.com" # the rota`,
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Makefile"), makefile, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, svc := range []string{"publisher", "fulfilment", "promotion"} {
				if err := os.MkdirAll(filepath.Join(dir, "copilot", svc, "addons"), 0o755); err != nil {
					t.Fatal(err)
				}
				body := "Parameters:\n  TaskRole: !Ref TaskRole\n"
				if line := tc.params[svc]; line != "" {
					body += line + "\n"
				}
				if err := os.WriteFile(filepath.Join(dir, "copilot", svc, "addons", "addons.parameters.yml"), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("make", "-s", "deploy", "COPILOT=echo copilot")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make deploy: %v\n%s", err, out)
			}
			got := string(out)
			if n := strings.Count(got, warning); tc.want == "" && n != 0 || tc.want != "" && n != 1 {
				t.Fatalf("make deploy warned %d times; want %s:\n%s", n, map[bool]string{true: "no warning", false: "one warning"}[tc.want == ""], got)
			}
			if tc.want == "" {
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("make deploy's warning does not say %q:\n%s", tc.want, got)
			}
			if w, d := strings.Index(got, warning), strings.Index(got, "copilot "); d >= 0 && w > d {
				t.Errorf("make deploy warned after it started deploying; want the warning first:\n%s", got)
			}
		})
	}
}
