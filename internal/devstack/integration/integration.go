// Package integration is what the integration and end-to-end tests share: an
// AWS emulator (the one at AWS_ENDPOINT_URL, else LocalStack started with
// testcontainers where a Docker engine answers) and the application's
// topology provisioned on it. A test that cannot run skips by the one rule,
// package skip: it says why, or fails under REQUIRE_INTEGRATION=1 (as CI
// sets). Under -short (make test-unit) they all skip.
package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/localstack"

	"github.com/pubsub-app/pubsub/internal/devstack/emulator"
	"github.com/pubsub-app/pubsub/internal/devstack/skip"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// DefaultLocalStackImage is emulator.DefaultLocalStackImage.
const DefaultLocalStackImage = emulator.DefaultLocalStackImage

// Emulator is a reachable AWS emulator.
type Emulator struct {
	Endpoint string
	Config   aws.Config
}

var (
	once     sync.Once
	endpoint string
	startErr error
	skipWhy  string
)

// Short skips a test that needs an emulator, a browser or built binaries
// under -short (make test-unit), whatever REQUIRE_INTEGRATION says.
func Short(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an AWS emulator: skipped under -short")
	}
}

// Start returns the emulator for this test binary, starting LocalStack once
// if needed, or skips (fails under REQUIRE_INTEGRATION=1) when there is none.
// Under -short it skips.
func Start(t testing.TB) *Emulator {
	t.Helper()
	Short(t)
	once.Do(find)
	if startErr != nil {
		t.Fatalf("AWS emulator: %v", startErr)
	}
	if endpoint == "" {
		skip.OrFail(t, "integration test skipped: "+skipWhy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := emulator.Config(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return &Emulator{Endpoint: endpoint, Config: cfg}
}

func find() {
	if endpoint = os.Getenv("AWS_ENDPOINT_URL"); endpoint != "" {
		return
	}
	if !emulator.DockerReachable() {
		skipWhy = "AWS_ENDPOINT_URL is not set and no Docker engine answers to start LocalStack (run `make test`, which starts moto)"
		return
	}
	image := emulator.LocalStackImage(os.Getenv)
	if why := emulator.ImageUnavailable(context.Background(), image); why != "" {
		skipWhy = "AWS_ENDPOINT_URL is not set, and the Docker engine cannot start LocalStack (" + why + "); run `make test`, which starts moto"
		return
	}
	env := map[string]string{"SERVICES": "sns,sqs,dynamodb"}
	if tok := os.Getenv("LOCALSTACK_AUTH_TOKEN"); tok != "" {
		env["LOCALSTACK_AUTH_TOKEN"] = tok
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The container lives as long as the test binary; testcontainers' reaper
	// removes it afterwards.
	c, err := localstack.Run(ctx, image, testcontainers.WithEnv(env))
	if err != nil {
		startErr = fmt.Errorf("start LocalStack %s: %w", image, err)
		return
	}
	endpoint, startErr = c.PortEndpoint(ctx, "4566/tcp", "http")
}

// Env returns the variables a child process needs to reach the emulator.
func (e *Emulator) Env() []string { return emulator.Env(e.Endpoint, os.Getenv) }

// Deploy provisions the application's topology, read from copilot/, under a
// fresh environment name, so tests never share a queue or a table.
func (e *Emulator) Deploy(t testing.TB) (*topology.Topology, *topology.Deployment) {
	t.Helper()
	top := LoadTopology(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	env := "t" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := topology.Provision(ctx, topology.NewClients(e.Config), top, env)
	if err != nil {
		t.Fatalf("provision %s: %v", env, err)
	}
	return top, dep
}

// LoadTopology reads copilot/ from the repository root.
func LoadTopology(t testing.TB) *topology.Topology {
	t.Helper()
	top, err := topology.Load(os.DirFS(filepath.Join(RepoRoot(t), "copilot")))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// RepoRoot returns the folder holding go.mod, above the test's folder.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// QueueDepth returns how many messages the queue at url holds, visible or
// in flight (SQS's approximate counts).
func (e *Emulator) QueueDepth(ctx context.Context, t testing.TB, url string) int {
	t.Helper()
	out, err := sqs.NewFromConfig(e.Config).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("depth of %s: %v", url, err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}
