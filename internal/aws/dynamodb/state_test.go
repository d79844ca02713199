package dynamodb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
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

// TestCountRedelivery: an event counted again at its time (a redelivery)
// adds nothing and says so; other events and other times add.
func TestCountRedelivery(t *testing.T) {
	ctx := context.Background()
	table, _ := newTable(t, dynamodb.Options{Now: fixedNow})
	exact := memory.New()
	steps := []struct {
		id    string
		at    time.Duration
		want  int
		added bool
	}{
		{"e-1", 0, 1, true},
		{"e-2", 0, 2, true},
		{"e-1", 0, 2, false},
		{"e-2", 0, 2, false},
		{"e-3", time.Second, 3, true},
		{"e-3", time.Second, 3, false},
	}
	for i, s := range steps {
		at := base.Add(s.at)
		n, added, err := table.Count(ctx, "k", at, time.Minute, s.id)
		if err != nil || n != s.want || added != s.added {
			t.Errorf("step %d: Count(%s at +%s) = %d, %v, %v; want %d, %v", i, s.id, s.at, n, added, err, s.want, s.added)
		}
		// The memory store, which replay uses, agrees.
		if n, added, _ := exact.Count(ctx, "k", at, time.Minute, s.id); n != s.want || added != s.added {
			t.Errorf("step %d: memory Count(%s at +%s) = %d, %v; want %d, %v", i, s.id, s.at, n, added, s.want, s.added)
		}
	}
}

// bucketIDs returns the digests the count buckets of key keep, and the
// largest bucket's size as DynamoDB bills it (names and values).
func bucketIDs(t *testing.T, client dynamodb.API, table, key string) (ids, size int) {
	t.Helper()
	out, err := client.Query(context.Background(), &awsdynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "cnt#" + key}},
	})
	if err != nil {
		t.Fatalf("Query(buckets of %s) = %v", key, err)
	}
	for _, item := range out.Items {
		n := 0
		for name, v := range item {
			n += len(name)
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				n += len(v.Value)
			case *types.AttributeValueMemberN:
				n += len(v.Value)/2 + 1
			case *types.AttributeValueMemberBS:
				for _, b := range v.Value {
					n += len(b)
				}
				ids += len(v.Value)
			}
		}
		size = max(size, n)
	}
	return ids, size
}

// TestCountStormBucket: a bucket keeps at most maxBucketIDs digests, so it
// stays one write unit however many events it counts, and counts every one.
func TestCountStormBucket(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{Now: fixedNow})
	key := "win#" + strings.Repeat("f", 120) // a long fingerprint
	for i := range 100 {
		n, added, err := table.Count(ctx, key, base, time.Hour, fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i))
		if err != nil || n != i+1 || !added {
			t.Fatalf("Count(event %d) = %d, %v, %v; want %d, true", i, n, added, err, i+1)
		}
	}
	ids, size := bucketIDs(t, client, table.Name(), key)
	if ids != 64 || size >= 1024 {
		t.Errorf("storm bucket keeps %d digests in %d bytes, want 64 in under 1 KB", ids, size)
	}
	// One of the first 64 delivered again is known.
	if n, added, err := table.Count(ctx, key, base, time.Hour, fmt.Sprintf("%08x-0000-4000-8000-%012d", 3, 3)); err != nil || n != 100 || added {
		t.Errorf("redelivered Count = %d, %v, %v; want 100, false", n, added, err)
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
				if _, _, err := table.Count(ctx, a.key, base.Add(a.at), tt.window, fmt.Sprintf("e-%d", i)); err != nil {
					t.Fatalf("Count(%s, add) = %v", a.key, err)
				}
			}
			for range 2 { // reading does not add
				got, added, err := table.Count(ctx, tt.key, base.Add(tt.at), tt.window, "")
				if err != nil || added {
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
		got, _, err := table.Count(ctx, "k", at, window, id)
		if err != nil {
			t.Fatalf("Count(add %d) = %v", i, err)
		}
		want, _, _ := exact.Count(ctx, "k", at, window, id)
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
				n, added, err := table.Count(ctx, "storm", at, time.Hour, fmt.Sprintf("e-%d-%d", w, i))
				if err == nil && (n < 1 || n > workers*each || !added) {
					err = fmt.Errorf("Count = %d, %v, want 1..%d, true", n, added, workers*each)
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
	got, _, err := table.Count(ctx, "storm", base.Add(time.Minute), time.Hour, "")
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
// lost counts once (and, its digest kept, looks like a redelivery); the
// next event's ADD counts.
func TestCountRetriedAfterSuccess(t *testing.T) {
	ctx := context.Background()
	table, client := newTable(t, dynamodb.Options{})
	retrying := dynamodb.New(lostUpdate{API: client}, table.Name(), dynamodb.Options{})
	for i, want := range []int{1, 2, 3} {
		got, _, err := retrying.Count(ctx, "k", base.Add(time.Duration(i)*time.Second), time.Hour, fmt.Sprintf("e-%d", i))
		if err != nil || got != want {
			t.Fatalf("Count(e-%d) with a lost response = %d, %v, want %d", i, got, err, want)
		}
	}
	// The same event again right after, as a retry of the whole call.
	if got, added, err := table.Count(ctx, "k", base.Add(2*time.Second), time.Hour, "e-2"); err != nil || got != 3 || added {
		t.Fatalf("Count(e-2) again = %d, %v, %v, want 3, false", got, added, err)
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
