package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/metrics"

	"github.com/opsloop/opsloop/internal/functions/incidentsfn"
	"github.com/opsloop/opsloop/internal/lambdaenv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

// alarmSignal is a valid signal of alarm name, detected or recovered.
func alarmSignal(kind, id, name string, at time.Time) signal.Signal {
	return signal.Signal{
		SchemaVersion: signal.SchemaVersion, Kind: kind, EventID: id, Time: at,
		Rule: "test-alarm", Fingerprint: "test-alarm:" + name, Title: "Alarm " + name + " is in ALARM",
		Severity: "high", Category: "Availability",
		Plan:      signal.Plan{OpsItemSeverity: "2", Priority: 2, Notify: []string{"default"}},
		Resources: []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + name},
		Account:   "123456789012", Region: "us-east-1", Source: "aws.cloudwatch",
		DetailType: "CloudWatch Alarm State Change", Summary: "alarm " + name, Reason: "test",
	}
}

// body is the SQS message body the opsloop bus delivers for s: the whole
// EventBridge event.
func body(t *testing.T, s signal.Signal) string {
	t.Helper()
	detail, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	dt := signal.DetailDetected
	if s.Kind == signal.Recovered {
		dt = signal.DetailRecovered
	}
	return envelope(dt, signal.Source, string(detail))
}

func envelope(detailType, source, detail string) string {
	return fmt.Sprintf(`{"version":"0","id":"bus-%d","detail-type":%q,"source":%q,"account":"123456789012",`+
		`"time":"2026-02-03T15:05:00Z","region":"us-east-1","resources":[],"detail":%s}`,
		len(detail), detailType, source, detail)
}

func batch(bodies ...string) events.SQSEvent {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i+1), Body: b})
	}
	return ev
}

func failures(r events.SQSEventResponse) []string {
	var ids []string
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// lifecycleFunc adapts a function to incidentsfn.Lifecycle.
type lifecycleFunc func(ctx context.Context, s signal.Signal) (incidents.Outcome, error)

func (f lifecycleFunc) Handle(ctx context.Context, s signal.Signal) (incidents.Outcome, error) {
	return f(ctx, s)
}

func (f lifecycleFunc) Retry(context.Context) (incidents.RetryReport, error) {
	return incidents.RetryReport{}, nil
}

func (f lifecycleFunc) Escalate(context.Context) (incidents.EscalateReport, error) {
	return incidents.EscalateReport{}, nil
}

func TestIncidentsPartialBatchFailures(t *testing.T) {
	// The fake lifecycle's answer is chosen by the signal's event id.
	answers := map[string]struct {
		out incidents.Outcome
		err error
	}{
		"open":      {incidents.Outcome{Action: incidents.Opened, OpsItemID: "oi-1", Created: true}, nil},
		"repeat":    {incidents.Outcome{Action: incidents.Repeated, OpsItemID: "oi-1"}, nil},
		"resolve":   {incidents.Outcome{Action: incidents.Resolved, OpsItemID: "oi-1", Resolved: true}, nil},
		"throttled": {incidents.Outcome{}, fmt.Errorf("create OpsItem: %w", errors.New("ThrottlingException"))},
		"limit": {incidents.Outcome{Action: incidents.LimitExceeded},
			incidents.Permanent(fmt.Errorf("create OpsItem: %w", incidents.ErrLimitExceeded))},
		"refused": {incidents.Outcome{Action: incidents.Rejected}, incidents.Permanent(errors.New("invalid signal"))},
	}
	var handled []string
	fn := lifecycleFunc(func(_ context.Context, s signal.Signal) (incidents.Outcome, error) {
		handled = append(handled, s.EventID)
		a := answers[s.EventID]
		return a.out, a.err
	})
	sig := func(id string) string { return body(t, alarmSignal(signal.Detected, id, "test-cpu", t0)) }
	tests := []struct {
		name    string
		bodies  []string
		retry   []string
		metrics map[string]float64
	}{
		{"all good", []string{sig("open"), sig("repeat"), sig("resolve")}, nil,
			map[string]float64{"IncidentsOpened": 1, "IncidentsResolved": 1}},
		{"one throttled", []string{sig("open"), sig("throttled"), sig("repeat")}, []string{"m2"},
			map[string]float64{"IncidentsOpened": 1}},
		{"limit exceeded is not retried", []string{sig("limit"), sig("throttled")}, []string{"m2"},
			map[string]float64{"OpsItemLimitExceeded": 1}},
		{"refused is kept for the dead-letter queue", []string{sig("refused")}, []string{"m1"},
			map[string]float64{metrics.SignalsRejected: 1}},
		{"malformed is kept for the dead-letter queue", []string{"{", envelope("Incident Opened", "opsloop", "{}"), sig("open")}, []string{"m1", "m2"},
			map[string]float64{metrics.SignalsRejected: 2, "IncidentsOpened": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &bytes.Buffer{}
			log := lambdaenv.NewLogger(out, "INFO")
			h := incidentsfn.NewIncidents(fn, log, lambdaenv.NewMetrics(out, log))
			resp, err := h.Handle(context.Background(), batch(tt.bodies...))
			if err != nil {
				t.Fatalf("Handle(%s) error %v", tt.name, err)
			}
			if got := failures(resp); !slices.Equal(got, tt.retry) {
				t.Errorf("Handle(%s) batch item failures = %v, want %v", tt.name, got, tt.retry)
			}
			got := emf(t, out)
			for name, want := range tt.metrics {
				if got[name] != want {
					t.Errorf("Handle(%s) metric %s = %v, want %v", tt.name, name, got[name], want)
				}
			}
			for name, v := range got {
				if _, ok := tt.metrics[name]; !ok {
					t.Errorf("Handle(%s) metric %s = %v, want none", tt.name, name, v)
				}
			}
		})
	}
}

func TestIncidentsStopsAtDeadline(t *testing.T) {
	calls := 0
	fn := lifecycleFunc(func(context.Context, signal.Signal) (incidents.Outcome, error) {
		calls++
		return incidents.Outcome{Action: incidents.Repeated}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := incidentsfn.NewIncidents(fn, nil, nil)
	b := body(t, alarmSignal(signal.Detected, "e1", "test-cpu", t0))
	resp, err := h.Handle(ctx, batch(b, b))
	if err != nil {
		t.Fatalf("Handle after deadline error %v", err)
	}
	if got := failures(resp); !slices.Equal(got, []string{"m1", "m2"}) || calls != 0 {
		t.Errorf("Handle after deadline = failures %v after %d calls, want [m1 m2] after none", got, calls)
	}
}

func TestIncidentsWithManager(t *testing.T) {
	ctx := context.Background()
	ops, store := memory.NewOpsCenter(), memory.NewIncidents()
	pub := &fakeBus{}
	topic := "arn:aws:sns:us-east-1:123456789012:oncall"
	m := incidents.New(ops, store, incidents.WithPublisher(incidentsfn.Publisher(pub)), incidents.WithDefaultTopic(topic))
	out := &bytes.Buffer{}
	log := lambdaenv.NewLogger(out, "INFO")
	h := incidentsfn.NewIncidents(m, log, lambdaenv.NewMetrics(out, log))

	open := body(t, alarmSignal(signal.Detected, "e1", "test-cpu", t0))
	repeat := body(t, alarmSignal(signal.Detected, "e2", "test-cpu", t0.Add(time.Minute)))
	recover := body(t, alarmSignal(signal.Recovered, "e3", "test-cpu", t0.Add(10*time.Minute)))
	for i, b := range []events.SQSEvent{batch(open, repeat, open), batch(recover, repeat, recover)} {
		resp, err := h.Handle(ctx, b)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("Handle(batch %d) = %v, %v; want no failures", i+1, resp, err)
		}
	}
	items := ops.Items()
	if len(items) != 1 {
		t.Fatalf("OpsItems = %d, want 1", len(items))
	}
	it := items[0]
	if it.Status != incidents.StatusOpsItemResolved || it.Occurrences != 2 || !slices.Equal(it.Notifications, []string{topic}) {
		t.Errorf("OpsItem = %s, %d occurrences, notifications %v; want Resolved, 2, [%s]", it.Status, it.Occurrences, it.Notifications, topic)
	}
	got := emf(t, out)
	if got["IncidentsOpened"] != 1 || got["IncidentsResolved"] != 1 || got["TimeToResolve"] != 600 {
		t.Errorf("metrics = %v, want 1 opened, 1 resolved, 600 s to resolve", got)
	}
	var types []string
	for _, ev := range pub.published() {
		types = append(types, ev.DetailType)
		if ev.Source != signal.Source || !slices.Equal(ev.Resources, []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:test-cpu"}) {
			t.Errorf("published %s from %s with resources %v, want source opsloop and the alarm", ev.DetailType, ev.Source, ev.Resources)
		}
		var d struct {
			OpsItemID     string `json:"opsItemId"`
			SchemaVersion string `json:"schemaVersion"`
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil || d.OpsItemID != it.ID || d.SchemaVersion != signal.SchemaVersion {
			t.Errorf("published detail %s (%v), want opsItemId %s and schemaVersion %s", ev.Detail, err, it.ID, signal.SchemaVersion)
		}
	}
	if want := []string{incidents.DetailOpened, incidents.DetailResolved}; !slices.Equal(types, want) {
		t.Errorf("published %v, want %v", types, want)
	}
}

func TestDecodeSignal(t *testing.T) {
	good := alarmSignal(signal.Recovered, "e1", "test-cpu", t0)
	s, err := signal.Decode([]byte(body(t, good)))
	if err != nil || s.EventID != "e1" || s.Kind != signal.Recovered || !s.Time.Equal(t0) {
		t.Fatalf("DecodeSignal(good) = %+v, %v; want the signal", s, err)
	}
	detail, _ := json.Marshal(good)
	bads := []struct {
		name, body, want string
	}{
		{"not JSON", "nope", "event"},
		{"not an event", `{"kind":"detected"}`, "field"},
		{"other source", envelope(signal.DetailDetected, "aws.ec2", string(detail)), "source"},
		{"other detail type", envelope(incidents.DetailOpened, signal.Source, string(detail)), "detail-type"},
		{"kind and detail type disagree", envelope(signal.DetailDetected, signal.Source, string(detail)), "kind"},
		{"detail of wrong types", envelope(signal.DetailRecovered, signal.Source, `{"kind":1}`), "detail"},
	}
	for _, tt := range bads {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signal.Decode([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeSignal(%s) error = %v, want one mentioning %q", tt.name, err, tt.want)
			}
		})
	}
}

func FuzzDecodeSignal(f *testing.F) {
	f.Add([]byte(envelope(signal.DetailDetected, signal.Source, `{"kind":"detected","eventId":"e","rule":"r","fingerprint":"f"}`)))
	f.Add([]byte(envelope(signal.DetailRecovered, signal.Source, `{"kind":"recovered","time":"2026-01-01T00:00:00Z"}`)))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := signal.Decode(b)
		if err != nil {
			return
		}
		if s.BusDetailType() == "" {
			t.Errorf("DecodeSignal(%q) = kind %q with no detail type", b, s.Kind)
		}
		if s.Kind != signal.Detected && s.Kind != signal.Recovered {
			t.Errorf("DecodeSignal(%q) accepted kind %q", b, s.Kind)
		}
	})
}
