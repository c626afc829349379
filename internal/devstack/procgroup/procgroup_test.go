package procgroup

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoffNext(t *testing.T) {
	b := ECSBackoff
	for _, tc := range []struct {
		prev, ran, want time.Duration
	}{
		{0, time.Second, time.Second},                   // the first exit
		{0, time.Hour, time.Second},                     // the first exit after a long run
		{time.Second, 5 * time.Second, 2 * time.Second}, // exits again soon: doubles
		{8 * time.Second, 0, 16 * time.Second},
		{16 * time.Second, 0, 30 * time.Second}, // capped
		{30 * time.Second, 0, 30 * time.Second},
		{30 * time.Second, 59 * time.Second, 30 * time.Second},
		{30 * time.Second, time.Minute, time.Second}, // ran a minute: reset
	} {
		if got := b.next(tc.prev, tc.ran); got != tc.want {
			t.Errorf("next(prev %v, ran %v) = %v; want %v", tc.prev, tc.ran, got, tc.want)
		}
	}
}

// TestSuperviseRestartsExitedProcess runs a process that exits at once
// beside one that keeps running: the first is started again and again with
// a doubling back-off, each exit logged; the second runs on untouched; when
// the context ends, Supervise returns and Stop stops what runs.
func TestSuperviseRestartsExitedProcess(t *testing.T) {
	g := New(io.Discard)
	env := os.Environ()
	if _, err := g.Start("flaky", "/bin/sh", []string{"-c", "exit 3"}, env); err != nil {
		t.Fatal(err)
	}
	steady, err := g.Start("steady", "/bin/sh", []string{"-c", `sleep 30 & trap "kill $!; exit 0" TERM; wait`}, env)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}
	exits := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, l := range lines {
			if strings.HasPrefix(l, "flaky exited") {
				out = append(out, l[strings.LastIndex(l, " in ")+len(" in "):])
			}
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		g.Supervise(ctx, Backoff{Min: 20 * time.Millisecond, Max: 80 * time.Millisecond, Reset: time.Hour}, logf)
	}()

	for deadline := time.Now().Add(10 * time.Second); len(exits()) < 5; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("%d exits of the flaky process logged in 10s; want it started again each time: %q", len(exits()), lines)
		}
	}
	cancel()
	<-supervised

	if diff := cmp.Diff([]string{"20ms", "40ms", "80ms", "80ms", "80ms"}, exits()[:5]); diff != "" {
		t.Errorf("back-off before each start (-want +got):\n%s", diff)
	}
	mu.Lock()
	if !strings.Contains(lines[0], "exit status 3") {
		t.Errorf("first line %q; want it to give the exit status", lines[0])
	}
	mu.Unlock()
	select {
	case <-steady.Done():
		t.Errorf("the steady process exited (%v) while the other was restarted; want it left running", steady.Err())
	default:
	}
	failed := g.Stop(5 * time.Second)
	if err, ok := failed["steady"]; ok {
		t.Errorf("Stop: steady did not stop cleanly: %v", err)
	}
	select {
	case <-steady.Done():
	default:
		t.Error("steady still running after Stop")
	}
}

// startStubborn starts a shell that ignores SIGTERM, as does the sleep it
// runs (which holds the output pipes), and returns once the trap is set.
func startStubborn(t *testing.T, g *Group, ready chan string, name string) *Proc {
	t.Helper()
	p, err := g.Start(name, "/bin/sh", []string{"-c", `trap "" TERM; echo ready; sleep 30; echo done`}, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default: // the test failed: do not leave it behind
			p.Kill()
		}
	})
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not start", name)
	}
	return p
}

func readyTap(g *Group) chan string {
	ready := make(chan string, 10)
	g.Tap(func(name string, line []byte) {
		if string(line) == "ready" {
			ready <- name
		}
	})
	return ready
}

// within fails the test when f takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %v", what, d)
	}
	t.Logf("%s took %v", what, time.Since(start).Round(time.Millisecond))
}

// TestStopKillsWhatIgnoresSIGTERM: past the grace, Stop kills a process
// that ignores SIGTERM, and what it started (its process group): the sleep
// it runs would otherwise hold its output open for 30s.
func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	g := New(io.Discard)
	ready := readyTap(g)
	startStubborn(t, g, ready, "stubborn")
	var failed map[string]error
	within(t, 5*time.Second, "Stop with a 300ms grace", func() { failed = g.Stop(300 * time.Millisecond) })
	if failed["stubborn"] == nil {
		t.Errorf("Stop: stubborn exited cleanly; want it killed")
	}
	if r := g.Running(); len(r) != 0 {
		t.Errorf("still running after Stop: %v", r)
	}
}

// TestWaitStopsAtOnceWhenAsked: after SIGTERM, a process busy for a while
// (here: ignoring it) is waited for until the deadline, unless now is
// closed (a second Ctrl-C): then every process is killed at once.
func TestWaitStopsAtOnceWhenAsked(t *testing.T) {
	var out strings.Builder
	var mu sync.Mutex
	g := New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) }))
	ready := readyTap(g)
	startStubborn(t, g, ready, "fulfilment")
	startStubborn(t, g, ready, "promotion")
	g.Terminate()
	time.Sleep(200 * time.Millisecond)
	if diff := cmp.Diff([]string{"fulfilment", "promotion"}, g.Running()); diff != "" {
		t.Fatalf("running 200ms after SIGTERM (-want +got):\n%s", diff)
	}
	now := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() { close(now) })
	var failed map[string]error
	within(t, 3*time.Second, "Wait with a 60s deadline, told to stop at once after 300ms", func() { failed = g.Wait(time.Now().Add(time.Minute), now) })
	if len(failed) != 2 {
		t.Errorf("failed = %v; want both killed", failed)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(out.String(), "done") {
		t.Errorf("a process finished its sleep: %q", out.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
