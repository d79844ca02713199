package incidents

import (
	"math"
	"testing"
)

func TestNextMilestone(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 1}, {1, 2}, {2, 5}, {4, 5}, {5, 10}, {9, 10}, {10, 20}, {19, 20}, {20, 50},
		{99, 100}, {100, 200}, {999, 1000}, {1000, 2000}, {4999, 5000}, {10000, 20000},
		{math.MaxInt - 1, math.MaxInt},
	}
	for _, tt := range tests {
		if got := nextMilestone(tt.n); got != tt.want {
			t.Errorf("nextMilestone(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestMilestoneAt(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 0}, {1, 1}, {2, 2}, {3, 2}, {4, 2}, {5, 5}, {9, 5}, {10, 10}, {49, 20}, {50, 50}, {12345, 10000},
	}
	for _, tt := range tests {
		if got := milestoneAt(tt.n); got != tt.want {
			t.Errorf("milestoneAt(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestMilestones(t *testing.T) {
	// Count milestones by brute force: n where the log-scale bracket changes.
	count, prev := 0, milestoneAt(1)
	for n := 1; n <= 20000; n++ {
		if m := milestoneAt(n); m != prev {
			count, prev = count+1, m
		}
		if got := Milestones(n); got != count {
			t.Fatalf("Milestones(%d) = %d, want %d", n, got, count)
		}
	}
	if got := Milestones(10000); got != 12 {
		t.Errorf("Milestones(10000) = %d, want 12", got)
	}
	if got := MaxUpdates(10000); got != 30 {
		t.Errorf("MaxUpdates(10000) = %d, want 30", got)
	}
	if got := Milestones(math.MaxInt); got <= 0 {
		t.Errorf("Milestones(MaxInt) = %d, want a positive count", got)
	}
}
