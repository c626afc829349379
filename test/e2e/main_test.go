package e2e

import (
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestMain runs the tests, then checks every AWS call the binaries made
// against the permissions of their task roles in both deployers' stacks (Copilot's render, the CDK app's assembly)
// (a failure makes the package fail), and removes the binaries built.
func TestMain(m *testing.M) {
	code := m.Run()
	// The report goes to stdout (go test -v shows it) and to IAM_REPORT if
	// set (make test writes test-output/iam-report.txt).
	var out io.Writer = os.Stdout
	var report *os.File
	if file := os.Getenv("IAM_REPORT"); file != "" {
		var err error
		if report, err = os.Create(file); err != nil {
			fmt.Println("IAM check:", err)
			code = max(code, 1)
		} else {
			out = io.MultiWriter(os.Stdout, report)
		}
	}
	if !checkIAM(out) && code == 0 {
		fmt.Println("FAIL: the IAM check against the deployers' stacks failed: nothing to check, a call unattributed or not allowed, or a grant unused or too broad (see the IAM check above)")
		code = 1
	}
	if report != nil {
		report.Close()
	}
	if recorder != nil {
		recorder.Close()
	}
	integration.RemoveBinaries()
	os.Exit(code)
}
