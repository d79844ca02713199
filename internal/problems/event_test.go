package problems_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/problems"
)

const (
	openedEvent = `{"version":"0","id":"e1","detail-type":"Incident Opened","source":"opsloop","account":"123456789012",
"time":"2026-03-05T10:40:00Z","region":"us-east-1","resources":[],"detail":{"schemaVersion":"1","opsItemId":"oi-0123456789ab",
"fingerprint":"alarm:123456789012/us-east-1/web-3-cpu-high","rule":"alarm","title":"Alarm web-3-cpu-high is in ALARM",
"severity":"medium","opsItemSeverity":"3","category":"Availability","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-0b7e5c1d2a3f49876"],
"account":"123456789012","region":"us-east-1","opened":"2026-03-05T10:40:00Z","eventId":"a1"}}`
	resolvedEvent = `{"version":"0","id":"e2","detail-type":"Incident Resolved","source":"opsloop","account":"123456789012",
"time":"2026-03-05T11:20:00Z","region":"us-east-1","resources":[],"detail":{"schemaVersion":"1","opsItemId":"oi-0123456789ab",
"fingerprint":"alarm:123456789012/us-east-1/web-3-cpu-high","rule":"alarm","title":"t","opened":"2026-03-05T10:40:00Z",
"resolved":"2026-03-05T11:20:00Z","occurrences":2,"eventId":"a2","resolution":"recovered"}}`
	opsItemResolved = `{"version":"0","id":"e3","detail-type":"OpsItem Update","source":"aws.ssm","account":"123456789012",
"time":"2026-03-05T11:21:00Z","region":"us-east-1","resources":["arn:aws:ssm:us-east-1:123456789012:opsitem/oi-0123456789ab"],
"detail":{"created-by":"arn:aws:iam::123456789012:user/alice","created-time":"2026-03-05T10:40:01.1Z",
"modified-by":"arn:aws:iam::123456789012:user/alice","modified-time":"2026-03-05T11:20:30.5Z","source":"opsloop",
"status":"Resolved","ops-item-id":"oi-0123456789ab","title":"t","ops-item-type":"/aws/issue"}}`
	escalatedEvent = `{"detail-type":"Incident Escalated","source":"opsloop","time":"2026-03-05T11:00:00Z",
"detail":{"schemaVersion":"1","opsItemId":"oi-0123456789ab","fingerprint":"f","rule":"r","title":"t","severity":"high","step":2,"priority":1}}`
	opsItemOpen = `{"detail-type":"OpsItem Update","source":"aws.ssm","time":"2026-03-05T11:21:00Z",
"detail":{"status":"InProgress","ops-item-id":"oi-0123456789ab"}}`
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		incident string // OpsItem id of the incident, if any
		resolved time.Time
		acked    time.Time // an acknowledgement's time
		step     int       // an escalation's step
	}{
		{"incident opened", openedEvent, "oi-0123456789ab", time.Time{}, time.Time{}, 0},
		{"incident resolved", resolvedEvent, "", time.Date(2026, 3, 5, 11, 20, 0, 0, time.UTC), time.Time{}, 0},
		{"OpsItem resolved in OpsCenter", opsItemResolved, "", time.Date(2026, 3, 5, 11, 20, 30, 500_000_000, time.UTC), time.Time{}, 0},
		{"OpsItem in progress", opsItemOpen, "", time.Time{}, time.Date(2026, 3, 5, 11, 21, 0, 0, time.UTC), 0},
		{"incident escalated", escalatedEvent, "", time.Time{}, time.Time{}, 2},
		{"other event", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, "", time.Time{}, time.Time{}, 0},
		{"OpsItem without modified-time", strings.Replace(opsItemResolved, `"modified-time":"2026-03-05T11:20:30.5Z",`, "", 1), "", time.Date(2026, 3, 5, 11, 21, 0, 0, time.UTC), time.Time{}, 0},
		// Another tool's OpsItem: nothing to look up or write.
		{"another source's OpsItem resolved", strings.Replace(opsItemResolved, `"source":"opsloop"`, `"source":"other-tool"`, 1), "", time.Time{}, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := problems.ParseEvent([]byte(tt.raw))
			if err != nil {
				t.Fatalf("ParseEvent error = %v", err)
			}
			gotInc := ""
			if in.Incident != nil {
				gotInc = in.Incident.OpsItemID
			}
			var gotRes time.Time
			if in.Resolution != nil {
				gotRes = in.Resolution.Resolved
			}
			if gotInc != tt.incident || !gotRes.Equal(tt.resolved) {
				t.Errorf("ParseEvent = incident %q, resolved %v; want %q, %v", gotInc, gotRes, tt.incident, tt.resolved)
			}
			var gotAck time.Time
			if in.Acknowledgement != nil {
				gotAck = in.Acknowledgement.At
			}
			gotStep := 0
			if in.Escalation != nil {
				gotStep = in.Escalation.Step
			}
			if !gotAck.Equal(tt.acked) || gotStep != tt.step {
				t.Errorf("ParseEvent = acknowledged %v, escalation step %d; want %v, %d", gotAck, gotStep, tt.acked, tt.step)
			}
		})
	}
}

func TestParseEventRejects(t *testing.T) {
	bads := []string{
		``,
		`[]`,
		`{"source":"opsloop","detail-type":"Incident Opened"}`,
		`{"source":"opsloop","detail-type":"Incident Opened","detail":"x"}`,
		`{"source":"opsloop","detail-type":"Incident Escalated","time":"2026-03-05T11:00:00Z","detail":{"opsItemId":"oi-1","step":0}}`,
		`{"source":"opsloop","detail-type":"Incident Escalated","detail":{"opsItemId":"oi-1","step":1}}`,
		`{"source":"opsloop","detail-type":"Incident Opened","detail":{"opsItemId":"oi-1"}}`,
		`{"source":"opsloop","detail-type":"Incident Opened","detail":{"opsItemId":"oi-1","fingerprint":"f","rule":"r","opened":"yesterday"}}`,
		`{"source":"opsloop","detail-type":"Incident Resolved","detail":{"opsItemId":"oi-1"}}`,
		`{"source":"opsloop","detail-type":"Incident Resolved","detail":{"resolved":"2026-03-05T11:20:00Z"}}`,
		`{"source":"aws.ssm","detail-type":"OpsItem Update","detail":{"status":"Resolved"}}`,
		`{"source":"aws.ssm","detail-type":"OpsItem Update","detail":{"status":"Resolved","ops-item-id":"oi-1"}}`,
		`{"source":"aws.ssm","detail-type":"OpsItem Update","detail":[]}`,
		`{"source":"opsloop","detail-type":"Incident Opened","detail":{` + strings.Repeat(" ", problems.MaxEvent) + `}}`,
	}
	for i, raw := range bads {
		if _, err := problems.ParseEvent([]byte(raw)); !errors.Is(err, problems.ErrInvalid) {
			t.Errorf("ParseEvent(bads[%d] %.80s) error = %v, want ErrInvalid", i, raw, err)
		}
	}
}

func TestHandle(t *testing.T) {
	ctx := context.Background()
	store := memory.NewProblems()
	opened, _ := problems.ParseEvent([]byte(openedEvent))
	tr := problems.New(store, problems.WithOpsItems(opsItems{opened.Incident.OpsItemID: *opened.Incident}))
	steps := []struct {
		raw  string
		want problems.Action
	}{
		{openedEvent, problems.Tracked},
		{openedEvent, problems.Duplicate},
		{opsItemOpen, problems.Acknowledged},
		{opsItemResolved, problems.ResolvedIncident},
		{resolvedEvent, problems.Duplicate},
	}
	for i, st := range steps {
		out, err := tr.Handle(ctx, []byte(st.raw))
		if err != nil || out.Action != st.want {
			t.Errorf("Handle(step %d) = %s, %v; want %s", i, out.Action, err, st.want)
		}
	}
	p, _ := store.Get(ctx, problems.Key("alarm:123456789012/us-east-1/web-3-cpu-high"))
	if got := p.History[0].TimeToResolve(); got != 40*time.Minute+30500*time.Millisecond {
		t.Errorf("time to resolve = %s, want 40m30.5s (from OpsCenter's modified-time)", got)
	}
	if _, err := tr.Handle(ctx, []byte(`{`)); !errors.Is(err, problems.ErrInvalid) {
		t.Errorf("Handle(bad JSON) error = %v, want ErrInvalid", err)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{openedEvent, resolvedEvent, opsItemResolved, opsItemOpen, `{}`, `{"detail":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := problems.ParseEvent(raw)
		if err != nil {
			if !errors.Is(err, problems.ErrInvalid) {
				t.Fatalf("ParseEvent error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if in.Incident != nil && in.Resolution != nil {
			t.Fatalf("ParseEvent gave both an incident and a resolution")
		}
		if in.Incident != nil {
			if _, err := problems.New(memory.NewProblems()).Opened(context.Background(), *in.Incident); err != nil {
				t.Fatalf("Opened(parsed incident %+v) error = %v", *in.Incident, err)
			}
		}
		if r := in.Resolution; r != nil && (r.OpsItemID == "" || r.Resolved.IsZero()) {
			t.Fatalf("ParseEvent accepted a resolution without id or time: %+v", *r)
		}
	})
}

// TestParseResolvedOpened: opsloop's "Incident Resolved" says when the
// incident opened, which finds its log entry; OpsCenter's event does not.
func TestParseResolvedOpened(t *testing.T) {
	for raw, want := range map[string]time.Time{resolvedEvent: time.Date(2026, 3, 5, 10, 40, 0, 0, time.UTC), opsItemResolved: {}} {
		in, err := problems.ParseEvent([]byte(raw))
		if err != nil || in.Resolution == nil || !in.Resolution.Opened.Equal(want) {
			t.Errorf("ParseEvent = %+v, %v; want a resolution opened %v", in.Resolution, err, want)
		}
	}
}
