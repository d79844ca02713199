package rules_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/samples.golden")

func defaults(t *testing.T) *rules.Set {
	t.Helper()
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		t.Fatalf("default rules are invalid:\n%v", err)
	}
	return set
}

func samples(t *testing.T) map[string]*event.Event {
	t.Helper()
	files, err := filepath.Glob("../events-samples/*/*.json")
	if err != nil || len(files) < 30 {
		t.Fatalf("found %d sample events (%v), want at least 30", len(files), err)
	}
	out := map[string]*event.Event{}
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "trails" {
			continue // many events a file, in the shapes users hold
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Parse(data)
		if err != nil {
			t.Fatalf("sample %s: %v", f, err)
		}
		out[strings.TrimPrefix(f, "../")] = ev
	}
	return out
}

// TestSamplesDecisions classifies every sample on its own, against the
// golden decisions, so that a rule change shows what it changes.
func TestSamplesDecisions(t *testing.T) {
	set := defaults(t)
	evs := samples(t)
	names := make([]string, 0, len(evs))
	for n := range evs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		c := classify.New(set, memory.New())
		d, err := c.Classify(context.Background(), evs[n])
		if err != nil {
			t.Fatalf("Classify(%s): %v", n, err)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", n, d.Action, d.Rule, d.Severity, d.Fingerprint)
	}
	golden := filepath.Join("testdata", "samples.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./rules -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("sample decisions differ from %s (rerun with -update if intended):\n%s", golden, diff(string(want), got))
	}
}

// TestEveryRuleHasASample proves each default rule decides at least one
// sample; a threshold rule does once its sample repeats often enough.
func TestEveryRuleHasASample(t *testing.T) {
	set := defaults(t)
	evs := samples(t)
	for _, r := range set.Rules {
		t.Run(r.Name, func(t *testing.T) {
			for name, ev := range evs {
				if ok, _ := r.Pattern.Match(ev.Raw); !ok {
					continue
				}
				d := decideRepeated(t, set, ev, r)
				if d.Rule != r.Name {
					continue
				}
				want := map[rules.Action]classify.Action{rules.Incident: classify.Incident, rules.Record: classify.Record, rules.Ignore: classify.Ignore}[r.Action]
				if d.Action != want {
					t.Errorf("sample %s decided by %s: %s, want %s (%s)", name, r.Name, d.Action, want, d.Reason)
				}
				return
			}
			t.Errorf("no sample in events-samples/ is decided by rule %s", r.Name)
		})
	}
}

// decideRepeated classifies ev as often as r's threshold needs, as distinct
// events a second apart, and returns the last decision.
func decideRepeated(t *testing.T, set *rules.Set, ev *event.Event, r *rules.Rule) classify.Decision {
	t.Helper()
	n := 1
	if r.Threshold != nil {
		n = r.Threshold.Count
	}
	return decideTimes(t, set, ev, n)
}

// decideTimes classifies n copies of ev, distinct events a second apart,
// and returns the last decision.
func decideTimes(t *testing.T, set *rules.Set, ev *event.Event, n int) classify.Decision {
	t.Helper()
	c := classify.New(set, memory.New())
	var d classify.Decision
	for i := range n {
		e := *ev
		e.ID = fmt.Sprintf("%s-%d", ev.ID, i)
		e.Time = ev.Time.Add(time.Duration(i) * time.Second)
		var err error
		if d, err = c.Classify(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "- %s\n+ %s\n", a, c)
		}
	}
	return b.String()
}

// awsRunbooks are the AWS-owned Automation documents the default rules
// offer, with the parameters the AWS Systems Manager Automation runbook
// reference publishes for them: required, then optional.
var awsRunbooks = map[string]struct{ required, optional []string }{
	"AWS-DisablePublicAccessForSecurityGroup": {[]string{"GroupId"}, []string{"AutomationAssumeRole", "IpAddressToBlock"}},
	"AWS-StartEC2Instance":                    {[]string{"InstanceId"}, []string{"AutomationAssumeRole"}},
	"AWS-RestartEC2Instance":                  {[]string{"InstanceId"}, []string{"AutomationAssumeRole"}},
	"AWS-DisableS3BucketPublicReadWrite":      {[]string{"S3BucketName"}, []string{"AutomationAssumeRole"}},
}

// TestDefaultRunbooks: every runbook of the default rules and severities
// is an AWS-owned document, given only parameters it has, every required
// one; and the rule's runbook fills them from its sample.
func TestDefaultRunbooks(t *testing.T) {
	set := defaults(t)
	for _, sev := range set.Severities {
		for _, d := range sev.Runbooks {
			if _, ok := awsRunbooks[d]; !ok {
				t.Errorf("severity %s offers %s, which is no AWS-owned document this test knows", sev.Name, d)
			}
		}
	}
	n := 0
	for _, r := range set.Rules {
		for _, rb := range r.Runbooks {
			n++
			doc, ok := awsRunbooks[rb.Document]
			if !ok {
				t.Errorf("rule %s offers %s, which is no AWS-owned document this test knows", r.Name, rb.Document)
				continue
			}
			for name := range rb.Parameters {
				if !slices.Contains(doc.required, name) && !slices.Contains(doc.optional, name) {
					t.Errorf("rule %s gives %s the parameter %s, which it does not have", r.Name, rb.Document, name)
				}
			}
			for _, name := range doc.required {
				if _, ok := rb.Parameters[name]; !ok {
					t.Errorf("rule %s leaves %s's required %s to the responder", r.Name, rb.Document, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no default rule offers a runbook")
	}
}

// TestIncidentsNameAccountAndRegion holds what an organization needs of the
// default rules: one pipeline serves many accounts and Regions, so every
// incident's identity and title carry both. Threshold rules count a
// principal's calls across Regions (a burst spread over Regions is still
// one burst), so their group key has the account but not the Region; their
// titles name the Region all the same.
func TestIncidentsNameAccountAndRegion(t *testing.T) {
	for _, r := range defaults(t).Rules {
		if r.Action != rules.Incident {
			continue
		}
		paths := r.Title.Paths()
		if !slices.Contains(paths, "account") || !slices.Contains(paths, "region") {
			t.Errorf("%s: title %q does not name {{account}} and {{region}}", r.Name, r.Title)
		}
		if len(r.GroupBy) == 0 {
			continue // the default group key is the account, Region and resources
		}
		want := []string{"account", "region"}
		if r.Threshold != nil {
			want = want[:1]
		}
		for _, p := range want {
			if !slices.Contains(r.GroupBy, p) {
				t.Errorf("%s: groupBy %v lacks %s", r.Name, r.GroupBy, p)
			}
		}
	}
}

func TestDefaultGroupKeyNamesAccountAndRegion(t *testing.T) {
	set := defaults(t)
	ev, err := event.Parse([]byte(`{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],
		"detail":{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"},
		"requestParameters":{"roleName":"app","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := classify.New(set, memory.New()).Classify(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rule != "admin-policy-attached" || !strings.HasPrefix(d.Fingerprint, "admin-policy-attached:111122223333/us-east-1") ||
		!strings.HasSuffix(d.Title, " in 111122223333/us-east-1") {
		t.Errorf("decision %s: fingerprint %q, title %q", d.Rule, d.Fingerprint, d.Title)
	}
}
