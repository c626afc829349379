package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// motoLaunch starts moto.proxy with the two in-memory patches the render needs.
//
//go:embed moto_launch.py
var motoLaunch []byte

// venvHint is how to get a Python with moto's proxy, in every error about it.
const venvHint = "run make venv (it installs moto[server,proxy] into .venv), or pass -python"

// moto is a running moto proxy: Copilot and the seeding reach "AWS" through it over HTTPS,
// trusting its CA, with every service answered in memory.
type moto struct {
	Proxy  *url.URL
	CAFile string // the proxy's CA certificate (PEM)
	Log    string // its output

	cmd  *exec.Cmd
	done chan struct{}
	err  error // how the process ended, once done is closed
}

// readyLine is what moto.proxy prints once it listens; with -p 0 it names the port it got.
var readyLine = regexp.MustCompile(`Serving HTTP Proxy on ([0-9.]+):(\d+)`)

// startMoto starts moto's proxy with python on a free loopback port, its certificates and
// log in scratch, and waits until it listens.
func startMoto(ctx context.Context, python, scratch string) (*moto, error) {
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("no Python at %s (%w): %s", python, err, venvHint)
	}
	launcher := filepath.Join(scratch, "moto_launch.py")
	if err := os.WriteFile(launcher, motoLaunch, 0o644); err != nil {
		return nil, err
	}
	m := &moto{
		CAFile: filepath.Join(scratch, "moto-ca.crt"),
		Log:    filepath.Join(scratch, "moto.log"),
		done:   make(chan struct{}),
	}
	logFile, err := os.Create(m.Log)
	if err != nil {
		return nil, err
	}
	// -u: unbuffered, so the ready line arrives when it is printed. Port 0: the kernel picks a
	// free one, and moto prints it; nothing can take it between choosing and binding.
	m.cmd = exec.Command(python, "-u", launcher, "-H", "127.0.0.1", "-p", "0")
	m.cmd.Env = append(os.Environ(),
		"MOTO_PROXY_CERTS="+filepath.Join(scratch, "moto-certs"),
		"MOTO_PROXY_CA_COPY="+m.CAFile,
	)
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	var mu sync.Mutex // the log file has two writers
	m.cmd.Stderr = lockedWriter{&mu, logFile}
	if err := m.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start moto proxy: %w (%s)", err, venvHint)
	}

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if g := readyLine.FindStringSubmatch(line); g != nil {
				select {
				case ready <- g[1] + ":" + g[2]:
				default:
				}
			}
			mu.Lock()
			fmt.Fprintln(logFile, line)
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout) // after a too-long line, keep the pipe drained
		m.err = m.cmd.Wait()
		logFile.Close()
		close(m.done)
	}()

	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case addr := <-ready:
		m.Proxy = &url.URL{Scheme: "http", Host: addr}
		return m, nil
	case <-m.done:
		return nil, fmt.Errorf("moto proxy exited at start (%v); is moto[proxy] installed? %s\n%s", m.err, venvHint, m.tail(20))
	case <-timer.C:
		m.Stop()
		return nil, fmt.Errorf("moto proxy did not listen within 60s\n%s", m.tail(20))
	case <-ctx.Done():
		m.Stop()
		return nil, ctx.Err()
	}
}

// Stop ends the proxy: SIGTERM (moto exits on it), then SIGKILL if it lingers.
func (m *moto) Stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// tail returns the last n lines of the proxy's log, for error messages.
func (m *moto) tail(n int) string {
	b, err := os.ReadFile(m.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "moto log (last lines):\n  " + strings.Join(lines, "\n  ")
}

// caPEM reads the proxy's CA certificate.
func (m *moto) caPEM() ([]byte, error) {
	b, err := os.ReadFile(m.CAFile)
	if err != nil {
		return nil, fmt.Errorf("moto proxy CA: %w", err)
	}
	if !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
		return nil, errors.New("moto proxy CA: " + m.CAFile + " holds no PEM certificate")
	}
	return b, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
