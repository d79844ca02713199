package incidents_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/signal"
)

// other is a detection of another incident of the test's rule, n minutes
// after t0, at OpsItem severity sev.
func other(n int, sev string, b signal.Budget) signal.Signal {
	return sig(signal.Detected, n, func(s *signal.Signal) {
		s.Fingerprint = fmt.Sprintf("alarm-in-alarm:alarm-%d", n)
		s.EventID = fmt.Sprintf("ev-%d-%s", n, sev)
		s.Plan.OpsItemSeverity = sev
		s.Budget = b
	})
}

// rollupItems returns the roll-up OpsItems and the incidents' own.
func rollupItems(ops *memory.OpsCenter) (rollups, own []memory.Item) {
	for _, it := range ops.Items() {
		if _, ok := it.OperationalData[incidents.KeyHeldBack]; ok {
			rollups = append(rollups, it)
		} else {
			own = append(own, it)
		}
	}
	return rollups, own
}

func TestBudgetCaps(t *testing.T) {
	tests := []struct {
		name     string
		budget   signal.Budget
		sevs     []string // one new incident each, a minute apart
		wantOwn  int
		wantHeld int
	}{
		{"rule's hour", signal.Budget{RuleHour: 3}, []string{"3", "3", "3", "3", "3"}, 3, 2},
		{"deployment's hour holds back lesser severities", signal.Budget{RuleHour: 100, Hour: 2}, []string{"3", "3", "4", "3"}, 2, 2},
		{"severe ones pass the deployment's hour", signal.Budget{RuleHour: 100, Hour: 2}, []string{"3", "3", "1", "2", "4"}, 4, 1},
		{"the month's reserve is kept for severe ones", signal.Budget{RuleHour: 100, RuleDay: 100, Hour: 100, Day: 100, Month: 4, Reserve: 2}, []string{"3", "4", "3", "1", "2", "1"}, 4, 2},
		{"a severe one still meets its rule's cap", signal.Budget{RuleHour: 1}, []string{"1", "1"}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, faults{}, incidents.WithBudget(&memory.Budget{}))
			held := 0
			for i, sev := range tt.sevs {
				out, err := e.m.Handle(context.Background(), other(i, sev, tt.budget))
				if err != nil {
					t.Fatalf("Handle(%d) error = %v", i, err)
				}
				if out.Action == incidents.HeldBack {
					held++
				}
			}
			rollups, own := rollupItems(e.ops)
			if len(own) != tt.wantOwn || held != tt.wantHeld {
				t.Errorf("%d own OpsItems, %d held back; want %d and %d", len(own), held, tt.wantOwn, tt.wantHeld)
			}
			if want := min(tt.wantHeld, 1); len(rollups) != want {
				t.Errorf("%d roll-up OpsItems, want %d", len(rollups), want)
			}
		})
	}
}

// TestHeldBackOnce: a held incident redelivered, and its repeats, count
// once in the roll-up; after the hold interval a repeat asks the budget
// again and, now that the hour has passed, opens its own OpsItem.
func TestHeldBackOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, faults{}, incidents.WithBudget(&memory.Budget{}))
	b := signal.Budget{RuleHour: 1}
	first, second := other(1, "3", b), other(2, "3", b)
	for _, s := range []signal.Signal{first, second, second} {
		if _, err := e.m.Handle(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	repeat := second
	repeat.EventID = "repeat"
	if out, err := e.m.Handle(ctx, repeat); err != nil || out.Action != incidents.HeldBack {
		t.Fatalf("repeat of a held incident = %v, %v; want held-back", out.Action, err)
	}
	roll, err := e.store.Get(ctx, incidents.RollupFingerprint("alarm-in-alarm", t0))
	if err != nil || roll == nil {
		t.Fatalf("no roll-up record: %v", err)
	}
	if roll.Occurrences != 1 || len(roll.HeldBack) != 1 || roll.HeldBack[0].Fingerprint != second.Fingerprint {
		t.Errorf("roll-up = %d holds %+v, want the one held incident once", roll.Occurrences, roll.HeldBack)
	}

	e.clock.Add(2 * time.Hour)
	later := second
	later.EventID, later.Time = "later", second.Time.Add(2*time.Hour)
	out, err := e.m.Handle(ctx, later)
	if err != nil || !out.Created {
		t.Errorf("after the hold interval = %+v, %v; want its own OpsItem created", out, err)
	}
}

// TestHeldBackRollUpRetried: when counting the hold in the roll-up fails,
// the redelivered signal counts it, once.
func TestHeldBackRollUpRetried(t *testing.T) {
	ctx := context.Background()
	fail := true
	e := newEnv(t, faults{create: func(n int) error {
		if n == 2 && fail { // the roll-up's creation
			fail = false
			return errors.New("throttled")
		}
		return nil
	}}, incidents.WithBudget(&memory.Budget{}))
	b := signal.Budget{RuleHour: 1}
	if _, err := e.m.Handle(ctx, other(1, "3", b)); err != nil {
		t.Fatal(err)
	}
	s := other(2, "3", b)
	if _, err := e.m.Handle(ctx, s); err == nil || !incidents.Retryable(err) {
		t.Fatalf("Handle with the roll-up failing = %v, want a retryable error", err)
	}
	for range 2 {
		if out, err := e.m.Handle(ctx, s); err != nil {
			t.Fatalf("redelivery = %+v, %v", out, err)
		}
	}
	rollups, _ := rollupItems(e.ops)
	if len(rollups) != 1 || rollups[0].Occurrences != 1 {
		t.Errorf("roll-ups = %+v, want one counting the hold once", rollups)
	}
}

// TestRetryOnSchedule: an incident OpsCenter refused for its quota waits on
// the waitlist and opens on the next scheduled Retry once OpsCenter takes
// it, without another signal of its fingerprint.
func TestRetryOnSchedule(t *testing.T) {
	ctx := context.Background()
	full := true
	e := newEnv(t, faults{create: func(int) error {
		if full {
			return fmt.Errorf("create: %w", incidents.ErrLimitExceeded)
		}
		return nil
	}}, incidents.WithWaitlist(&memory.Waitlist{}))
	if out, err := e.m.Handle(ctx, sig(signal.Detected, 0)); out.Action != incidents.LimitExceeded || !errors.Is(err, incidents.ErrLimitExceeded) {
		t.Fatalf("Handle = %v, %v; want limit-exceeded", out.Action, err)
	}
	rep, err := e.m.Retry(ctx)
	if err != nil || !rep.Refused || rep.Opened != 0 {
		t.Errorf("Retry while full = %+v, %v; want refused", rep, err)
	}
	full = false
	if rep, err = e.m.Retry(ctx); err != nil || rep.Opened != 1 || rep.Waiting != 1 {
		t.Errorf("Retry = %+v, %v; want the waiting incident opened", rep, err)
	}
	if rec := e.record(t); rec.OpsItemID == "" {
		t.Errorf("record has no OpsItem after Retry")
	}
	if rep, err = e.m.Retry(ctx); err != nil || rep.Waiting != 0 {
		t.Errorf("Retry after = %+v, %v; want nothing waiting", rep, err)
	}
	if n := len(e.published); n != 1 || !strings.Contains(e.published[0].DetailType, "Opened") {
		t.Errorf("published %d events, want one Incident Opened", n)
	}
}
