package incidents

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"
)

// TestTallies: an incident takes from two tallies, its rule's day and the
// deployment's month, whatever its severity; a severe one is counted in
// the month only, not in the deployment's days and hours.
func TestTallies(t *testing.T) {
	at := time.Date(2026, 3, 7, 15, 20, 0, 0, time.UTC)
	b := signal.Budget{RuleHour: 1, RuleDay: 2, Hour: 3, Day: 4, Month: 10, Reserve: 2}
	names := func(ts []Tally) (out []string) {
		for _, t := range ts {
			s := t.Key + ":"
			for _, c := range t.Counts {
				s += " " + c.Name + "<" + strconv.Itoa(c.Limit)
			}
			out = append(out, s)
		}
		return out
	}
	for sev, want := range map[string][]string{
		"3": {"rule#r#d#20260307: n<2 h15<1", "all#m#202603: n<8 d07<4 h0715<3"},
		"1": {"rule#r#d#20260307: n<2 h15<1", "all#m#202603: n<10"},
	} {
		got := names(tallies(b, "r", sev, at))
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("tallies at severity %s = %q, want %q", sev, got, want)
		}
	}
}

// TestMonthTallyBounded: over a month of incidents at random hours, with
// days without any, the month's tally keeps at most the day's hours and one
// hour left behind per day without an incident: well under 1 KB, one write
// unit a take.
func TestMonthTallyBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	counts := map[string]int{}
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	most := 0
	for at := month; at.Month() == month.Month(); at = at.Add(time.Duration(1+rng.IntN(40)) * time.Hour) {
		all := tallies(signal.Budget{}, "r", "3", at)[1]
		for _, c := range all.Counts {
			counts[c.Name]++
		}
		for _, f := range all.Forget {
			delete(counts, f)
		}
		most = max(most, len(counts))
	}
	// n, up to 31 days, 24 hours and up to 31 left behind.
	if most > 1+31+24+31 {
		t.Errorf("the month's tally held %d counts at most", most)
	}
	size := 0
	for name := range counts {
		size += len(name) + 4 // a name and a small number
	}
	if size > 700 {
		t.Errorf("the month's tally is %d bytes at the end of the month", size)
	}
	t.Logf("at most %d counts, %d bytes at the end", most, size)
}
