package dynamodb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/local/memory"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return base }

func expiresAt(t *testing.T, item map[string]types.AttributeValue) time.Time {
	t.Helper()
	v, ok := item[dynamodb.TTLAttribute].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item %v has no number attribute %s", item, dynamodb.TTLAttribute)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", dynamodb.TTLAttribute, v.Value, err)
	}
	return time.Unix(n, 0).UTC()
}

func TestDeliver(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{Now: fixedNow})
	steps := []struct {
		id   string
		want bool
	}{
		{"e-1", true},
		{"e-2", true},
		{"e-1", false},
		{"e-1", false},
		{"e-2", false},
		{"e-3", true},
	}
	for i, s := range steps {
		got, err := table.Deliver(ctx, s.id, base)
		if err != nil {
			t.Fatalf("step %d: Deliver(%s) error = %v", i, s.id, err)
		}
		if got != s.want {
			t.Errorf("step %d: Deliver(%s) = %v, want %v", i, s.id, got, s.want)
		}
	}
	item := dynamotest.RawItem(t, client, table.Name(), "evt#e-1", "evt")
	if got, want := expiresAt(t, item), base.Add(dynamodb.DefaultDeliveryTTL); !got.Equal(want) {
		t.Errorf("dedup item %s = %v, want %v", dynamodb.TTLAttribute, got, want)
	}
}

// TestForget: a forgotten delivery is a first delivery again, and only that
// one is forgotten.
func TestForget(t *testing.T) {
	ctx := context.Background()
	table, _ := newTable(t, dynamodb.Options{Now: fixedNow})
	for _, id := range []string{"e-1", "e-2"} {
		if first, err := table.Deliver(ctx, id, base); err != nil || !first {
			t.Fatalf("Deliver(%s) = %v, %v; want true", id, first, err)
		}
	}
	if err := table.Forget(ctx, "e-1"); err != nil {
		t.Fatal(err)
	}
	if err := table.Forget(ctx, "never-delivered"); err != nil {
		t.Errorf("Forget of an unknown id = %v, want nil", err)
	}
	for _, s := range []struct {
		id   string
		want bool
	}{{"e-1", true}, {"e-2", false}, {"e-1", false}} {
		if got, err := table.Deliver(ctx, s.id, base); err != nil || got != s.want {
			t.Errorf("Deliver(%s) after Forget(e-1) = %v, %v; want %v", s.id, got, err, s.want)
		}
	}
}

func TestDeliverRetriedAfterSuccess(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{})
	retrying := dynamodb.New(dynamotest.LostResponse{API: client}, table.Name(), dynamodb.Options{})
	first, err := retrying.Deliver(ctx, "e-lost", base)
	if err != nil || !first {
		t.Fatalf("Deliver(e-lost) with a lost response = %v, %v, want true, nil", first, err)
	}
	again, err := table.Deliver(ctx, "e-lost", base)
	if err != nil || again {
		t.Fatalf("Deliver(e-lost) again = %v, %v, want false, nil", again, err)
	}
}

func TestCount(t *testing.T) {
	type add struct {
		key string
		at  time.Duration // after base
	}
	tests := []struct {
		name   string
		window time.Duration
		adds   []add
		key    string
		at     time.Duration
		want   int
	}{
		{"all inside the window", time.Minute, []add{{"k", 0}, {"k", 10 * time.Second}, {"k", 20 * time.Second}}, "k", 20 * time.Second, 3},
		{"older than the window left out", time.Minute, []add{{"k", 0}, {"k", 30 * time.Second}, {"k", 61 * time.Second}}, "k", 61 * time.Second, 2},
		{"window end is inclusive", time.Minute, []add{{"k", 0}, {"k", 59 * time.Second}}, "k", 59 * time.Second, 2},
		{"keys are separate", time.Minute, []add{{"a", 0}, {"b", time.Second}, {"a", 2 * time.Second}}, "a", 2 * time.Second, 2},
		{"nothing counted", time.Minute, nil, "k", 0, 0},
		{"short window uses 1s buckets", 5 * time.Second, []add{{"k", 0}, {"k", 2 * time.Second}, {"k", 4 * time.Second}, {"k", 6 * time.Second}}, "k", 6 * time.Second, 3},
		{"long window", 7 * 24 * time.Hour, []add{{"k", 0}, {"k", 3 * 24 * time.Hour}, {"k", 6 * 24 * time.Hour}}, "k", 6 * 24 * time.Hour, 3},
		{"later window excludes all", time.Minute, []add{{"k", 0}, {"k", time.Second}}, "k", 10 * time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			table, _ := newTable(t, dynamodb.Options{Now: fixedNow})
			for i, a := range tt.adds {
				if _, err := table.Count(ctx, a.key, base.Add(a.at), tt.window, fmt.Sprintf("e-%d", i)); err != nil {
					t.Fatalf("Count(%s, add) = %v", a.key, err)
				}
			}
			for range 2 { // reading does not add
				got, err := table.Count(ctx, tt.key, base.Add(tt.at), tt.window, "")
				if err != nil {
					t.Fatalf("Count(%s) error = %v", tt.key, err)
				}
				if got != tt.want {
					t.Errorf("Count(%s, +%s, %s) = %d, want %d", tt.key, tt.at, tt.window, got, tt.want)
				}
			}
		})
	}
}

// TestCountApproximation compares Count with the exact sliding window of
// memory.Store: it may only leave out occurrences within one bucket
// (window/12) of the window's start.
func TestCountApproximation(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{Now: fixedNow})
	exact := memory.New()
	window := 2 * time.Minute
	width := window / 12
	rng := rand.New(rand.NewPCG(7, 11))
	at := base
	var times []time.Time
	for i := range 150 {
		at = at.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		times = append(times, at)
		id := fmt.Sprintf("e-%d", i)
		got, err := table.Count(ctx, "k", at, window, id)
		if err != nil {
			t.Fatalf("Count(add %d) = %v", i, err)
		}
		want, _ := exact.Count(ctx, "k", at, window, id)
		edge := 0 // occurrences in the first bucket width of the window
		for _, x := range times {
			if x.After(at.Add(-window)) && !x.After(at.Add(-window+width)) {
				edge++
			}
		}
		if got > want || got < want-edge {
			t.Fatalf("Count(add %d at %s) = %d, want within [%d, %d]", i, at.Format(time.RFC3339Nano), got, want-edge, want)
		}
	}
	// Buckets expire once no window reaches them.
	out, err := client.Query(ctx, &awsdynamodb.QueryInput{
		TableName:                 aws.String(table.Name()),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "cnt#k"}},
	})
	if err != nil {
		t.Fatalf("Query(buckets) = %v", err)
	}
	if len(out.Items) == 0 || len(out.Items) > int((at.Sub(base))/width)+1 {
		t.Fatalf("Query(buckets) = %d items, want between 1 and %d", len(out.Items), int((at.Sub(base))/width)+1)
	}
	for _, item := range out.Items {
		if exp := expiresAt(t, item); !exp.After(base.Add(window)) {
			t.Errorf("bucket %v expires at %v, before a window from its start ends", item[dynamodb.SortKey], exp)
		}
	}
}

func TestCountConcurrent(t *testing.T) {
	ctx := context.Background()
	table, _ := newTable(t, dynamodb.Options{})
	const workers, each = 10, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				at := base.Add(time.Duration(w*each+i) * time.Millisecond)
				n, err := table.Count(ctx, "storm", at, time.Hour, fmt.Sprintf("e-%d-%d", w, i))
				if err == nil && (n < 1 || n > workers*each) {
					err = fmt.Errorf("Count = %d, want 1..%d", n, workers*each)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := table.Count(ctx, "storm", base.Add(time.Minute), time.Hour, "")
	if err != nil || got != workers*each {
		t.Fatalf("Count(storm) after %d concurrent adds = %d, %v, want %d", workers*each, got, err, workers*each)
	}
}

// lostUpdate makes every UpdateItem twice, as the SDK does when the first
// response is lost after DynamoDB applied the update.
type lostUpdate struct {
	dynamodb.API
}

func (l lostUpdate) UpdateItem(ctx context.Context, in *awsdynamodb.UpdateItemInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.UpdateItemOutput, error) {
	if out, err := l.API.UpdateItem(ctx, in, optFns...); err != nil {
		return out, err
	}
	return l.API.UpdateItem(ctx, in, optFns...)
}

// TestCountRetriedAfterSuccess: an ADD sent again after its response was
// lost counts once; the next event's ADD counts.
func TestCountRetriedAfterSuccess(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{})
	retrying := dynamodb.New(lostUpdate{API: client}, table.Name(), dynamodb.Options{})
	for i, want := range []int{1, 2, 3} {
		got, err := retrying.Count(ctx, "k", base.Add(time.Duration(i)*time.Second), time.Hour, fmt.Sprintf("e-%d", i))
		if err != nil || got != want {
			t.Fatalf("Count(e-%d) with a lost response = %d, %v, want %d", i, got, err, want)
		}
	}
	// The same event again right after, as a retry of the whole call.
	if got, err := table.Count(ctx, "k", base.Add(2*time.Second), time.Hour, "e-2"); err != nil || got != 3 {
		t.Fatalf("Count(e-2) again = %d, %v, want 3", got, err)
	}
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{Now: fixedNow})
	exact := memory.New()
	const resA, resB = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1", "arn:aws:s3:::bucket"
	changes := []changelog.Change{
		{EventID: "c1", Time: base, Rule: "r", Title: "opened port", EventName: "AuthorizeSecurityGroupIngress", Actor: "alice", Resources: []string{resA}},
		{EventID: "c2", Time: base.Add(time.Minute), Rule: "r", Title: "both", Resources: []string{resA, resB}},
		{EventID: "c3", Time: base.Add(2 * time.Minute), Rule: "r", Title: "bucket", Resources: []string{resB}},
		{EventID: "c4", Time: base.Add(time.Minute), Rule: "r", Title: "same time", Resources: []string{resA}},
		{EventID: "c5", Time: base.Add(time.Hour), Rule: "r", Title: "later", Resources: []string{resA}},
	}
	for round := range 2 { // recording again changes nothing
		for _, c := range changes {
			if err := table.RecordChange(ctx, c); err != nil {
				t.Fatalf("round %d: RecordChange(%s) = %v", round, c.EventID, err)
			}
			_ = exact.RecordChange(ctx, c)
		}
	}
	queries := []struct {
		resource string
		at       time.Duration
		lookback time.Duration
	}{
		{resA, time.Minute, time.Hour},
		{resA, time.Minute, time.Minute}, // the lower bound is exclusive
		{resA, time.Hour, time.Hour},
		{resA, 2 * time.Hour, 30 * time.Minute},
		{resB, 2 * time.Minute, 10 * time.Minute},
		{resB, 0, time.Hour},
		{"arn:aws:sns:us-east-1:123456789012:none", time.Hour, time.Hour},
	}
	for _, q := range queries {
		t.Run(fmt.Sprintf("%s@+%s-%s", q.resource, q.at, q.lookback), func(t *testing.T) {
			got, err := table.Changes(ctx, q.resource, base.Add(q.at), q.lookback)
			if err != nil {
				t.Fatalf("Changes = %v", err)
			}
			want, _ := exact.Changes(ctx, q.resource, base.Add(q.at), q.lookback)
			if !equalChanges(got, want) {
				t.Errorf("Changes(%s, +%s, %s) = %v, want %v", q.resource, q.at, q.lookback, ids(got), ids(want))
			}
		})
	}
	item := dynamotest.RawItem(t, client, table.Name(), "chg#"+resA, base.Format("2006-01-02T15:04:05.000000000Z")+"#c1")
	if got, want := expiresAt(t, item), base.Add(dynamodb.DefaultChangeTTL); !got.Equal(want) {
		t.Errorf("change item %s = %v, want %v", dynamodb.TTLAttribute, got, want)
	}
}

// equalChanges compares as sets within equal times: the order among
// changes at the same instant is not specified.
func equalChanges(a, b []changelog.Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Time.Equal(b[i].Time) {
			return false
		}
	}
	byID := map[string]changelog.Change{}
	for _, c := range b {
		byID[c.EventID] = c
	}
	for _, c := range a {
		w, ok := byID[c.EventID]
		if !ok || !c.Time.Equal(w.Time) {
			return false
		}
		c.Time, w.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(c, w) {
			return false
		}
	}
	return true
}

func ids(cs []changelog.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.EventID)
	}
	return out
}
