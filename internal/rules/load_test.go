package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/pattern"
)

const sev = `"severities": {"high": {"opsItemSeverity": "2", "priority": 2}, "low": {"opsItemSeverity": "4", "priority": 4}}`

func build(t *testing.T, files ...string) (*Set, Errors) {
	t.Helper()
	var fs []File
	for i, f := range files {
		fs = append(fs, File{Name: []string{"a.json", "b.json", "c.json"}[i], Data: []byte(f)})
	}
	set, err := Build(fs)
	if err == nil {
		return set, nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Build error is %T, want Errors", err)
	}
	return nil, errs
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string // each must appear in one error
	}{
		{"bad JSON", []string{`{"rules": [}`}, []string{"a.json:1:", "bad JSON"}},
		{"not an object", []string{`[1]`}, []string{"a.json:1:1:", "want a JSON object"}},
		{"unknown top field", []string{`{"rulez": []}`}, []string{`a.json:1:2: rulez: unknown field (did you mean "rules"?)`}},
		{"typo in rule field", []string{`{` + sev + `,"rules": [
  {"name": "r", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high",
   "threshhold": {"count": 2, "window": "5m"}}]}`}, []string{`a.json:3:4: rule "r": threshhold: unknown field (did you mean "threshold"?)`}},
		{"invalid pattern", []string{`{"rules": [
  {"name": "r", "action": "record",
   "pattern": {"detail": {"state": "ALARM"}}}]}`}, []string{`a.json:3:`, `rule "r": pattern.detail.state`, "invalid pattern"}},
		{"duplicate names", []string{`{"rules": [
  {"name": "r", "pattern": {"source": ["a"]}, "action": "record"},
  {"name": "r", "pattern": {"source": ["b"]}, "action": "record"}]}`}, []string{`a.json:3:3: rule "r": duplicate rule name (first defined at a.json:2)`}},
		{"duplicate across files", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record"}]}`,
			`{"rules": [{"name": "r", "pattern": {"source": ["b"]}, "action": "record"}]}`}, []string{`b.json:1:12: rule "r": duplicate rule name (first defined at a.json:1)`}},
		{"unknown severity", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "urgent"}]}`},
			[]string{`rule "r": severity: unknown severity "urgent" (defined: high, low)`}},
		{"no severities anywhere", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high"}]}`},
			[]string{`unknown severity "high": no file defines "severities"`}},
		{"missing severity", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident"}]}`},
			[]string{`rule "r": missing severity`}},
		{"bad duration", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high",
  "threshold": {"count": 3, "window": "5mins"}}]}`}, []string{`a.json:2:39: rule "r": threshold.window: bad duration "5mins"`}},
		{"template references nothing", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "title": "x {{detal.name}}"}]}`},
			[]string{`rule "r": title: placeholder {{detal.name}}: path "detal.name" references nothing`}},
		{"template unclosed", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "title": "x {{detail.name"}]}`},
			[]string{`unclosed "{{"`}},
		{"threshold never fires", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high",
  "groupBy": ["id"], "threshold": {"count": 3, "window": "5m"}}]}`}, []string{`threshold.count: can never fire: groupBy "id"`}},
		{"threshold zero", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high",
  "threshold": {"count": 0, "window": "5m"}}]}`}, []string{`threshold.count: want a whole number from 1`}},
		{"threshold too long", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high",
  "threshold": {"count": 2, "window": "90d"}}]}`}, []string{`threshold.window: 90d is longer than`}},
		{"threshold on record rule", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record",
  "threshold": {"count": 2, "window": "5m"}}]}`}, []string{`rule "r": threshold: applies only to incident rules`}},
		{"unknown action", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "page"}]}`}, []string{`unknown action "page"`}},
		{"unknown category", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high", "category": "Outage"}]}`},
			[]string{`category: unknown category "Outage"`}},
		{"bad groupBy path", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "groupBy": ["details.x"]}]}`},
			[]string{`groupBy[0]: path "details.x" references nothing`}},
		{"recoverWhen same as pattern", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high", "recoverWhen": {"source": ["a"]}}]}`},
			[]string{`recoverWhen: matches the same events`}},
		{"bad runbooks", []string{`{` + sev + `,"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "high",
  "runbooks": [{"document": "x"}, {"parameters": {"A": "1"}}, {"document": "AWS-StartEC2Instance", "parameters": {"Instance-Id": "x", "InstanceId": "{{detal.x}}"}, "wait": true}]}]}`},
			[]string{`runbooks[0].document: "x" is not an SSM document name`, `runbooks[1]: missing document`, `runbooks[2].parameters.Instance-Id: "Instance-Id" is not an SSM parameter name`,
				`runbooks[2].parameters.InstanceId: placeholder {{detal.x}}`, `runbooks[2].wait: unknown field`}},
		{"autoRun without a role", []string{`{` + sev + `, "rules": [{"name": "r", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high", "runbooks": [{"document": "AWS-StartEC2Instance", "parameters": {"InstanceId": "{{detail.instanceId}}"}, "autoRun": true}]}]}`},
			[]string{`runbooks[0].autoRun: needs the parameter AutomationAssumeRole`}},
		{"autoRun as a role from the event", []string{`{` + sev + `, "rules": [{"name": "r", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high", "runbooks": [{"document": "AWS-StartEC2Instance", "parameters": {"AutomationAssumeRole": "{{detail.role}}"}, "autoRun": true}]}]}`},
			[]string{`parameters.AutomationAssumeRole: "{{detail.role}}": an automation that runs by itself needs a literal IAM role ARN`}},
		{"runbooks on a record rule", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "runbooks": [{"document": "AWS-StartEC2Instance"}]}]}`},
			[]string{`runbooks: applies only to incident rules`}},
		{"bad response plan", []string{`{"severities": {"x": {"opsItemSeverity": "1", "priority": 1, "steps": ["", "ok"], "owner": {"notify": "topic", "team": "a"}}}}`},
			[]string{`severities.x.steps[0]: want a step of 1 to 300 characters`, `severities.x.owner: missing name`, `severities.x.owner.notify: "topic" is not an SNS topic ARN`, `severities.x.owner.team: unknown field`}},
		{"escalation without a response time", []string{`{"severities": {"x": {"opsItemSeverity": "1", "priority": 1, "escalateTo": ["lead"]}}}`},
			[]string{`severities.x.escalateTo[0]: "lead" is not an SNS topic ARN`, `severities.x.escalateTo: needs a responseTime`}},
		{"bad plans", []string{`{` + sev + `, "plans": {"Security": {"steps": [""], "severity": "high"}, "Securty": {}, "Security/urgent": {}, "Cost": []}}`},
			[]string{`plans.Security.steps[0]: want a step of 1 to 300`, `plans.Security.severity: unknown field`, `plans.Securty: "Securty" is not a category`,
				`plans.Security/urgent: unknown severity "urgent"`, `plans.Cost: want an object, found array`}},
		{"plans twice", []string{`{"plans": {}}`, `{"plans": {}}`}, []string{`b.json:1:11: plans: already set in a.json`}},
		{"analysis not a boolean", []string{`{"severities": {"x": {"opsItemSeverity": "1", "priority": 1, "analysis": "yes"}}}`}, []string{`severities.x.analysis: want a boolean, found string`}},
		{"bad redact path", []string{`{"redact": ["detail.ok", "detail..x", 3]}`}, []string{`redact[1]:`, `redact[2]:`}},
		{"field given twice", []string{`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "action": "ignore"}]}`}, []string{`action: given twice`}},
		{"severities twice", []string{`{` + sev + `}`, `{` + sev + `}`}, []string{`b.json:1:16: severities: already set in a.json`}},
		{"bad severity", []string{`{"severities": {"x": {"opsItemSeverity": "5", "priority": 9, "notify": ["topic"]}}}`},
			[]string{`severities.x.opsItemSeverity: want "1"`, `severities.x.priority: want a whole number from 1 to 5`, `notify[0]: "topic" is not an SNS topic ARN`}},
		{"silence both forms", []string{`{"silences": [{"name": "s", "pattern": {"source": ["a"]}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "schedule": {"from": "01:00", "to": "02:00"}}]}`},
			[]string{`give either start and end`}},
		{"silence end before start", []string{`{"silences": [{"name": "s", "pattern": {"source": ["a"]}, "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}]}`},
			[]string{`end: must be after start`}},
		{"silence bad schedule", []string{`{"silences": [{"name": "s", "pattern": {"source": ["a"]}, "schedule": {"days": ["Funday"], "from": "25:00", "to": "02:00", "timezone": "Mars/Olympus"}}]}`},
			[]string{`unknown day "Funday"`, `schedule.from: want a time of day`, `unknown time zone "Mars/Olympus"`}},
		{"missing name and pattern", []string{`{"rules": [{"action": "record"}]}`}, []string{`missing name`, `missing pattern`}},
		{"no files", nil, []string{"no rules files found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := build(t, tt.files...)
			if len(errs) == 0 {
				t.Fatalf("Build(%s) = valid, want errors containing %q", tt.name, tt.want)
			}
			all := errs.Error()
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("Build errors = \n%s\nwant one containing %q", all, w)
				}
			}
		})
	}
}

func TestBuildListsEveryError(t *testing.T) {
	_, errs := build(t, `{"rules": [
  {"name": "a", "pattern": {"source": "x"}, "action": "record"},
  {"name": "b", "pattern": {"source": ["x"]}, "action": "nope"},
  {"name": "c", "pattern": {"source": ["x"]}, "action": "record", "titel": "t"}
]}`)
	if len(errs) != 3 {
		t.Fatalf("Build found %d errors, want 3:\n%v", len(errs), errs)
	}
	for i, line := range []int{2, 3, 4} {
		if errs[i].Line != line {
			t.Errorf("error %d at line %d, want %d: %v", i, errs[i].Line, line, errs[i])
		}
	}
}

func TestBuildValid(t *testing.T) {
	set, errs := build(t, `{`+sev+`, "defaults": {"escalation": {"factor": 5}},
  "problems": {"recurrence": {"count": 4, "window": "2d"}},
  "rules": [
    {"name": "alarm", "pattern": {"source": ["aws.cloudwatch"], "detail": {"state": {"value": ["ALARM"]}}},
     "action": "incident", "severity": "low", "groupBy": ["detail.alarmName"], "title": "Alarm {{detail.alarmName}}",
     "recoverWhen": {"detail": {"state": {"value": ["OK"]}}}, "flapping": {"transitions": 2, "window": "30m"}},
    {"name": "burst", "priority": 3, "pattern": {"source": ["aws.signin"]}, "action": "incident", "severity": "high",
     "threshold": {"count": 5, "window": "10m"}, "problems": {"recurrence": {"count": 2, "window": "1d"}}}
  ],
  "silences": [{"name": "nightly", "pattern": {"source": ["aws.cloudwatch"]}, "schedule": {"days": ["Sat"], "from": "22:00", "to": "02:00", "timezone": "Europe/Berlin"}}]}`)
	if errs != nil {
		t.Fatalf("Build: %v", errs)
	}
	if got := set.Order; strings.Join(got, ",") != "high,low" {
		t.Errorf("Order = %v, want [high low]", got)
	}
	if got := set.Escalate("low"); got != "high" {
		t.Errorf("Escalate(low) = %q, want high", got)
	}
	a, b := set.Rule("alarm"), set.Rule("burst")
	if a.Escalation.Factor != 5 || a.Flapping.Transitions != 2 || a.Flapping.Window != 30*time.Minute {
		t.Errorf("alarm escalation/flapping = %+v %+v, want factor 5 from defaults and its own flapping", a.Escalation, a.Flapping)
	}
	if a.Problems != (Recurrence{Count: 4, Window: 48 * time.Hour}) || b.Problems != (Recurrence{Count: 2, Window: 24 * time.Hour}) {
		t.Errorf("problems = %+v / %+v, want the deployment's and the rule's own", a.Problems, b.Problems)
	}
	if b.Flapping != builtinDefaults.Flapping {
		t.Errorf("burst flapping = %+v, want built-in default %+v", b.Flapping, builtinDefaults.Flapping)
	}
	if a.Recover == nil {
		t.Fatal("alarm has no recover pattern")
	}
	ok, err := a.Recover.Match([]byte(`{"source": "aws.cloudwatch", "detail": {"state": {"value": "OK"}}}`))
	if err != nil || !ok {
		t.Errorf("recover pattern %s does not match an OK event: %v", a.Recover, err)
	}
	ok, _ = a.Recover.Match([]byte(`{"source": "aws.ec2", "detail": {"state": {"value": "OK"}}}`))
	if ok {
		t.Errorf("recover pattern %s matches an event of another source: recoverWhen must be merged over the pattern", a.Recover)
	}
	if got := a.Title.Render(func(string) []string { return []string{"db"} }); got != "Alarm db" {
		t.Errorf("title = %q, want %q", got, "Alarm db")
	}
	if len(set.Silences) != 1 || set.Silences[0].Schedule.Location.String() != "Europe/Berlin" {
		t.Errorf("silences = %+v", set.Silences)
	}
}

func TestPlanFor(t *testing.T) {
	set, errs := build(t, `{"severities": {
  "high": {"opsItemSeverity": "2", "priority": 2, "responseTime": "1h", "analysis": true,
           "steps": ["Acknowledge."], "owner": {"name": "on-call"}, "escalateTo": ["default"]},
  "low": {"opsItemSeverity": "4", "priority": 4}},
 "plans": {
  "Security": {"owner": {"name": "security on-call", "notify": "arn:aws:sns:us-east-1:123456789012:security"}, "steps": ["Preserve evidence."]},
  "Security/high": {"steps": ["Isolate.", "Rotate credentials."]}}}`)
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		category, severity string
		steps, owner       string
		escalateTo         int
	}{
		{"Security", "high", "Isolate.|Rotate credentials.", "security on-call", 1}, // steps of Security/high, owner of Security, contacts of high
		{"Security", "low", "Preserve evidence.", "security on-call", 0},
		{"Availability", "high", "Acknowledge.", "on-call", 1},
		{"Availability", "low", "", "", 0},
		{"", "high", "Acknowledge.", "on-call", 1},
	}
	for _, tt := range tests {
		p := set.PlanFor(tt.category, tt.severity)
		if got := strings.Join(p.Steps, "|"); got != tt.steps || p.Owner.Name != tt.owner || len(p.EscalateTo) != tt.escalateTo {
			t.Errorf("PlanFor(%q, %q) = steps %q, owner %q, %d contacts; want %q, %q, %d", tt.category, tt.severity, got, p.Owner.Name, len(p.EscalateTo), tt.steps, tt.owner, tt.escalateTo)
		}
	}
	if !set.Severities["high"].Analysis || set.Severities["low"].Analysis {
		t.Errorf("analysis: high %v, low %v; want true, false", set.Severities["high"].Analysis, set.Severities["low"].Analysis)
	}
}

func TestSilenceActive(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	oneOff := &Silence{Start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	nightly := &Silence{Schedule: &Schedule{Days: []time.Weekday{time.Saturday}, From: 22 * time.Hour, To: 2 * time.Hour, Location: berlin}}
	tests := []struct {
		name string
		s    *Silence
		t    time.Time
		want bool
	}{
		{"one-off inside", oneOff, time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), true},
		{"one-off end excluded", oneOff, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), false},
		{"one-off before", oneOff, time.Date(2026, 3, 1, 9, 59, 0, 0, time.UTC), false},
		{"saturday 23:00 Berlin", nightly, time.Date(2026, 3, 7, 23, 0, 0, 0, berlin), true},
		{"sunday 01:30 Berlin, past midnight", nightly, time.Date(2026, 3, 8, 1, 30, 0, 0, berlin), true},
		{"sunday 02:00 Berlin, over", nightly, time.Date(2026, 3, 8, 2, 0, 0, 0, berlin), false},
		{"sunday 23:00 Berlin, wrong day", nightly, time.Date(2026, 3, 8, 23, 0, 0, 0, berlin), false},
		{"saturday 21:30 UTC is 22:30 Berlin", nightly, time.Date(2026, 3, 7, 21, 30, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		if got := tt.s.Active(tt.t); got != tt.want {
			t.Errorf("Active(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"90s", 90 * time.Second, false}, {"5m", 5 * time.Minute, false}, {"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false}, {"2w", 14 * 24 * time.Hour, false},
		{"0s", 0, true}, {"-5m", 0, true}, {"5mins", 0, true}, {"d", 0, true}, {"1.5d", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"Alarm {{detail.alarmName}}", "{{", "}}", "{{}}", "{{ source }} x {{detail.a.b}}", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		for _, p := range tpl.Paths() {
			if CheckPath(p) != nil {
				t.Fatalf("ParseTemplate(%q) accepted bad path %q", s, p)
			}
		}
		if out := tpl.Render(func(string) []string { return nil }); strings.Contains(out, "{{") && !strings.Contains(s, "{{") {
			t.Fatalf("Render(%q) = %q invents braces", s, out)
		}
	})
}

func FuzzBuild(f *testing.F) {
	f.Add([]byte(`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record"}]}`))
	f.Add([]byte(`{"severities": {"x": {"opsItemSeverity": "1", "priority": 1}}, "rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "incident", "severity": "x", "threshold": {"count": 2, "window": "1m"}}]}`))
	f.Add([]byte(`{"rules": [}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Build([]File{{Name: "f.json", Data: data}})
		if err == nil && set == nil {
			t.Fatal("Build returned neither a set nor an error")
		}
		var errs Errors
		if err != nil && (!errors.As(err, &errs) || len(errs) == 0) {
			t.Fatalf("Build error %v is not a non-empty Errors", err)
		}
	})
}

// TestWarnsOfCallerChosenGroups: an incident rule grouped by a value any
// caller picks, even when denied, is valid but warned of, naming the field.
func TestWarnsOfCallerChosenGroups(t *testing.T) {
	tests := []struct {
		name, rule string
		want       string // in the warning; "" for none
	}{
		{"request parameter of any call", `"pattern": {"source": ["aws.cloudtrail"]}, "action": "incident", "groupBy": ["detail.requestParameters.name"]`, `groupBy[0]: "detail.requestParameters.name" is a request parameter`},
		{"session name in the ARN", `"pattern": {"source": ["aws.s3"]}, "action": "incident", "groupBy": ["account", "detail.userIdentity.arn"]`, `groupBy[1]: "detail.userIdentity.arn" is the caller's ARN`},
		{"user agent", `"pattern": {"source": ["aws.s3"]}, "action": "incident", "groupBy": ["detail.userAgent"]`, `"detail.userAgent" is the caller's user agent`},
		{"principal", `"pattern": {"source": ["aws.s3"]}, "action": "incident", "groupBy": ["account", "principal"]`, ""},
		{"successful calls only", `"pattern": {"source": ["aws.cloudtrail"], "detail": {"errorCode": [{"exists": false}]}}, "action": "incident", "groupBy": ["detail.requestParameters.name"]`, ""},
		{"record rule", `"pattern": {"source": ["aws.s3"]}, "action": "ignore", "groupBy": ["detail.requestParameters.bucketName"]`, ""},
	}
	for _, tt := range tests {
		rule := tt.rule
		if strings.Contains(rule, `"incident"`) {
			rule += `, "severity": "low"`
		}
		set, errs := build(t, `{`+sev+`, "rules": [{"name": "r", `+rule+`}]}`)
		if errs != nil {
			t.Fatalf("%s: Build: %v", tt.name, errs)
		}
		got := set.Warnings.Error()
		if tt.want == "" && len(set.Warnings) > 0 || tt.want != "" && (!strings.Contains(got, tt.want) || !strings.Contains(got, `rule "r"`)) {
			t.Errorf("%s: warnings = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestScope: a scoped rule's pattern and recoverWhen match only the events
// of its accounts (listed, or members of its organizational units) and
// Regions.
func TestScope(t *testing.T) {
	set, errs := build(t, `{`+sev+`,
 "organization": {"units": {"ou-ab12-34567890": ["444455556666"]}},
 "rules": [{"name": "r", "pattern": {"source": ["aws.cloudwatch"]}, "action": "incident", "severity": "high",
   "scope": {"accounts": ["111122223333"], "ous": ["ou-ab12-34567890"], "regions": ["eu-west-1"]},
   "recoverWhen": {"detail": {"state": ["OK"]}}}]}`)
	if errs != nil {
		t.Fatal(errs)
	}
	r := set.Rule("r")
	ev := func(account, region, state string) []byte {
		return []byte(`{"source": "aws.cloudwatch", "account": "` + account + `", "region": "` + region + `", "detail": {"state": "` + state + `"}}`)
	}
	for _, tt := range []struct {
		account, region string
		want            bool
	}{
		{"111122223333", "eu-west-1", true},
		{"444455556666", "eu-west-1", true}, // a member of the unit
		{"111122223333", "us-east-1", false},
		{"999999999999", "eu-west-1", false},
	} {
		for name, p := range map[string]*pattern.Pattern{"pattern": r.Pattern, "recoverWhen": r.Recover} {
			state := "ALARM"
			if name == "recoverWhen" {
				state = "OK"
			}
			if got, err := p.Match(ev(tt.account, tt.region, state)); err != nil || got != tt.want {
				t.Errorf("%s of %s in %s = %v, %v; want %v", name, tt.account, tt.region, got, err, tt.want)
			}
		}
	}
	if r.Scope.String() != "accounts 111122223333; ous ou-ab12-34567890; regions eu-west-1" {
		t.Errorf("Scope = %q", r.Scope)
	}
}

func TestScopeRejects(t *testing.T) {
	for name, tt := range map[string]struct{ file, want string }{
		"bad ids": {`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "scope": {"accounts": ["123"], "regions": ["Europe"], "ous": ["ou-x"]}}]}`,
			`"123" is not an AWS account id`},
		"unknown unit": {`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "scope": {"ous": ["ou-ab12-34567890"]}}]}`,
			`scope names the organizational unit ou-ab12-34567890, which "organization" does not list`},
		"clash": {`{"rules": [{"name": "r", "pattern": {"source": ["a"], "region": ["us-east-1"]}, "action": "record", "scope": {"regions": ["eu-west-1"]}}]}`,
			`pattern and scope both limit "region"`},
		"empty": {`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "scope": {"regions": []}}]}`,
			`regions: empty`},
		"unit with a bad account": {`{"organization": {"units": {"ou-ab12-34567890": ["x"]}}, "rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record"}]}`,
			`"x" is not an AWS account id`},
	} {
		if _, errs := build(t, tt.file); errs == nil || !strings.Contains(errs.Error(), tt.want) {
			t.Errorf("%s: errors %v, want one containing %q", name, errs, tt.want)
		}
	}
}

func TestOpsItemAccount(t *testing.T) {
	inc := func(extra string) string {
		return `{"name": "r", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high"` + extra + `}`
	}
	set, errs := build(t, `{`+sev+`, "organization": {"opsItemAccount": "member"}, "rules": [`+
		inc("")+`, {"name": "c", "pattern": {"source": ["aws.kms"]}, "action": "incident", "severity": "high", "opsItemAccount": "central"}]}`)
	if errs != nil {
		t.Fatal(errs)
	}
	if got := []string{set.OpsItemAccountOf("r"), set.OpsItemAccountOf("c"), set.OpsItemAccountOf("none")}; !slices.Equal(got, []string{"member", "central", "member"}) {
		t.Errorf("OpsItemAccountOf = %v, want the deployment's, the rule's, the deployment's", got)
	}
	if p := set.AccessPortal; p != nil {
		t.Errorf("access portal %+v without one set", p)
	}
	withPortal, errs := build(t, `{`+sev+`, "organization": {"accessPortal": {"url": "https://my-org.awsapps.com/start/", "role": "ReadOnly"}}, "rules": [`+inc("")+`]}`)
	if errs != nil || withPortal.AccessPortal == nil || withPortal.AccessPortal.Role != "ReadOnly" {
		t.Errorf("access portal = %+v, %v", withPortal, errs)
	}
	if def, _ := build(t, `{`+sev+`, "rules": [`+inc("")+`]}`); def.OpsItemAccountOf("r") != OpsItemsCentral {
		t.Errorf("default = %q, want central", def.OpsItemAccountOf("r"))
	}
	for name, tt := range map[string]struct{ file, want string }{
		"bad value":   {`{` + sev + `, "rules": [` + inc(`, "opsItemAccount": "elsewhere"`) + `]}`, `"elsewhere": want "central"`},
		"bad default": {`{` + sev + `, "organization": {"opsItemAccount": 1}, "rules": [` + inc("") + `]}`, `opsItemAccount`},
		"not an incident rule": {`{"rules": [{"name": "r", "pattern": {"source": ["a"]}, "action": "record", "opsItemAccount": "member"}]}`,
			`opsItemAccount`},
		"a portal elsewhere": {`{` + sev + `, "organization": {"accessPortal": {"url": "https://attacker.example/start", "role": "ReadOnly"}}, "rules": [` + inc("") + `]}`,
			`"https://attacker.example/start": want an IAM Identity Center access portal URL`},
		"a portal without a role": {`{` + sev + `, "organization": {"accessPortal": {"url": "https://d-1234567890.awsapps.com/start"}}, "rules": [` + inc("") + `]}`,
			`missing role`},
	} {
		if _, errs := build(t, tt.file); errs == nil || !strings.Contains(errs.Error(), tt.want) {
			t.Errorf("%s: errors %v, want one containing %q", name, errs, tt.want)
		}
	}
}

func TestRecurrenceAccounts(t *testing.T) {
	set, errs := build(t, `{`+sev+`, "problems": {"recurrence": {"count": 3, "window": "7d", "accounts": 5}}, "rules": [
  {"name": "a", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high"},
  {"name": "b", "pattern": {"source": ["aws.kms"]}, "action": "incident", "severity": "high", "problems": {"recurrence": {"count": 2, "window": "1d", "accounts": 10}}}]}`)
	if errs != nil {
		t.Fatal(errs)
	}
	if set.Problems.Accounts != 5 || set.Rule("b").Problems.Accounts != 10 || set.Rule("a").Problems.Accounts != 5 {
		t.Errorf("accounts: set %d, b %d, a %d; want 5, 10, 5 (a takes the set's)", set.Problems.Accounts, set.Rule("b").Problems.Accounts, set.Rule("a").Problems.Accounts)
	}
	if d := set.Rule("b").Digest()["problems"]; d != "2 within 1d, across 10 accounts" {
		t.Errorf("digest of b's problems = %v", d)
	}
	if _, errs := build(t, `{`+sev+`, "problems": {"recurrence": {"count": 3, "window": "7d", "accounts": 1}}, "rules": []}`); errs == nil || !strings.Contains(errs.Error(), "accounts") {
		t.Errorf("accounts 1: errors %v, want one naming accounts", errs)
	}
}
