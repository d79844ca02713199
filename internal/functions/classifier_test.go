package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/metrics"

	"github.com/opsloop/opsloop/internal/functions/classifierfn"
	"github.com/opsloop/opsloop/internal/lambdaenv"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/local/memory"
)

// classifierEnv is a classifier on fakes, writing logs and metrics to out.
type classifierEnv struct {
	out    *bytes.Buffer
	loader *fakeLoader
	bus    *fakeBus
	state  classify.State
	fn     *classifierfn.Classifier
}

func newClassifierEnv(t *testing.T, state classify.State) *classifierEnv {
	t.Helper()
	e := &classifierEnv{out: &bytes.Buffer{}, loader: &fakeLoader{}, bus: &fakeBus{}, state: state}
	if e.state == nil {
		e.state = memory.New()
	}
	e.loader.set(testRules, 1)
	w := lambdaenv.Locked(e.out)
	log := lambdaenv.NewLogger(w, "DEBUG")
	m := lambdaenv.NewMetrics(w, log)
	e.fn = classifierfn.NewClassifier(classifierfn.LiveRules(e.loader, e.state, log, m), e.bus, log, m)
	return e
}

func TestClassifierDecisionsAndSignals(t *testing.T) {
	tests := []struct {
		name       string
		payload    []byte
		action     classify.Action
		detailType string // of the signal published, "" for none
	}{
		{"alarm in ALARM", alarmEvent("e1", "test-cpu", "ALARM", t0), classify.Incident, signal.DetailDetected},
		{"alarm back to OK", alarmEvent("e2", "test-cpu", "OK", t0.Add(time.Minute)), classify.Recover, signal.DetailRecovered},
		{"ignored call", describeEvent("e3", t0), classify.Ignore, ""},
		{"no rule", alarmEvent("e4", "prod-cpu", "ALARM", t0), classify.Ignore, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClassifierEnv(t, nil)
			resp, err := e.fn.Invoke(context.Background(), tt.payload)
			if err != nil {
				t.Fatalf("Invoke(%s) error %v", tt.name, err)
			}
			var d classify.Decision
			if err := json.Unmarshal(resp, &d); err != nil {
				t.Fatalf("Invoke(%s) response %s is not a decision: %v", tt.name, resp, err)
			}
			if d.Action != tt.action {
				t.Errorf("Invoke(%s) action = %s, want %s", tt.name, d.Action, tt.action)
			}
			pub := e.bus.published()
			if tt.detailType == "" {
				if len(pub) != 0 {
					t.Errorf("Invoke(%s) published %d events, want none", tt.name, len(pub))
				}
			} else {
				if len(pub) != 1 {
					t.Fatalf("Invoke(%s) published %d events, want 1", tt.name, len(pub))
				}
				ev := pub[0]
				if ev.Source != signal.Source || ev.DetailType != tt.detailType {
					t.Errorf("Invoke(%s) published %s/%s, want %s/%s", tt.name, ev.Source, ev.DetailType, signal.Source, tt.detailType)
				}
				var s signal.Signal
				if err := json.Unmarshal(ev.Detail, &s); err != nil {
					t.Fatalf("Invoke(%s) detail %s: %v", tt.name, ev.Detail, err)
				}
				if err := s.Validate(); err != nil {
					t.Errorf("Invoke(%s) published an invalid signal: %v", tt.name, err)
				}
				if s.Fingerprint != d.Fingerprint || s.Plan.OpsItemSeverity != "2" || s.Plan.Priority != 2 {
					t.Errorf("Invoke(%s) signal fingerprint %q plan %+v, want %q and the high plan", tt.name, s.Fingerprint, s.Plan, d.Fingerprint)
				}
				want := "arn:aws:cloudwatch:us-east-1:123456789012:alarm:test-cpu"
				if len(ev.Resources) != 1 || ev.Resources[0] != want {
					t.Errorf("Invoke(%s) event resources = %v, want [%s]", tt.name, ev.Resources, want)
				}
			}
			got := emf(t, e.out)
			key := "Decisions{Action=" + string(tt.action) + "}"
			if got[key] != 1 {
				t.Errorf("Invoke(%s) metrics = %v, want %s = 1", tt.name, got, key)
			}
		})
	}
}

func TestClassifierRejectsBadInput(t *testing.T) {
	deep := strings.Repeat("[", event.MaxDepth+10) + strings.Repeat("]", event.MaxDepth+10)
	bads := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"not JSON", []byte("hello")},
		{"truncated", alarmEvent("e1", "test-cpu", "ALARM", t0)[:40]},
		{"array", []byte(`[1,2,3]`)},
		{"wrong types", []byte(`{"version":0,"id":1,"detail-type":[],"source":{},"account":"1","time":"x","region":"r","resources":"x","detail":"x"}`)},
		{"missing id", bytes.Replace(alarmEvent("e1", "test-cpu", "ALARM", t0), []byte(`"id":"e1",`), nil, 1)},
		{"bad time", bytes.Replace(alarmEvent("e1", "test-cpu", "ALARM", t0), []byte(`2026-02-03T15:04:00Z`), []byte(`yesterday`), 1)},
		{"invalid UTF-8", bytes.Replace(alarmEvent("e1", "test-cpu", "ALARM", t0), []byte("Threshold"), []byte("\xff\xfe"), 1)},
		{"deeply nested", []byte(`{"version":"0","id":"x","detail-type":"d","source":"s","account":"1","time":"2026-02-03T15:04:00Z","region":"r","resources":[],"detail":{"a":` + deep + `}}`)},
		{"huge", append(append([]byte(`{"version":"0","id":"x","detail-type":"d","source":"s","account":"1","time":"2026-02-03T15:04:00Z","region":"r","resources":[],"detail":{"a":"`), bytes.Repeat([]byte("x"), event.MaxSize)...), `"}}`...)},
	}
	for _, tt := range bads {
		t.Run(tt.name, func(t *testing.T) {
			e := newClassifierEnv(t, nil)
			_, err := e.fn.Invoke(context.Background(), tt.payload)
			var rej *classifierfn.RejectedError
			if !errors.As(err, &rej) || rej.Reason == "" {
				t.Fatalf("Invoke(%s) error = %v, want a *RejectedError with a reason", tt.name, err)
			}
			if n := len(e.bus.published()); n != 0 {
				t.Errorf("Invoke(%s) published %d events, want none", tt.name, n)
			}
			if got := emf(t, e.out); got[metrics.EventsRejected] != 1 {
				t.Errorf("Invoke(%s) metrics = %v, want %s = 1", tt.name, got, metrics.EventsRejected)
			}
			recs := logRecords(t, e.out, "event rejected")
			if len(recs) != 1 || recs[0]["reason"] != rej.Reason || recs[0]["level"] != "ERROR" {
				t.Errorf("Invoke(%s) logged %v, want one ERROR record with reason %q", tt.name, recs, rej.Reason)
			}
			if e.loader.calls != 0 {
				t.Errorf("Invoke(%s) loaded the rules %d times, want 0 for a rejected event", tt.name, e.loader.calls)
			}
		})
	}
}

// failingState fails Count while fail is set, as a throttled table does.
type failingState struct {
	classify.State
	fail bool
}

func (s *failingState) Count(ctx context.Context, key string, t time.Time, window time.Duration, id string) (int, bool, error) {
	if s.fail {
		return 0, false, errors.New("ProvisionedThroughputExceededException")
	}
	return s.State.Count(ctx, key, t, window, id)
}

func TestClassifierRetriesAreSafe(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(e *classifierEnv, st *failingState)
	}{
		{"state fails", func(_ *classifierEnv, st *failingState) { st.fail = true }},
		{"bus fails", func(e *classifierEnv, _ *failingState) { e.bus.err = errors.New("ThrottlingException") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &failingState{State: memory.New()}
			e := newClassifierEnv(t, st)
			ctx := context.Background()
			payload := alarmEvent("e1", "test-cpu", "ALARM", t0)
			tt.breakIt(e, st)
			_, err := e.fn.Invoke(ctx, payload)
			var rej *classifierfn.RejectedError
			if err == nil || errors.As(err, &rej) {
				t.Fatalf("Invoke(%s) error = %v, want a retryable error", tt.name, err)
			}
			st.fail, e.bus.err = false, nil
			if _, err := e.fn.Invoke(ctx, payload); err != nil {
				t.Fatalf("Invoke(%s) retry error %v", tt.name, err)
			}
			if n := len(e.bus.published()); n != 1 {
				t.Errorf("Invoke(%s) then retry published %d signals, want 1", tt.name, n)
			}
			if got := emf(t, e.out); got["Decisions{Action=incident}"] != 1 {
				t.Errorf("Invoke(%s) then retry metrics = %v, want one incident decision", tt.name, got)
			}
			// A redelivery after success publishes the signal again (the
			// incidents function recognises it) but counts nothing.
			resp, err := e.fn.Invoke(ctx, payload)
			if err != nil {
				t.Fatalf("Invoke(%s) redelivery error %v", tt.name, err)
			}
			var d classify.Decision
			if err := json.Unmarshal(resp, &d); err != nil || !d.Duplicate || d.Count != 1 {
				t.Errorf("Invoke(%s) redelivery = %s (%v), want a duplicate with count 1", tt.name, resp, err)
			}
			if got := emf(t, e.out); got["Decisions{Action=incident}"] != 1 {
				t.Errorf("Invoke(%s) redelivery metrics = %v, want still one incident decision", tt.name, got)
			}
		})
	}
}

func TestClassifierWithoutRules(t *testing.T) {
	e := newClassifierEnv(t, nil)
	e.loader.files, e.loader.changed = nil, false
	e.loader.fail(errors.New("AccessDeniedException"))
	_, err := e.fn.Invoke(context.Background(), alarmEvent("e1", "test-cpu", "ALARM", t0))
	var rej *classifierfn.RejectedError
	if err == nil || errors.As(err, &rej) || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("Invoke without rules error = %v, want a retryable error naming the cause", err)
	}
	if got := emf(t, e.out); got["RulesReloadFailed"] != 1 {
		t.Errorf("Invoke without rules metrics = %v, want RulesReloadFailed = 1", got)
	}
}
