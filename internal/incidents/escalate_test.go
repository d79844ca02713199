package incidents_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/signal"
)

const contact = "arn:aws:sns:us-east-1:123456789012:platform-lead"

// escalating is a detection whose severity expects a response within 15
// minutes and escalates to one contact.
func escalating(minute int) signal.Signal {
	return sig(signal.Detected, minute, func(s *signal.Signal) {
		s.Plan.ResponseTime = 15 * time.Minute
		s.Plan.EscalateTo = []string{contact}
	})
}

// TestEscalateOncePerStep: an OpsItem left Open past its response time is
// raised a priority step and its next contact notified, once per response
// time however often the schedule runs, and "Incident Escalated" is
// published once per step; an acknowledged one is not escalated.
func TestEscalateOncePerStep(t *testing.T) {
	ctx := context.Background()
	dues := &memory.Dues{}
	e := newEnv(t, faults{})
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithDefaultTopic(topic),
		incidents.WithPublisher(incidents.PublisherFunc(func(_ context.Context, dt string, d any) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.published = append(e.published, incidents.Event{DetailType: dt, Detail: d})
			return nil
		})),
		incidents.WithEscalation(dues, e.ops))
	if _, err := e.m.Handle(ctx, escalating(0)); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 0 {
		t.Fatalf("Escalate before the response time = %+v, %v; want nothing", rep, err)
	}
	e.clock.Add(16 * time.Minute)
	// Three copies of the schedule at once take the step once.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.m.Escalate(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	it := e.ops.Items()[0]
	if it.Priority != 1 || !slices.Contains(it.Notifications, contact) || !slices.Contains(it.Notifications, topic) {
		t.Errorf("after the first escalation: priority %d, notifications %v; want 1 and the contact besides the topic", it.Priority, it.Notifications)
	}
	escalations := func() (n int) {
		for _, ev := range e.published {
			if ev.DetailType == incidents.DetailEscalated {
				n++
			}
		}
		return n
	}
	if n := escalations(); n != 1 {
		t.Errorf("Incident Escalated published %d times, want 1", n)
	}
	// Acknowledged: no further step.
	e.ops.SetStatus(it.ID, "InProgress")
	e.clock.Add(20 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 0 {
		t.Errorf("Escalate after acknowledgement = %+v, %v; want no escalation", rep, err)
	}
	if n := escalations(); n != 1 {
		t.Errorf("Incident Escalated published %d times after acknowledgement, want 1", n)
	}
	if left, _ := dues.DueBy(ctx, e.clock.Now().Add(time.Hour)); len(left) != 0 {
		t.Errorf("still tracked after acknowledgement: %v", left)
	}
}

// TestEscalateUntilTopPriority: unacknowledged, an incident is escalated a
// step each response time until priority 1 and every contact is reached,
// then no more.
func TestEscalateUntilTopPriority(t *testing.T) {
	ctx := context.Background()
	dues := &memory.Dues{}
	e := newEnv(t, faults{})
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithEscalation(dues, e.ops))
	s := escalating(0)
	s.Plan.Priority = 3
	if _, err := e.m.Handle(ctx, s); err != nil {
		t.Fatal(err)
	}
	steps := 0
	for range 6 {
		e.clock.Add(16 * time.Minute)
		rep, err := e.m.Escalate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		steps += rep.Escalated
	}
	if it := e.ops.Items()[0]; steps != 2 || it.Priority != 1 {
		t.Errorf("%d escalations, priority %d; want 2 (3 → 2 → 1) and 1", steps, it.Priority)
	}
}

// newEscalating is the test's manager with escalation, its Dues kept apart.
func newEscalating(t *testing.T) (*env, *memory.Dues) {
	dues := &memory.Dues{}
	e := newEnv(t, faults{})
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithEscalation(dues, e.ops))
	return e, dues
}

// TestEscalateOwnOpsItemsKeepTheirDue: an OpsItem of the deployment's own
// account says when its response is due (KeyDue, searchable), so nothing
// is written to Dues for it; the escalation moves the due on, or ends it.
func TestEscalateOwnOpsItemsKeepTheirDue(t *testing.T) {
	ctx := context.Background()
	e, dues := newEscalating(t)
	if _, err := e.m.Handle(ctx, escalating(0)); err != nil {
		t.Fatal(err)
	}
	if left, _ := dues.DueBy(ctx, e.clock.Now().Add(time.Hour)); len(left) != 0 {
		t.Errorf("Dues after opening an own OpsItem: %v, want none", left)
	}
	due := e.ops.Items()[0].OperationalData[incidents.KeyDue]
	if want := e.clock.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339); due.Value != want || !due.Searchable {
		t.Errorf("OpsItem %s = %+v, want %s, searchable", incidents.KeyDue, due, want)
	}
	e.clock.Add(16 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Due != 1 || rep.Escalated != 1 {
		t.Fatalf("Escalate past the due = %+v, %v; want 1 due, 1 escalated", rep, err)
	}
	// Priority 1 and its one contact reached: nothing more is due, and
	// the OpsItem is no longer among those the schedule lists.
	if got, ok := e.ops.Items()[0].OperationalData[incidents.KeyDue]; ok {
		t.Errorf("OpsItem %s after the last step = %q, want it removed", incidents.KeyDue, got.Value)
	}
	if open, _ := e.ops.Open(ctx); len(open) != 0 {
		t.Errorf("Open after the last step = %+v, want none", open)
	}
	e.clock.Add(time.Hour)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Due != 0 {
		t.Errorf("Escalate after the last step = %+v, %v; want nothing due", rep, err)
	}
}

// TestEscalateOtherAccountTracked: an OpsItem in another account cannot be
// listed from here, so its due is kept in Dues, and dropped once it is
// acknowledged.
func TestEscalateOtherAccountTracked(t *testing.T) {
	ctx := context.Background()
	e, dues := newEscalating(t)
	s := escalating(0)
	s.OpsItemAccount = "210987654321"
	s.Plan.Priority = 3
	if _, err := e.m.Handle(ctx, s); err != nil {
		t.Fatal(err)
	}
	if left, _ := dues.DueBy(ctx, e.clock.Now().Add(time.Hour)); !slices.Equal(left, []string{fp}) {
		t.Fatalf("Dues after opening another account's OpsItem: %v, want [%s]", left, fp)
	}
	e.clock.Add(16 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Due != 1 || rep.Escalated != 1 {
		t.Fatalf("Escalate past the due = %+v, %v; want 1 due, 1 escalated", rep, err)
	}
	e.ops.SetStatus(e.ops.Items()[0].ID, "InProgress")
	e.clock.Add(20 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Acknowledged != 1 {
		t.Errorf("Escalate after acknowledgement = %+v, %v; want 1 acknowledged", rep, err)
	}
	if left, _ := dues.DueBy(ctx, e.clock.Now().Add(time.Hour)); len(left) != 0 {
		t.Errorf("still tracked after acknowledgement: %v", left)
	}
}

// TestEscalateEditedDue: an OpsItem's fingerprint edited to another
// incident's does not escalate that one; the record decides.
func TestEscalateEditedDue(t *testing.T) {
	ctx := context.Background()
	e, _ := newEscalating(t)
	other := escalating(0)
	other.Fingerprint, other.EventID = "alarm-in-alarm:other", "other-0"
	for _, s := range []signal.Signal{escalating(0), other} {
		if _, err := e.m.Handle(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	items := e.ops.Items()
	e.ops.SetStatus(items[1].ID, "InProgress") // the other one is acknowledged
	if err := e.ops.Update(ctx, items[0].ID, incidents.Update{OperationalData: map[string]incidents.Data{
		incidents.KeyFingerprint: {Value: other.Fingerprint, Searchable: true},
	}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(16 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 0 {
		t.Errorf("Escalate with an edited fingerprint = %+v, %v; want no escalation", rep, err)
	}
	if p := e.ops.Items()[1].Priority; p != 2 {
		t.Errorf("the acknowledged incident's priority = %d, want 2 still", p)
	}
}

// TestEscalateListsWhenDue: with a budget, its month tally keeps the
// earliest due its Takes were told of, and the schedule asks OpsCenter for
// the Open OpsItems (a paid request) only once that due has come, then
// moves the hint to the next due; nothing is written to Dues.
func TestEscalateListsWhenDue(t *testing.T) {
	ctx := context.Background()
	dues := &memory.Dues{}
	e := newEnv(t, faults{})
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithBudget(&memory.Budget{}),
		incidents.WithEscalation(dues, e.ops))
	first := escalating(0)
	first.Plan.Priority = 4 // three steps to priority 1
	second := escalating(0)
	second.Fingerprint, second.EventID = "alarm-in-alarm:second", "second-0"
	second.Plan.ResponseTime = 40 * time.Minute
	for _, s := range []signal.Signal{first, second} {
		if _, err := e.m.Handle(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := dues.DueBy(ctx, e.clock.Now().Add(time.Hour)); len(left) != 0 {
		t.Errorf("Dues after opening: %v, want none (the budget's tally keeps the hint)", left)
	}
	run := func(after time.Duration, wantListed, wantEscalated int) {
		t.Helper()
		e.clock.Add(after)
		before := e.ops.Stats().Listed
		rep, err := e.m.Escalate(ctx)
		if err != nil || rep.Escalated != wantEscalated || e.ops.Stats().Listed-before != wantListed {
			t.Fatalf("Escalate at +%s = %+v, %v, %d listings; want %d escalated, %d listings",
				e.clock.Now().Sub(t0), rep, err, e.ops.Stats().Listed-before, wantEscalated, wantListed)
		}
	}
	run(5*time.Minute, 0, 0)  // +5m: nothing due, OpsCenter not asked
	run(11*time.Minute, 1, 1) // +16m: the first is due (15m)
	run(5*time.Minute, 0, 0)  // +21m: the next due is the first's at +31m
	run(11*time.Minute, 1, 1) // +32m: the first's second step
	run(9*time.Minute, 1, 1)  // +41m: the second's (40m), its last (priority 1, its one contact)
	e.ops.SetStatus(e.ops.Items()[0].ID, "InProgress")
	run(10*time.Minute, 1, 0) // +51m: the first's third step was due at +47m, but it was acknowledged
	run(time.Hour, 0, 0)      // nothing more is due
}

// TestEscalateAcrossMonths: an OpsItem opened at the end of a month is due
// in the next; its hint is in the month it opened, which the schedule
// reads too, and moves on into the new month's tally.
func TestEscalateAcrossMonths(t *testing.T) {
	ctx := context.Background()
	budget := &memory.Budget{}
	e := newEnv(t, faults{})
	e.clock.t = time.Date(2025, 3, 31, 23, 55, 0, 0, time.UTC)
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithBudget(budget),
		incidents.WithEscalation(&memory.Dues{}, e.ops))
	s := escalating(0)
	s.Time, s.Plan.Priority = e.clock.Now(), 4
	if _, err := e.m.Handle(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(16 * time.Minute) // April 1st, 00:11
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 1 {
		t.Fatalf("Escalate in the next month = %+v, %v; want the step taken", rep, err)
	}
	hint := func(at time.Time) time.Time {
		h, _ := budget.Hint(ctx, incidents.Tally{Key: "all#m#" + at.Format("200601")})
		return h.At
	}
	if march, april := hint(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)), hint(e.clock.Now()); !march.IsZero() || !april.Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Errorf("hints after the step: March %v, April %v; want none and the next step's due", march, april)
	}
}

// TestEscalateLostStepKeepsHint: a copy of the schedule that finds the step
// taken by another (its claim refused) does not know the next due, so it
// leaves the hint for the next run instead of clearing it: the step still
// comes.
func TestEscalateLostStepKeepsHint(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, faults{})
	var lose atomic.Bool
	store := storeFake{
		get: e.store.Get,
		put: func(ctx context.Context, rec *incidents.Record) error {
			if lose.CompareAndSwap(true, false) {
				return incidents.ErrConflict
			}
			return e.store.Put(ctx, rec)
		},
		addHistory: e.store.AddHistory,
	}
	e.m = incidents.New(e.ops, store, incidents.WithClock(e.clock.Now), incidents.WithBudget(&memory.Budget{}),
		incidents.WithEscalation(&memory.Dues{}, e.ops))
	s := escalating(0)
	s.Plan.Priority = 4
	if _, err := e.m.Handle(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(16 * time.Minute)
	lose.Store(true) // the step's claim is refused: another copy took it
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 0 {
		t.Fatalf("Escalate losing the step = %+v, %v; want none taken", rep, err)
	}
	e.clock.Add(5 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 1 {
		t.Errorf("the next run = %+v, %v; want the step taken (the hint kept)", rep, err)
	}
}
