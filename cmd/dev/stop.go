package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/procgroup"
)

// stopGrace is how long the services may take to stop, as ECS's default
// stop timeout: a worker lets its long poll (up to 20s) finish, since a
// message SQS hands to a poll nobody reads is hidden for its visibility
// timeout, and then finishes what it holds.
const stopGrace = 30 * time.Second

// settle is how long stopServices waits before saying what it waits for: a
// service with nothing in flight is gone by then.
const settle = 300 * time.Millisecond

// stopServices stops the services as ECS stops tasks: SIGTERM, then up to
// grace before SIGKILL. It says which services it is waiting for and why,
// and, as docker compose does, stops everything at once (SIGKILL to each
// service's process group) when again delivers a second Ctrl-C. It returns
// the services that did not stop cleanly.
func stopServices(g *procgroup.Group, stdout io.Writer, grace time.Duration, workers map[string]bool, again <-chan os.Signal) map[string]error {
	deadline := time.Now().Add(grace)
	g.Terminate()

	now := make(chan struct{})
	var once sync.Once
	stopNow := func() {
		once.Do(func() {
			fmt.Fprintf(stdout, "dev: stopping at once: killing %s\n", strings.Join(g.Running(), ", "))
			close(now)
		})
	}
	waited := make(chan struct{})
	defer close(waited)
	go func() {
		select {
		case <-again:
			stopNow()
		case <-waited:
		}
	}()

	settled := time.After(settle)
wait:
	for len(g.Running()) > 0 {
		select {
		case <-now:
			break wait
		case <-settled:
			fmt.Fprintf(stdout, "dev: stopping: waiting up to %v for %s; Ctrl-C again to stop at once\n",
				time.Until(deadline).Round(time.Second), waitingFor(g.Running(), workers))
			break wait
		case <-time.After(20 * time.Millisecond):
		}
	}
	return g.Wait(deadline, now)
}

// waitingFor says what each running service is finishing: a worker its long
// poll, the web service its requests.
func waitingFor(running []string, workers map[string]bool) string {
	var w, others []string
	for _, name := range running {
		if workers[name] {
			w = append(w, name)
		} else {
			others = append(others, name)
		}
	}
	var parts []string
	if len(others) > 0 {
		parts = append(parts, strings.Join(others, ", ")+" to finish "+pick(len(others), "its", "their")+" requests")
	}
	if len(w) > 0 {
		parts = append(parts, strings.Join(w, ", ")+" to finish "+pick(len(w), "its", "their")+" long poll")
	}
	return strings.Join(parts, " and ")
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
