package e2e

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
	"github.com/pubsub-app/pubsub/internal/devstack/iam"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// Every AWS call the binaries make in these tests goes through one
// recording proxy; after the tests, TestMain checks each against the task
// role of its service in the stacks Copilot renders (checkIAM).
var (
	recorderOnce sync.Once
	recorder     *awscalls.Recorder
	recorderErr  error
)

// awsEnv returns the variables that point service svc at the emulator
// through the recording proxy, its calls labelled with its name.
func awsEnv(t *testing.T, emu *integration.Emulator, svc string) []string {
	t.Helper()
	env := append(emu.Env(), "AWS_ENDPOINT_URL="+recordingEndpoint(t, emu))
	if svc != "" {
		env = append(env, "AWS_SDK_UA_APP_ID="+svc)
	}
	return env
}

func recordingEndpoint(t *testing.T, emu *integration.Emulator) string {
	t.Helper()
	recorderOnce.Do(func() { recorder, recorderErr = awscalls.Start(emu.Endpoint) })
	if recorderErr != nil {
		t.Fatal(recorderErr)
	}
	return recorder.URL()
}

// Grants that Copilot's own templates give every worker and that the code
// rightly never uses: listed, explained, not failures. Anything else
// granted and unused fails the check (least privilege).
var copilotOwnGrants = []struct{ source, action, why string }{
	{"DeadLetterPolicy", "sqs:ReceiveMessage", "Copilot's DLQ policy; the workers never read their DLQ (people do, with the runbook)"},
	{"DeadLetterPolicy", "sqs:DeleteMessage", "Copilot's DLQ policy; the workers never read their DLQ"},
	{"EventsKMSKey", "kms:Encrypt", "Copilot's queue key policy; the workers only receive (decrypt), never send"},
	// observability.tracing: awsxray puts the collector sidecar's policy on the task role;
	// overrides/cfn.patches.yml cuts it to the one action the collector's X-Ray-only config
	// calls (Copilot's CloudWatch Logs, telemetry and sampling actions are gone), and
	// test/rendered (TestRenderedCollectorGrants) keeps it so.
	{"AWSDistroOpenTelemetryPolicy", "xray:PutTraceSegments", adotSidecar},
}

// adotSidecar explains the grants of Copilot's AWSDistroOpenTelemetryPolicy: the
// binaries send spans over OTLP to localhost (internal/tracing), never to AWS.
const adotSidecar = "called by the ADOT collector sidecar (observability.tracing: awsxray), not the app"

// checkIAM evaluates every recorded call of the three services against
// Copilot's rendered stacks (RENDERED_DIR, written by `make render`) and
// writes the report to w. It returns false when a call is not allowed, or a
// grant of ours goes unused.
func checkIAM(w io.Writer) bool {
	if recorder == nil {
		return true
	}
	calls := recorder.Calls()
	dir := os.Getenv("RENDERED_DIR")
	if dir == "" {
		if os.Getenv("REQUIRE_INTEGRATION") == "1" {
			fmt.Fprintln(w, "IAM check: RENDERED_DIR is not set and REQUIRE_INTEGRATION=1 (make test renders the stacks with Copilot first)")
			return false
		}
		fmt.Fprintf(w, "IAM check skipped: RENDERED_DIR is not set (make test renders the stacks with Copilot); %d calls recorded\n", len(calls))
		return true
	}
	const app, region = "pubsub", "eu-west-1"
	ok := true
	services := map[string]*iam.Service{} // by svc/env
	var allowed = map[string][]iam.Request{}
	type line struct{ svc, text string }
	var report []line
	seen := map[string]bool{}
	// One emulator, one account: read it from the first queue URL or ARN.
	var account string
	for _, c := range calls {
		for _, r := range c.Resources {
			if account == "" && (strings.HasPrefix(r, "arn:") || strings.Contains(r, "://")) {
				account = accountOf(r)
			}
		}
	}
	for _, c := range calls {
		// A second process of a service (the chaos tests' fulfilment-b) runs
		// under the same task role.
		c.Caller, _, _ = strings.Cut(c.Caller, "-")
		switch c.Caller {
		case "publisher", "fulfilment", "promotion":
		default:
			continue // the tests' own calls and the dev tool's provisioning
		}
		if len(c.Resources) == 0 {
			fmt.Fprintf(w, "IAM check: %s: no resource recorded\n", c)
			ok = false
			continue
		}
		env, found := iam.EnvOf(c.Resources[0], app)
		if !found {
			continue // not one of the application's resources
		}
		key := c.Caller + "/" + env
		svc := services[key]
		if svc == nil {
			var err error
			if svc, err = iam.LoadService(dir, app, env, c.Caller, region, account); err != nil {
				fmt.Fprintf(w, "IAM check: %v\n", err)
				return false
			}
			services[key] = svc
		}
		reqs, err := svc.Requests(c, region, account)
		if err != nil {
			fmt.Fprintf(w, "IAM check: %v\n", err)
			ok = false
			continue
		}
		for _, r := range reqs {
			d := svc.Grants.Evaluate(r.Action, r.Resource)
			generic := strings.ReplaceAll(fmt.Sprintf("%s:%s → %s on %s", c.Service, c.API, r.Action, r.Resource), "-"+env+"-", "-${Env}-")
			if r.Why != "" {
				generic += " (" + r.Why + ")"
			}
			if seen[c.Caller+generic] {
				if d.Allowed {
					allowed[c.Caller] = append(allowed[c.Caller], r)
				}
				continue
			}
			seen[c.Caller+generic] = true
			if d.Allowed {
				allowed[c.Caller] = append(allowed[c.Caller], r)
				report = append(report, line{c.Caller, fmt.Sprintf("  allowed  %s\n           by %s", generic, strings.ReplaceAll(d.By.Source, "-"+env+"-", "-${Env}-"))})
				continue
			}
			ok = false
			why := d.Why
			if d.By != nil {
				why = "denied by " + d.By.String()
			}
			report = append(report, line{c.Caller, fmt.Sprintf("  DENIED   %s\n           service %s, API %s, action %s, resource %s: %s", generic, c.Service, c.API, r.Action, r.Resource, why)})
		}
	}
	// Unused grants, per service, over every environment.
	unused := map[string]map[string]bool{}
	for key, svc := range services {
		name, env, _ := strings.Cut(key, "/")
		reqs := allowed[name]
		if unused[name] == nil {
			unused[name] = map[string]bool{}
			for _, g := range svc.Unused(reqs) {
				unused[name][describeGrant(g, env)] = true
			}
			continue
		}
		still := map[string]bool{}
		for _, g := range svc.Unused(reqs) {
			if d := describeGrant(g, env); unused[name][d] {
				still[d] = true
			}
		}
		unused[name] = still
	}
	fullRun := flag.Lookup("test.run") == nil || flag.Lookup("test.run").Value.String() == ""
	fmt.Fprintf(w, "IAM check: %d calls of the services recorded, evaluated against the task roles in %s\n", len(calls), dir)
	if !fullRun {
		fmt.Fprintln(w, "(a -run filter is set: grants that no call used are not listed)")
	}
	for _, name := range []string{"publisher", "fulfilment", "promotion"} {
		fmt.Fprintf(w, "%s:\n", name)
		for _, l := range report {
			if l.svc == name {
				fmt.Fprintln(w, l.text)
			}
		}
		grants := slices.Sorted(func(yield func(string) bool) {
			for g := range unused[name] {
				if !yield(g) {
					return
				}
			}
		})
		for _, g := range grants {
			if !fullRun {
				continue // a -run filter leaves calls out: an unused grant says nothing then
			}
			if why := explained(g); why != "" {
				fmt.Fprintf(w, "  unused   %s\n           (accepted: %s)\n", g, why)
				continue
			}
			ok = false
			fmt.Fprintf(w, "  UNUSED   %s\n           granted but no call used it: remove it (least privilege)\n", g)
		}
	}
	return ok
}

func describeGrant(g iam.Grant, env string) string {
	return strings.ReplaceAll(fmt.Sprintf("%s on %s, from %s", g.Action, g.Resource, g.Statement.Source), "-"+env+"-", "-${Env}-")
}

func explained(grant string) string {
	for _, c := range copilotOwnGrants {
		if strings.HasPrefix(grant, c.action+" ") && strings.Contains(grant, c.source) {
			return c.why
		}
	}
	return ""
}

// accountOf reads the account id from a queue URL (…/ACCOUNT/NAME) or an ARN.
func accountOf(resource string) string {
	if strings.HasPrefix(resource, "arn:") {
		if p := strings.Split(resource, ":"); len(p) > 4 {
			return p[4]
		}
	}
	p := strings.Split(resource, "/")
	if len(p) >= 2 {
		return p[len(p)-2]
	}
	return ""
}
