package incidents

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"
)

// TestTally: an incident takes from the deployment's month tally: its
// rule's day and hour whatever its severity, and the month; a lesser one
// the deployment's day and hour too, under the month's reserve.
func TestTally(t *testing.T) {
	at := time.Date(2026, 3, 7, 15, 20, 0, 0, time.UTC)
	b := signal.Budget{RuleHour: 1, RuleDay: 2, Hour: 3, Day: 4, Month: 10, Reserve: 2}
	r := "r" + ruleKey("r")
	for sev, want := range map[string]string{
		"3": "all#m#202603: n<8 d07<4 h0715<3 " + r + "d07<2 " + r + "h0715<1",
		"1": "all#m#202603: n<10 " + r + "d07<2 " + r + "h0715<1",
	} {
		tl := tally(b, "r", sev, at)
		got := tl.Key + ":"
		for _, c := range tl.Counts {
			got += " " + c.Name + "<" + strconv.Itoa(c.Limit)
		}
		if got != want {
			t.Errorf("tally at severity %s = %q, want %q", sev, got, want)
		}
	}
	stale := tally(b, "r", "3", at).Stale
	for name, want := range map[string]bool{
		"n": false, "d07": false, "h0715": false, r + "d07": false, "r012345h0715": false,
		"d06": true, "h0714": true, "h0615": true, r + "d06": true, "r012345h0714": true, "rule": false,
	} {
		if got := stale(name); got != want {
			t.Errorf("Stale(%s) = %v, want %v", name, got, want)
		}
	}
}

// TestMonthTallyBounded: over a month of incidents of 20 rules at random
// hours, with days without any, the month's tally drops the windows past
// as it goes: it keeps the day's and hour's counts of the rules that
// opened incidents that day, under 1 KB, one write unit a take.
func TestMonthTallyBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	counts := map[string]int{}
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	most := 0
	for at := month; at.Month() == month.Month(); at = at.Add(time.Duration(1+rng.IntN(90)) * time.Minute) {
		tl := tally(signal.Budget{}, "rule-"+strconv.Itoa(rng.IntN(20)), "3", at)
		for name := range counts {
			if tl.Stale(name) {
				delete(counts, name)
			}
		}
		for _, c := range tl.Counts {
			counts[c.Name]++
		}
		size := 0
		for name := range counts {
			size += len(name) + 4 // a name and a small number
		}
		most = max(most, size)
	}
	// The item's keys, last id and expiry take some 150 bytes more.
	if most > 850 {
		t.Errorf("the month's tally held %d bytes of counts at most", most)
	}
	t.Logf("at most %d bytes of counts", most)
}
