package incidentstore_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
)

// TestBudgetTake: against dynalite, Take counts up to its limit, counts a
// repeated id once, and Give makes room again; concurrent takers never
// pass the limit.
func TestBudgetTake(t *testing.T) {
	ctx := context.Background()
	table, client := newStore(t)
	exp := base.Add(time.Hour)
	for i, want := range []bool{true, true, false} {
		ok, err := table.Take(ctx, "rule#r#h#1", 2, fmt.Sprintf("id-%d", i), exp)
		if err != nil || ok != want {
			t.Fatalf("Take #%d = %v, %v; want %v", i, ok, err, want)
		}
	}
	// The SDK resending the last granted Take: granted, not counted again.
	if ok, err := table.Take(ctx, "rule#r#h#1", 2, "id-1", exp); err != nil || !ok {
		t.Errorf("Take of the last id again = %v, %v; want true", ok, err)
	}
	if err := table.Give(ctx, "rule#r#h#1"); err != nil {
		t.Fatal(err)
	}
	if ok, err := table.Take(ctx, "rule#r#h#1", 2, "id-3", exp); err != nil || !ok {
		t.Errorf("Take after Give = %v, %v; want true", ok, err)
	}
	item := dynamotest.RawItem(t, client, table.Name(), "bgt#rule#r#h#1", "budget")
	if n, ok := item["n"].(*types.AttributeValueMemberN); !ok || n.Value != "2" {
		t.Errorf("budget count = %v, want 2", item["n"])
	}
	if _, ok := item[dynamodb.TTLAttribute]; !ok {
		t.Errorf("budget item has no %s: it would never expire", dynamodb.TTLAttribute)
	}

	var mu sync.Mutex
	granted := 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := table.Take(ctx, "all#h#1", 5, fmt.Sprintf("c-%d", i), exp)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
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
