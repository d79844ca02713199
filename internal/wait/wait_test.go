package wait_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/wait"
)

func TestFor(t *testing.T) {
	start := time.Now()
	if err := wait.For(context.Background(), 20*time.Millisecond); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Errorf("For(20ms) = %v after %s, want nil after 20ms", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if err := wait.For(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("For(1h) on a cancelled context = %v after %s, want context.Canceled at once", err, time.Since(start))
	}
}
