package memory_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

func TestIncidentsVersions(t *testing.T) {
	ctx := context.Background()
	store := memory.NewIncidents()
	steps := []struct {
		name        string
		fingerprint string
		version     int64
		want        error
		wantStored  int64
	}{
		{"create over nothing", "a", 0, nil, 1},
		{"create again", "a", 0, incidents.ErrConflict, 1},
		{"update over the version read", "a", 1, nil, 2},
		{"update over a stale version", "a", 1, incidents.ErrConflict, 2},
		{"update over a version from the future", "a", 5, incidents.ErrConflict, 2},
		{"update of nothing", "b", 3, incidents.ErrConflict, 0},
		{"another fingerprint", "b", 0, nil, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			rec := &incidents.Record{Fingerprint: st.fingerprint, Status: incidents.StatusOpen, Version: st.version}
			err := store.Put(ctx, rec)
			if !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
				t.Errorf("Put(%s at %d) = %v, want %v", st.fingerprint, st.version, err, st.want)
			}
			if rec.Version != st.version {
				t.Errorf("Put(%s at %d) changed the caller's version to %d", st.fingerprint, st.version, rec.Version)
			}
			got, err := store.Get(ctx, st.fingerprint)
			if err != nil {
				t.Fatalf("Get(%s): %v", st.fingerprint, err)
			}
			var version int64
			if got != nil {
				version = got.Version
			}
			if version != st.wantStored {
				t.Errorf("Get(%s) version = %d, want %d", st.fingerprint, version, st.wantStored)
			}
		})
	}
	if puts := store.Puts(); puts != 3 {
		t.Errorf("Puts() = %d, want 3", puts)
	}
}

func TestIncidentsGetIsACopy(t *testing.T) {
	ctx := context.Background()
	store := memory.NewIncidents()
	rec := &incidents.Record{
		Fingerprint: "a", Status: incidents.StatusOpen, Recent: []string{"e1"}, Resources: []string{"r"},
		First: &signal.Signal{EventID: "e1", Resources: []string{"r"}, Plan: signal.Plan{Notify: []string{"n"}}},
	}
	if err := store.Put(ctx, rec); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rec.Recent[0], rec.First.Resources[0] = "changed", "changed"
	got, _ := store.Get(ctx, "a")
	got.Recent[0], got.First.Plan.Notify[0] = "changed too", "changed too"
	again, _ := store.Get(ctx, "a")
	if again.Recent[0] != "e1" || again.First.Resources[0] != "r" || again.First.Plan.Notify[0] != "n" {
		t.Errorf("stored record changed through a caller's copy: %+v, first %+v", again, again.First)
	}
	if missing, err := store.Get(ctx, "none"); missing != nil || err != nil {
		t.Errorf("Get(none) = %v, %v; want nil, nil", missing, err)
	}
}

func TestIncidentsHistory(t *testing.T) {
	ctx := context.Background()
	store := memory.NewIncidents()
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	adds := []incidents.History{
		{Fingerprint: "a", OpsItemID: "oi-2", Opened: t0.Add(time.Hour), Occurrences: 1},
		{Fingerprint: "a", OpsItemID: "oi-1", Opened: t0, Occurrences: 1},
		{Fingerprint: "a", OpsItemID: "oi-2", Opened: t0.Add(time.Hour), Occurrences: 5}, // the same incident again
		{Fingerprint: "b", OpsItemID: "oi-3", Opened: t0},
	}
	for _, h := range adds {
		if err := store.AddHistory(ctx, h); err != nil {
			t.Fatalf("AddHistory: %v", err)
		}
	}
	want := []incidents.History{adds[1], adds[2]}
	if got := store.History("a"); !reflect.DeepEqual(got, want) {
		t.Errorf("History(a) = %+v, want %+v", got, want)
	}
	if got := store.History("none"); len(got) != 0 {
		t.Errorf("History(none) = %+v, want none", got)
	}
}

func TestIncidentsRecords(t *testing.T) {
	ctx := context.Background()
	store := memory.NewIncidents()
	for _, fp := range []string{"c", "a", "b"} {
		if err := store.Put(ctx, &incidents.Record{Fingerprint: fp}); err != nil {
			t.Fatalf("Put(%s): %v", fp, err)
		}
	}
	var got []string
	for _, r := range store.Records() {
		got = append(got, r.Fingerprint)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Records() = %v, want %v", got, want)
	}
}
