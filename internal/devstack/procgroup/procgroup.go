// Package procgroup starts the application's binaries as child processes,
// interleaves their output line by line under each one's name, restarts one
// that exits (as ECS starts a new task) when asked to, and stops them
// together: what `make run` and the end-to-end tests share.
package procgroup

import (
	"bufio"
	"context"
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
	pmu   sync.Mutex // guards procs
	procs []*Proc
	tap   func(name string, line []byte)
}

// Proc is one started process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	pipe sync.WaitGroup

	path       string
	args, env  []string
	start, end time.Time
}

// New returns a group whose processes' lines go to out as "name | line".
func New(out io.Writer) *Group { return &Group{out: out} }

// Tap calls fn with each line a process writes, before it goes to the
// group's output; call it before Start. fn must not keep line.
func (g *Group) Tap(fn func(name string, line []byte)) { g.tap = fn }

// Start runs path with args and env (the whole environment of the child).
func (g *Group) Start(name, path string, args, env []string) (*Proc, error) {
	p, err := g.start(name, path, args, env)
	if err != nil {
		return nil, err
	}
	g.pmu.Lock()
	g.procs = append(g.procs, p)
	g.pmu.Unlock()
	return p, nil
}

func (g *Group) start(name, path string, args, env []string) (*Proc, error) {
	p := &Proc{Name: name, done: make(chan struct{}), path: path, args: args, env: env}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = env
	// Its own process group: the terminal's Ctrl-C reaches the dev tool
	// alone, which stops the children as ECS stops a task (SIGTERM, then a
	// grace period), and Kill reaches whatever the child started. Should
	// the dev tool die without stopping them, they are killed with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
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
	p.start = time.Now()
	for _, r := range []io.Reader{stdout, stderr} {
		p.pipe.Add(1)
		go g.copyLines(p, r)
	}
	go func() {
		p.pipe.Wait() // Wait closes the pipes: read them to the end first
		p.err = p.cmd.Wait()
		p.end = time.Now()
		close(p.done)
	}()
	return p, nil
}

func (g *Group) copyLines(p *Proc, r io.Reader) {
	defer p.pipe.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		g.mu.Lock()
		if g.tap != nil {
			g.tap(p.Name, sc.Bytes())
		}
		fmt.Fprintf(g.out, "%-10s | %s\n", p.Name, sc.Bytes())
		g.mu.Unlock()
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Proc) Err() error { <-p.done; return p.err }

// Ran is how long the process ran, once Done is closed.
func (p *Proc) Ran() time.Duration { <-p.done; return p.end.Sub(p.start) }

// Procs returns the processes started and not waiting to be started again.
func (g *Group) Procs() []*Proc {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	return append([]*Proc(nil), g.procs...)
}

// Backoff is how long Supervise waits before starting an exited process
// again: Min after its first exit, doubling with each exit that follows
// quickly, at most Max; a process that ran Reset or longer starts again
// after Min.
type Backoff struct {
	Min, Max, Reset time.Duration
}

// ECSBackoff is close to how ECS replaces a task that stopped: at once the
// first time, and slower while it keeps stopping.
var ECSBackoff = Backoff{Min: time.Second, Max: 30 * time.Second, Reset: time.Minute}

// next returns the wait after an exit of a process that ran for ran, when
// the wait before its last start was prev (zero for none).
func (b Backoff) next(prev, ran time.Duration) time.Duration {
	if prev <= 0 || ran >= b.Reset {
		return b.Min
	}
	return min(2*prev, b.Max)
}

// Supervise starts again, after b's back-off, every process of the group
// that exits, the way ECS starts a new task when one stops, and keeps the
// others running; it returns when ctx ends (then call Stop). logf reports
// each exit and restart.
func (g *Group) Supervise(ctx context.Context, b Backoff, logf func(format string, args ...any)) {
	exited := make(chan *Proc)
	due := make(chan *Proc)
	watch := func(p *Proc) {
		go func() {
			select {
			case <-p.Done():
				select {
				case exited <- p:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
		}()
	}
	for _, p := range g.Procs() {
		watch(p)
	}
	waits := map[string]time.Duration{}
	later := func(p *Proc, d time.Duration) {
		waits[p.Name] = d
		go func() {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				select {
				case due <- p:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-exited:
			g.drop(p)
			d := b.next(waits[p.Name], p.Ran())
			logf("%s exited (%s, after running %v); starting it again in %v", p.Name, exitReason(p.Err()), p.Ran().Round(time.Millisecond), d)
			later(p, d)
		case old := <-due:
			p, err := g.start(old.Name, old.path, old.args, old.env)
			if err != nil {
				d := b.next(waits[old.Name], 0)
				logf("%s did not start (%v); trying again in %v", old.Name, err, d)
				later(old, d)
				continue
			}
			g.pmu.Lock()
			g.procs = append(g.procs, p)
			g.pmu.Unlock()
			logf("%s started again", p.Name)
			watch(p)
		}
	}
}

func exitReason(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// drop takes an exited process out of the group until it starts again.
func (g *Group) drop(p *Proc) {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	for i, q := range g.procs {
		if q == p {
			g.procs = append(g.procs[:i], g.procs[i+1:]...)
			return
		}
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL to the process's group: the process and anything it
// started. Call it only before Done is closed (the pid is not reused until
// the process is reaped, which closes Done).
func (p *Proc) Kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// Running returns the names of the group's processes that have not exited.
func (g *Group) Running() []string {
	var names []string
	for _, p := range g.Procs() {
		select {
		case <-p.done:
		default:
			names = append(names, p.Name)
		}
	}
	return names
}

// Stop sends SIGTERM to every process, waits up to grace for them to exit,
// kills what is left, and returns the processes that did not exit cleanly.
func (g *Group) Stop(grace time.Duration) map[string]error {
	g.Terminate()
	return g.Wait(time.Now().Add(grace), nil)
}

// Terminate sends SIGTERM to every process: what ECS sends a task it stops.
func (g *Group) Terminate() {
	for _, p := range g.Procs() {
		p.Signal(syscall.SIGTERM)
	}
}

// Wait waits for every process to exit until deadline, or until now is
// closed (a second Ctrl-C), then kills what is left (its whole process
// group), and returns the processes that did not exit cleanly.
func (g *Group) Wait(deadline time.Time, now <-chan struct{}) map[string]error {
	procs := g.Procs()
	failed := map[string]error{}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	kill := false
	for _, p := range procs {
		if !kill {
			select {
			case <-p.done:
			case <-timer.C:
				kill = true
			case <-now:
				kill = true
			}
		}
		if kill {
			select {
			case <-p.done: // reaped: its pid may be another's now
			default:
				p.Kill()
				<-p.done
			}
		}
		if p.err != nil {
			failed[p.Name] = p.err
		}
	}
	return failed
}
