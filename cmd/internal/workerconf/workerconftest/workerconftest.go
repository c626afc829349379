// Package workerconftest is the test both worker binaries' run share: what
// -check-config prints and refuses. The shared variables are tested one by
// one in cmd/internal/workerconf.
package workerconftest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// CheckConfig runs run, the worker name's, with -check-config: it prints its
// table (the variable tableVar) and the shared settings with their defaults,
// and an unset table or queue, or a bad shared value, is an error naming it.
func CheckConfig(t *testing.T, run func(context.Context, []string, func(string) string, io.Writer) error, name, tableVar string) {
	t.Helper()
	table := "pubsub-test-" + name + "-table"
	env := func(k, v string) func(string) string {
		set := map[string]string{
			"COPILOT_QUEUE_URI":        "https://sqs.us-east-1.amazonaws.com/123456789012/pubsub-test-" + name + "-EventsQueue",
			"COPILOT_APPLICATION_NAME": "pubsub",
			"COPILOT_ENVIRONMENT_NAME": "test",
			tableVar:                   table,
			k:                          v,
		}
		return func(k string) string { return set[k] }
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{name, "-check-config"}, env("", ""), &out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{tableVar + "=" + table, "WORKER_WAIT_TIME=20s", "WORKER_MAX_RECEIVES=3", "WORKER_CONCURRENCY=10", "WORKER_DRAIN_TIMEOUT=20s", "LOG_LEVEL=info"} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("-check-config printed\n%s\nwant the line %s", out.String(), line)
		}
	}
	bad := map[string]string{tableVar: "", "COPILOT_QUEUE_URI": "", "WORKER_WAIT_TIME": "30s", "LOG_LEVEL": "chatty"}
	for _, v := range []string{tableVar, "COPILOT_QUEUE_URI", "WORKER_WAIT_TIME", "LOG_LEVEL"} {
		err := run(context.Background(), []string{name, "-check-config"}, env(v, bad[v]), &out)
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("-check-config with %s=%q: %v; want an error naming it", v, bad[v], err)
		}
	}
}
