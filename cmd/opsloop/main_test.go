package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPatternMatchContract(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrIn string
	}{
		{"match", []string{"pattern", "match", "--pattern", "testdata/alarm-pattern.json", "--event", "testdata/replay/alarm.json"}, 0, "match\n", ""},
		{"event without envelope", []string{"pattern", "match", "--pattern", "testdata/alarm-pattern.json", "--event", "testdata/replay/missing-field.json"}, 0, "match\n", ""},
		{"bare object event", []string{"pattern", "match", "--pattern", "testdata/alarm-pattern.json", "--event", "testdata/bare-event.json"}, 0, "match\n", ""},
		{"no match on OK", []string{"pattern", "match", "--pattern", "testdata/alarm-pattern.json", "--event", "../../events-samples/cloudwatch/alarm-ok.json"}, 1, "no match\n", ""},
		{"rules file is no pattern", []string{"pattern", "match", "--pattern", "testdata/bad-rules.json", "--event", "testdata/alarm-pattern.json"}, 2, "", "invalid pattern"},
		{"invalid pattern", []string{"pattern", "match", "--pattern", "testdata/bad-pattern.json", "--event", "testdata/replay/alarm.json"}, 2, "", "source"},
		{"invalid event", []string{"pattern", "match", "--pattern", "testdata/alarm-pattern.json", "--event", "testdata/replay/broken.json"}, 2, "", "invalid event"},
		{"missing file", []string{"pattern", "match", "--pattern", "testdata/nope.json", "--event", "testdata/replay/alarm.json"}, 2, "", "nope.json"},
		{"missing flag", []string{"pattern", "match", "--pattern", "testdata/alarm-pattern.json"}, 2, "", "--event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.stderrIn) {
				t.Errorf("opsloop %v = %d, %q, stderr %q; want %d, %q, stderr containing %q", tt.args, code, out, errOut, tt.code, tt.stdout, tt.stderrIn)
			}
		})
	}
}

func TestRulesValidate(t *testing.T) {
	if code, out, _ := runCLI("rules", "validate", "../../rules"); code != 0 || !strings.HasPrefix(out, "valid:") {
		t.Errorf("validate default rules = %d, %q; want 0, valid", code, out)
	}
	code, out, _ := runCLI("rules", "validate", "testdata/bad-rules.json")
	if code != 1 {
		t.Errorf("validate bad rules exit = %d, want 1", code)
	}
	for _, want := range []string{"bad-rules.json:2:", "rule \"a\": pattern.source", "bad-rules.json:3:", "unknown action \"nope\"", "2 error(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

func TestRulesTest(t *testing.T) {
	code, out, _ := runCLI("rules", "test", "../../events-samples/cloudwatch/alarm-critical-api-5xx.json", "../../events-samples/signin/console-login-success.json")
	if code != 0 {
		t.Fatalf("rules test exit %d:\n%s", code, out)
	}
	for _, want := range []string{"decision:    incident", "rule:        alarm-critical", "also matched: alarm", "decision:    ignore", "closest rules:", "wants"} {
		if !strings.Contains(out, want) {
			t.Errorf("rules test output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI("rules", "test", "--json", "testdata/replay/missing-field.json")
	var res testResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 2 || !strings.Contains(res.Error, "detail-type") {
		t.Errorf("rules test --json on a bad event = %d, %+v (%v); want exit 2 naming detail-type", code, res, err)
	}
}

func TestReplayJSON(t *testing.T) {
	code, out, errOut := runCLI("replay", "--json", "testdata/replay")
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, errOut)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("replay --json is not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"events", "invalid", "decisions", "rules", "opsItems", "problems"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("replay --json lacks key %q", k)
		}
	}
	if rep["events"].(float64) != 5 {
		t.Errorf("events = %v, want 5", rep["events"])
	}
	inv := rep["invalid"].(map[string]any)
	if inv["count"].(float64) != 4 {
		t.Errorf("invalid.count = %v, want 4: %v", inv["count"], inv)
	}
	positions := ""
	for _, it := range inv["items"].([]any) {
		positions += it.(map[string]any)["pos"].(string) + " "
	}
	for _, want := range []string{"broken.json", "lines.jsonl:2", "missing-field.json", ".json.gz#Records[2]"} {
		if !strings.Contains(positions, want) {
			t.Errorf("invalid items lack position %q: %s", want, positions)
		}
	}
	dec := rep["decisions"].(map[string]any)
	want := map[string]float64{"incident": 3, "recover": 1, "ignore": 1, "record": 0}
	for k, v := range want {
		if dec[k].(float64) != v {
			t.Errorf("decisions[%s] = %v, want %v", k, dec[k], v)
		}
	}
	items := rep["opsItems"].([]any)
	if len(items) != 2 {
		t.Fatalf("opsItems = %d, want 2 (root usage, the alarm)", len(items))
	}
	var alarm map[string]any
	for _, it := range items {
		if m := it.(map[string]any); m["rule"] == "alarm-high" {
			alarm = m
		}
	}
	if alarm == nil {
		t.Fatalf("no OpsItem of rule alarm-high in %v", items)
	}
	for _, k := range []string{"title", "severity", "priority", "category", "status", "occurrences", "fingerprint", "rule", "resources", "operationalData"} {
		if _, ok := alarm[k]; !ok {
			t.Errorf("OpsItem lacks %q", k)
		}
	}
	if alarm["status"] != "Resolved" || alarm["title"] != "Alarm high-cpu-web-1 is in ALARM in 123456789012/us-east-1" || alarm["severity"] != "2" {
		t.Errorf("alarm OpsItem = status %v, title %v, severity %v; want Resolved, the rule's title, \"2\"", alarm["status"], alarm["title"], alarm["severity"])
	}
	if od := alarm["operationalData"].(map[string]any); od["/aws/dedup"] == nil || od["/aws/resources"] == nil {
		t.Errorf("operationalData lacks /aws/dedup or /aws/resources: %v", od)
	}
	rules := rep["rules"].(map[string]any)
	if r := rules["alarm-high"].(map[string]any); r["incidents"].(float64) != 2 || r["matched"].(float64) != 2 {
		t.Errorf("rules[alarm-high] = %v, want 2 matched, 2 incidents", r)
	}
}

func TestReplaySummary(t *testing.T) {
	code, out, _ := runCLI("replay", "../../events-samples")
	for _, want := range []string{"RULE", "OpsItems: 46 (", "Alarm high-cpu-web-1 is in ALARM", "problems: 1", "top suspected cause: AuthorizeSecurityGroupIngress"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("replay summary = %d, lacks %q:\n%s", code, want, out)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"rules"}, {"replay"}} {
		if code, _, _ := runCLI(args...); code != 2 {
			t.Errorf("opsloop %v exit = %d, want 2", args, code)
		}
	}
}

// TestRulesTestTrailShapes: `rules test` reads CloudTrail data in the shapes
// users hold, one result per event, each saying where it was.
func TestRulesTestTrailShapes(t *testing.T) {
	file := "../../events-samples/trails/lookup-events.json"
	code, out, errOut := runCLI("rules", "test", "--json", file)
	if code != 0 {
		t.Fatalf("rules test %s = %d: %s", file, code, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var res struct {
			File, Pos string
			Decision  struct{ Action, Rule string }
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		if res.File != file {
			t.Errorf("file = %q, want %q", res.File, file)
		}
		got = append(got, strings.TrimPrefix(res.Pos, file)+" "+res.Decision.Action+" "+res.Decision.Rule)
	}
	want := []string{"#Events[0] record api-write", "#Events[1] ignore "}
	if !slices.Equal(got, want) {
		t.Errorf("rules test %s = %q, want %q", file, got, want)
	}
}
