package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/problems"
)

func TestProblemsConditionalPut(t *testing.T) {
	ctx := context.Background()
	s := NewProblems()
	p := &problems.Problem{Key: "P-1", Status: problems.Candidate}
	steps := []struct {
		name    string
		version int64
		wantErr bool
	}{
		{"create", 0, false},
		{"create again", 0, true},
		{"update over version 1", 1, false},
		{"stale update", 1, true},
		{"ahead of the store", 5, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			p.Version = st.version
			err := s.Put(ctx, p)
			if (err != nil) != st.wantErr || (err != nil && !errors.Is(err, problems.ErrConflict)) {
				t.Errorf("Put(version %d) error = %v, want conflict %v", st.version, err, st.wantErr)
			}
		})
	}
	got, _ := s.Get(ctx, "P-1")
	if got.Version != 2 {
		t.Errorf("stored version = %d, want 2", got.Version)
	}
	got.Resources = append(got.Resources, "changed")
	if again, _ := s.Get(ctx, "P-1"); len(again.Resources) != 0 {
		t.Errorf("Get returned the stored record itself, not a copy")
	}
	if none, _ := s.Get(ctx, "P-2"); none != nil {
		t.Errorf("Get(missing) = %+v, want nil", none)
	}
}

func TestProblemsListAndState(t *testing.T) {
	ctx := context.Background()
	s := NewProblems()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	statuses := []problems.Status{problems.Open, problems.Candidate, problems.Open, problems.Resolved, problems.KnownError}
	for i, st := range statuses {
		if err := s.Put(ctx, &problems.Problem{Key: fmt.Sprintf("P-%d", i), Status: st, LastSeen: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		status problems.Status
		want   []string
	}{
		{problems.Open, []string{"P-2", "P-0"}},
		{problems.Candidate, []string{"P-1"}},
		{problems.Resolved, []string{"P-3"}},
		{problems.KnownError, []string{"P-4"}},
	}
	for _, tt := range tests {
		list, err := s.List(ctx, tt.status)
		var keys []string
		for _, p := range list {
			keys = append(keys, p.Key)
		}
		if err != nil || !slices.Equal(keys, tt.want) {
			t.Errorf("List(%s) = %v, %v; want %v", tt.status, keys, err, tt.want)
		}
	}
	s.links = map[string]string{"oi-1": "P-0"} // as a state written before kept it
	if err := s.Relate(ctx, "i-1", []string{"sg-1", "i-1", ""}, base); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(s.State())
	if err != nil {
		t.Fatal(err)
	}
	var st ProblemsState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	back, err := NewProblemsFrom(st)
	if err != nil {
		t.Fatalf("NewProblemsFrom: %v", err)
	}
	if k, _ := back.Link(ctx, "oi-1"); k != "P-0" {
		t.Errorf("Link after a round trip = %q, want P-0", k)
	}
	if rel, _ := back.Related(ctx, "i-1"); !slices.Equal(rel, []string{"sg-1"}) {
		t.Errorf("Related after a round trip = %v, want [sg-1]", rel)
	}
	if got := back.All(); len(got) != len(statuses) || got[0].Key != "P-4" || got[0].Version != 1 {
		t.Errorf("All after a round trip = %d records, first %+v", len(got), got[0])
	}
	st.Problems = append(st.Problems, st.Problems[0])
	if _, err := NewProblemsFrom(st); err == nil {
		t.Errorf("NewProblemsFrom accepted a key twice")
	}
	if _, err := NewProblemsFrom(ProblemsState{Problems: []problems.Problem{{}}}); err == nil {
		t.Errorf("NewProblemsFrom accepted a record without key")
	}
}

func TestRelationsBounded(t *testing.T) {
	ctx := context.Background()
	s := NewProblems()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxRelations + 10 {
		if err := s.Relate(ctx, "i-1", []string{fmt.Sprintf("sg-%d", i)}, base.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Seen together again: moves to the front.
	if err := s.Relate(ctx, "i-1", []string{"sg-20"}, base.Add(time.Hour*24)); err != nil {
		t.Fatal(err)
	}
	rel, _ := s.Related(ctx, "i-1")
	if len(rel) != maxRelations || rel[0] != "sg-20" || rel[1] != fmt.Sprintf("sg-%d", maxRelations+9) || slices.Contains(rel, "sg-0") {
		t.Errorf("Related = %d, first %v; want %d, sg-20 first, the oldest dropped", len(rel), rel[:3], maxRelations)
	}
}
