// Package emulator connects the AWS SDK to a local AWS emulator and runs one
// as a child process: moto server (the default where no Docker engine is
// available) or LocalStack in host mode (the second emulator).
package emulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Defaults used against an emulator when the environment names none.
const (
	DefaultRegion = "eu-west-1"
	dummyKey      = "test"
)

// Env returns the variables a process needs to reach the emulator at endpoint
// through the SDK's own loading: the endpoint, and a region and credentials
// unless the environment (getenv) has them.
func Env(endpoint string, getenv func(string) string) []string {
	env := []string{"AWS_ENDPOINT_URL=" + endpoint}
	if getenv("AWS_REGION") == "" && getenv("AWS_DEFAULT_REGION") == "" {
		env = append(env, "AWS_REGION="+DefaultRegion)
	}
	if getenv("AWS_ACCESS_KEY_ID") == "" {
		env = append(env, "AWS_ACCESS_KEY_ID="+dummyKey, "AWS_SECRET_ACCESS_KEY="+dummyKey)
	}
	return env
}

// Config loads an SDK configuration for the emulator at endpoint: the
// standard loading, with region and dummy credentials filled in when the
// environment has none.
func Config(ctx context.Context, endpoint string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithBaseEndpoint(endpoint)}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(DefaultRegion))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(dummyKey, dummyKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration for %s: %w", endpoint, err)
	}
	return cfg, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DefaultLocalStackImage is the last LocalStack image that starts without an
// auth token; LOCALSTACK_IMAGE overrides it (make test-docker: an image built
// here). Pinned by digest: a tag can be pushed again.
const DefaultLocalStackImage = "localstack/localstack:4.14.0@sha256:3ebc37595918b8accb852f8048fef2aff047d465167edd655528065b07bc364a"

// LocalStackImage is the image the tests start LocalStack from where a Docker
// engine answers: LOCALSTACK_IMAGE, else DefaultLocalStackImage.
func LocalStackImage(getenv func(string) string) string {
	if image := getenv("LOCALSTACK_IMAGE"); image != "" {
		return image
	}
	return DefaultLocalStackImage
}

// ImageUnavailable says why the Docker engine cannot start image: it is not
// there and `docker pull` cannot get it (no registry answers, as on a machine
// that reaches none), or "" when it can. It asks the docker CLI; without one
// it cannot tell, and says "".
func ImageUnavailable(ctx context.Context, image string) string {
	docker, err := exec.LookPath("docker")
	if err != nil {
		return ""
	}
	if exec.CommandContext(ctx, docker, "image", "inspect", image).Run() == nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, docker, "pull", "-q", image).CombinedOutput()
	if err == nil {
		return ""
	}
	return fmt.Sprintf("docker pull %s: %s", image, bytes.TrimSpace(out))
}

// DockerReachable reports whether a Docker engine answers on DOCKER_HOST or
// the default socket.
func DockerReachable() bool {
	host := os.Getenv("DOCKER_HOST")
	network, addr := "unix", "/var/run/docker.sock"
	switch {
	case len(host) > 7 && host[:7] == "unix://":
		addr = host[7:]
	case len(host) > 6 && host[:6] == "tcp://":
		network, addr = "tcp", host[6:]
	}
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	// A socket file can outlive its engine: ask for /_ping.
	if _, err := c.Write([]byte("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 12)
	n, _ := io.ReadFull(c, buf)
	return n == 12 && string(buf[9:12]) == "200"
}
