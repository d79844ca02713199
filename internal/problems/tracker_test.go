package problems_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/rules"
)

var t0 = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)

const (
	fp       = "alarm:123456789012/us-east-1/web-3-cpu-high"
	instance = "arn:aws:ec2:us-east-1:123456789012:instance/i-0b7e5c1d2a3f49876"
	alarmARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-3-cpu-high"
	sg       = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0f3a9c2b7d1e45a60"
	otherSG  = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0aaaaaaaaaaaaaaaa"
)

func incident(n int, at time.Time) problems.Incident {
	return problems.Incident{
		OpsItemID: fmt.Sprintf("oi-%012d", n), EventID: fmt.Sprintf("ev-%d", n),
		Fingerprint: fp, Rule: "alarm", Title: "Alarm web-3-cpu-high is in ALARM",
		Severity: "medium", Category: "Availability", Resources: []string{alarmARN, instance}, Opened: at,
	}
}

func TestOpenedRecurrence(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name    string
		prepare func(ctx context.Context, tr *problems.Tracker) // before the incidents
		at      []time.Duration                                 // incident times after t0; a repeat of an earlier index is a redelivery
		repeat  map[int]int                                     // incident index -> earlier index it redelivers
		status  []problems.Status                               // after each incident
		actions []problems.Action
		count   int // incidents of the final record
	}{
		{
			name:    "three within the window make a problem, the fourth is linked",
			at:      []time.Duration{0, 4 * h, 22 * h, 30 * h},
			status:  []problems.Status{problems.Candidate, problems.Candidate, problems.Open, problems.Open},
			actions: []problems.Action{problems.Tracked, problems.Tracked, problems.Recorded, problems.Linked},
			count:   4,
		},
		{
			name:    "spread wider than the window stays a candidate",
			at:      []time.Duration{0, 4 * 24 * h, 8 * 24 * h, 12 * 24 * h},
			status:  []problems.Status{problems.Candidate, problems.Candidate, problems.Candidate, problems.Candidate},
			actions: []problems.Action{problems.Tracked, problems.Tracked, problems.Tracked, problems.Tracked},
			count:   2,
		},
		{
			name:    "a redelivered incident counts once",
			at:      []time.Duration{0, 0, h, h, 2 * h},
			repeat:  map[int]int{1: 0, 3: 2},
			status:  []problems.Status{problems.Candidate, problems.Candidate, problems.Candidate, problems.Candidate, problems.Open},
			actions: []problems.Action{problems.Tracked, problems.Duplicate, problems.Tracked, problems.Duplicate, problems.Recorded},
			count:   3,
		},
		{
			name:    "incidents arriving out of order",
			at:      []time.Duration{5 * h, h, 3 * h},
			status:  []problems.Status{problems.Candidate, problems.Candidate, problems.Open},
			actions: []problems.Action{problems.Tracked, problems.Tracked, problems.Recorded},
			count:   3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := memory.NewProblems()
			tr := problems.New(store)
			for i, d := range tt.at {
				inc := incident(i, t0.Add(d))
				if j, ok := tt.repeat[i]; ok {
					inc = incident(j, t0.Add(tt.at[j]))
				}
				out, err := tr.Opened(ctx, inc)
				if err != nil {
					t.Fatalf("Opened(#%d) error = %v", i, err)
				}
				if out.Action != tt.actions[i] || out.Status != tt.status[i] {
					t.Errorf("Opened(#%d) = %s, %s; want %s, %s", i, out.Action, out.Status, tt.actions[i], tt.status[i])
				}
			}
			p, _ := store.Get(ctx, problems.Key(fp))
			if p.Incidents != tt.count || len(p.History) != tt.count || len(p.OpsItems) != tt.count {
				t.Errorf("record has %d incidents, %d in history, %d OpsItems; want %d", p.Incidents, len(p.History), len(p.OpsItems), tt.count)
			}
			// Without rules asking for problems across accounts, none is counted.
			if len(store.All()) != 1 {
				t.Errorf("store holds %d records, want 1 per fingerprint", len(store.All()))
			}
		})
	}
}

func TestRecurrenceFromRules(t *testing.T) {
	set, err := rules.Build([]rules.File{{Name: "r.json", Data: []byte(`{
  "severities": {"low": {"opsItemSeverity": "4", "priority": 4}},
  "problems": {"recurrence": {"count": 4, "window": "2d"}},
  "rules": [
    {"name": "alarm", "pattern": {"source": ["aws.cloudwatch"]}, "action": "incident", "severity": "low", "category": "Availability"},
    {"name": "often", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "low", "category": "Availability",
     "problems": {"recurrence": {"count": 2, "window": "1h"}}}
  ]}`)}})
	if err != nil {
		t.Fatalf("Build rules: %v", err)
	}
	tests := []struct {
		rule string
		at   []time.Duration
		want problems.Status
	}{
		{"alarm", []time.Duration{0, time.Hour, 2 * time.Hour}, problems.Candidate},
		{"alarm", []time.Duration{0, time.Hour, 2 * time.Hour, 47 * time.Hour}, problems.Open},
		{"often", []time.Duration{0, 30 * time.Minute}, problems.Open},
		{"often", []time.Duration{0, 90 * time.Minute}, problems.Candidate},
		{"gone", []time.Duration{0, time.Hour, 2 * time.Hour, 3 * time.Hour}, problems.Open}, // unknown rule: the set's recurrence
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.rule, tt.at), func(t *testing.T) {
			ctx := context.Background()
			tr := problems.New(memory.NewProblems(), problems.WithRules(set))
			var out problems.Outcome
			for i, d := range tt.at {
				inc := incident(i, t0.Add(d))
				inc.Rule = tt.rule
				if out, err = tr.Opened(ctx, inc); err != nil {
					t.Fatalf("Opened: %v", err)
				}
			}
			if out.Status != tt.want {
				t.Errorf("after %d incidents of %s: status %s, want %s", len(tt.at), tt.rule, out.Status, tt.want)
			}
		})
	}
}

// changeLog is a change log in memory with the semantics of
// classify.State's store.
func changeLog(cs ...changelog.Change) (problems.ChangesFunc, *memory.Store) {
	st := memory.New()
	for _, c := range cs {
		if err := st.RecordChange(context.Background(), c); err != nil {
			panic(err)
		}
	}
	return st.Changes, st
}

func change(id, name, actor string, at time.Time, resources ...string) changelog.Change {
	return changelog.Change{EventID: id, EventName: name, Actor: actor, Time: at, Rule: "api-write", Title: name, Resources: resources}
}

func TestSuspectedCauses(t *testing.T) {
	h := time.Hour
	// Incidents at t0+40m, t0+4h, t0+22h (recorded) and t0+30h (linked).
	at := []time.Duration{40 * time.Minute, 4 * h, 22 * h, 30 * h}
	cs := []changelog.Change{
		// Three days before: tagging names the instance and its security
		// group together, which relates them; too early to be a cause.
		change("tags", "CreateTags", "deploy", t0.Add(-72*h), instance, sg),
		// The security group change precedes the first three incidents.
		change("sg-open", "AuthorizeSecurityGroupIngress", "bob", t0, sg),
		// A restart after the first incident precedes the next two; the
		// fourth is more than the 24h lookback after it.
		change("restart", "StartInstances", "alice", t0.Add(90*time.Minute), instance),
		// A change before the fourth incident only.
		change("modify", "ModifyInstanceAttribute", "carol", t0.Add(29*h), instance),
		// A change to an unrelated security group: no cause.
		change("other", "AuthorizeSecurityGroupIngress", "bob", t0.Add(h), otherSG),
		// A change after the last incident: no cause.
		change("late", "StopInstances", "alice", t0.Add(31*h), instance),
		// The event that opened incident #2 is not its own cause.
		change("ev-1", "PutMetricAlarm", "carol", t0.Add(4*h), alarmARN),
	}
	tests := []struct {
		name      string
		incidents int
		want      []string // eventId:incidents, best first
	}{
		{"at recording", 3, []string{"sg-open:3", "restart:2", "ev-1:1"}},
		{"after a linked incident", 4, []string{"sg-open:3", "restart:2", "modify:1", "ev-1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			changes, _ := changeLog(cs...)
			store := memory.NewProblems()
			tr := problems.New(store, problems.WithChanges(changes, 0), problems.WithRelations(store))
			for i := range tt.incidents {
				if _, err := tr.Opened(ctx, incident(i, t0.Add(at[i]))); err != nil {
					t.Fatalf("Opened: %v", err)
				}
			}
			p, _ := store.Get(ctx, problems.Key(fp))
			var got []string
			for _, c := range p.SuspectedCauses {
				got = append(got, fmt.Sprintf("%s:%d", c.EventID, c.Incidents))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SuspectedCauses = %v, want %v", got, tt.want)
			}
			top := p.SuspectedCauses[0]
			if tt.incidents == 3 && (top.EventName != "AuthorizeSecurityGroupIngress" || top.Principal != "bob" || !top.Time.Equal(t0) || top.Resource != sg || top.Via != instance) {
				t.Errorf("top cause = %+v, want AuthorizeSecurityGroupIngress by bob at %s on %s via %s", top, t0, sg, instance)
			}
			if rel, _ := store.Related(ctx, instance); !slices.Contains(rel, sg) {
				t.Errorf("Related(instance) = %v, want the security group kept in the index", rel)
			}
		})
	}
}

func TestCausesRankTiesByRecency(t *testing.T) {
	cs := []problems.Cause{
		{EventID: "a", Time: t0, Incidents: 2},
		{EventID: "b", Time: t0.Add(time.Hour), Incidents: 2},
		{EventID: "c", Time: t0.Add(-time.Hour), Incidents: 3},
		{EventID: "d", Time: t0.Add(time.Hour), Incidents: 2},
	}
	problems.Rank(cs)
	var got []string
	for _, c := range cs {
		got = append(got, c.EventID)
	}
	if want := []string{"c", "b", "d", "a"}; !slices.Equal(got, want) {
		t.Errorf("Rank = %v, want %v", got, want)
	}
}

func TestRelationIndexOutlivesChangeLog(t *testing.T) {
	// The relation was learned once; the change that taught it is gone
	// from the change log by the time the security group changes.
	ctx := context.Background()
	store := memory.NewProblems()
	if err := store.Relate(ctx, instance, []string{sg}, t0.Add(-60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	changes, _ := changeLog(change("sg-open", "AuthorizeSecurityGroupIngress", "bob", t0, sg))
	for _, withIndex := range []bool{false, true} {
		t.Run(fmt.Sprint("index=", withIndex), func(t *testing.T) {
			opts := []problems.Option{problems.WithChanges(changes, 0)}
			if withIndex {
				opts = append(opts, problems.WithRelations(store))
			}
			ps := memory.NewProblems()
			tr := problems.New(ps, opts...)
			for i := range 3 {
				if _, err := tr.Opened(ctx, incident(i, t0.Add(time.Duration(i+1)*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			p, _ := ps.Get(ctx, problems.Key(fp))
			if got := len(p.SuspectedCauses) == 1; got != withIndex {
				t.Errorf("with index %v: causes %v, want the security group change only with the index", withIndex, p.SuspectedCauses)
			}
		})
	}
}

// opsItems is what OpsItems say of their incidents, as OpsCenter keeps
// what the incidents function wrote on them.
type opsItems map[string]problems.Incident

func (o opsItems) Incident(_ context.Context, id string) (string, time.Time, error) {
	return o[id].Fingerprint, o[id].Opened, nil
}

func TestResolvedAnalysis(t *testing.T) {
	ctx := context.Background()
	store := memory.NewProblems()
	described := opsItems{}
	tr := problems.New(store, problems.WithOpsItems(described))
	// Incidents at 0, 4h, 22h, resolved after 40m, 45m, 30m.
	opened := []time.Duration{0, 4 * time.Hour, 22 * time.Hour}
	ttr := []time.Duration{40 * time.Minute, 45 * time.Minute, 30 * time.Minute}
	for i, d := range opened {
		inc := incident(i, t0.Add(d))
		described[inc.OpsItemID] = inc
		if _, err := tr.Opened(ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		r    problems.Resolution
		want problems.Action
	}{
		{"by fingerprint", problems.Resolution{OpsItemID: incident(0, t0).OpsItemID, Fingerprint: fp, Resolved: t0.Add(ttr[0]), Occurrences: 4}, problems.ResolvedIncident},
		{"redelivered", problems.Resolution{OpsItemID: incident(0, t0).OpsItemID, Fingerprint: fp, Resolved: t0.Add(ttr[0])}, problems.Duplicate},
		{"by OpsItem only, as OpsCenter tells it", problems.Resolution{OpsItemID: incident(1, t0).OpsItemID, Resolved: t0.Add(opened[1] + ttr[1])}, problems.ResolvedIncident},
		{"resolved before it opened", problems.Resolution{OpsItemID: incident(2, t0).OpsItemID, Fingerprint: fp, Resolved: t0}, problems.Duplicate},
		{"last one", problems.Resolution{OpsItemID: incident(2, t0).OpsItemID, Fingerprint: fp, Resolved: t0.Add(opened[2] + ttr[2])}, problems.ResolvedIncident},
		{"unknown OpsItem", problems.Resolution{OpsItemID: "oi-nope", Resolved: t0}, problems.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tr.Resolved(ctx, tt.r)
			if err != nil || out.Action != tt.want {
				t.Errorf("Resolved(%+v) = %s, %v; want %s", tt.r, out.Action, err, tt.want)
			}
		})
	}
	p, _ := store.Get(ctx, problems.Key(fp))
	wantMTTR := (ttr[0] + ttr[1] + ttr[2]) / 3
	// Between failures: 4h-40m and 22h-(4h45m).
	wantMTBF := ((opened[1] - ttr[0]) + (opened[2] - opened[1] - ttr[1])) / 2
	if p.ResolvedIncidents != 3 || p.MTTR() != wantMTTR || p.MTBF() != wantMTBF {
		t.Errorf("analysis = %d resolved, MTTR %s, MTBF %s; want 3, %s, %s", p.ResolvedIncidents, p.MTTR(), p.MTBF(), wantMTTR, wantMTBF)
	}
	if p.History[0].Occurrences != 4 {
		t.Errorf("History[0].Occurrences = %d, want 4", p.History[0].Occurrences)
	}
	if _, err := tr.Resolved(ctx, problems.Resolution{Resolved: t0}); !errors.Is(err, problems.ErrInvalid) {
		t.Errorf("Resolved without OpsItem id error = %v, want ErrInvalid", err)
	}
}

func TestStatusChanges(t *testing.T) {
	ctx := context.Background()
	store := memory.NewProblems()
	tr := problems.New(store)
	for i := range 3 {
		if _, err := tr.Opened(ctx, incident(i, t0.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	key := problems.Key(fp)
	steps := []struct {
		name    string
		set     problems.Status // empty: an incident recurs instead
		want    problems.Status
		action  problems.Action
		wantErr error
	}{
		{name: "ack", set: problems.KnownError, want: problems.KnownError},
		{name: "recurrence keeps a known error", want: problems.KnownError, action: problems.Linked},
		{name: "resolve", set: problems.Resolved, want: problems.Resolved},
		{name: "recurrence reopens", want: problems.Open, action: problems.Reopened},
		{name: "no such status", set: "closed", wantErr: problems.ErrInvalid},
		{name: "candidate is no problem", set: problems.Resolved, wantErr: problems.ErrNotFound},
	}
	n := 3
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			k := key
			if st.name == "candidate is no problem" {
				other := incident(99, t0)
				other.Fingerprint = "other:x"
				if _, err := tr.Opened(ctx, other); err != nil {
					t.Fatal(err)
				}
				k = problems.Key(other.Fingerprint)
			}
			if st.set != "" {
				p, err := tr.SetStatus(ctx, k, st.set, " deploy rolled back ", t0.Add(48*time.Hour))
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("SetStatus(%s) error = %v, want %v", st.set, err, st.wantErr)
				}
				if err == nil && (p.Status != st.want || p.Note != "deploy rolled back") {
					t.Errorf("SetStatus(%s) = %s %q, want %s with the trimmed note", st.set, p.Status, p.Note, st.want)
				}
				return
			}
			out, err := tr.Opened(ctx, incident(n, t0.Add(time.Duration(48+n)*time.Hour)))
			n++
			if err != nil || out.Action != st.action || out.Status != st.want {
				t.Errorf("Opened = %s %s, %v; want %s %s", out.Action, out.Status, err, st.action, st.want)
			}
		})
	}
	p, _ := store.Get(ctx, key)
	if p.Reopened != 1 {
		t.Errorf("Reopened = %d, want 1", p.Reopened)
	}
	for _, s := range []problems.Status{problems.Open, problems.KnownError, problems.Resolved} {
		list, err := store.List(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(list) == 1; got != (s == problems.Open) {
			t.Errorf("List(%s) = %d problems", s, len(list))
		}
	}
}

func TestRelater(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	related := map[string][]string{}
	rel := problems.RelaterFunc(func(_ context.Context, id string, ids []string) error {
		mu.Lock()
		defer mu.Unlock()
		related[id] = ids
		return nil
	})
	tr := problems.New(memory.NewProblems(), problems.WithRelater(rel))
	for i := range 14 {
		if _, err := tr.Opened(ctx, incident(i, t0.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := related[incident(1, t0).OpsItemID]; ok {
		t.Errorf("a candidate's OpsItem was related: %v", related)
	}
	if got := related[incident(2, t0).OpsItemID]; !slices.Equal(got, []string{incident(1, t0).OpsItemID, incident(0, t0).OpsItemID}) {
		t.Errorf("the recording incident's OpsItem related to %v, want the two before it", got)
	}
	last := related[incident(13, t0).OpsItemID]
	if len(last) != problems.MaxRelated || last[0] != incident(12, t0).OpsItemID || slices.Contains(last, incident(13, t0).OpsItemID) {
		t.Errorf("the 14th OpsItem related to %v, want the %d newest others", last, problems.MaxRelated)
	}

	calls := 0
	failing := problems.New(memory.NewProblems(), problems.WithRelater(problems.RelaterFunc(func(context.Context, string, []string) error {
		calls++
		if calls == 1 {
			return errors.New("throttled")
		}
		return nil
	})))
	for i := range 3 {
		_, err := failing.Opened(ctx, incident(i, t0.Add(time.Duration(i)*time.Hour)))
		if (err != nil) != (i == 2) {
			t.Errorf("Opened(#%d) with a failing Relater error = %v", i, err)
		}
	}
	// The failed step wrote nothing, so its redelivery tries again.
	out, err := failing.Opened(ctx, incident(2, t0.Add(2*time.Hour)))
	if err != nil || out.Action != problems.Recorded || len(out.Related) != 2 {
		t.Errorf("redelivery after a failed Relate = %+v, %v; want recorded and related", out, err)
	}
}

// racyStore loses the first Put of each record to a concurrent writer.
type racyStore struct {
	*memory.Problems
	mu   sync.Mutex
	lost map[string]bool
}

func (s *racyStore) Put(ctx context.Context, p *problems.Problem) error {
	s.mu.Lock()
	first := !s.lost[p.Key]
	s.lost[p.Key] = true
	s.mu.Unlock()
	if first {
		return fmt.Errorf("put: %w", problems.ErrConflict)
	}
	return s.Problems.Put(ctx, p)
}

func TestConcurrentIncidents(t *testing.T) {
	ctx := context.Background()
	store := &racyStore{Problems: memory.NewProblems(), lost: map[string]bool{}}
	tr := problems.New(store, problems.WithAttempts(50))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			if _, err := tr.Opened(ctx, incident(i, t0.Add(time.Duration(i)*time.Minute))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Opened: %v", err)
	}
	p, _ := store.Get(ctx, problems.Key(fp))
	if p.Incidents != 20 || p.Status != problems.Open {
		t.Errorf("after 20 concurrent incidents: %d incidents, %s; want 20, open", p.Incidents, p.Status)
	}
	if _, err := problems.New(&racyStore{Problems: memory.NewProblems(), lost: map[string]bool{}}, problems.WithAttempts(1)).Opened(ctx, incident(0, t0)); !errors.Is(err, problems.ErrConflict) {
		t.Errorf("Opened losing every race error = %v, want ErrConflict", err)
	}
}

func TestChangesFailureIsRetryable(t *testing.T) {
	ctx := context.Background()
	broken := problems.ChangesFunc(func(context.Context, string, time.Time, time.Duration) ([]changelog.Change, error) {
		return nil, errors.New("throttled")
	})
	store := memory.NewProblems()
	tr := problems.New(store, problems.WithChanges(broken, time.Hour))
	for i := range 3 {
		_, err := tr.Opened(ctx, incident(i, t0.Add(time.Duration(i)*time.Hour)))
		if (err != nil) != (i == 2) || (err != nil && (errors.Is(err, problems.ErrInvalid) || !strings.Contains(err.Error(), "throttled"))) {
			t.Errorf("Opened(#%d) with a broken change log error = %v", i, err)
		}
	}
	if p, _ := store.Get(ctx, problems.Key(fp)); p.Status != problems.Candidate {
		t.Errorf("status after a failed recording = %s, want candidate (nothing written)", p.Status)
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{fp, "alarm:123456789012/us-east-1/web-4-cpu-high"},
		{"a:b", "a:c"},
	}
	// Keys are stored in DynamoDB and given to operators' commands: the key
	// of a fingerprint must not change between versions.
	if got := problems.Key(fp); got != "P-0e0b9a0b5cd6" {
		t.Errorf("Key(%q) = %s, want P-0e0b9a0b5cd6 as every earlier version made it", fp, got)
	}
	for _, tt := range tests {
		if problems.Key(tt.a) == problems.Key(tt.b) {
			t.Errorf("Key(%q) = %s, Key(%q) = %s: want distinct keys", tt.a, problems.Key(tt.a), tt.b, problems.Key(tt.b))
		}
		if k := problems.Key(tt.a); !strings.HasPrefix(k, "P-") || len(k) != 14 {
			t.Errorf("Key(%q) = %q, want P- and 12 hex digits", tt.a, k)
		}
	}
}

func TestInvalidIncidents(t *testing.T) {
	bads := []problems.Incident{
		{},
		{Fingerprint: fp, Rule: "alarm", Opened: t0},
		{OpsItemID: "oi-1", Rule: "alarm", Opened: t0},
		{OpsItemID: "oi-1", Fingerprint: fp, Opened: t0},
		{OpsItemID: "oi-1", Fingerprint: fp, Rule: "alarm"},
		{OpsItemID: "oi-1", Fingerprint: "  ", Rule: "alarm", Opened: t0},
	}
	tr := problems.New(memory.NewProblems())
	for i, inc := range bads {
		if _, err := tr.Opened(context.Background(), inc); !errors.Is(err, problems.ErrInvalid) {
			t.Errorf("Opened(bads[%d] %+v) error = %v, want ErrInvalid", i, inc, err)
		}
	}
}

func TestSpreadAcrossAccounts(t *testing.T) {
	ctx := context.Background()
	// GIVEN a StackSet update from the management account, and a change
	// of one account's own instance, before the failure
	changes, _ := changeLog(
		change("stackset", "UpdateStackSet", "arn:aws:iam::999999999999:role/platform", t0.Add(-time.Hour), changelog.Organization),
		change("local", "StopInstances", "alice", t0.Add(-30*time.Minute), instance),
	)
	set, err := rules.Build([]rules.File{{Name: "r.json", Data: []byte(`{
  "severities": {"medium": {"opsItemSeverity": "3", "priority": 3}},
  "problems": {"recurrence": {"count": 3, "window": "7d", "accounts": 3}},
  "rules": [{"name": "alarm", "pattern": {"source": ["aws.cloudwatch"]}, "action": "incident", "severity": "medium"}]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	store := memory.NewProblems()
	tr := problems.New(store, problems.WithChanges(changes, 0), problems.WithRules(set))
	// WHEN the same alarm goes into ALARM in three accounts and Regions,
	// the first account twice, and is redelivered
	accounts := []string{"111111111111", "111111111111", "222222222222", "222222222222", "333333333333"}
	regions := []string{"us-east-1", "us-east-1", "eu-west-1", "eu-west-1", "ap-southeast-2"}
	var outs []problems.Outcome
	for i, acct := range accounts {
		inc := incident(i, t0.Add(time.Duration(i)*time.Minute))
		if i == 3 {
			inc = incident(2, t0.Add(2*time.Minute)) // a redelivery
		}
		inc.Account, inc.Region = accounts[i], regions[i]
		inc.Fingerprint = "alarm:" + acct + "/" + regions[i] + "/web-3-cpu-high"
		out, err := tr.Opened(ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	// THEN each account's own record stays a candidate, and the failure
	// across accounts is one problem, from the third account on, whose
	// suspected cause is the shared change alone
	spread := problems.SpreadFingerprint("alarm:333333333333/ap-southeast-2/web-3-cpu-high")
	if spread != "alarm:*/*/web-3-cpu-high" {
		t.Fatalf("SpreadFingerprint = %q", spread)
	}
	p, _ := store.Get(ctx, problems.Key(spread))
	if p == nil || !p.Spread || p.Status != problems.Open || p.Incidents != 4 || p.Recurrence.Count != 3 || !p.Recorded.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("problem across accounts = %+v", p)
	}
	if len(p.SuspectedCauses) != 1 || p.SuspectedCauses[0].EventID != "stackset" || p.SuspectedCauses[0].Incidents != 4 {
		t.Errorf("suspected causes = %+v, want the StackSet update before all 4 incidents", p.SuspectedCauses)
	}
	for _, acct := range []string{"111111111111", "222222222222"} {
		own, _ := store.Get(ctx, problems.Key("alarm:"+acct+"/"+map[string]string{"111111111111": "us-east-1", "222222222222": "eu-west-1"}[acct]+"/web-3-cpu-high"))
		if own == nil || own.Status != problems.Candidate || own.Spread {
			t.Errorf("record of %s = %+v, want its own candidate", acct, own)
		}
	}
	if outs[3].Action != problems.Duplicate {
		t.Errorf("the redelivery = %s, want duplicate", outs[3].Action)
	}
	// AND a resolution counts in both records
	if _, err := tr.Resolved(ctx, problems.Resolution{OpsItemID: "oi-000000000004", Fingerprint: "alarm:333333333333/ap-southeast-2/web-3-cpu-high", Resolved: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if p, _ = store.Get(ctx, problems.Key(spread)); p.ResolvedIncidents != 1 {
		t.Errorf("problem across accounts: %d resolved incidents, want 1", p.ResolvedIncidents)
	}
	// AND fingerprints that name no account have no record across accounts
	for _, fp := range []string{"api-write:", "resource-shared-externally:-/-", "long:sha256:0123456789abcdef"} {
		if got := problems.SpreadFingerprint(fp); got != "" {
			t.Errorf("SpreadFingerprint(%q) = %q, want none", fp, got)
		}
	}
}
