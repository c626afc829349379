package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LocalStackServices are the services the application uses, the only ones
// LocalStack is asked to run.
var LocalStackServices = []string{"sns", "sqs", "dynamodb"}

// LocalStackOptions says where LocalStack is installed and where its output goes.
type LocalStackOptions struct {
	// Python is a Python with localstack-core 4.14 installed.
	Python string
	// Libs is the folder LocalStack knows as /usr/lib/localstack: Java under
	// java/21 and DynamoDB Local under dynamodb-local/2, so it never downloads them.
	Libs string
	// Logs receives LocalStack's output (and DynamoDB Local's).
	Logs io.Writer
}

// LocalStackInstall returns the options for the folder that
// emulators/localstack/install.sh (`make localstack`) fills.
func LocalStackInstall(dir string, logs io.Writer) LocalStackOptions {
	return LocalStackOptions{
		Python: filepath.Join(dir, "venv", "bin", "python"),
		Libs:   filepath.Join(dir, "root", "usr", "lib", "localstack"),
		Logs:   logs,
	}
}

// StartLocalStack runs LocalStack in host mode (a plain process, no Docker)
// on 127.0.0.1 at a free port and waits until SNS, SQS and DynamoDB run.
// Each run gets a scratch FILESYSTEM_ROOT, removed by Stop, so state never
// outlives the run and two runs never share a folder; only the installed
// libraries are shared, read-only, through a symlink.
func StartLocalStack(ctx context.Context, opt LocalStackOptions) (*Server, error) {
	const hint = "run `make localstack`"
	// Absolute: the process runs in its scratch root.
	python, err := filepath.Abs(opt.Python)
	if err != nil {
		return nil, fmt.Errorf("LocalStack's Python: %w", err)
	}
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("LocalStack's Python: %w (%s)", err, hint)
	}
	libs, err := filepath.Abs(opt.Libs)
	if err != nil {
		return nil, fmt.Errorf("LocalStack's libraries: %w", err)
	}
	for _, f := range []string{"java/21/bin/java", "dynamodb-local/2/DynamoDBLocal.jar"} {
		if _, err := os.Stat(filepath.Join(libs, f)); err != nil {
			return nil, fmt.Errorf("LocalStack's Java and DynamoDB Local: %w (%s)", err, hint)
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "localstack-root-")
	if err != nil {
		return nil, fmt.Errorf("LocalStack's scratch root: %w", err)
	}
	cleanup := func() { os.RemoveAll(root) } // removes the symlink, never what it points to
	if err := os.MkdirAll(filepath.Join(root, "usr", "lib"), 0o755); err != nil {
		cleanup()
		return nil, fmt.Errorf("LocalStack's scratch root: %w", err)
	}
	if err := os.Symlink(libs, filepath.Join(root, "usr", "lib", "localstack")); err != nil {
		cleanup()
		return nil, fmt.Errorf("LocalStack's scratch root: %w", err)
	}

	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(python, "-m", "localstack.runtime.main")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = opt.Logs, opt.Logs
	// Later entries win over what the environment already has.
	cmd.Env = append(os.Environ(),
		// A machine with /.dockerenv (this one) makes LocalStack believe it is
		// in its own container, where paths and networking differ.
		"OVERRIDE_IN_DOCKER=0",
		"FILESYSTEM_ROOT="+root,
		"GATEWAY_LISTEN="+addr,
		// Queue URLs are then http://127.0.0.1:PORT/ACCOUNT/NAME: AWS's path (which
		// code deriving a queue's ARN from its URL relies on) on a host that resolves
		// and reaches it. The default, http://sqs.REGION.127.0.0.1:PORT/..., does not.
		"LOCALSTACK_HOST="+addr,
		"SQS_ENDPOINT_STRATEGY=off",
		"SERVICES="+strings.Join(LocalStackServices, ","),
		// Start the services now rather than at their first request, so no test's
		// first DynamoDB call waits the ~5s DynamoDB Local's JVM takes to start.
		"EAGER_SERVICE_LOADING=1",
		// No DNS server (it would bind port 53), no analytics, no certificate download.
		"DNS_ADDRESS=0",
		"DISABLE_EVENTS=1",
		"SKIP_SSL_CERT_DOWNLOAD=1",
		"PERSISTENCE=0",
	)
	s, err := startServer("localstack", "http://"+addr, cmd, cleanup)
	if err != nil {
		return nil, fmt.Errorf("%w (with %s: %s?)", err, python, hint)
	}
	// Its DynamoDB starts a JVM: give a loaded machine time.
	if err := s.waitReady(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		return localStackHealthy(ctx, s.Endpoint)
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// localStackHealthy asks LocalStack's health endpoint whether every service
// in LocalStackServices runs.
func localStackHealthy(ctx context.Context, endpoint string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_localstack/health", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, fmt.Errorf("read LocalStack's health: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("LocalStack's health: status %d", resp.StatusCode)
	}
	return servicesRunning(body, LocalStackServices)
}

// servicesRunning reads LocalStack's health answer
// ({"services": {"sqs": "running", ...}, "version": ...}) and reports whether
// every service in want is "running"; if not, the error names those that are
// not and their state.
func servicesRunning(health []byte, want []string) (bool, error) {
	var h struct {
		Services map[string]string `json:"services"`
	}
	if err := json.Unmarshal(health, &h); err != nil {
		return false, fmt.Errorf("parse LocalStack's health: %w", err)
	}
	var waiting []string
	for _, svc := range want {
		switch state := h.Services[svc]; state {
		case "running":
		case "error":
			return false, fmt.Errorf("LocalStack's %s is in error, see its log: %w", svc, errHopeless)
		case "":
			waiting = append(waiting, svc+" is missing")
		default:
			waiting = append(waiting, svc+" is "+state)
		}
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		return false, errors.New(strings.Join(waiting, ", "))
	}
	return true, nil
}
