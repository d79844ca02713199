package incidentstore_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/incidents"
)

// TestBudgetTake: against dynalite, Take counts every count of a tally up
// to its limit and names the one that refused, counts a repeated id once,
// drops the counts it is told to forget, and Give makes room again;
// TestBudgetTake: Take adds to every count of a tally until one reaches
// its limit and names the one that refused, counts a repeated id once,
// drops the counts the tally says are of windows past; concurrent takers
// never pass a limit.
func TestBudgetTake(t *testing.T) {
	ctx := context.Background()
	table, client := newStore(t)
	exp := base.Add(time.Hour)
	hour := func(h string) incidents.Tally {
		return incidents.Tally{Key: "all#m#1", Expires: exp,
			Counts: []incidents.Count{{Name: "n", Limit: 3}, {Name: h, Limit: 2}},
			Stale:  func(name string) bool { return strings.HasPrefix(name, "h") && name != h }}
	}
	for i, want := range []int{-1, -1, 1} {
		refused, err := table.Take(ctx, hour("h01"), fmt.Sprintf("id-%d", i))
		if err != nil || refused != want {
			t.Fatalf("Take #%d = %d, %v; want %d", i, refused, err, want)
		}
	}
	// The SDK resending the last granted Take: granted, not counted again.
	if refused, err := table.Take(ctx, hour("h01"), "id-1"); err != nil || refused != -1 {
		t.Errorf("Take of the last id again = %d, %v; want -1", refused, err)
	}
	// The next hour: the day's count refuses first.
	if refused, err := table.Take(ctx, hour("h02"), "id-3"); err != nil || refused != -1 {
		t.Fatalf("Take in the next hour = %d, %v; want -1", refused, err)
	}
	if refused, err := table.Take(ctx, hour("h02"), "id-4"); err != nil || refused != 0 {
		t.Errorf("Take past the day's count = %d, %v; want 0", refused, err)
	}
	item := dynamotest.RawItem(t, client, table.Name(), "bgt#all#m#1", "budget")
	for name, want := range map[string]string{"n": "3", "h02": "1"} {
		if n, ok := item[name].(*types.AttributeValueMemberN); !ok || n.Value != want {
			t.Errorf("count %s = %v, want %s", name, item[name], want)
		}
	}
	if _, ok := item["h01"]; ok {
		t.Errorf("count h01, of an hour past, was not dropped: %v", item)
	}
	if _, ok := item[dynamodb.TTLAttribute]; !ok {
		t.Errorf("budget item has no %s: it would never expire", dynamodb.TTLAttribute)
	}

	var mu sync.Mutex
	granted := 0
	var wg sync.WaitGroup
	conc := incidents.Tally{Key: "all#m#2", Expires: exp, Counts: []incidents.Count{{Name: "n", Limit: 100}, {Name: "d01", Limit: 5}}}
	for i := range 20 {
		wg.Go(func() {
			refused, err := table.Take(ctx, conc, fmt.Sprintf("c-%d", i))
			if err != nil {
				t.Error(err)
			}
			if refused == -1 {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if granted != 5 {
		t.Errorf("20 concurrent takes of a limit of 5 granted %d", granted)
	}
}

func TestWaitlist(t *testing.T) {
	ctx := context.Background()
	table, _ := newStore(t)
	if got, err := table.Waiting(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Waiting() on an empty table = %v, %v", got, err)
	}
	for _, fp := range []string{"b", "a", "b", "c"} {
		if err := table.Wait(ctx, fp); err != nil {
			t.Fatal(err)
		}
	}
	if err := table.Done(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := table.Done(ctx, "never"); err != nil {
		t.Fatal(err)
	}
	if got, err := table.Waiting(ctx); err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Waiting() = %v, %v; want [a b]", got, err)
	}
	for _, fp := range []string{"a", "b"} {
		if err := table.Done(ctx, fp); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := table.Waiting(ctx); err != nil || len(got) != 0 {
		t.Errorf("Waiting() after all done = %v, %v; want none", got, err)
	}
}

func TestDues(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	for fp, at := range map[string]time.Time{"a": base, "b": base.Add(time.Hour), "c": base.Add(-time.Minute)} {
		if err := store.Due(ctx, fp, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Due(ctx, "b", base.Add(-time.Hour)); err != nil { // moved earlier
		t.Fatal(err)
	}
	if err := store.Undue(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	got, err := store.DueBy(ctx, base)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("DueBy(base) = %v, %v; want [a b]", got, err)
	}
}

// TestBudgetDueHint: the tally keeps the earliest due its Takes were
// given, concurrent ones too; SetHint replaces it only over the hint and
// mark it read, and a Take in between wins.
func TestBudgetDueHint(t *testing.T) {
	ctx := context.Background()
	table, _ := newStore(t)
	tally := incidents.Tally{Key: "all#m#due", Expires: base.Add(time.Hour), Counts: []incidents.Count{{Name: "n", Limit: 100}}}
	if h, err := table.Hint(ctx, tally); err != nil || !h.At.IsZero() || h.Mark != "" {
		t.Fatalf("Hint of no tally = %+v, %v; want none", h, err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			tl := tally
			tl.Due = base.Add(time.Duration(20-i) * time.Minute)
			if _, err := table.Take(ctx, tl, fmt.Sprintf("d-%d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h, err := table.Hint(ctx, tally)
	if err != nil || !h.At.Equal(base.Add(11*time.Minute)) || h.Mark == "" {
		t.Fatalf("Hint after 10 concurrent takes = %+v, %v; want the earliest due, +11m", h, err)
	}
	later := tally
	later.Due = base.Add(time.Hour)
	if _, err := table.Take(ctx, later, "d-later"); err != nil {
		t.Fatal(err)
	}
	// The Take changed the mark: the hint read before is not replaced.
	if ok, err := table.SetHint(ctx, tally, h, base.Add(30*time.Minute)); err != nil || ok {
		t.Errorf("SetHint over a Take = %v, %v; want false", ok, err)
	}
	h, _ = table.Hint(ctx, tally)
	if !h.At.Equal(base.Add(11 * time.Minute)) {
		t.Errorf("Hint after a later due = %v, want +11m still", h.At)
	}
	for _, next := range []time.Time{base.Add(30 * time.Minute), {}} {
		if ok, err := table.SetHint(ctx, tally, h, next); err != nil || !ok {
			t.Fatalf("SetHint(%v) = %v, %v; want true", next, ok, err)
		}
		if h, _ = table.Hint(ctx, tally); !h.At.Equal(next) {
			t.Errorf("Hint after SetHint(%v) = %v", next, h.At)
		}
	}
	// A month with no take yet gets its hint from the schedule.
	fresh := incidents.Tally{Key: "all#m#fresh", Expires: base.Add(time.Hour)}
	if ok, err := table.SetHint(ctx, fresh, incidents.DueHint{}, base); err != nil || !ok {
		t.Errorf("SetHint on a tally with no item = %v, %v; want true", ok, err)
	}
	if h, _ := table.Hint(ctx, fresh); !h.At.Equal(base) {
		t.Errorf("Hint of the fresh tally = %v, want %v", h.At, base)
	}
}
