// Package images runs the three images `make images` builds as ECS runs a task, and places orders
// through them (make test-images), once as each deployer's task definitions say: Copilot's
// rendered stacks (RENDERED_DIR) and the CDK app's synthesized ones (CDK_OUT_DIR). Each container
// gets what its task definition gives it: its variables (Copilot's injected ones, the CDK app's,
// the manifest's, the tables' names), resolved as CloudFormation would to the resources
// provisioned on the emulator under the environment's names, the image's own user (nonroot,
// 65532), ReadonlyRootFilesystem, the task's memory and CPU, the port mapping and the StopTimeout
// that `docker stop` is given. The containers share a Docker network, on which the emulator is
// reachable at the network's gateway (a TCP forwarder in this test to the emulator on the host's
// loopback); the test talks to the publisher through its port published on 127.0.0.1.
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
	"path"
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

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// nonrootUID is distroless's nonroot user, which the Dockerfiles' USER names.
const nonrootUID = "65532"

var docker = cmp.Or(os.Getenv("DOCKER"), "docker")

// TestImagesRunAsECSRunsThem, for each deployer's task definitions: places orders through the
// containerised publisher, sees the containerised workers fulfil them, stops a worker under load
// with `docker stop` and its StopTimeout, and checks that nothing is lost.
func TestImagesRunAsECSRunsThem(t *testing.T) {
	integration.Short(t)
	tag := os.Getenv("IMAGE_TAG")
	if tag == "" {
		skip.Exempt(t, "IMAGE_TAG is unset: make test-images runs this test, on the images make images builds")
	}
	emu := integration.Start(t)
	r := integration.Rendered(t)
	a := integration.Assembly(t)
	top := integration.LoadTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// The resources under the rendered application, environment and region, so that the names
	// in the task definitions are the emulator's.
	cfg := emu.Config.Copy()
	cfg.Region = r.Info.Region
	dep, err := topology.Provision(ctx, topology.NewClients(cfg), top, r.Info.Env)
	if err != nil {
		t.Fatalf("provision environment %s: %v", r.Info.Env, err)
	}
	db, q := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	regional := &integration.Emulator{Endpoint: emu.Endpoint, Config: cfg}
	account := accountOf(t, dep)

	// Each deployer's stacks, instantiated in the emulator's region and account.
	copilotStacks, err := r.Deployment(r.Info.Env, r.Info.Region, account)
	if err != nil {
		t.Fatalf("RENDERED_DIR: %v", err)
	}
	cdkStacks, err := a.Deployment(r.Info.Env, r.Info.Region, account, r.Services())
	if err != nil {
		t.Fatalf("CDK_OUT_DIR: %v", err)
	}
	for i, d := range []*cfn.Deployment{copilotStacks, cdkStacks} {
		t.Run(d.Deployer, func(t *testing.T) {
			if i > 0 {
				dep = reprovision(ctx, t, db, cfg, top, dep)
			}
			purge(ctx, t, db, q, regional, dep)
			runTasks(ctx, t, d, dep, db, regional, tag)
		})
	}
}

// reprovision drops the tables of the run before and provisions the environment again: the
// same names, the tables empty (the queues and topic are kept, and purge drains the queues).
func reprovision(ctx context.Context, t *testing.T, db *dynamodb.Client, cfg aws.Config, top *topology.Topology, dep *topology.Deployment) *topology.Deployment {
	t.Helper()
	gone := dynamodb.NewTableNotExistsWaiter(db)
	for _, s := range slices.Sorted(maps.Keys(dep.Services)) {
		for _, table := range dep.Services[s].Tables {
			if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
				t.Fatalf("drop table %s: %v", table, err)
			}
			if err := gone.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
				t.Fatalf("drop table %s: %v", table, err)
			}
		}
	}
	again, err := topology.Provision(ctx, topology.NewClients(cfg), top, dep.Env)
	if err != nil {
		t.Fatalf("provision environment %s again: %v", dep.Env, err)
	}
	return again
}

// runTasks runs the three images as deployment d's task definitions say, against dep's resources.
func runTasks(ctx context.Context, t *testing.T, d *cfn.Deployment, dep *topology.Deployment, db *dynamodb.Client, regional *integration.Emulator, tag string) {
	nw := newNetwork(t)
	endpoint := integration.NewTCPProxy(t, nw.gateway, regional.Endpoint, true).URL

	tasks := map[string]*task{}
	for _, svc := range []string{"publisher", "fulfilment", "promotion"} {
		tasks[svc] = taskOf(t, d, dep, svc)
		tasks[svc].env = append(tasks[svc].env,
			// What ECS sets in every container, and the emulator in place of AWS.
			"AWS_REGION="+d.Region, "AWS_DEFAULT_REGION="+d.Region,
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

// taskOf reads svc's container definition from deployment d, its environment resolved as
// CloudFormation would (d is instantiated in the emulator's region and account, under the
// environment's names), but that SQS answers a queue's URL in its own form on the emulator: a
// queue's URL as CloudFormation makes it is the emulator's.
func taskOf(t *testing.T, d *cfn.Deployment, dep *topology.Deployment, svc string) *task {
	t.Helper()
	w := d.Workload(svc)
	if w == nil {
		t.Fatalf("%s: no task definition of %s", d.Dir, svc)
	}
	vars, err := w.Env()
	if err != nil {
		t.Fatal(err)
	}
	queues := map[string]string{}
	for _, s := range dep.Services {
		if s.QueueURL != "" {
			queues[fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", d.Region, d.Account, path.Base(s.QueueURL))] = s.QueueURL
		}
	}
	tk := &task{svc: svc, stopTimeout: 30}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if name == topology.SidecarOTLPVariable {
			continue // the tracing sidecar's receiver: no collector runs here
		}
		v := cmp.Or(queues[vars[name]], vars[name])
		if cfn.IsUnresolved(v) && name != "COPILOT_LB_DNS" {
			t.Fatalf("%s: %s = %s: only a real deployment resolves it", w.File, name, v)
		}
		tk.env = append(tk.env, name+"="+v)
	}
	tk.readOnly, _ = w.Container["ReadonlyRootFilesystem"].(bool)
	if n, ok := w.Container["StopTimeout"].(int); ok {
		tk.stopTimeout = n
	}
	props, err := w.Stack().Resolve(w.Stack().Template.Resources[w.TaskDefinition].Properties)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := props.(map[string]any)
	tk.memoryMiB, _ = strconv.Atoi(fmt.Sprint(m["Memory"]))
	tk.cpu, _ = strconv.Atoi(fmt.Sprint(m["Cpu"]))
	if pm, _ := w.Container["PortMappings"].([]any); len(pm) > 0 {
		m, _ := pm[0].(map[string]any)
		tk.port, _ = m["ContainerPort"].(int)
	}
	stack := w.Stack().Template
	for _, id := range stack.OfType("AWS::ElasticLoadBalancingV2::TargetGroup") {
		tk.healthCheckPath, _ = stack.Resources[id].Properties["HealthCheckPath"].(string)
	}
	return tk
}

// accountOf is the emulator's account: the one in the ARN of a topic provisioned on it.
func accountOf(t *testing.T, dep *topology.Deployment) string {
	t.Helper()
	for _, arn := range dep.Topics {
		if parts := strings.Split(arn, ":"); len(parts) == 6 {
			return parts[4]
		}
	}
	t.Fatalf("no topic ARN provisioned to read the emulator's account from: %v", dep.Topics)
	return ""
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
