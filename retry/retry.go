// Package retry runs an operation again when it fails, waiting longer
// each time: for the background writers whose failures must not be lost
// to one blip (the view audit).
package retry

import (
	"context"
	"time"
)

// Do runs op, and again after a wait of first, then twice as long each
// time, up to attempts times in all, until it succeeds. It returns op's
// last error. The waits end early when ctx does (op's own context is its
// business): a shutdown does not sit out the backoff.
func Do(ctx context.Context, attempts int, first time.Duration, op func() error) error {
	wait := first
	for i := 1; ; i++ {
		err := op()
		if err == nil || i >= attempts {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait *= 2
	}
}
