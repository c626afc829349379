package e2e

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/iamcheck"
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
// through the recording proxy, its calls labelled with its name. With svc
// "" the process is the dev tool: its own calls (provisioning) are labelled
// "dev", and dev run labels each service it starts with the service's name
// (a later AWS_SDK_UA_APP_ID in a process's environment wins).
func awsEnv(t *testing.T, emu *integration.Emulator, svc string) []string {
	t.Helper()
	if svc == "" {
		svc = devTool
	}
	return append(emu.Env(), "AWS_ENDPOINT_URL="+recordingEndpoint(t, emu), "AWS_SDK_UA_APP_ID="+svc)
}

// devTool labels the dev tool's own calls: it has no task role, so the IAM
// check counts its calls and does not evaluate them.
const devTool = "dev"

func recordingEndpoint(t *testing.T, emu *integration.Emulator) string {
	t.Helper()
	recorderOnce.Do(func() { recorder, recorderErr = awscalls.Start(emu.Endpoint) })
	if recorderErr != nil {
		t.Fatal(recorderErr)
	}
	return recorder.URL()
}

// faultProxy starts a fault-injecting proxy in front of the recording one,
// closed when the test ends.
func faultProxy(t *testing.T, emu *integration.Emulator) *faults.Proxy {
	t.Helper()
	p, err := faults.Start(recordingEndpoint(t, emu))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Findings of Copilot's own grants that the check lists, explained, and
// does not fail on: grants the code rightly never uses, and wildcards that
// must stay. Each is matched on the statement it comes from (the policy's
// logical id or name, and its Sid) and the action. Anything else granted
// and unused, or wider than the calls it covers, fails the check (least
// privilege).
var copilotOwnGrants = append([]iamcheck.Accepted{
	{Policy: "DeadLetterPolicy", Action: "sqs:ReceiveMessage", Why: "Copilot's DLQ policy; the workers never read their DLQ (people do, with the runbook)"},
	{Policy: "DeadLetterPolicy", Action: "sqs:DeleteMessage", Why: "Copilot's DLQ policy; the workers never read their DLQ"},
	{Policy: "EventsKMSKey", Sid: "Allow task role encrypt/decrypt", Action: "kms:Encrypt", Why: "Copilot's queue key policy; the workers only receive (decrypt), never send"},
}, tracingGrants...)

// tracingGrants are the grants of the tracing sidecar's policy, AWSDistroOpenTelemetryPolicy,
// on the task role, in both deployers' stacks. observability.tracing: awsxray puts it there
// under Copilot, and overrides/cfn.patches.yml cuts it to the one action the collector's
// X-Ray-only config calls (Copilot's CloudWatch Logs, telemetry and sampling actions are gone;
// test/rendered's TestRenderedCollectorGrants keeps it so); the CDK app writes that one.
var tracingGrants = []iamcheck.Accepted{
	{Policy: "AWSDistroOpenTelemetryPolicy", Action: "xray:PutTraceSegments", Why: adotSidecar},
	{Policy: "AWSDistroOpenTelemetryPolicy", Action: "xray:PutTraceSegments", Wide: `Resource "*"`, Why: "X-Ray's PutTraceSegments has no resource type (AWS's Service Authorization Reference): * is the only resource a policy can grant it on"},
}

// adotSidecar explains the grants of Copilot's AWSDistroOpenTelemetryPolicy: the
// binaries send spans over OTLP to localhost (internal/tracing), never to AWS.
const adotSidecar = "called by the ADOT collector sidecar (observability.tracing: awsxray), not the app"

// checkIAM evaluates every recorded call of the three services against the task roles of both
// deployers' stacks, Copilot's render (RENDERED_DIR, written by make render) and the CDK app's
// assembly (CDK_OUT_DIR, written by make synth), with iamcheck.Check, and writes the reports to
// w. It returns false when either is missing under REQUIRE_INTEGRATION=1 or fails: nothing to
// check, a call unattributed or not allowed, or a grant of ours unused or too broad.
func checkIAM(w io.Writer) bool {
	var calls []awscalls.Call
	if recorder != nil {
		calls = recorder.Calls()
	}
	dir, ok := stacksDir(w, "RENDERED_DIR", "make test renders the stacks with Copilot first", len(calls))
	if dir == "" {
		return ok
	}
	rendered, err := cfn.LoadRendered(dir)
	if err != nil {
		fmt.Fprintf(w, "IAM check: FAILED: RENDERED_DIR: %v\n", err)
		return false
	}
	check := iamcheck.Check{
		Roles:    iamcheck.RenderedRoles(rendered),
		Region:   "eu-west-1",
		Services: []string{"publisher", "fulfilment", "promotion"},
		Tools:    []string{devTool},
		Accepted: copilotOwnGrants,
		Partial:  flag.Lookup("test.run") != nil && flag.Lookup("test.run").Value.String() != "",
	}
	fmt.Fprintln(w, "--- Copilot's stacks")
	ok = check.Run(w, calls)

	fmt.Fprintln(w, "--- the CDK app's stacks")
	dir, cdkOK := stacksDir(w, "CDK_OUT_DIR", "make test synthesizes the CDK app's stacks first", len(calls))
	if dir == "" {
		return cdkOK && ok
	}
	assembly, err := cfn.LoadAssembly(dir, rendered.Info.App)
	if err != nil {
		fmt.Fprintf(w, "IAM check: FAILED: CDK_OUT_DIR: %v\n", err)
		return false
	}
	check.Roles, check.Accepted = iamcheck.AssemblyRoles(assembly, rendered.Services()), tracingGrants
	return check.Run(w, calls) && ok
}

// stacksDir returns the folder of a deployer's stacks that variable name gives. Unset, it
// returns "" and says so to w: a failure under REQUIRE_INTEGRATION=1 (ok false), else a skip.
func stacksDir(w io.Writer, name, how string, calls int) (dir string, ok bool) {
	if dir = os.Getenv(name); dir != "" {
		return dir, true
	}
	if os.Getenv("REQUIRE_INTEGRATION") == "1" {
		fmt.Fprintf(w, "IAM check: %s is not set and REQUIRE_INTEGRATION=1 (%s)\n", name, how)
		return "", false
	}
	fmt.Fprintf(w, "IAM check skipped: %s is not set (%s); %d calls recorded\n", name, how, calls)
	return "", true
}
