// Package wait pauses work for a while, unless its context ends first:
// the pause of a retry or of a poll.
package wait

import (
	"context"
	"time"
)

// For waits d, or until ctx is done, whichever comes first; it returns
// ctx's error in the second case.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
