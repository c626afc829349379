// Package emulator connects the AWS SDK to a local AWS emulator and runs moto
// server, the emulator this project uses where no Docker engine is available.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
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

// Moto is a running moto server.
type Moto struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// StartMoto starts `python -m moto.server` on 127.0.0.1 at a free port and
// waits until it answers. Its output goes to logs.
func StartMoto(ctx context.Context, python string, logs io.Writer) (*Moto, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto server with %s (run `make venv`?): %w", python, err)
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.Endpoint + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
		select {
		case <-m.done:
			return nil, errors.New("moto server exited at start-up; see its output above")
		case <-ctx.Done():
			m.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, fmt.Errorf("moto server did not answer at %s within a minute", m.Endpoint)
		}
	}
}

// Stop ends the server and waits for it.
func (m *Moto) Stop() {
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
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
