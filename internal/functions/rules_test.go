package functions_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/opsloop/opsloop/internal/functions/classifierfn"
	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/local/memory"
)

func TestRulesKeepLastGood(t *testing.T) {
	ctx := context.Background()
	out := &bytes.Buffer{}
	loader := &fakeLoader{}
	log := lambdaenv.NewLogger(out, "INFO")
	r := classifierfn.LiveRules(loader, memory.New(), log, lambdaenv.NewMetrics(out, log))
	if loader.calls != 0 {
		t.Fatalf("NewRules loaded the rules %d times, want 0 before the first event", loader.calls)
	}
	severity := func(t *testing.T) string {
		t.Helper()
		c, err := r.Current(ctx)
		if err != nil {
			t.Fatalf("Classifier() error %v", err)
		}
		return c.Rules().Rule("test-alarm").Severity
	}

	steps := []struct {
		name     string
		change   func()
		severity string
		failures float64 // RulesReloadFailed so far
	}{
		{"first load", func() { loader.set(testRules, 1) }, "high", 0},
		{"cached", func() {}, "high", 0},
		{"reload fails", func() { loader.fail(errors.New("ThrottlingException")) }, "high", 1},
		{"new rules", func() { loader.set(otherRules, 2) }, "low", 1},
		{"invalid rules", func() { loader.set(`{"rules": [{"name": "x", "action": "explode"}]}`, 3) }, "low", 2},
		{"invalid rules kept out", func() {}, "low", 2},
		{"fixed", func() { loader.set(testRules, 4) }, "high", 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			if got := severity(t); got != st.severity {
				t.Errorf("after %s: severity = %s, want %s", st.name, got, st.severity)
			}
			if got := emf(t, out)["RulesReloadFailed"]; got != st.failures {
				t.Errorf("after %s: RulesReloadFailed = %v, want %v", st.name, got, st.failures)
			}
		})
	}
	recs := logRecords(t, out, "rules invalid")
	if len(recs) == 0 {
		t.Fatal("invalid rules were not logged")
	}
	for _, rec := range recs {
		if rec["file"] != "/opsloop/rules/test" || rec["error"] == "" || rec["keeping_last_good"] != true {
			t.Errorf("invalid rules logged as %v, want the file, the error and keeping_last_good", rec)
		}
	}
	if n := len(logRecords(t, out, "rules loaded")); n != 3 {
		t.Errorf("rules loaded %d times, want 3", n)
	}
}

func TestRulesInvalidFromTheStart(t *testing.T) {
	ctx := context.Background()
	out := &bytes.Buffer{}
	loader := &fakeLoader{}
	log := lambdaenv.NewLogger(out, "INFO")
	r := classifierfn.LiveRules(loader, memory.New(), log, lambdaenv.NewMetrics(out, log))
	loader.set(`{"rules": []`, 1)
	for i := range 3 {
		if _, err := r.Current(ctx); err == nil {
			t.Fatalf("Classifier() call %d with invalid rules = nil error, want the validation error", i+1)
		}
	}
	if got := emf(t, out)["RulesReloadFailed"]; got != 1 {
		t.Errorf("RulesReloadFailed = %v, want 1: the same invalid files are reported once", got)
	}
	loader.set(testRules, 2)
	if _, err := r.Current(ctx); err != nil {
		t.Errorf("Classifier() after the fix: %v", err)
	}
}
