// Package wait pauses work for a while, unless its context ends first:
// the pause of a retry or of a poll.
package wait

import (
	"context"
	"math/rand/v2"
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

// maxRace caps Race's pause.
const maxRace = 200 * time.Millisecond

// Race waits before retry n (from 1) of a write that lost a race: a random
// while up to 2^n ms (at most 200 ms), so that writers racing for one item
// spread out instead of colliding again. Retry 0 does not wait.
func Race(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	return For(ctx, rand.N(min(time.Duration(1)<<n*time.Millisecond, maxRace))+time.Millisecond)
}
