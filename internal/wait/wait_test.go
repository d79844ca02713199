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

func TestRace(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	if err := wait.Race(ctx, 0); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Errorf("Race(0) = %v after %s, want no wait", err, time.Since(start))
	}
	for n := 1; n <= 12; n++ {
		start = time.Now()
		if err := wait.Race(ctx, n); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Millisecond || d > 200*time.Millisecond+500*time.Millisecond {
			t.Errorf("Race(%d) waited %s, want 1 ms to 200 ms", n, d)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := wait.Race(done, 8); err == nil {
		t.Error("Race on a cancelled context = nil, want its error")
	}
}
