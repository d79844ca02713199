package problemstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/review"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// newProblems creates a fresh table and returns the problems state on it.
func newProblems(t *testing.T) (*problemstore.Store, *awsdynamodb.Client, string) {
	t.Helper()
	client, name := dynamotest.Table(t)
	return problemstore.New(client, name, problemstore.Options{}), client, name
}

func sampleProblem(key string, status problems.Status, lastSeen time.Time) *problems.Problem {
	return &problems.Problem{
		Key: key, Fingerprint: "fp:" + key, Rule: "alarm-in-alarm", Title: "Alarm cpu-high is in ALARM",
		Severity: "high", Category: "Availability", Resources: []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"},
		Status: status, Recurrence: problems.DefaultRecurrence, FirstSeen: lastSeen.Add(-time.Hour), LastSeen: lastSeen,
		Incidents: 3, OpsItems: []string{"oi-1", "oi-2", "oi-3"},
		History: []problems.Occurrence{
			{OpsItemID: "oi-1", EventID: "e-1", Opened: lastSeen.Add(-time.Hour), Resolved: lastSeen.Add(-50 * time.Minute), Occurrences: 2},
			{OpsItemID: "oi-2", EventID: "e-2", Opened: lastSeen.Add(-30 * time.Minute)},
			{OpsItemID: "oi-3", EventID: "e-3", Opened: lastSeen},
		},
		SuspectedCauses: []problems.Cause{{EventID: "c-1", EventName: "AuthorizeSecurityGroupIngress", Principal: "alice",
			Time: lastSeen.Add(-2 * time.Hour), Resource: "sg-1", Via: "i-1", Incidents: 2}},
		ResolvedIncidents: 1, MTTRSeconds: 600,
	}
}

func TestProblemsPutGet(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	const key = "P-000000000001"
	got, err := store.Get(ctx, key)
	if err != nil || got != nil {
		t.Fatalf("Get(%s) before any Put = %v, %v, want nil, nil", key, got, err)
	}
	p := sampleProblem(key, problems.Open, base)
	if err := store.Put(ctx, p); err != nil {
		t.Fatalf("Put(version 0) = %v", err)
	}
	if p.Version != 0 {
		t.Errorf("Put changed the caller's version to %d", p.Version)
	}
	got, err = store.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s) = %v", key, err)
	}
	want := p.Clone()
	want.Version = 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get(%s) = %+v, want %+v", key, got, want)
	}
	item := dynamotest.RawItem(t, client, name, "prb#"+key, "problem")
	for attr, want := range map[string]string{
		"status": "open", "rule": "alarm-in-alarm", "fingerprint": "fp:" + key,
		dynamodb.StatusIndexPartitionKey: "open", dynamodb.StatusIndexSortKey: "2026-03-01T12:00:00.000000000Z#" + key,
	} {
		if got := attrString(item[attr]); got != want {
			t.Errorf("item attribute %s = %q, want %q", attr, got, want)
		}
	}
	if _, ok := item[dynamodb.TTLAttribute]; ok {
		t.Errorf("a problem's item has %s; problems never expire", dynamodb.TTLAttribute)
	}

	steps := []struct {
		name    string
		version int64
		wantErr error
		stored  int64
	}{
		{"create again", 0, problems.ErrConflict, 1},
		{"update over the stored version", 1, nil, 2},
		{"stale update", 1, problems.ErrConflict, 2},
		{"update from the future", 9, problems.ErrConflict, 2},
		{"next update", 2, nil, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			q := sampleProblem(key, problems.Open, base)
			q.Version, q.Incidents = s.version, int(s.version)+10
			err := store.Put(ctx, q)
			if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
				t.Fatalf("Put(version %d) = %v, want %v", s.version, err, s.wantErr)
			}
			got, err := store.Get(ctx, key)
			if err != nil || got.Version != s.stored {
				t.Fatalf("Get after Put(version %d) = version %d, %v, want %d", s.version, got.Version, err, s.stored)
			}
		})
	}
}

func TestProblemsCandidateExpires(t *testing.T) {
	ctx := context.Background()
	client, name := dynamotest.Table(t)
	now := base.Add(time.Hour)
	store := problemstore.New(client, name, problemstore.Options{Now: func() time.Time { return now }})
	tests := []struct {
		name     string
		lastSeen time.Time
		want     int64 // 0: no expiry
		status   problems.Status
	}{
		{"candidate seen now", now, now.Add(7 * 24 * time.Hour).Unix(), problems.Candidate},
		{"candidate of a replayed past", base.Add(-30 * 24 * time.Hour), now.Add(7 * 24 * time.Hour).Unix(), problems.Candidate},
		{"candidate seen later", now.Add(48 * time.Hour), now.Add(9 * 24 * time.Hour).Unix(), problems.Candidate},
		{"known error", now, 0, problems.KnownError},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("P-%012d", i)
			p := sampleProblem(key, tt.status, tt.lastSeen)
			if err := store.Put(ctx, p); err != nil {
				t.Fatalf("Put = %v", err)
			}
			item := dynamotest.RawItem(t, client, name, "prb#"+key, "problem")
			got := int64(0)
			if v, ok := item[dynamodb.TTLAttribute].(*types.AttributeValueMemberN); ok {
				fmt.Sscan(v.Value, &got)
			}
			if got != tt.want {
				t.Errorf("%s of a %s seen %s = %d, want %d", dynamodb.TTLAttribute, tt.status, tt.lastSeen, got, tt.want)
			}
		})
	}
}

func TestProblemsPutRetriedAfterSuccess(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	retrying := problemstore.New(dynamotest.LostResponse{API: client}, name, problemstore.Options{})
	p := sampleProblem("P-lost", problems.Open, base)
	if err := retrying.Put(ctx, p); err != nil {
		t.Fatalf("Put(version 0) with a lost response = %v, want nil", err)
	}
	if err := store.Put(ctx, p); !errors.Is(err, problems.ErrConflict) {
		t.Fatalf("Put(version 0) again = %v, want ErrConflict", err)
	}
}

func TestProblemsList(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	put := func(key string, status problems.Status, seen time.Duration) {
		t.Helper()
		cur, err := store.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%s) = %v", key, err)
		}
		p := sampleProblem(key, status, base.Add(seen))
		if cur != nil {
			p.Version = cur.Version
		}
		if err := store.Put(ctx, p); err != nil {
			t.Fatalf("Put(%s, %s) = %v", key, status, err)
		}
	}
	put("P-a", problems.Open, time.Hour)
	put("P-b", problems.Open, 3*time.Hour)
	put("P-c", problems.Open, 2*time.Hour)
	put("P-d", problems.Resolved, 5*time.Hour)
	put("P-e", problems.Candidate, 6*time.Hour)
	put("P-f", problems.Open, 3*time.Hour)
	put("P-c", problems.KnownError, 2*time.Hour) // acknowledged: leaves the open list

	tests := []struct {
		status problems.Status
		want   []string
	}{
		{problems.Open, []string{"P-b", "P-f", "P-a"}},
		{problems.KnownError, []string{"P-c"}},
		{problems.Resolved, []string{"P-d"}},
		{problems.Candidate, []string{"P-e"}},
	}
	// Only problems are in the status index: a candidate's write is one
	// write unit, not two.
	for key, indexed := range map[string]bool{"P-e": false, "P-a": true, "P-c": true} {
		if _, ok := dynamotest.RawItem(t, client, name, "prb#"+key, "problem")[dynamodb.StatusIndexPartitionKey]; ok != indexed {
			t.Errorf("%s in the status index: %v, want %v", key, ok, indexed)
		}
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			got, err := store.List(ctx, tt.status)
			if err != nil {
				t.Fatalf("List(%s) = %v", tt.status, err)
			}
			var keys []string
			for _, p := range got {
				keys = append(keys, p.Key)
				if p.Status != tt.status || p.Version == 0 {
					t.Errorf("List(%s) holds %s with status %s version %d", tt.status, p.Key, p.Status, p.Version)
				}
			}
			if !slices.Equal(keys, tt.want) {
				t.Errorf("List(%s) = %v, want %v", tt.status, keys, tt.want)
			}
		})
	}
}

// TestTrackerConcurrent runs the problems tracker on the table from many
// goroutines at once, each incident delivered three times: every incident
// is counted once, none is lost to a race.
func TestTrackerConcurrent(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	tracker := problems.New(store, problems.WithAttempts(100), problems.WithRelations(store))
	const incidents = 12
	const copies = 3
	const fp = "alarm-in-alarm:cpu-high"
	var wg sync.WaitGroup
	errs := make(chan error, incidents*copies)
	for i := range incidents * copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % incidents
			_, err := tracker.Opened(ctx, problems.Incident{
				OpsItemID: fmt.Sprintf("oi-%012d", n), Fingerprint: fp, Rule: "alarm-in-alarm", Title: "cpu-high",
				Resources: []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"},
				Opened:    base.Add(time.Duration(n) * time.Minute), EventID: fmt.Sprintf("e-%d", n),
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Opened = %v", err)
		}
	}
	p, err := store.Get(ctx, problems.Key(fp))
	if err != nil || p == nil {
		t.Fatalf("Get(%s) = %v, %v", problems.Key(fp), p, err)
	}
	if p.Incidents != incidents || len(p.History) != incidents || len(p.OpsItems) != incidents {
		t.Errorf("after %d incidents delivered %d times each: incidents %d, history %d, OpsItems %d, want %d each",
			incidents, copies, p.Incidents, len(p.History), len(p.OpsItems), incidents)
	}
	if p.Status != problems.Open {
		t.Errorf("status = %s, want %s", p.Status, problems.Open)
	}
	for i, id := range p.OpsItems {
		if want := fmt.Sprintf("oi-%012d", i); id != want {
			t.Errorf("OpsItems[%d] = %s, want %s (in opening order)", i, id, want)
		}
	}
	// OpsItems are described by OpsCenter: no link item per incident.
	if n := dynamotest.CountItems(t, client, name, "prbopsitem#oi-000000000005"); n != 0 {
		t.Errorf("items of OpsItem oi-000000000005 = %d, want none", n)
	}
}

// TestProblemsLinks: links written at each opening before OpsItems were
// described are still read.
func TestProblemsLinks(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	for id, key := range map[string]string{"oi-1": "P-1", "oi-2": "P-2"} {
		if _, err := client.PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
			dynamodb.PartitionKey: dynamodb.Str("prbopsitem#" + id), dynamodb.SortKey: dynamodb.Str("link"),
			"key": dynamodb.Str(key), "opened": dynamodb.Str(dynamodb.TimeKey(base)),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]string{"oi-x": "", "oi-1": "P-1", "oi-2": "P-2"} {
		if got, err := store.Link(ctx, id); err != nil || got != want {
			t.Errorf("Link(%s) = %q, %v, want %q", id, got, err, want)
		}
	}
}

func TestProblemsRelations(t *testing.T) {
	ctx := context.Background()
	store, _, _ := newProblems(t)
	const inst = "arn:aws:ec2:us-east-1:123456789012:instance/i-1"
	const sg, vol, subnet = "sg-1", "vol-1", "subnet-1"
	relate := func(res string, related []string, at time.Duration) {
		t.Helper()
		if err := store.Relate(ctx, res, related, base.Add(at)); err != nil {
			t.Fatalf("Relate(%s, %v) = %v", res, related, err)
		}
	}
	relate(inst, []string{sg, vol, inst, ""}, time.Hour)
	relate(inst, []string{subnet}, 2*time.Hour)
	relate(inst, []string{vol}, 3*time.Hour)
	relate(inst, []string{subnet}, 30*time.Minute) // older than known: no change
	tests := []struct {
		resource string
		want     []string
	}{
		{inst, []string{vol, subnet, sg}},
		{sg, []string{}},
		{"unknown", []string{}},
	}
	for _, tt := range tests {
		got, err := store.Related(ctx, tt.resource)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Related(%s) = %v, %v, want %v", tt.resource, got, err, tt.want)
		}
	}
}

func TestIncidentLog(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	// Sunday 2026-03-01 is in ISO week 9, Monday 2026-03-02 in week 10.
	sunday := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	inc := func(id string, opened time.Time) review.Incident {
		return review.Incident{OpsItemID: id, Fingerprint: "fp:" + id, Rule: "alarm-in-alarm", Title: "t " + id,
			Severity: "high", Category: "Availability", Opened: opened}
	}
	// As problems.Complete leaves them: with the incident's opening.
	resolution := func(id string, opened, at time.Time, occ int) problems.Resolution {
		return problems.Resolution{OpsItemID: id, Fingerprint: "fp:" + id, Opened: opened, Resolved: at, Occurrences: occ}
	}
	type resolve struct {
		r         problems.Resolution
		wantFirst bool
		wantOpen  time.Time
	}
	steps := []struct {
		name    string
		open    *review.Incident
		resolve *resolve
	}{
		{name: "open a", open: ptr(inc("oi-a", sunday))},
		{name: "resolve a from OpsCenter", resolve: &resolve{resolution("oi-a", sunday, sunday.Add(20*time.Minute), 0), true, sunday}},
		{name: "resolve a from opsloop later", resolve: &resolve{resolution("oi-a", sunday, sunday.Add(25*time.Minute), 7), false, sunday}},
		{name: "open a again", open: ptr(inc("oi-a", sunday))},
		{name: "resolve b before it opened", resolve: &resolve{resolution("oi-b", sunday.Add(30*time.Minute), sunday.Add(90*time.Minute), 2), true, time.Time{}}},
		{name: "open b", open: ptr(inc("oi-b", sunday.Add(30*time.Minute)))},
		{name: "open c", open: ptr(inc("oi-c", sunday.Add(26*time.Hour)))},
		{name: "resolve c from opsloop", resolve: &resolve{resolution("oi-c", sunday.Add(26*time.Hour), sunday.Add(27*time.Hour), 5), true, sunday.Add(26 * time.Hour)}},
		{name: "resolve c from OpsCenter later", resolve: &resolve{resolution("oi-c", sunday.Add(26*time.Hour), sunday.Add(28*time.Hour), 0), false, sunday.Add(26 * time.Hour)}},
		{name: "open d, next month", open: ptr(inc("oi-d", sunday.Add(40*24*time.Hour)))},
	}
	for _, s := range steps {
		if s.open != nil {
			if err := store.LogOpened(ctx, *s.open); err != nil {
				t.Fatalf("%s: LogOpened = %v", s.name, err)
			}
		}
		if s.resolve != nil {
			got, first, err := store.LogResolved(ctx, s.resolve.r)
			if err != nil {
				t.Fatalf("%s: LogResolved = %v", s.name, err)
			}
			if first != s.resolve.wantFirst || !got.Opened.Equal(s.resolve.wantOpen) {
				t.Errorf("%s: LogResolved(%s) = opened %s, first %v, want %s, %v", s.name, s.resolve.r.OpsItemID,
					got.Opened, first, s.resolve.wantOpen, s.resolve.wantFirst)
			}
		}
	}
	if n := dynamotest.CountItems(t, client, name, "rev#2026-W09"); n != 2 {
		t.Errorf("items of week 2026-W09 = %d, want 2 (a and b)", n)
	}
	if n := dynamotest.CountItems(t, client, name, "rev#2026-W10"); n != 1 {
		t.Errorf("items of week 2026-W10 = %d, want 1 (c)", n)
	}
	// Resolutions that say when their incident opened go to its entry;
	// only b's, before b was logged, waited on its OpsItem's item.
	for id, want := range map[string]int{"oi-a": 0, "oi-b": 1} {
		if n := dynamotest.CountItems(t, client, name, "prbopsitem#"+id); n != want {
			t.Errorf("items of OpsItem %s = %d, want %d", id, n, want)
		}
	}

	want := func(id string, opened time.Time, resolved time.Duration, occ int) review.Incident {
		i := inc(id, opened)
		if resolved > 0 {
			i.Resolved, i.Occurrences = opened.Add(resolved), occ
		}
		return i
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []review.Incident
	}{
		{"the week around", sunday.Add(-7 * 24 * time.Hour), sunday.Add(7 * 24 * time.Hour), []review.Incident{
			want("oi-a", sunday, 20*time.Minute, 7), want("oi-b", sunday.Add(30*time.Minute), time.Hour, 2),
			want("oi-c", sunday.Add(26*time.Hour), time.Hour, 5),
		}},
		{"from Monday", sunday.Add(time.Hour), sunday.Add(7 * 24 * time.Hour), []review.Incident{want("oi-c", sunday.Add(26*time.Hour), time.Hour, 5)}},
		{"bounds included", sunday, sunday.Add(30 * time.Minute), []review.Incident{
			want("oi-a", sunday, 20*time.Minute, 7), want("oi-b", sunday.Add(30*time.Minute), time.Hour, 2),
		}},
		{"empty period", sunday.Add(-30 * 24 * time.Hour), sunday.Add(-29 * 24 * time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.Incidents(ctx, tt.from, tt.to)
			if err != nil {
				t.Fatalf("Incidents = %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Incidents(%s, %s) = %d incidents %+v, want %d", tt.from, tt.to, len(got), got, len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.OpsItemID != w.OpsItemID || !g.Opened.Equal(w.Opened) || !g.Resolved.Equal(w.Resolved) ||
					g.Occurrences != w.Occurrences || g.Rule != w.Rule || g.Severity != w.Severity {
					t.Errorf("Incidents[%d] = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	if _, err := store.Incidents(ctx, sunday, sunday.Add(-time.Hour)); err == nil {
		t.Errorf("Incidents(to before from) = nil error")
	}
}

// TestIncidentLogOldIndex: an OpsItem logged before links said when its
// incident opened has its own index item; its resolution still reaches
// its log entry through it.
func TestIncidentLogOldIndex(t *testing.T) {
	ctx := context.Background()
	store, client, name := newProblems(t)
	opened := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	// What the log wrote before: the entry, the OpsItem's index, a link
	// without the opening time.
	if err := store.LogOpened(ctx, review.Incident{OpsItemID: "oi-old", Fingerprint: "fp:old", Rule: "r", Opened: opened}); err != nil {
		t.Fatal(err)
	}
	for _, item := range []map[string]types.AttributeValue{
		{dynamodb.PartitionKey: dynamodb.Str("prbopsitem#oi-old"), dynamodb.SortKey: dynamodb.Str("rev"),
			"logpk": dynamodb.Str("rev#2026-W10"), "logsk": dynamodb.Str(dynamodb.TimeKey(opened) + "#oi-old"), "opened": dynamodb.Str(dynamodb.TimeKey(opened))},
		{dynamodb.PartitionKey: dynamodb.Str("prbopsitem#oi-old"), dynamodb.SortKey: dynamodb.Str("link"), "key": dynamodb.Str("P-old")},
	} {
		if _, err := client.PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	got, first, err := store.LogResolved(ctx, problems.Resolution{OpsItemID: "oi-old", Resolved: opened.Add(time.Hour), Occurrences: 3})
	if err != nil || !first || !got.Opened.Equal(opened) {
		t.Fatalf("LogResolved = opened %s, first %v, %v; want %s, true", got.Opened, first, err, opened)
	}
	incs, err := store.Incidents(ctx, opened, opened)
	if err != nil || len(incs) != 1 || !incs[0].Resolved.Equal(opened.Add(time.Hour)) || incs[0].Occurrences != 3 {
		t.Errorf("Incidents = %+v, %v; want oi-old resolved an hour after it opened, 3 occurrences", incs, err)
	}
}

func TestISOWeek(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "2026-W01"},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "2026-W53"},
		{time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), "2026-W09"},
		{time.Date(2026, 3, 2, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "2026-W09"}, // 23:30 UTC on Sunday
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), "2026-W10"},
	}
	for _, tt := range tests {
		if got := problemstore.ISOWeek(tt.at); got != tt.want {
			t.Errorf("ISOWeek(%s) = %s, want %s", tt.at, got, tt.want)
		}
	}
}

func TestReviewSent(t *testing.T) {
	ctx := context.Background()
	store, _, _ := newProblems(t)
	const id = "reviews/2026-03-02T08-00-00Z.html"
	sent, err := store.ReviewSent(ctx, id)
	if err != nil || sent {
		t.Fatalf("ReviewSent(%s) before marking = %v, %v, want false, nil", id, sent, err)
	}
	if err := store.MarkReviewSent(ctx, id, base); err != nil {
		t.Fatalf("MarkReviewSent = %v", err)
	}
	sent, err = store.ReviewSent(ctx, id)
	if err != nil || !sent {
		t.Fatalf("ReviewSent(%s) after marking = %v, %v, want true, nil", id, sent, err)
	}
	if sent, _ := store.ReviewSent(ctx, id+"x"); sent {
		t.Errorf("ReviewSent of another review = true")
	}
}

// TestReviewClaims: one claim on sending a review at a time, until it
// lapses or is given up; none once the review was sent.
func TestReviewClaims(t *testing.T) {
	ctx := context.Background()
	store, _, _ := newProblems(t)
	const id = "reviews/2026-03-09T08-00-00Z.html"
	until := base.Add(5 * time.Minute)
	steps := []struct {
		name string
		do   func() (bool, error)
		want bool
	}{
		{"first claim", func() (bool, error) { return store.ClaimReview(ctx, id, base, until) }, true},
		{"claimed: not sent", func() (bool, error) { return store.ReviewSent(ctx, id) }, false},
		{"second claim while the first lasts", func() (bool, error) { return store.ClaimReview(ctx, id, base.Add(time.Minute), until.Add(time.Minute)) }, false},
		{"released", func() (bool, error) { return true, store.ReleaseReview(ctx, id) }, true},
		{"claim after the release", func() (bool, error) { return store.ClaimReview(ctx, id, base.Add(2*time.Minute), until) }, true},
		{"claim after the first lapsed", func() (bool, error) { return store.ClaimReview(ctx, id, until.Add(time.Second), until.Add(time.Hour)) }, true},
		{"marked sent", func() (bool, error) { return true, store.MarkReviewSent(ctx, id, until.Add(2*time.Second)) }, true},
		{"sent", func() (bool, error) { return store.ReviewSent(ctx, id) }, true},
		{"no claim once sent, however late", func() (bool, error) {
			return store.ClaimReview(ctx, id, base.Add(48*time.Hour), base.Add(49*time.Hour))
		}, false},
		{"a release does not unsend it", func() (bool, error) {
			if err := store.ReleaseReview(ctx, id); err != nil {
				return false, err
			}
			return store.ReviewSent(ctx, id)
		}, true},
	}
	for _, st := range steps {
		got, err := st.do()
		if err != nil || got != st.want {
			t.Fatalf("%s = %v, %v, want %v", st.name, got, err, st.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func attrString(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
