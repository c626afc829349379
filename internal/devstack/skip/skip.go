// Package skip is the one rule for a test that does not run. A test that
// cannot run on this machine (no emulator, no Chromium, no cfn-lint) skips
// saying why, or fails under REQUIRE_INTEGRATION=1, as CI sets, so CI can
// never pass by skipping (OrFail). A test that by design does not apply here
// (moto lacks the API it exercises, the images are not built) skips even
// then, and names its reason (Exempt). Both append a line to the file
// SKIP_REPORT names, which make test prints after the tests: every skip of
// the run, and why.
//
// It imports nothing of this module, so that every test can use it, the
// emulator package's own included.
package skip

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReportVariable names the variable holding the file each skip is appended
// to; unset, skips are not listed.
const ReportVariable = "SKIP_REPORT"

// OrFail skips a test that cannot run here, saying why, or fails it when
// REQUIRE_INTEGRATION=1, so CI can never pass by skipping.
func OrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("%s (REQUIRE_INTEGRATION=1, so this is a failure, not a skip)", why)
	}
	record(t, "skip", why)
	t.Skip(why)
}

// Exempt skips a test that does not apply here by design, whatever
// REQUIRE_INTEGRATION says, for reason, which it lists with the run's skips.
// Keep exemptions few and their reasons specific: each is a test CI passes
// without running.
func Exempt(t testing.TB, reason string) {
	t.Helper()
	record(t, "exempt", reason)
	t.Skip("exempt: " + reason)
}

// record appends "KIND PACKAGE TEST: WHY" to the SKIP_REPORT file. One write
// of one line per skip, opened for appending: the test binaries that go test
// runs side by side share the file without interleaving their lines.
func record(t testing.TB, kind, why string) {
	t.Helper()
	path := os.Getenv(ReportVariable)
	if path == "" {
		return
	}
	why = strings.Join(strings.Fields(why), " ")
	line := fmt.Sprintf("%-6s %s %s: %s\n", kind, packageDir(), t.Name(), why)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.WriteString(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Errorf("list the skip in %s=%s: %v", ReportVariable, path, err)
	}
}

// packageDir is the test's package folder (go test runs a test binary in
// it) relative to its module's root, or the absolute folder when no go.mod
// is above it.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil {
				return wd
			}
			return filepath.ToSlash(rel)
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}
