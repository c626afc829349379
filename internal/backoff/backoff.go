// Package backoff computes the exponential back-off shared by the worker
// (after a failed handler, between probes of a failing dependency) and the
// publisher (after a failed publish).
package backoff

import "time"

// Delay returns base × 2^(attempt-1), capped at max; attempt counts from 1.
func Delay(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
