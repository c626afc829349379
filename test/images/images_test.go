// Package images runs the three images `make images` builds as ECS runs a task, and places orders
// through them (make test-images). Each container gets what its task definition in Copilot's
// rendered stack (RENDERED_DIR) gives it: the variables Copilot injects and the manifest's, the
// addon outputs, resolved to the resources provisioned on the emulator under the rendered
// environment's names, the image's own user (nonroot, 65532), ReadonlyRootFilesystem, the task's
// memory and CPU, the port mapping and the StopTimeout that `docker stop` is given. The containers
// share a Docker network, on which the emulator is reachable at the network's gateway (a TCP
// forwarder in this test to the emulator on the host's loopback); the test talks to the publisher
// through its port published on 127.0.0.1.
//
// What only AWS shows is not here: the task role's credentials (the containers get the
// emulator's test keys), the awslogs driver, the load balancer's own health checks (the health
// check path is probed from inside the task's network namespace instead), Fargate's kernel and
// the tracing sidecar, whose image no registry serves here.
package images

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// nonrootUID is distroless's nonroot user, which the Dockerfiles' USER names.
const nonrootUID = "65532"

var docker = cmp.Or(os.Getenv("DOCKER"), "docker")

// TestImagesRunAsECSRunsThem places orders through the containerised publisher, sees the
// containerised workers fulfil them, stops a worker under load with `docker stop` and the
// rendered StopTimeout, and checks that nothing is lost.
func TestImagesRunAsECSRunsThem(t *testing.T) {
	integration.Short(t)
	tag := os.Getenv("IMAGE_TAG")
	if tag == "" {
		skip.Exempt(t, "IMAGE_TAG is unset: make test-images runs this test, on the images make images builds")
	}
	emu := integration.Start(t)
	r := integration.Rendered(t)
	top := integration.LoadTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The resources under the rendered application, environment and region, so that the names
	// in the rendered task definitions are the emulator's.
	cfg := emu.Config.Copy()
	cfg.Region = r.Info.Region
	dep, err := topology.Provision(ctx, topology.NewClients(cfg), top, r.Info.Env)
	if err != nil {
		t.Fatalf("provision environment %s: %v", r.Info.Env, err)
	}
	db, q := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	regional := &integration.Emulator{Endpoint: emu.Endpoint, Config: cfg}
	purge(ctx, t, db, q, regional, dep)

	nw := newNetwork(t)
	endpoint := integration.NewTCPProxy(t, nw.gateway, emu.Endpoint, true).URL

	tasks := map[string]*task{}
	for _, svc := range []string{"publisher", "fulfilment", "promotion"} {
		tasks[svc] = taskOf(t, r, top, dep, svc)
		tasks[svc].env = append(tasks[svc].env,
			// What ECS sets in every container, and the emulator in place of AWS.
			"AWS_REGION="+r.Info.Region, "AWS_DEFAULT_REGION="+r.Info.Region,
			"AWS_EXECUTION_ENV=AWS_ECS_FARGATE", "AWS_ENDPOINT_URL="+endpoint,
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test")
	}
	pub := nw.run(t, tasks["publisher"], "pubsub/publisher:"+tag)
	ful := nw.run(t, tasks["fulfilment"], "pubsub/fulfilment:"+tag)
	nw.run(t, tasks["promotion"], "pubsub/promotion:"+tag)

	t.Run("as ECS runs a task", func(t *testing.T) {
		for _, c := range nw.containers {
			c.checkHardening(t)
		}
	})

	base := pub.publishedURL(t, tasks["publisher"].port)
	hc := tasks["publisher"].healthCheckPath
	t.Run("health check inside the task", func(t *testing.T) {
		code, out := 0, ""
		defer func() { t.Logf("GET %s from the publisher's network namespace: %d %s", hc, code, out) }()
		integration.WaitUntil(t, "GET "+hc+" inside the publisher's task to answer 200", time.Minute, func() bool {
			code, out = nw.probe(t, pub, fmt.Sprintf("http://127.0.0.1:%d%s", tasks["publisher"].port, hc))
			return code == 200
		})
	})

	t.Run("orders of 95.00 and 20.00", func(t *testing.T) {
		big, errBig := integration.PostOrder(base, "", "Ada Lovelace", "95.00")
		small, errSmall := integration.PostOrder(base, "", "Alan Turing", "20.00")
		if err := errors.Join(errBig, errSmall); err != nil {
			t.Fatal(err)
		}
		fulfilments, coupons := dep.Services["fulfilment"].Tables["fulfilmentsTable"], dep.Services["promotion"].Tables["couponsTable"]
		integration.WaitUntil(t, "both orders fulfilled and one coupon issued", 90*time.Second, func() bool {
			return len(orderIDs(ctx, t, db, fulfilments)) == 2 && len(orderIDs(ctx, t, db, coupons)) == 1
		})
		if got := orderIDs(ctx, t, db, fulfilments); !slices.Equal(got, slices.Sorted(slices.Values([]string{big, small}))) {
			t.Errorf("fulfilled %q; want %q and %q", got, big, small)
		}
		if got := orderIDs(ctx, t, db, coupons); !slices.Equal(got, []string{big}) {
			t.Errorf("coupons for %q; want one, for the 95.00 order %s", got, big)
		}
		t.Logf("placed 2 orders through the publisher's container: 2 fulfilled, 1 coupon (for 95.00)")
	})

	t.Run("docker stop of a worker under load", func(t *testing.T) {
		stopTimeout := tasks["fulfilment"].stopTimeout
		stopped := ful
		placed := placeLoad(t, base, func(n int) {
			if n != 20 {
				return
			}
			start := time.Now()
			code := ful.stop(t, stopTimeout)
			took := time.Since(start)
			t.Logf("docker stop -t %d fulfilment after 20 orders: exited %d in %s (StopTimeout %ds)", stopTimeout, code, took.Round(10*time.Millisecond), stopTimeout)
			if code != 0 || took >= time.Duration(stopTimeout)*time.Second {
				t.Errorf("the fulfilment worker exited %d after %s; want 0 within its StopTimeout of %ds (137: ECS's SIGKILL)", code, took, stopTimeout)
			}
			ful = nw.run(t, tasks["fulfilment"], "pubsub/fulfilment:"+tag) // ECS starts a new task
		})
		fulfilments, coupons := dep.Services["fulfilment"].Tables["fulfilmentsTable"], dep.Services["promotion"].Tables["couponsTable"]
		wantFul, wantCoupons := append([]string{}, placed.all...), append([]string{}, placed.big...)
		wantFul = append(wantFul, orderIDs(ctx, t, db, fulfilments)...) // the two orders above are in there too
		integration.WaitUntil(t, "every order fulfilled once and every order of 80.00 or more given a coupon", 3*time.Minute, func() bool {
			return len(orderIDs(ctx, t, db, fulfilments)) >= len(slices.Compact(slices.Sorted(slices.Values(wantFul))))
		})
		gotFul := orderIDs(ctx, t, db, fulfilments)
		for _, id := range placed.all {
			if !slices.Contains(gotFul, id) {
				t.Errorf("order %s was placed and never fulfilled", id)
			}
		}
		integration.WaitUntil(t, "coupons", time.Minute, func() bool {
			got := orderIDs(ctx, t, db, coupons)
			return !slices.ContainsFunc(wantCoupons, func(id string) bool { return !slices.Contains(got, id) })
		})
		if got, want := len(orderIDs(ctx, t, db, coupons)), len(placed.big)+1; got != want {
			t.Errorf("%d coupons; want %d (one per order of 80.00 or more)", got, want)
		}
		for _, svc := range []string{"fulfilment", "promotion"} {
			if n := regional.QueueDepth(ctx, t, dep.Services[svc].DLQURL); n != 0 {
				t.Errorf("%s's dead-letter queue holds %d messages; want none", svc, n)
			}
		}
		before, after := processed(stopped.logs()), processed(ful.logs())
		t.Logf("the stopped worker processed %d messages, its replacement %d", before, after)
		if after == 0 {
			t.Errorf("the replacement worker processed nothing: the stop did not happen under load")
		}
		t.Logf("under load: %d orders placed (%d of 80.00 or more) while the fulfilment worker was stopped and replaced; %d fulfilled, %d coupons, 0 dead-lettered, 0 lost",
			len(placed.all), len(placed.big), len(gotFul)-2, len(orderIDs(ctx, t, db, coupons))-1)
	})
}

// task is what one service's rendered task definition says of its own container.
type task struct {
	svc             string
	env             []string
	readOnly        bool
	stopTimeout     int // seconds
	memoryMiB, cpu  int // the task's (Fargate: the container may use all of it)
	port            int // 0: none
	healthCheckPath string
}

// taskOf reads svc's container definition from its rendered stack and resolves its environment
// against dep: CloudFormation's values (a queue's URL, an addon output, a parameter) as the
// emulator's resources, literal values as they are.
func taskOf(t *testing.T, r *cfn.Rendered, top *topology.Topology, dep *topology.Deployment, svc string) *task {
	t.Helper()
	stack, params := r.Stacks[svc], r.Params[svc]
	main, vars, err := r.Container(svc)
	if err != nil {
		t.Fatal(err)
	}
	props := stack.Resources[stack.OfType("AWS::ECS::TaskDefinition")[0]].Properties
	tk := &task{svc: svc, stopTimeout: 30}
	resolve := func(name string, v any) string {
		s, err := resolveValue(v, r, params, top, dep, svc)
		if err != nil {
			t.Fatalf("%s: %s: %v", r.StackFile(svc), name, err)
		}
		return s
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if name == topology.SidecarOTLPVariable {
			continue // the tracing sidecar's receiver: no collector runs here
		}
		tk.env = append(tk.env, name+"="+resolve(name, vars[name]))
	}
	tk.readOnly, _ = main["ReadonlyRootFilesystem"].(bool)
	if n, ok := main["StopTimeout"].(int); ok {
		tk.stopTimeout = n
	}
	tk.memoryMiB, _ = strconv.Atoi(resolve("Memory", props["Memory"]))
	tk.cpu, _ = strconv.Atoi(resolve("Cpu", props["Cpu"]))
	if pm, _ := main["PortMappings"].([]any); len(pm) > 0 {
		m, _ := pm[0].(map[string]any)
		tk.port, _ = m["ContainerPort"].(int)
	}
	for _, id := range stack.OfType("AWS::ElasticLoadBalancingV2::TargetGroup") {
		tk.healthCheckPath, _ = stack.Resources[id].Properties["HealthCheckPath"].(string)
	}
	return tk
}

// resolveValue is what CloudFormation makes of a container's variable: the parameters and
// pseudo parameters, the worker's queue, the addons' outputs and, for a literal, the rendered
// account's ARNs rewritten to the emulator's.
func resolveValue(v any, r *cfn.Rendered, params map[string]string, top *topology.Topology, dep *topology.Deployment, svc string) (string, error) {
	lookup := func(name string) (string, bool) {
		switch name {
		case "AWS::Region":
			return r.Info.Region, true
		case "EventsQueue":
			u := dep.Services[svc].QueueURL
			return u, u != ""
		}
		p, ok := params[name]
		return p, ok
	}
	switch x := v.(type) {
	case string:
		for key, arn := range dep.Topics { // a topic ARN as rendered (its account) → the emulator's
			publisher, topic, _ := strings.Cut(key, ":")
			x = replaceARN(x, copilot.TopicName(dep.App, dep.Env, publisher, topic), arn)
		}
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	}
	if name, ok := cfn.Ref(v); ok {
		if s, ok := lookup(name); ok {
			return s, nil
		}
		return "", fmt.Errorf("Ref %s: nothing here resolves it", name)
	}
	if res, attr, ok := cfn.GetAtt(v); ok {
		if output, ok := strings.CutPrefix(attr, "Outputs."); ok && res == "AddonsStack" {
			for _, s := range top.Services {
				for _, tbl := range s.Tables {
					if s.Name == svc && tbl.Output == output {
						return dep.Services[svc].Tables[tbl.LogicalID], nil
					}
				}
			}
			return "", fmt.Errorf("GetAtt AddonsStack.%s: no addon output of %s by that name", attr, svc)
		}
		if res == "EnvControllerAction" && attr == "PublicLoadBalancerDNSName" {
			return "pubsub-lb.invalid", nil // the load balancer's name: no load balancer here
		}
		return "", fmt.Errorf("GetAtt %s.%s: nothing here resolves it", res, attr)
	}
	if fn, arg, ok := cfn.Intrinsic(v); ok && fn == "Fn::Sub" {
		s, _ := arg.(string)
		var out strings.Builder
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				out.WriteString(s)
				return out.String(), nil
			}
			j := strings.Index(s[i:], "}")
			if j < 0 {
				return "", fmt.Errorf("Fn::Sub %q: an unclosed ${", arg)
			}
			val, ok := lookup(s[i+2 : i+j])
			if !ok {
				return "", fmt.Errorf("Fn::Sub %q: ${%s}: nothing here resolves it", arg, s[i+2:i+j])
			}
			out.WriteString(s[:i] + val)
			s = s[i+j+1:]
		}
	}
	return "", fmt.Errorf("%v: a value this test cannot resolve", v)
}

// replaceARN rewrites every SNS topic ARN in s whose name is name to arn.
func replaceARN(s, name, arn string) string {
	var out strings.Builder
	for {
		i := strings.Index(s, "arn:aws:sns:")
		if i < 0 {
			return out.String() + s
		}
		end := i + len("arn:aws:sns:")
		for end < len(s) && (s[end] == ':' || s[end] == '-' || s[end] == '_' || s[end] >= '0' && s[end] <= '9' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
			end++
		}
		found := s[i:end]
		if strings.HasSuffix(found, ":"+name) {
			found = arn
		}
		out.WriteString(s[:i] + found)
		s = s[end:]
	}
}

// network is a user-defined Docker network with the emulator reachable on its gateway.
type network struct {
	name, gateway string
	containers    []*container
	mu            sync.Mutex
}

func newNetwork(t *testing.T) *network {
	t.Helper()
	if out, err := exec.Command(docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		skip.OrFail(t, fmt.Sprintf("no Docker engine answers (%s info: %v: %s)", docker, err, bytes.TrimSpace(out)))
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := &network{name: "pubsub-images-" + hex.EncodeToString(b)}
	dockerRun(t, "network", "create", n.name)
	t.Cleanup(func() {
		for _, c := range n.containers {
			if t.Failed() {
				t.Logf("--- %s (%s) logs:\n%s", c.svc, c.name, c.logs())
			}
			_ = exec.Command(docker, "rm", "-f", c.name).Run()
		}
		_ = exec.Command(docker, "network", "rm", n.name).Run()
	})
	n.gateway = dockerRun(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", n.name)
	if net.ParseIP(n.gateway) == nil {
		t.Fatalf("network %s: gateway %q", n.name, n.gateway)
	}
	return n
}

// container is one running task's container.
type container struct {
	svc, name string
	readOnly  bool
}

// run starts tk's container from image as ECS would: its variables, the image's user, a
// read-only root file system when the task definition says so, the task's memory and CPU, its
// port (published on 127.0.0.1 here), on the network.
func (n *network) run(t *testing.T, tk *task, image string) *container {
	t.Helper()
	n.mu.Lock()
	c := &container{svc: tk.svc, name: fmt.Sprintf("%s-%s-%d", n.name, tk.svc, len(n.containers)), readOnly: tk.readOnly}
	n.containers = append(n.containers, c)
	n.mu.Unlock()
	if !tk.readOnly {
		t.Errorf("%s's task definition does not set ReadonlyRootFilesystem: true", tk.svc)
	}
	args := []string{"run", "-d", "--name", c.name, "--network", n.name, "--platform", "linux/amd64"}
	if tk.readOnly {
		args = append(args, "--read-only")
	}
	if tk.memoryMiB > 0 {
		args = append(args, "--memory", fmt.Sprintf("%dm", tk.memoryMiB))
	}
	if tk.cpu > 0 {
		args = append(args, "--cpus", strconv.FormatFloat(float64(tk.cpu)/1024, 'f', -1, 64))
	}
	if tk.port > 0 {
		args = append(args, "-p", fmt.Sprintf("127.0.0.1::%d", tk.port))
	}
	for _, e := range tk.env {
		args = append(args, "-e", e)
	}
	dockerRun(t, append(args, image)...)
	return c
}

// checkHardening: the container runs as 65532, its root file system is read-only, and it has
// no shell.
func (c *container) checkHardening(t *testing.T) {
	t.Helper()
	state := dockerRun(t, "inspect", "-f", "{{.State.Status}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", c.name)
	if state != "running nonroot:nonroot true" {
		t.Errorf("%s: status, image user and read-only root = %q; want \"running nonroot:nonroot true\"", c.svc, state)
	}
	top := dockerRun(t, "top", c.name, "-o", "uid,pid,comm")
	lines := strings.Split(top, "\n")
	if len(lines) != 2 || strings.Fields(lines[1])[0] != nonrootUID {
		t.Errorf("%s: processes\n%s\nwant one, the service, as uid %s", c.svc, top, nonrootUID)
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/busybox/sh"} {
		if out, err := exec.Command(docker, "exec", c.name, sh, "-c", "true").CombinedOutput(); err == nil {
			t.Errorf("%s: docker exec %s ran (%s); want no shell in the image", c.svc, sh, out)
		}
	}
	t.Logf("%s: runs as uid %s, read-only root, no shell", c.svc, nonrootUID)
}

// publishedURL is the host's address of the container's port.
func (c *container) publishedURL(t *testing.T, port int) string {
	t.Helper()
	hostPort := dockerRun(t, "port", c.name, fmt.Sprintf("%d/tcp", port))
	hostPort, _, _ = strings.Cut(hostPort, "\n")
	return "http://" + hostPort
}

// stop is docker stop with ECS's stop timeout: SIGTERM, then SIGKILL after timeout seconds. It
// returns the container's exit code.
func (c *container) stop(t *testing.T, timeout int) int {
	t.Helper()
	dockerRun(t, "stop", "-t", strconv.Itoa(timeout), c.name)
	code, _ := strconv.Atoi(dockerRun(t, "inspect", "-f", "{{.State.ExitCode}}", c.name))
	return code
}

func (c *container) logs() string {
	out, _ := exec.Command(docker, "logs", c.name).CombinedOutput()
	return string(out)
}

// probe GETs u from inside c's network namespace (as a health check from within the task does)
// with a static probe binary in an image of its own, and returns the status code.
func (n *network) probe(t *testing.T, c *container, u string) (int, string) {
	t.Helper()
	image := probeImage(t)
	out, err := exec.Command(docker, "run", "--rm", "--network", "container:"+c.name, image, u).CombinedOutput()
	code, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Sprintf("%v: %s", err, out)
	}
	return code, ""
}

var (
	probeOnce sync.Once
	probeTag  string
	probeErr  error
)

// probeImage builds, once, an image FROM scratch holding only the probe (./probe), no pull.
func probeImage(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "probe")
		if err != nil {
			probeErr = err
			return
		}
		defer os.RemoveAll(dir)
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), "./probe")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := build.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("go build ./probe: %v: %s", err, out)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY probe /probe\nENTRYPOINT [\"/probe\"]\n"), 0o644); err != nil {
			probeErr = err
			return
		}
		probeTag = "pubsub-test/probe:local"
		if out, err := exec.Command(docker, "build", "-q", "-t", probeTag, dir).CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("docker build the probe: %v: %s", err, out)
		}
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probeTag
}

func dockerRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", docker, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out))
}

// load is what placeLoad placed: every order, and those of 80.00 or more.
type load struct{ all, big []string }

// placeLoad places 60 orders, about 10 a second, alternating totals below and above the
// promotion's threshold, calling at(n) after the n-th; at may block (docker stop does), and the
// orders keep coming meanwhile.
func placeLoad(t *testing.T, base string, at func(n int)) load {
	t.Helper()
	const orders = 60
	var (
		mu   sync.Mutex
		l    load
		n    atomic.Int32
		wg   sync.WaitGroup
		errs []error
	)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range orders {
		<-tick.C
		amount := "20.00"
		if i%2 == 1 {
			amount = strconv.Itoa(80+i) + ".50"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := integration.PostOrder(base, "", fmt.Sprintf("Customer %d", i), amount)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			l.all = append(l.all, id)
			if amount != "20.00" {
				l.big = append(l.big, id)
			}
		}()
		if k := int(n.Add(1)); k == 20 {
			wg.Add(1)
			go func() { defer wg.Done(); at(k) }()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("placing orders: %v", err)
	}
	return l
}

// orderIDs lists the order ids in a worker's table, sorted (the coupons table also holds the
// items that claim each code, which are not orders).
func orderIDs(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) []string {
	ids := slices.DeleteFunc(integration.Strings(ctx, t, db, table, "orderId"), func(id string) bool { return strings.HasPrefix(id, promotion.CodeKeyPrefix) })
	slices.Sort(ids)
	return ids
}

// purge empties the environment's tables and queues: it is the rendered one, which a run
// before this one on the same emulator may have used.
func purge(ctx context.Context, t *testing.T, db *dynamodb.Client, q *sqs.Client, emu *integration.Emulator, dep *topology.Deployment) {
	t.Helper()
	for _, s := range slices.Sorted(maps.Keys(dep.Services)) {
		d := dep.Services[s]
		for _, u := range []string{d.QueueURL, d.DLQURL} {
			if u == "" {
				continue
			}
			for emu.QueueDepth(ctx, t, u) > 0 {
				out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range out.Messages {
					_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &u, ReceiptHandle: m.ReceiptHandle})
				}
			}
		}
		for _, table := range d.Tables {
			out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Items) > 0 {
				t.Fatalf("table %s holds %d items from an earlier run on this emulator; start a fresh emulator (make test-images does)", table, len(out.Items))
			}
		}
	}
}

// processed counts a worker's "message processed" log lines.
func processed(logs string) int {
	n := 0
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `"msg":"message processed"`) {
			n++
		}
	}
	return n
}
