package classify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/rules"
)

const testRules = `{
  "severities": {
    "critical": {"opsItemSeverity": "1", "priority": 1},
    "high": {"opsItemSeverity": "2", "priority": 2},
    "low": {"opsItemSeverity": "4", "priority": 4}
  },
  "rules": [
    {"name": "alarm", "pattern": {"source": ["aws.cloudwatch"], "detail": {"state": {"value": ["ALARM"]}}},
     "action": "incident", "severity": "low", "category": "Availability", "groupBy": ["detail.alarmName"],
     "title": "Alarm {{detail.alarmName}} is in ALARM", "recoverWhen": {"detail": {"state": {"value": ["OK"]}}},
     "escalation": {"factor": 0}, "flapping": {"transitions": 2, "window": "1h"}},
    {"name": "alarm-critical", "pattern": {"source": ["aws.cloudwatch"], "detail": {"alarmName": [{"prefix": "critical-"}], "state": {"value": ["ALARM"]}}},
     "action": "incident", "severity": "critical", "groupBy": ["detail.alarmName"],
     "recoverWhen": {"detail": {"state": {"value": ["OK"]}}}},
    {"name": "alarm-quiet", "priority": 50, "pattern": {"source": ["aws.cloudwatch"], "detail": {"alarmName": [{"prefix": "quiet-"}]}},
     "action": "ignore"},
    {"name": "denied", "pattern": {"source": ["aws.iam"], "detail": {"errorCode": ["AccessDenied"]}},
     "action": "incident", "severity": "low", "threshold": {"count": 3, "window": "5m"}, "groupBy": ["detail.userIdentity.arn"],
     "escalation": {"factor": 2}},
    {"name": "iam-write", "pattern": {"source": ["aws.iam"], "detail": {"readOnly": [false]}}, "action": "record",
     "title": "{{detail.eventName}}"}
  ],
  "silences": [
    {"name": "maint", "pattern": {"detail": {"alarmName": ["maint-db"]}}, "start": "2026-03-01T00:00:00Z", "end": "2026-03-01T06:00:00Z"}
  ]
}`

func newClassifier(t *testing.T) (*classify.Classifier, *memory.Store) {
	t.Helper()
	set, err := rules.Build([]rules.File{{Name: "test.json", Data: []byte(testRules)}})
	if err != nil {
		t.Fatalf("rules.Build: %v", err)
	}
	store := memory.New()
	return classify.New(set, store), store
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func alarm(id, name, state string, at time.Time) *event.Event {
	return mustEvent(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch",
"account":"123456789012","time":%q,"region":"us-east-1","resources":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:%s"],
"detail":{"alarmName":%q,"state":{"value":%q,"reason":"r"},"previousState":{"value":"OK"}}}`, id, at.Format(time.RFC3339), name, name, state))
}

func apiCall(id, name, errorCode string, at time.Time) *event.Event {
	errField := ""
	if errorCode != "" {
		errField = fmt.Sprintf(`"errorCode":%q,`, errorCode)
	}
	return mustEvent(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"AWS API Call via CloudTrail","source":"aws.iam",
"account":"123456789012","time":%q,"region":"us-east-1","resources":[],
"detail":{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":%q,%s"readOnly":false,"eventTime":%q,
"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},
"requestParameters":{"roleName":"app"},"awsRegion":"us-east-1","eventID":%q}}`, id, at.Format(time.RFC3339), name, errField, at.Format(time.RFC3339), id))
}

func mustEvent(s string) *event.Event {
	ev, err := event.Parse([]byte(s))
	if err != nil {
		panic(err)
	}
	return ev
}

func classifyAll(t *testing.T, c *classify.Classifier, evs ...*event.Event) []classify.Decision {
	t.Helper()
	var out []classify.Decision
	for _, ev := range evs {
		d, err := c.Classify(context.Background(), ev)
		if err != nil {
			t.Fatalf("Classify(%s): %v", ev.ID, err)
		}
		out = append(out, d)
	}
	return out
}

func TestClassifyDecisions(t *testing.T) {
	tests := []struct {
		name     string
		ev       *event.Event
		action   classify.Action
		rule     string
		severity string
		fp       string
		title    string
	}{
		{"no rule matches", mustEvent(`{"id":"x","detail-type":"Other","source":"aws.s3","account":"1","time":"2026-03-01T12:00:00Z","region":"us-east-1","detail":{}}`),
			classify.Ignore, "", "", "", ""},
		{"alarm opens an incident", alarm("a1", "db-cpu", "ALARM", base), classify.Incident, "alarm", "low", "alarm:db-cpu", "Alarm db-cpu is in ALARM"},
		{"more severe rule wins on equal priority", alarm("a2", "critical-db", "ALARM", base), classify.Incident, "alarm-critical", "critical", "alarm-critical:critical-db", ""},
		{"higher priority ignore wins", alarm("a3", "quiet-batch", "ALARM", base), classify.Ignore, "alarm-quiet", "", "", ""},
		{"OK recovers", alarm("a4", "db-cpu", "OK", base), classify.Recover, "alarm", "low", "alarm:db-cpu", ""},
		{"OK of a critical alarm recovers with the critical rule", alarm("a5", "critical-db", "OK", base), classify.Recover, "alarm-critical", "critical", "alarm-critical:critical-db", ""},
		{"higher priority ignore beats recovery", alarm("a6", "quiet-batch", "OK", base), classify.Ignore, "alarm-quiet", "", "", ""},
		{"write is recorded", apiCall("c1", "PutRolePolicy", "", base), classify.Record, "iam-write", "", "", "PutRolePolicy"},
		{"silenced alarm is recorded", alarm("s1", "maint-db", "ALARM", time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)), classify.Record, "alarm", "low", "alarm:maint-db", ""},
		{"silence over", alarm("s2", "maint-db", "ALARM", time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)), classify.Incident, "alarm", "low", "alarm:maint-db", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClassifier(t)
			d := classifyAll(t, c, tt.ev)[0]
			if d.Action != tt.action || d.Rule != tt.rule || d.Severity != tt.severity {
				t.Errorf("Classify = %s by %q severity %q, want %s by %q severity %q (reason %q)", d.Action, d.Rule, d.Severity, tt.action, tt.rule, tt.severity, d.Reason)
			}
			if tt.fp != "" && d.Fingerprint != tt.fp {
				t.Errorf("fingerprint = %q, want %q", d.Fingerprint, tt.fp)
			}
			if tt.title != "" && d.Title != tt.title {
				t.Errorf("title = %q, want %q", d.Title, tt.title)
			}
			if d.Reason == "" {
				t.Error("decision has no reason")
			}
		})
	}
}

func TestSilenceNamed(t *testing.T) {
	c, _ := newClassifier(t)
	d := classifyAll(t, c, alarm("s1", "maint-db", "ALARM", time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)))[0]
	if d.Silence != "maint" {
		t.Errorf("Silence = %q, want maint", d.Silence)
	}
}

func TestAlsoMatched(t *testing.T) {
	c, _ := newClassifier(t)
	d := classifyAll(t, c, alarm("a", "critical-db", "ALARM", base))[0]
	if len(d.Matched) != 1 || d.Matched[0] != "alarm" {
		t.Errorf("Matched = %v, want [alarm]", d.Matched)
	}
}

func TestThresholdUsesEventTime(t *testing.T) {
	c, _ := newClassifier(t)
	// Events from long ago: only their own times count.
	old := time.Date(2019, 10, 2, 17, 0, 0, 0, time.UTC)
	ds := classifyAll(t, c,
		apiCall("d1", "GetRole", "AccessDenied", old),
		apiCall("d2", "GetRole", "AccessDenied", old.Add(time.Minute)),
		apiCall("d3", "GetRole", "AccessDenied", old.Add(2*time.Minute)),
		apiCall("d4", "GetRole", "AccessDenied", old.Add(20*time.Minute)), // window passed: counting starts again
	)
	want := []classify.Action{classify.Record, classify.Record, classify.Incident, classify.Record}
	for i, d := range ds {
		if d.Action != want[i] {
			t.Errorf("event %d: %s (%s), want %s", i+1, d.Action, d.Reason, want[i])
		}
	}
	if ds[2].Count != 3 || ds[3].Count != 1 {
		t.Errorf("counts = %d, %d; want 3, 1", ds[2].Count, ds[3].Count)
	}
	if ds[2].Fingerprint != "denied:arn:aws:iam::123456789012:user/alice" {
		t.Errorf("fingerprint = %q", ds[2].Fingerprint)
	}
}

func TestRedeliveryCountedOnce(t *testing.T) {
	c, _ := newClassifier(t)
	ev := apiCall("d1", "GetRole", "AccessDenied", base)
	ds := classifyAll(t, c, ev, ev, ev, apiCall("d2", "GetRole", "AccessDenied", base.Add(time.Second)))
	if !ds[1].Duplicate || !ds[2].Duplicate || ds[0].Duplicate {
		t.Errorf("Duplicate flags = %v %v %v, want false true true", ds[0].Duplicate, ds[1].Duplicate, ds[2].Duplicate)
	}
	if ds[1].Action != ds[0].Action || ds[1].Rule != ds[0].Rule {
		t.Errorf("redelivery decided %s/%s, first delivery %s/%s: want the same", ds[1].Action, ds[1].Rule, ds[0].Action, ds[0].Rule)
	}
	if ds[3].Count != 2 {
		t.Errorf("count after 3 deliveries of one event and one other = %d, want 2", ds[3].Count)
	}
}

func TestEscalation(t *testing.T) {
	c, _ := newClassifier(t)
	var evs []*event.Event
	for i := range 6 {
		evs = append(evs, apiCall(fmt.Sprintf("e%d", i), "GetRole", "AccessDenied", base.Add(time.Duration(i)*time.Second)))
	}
	ds := classifyAll(t, c, evs...)
	// threshold 3, factor 2: escalated from the 6th occurrence on, one step (low -> high).
	for i, d := range ds {
		wantEsc := i >= 5
		if d.Escalated != wantEsc {
			t.Errorf("event %d: Escalated = %v, want %v (%s)", i+1, d.Escalated, wantEsc, d.Reason)
		}
		if wantEsc && d.Severity != "high" {
			t.Errorf("event %d: severity %q, want high", i+1, d.Severity)
		}
	}
}

func TestFlapping(t *testing.T) {
	c, _ := newClassifier(t)
	var evs []*event.Event
	for i := range 4 {
		at := base.Add(time.Duration(i) * 10 * time.Minute)
		evs = append(evs, alarm(fmt.Sprintf("f%da", i), "db-cpu", "ALARM", at), alarm(fmt.Sprintf("f%do", i), "db-cpu", "OK", at.Add(time.Minute)))
	}
	ds := classifyAll(t, c, evs...)
	// transitions 2: the third recovery within the hour is flapping, and so is the failure after it.
	flapping := []bool{false, false, false, false, false, true, true, true}
	for i, d := range ds {
		if d.Flapping != flapping[i] {
			t.Errorf("decision %d (%s): Flapping = %v, want %v", i+1, d.Action, d.Flapping, flapping[i])
		}
	}
}

func TestChangeLog(t *testing.T) {
	c, store := newClassifier(t)
	ev := apiCall("c1", "PutRolePolicy", "", base)
	d := classifyAll(t, c, ev, ev)[0]
	if !d.Change || len(d.Resources) == 0 {
		t.Fatalf("decision Change = %v, resources %v; want a change with resources", d.Change, d.Resources)
	}
	got, err := store.Changes(context.Background(), d.Resources[0], base.Add(time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].EventName != "PutRolePolicy" || got[0].Actor == "" {
		t.Errorf("Changes = %+v, want one PutRolePolicy change with its actor", got)
	}
}

func TestFingerprintBounded(t *testing.T) {
	long := make([]string, 50)
	for i := range long {
		long[i] = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"
	}
	fp := classify.Fingerprint("rule", long)
	if len(fp) > 200 {
		t.Errorf("len(Fingerprint) = %d, want <= 200", len(fp))
	}
	if fp != classify.Fingerprint("rule", long) || fp == classify.Fingerprint("rule", long[1:]) {
		t.Error("Fingerprint must be stable and distinguish groups")
	}
}

// flakyState fails the named State call once, as a throttled table does
// after the SDK's retries.
type flakyState struct {
	*memory.Store
	failOnce string
}

func (s *flakyState) fail(call string) error {
	if s.failOnce == call {
		s.failOnce = ""
		return fmt.Errorf("%s: ThrottlingException", call)
	}
	return nil
}

func (s *flakyState) Count(ctx context.Context, key string, t time.Time, window time.Duration, id string) (int, bool, error) {
	if err := s.fail("Count"); err != nil {
		return 0, false, err
	}
	return s.Store.Count(ctx, key, t, window, id)
}

func (s *flakyState) RecordChange(ctx context.Context, c changelog.Change) error {
	if err := s.fail("RecordChange"); err != nil {
		return err
	}
	return s.Store.RecordChange(ctx, c)
}

// TestRetryAfterFailureCountsOnce: when a State call fails, the retry of
// the same event counts it, once.
func TestRetryAfterFailureCountsOnce(t *testing.T) {
	set, err := rules.Build([]rules.File{{Name: "test.json", Data: []byte(testRules)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"Count", "RecordChange"} {
		t.Run(call, func(t *testing.T) {
			st := &flakyState{Store: memory.New(), failOnce: call}
			c := classify.New(set, st)
			ctx := context.Background()
			ev := apiCall("d1", "PutRolePolicy", "AccessDenied", base)
			if _, err := c.Classify(ctx, ev); err == nil {
				t.Fatalf("Classify with %s failing = no error, want the failure", call)
			}
			d, err := c.Classify(ctx, ev)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if d.Duplicate || d.Count != 1 {
				t.Errorf("retry after %s failed: Duplicate %v, Count %d; want a first delivery counted once", call, d.Duplicate, d.Count)
			}
			again, _ := c.Classify(ctx, ev)
			if !again.Duplicate || again.Count != 1 {
				t.Errorf("redelivery after the retry: Duplicate %v, Count %d; want a duplicate, still 1", again.Duplicate, again.Count)
			}
			changes, _ := st.Changes(ctx, d.Resources[0], base.Add(time.Minute), time.Hour)
			if len(changes) != 1 {
				t.Errorf("change log after the retry holds %d entries, want 1", len(changes))
			}
		})
	}
}

// writeCounter counts the State calls that write.
type writeCounter struct {
	*memory.Store
	adds, records int
}

func (w *writeCounter) Count(ctx context.Context, key string, t time.Time, window time.Duration, id string) (int, bool, error) {
	if id != "" {
		w.adds++
	}
	return w.Store.Count(ctx, key, t, window, id)
}

func (w *writeCounter) RecordChange(ctx context.Context, c changelog.Change) error {
	w.records++
	return w.Store.RecordChange(ctx, c)
}

// TestWritesPerDecision: ignoring an event writes nothing, recording one
// writes its change only, an incident or a recovery its count only (which
// knows a redelivery: no dedup write).
func TestWritesPerDecision(t *testing.T) {
	set, err := rules.Build([]rules.File{{Name: "test.json", Data: []byte(testRules)}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		ev            *event.Event
		want          classify.Action
		adds, records int
	}{
		{"ignored", alarm("w1", "quiet-disk", "ALARM", base), classify.Ignore, 0, 0},
		{"no rule", mustEvent(`{"version":"0","id":"w2","detail-type":"x","source":"aws.x","account":"1","time":"2026-03-01T12:00:00Z","region":"r","resources":[],"detail":{}}`), classify.Ignore, 0, 0},
		{"recorded", apiCall("w3", "PutRolePolicy", "", base), classify.Record, 0, 1},
		{"incident", alarm("w4", "db", "ALARM", base), classify.Incident, 1, 0},
		{"recovery", alarm("w5", "db", "OK", base), classify.Recover, 1, 0}, // its flapping count
	}
	for _, tt := range tests {
		st := &writeCounter{Store: memory.New()}
		d, err := classify.New(set, st).Classify(context.Background(), tt.ev)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if d.Action != tt.want || st.adds != tt.adds || st.records != tt.records {
			t.Errorf("%s: %s with %d counted adds and %d RecordChange, want %s with %d and %d", tt.name, d.Action, st.adds, st.records, tt.want, tt.adds, tt.records)
		}
	}
}
