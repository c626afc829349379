// Package logging builds the JSON logger every binary writes to stdout, where
// ECS sends it to CloudWatch and `copilot svc logs` reads it.
package logging

import (
	"io"
	"log/slog"
	"sync"
)

// New returns a JSON logger writing to w with the service name on every line.
// LOG_LEVEL (debug, info, warn, error) sets the level; info by default.
func New(w io.Writer, service, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", service)
}

// Sync returns w with its writes serialised, for the logger and the metrics
// recorder to share stdout without interleaving their lines.
func Sync(w io.Writer) io.Writer { return &syncWriter{w: w} }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
