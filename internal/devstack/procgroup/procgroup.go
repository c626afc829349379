// Package procgroup starts the application's binaries as child processes,
// interleaves their output line by line under each one's name, and stops
// them together: what `make run` and the end-to-end tests share.
package procgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Group is a set of running processes writing to one output.
type Group struct {
	mu    sync.Mutex // serialises lines on out
	out   io.Writer
	procs []*Proc
}

// Proc is one started process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	pipe sync.WaitGroup
}

// New returns a group whose processes' lines go to out as "name | line".
func New(out io.Writer) *Group { return &Group{out: out} }

// Start runs path with args and env (the whole environment of the child).
func (g *Group) Start(name, path string, args, env []string) (*Proc, error) {
	p := &Proc{Name: name, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = env
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	for _, r := range []io.Reader{stdout, stderr} {
		p.pipe.Add(1)
		go g.copyLines(p, r)
	}
	go func() {
		p.pipe.Wait() // Wait closes the pipes: read them to the end first
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	g.procs = append(g.procs, p)
	return p, nil
}

func (g *Group) copyLines(p *Proc, r io.Reader) {
	defer p.pipe.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		g.mu.Lock()
		fmt.Fprintf(g.out, "%-10s | %s\n", p.Name, sc.Bytes())
		g.mu.Unlock()
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Proc) Err() error { <-p.done; return p.err }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Procs returns the started processes.
func (g *Group) Procs() []*Proc { return g.procs }

// Stop sends SIGTERM to every process, waits up to grace for them to exit,
// kills what is left, and returns the processes that did not exit cleanly.
func (g *Group) Stop(grace time.Duration) map[string]error {
	for _, p := range g.procs {
		p.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	failed := map[string]error{}
	for _, p := range g.procs {
		select {
		case <-p.done:
		case <-time.After(time.Until(deadline)):
			p.Signal(syscall.SIGKILL)
			<-p.done
		}
		if p.err != nil {
			failed[p.Name] = p.err
		}
	}
	return failed
}
