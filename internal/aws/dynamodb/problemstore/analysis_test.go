package problemstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/problems"
)

// TestAnalyses runs the analysis recorder over the table: the lifecycle,
// concurrent edits that each land, the status index kept apart from the
// problems', and the expiry of done analyses.
func TestAnalyses(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	now := base.Add(72 * time.Hour)
	rec := analysis.NewRecorder(store, func(sev string) bool { return sev == "high" }, func() time.Time { return now })
	if err := store.Put(ctx, sampleProblem("P-000000000001", problems.Open, base)); err != nil {
		t.Fatal(err)
	}
	for i, sev := range []string{"high", "high", "low"} {
		id := fmt.Sprintf("oi-%d", i+1)
		if _, err := rec.Opened(ctx, analysis.Opening{OpsItemID: id, Severity: sev, Rule: "r", FirstEvent: base.Add(time.Duration(i) * time.Hour), Created: base.Add(time.Duration(i)*time.Hour + time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if opened, err := rec.Resolved(ctx, "oi-2", "high", base.Add(3*time.Hour), "recovered"); err != nil || !opened {
		t.Fatal(opened, err)
	}
	// A redelivery finds it open, and writes nothing.
	if opened, err := rec.Resolved(ctx, "oi-2", "high", base.Add(3*time.Hour), "recovered"); err != nil || !opened {
		t.Fatal(err)
	}
	list := func(st analysis.Status) []string {
		t.Helper()
		as, err := store.ListAnalyses(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range as {
			ids = append(ids, a.OpsItemID)
		}
		return ids
	}
	if got := fmt.Sprint(list(analysis.Tracking), list(analysis.Open)); got != "[oi-1] [oi-2]" {
		t.Fatalf("tracking, open = %s; want [oi-1] [oi-2]", got)
	}
	// A tracked analysis is written outside the status index (one write
	// unit); an open one is in it, for the review.
	raw := dynamodb.New(client, name, dynamodb.Options{})
	for id, indexed := range map[string]bool{"oi-1": false, "oi-2": true} {
		item, err := raw.Item(ctx, dynamodb.Key("pia#"+id, "analysis"), "read")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := item[dynamodb.StatusIndexPartitionKey]; ok != indexed {
			t.Errorf("analysis %s in the status index: %v, want %v", id, ok, indexed)
		}
	}
	if ps, err := store.List(ctx, problems.Open); err != nil || len(ps) != 1 {
		t.Fatalf("open problems = %d, %v; want the one problem only", len(ps), err)
	}
	a, err := store.GetAnalysis(ctx, "oi-2")
	if err != nil || a.Version != 2 {
		t.Fatalf("oi-2 after a repeated resolution: %+v, %v; want version 2", a, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			_, err := rec.Edit(ctx, "oi-2", analysis.Edit{AddLessons: []string{fmt.Sprintf("lesson %d", i)}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	a, err = rec.Edit(ctx, "oi-2", analysis.Edit{Close: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Lessons) != 10 || a.Status != analysis.Done {
		t.Fatalf("after 10 concurrent edits and close: %d lessons, %s", len(a.Lessons), a.Status)
	}
	if got := fmt.Sprint(list(analysis.Open), list(analysis.Done)); got != "[] [oi-2]" {
		t.Fatalf("open, done = %s; want [] [oi-2]", got)
	}
	item, err := dynamodb.New(client, name, dynamodb.Options{}).Item(ctx, dynamodb.Key("pia#oi-2", "analysis"), "read")
	if err != nil {
		t.Fatal(err)
	}
	if exp, err := dynamodb.NumberAttr(item, dynamodb.TTLAttribute); err != nil || time.Unix(exp, 0).Before(now.Add(problemstore.DefaultIncidentLogTTL-time.Minute)) {
		t.Fatalf("done analysis expires at %d (%v); want a year after closing", exp, err)
	}
}
