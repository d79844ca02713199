package fromclassify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/signal"
)

func TestSignal(t *testing.T) {
	set := &rules.Set{Severities: map[string]*rules.Severity{
		"high": {Name: "high", OpsItemSeverity: "2", Priority: 2, Notify: []string{"default"}, Runbooks: []string{"AWS-RestartEC2Instance"}, ResponseTime: time.Hour,
			Plan: rules.Plan{Steps: []string{"Acknowledge."}, Owner: rules.Owner{Name: "on-call", Notify: "arn:aws:sns:us-east-1:123456789012:on-call"}}},
	}}
	ev := &event.Event{ID: "e1", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Account: "123456789012", Region: "us-east-1",
		Source: "aws.cloudwatch", DetailType: "CloudWatch Alarm State Change", Raw: []byte(`{"id":"e1"}`)}
	tests := []struct {
		action classify.Action
		kind   string
		ok     bool
	}{
		{classify.Incident, signal.Detected, true},
		{classify.Recover, signal.Recovered, true},
		{classify.Record, "", false},
		{classify.Ignore, "", false},
	}
	for _, tt := range tests {
		d := classify.Decision{Action: tt.action, Rule: "alarm", Fingerprint: "alarm:db", Severity: "high", Title: "Alarm db"}
		s, ok := Signal(set, d, ev)
		if ok != tt.ok || s.Kind != tt.kind {
			t.Errorf("Signal(%s) = kind %q, %v; want %q, %v", tt.action, s.Kind, ok, tt.kind, tt.ok)
		}
		if !ok {
			continue
		}
		if err := s.Validate(); err != nil {
			t.Errorf("Signal(%s) is not a valid signal: %v", tt.action, err)
		}
		if s.EventID != "e1" || s.Fingerprint != "alarm:db" || s.Plan.OpsItemSeverity != "2" || s.Plan.Notify[0] != "default" || s.Plan.ResponseTime != time.Hour {
			t.Errorf("Signal(%s) = %+v, want the event's id, the decision's fingerprint and the severity's plan", tt.action, s)
		}
		if s.Plan.Owner != "on-call" || len(s.Plan.Steps) != 1 || len(s.Plan.Notify) != 2 || s.Plan.Notify[1] != "arn:aws:sns:us-east-1:123456789012:on-call" {
			t.Errorf("Signal(%s) plan = %+v, want the owner, its topic notified besides the severity's, and the steps", tt.action, s.Plan)
		}
	}
}

func TestExcerptCutsOnRuneBoundary(t *testing.T) {
	raw := []byte(strings.Repeat("é", maxExcerpt)) // two bytes each
	got := cut(string(raw), maxExcerpt)
	if !utf8.ValidString(got) || len(got) > maxExcerpt+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("excerpt of %d bytes = %d bytes, valid UTF-8 %v; want at most %d, valid, marked as cut", len(raw), len(got), utf8.ValidString(got), maxExcerpt)
	}
	if short := cut(`{"a":1}`, maxExcerpt); short != `{"a":1}` {
		t.Errorf("excerpt of a short event = %q, want it whole", short)
	}
}

// TestSignalBounded: an event near EventBridge's size whose text fills a
// title, a runbook parameter and thousands of resources still makes a
// signal PutEvents takes (256 KB), with room to spare.
func TestSignalBounded(t *testing.T) {
	set, err := rules.Build([]rules.File{{Name: "r.json", Data: []byte(`{
  "severities": {"high": {"opsItemSeverity": "2", "priority": 2}},
  "rules": [{"name": "big", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high",
    "title": "{{detail.x}}", "runbooks": [{"document": "AWS-StartEC2Instance", "parameters": {"InstanceId": "{{detail.x}}"}}]}]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("é", 60000)
	resources := make([]string, 3000)
	for i := range resources {
		resources[i] = "arn:aws:ec2:us-east-1:123456789012:instance/i-" + strings.Repeat("0", 17)
	}
	ev := &event.Event{ID: "e1", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Account: "123456789012", Region: "us-east-1",
		Source: "aws.ec2", DetailType: "x", Raw: []byte(`{"detail":{"x":"` + big + `"}}`)}
	d := classify.Decision{Action: classify.Incident, Rule: "big", Fingerprint: "big:1", Severity: "high", Title: big, Actor: big, Resources: resources}
	s, ok := Signal(set, d, ev)
	if !ok {
		t.Fatal("no signal")
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 64<<10 || !utf8.ValidString(s.Title) || !utf8.ValidString(s.Runbooks[0].Parameters["InstanceId"]) {
		t.Errorf("signal of %d bytes (title %d, parameter %d, %d resources), want well under 256 KB and valid UTF-8",
			len(data), len(s.Title), len(s.Runbooks[0].Parameters["InstanceId"]), len(s.Resources))
	}
}

func TestOpsItemAccount(t *testing.T) {
	sevs := map[string]*rules.Severity{"high": {Name: "high", OpsItemSeverity: "2", Priority: 2}}
	tests := []struct {
		name, deployment, rule, account, want string
	}{
		{"central by default", "", "", "111122223333", ""},
		{"the deployment's member", rules.OpsItemsMember, "", "111122223333", "111122223333"},
		{"the rule's central wins", rules.OpsItemsMember, rules.OpsItemsCentral, "111122223333", ""},
		{"the rule's member", "", rules.OpsItemsMember, "111122223333", "111122223333"},
		{"an account that is no account id", rules.OpsItemsMember, "", "1111;drop", ""},
	}
	for _, tt := range tests {
		set := &rules.Set{Severities: sevs, OpsItemAccount: tt.deployment,
			Rules: []*rules.Rule{{Name: "alarm", Action: rules.Incident, Severity: "high", OpsItemAccount: tt.rule}}}
		ev := &event.Event{ID: "e1", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Account: tt.account, Region: "eu-west-1",
			Source: "aws.cloudwatch", DetailType: "CloudWatch Alarm State Change", Raw: []byte(`{"id":"e1"}`)}
		s, _ := Signal(set, classify.Decision{Action: classify.Incident, Rule: "alarm", Fingerprint: "alarm:db", Severity: "high", Title: "t"}, ev)
		if s.OpsItemAccount != tt.want {
			t.Errorf("%s: OpsItemAccount = %q, want %q", tt.name, s.OpsItemAccount, tt.want)
		}
		if s.Portal != nil {
			t.Errorf("%s: a portal without one set", tt.name)
		}
		if r, _ := Signal(set, classify.Decision{Action: classify.Recover, Rule: "alarm", Fingerprint: "alarm:db", Severity: "high", Title: "t"}, ev); r.OpsItemAccount != "" {
			t.Errorf("%s: a recovery names an OpsItem account", tt.name)
		}
	}
}

func TestPortal(t *testing.T) {
	set := &rules.Set{Severities: map[string]*rules.Severity{"high": {Name: "high", OpsItemSeverity: "2", Priority: 2}},
		AccessPortal: &rules.AccessPortal{URL: "https://d-1234567890.awsapps.com/start", Role: "ReadOnly"}}
	ev := &event.Event{ID: "e1", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Account: "111122223333", Region: "eu-west-1",
		Source: "aws.cloudwatch", DetailType: "CloudWatch Alarm State Change", Raw: []byte(`{"id":"e1"}`)}
	s, _ := Signal(set, classify.Decision{Action: classify.Incident, Rule: "alarm", Fingerprint: "alarm:db", Severity: "high", Title: "t"}, ev)
	if s.Portal == nil || s.Portal.URL != set.AccessPortal.URL || s.Portal.Role != "ReadOnly" {
		t.Errorf("Portal = %+v, want the rules' access portal", s.Portal)
	}
}
