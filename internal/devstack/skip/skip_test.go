package skip

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB records what a skip does to its test instead of doing it.
type fakeTB struct {
	testing.TB
	name                   string
	skipped, fatal, errors string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Name() string                      { return f.name }
func (f *fakeTB) Skip(args ...any)                  { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fakeTB) Errorf(format string, args ...any) { f.errors += fmt.Sprintf(format, args...) }

func TestSkipsAreListed(t *testing.T) {
	report := filepath.Join(t.TempDir(), "skips.txt")
	t.Setenv(ReportVariable, report)
	t.Setenv("REQUIRE_INTEGRATION", "")

	a := &fakeTB{TB: t, name: "TestA"}
	OrFail(a, "no cfn-lint:\n  run make venv")
	b := &fakeTB{TB: t, name: "TestB/sub"}
	Exempt(b, "moto lacks the API")
	if a.skipped != "no cfn-lint:\n  run make venv" || b.skipped != "exempt: moto lacks the API" {
		t.Errorf("skip messages %q, %q; want the reasons, the exemption's marked", a.skipped, b.skipped)
	}
	if a.fatal != "" || a.errors != "" || b.errors != "" {
		t.Errorf("failures %q %q %q; want none", a.fatal, a.errors, b.errors)
	}
	got, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	want := "skip   internal/devstack/skip TestA: no cfn-lint: run make venv\n" +
		"exempt internal/devstack/skip TestB/sub: moto lacks the API\n"
	if string(got) != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}

func TestOrFailFailsWhenIntegrationIsRequired(t *testing.T) {
	t.Setenv(ReportVariable, "")
	t.Setenv("REQUIRE_INTEGRATION", "1")
	f := &fakeTB{TB: t, name: "TestA"}
	OrFail(f, "no Chromium")
	if !strings.HasPrefix(f.fatal, "no Chromium (REQUIRE_INTEGRATION=1") {
		t.Errorf("Fatalf(%q); want the reason and REQUIRE_INTEGRATION=1", f.fatal)
	}
	e := &fakeTB{TB: t, name: "TestB"}
	Exempt(e, "moto lacks the API")
	if e.fatal != "" || e.skipped == "" {
		t.Errorf("Exempt under REQUIRE_INTEGRATION=1: fatal %q, skipped %q; want a skip", e.fatal, e.skipped)
	}
}

func TestUnwritableReportFails(t *testing.T) {
	t.Setenv(ReportVariable, filepath.Join(t.TempDir(), "missing", "skips.txt"))
	f := &fakeTB{TB: t, name: "TestA"}
	Exempt(f, "why")
	if !strings.Contains(f.errors, "list the skip") {
		t.Errorf("errors %q; want the report's failure, so no skip goes unlisted", f.errors)
	}
}
