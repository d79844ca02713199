package incidents_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/incidents"
)

// TestLateDetection: a detection that reaches the lifecycle after its own
// recovery (it waited in a dead-letter queue and was redriven) ends as if
// the two had come in order: its OpsItem opened and resolved.
func TestLateDetection(t *testing.T) {
	d := func(minute int) signal.Signal { return sig(signal.Detected, minute) }
	r := func(minute int) signal.Signal { return sig(signal.Recovered, minute) }
	tests := []struct {
		name       string
		faults     faults
		steps      []step
		wantItems  []string
		wantEvents []string
		// wantResolution is the end of the last OpsItem's resolution.
		wantResolution string
	}{
		{
			name:       "recovery first, then its detection",
			steps:      []step{ok(r(10), incidents.NoIncident), ok(d(5), incidents.Resolved), ok(d(6), incidents.Stale), ok(d(5), incidents.Duplicate)},
			wantItems:  []string{"Resolved"},
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved}, wantResolution: "(rule alarm-in-alarm, event recovered-10)",
		},
		{
			name:       "a detection after the kept recovery opens as usual",
			steps:      []step{ok(r(10), incidents.NoIncident), ok(d(11), incidents.Opened)},
			wantItems:  []string{"Open"},
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:       "a detection older than the kept recovery, after a newer one opened",
			steps:      []step{ok(r(10), incidents.NoIncident), ok(d(20), incidents.Opened), ok(d(5), incidents.Stale), ok(d(21), incidents.Repeated)},
			wantItems:  []string{"Open"},
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name: "the newest recovery is kept",
			steps: []step{ok(r(10), incidents.NoIncident), ok(r(20), incidents.NoIncident), ok(r(15), incidents.NoIncident),
				ok(d(18), incidents.Resolved)},
			wantItems:  []string{"Resolved"},
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved}, wantResolution: "event recovered-20)",
		},
		{
			name: "after an earlier incident: the late detection of the next one",
			steps: []step{ok(d(0), incidents.Opened), ok(r(10), incidents.Resolved), ok(r(20), incidents.NoIncident),
				ok(d(15), incidents.Resolved), ok(d(5), incidents.Stale)},
			wantItems: []string{"Resolved", "Resolved"},
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved,
				incidents.DetailOpened, incidents.DetailResolved}, wantResolution: "event recovered-20)",
		},
		{
			name:   "the resolution fails: the redelivery finishes it",
			faults: faults{update: once(errThrottled)},
			steps: []step{ok(r(10), incidents.NoIncident), {s: d(5), wantErr: "retryable"},
				ok(d(5), incidents.Resolved), ok(d(5), incidents.Duplicate)},
			wantItems:  []string{"Resolved"},
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved}, wantResolution: "event recovered-10)",
		},
		{
			name:   "the resolution fails: another signal finishes it first",
			faults: faults{update: once(errThrottled)},
			steps: []step{ok(r(10), incidents.NoIncident), {s: d(5), wantErr: "retryable"},
				ok(d(12), incidents.Opened)},
			wantItems:  []string{"Resolved", "Open"},
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved, incidents.DetailOpened},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.faults)
			for i, st := range tt.steps {
				out, err := e.m.Handle(context.Background(), st.s)
				if got := errKind(err); got != st.wantErr {
					t.Fatalf("step %d: Handle(%s) error = %v (%s), want %s", i, st.s.EventID, err, got, st.wantErr)
				}
				if st.want != "" && out.Action != st.want {
					t.Fatalf("step %d: Handle(%s) = %s, want %s", i, st.s.EventID, out.Action, st.want)
				}
			}
			var statuses []string
			items := e.ops.Items()
			for _, it := range items {
				statuses = append(statuses, it.Status)
			}
			if !reflect.DeepEqual(statuses, tt.wantItems) {
				t.Errorf("OpsItem statuses = %v, want %v", statuses, tt.wantItems)
			}
			var events []string
			for _, ev := range e.published {
				events = append(events, ev.DetailType)
			}
			if !reflect.DeepEqual(events, tt.wantEvents) {
				t.Errorf("published %v, want %v", events, tt.wantEvents)
			}
			if tt.wantResolution != "" {
				got := items[len(items)-1].OperationalData[incidents.KeyResolution].Value
				if !strings.HasSuffix(got, tt.wantResolution) {
					t.Errorf("resolution = %q, want it to end with %q", got, tt.wantResolution)
				}
			}
		})
	}
}

// TestKeptRecoveryExpires: a record made only to keep a recovery carries an
// expiry, so the store can drop it once no detection can still come; a
// record of a real incident does not.
func TestKeptRecoveryExpires(t *testing.T) {
	e := newEnv(t, faults{})
	ctx := context.Background()
	if _, err := e.m.Handle(ctx, sig(signal.Recovered, 10)); err != nil {
		t.Fatal(err)
	}
	rec := e.record(t)
	if rec == nil || rec.Recovery == nil || rec.Recovery.EventID != "recovered-10" || rec.Recovery.Excerpt != "" {
		t.Fatalf("record = %+v, want the recovery kept without its excerpt", rec)
	}
	if want := e.clock.Now().Add(incidents.RecoveryTTL); !rec.Expires.Equal(want) {
		t.Errorf("Expires = %s, want %s", rec.Expires, want)
	}
	if _, err := e.m.Handle(ctx, sig(signal.Detected, 11)); err != nil {
		t.Fatal(err)
	}
	if rec := e.record(t); !rec.Expires.IsZero() || rec.Recovery != nil {
		t.Errorf("an open incident's record has Expires %s, Recovery %+v; want neither", rec.Expires, rec.Recovery)
	}
}

// TestClaimGrace: while one worker creates an incident's OpsItem, others
// wait for its id instead of creating it too; a claim left by a worker that
// died is taken over once the grace has passed.
func TestClaimGrace(t *testing.T) {
	t.Run("others wait for the creator", func(t *testing.T) {
		inCreate, proceed := make(chan struct{}), make(chan struct{})
		e := newEnv(t, faults{create: func(n int) error {
			if n == 1 {
				close(inCreate)
				<-proceed
			}
			return nil
		}})
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := e.m.Handle(ctx, sig(signal.Detected, 0)); err != nil {
				t.Errorf("creator: %v", err)
			}
		})
		<-inCreate
		// The claim is written without what only the OpsItem needs: a
		// new fingerprint's claim is one small write.
		if rec := e.record(t); rec.First != nil || len(rec.Plan.Runbooks) > 0 || rec.Claimed.IsZero() || rec.Occurrences != 1 {
			t.Errorf("record while the OpsItem is created = %+v, want a claim without first signal and plan", rec)
		}
		outs := make([]incidents.Outcome, 3)
		for i := range outs {
			wg.Go(func() {
				var err error
				if outs[i], err = e.m.Handle(ctx, sig(signal.Detected, 1+i)); err != nil {
					t.Errorf("repeat %d: %v", i, err)
				}
			})
		}
		time.Sleep(100 * time.Millisecond) // the repeats are waiting
		close(proceed)
		wg.Wait()
		for i, out := range outs {
			if out.Action != incidents.Repeated || out.Created {
				t.Errorf("repeat %d: %+v, want Repeated, not Created", i, out)
			}
		}
		if st := e.ops.Stats(); st.Creates != 1 {
			t.Errorf("Create calls = %d, want 1", st.Creates)
		}
		if rec := e.record(t); rec.Occurrences != 4 || rec.First == nil || rec.First.EventID != "detected-0" || len(rec.Plan.Runbooks) == 0 {
			t.Errorf("record = %+v, want 4 occurrences, the first signal and the plan", rec)
		}
	})
	t.Run("a dead worker's claim", func(t *testing.T) {
		e := newEnv(t, faults{}, incidents.WithClaimGrace(50*time.Millisecond))
		ctx := context.Background()
		// What a worker that died after claiming the record leaves.
		claimed := &incidents.Record{Fingerprint: fp, Status: incidents.StatusOpen, Rule: "alarm-in-alarm",
			Title: "Alarm api-errors is in ALARM", Occurrences: 1, FirstSeen: t0, LastSeen: t0,
			Recent: []string{"detected-0"}, Claimed: e.clock.Now()}
		if err := e.store.Put(ctx, claimed); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := e.m.Handle(ctx, sig(signal.Detected, 1))
		if errKind(err) != "retryable" || !strings.Contains(err.Error(), "another worker is making") {
			t.Fatalf("within the grace: error = %v, want a retryable one saying another worker is making it", err)
		}
		if waited := time.Since(start); waited < 50*time.Millisecond {
			t.Errorf("gave up after %s, want a wait of the grace (50ms)", waited)
		}
		if st := e.ops.Stats(); st.Creates != 0 {
			t.Errorf("Create calls within the grace = %d, want 0", st.Creates)
		}
		e.clock.Add(time.Second)
		out, err := e.m.Handle(ctx, sig(signal.Detected, 1))
		if err != nil || !out.Created || out.Action != incidents.Repeated {
			t.Fatalf("after the grace: %+v, %v; want the OpsItem created and the signal counted", out, err)
		}
		rec := e.record(t)
		if rec.OpsItemID == "" || rec.Occurrences != 2 || !rec.Claimed.IsZero() {
			t.Errorf("record = %+v, want an OpsItem id, 2 occurrences, no claim", rec)
		}
		// The claim had no first signal: the one at hand describes the
		// OpsItem, with its plan.
		if rec.First == nil || rec.First.EventID != "detected-1" || len(rec.Plan.Runbooks) == 0 {
			t.Errorf("record's first signal %+v and plan %+v, want the signal that took the claim over and its plan", rec.First, rec.Plan)
		}
		items := e.ops.Items()
		if len(items) != 1 || items[0].OperationalData[incidents.KeyEventID].Value != "detected-1" ||
			!strings.Contains(items[0].OperationalData[incidents.KeyAutomations].Value, "AWS-RestartEC2Instance") {
			t.Errorf("OpsItems = %+v, want one, of event detected-1 with its plan's runbook", items)
		}
	})
	t.Run("a failed Create gives the claim up", func(t *testing.T) {
		e := newEnv(t, faults{create: once(errThrottled)})
		ctx := context.Background()
		if _, err := e.m.Handle(ctx, sig(signal.Detected, 0)); errKind(err) != "retryable" {
			t.Fatalf("error = %v, want retryable", err)
		}
		if rec := e.record(t); !rec.Claimed.IsZero() {
			t.Errorf("claim left at %s after a failed Create, want none", rec.Claimed)
		}
		// Another signal need not wait: it creates the OpsItem at once.
		out, err := e.m.Handle(ctx, sig(signal.Detected, 1))
		if err != nil || !out.Created {
			t.Fatalf("next signal: %+v, %v; want the OpsItem created", out, err)
		}
	})
}

// TestConcurrentStorm: a storm handed to several workers at once makes one
// Create and one Update per milestone, as one worker would: creation and
// each update are claimed in the record before OpsCenter is called.
func TestConcurrentStorm(t *testing.T) {
	const n, workers = 5000, 4
	e := newEnv(t, faults{}, incidents.WithAttempts(1000))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				s := sig(signal.Detected, 0)
				s.EventID = fmt.Sprintf("storm-%d", i)
				if _, err := e.m.Handle(ctx, s); err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Handle(%s): %v", s.EventID, err)
				}
			}
		})
	}
	wg.Wait()
	st := e.ops.Stats()
	t.Logf("%d signals on %d workers: %d Create, %d Updates, %d record writes", n, workers, st.Creates, st.Updates, e.store.Puts())
	if st.Creates != 1 {
		t.Errorf("Create calls = %d, want 1", st.Creates)
	}
	if want := incidents.Milestones(n); st.Updates != want {
		t.Errorf("Update calls = %d, want %d (one per milestone)", st.Updates, want)
	}
	if rec := e.record(t); rec.Occurrences != n || rec.Pending != "" {
		t.Errorf("record: %d occurrences, claim %q; want %d, none", rec.Occurrences, rec.Pending, n)
	}
}

// TestConcurrentCopies: copies of one signal handled at once (an at-least-
// once delivery) make its OpsCenter call once, and exactly one of them
// reports the resolution.
func TestConcurrentCopies(t *testing.T) {
	for round := range 20 {
		inUpdate, proceed := make(chan struct{}), make(chan struct{})
		e := newEnv(t, faults{update: func(n int) error {
			if n == 1 {
				close(inUpdate)
				<-proceed
			}
			return nil
		}})
		ctx := context.Background()
		if _, err := e.m.Handle(ctx, sig(signal.Detected, 0)); err != nil {
			t.Fatal(err)
		}
		const copies = 3
		outs := make([]incidents.Outcome, copies)
		var wg sync.WaitGroup
		for i := range copies {
			wg.Go(func() {
				var err error
				if outs[i], err = e.m.Handle(ctx, sig(signal.Recovered, 1)); err != nil {
					t.Errorf("copy %d: %v", i, err)
				}
			})
		}
		<-inUpdate
		time.Sleep(time.Duration(round) * time.Millisecond)
		close(proceed)
		wg.Wait()
		resolved := 0
		for _, out := range outs {
			if out.Resolved {
				resolved++
			}
		}
		if resolved != 1 {
			t.Errorf("round %d: %d copies report the resolution, want 1 (%+v)", round, resolved, outs)
		}
		if st := e.ops.Stats(); st.Updates != 1 {
			t.Errorf("round %d: Update calls = %d, want 1", round, st.Updates)
		}
		if n := len(e.published); n != 2 {
			t.Errorf("round %d: %d events published, want Opened and Resolved once each", round, n)
		}
	}
}

// TestRecentDigests: a record remembers its last signals by 12-character
// digests, and still knows the plain ids records written before kept.
func TestRecentDigests(t *testing.T) {
	e := newEnv(t, faults{})
	ctx := context.Background()
	for i := range 100 {
		s := sig(signal.Detected, 0)
		s.EventID = fmt.Sprintf("%08x-1bf1-5280-b53e-cb8363851c8c", i)
		if _, err := e.m.Handle(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rec := e.record(t)
	if len(rec.Recent) != 64 {
		t.Fatalf("record remembers %d signals, want 64", len(rec.Recent))
	}
	for _, d := range rec.Recent {
		if len(d) != 12 {
			t.Fatalf("Recent entry %q: want a 12-character digest", d)
		}
	}
	if !rec.Remembers("00000063-1bf1-5280-b53e-cb8363851c8c") || rec.Remembers("00000000-1bf1-5280-b53e-cb8363851c8c") {
		t.Error("Remembers: want the last signal remembered, the first (100 signals ago) not")
	}
	// A record as written before digests.
	rec.Recent = append(rec.Recent, "detected-legacy")
	rec.Version = 0
	rec.Fingerprint = "legacy"
	if err := e.store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	s := sig(signal.Detected, 0)
	s.Fingerprint, s.EventID = "legacy", "detected-legacy"
	if out, err := e.m.Handle(ctx, s); err != nil || out.Action != incidents.Duplicate {
		t.Errorf("a signal an older record names by its id = %+v, %v, want a duplicate", out, err)
	}
}
