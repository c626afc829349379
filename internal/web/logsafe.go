package web

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// What the publisher logs of a value a client chose (a posted id, an Origin
// header) is bounded: a request may carry 16 KB of it, and every line is
// paid for by the byte in CloudWatch Logs.
const (
	maxLoggedOrigin = 128 // an origin is a scheme, a host and a port
	maxLoggedMethod = 16
)

// clip returns s cut to at most n bytes, marked when it was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(cut)"
}

// fingerprint stands for a client's value that must not be logged whole:
// its length and the first 8 bytes of its SHA-256 (hex), enough to tell
// whether two rejected requests sent the same value.
func fingerprint(key, v string) slog.Attr {
	sum := sha256.Sum256([]byte(v))
	return slog.Group(key, slog.Int("len", len(v)), slog.String("sha256", hex.EncodeToString(sum[:8])))
}
