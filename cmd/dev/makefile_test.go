package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// TestSuitesLeaveRequireIntegrationToTheCaller: make test and make
// test-localstack behave alike on a newcomer's machine: a test that cannot
// run there (the browser test without Chromium) skips and says why under
// both, and fails under both when the caller sets REQUIRE_INTEGRATION=1 (as
// .ci/run does). Neither recipe sets it itself.
func TestSuitesLeaveRequireIntegrationToTheCaller(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		skip.OrFail(t, "no make on PATH")
	}
	for _, target := range []string{"test", "test-localstack"} {
		cmd := exec.Command("make", "-n", "--no-print-directory", target)
		cmd.Dir = "../.."
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "REQUIRE_INTEGRATION=") && !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "REQUIRE_INTEGRATION=1") {
				t.Errorf("make %s sets REQUIRE_INTEGRATION=1 itself, so a test that cannot run on this machine fails rather than skips: %s", target, strings.TrimSpace(line))
			}
		}
	}
}
