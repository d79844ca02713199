package analysis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/local/memory"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func highOrCritical(sev string) bool { return sev == "high" || sev == "critical" }

func newRecorder() (*analysis.Recorder, *memory.Problems) {
	store := memory.NewProblems()
	return analysis.NewRecorder(store, highOrCritical, func() time.Time { return t0.Add(48 * time.Hour) }), store
}

func opening(sev string) analysis.Opening {
	return analysis.Opening{
		OpsItemID: "oi-1", Fingerprint: "fp", Rule: "public-sg", Title: "Security group opened", Severity: sev,
		Category: "Security", Account: "111122223333", Region: "eu-west-1", Resources: []string{"arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1"},
		FirstEvent: t0, Created: t0.Add(40 * time.Second),
		Changes: []analysis.Change{{Time: t0.Add(-10 * time.Minute), EventName: "AuthorizeSecurityGroupIngress", Actor: "alice"}},
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	r, store := newRecorder()
	if tracked, err := r.Opened(ctx, opening("high")); err != nil || !tracked {
		t.Fatalf("Opened = %v, %v; want tracked", tracked, err)
	}
	a, _ := store.GetAnalysis(ctx, "oi-1")
	if a == nil || a.Status != analysis.Tracking {
		t.Fatalf("after opening: %+v, want tracking", a)
	}
	steps := []func() error{
		func() error {
			return r.Escalated(ctx, "oi-1", "high", analysis.Escalation{Step: 1, At: t0.Add(time.Hour), Priority: 1, Contact: "security-lead"})
		},
		func() error { return r.Acknowledged(ctx, "oi-1", t0.Add(70*time.Minute)) },
		func() error { return r.Acknowledged(ctx, "oi-1", t0.Add(90*time.Minute)) }, // later flip back: first kept
		func() error {
			_, err := r.Resolved(ctx, "oi-1", "high", t0.Add(3*time.Hour), "recovered: ingress revoked")
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	a, _ = store.GetAnalysis(ctx, "oi-1")
	if a.Status != analysis.Open {
		t.Fatalf("after resolution: status %s, want open", a.Status)
	}
	v := a.Version
	// Every event again, in another order: nothing is written.
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i](); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Opened(ctx, opening("high")); err != nil {
		t.Fatal(err)
	}
	a, _ = store.GetAnalysis(ctx, "oi-1")
	if a.Version != v || len(a.Escalations) != 1 {
		t.Fatalf("redelivered events wrote: version %d → %d, escalations %d", v, a.Version, len(a.Escalations))
	}
	for name, got := range map[string]func() (time.Duration, bool){
		"detect": a.TimeToDetect, "acknowledge": a.TimeToAcknowledge, "resolve": a.TimeToResolve,
	} {
		want := map[string]time.Duration{"detect": 40 * time.Second, "acknowledge": 69*time.Minute + 20*time.Second, "resolve": 3 * time.Hour}[name]
		if d, ok := got(); !ok || d != want {
			t.Errorf("time to %s = %v, %v; want %v", name, d, ok, want)
		}
	}
	var whats []string
	for _, e := range a.Timeline() {
		whats = append(whats, e.What)
	}
	want := []string{
		"change: AuthorizeSecurityGroupIngress by alice", "first event", "OpsItem oi-1 created",
		"escalated, step 1, priority 1, security-lead notified", "acknowledged (In progress)", "resolved: recovered: ingress revoked",
	}
	if strings.Join(whats, "|") != strings.Join(want, "|") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(whats, "\n"), strings.Join(want, "\n"))
	}
}

func TestOnlyWantedSeverities(t *testing.T) {
	ctx := context.Background()
	r, store := newRecorder()
	if tracked, err := r.Opened(ctx, opening("low")); err != nil || tracked {
		t.Fatalf("Opened(low) = %v, %v; want untracked", tracked, err)
	}
	// OpsCenter's own events name only the OpsItem: they create nothing.
	if err := r.Acknowledged(ctx, "oi-1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolved(ctx, "oi-1", "", t0, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolved(ctx, "oi-1", "low", t0, ""); err != nil {
		t.Fatal(err)
	}
	all, _ := store.ListAnalyses(ctx, analysis.Open)
	tr, _ := store.ListAnalyses(ctx, analysis.Tracking)
	if len(all)+len(tr) != 0 {
		t.Fatalf("analyses of a low incident: %+v %+v", all, tr)
	}
}

func TestResolvedBeforeOpened(t *testing.T) {
	ctx := context.Background()
	r, store := newRecorder()
	if opened, err := r.Resolved(ctx, "oi-1", "critical", t0.Add(time.Hour), "resolved in OpsCenter"); err != nil || !opened {
		t.Fatal(err)
	}
	if _, err := r.Opened(ctx, opening("critical")); err != nil {
		t.Fatal(err)
	}
	a, _ := store.GetAnalysis(ctx, "oi-1")
	if a.Status != analysis.Open || a.Rule != "public-sg" || a.Resolution != "resolved in OpsCenter" || a.FirstEvent != t0 {
		t.Fatalf("out-of-order events: %+v", a)
	}
}

func TestEdit(t *testing.T) {
	ctx := context.Background()
	r, store := newRecorder()
	if _, err := r.Opened(ctx, opening("high")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Edit(ctx, "oi-1", analysis.Edit{Close: true}); !errors.Is(err, analysis.ErrInvalid) {
		t.Fatalf("closing the analysis of an open incident: %v, want ErrInvalid", err)
	}
	if opened, err := r.Resolved(ctx, "oi-1", "high", t0.Add(time.Hour), ""); err != nil || !opened {
		t.Fatal(err)
	}
	cause := "  A change window let a test rule into production.  "
	a, err := r.Edit(ctx, "oi-1", analysis.Edit{
		RootCause: &cause, AddLessons: []string{"Review security group changes in pairs."},
		AddActions: []analysis.ActionItem{{Text: "Add an SCP denying 0.0.0.0/0 on port 22", Owner: "platform"}, {Text: "Runbook drill"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.RootCause != strings.TrimSpace(cause) || len(a.Undone()) != 2 || !a.Edited.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("after edit: %+v", a)
	}
	a, err = r.Edit(ctx, "oi-1", analysis.Edit{DoneActions: []int{2}, Close: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != analysis.Done || len(a.Undone()) != 1 || a.Undone()[0].Owner != "platform" {
		t.Fatalf("after close: %+v", a)
	}
	stored, _ := store.GetAnalysis(ctx, "oi-1")
	if stored.Version != a.Version || stored.Status != analysis.Done {
		t.Fatalf("stored %+v, returned %+v", stored, a)
	}
	for name, e := range map[string]analysis.Edit{
		"action out of range": {DoneActions: []int{3}},
		"empty lesson":        {AddLessons: []string{"  "}},
		"long root cause":     {RootCause: new(strings.Repeat("x", analysis.MaxText+1))},
		"close and reopen":    {Close: true, Reopen: true},
		"too many lessons":    {AddLessons: make([]string, analysis.MaxLessons+1)},
	} {
		if _, err := r.Edit(ctx, "oi-1", e); !errors.Is(err, analysis.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := r.Edit(ctx, "oi-2", analysis.Edit{Close: true}); !errors.Is(err, analysis.ErrNotFound) {
		t.Errorf("edit of no analysis: %v, want ErrNotFound", err)
	}
	after, _ := store.GetAnalysis(ctx, "oi-1")
	if after.Version != stored.Version {
		t.Errorf("refused edits wrote: version %d → %d", stored.Version, after.Version)
	}
}
