package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is an emulator running as a child process in a process group of
// its own, so that stopping it stops whatever it started too.
type Server struct {
	// Name says which emulator this is ("moto", "localstack"); it is what
	// AWS_EMULATOR carries to the processes that use it.
	Name     string
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	cleanup  func() // after the process has exited; may be nil
}

// Moto is a running moto server (the name the callers of StartMoto know).
type Moto = Server

// Env returns the variables a process needs to reach this emulator (see the
// package function Env), plus AWS_EMULATOR naming it, so that a test can
// tell which emulator's behaviour it meets.
func (s *Server) Env(getenv func(string) string) []string {
	return append(Env(s.Endpoint, getenv), "AWS_EMULATOR="+s.Name)
}

// startServer starts cmd in a new process group. The caller then waits for it
// with waitReady.
func startServer(name, endpoint string, cmd *exec.Cmd, cleanup func()) (*Server, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Server{Name: name, Endpoint: endpoint, cmd: cmd, done: make(chan struct{}), cleanup: cleanup}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

// errHopeless marks a readiness error that waiting longer cannot fix.
var errHopeless = errors.New("waiting cannot help")

// waitReady polls ready every 100ms until it reports true, the process
// exits, ctx ends, limit passes or ready's error wraps errHopeless; in every
// case but the first it stops the server. ready's error, when the poll
// fails, says what was last seen.
func (s *Server) waitReady(ctx context.Context, limit time.Duration, ready func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		pollCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := ready(pollCtx)
		cancel()
		if ok {
			return nil
		}
		if errors.Is(err, errHopeless) {
			s.Stop()
			return err
		}
		if err != nil {
			last = err
		}
		select {
		case <-s.done:
			s.Stop()
			return fmt.Errorf("%s exited at start-up; see its log", s.Name)
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			if last == nil {
				last = errors.New("no answer")
			}
			return fmt.Errorf("%s not ready at %s within %s: %w", s.Name, s.Endpoint, limit, last)
		}
	}
}

// stopGrace is how long a server has to exit after SIGTERM. LocalStack
// takes about 3s to stop its services and the DynamoDB Local JVM.
const stopGrace = 10 * time.Second

// Stop ends the server and everything it started, and waits for it: SIGTERM
// to its process group, SIGKILL after stopGrace. Children that left the
// group (LocalStack starts DynamoDB Local in a session of its own) are found
// beforehand and killed if they outlive it.
func (s *Server) Stop() {
	pid := s.cmd.Process.Pid
	children := descendants(pid)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
	}
	for _, c := range children {
		c.kill()
	}
	if s.cleanup != nil {
		s.cleanup()
		s.cleanup = nil
	}
}

// proc identifies a process across PID reuse: its PID and its start time
// (field 22 of /proc/PID/stat, in clock ticks since boot).
type proc struct {
	pid   int
	start string
}

// kill sends SIGKILL to p if it is still the same process.
func (p proc) kill() {
	if _, start, ok := readStat(p.pid); ok && start == p.start {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// descendants lists the processes below pid, read from /proc (none where
// there is no /proc).
func descendants(pid int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, start, ok := readStat(p); ok {
			children[ppid] = append(children[ppid], proc{pid: p, start: start})
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// readStat returns the parent PID and start time of process pid.
func readStat(pid int) (ppid int, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	return parseStat(string(b))
}

// parseStat reads /proc/PID/stat: "pid (comm) state ppid ... starttime ...".
// comm may hold spaces and parentheses, so fields are counted from the last
// ')'.
func parseStat(stat string) (ppid int, start string, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0, "", false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, "", false
	}
	return ppid, f[19], true
}
