package main

import (
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/procgroup"
)

// TestStopServicesSaysWhatItWaitsForAndStopsAtOnceOnASecondCtrlC: after the
// first Ctrl-C, the services still busy (workers here ignoring SIGTERM, as
// one in its long poll seems to) are named with what they finish; a second
// Ctrl-C kills them at once instead of waiting out the grace.
func TestStopServicesSaysWhatItWaitsForAndStopsAtOnceOnASecondCtrlC(t *testing.T) {
	var out integration.SyncBuffer
	g := procgroup.New(&out)
	ready := make(chan string, 3)
	g.Tap(func(name string, line []byte) {
		if string(line) == "ready" {
			ready <- name
		}
	})
	for _, svc := range []struct{ name, script string }{
		// Each says ready once its trap is set: a SIGTERM before it would kill the shell.
		{"publisher", `sleep 30 & trap "kill $!; exit 0" TERM; echo ready; wait`},
		{"fulfilment", `trap "" TERM; echo ready; sleep 30`},
		{"promotion", `trap "" TERM; echo ready; sleep 30`},
	} {
		p, err := g.Start(svc.name, "/bin/sh", []string{"-c", svc.script}, os.Environ())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			select {
			case <-p.Done():
			default:
				p.Kill()
			}
		})
	}
	for range 3 {
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatal("the services did not start")
		}
	}

	again := make(chan os.Signal, 1)
	var failed map[string]error
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		failed = stopServices(g, &out, stopGrace, map[string]bool{"fulfilment": true, "promotion": true}, again)
	}()
	// The publisher, which handles SIGTERM, is gone within the settling pause on an idle
	// machine, but on a loaded one it may still be named: both lines are right.
	waiting := regexp.MustCompile(`dev: stopping: waiting up to 30s for (publisher to finish its requests(, | and ))?fulfilment, promotion to finish their long poll; Ctrl-C again to stop at once\n`)
	for !waiting.MatchString(out.String()) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no line %q in 5s; output:\n%s", waiting, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	again <- syscall.SIGINT
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatalf("stopServices still waiting 3s after a second Ctrl-C; output:\n%s", out.String())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stopping took %v; want at once after the second Ctrl-C", took)
	}
	if !strings.Contains(out.String(), "dev: stopping at once: killing fulfilment, promotion\n") {
		t.Errorf("no line saying what is killed; output:\n%s", out.String())
	}
	if failed["publisher"] != nil || failed["fulfilment"] == nil || failed["promotion"] == nil {
		t.Errorf("failed = %v; want the workers killed and the publisher stopped cleanly", failed)
	}
}

func TestWaitingFor(t *testing.T) {
	workers := map[string]bool{"fulfilment": true, "promotion": true}
	for _, tt := range []struct {
		running []string
		want    string
	}{
		{[]string{"fulfilment", "promotion"}, "fulfilment, promotion to finish their long poll"},
		{[]string{"promotion"}, "promotion to finish its long poll"},
		{[]string{"publisher", "fulfilment"}, "publisher to finish its requests and fulfilment to finish its long poll"},
	} {
		if got := waitingFor(tt.running, workers); got != tt.want {
			t.Errorf("waitingFor(%q) = %q; want %q", tt.running, got, tt.want)
		}
	}
}
