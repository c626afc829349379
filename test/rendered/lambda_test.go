package rendered

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// How long before AWS stops creating functions on a runtime the rendered stacks must have moved
// off it (a deploy creates Copilot's Lambdas afresh: a new environment, a service re-created),
// and how long before that a warning is printed (make lambda-runtimes, which make test runs).
const (
	runtimeFailWithin = 90 * 24 * time.Hour
	runtimeWarnWithin = 365 * 24 * time.Hour
)

// runtimeLifecycle is one entry of cfn-lint's Lambda runtime lifecycle data
// (cfnlint/data/AdditionalSpecs/LmbdRuntimeLifecycle.json, which its rules E2531, W2531 and
// E2533 read): dates as YYYY-MM-DD, null where AWS has announced none.
type runtimeLifecycle struct {
	Deprecated  *string `json:"deprecated"`
	CreateBlock *string `json:"create-block"`
	UpdateBlock *string `json:"update-block"`
	Successor   *string `json:"successor"`
}

// lambdaFunction is one AWS::Lambda::Function of a rendered template.
type lambdaFunction struct {
	File, Resource, Condition string
	Runtime                   any
}

// TestLambdaRuntimeLifecycle: no AWS::Lambda::Function in any rendered template (Copilot's own
// custom-resource Lambdas, patched to nodejs24.x by copilot/*/overrides/cfn.patches.yml) runs on
// a runtime AWS stops creating functions on within 90 days, by the dates of the cfn-lint in
// .venv; within 365 days it logs a WARNING line, which make test prints (make lambda-runtimes).
// LAMBDA_RUNTIMES_NOW=YYYY-MM-DD sets the day to judge from (today by default).
func TestLambdaRuntimeLifecycle(t *testing.T) {
	r := integration.Rendered(t)
	data, source := loadRuntimeLifecycle(t)
	now := time.Now().UTC()
	if s := os.Getenv("LAMBDA_RUNTIMES_NOW"); s != "" {
		var err error
		if now, err = time.Parse(time.DateOnly, s); err != nil {
			t.Fatalf("LAMBDA_RUNTIMES_NOW=%s: %v", s, err)
		}
	}
	fns := renderedLambdas(t, r)
	if len(fns) == 0 {
		t.Fatalf("no AWS::Lambda::Function in %q: Copilot renders at least its environment controller", r.Info.Files)
	}
	perFile := map[string]int{}
	for _, fn := range fns {
		where := fmt.Sprintf("%s: %s", fn.File, fn.Resource)
		if fn.Condition != "" {
			where += " (condition " + fn.Condition + ")"
		}
		runtime, ok := fn.Runtime.(string)
		if !ok {
			t.Errorf("%s: Runtime %v is not a literal; want one whose lifecycle can be checked", where, fn.Runtime)
			continue
		}
		perFile[fn.File+" "+runtime]++
		fail, warn := judgeRuntime(runtime, data[runtime], now)
		if fail != "" {
			t.Errorf("%s: %s (%s); patch Runtime in copilot/<svc or environments>/overrides/cfn.patches.yml", where, fail, source)
		}
		if warn != "" {
			t.Logf("WARNING: %s: %s (%s)", where, warn, source)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(perFile)) {
		t.Logf("%s: %d functions", k, perFile[k])
	}
	t.Logf("judged on %s against %s", now.Format(time.DateOnly), source)
}

// judgeRuntime says what is wrong with runtime on day now, given its lifecycle (nil for a
// runtime cfn-lint lists no end for): fail when AWS stops creating functions on it within
// runtimeFailWithin (or has stopped), warn when within runtimeWarnWithin, or when it is
// deprecated with no announced end.
func judgeRuntime(runtime string, lc *runtimeLifecycle, now time.Time) (fail, warn string) {
	if lc == nil {
		return "", ""
	}
	successor := "a newer runtime"
	if lc.Successor != nil {
		successor = *lc.Successor
	}
	if lc.CreateBlock == nil {
		if d, err := time.Parse(time.DateOnly, deref(lc.Deprecated)); err == nil && d.Sub(now) < runtimeWarnWithin {
			return "", fmt.Sprintf("runtime %s is deprecated since %s, no end of creation announced; move to %s", runtime, *lc.Deprecated, successor)
		}
		return "", ""
	}
	end, err := time.Parse(time.DateOnly, *lc.CreateBlock)
	if err != nil {
		return fmt.Sprintf("runtime %s: creation end %q is no date: %v", runtime, *lc.CreateBlock, err), ""
	}
	left := end.Sub(now)
	msg := fmt.Sprintf("runtime %s: AWS stops creating functions on it on %s (updating on %s), %s; move to %s",
		runtime, *lc.CreateBlock, deref(lc.UpdateBlock), daysLeft(left), successor)
	switch {
	case left < runtimeFailWithin:
		return msg + fmt.Sprintf(": want at least %d days left", int(runtimeFailWithin.Hours()/24)), ""
	case left < runtimeWarnWithin:
		return "", msg
	}
	return "", ""
}

func daysLeft(d time.Duration) string {
	days := int(d.Hours() / 24)
	if d < 0 {
		return fmt.Sprintf("%d days ago", -days)
	}
	return fmt.Sprintf("in %d days", days)
}

func deref(s *string) string {
	if s == nil {
		return "none announced"
	}
	return *s
}

// TestJudgeRuntime: the rule on a fixed clock, with lifecycle entries as cfn-lint 1.58 has them.
func TestJudgeRuntime(t *testing.T) {
	str := func(s string) *string { return &s }
	node20 := &runtimeLifecycle{Deprecated: str("2026-04-30"), CreateBlock: str("2027-02-01"), UpdateBlock: str("2027-03-03"), Successor: str("nodejs24.x")}
	node24 := &runtimeLifecycle{Deprecated: str("2028-04-30"), CreateBlock: str("2028-06-01"), UpdateBlock: str("2028-07-01")}
	dotnet9 := &runtimeLifecycle{Deprecated: str("2026-11-10"), Successor: str("dotnet10")}
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name, runtime string
		lc            *runtimeLifecycle
		now           time.Time
		fail, warn    bool
	}{
		{"nodejs20.x today (57 days left)", "nodejs20.x", node20, day("2026-12-06"), true, false},
		{"nodejs20.x 91 days before", "nodejs20.x", node20, day("2026-11-02"), false, true},
		{"nodejs20.x 90 days before", "nodejs20.x", node20, day("2026-11-03"), false, true},
		{"nodejs20.x 89 days before", "nodejs20.x", node20, day("2026-11-04"), true, false},
		{"nodejs20.x after the end", "nodejs20.x", node20, day("2027-04-01"), true, false},
		{"nodejs20.x two years before", "nodejs20.x", node20, day("2025-01-01"), false, false},
		{"nodejs24.x today (543 days left)", "nodejs24.x", node24, day("2026-12-06"), false, false},
		{"nodejs24.x 366 days before", "nodejs24.x", node24, day("2027-06-01"), false, false},
		{"nodejs24.x 364 days before", "nodejs24.x", node24, day("2027-06-03"), false, true},
		{"nodejs24.x 30 days before", "nodejs24.x", node24, day("2028-05-02"), true, false},
		{"deprecated, no end announced", "dotnet9", dotnet9, day("2026-12-06"), false, true},
		{"a runtime cfn-lint lists no end for", "nodejs26.x", nil, day("2026-12-06"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fail, warn := judgeRuntime(tc.runtime, tc.lc, tc.now)
			if (fail != "") != tc.fail || (warn != "") != tc.warn {
				t.Errorf("judgeRuntime(%s, %s) = fail %q, warn %q; want fail %v, warn %v",
					tc.runtime, tc.now.Format(time.DateOnly), fail, warn, tc.fail, tc.warn)
			}
		})
	}
}

// renderedLambdas lists the AWS::Lambda::Function resources of every template render.json
// lists (the workloads', their addons', the environment's and its addons').
func renderedLambdas(t *testing.T, r *cfn.Rendered) []lambdaFunction {
	t.Helper()
	var out []lambdaFunction
	for _, f := range slices.Sorted(maps.Keys(r.Templates)) {
		tpl := r.Templates[f]
		for _, name := range tpl.OfType("AWS::Lambda::Function") {
			res := tpl.Resources[name]
			out = append(out, lambdaFunction{File: f, Resource: name, Condition: res.Condition, Runtime: res.Properties["Runtime"]})
		}
	}
	return out
}

// loadRuntimeLifecycle reads cfn-lint's runtime lifecycle data from the cfn-lint installed in
// .venv (make venv; the one TestRenderedCfnLint runs), asking its Python where the package is.
// The second result names the file and cfn-lint's version, for messages.
func loadRuntimeLifecycle(t *testing.T) (map[string]*runtimeLifecycle, string) {
	t.Helper()
	python := filepath.Join(integration.RepoRoot(t), ".venv", "bin", "python")
	if bin := os.Getenv("CFN_LINT"); bin != "" {
		python = filepath.Join(filepath.Dir(bin), "python")
	}
	const where = `import importlib.metadata, json, os, cfnlint
print(json.dumps({"file": os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "LmbdRuntimeLifecycle.json"),
                  "version": importlib.metadata.version("cfn-lint")}))`
	out, err := exec.Command(python, "-c", where).Output()
	if err != nil {
		skip.OrFail(t, fmt.Sprintf("cfn-lint's runtime lifecycle data not found with %s (%v): run make venv", python, err))
	}
	var loc struct{ File, Version string }
	if err := json.Unmarshal(out, &loc); err != nil {
		t.Fatalf("%s: %v: %s", python, err, out)
	}
	b, err := os.ReadFile(loc.File)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]*runtimeLifecycle{}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatalf("%s: %v", loc.File, err)
	}
	if data["nodejs20.x"] == nil || data["nodejs20.x"].CreateBlock == nil {
		t.Fatalf("%s has no creation end for nodejs20.x: its format changed?", loc.File)
	}
	return data, fmt.Sprintf("cfn-lint %s, %s", loc.Version, filepath.Base(loc.File))
}
