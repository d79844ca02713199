package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/infra/ruleparams"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/rules"
)

// envelope is a valid EventBridge envelope around detail.
func envelope(id, detail string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"d","source":"s","account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
}

// TestBadInput sends malformed events to the classifier and malformed
// messages to the incidents function. Each event is rejected with its
// reason on every attempt Lambda makes, counted, and kept in the
// dead-letter queue; each message is rejected, counted and logged once, and
// kept in the dead-letter queue; no emulator exits, and good input goes on
// working.
func TestBadInput(t *testing.T) {
	root, _ := requireTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newStack(t, stackOptions{classifiers: 2, incidents: 2})

	bads := []struct{ name, payload, reason string }{
		{"not JSON", "this is not an event", "JSON"},
		{"truncated JSON", `{"version":"0","id":"t"`, "JSON"},
		{"an array", `[1,2,3]`, "object"},
		{"null", `null`, "object"},
		{"wrong types", `{"version":0,"id":1,"detail-type":[],"source":{},"account":"1","time":"x","region":"r","resources":"x","detail":"x"}`, "want string"},
		{"missing envelope fields", `{"detail":{}}`, "missing"},
		{"missing detail", `{"version":"0","id":"m","detail-type":"d","source":"s","account":"1","time":"2026-01-01T00:00:00Z","region":"r","resources":[]}`, `"detail": missing`},
		{"detail not an object", envelope("o", `"x"`), `"detail": want object`},
		{"time not RFC 3339", strings.Replace(envelope("r", `{}`), "2026-01-01T00:00:00Z", "yesterday", 1), "RFC 3339"},
		{"empty id", envelope("", `{}`), `"id": empty`},
		{"invalid UTF-8", envelope("u\xff\xfe", `{}`), "UTF-8"},
		{"deeply nested", envelope("n", strings.Repeat(`{"a":`, 200)+`1`+strings.Repeat(`}`, 200)), "nest"},
		{"huge", envelope("h", `{"a":"`+strings.Repeat("x", 1<<20)+`"}`), "limit"},
	}
	for _, bad := range bads {
		if _, ok := s.classify(ctx, []byte(bad.payload)); ok {
			t.Errorf("classifier(%s) succeeded, want a rejection", bad.name)
		}
	}
	if len(s.dlq) != len(bads) {
		t.Fatalf("dead letters = %d, want %d, one for each bad event", len(s.dlq), len(bads))
	}
	for i, bad := range bads {
		dl := s.dlq[i]
		if dl.Body != bad.payload || !strings.Contains(dl.Error, "RejectedError") || !strings.Contains(dl.Error, bad.reason) {
			t.Errorf("dead letter of %s: error %q (payload kept: %v), want a RejectedError naming %q",
				bad.name, excerptString(dl.Error, 200), dl.Body == bad.payload, bad.reason)
		}
	}
	m := s.classifier.metrics()
	if got, want := int(m["EventsRejected"]), asyncAttempts*len(bads); got != want {
		t.Errorf("EventsRejected = %d, want %d: each of Lambda's %d attempts of %d bad events", got, want, asyncAttempts, len(bads))
	}
	if n := len(s.classifier.logs("event rejected")); n != asyncAttempts*len(bads) {
		t.Errorf("\"event rejected\" records = %d, want %d", n, asyncAttempts*len(bads))
	}
	if msgs := s.signals(); len(msgs) != 0 {
		t.Errorf("rejected events published %d signals", len(msgs))
	}

	// A good alarm still opens its incident, through both functions.
	raw, err := os.ReadFile(filepath.Join(root, "events-samples", "cloudwatch", "alarm-rds-storage.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := s.classify(ctx, raw)
	if !ok || d.Action != classify.Incident {
		t.Fatalf("classifier(alarm-rds-storage) after bad input = %s (ok %v), want incident", d.Action, ok)
	}
	good := s.signals()
	if len(good) != 1 {
		t.Fatalf("signals = %d, want 1", len(good))
	}

	// Malformed messages on the incidents queue, in one batch with the
	// good signal: only the good one is applied; the others are counted once
	// and kept in the dead-letter queue.
	var signal map[string]any
	if err := json.Unmarshal([]byte(good[0].Body), &signal); err != nil {
		t.Fatal(err)
	}
	variant := func(edit func(ev map[string]any)) string {
		var ev map[string]any
		_ = json.Unmarshal([]byte(good[0].Body), &ev)
		edit(ev)
		out, _ := json.Marshal(ev)
		return string(out)
	}
	badMessages := []struct{ name, body string }{
		{"not JSON", "not a message"},
		{"wrong types", `{"version":"0","id":1,"detail-type":"Incident Detected","source":"opsloop","detail":"x"}`},
		{"missing envelope fields", `{"detail-type":"Incident Detected","detail":{}}`},
		{"not opsloop's", variant(func(ev map[string]any) { ev["source"] = "someone.else" })},
		{"unknown detail-type", variant(func(ev map[string]any) { ev["detail-type"] = "Incident Exploded" })},
		{"signal without fingerprint", variant(func(ev map[string]any) { ev["detail"].(map[string]any)["fingerprint"] = "" })},
		{"kind against detail-type", variant(func(ev map[string]any) { ev["detail"].(map[string]any)["kind"] = "recovered" })},
		{"invalid UTF-8", strings.Replace(good[0].Body, `"opsloop"`, "\"ops\xffloop\"", 1)},
		{"deeply nested", envelope("n", strings.Repeat(`[`, 300)+strings.Repeat(`]`, 300))},
		{"huge", envelope("h", `{"a":"`+strings.Repeat("y", 1<<20)+`"}`)},
	}
	batch := []*message{good[0]}
	for i, bm := range badMessages {
		batch = append(batch, &message{SQSMessage: events.SQSMessage{MessageId: fmt.Sprintf("bad-%02d", i), Body: bm.body}})
	}
	before := len(s.ssm.OpsItems())
	dlqBefore := len(s.dlq)
	s.deliver(ctx, batch, nil)
	if after := len(s.ssm.OpsItems()); after != before+1 {
		t.Errorf("OpsItems after the batch = %d, want %d", after, before+1)
	}
	// Each malformed message is kept: reported back until the queue's
	// redrive policy moves it, intact, to the dead-letter queue.
	kept := map[string]bool{}
	for _, dl := range s.dlq[dlqBefore:] {
		if dl.Function == "incidents" && dl.Attempts == maxReceiveCount {
			kept[dl.Body] = true
		}
	}
	for _, bm := range badMessages {
		if !kept[bm.body] {
			t.Errorf("malformed message %q is not in the dead-letter queue after %d receives", bm.name, maxReceiveCount)
		}
	}
	if kept[good[0].Body] || len(s.dlq)-dlqBefore != len(badMessages) {
		t.Errorf("dead-letter queue got %d messages, want the %d malformed ones only", len(s.dlq)-dlqBefore, len(badMessages))
	}
	im := s.incidents.metrics()
	if got := int(im["SignalsRejected"]); got != len(badMessages) {
		t.Errorf("SignalsRejected = %d, want %d", got, len(badMessages))
	}
	logged := len(s.incidents.logs("message rejected")) + len(s.incidents.logs("signal not applied"))
	if logged != len(badMessages) {
		t.Errorf("rejection records = %d, want %d", logged, len(badMessages))
	}
	if gone := append(s.classifier.exited(), s.incidents.exited()...); len(gone) > 0 {
		t.Errorf("emulators exited: %v", gone)
	}
	for _, f := range append(slices.Clone(s.classifier.all), s.incidents.all...) {
		if strings.Contains(f.out.String(), "panic:") {
			t.Errorf("%s panicked: %s", f.name, f.out.tail(2048))
		}
	}
}

// TestBadRulesAtRunTime edits the rules in Parameter Store while the
// classifier runs, as an operator editing a parameter by hand would: with
// rules that do not validate, and then with text that is not JSON, each
// instance keeps deciding with the last good rules, logs each validation
// error with its file, rule and field, and counts RulesReloadFailed once;
// a valid edit then takes effect.
func TestBadRulesAtRunTime(t *testing.T) {
	root, _ := requireTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ttl = 300 * time.Millisecond
	s := newStack(t, stackOptions{classifiers: 2, incidents: 1, rulesTTL: ttl})

	raw, err := os.ReadFile(filepath.Join(root, "events-samples", "kms", "schedule-key-deletion.json"))
	if err != nil {
		t.Fatal(err)
	}
	const rule = "kms-key-deletion-scheduled"
	param := paramHolding(t, root, rule)
	seq := 0
	// each delivers a new event of the kind to every instance, so that
	// every instance reloads, and returns their decisions.
	each := func() []classify.Decision {
		var ds []classify.Decision
		for _, f := range s.classifier.all {
			seq++
			var ev map[string]any
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			ev["id"] = fmt.Sprintf("bad-rules-%03d", seq)
			payload, _ := json.Marshal(ev)
			out, err := f.invoke(ctx, payload)
			if err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
			var d classify.Decision
			if err := json.Unmarshal(out, &d); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		return ds
	}
	check := func(step string, ds []classify.Decision, action classify.Action) {
		t.Helper()
		for i, d := range ds {
			if d.Rule != rule || d.Action != action {
				t.Errorf("%s: instance %d decided %s by %q, want %s by %q", step, i, d.Action, d.Rule, action, rule)
			}
		}
	}
	failures := func() int { return int(s.classifier.metrics()["RulesReloadFailed"]) }
	check("good rules", each(), classify.Incident)

	var file map[string]any
	if err := json.Unmarshal([]byte(param.Value), &file); err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(r map[string]any)) string {
		var f map[string]any
		_ = json.Unmarshal([]byte(param.Value), &f)
		for _, r := range f["rules"].([]any) {
			if r := r.(map[string]any); r["name"] == rule {
				edit(r)
			}
		}
		out, _ := json.Marshal(f)
		return string(out)
	}
	steps := []struct {
		name, value string
		// fields the logged validation errors must name.
		fields []string
	}{
		{"invalid rule", edited(func(r map[string]any) { r["severity"] = "catastrophic"; r["colour"] = "red" }), []string{"severity", "colour"}},
		{"not JSON", param.Value[:len(param.Value)/2], nil},
	}
	for _, step := range steps {
		before, logged := failures(), len(s.classifier.logs("rules invalid"))
		if err := s.ssm.SetParameter(param.Name, "String", step.value); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl + 100*time.Millisecond)
		check(step.name, each(), classify.Incident)
		check(step.name+", again", each(), classify.Incident)
		if got := failures() - before; got != len(s.classifier.all) {
			t.Errorf("%s: RulesReloadFailed grew by %d, want %d: once per instance", step.name, got, len(s.classifier.all))
		}
		recs := s.classifier.logs("rules invalid")[logged:]
		if len(recs) == 0 {
			t.Errorf("%s: no \"rules invalid\" record", step.name)
		}
		named := map[string]bool{}
		for _, r := range recs {
			if r["keeping_last_good"] != true || r["error"] == "" {
				t.Errorf("%s: record %v, want keeping_last_good and an error", step.name, r)
			}
			if f, _ := r["file"].(string); f != "" && f != param.Name {
				t.Errorf("%s: record names file %q, want %q", step.name, f, param.Name)
			}
			if f, _ := r["field"].(string); f != "" {
				named[f] = true
			}
		}
		for _, f := range step.fields {
			if !named[f] {
				t.Errorf("%s: no record names the field %q (records %v)", step.name, f, recs)
			}
		}
	}

	// A valid edit takes effect: the rule's incidents become critical.
	before := failures()
	if err := s.ssm.SetParameter(param.Name, "String", edited(func(r map[string]any) { r["severity"] = "critical" })); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	ds := each()
	check("valid edit", ds, classify.Incident)
	for i, d := range ds {
		if d.Severity != "critical" {
			t.Errorf("valid edit: instance %d decided severity %q, want critical", i, d.Severity)
		}
	}
	if got := failures() - before; got != 0 {
		t.Errorf("RulesReloadFailed grew by %d after a valid edit, want 0", got)
	}
	if n := len(s.classifier.logs("rules loaded")); n < 2*len(s.classifier.all) {
		t.Errorf("\"rules loaded\" records = %d, want at least %d", n, 2*len(s.classifier.all))
	}
}

// paramHolding returns the rules parameter holding rule, as the deployment
// splits the default rules.
func paramHolding(t *testing.T, root, rule string) ruleparams.Parameter {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "rules", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.ToSlash(filepath.Join(root, "rules", "default.json"))
	params, err := ruleparams.Split(rulesPath, []rules.File{{Name: name, Data: data}}, ruleparams.StandardTierMax)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		if slices.Contains(p.Rules, rule) {
			return p
		}
	}
	t.Fatalf("no parameter holds rule %s", rule)
	return ruleparams.Parameter{}
}
