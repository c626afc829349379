// Package retry computes the exponential back-off shared by the worker (after
// a failed handler) and the publisher (after a failed publish).
package retry

import "time"

// Backoff returns base × 2^(attempt-1), capped at max; attempt counts from 1.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
