package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestDrainBounded: the shutdown ends within SHUTDOWN_TIMEOUT whatever is
// still running, a request in flight or an outbox publish that does not
// return, so the span flush after it still ends before ECS's StopTimeout.
func TestDrainBounded(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name            string
		requestInFlight bool
		wantErr         bool
	}{
		{"outbox publish hung", false, false},
		{"request and outbox publish hung", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			started := make(chan struct{})
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
			})}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			serveErr := make(chan error, 1)
			go func() { serveErr <- srv.Serve(ln) }()
			if tc.requestInFlight {
				go func() {
					if res, err := http.Get("http://" + ln.Addr().String()); err == nil {
						res.Body.Close()
					}
				}()
				<-started
			}
			outboxDone := make(chan struct{}) // never closed: a publish that does not return

			done := make(chan error, 1)
			begin := time.Now()
			go func() {
				done <- drain(slog.New(slog.NewTextHandler(io.Discard, nil)), srv, serveErr, outboxDone, timeout)
			}()
			select {
			case err := <-done:
				took := time.Since(begin)
				if took < timeout || took > timeout+time.Second {
					t.Errorf("drain took %v; want about its %v timeout", took, timeout)
				}
				if (err != nil) != tc.wantErr {
					t.Errorf("drain: %v; want an error %v", err, tc.wantErr)
				}
			case <-time.After(10 * timeout):
				t.Fatalf("drain still running %v after SIGTERM; want it done within its %v timeout", 10*timeout, timeout)
			}
		})
	}
}
