package incidents

import "math"

// The occurrence counts at which a repeating incident's OpsItem is updated
// follow a log scale: 1, 2, 5, 10, 20, 50, 100, ... A storm of n repeats
// costs O(log n) UpdateOpsItem calls, while the count a responder reads is
// never off by more than a factor of 2.5.

// nextMilestone returns the smallest milestone greater than n.
func nextMilestone(n int) int {
	for m := 1; ; m *= 10 {
		for _, f := range [...]int{1, 2, 5} {
			if f*m > n {
				return f * m
			}
		}
		if m > math.MaxInt/100 {
			return math.MaxInt
		}
	}
}

// milestoneAt returns the largest milestone not above n, or 0 when n < 1.
func milestoneAt(n int) int {
	last := 0
	for m := 1; m <= n && m > 0; m = nextMilestone(m) {
		last = m
		if m == math.MaxInt {
			break
		}
	}
	return last
}

// Milestones returns how many milestones after the first lie in (1, n]: the
// number of UpdateOpsItem calls an incident of n occurrences makes for its
// count (the first occurrence is the CreateOpsItem itself).
// Milestones(10000) is 12: 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000.
func Milestones(n int) int {
	count := 0
	for m := 2; m <= n; m = nextMilestone(m) {
		count++
		if m == math.MaxInt {
			break
		}
	}
	return count
}

// MaxUpdates bounds the UpdateOpsItem calls one incident of n occurrences
// makes when no call fails: Milestones(n) for the count, as many again for
// title changes (at most one per interval between milestones), 4 for
// severity escalations (none, then "4" up to "1"), 1 when flapping starts
// and 1 to resolve it. Failed and retried calls come on top.
func MaxUpdates(n int) int {
	return 2*Milestones(n) + 4 + 1 + 1
}
