package review_test

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/review"
	"github.com/opsloop/opsloop/internal/rules"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

const rulesJSON = `{
  "severities": {"high": {"opsItemSeverity": "2", "priority": 2}, "low": {"opsItemSeverity": "4", "priority": 4}},
  "rules": [
    {"name": "flappy", "pattern": {"source": ["aws.cloudwatch"]}, "action": "incident", "severity": "low", "category": "Availability"},
    {"name": "bursty", "pattern": {"source": ["aws.signin"]}, "action": "incident", "severity": "high", "category": "Security",
     "threshold": {"count": 5, "window": "10m"}},
    {"name": "steady", "pattern": {"source": ["aws.health"]}, "action": "incident", "severity": "high", "category": "Availability"},
    {"name": "never", "pattern": {"source": ["aws.kms"]}, "action": "incident", "severity": "high", "category": "Security"},
    {"name": "held-back", "pattern": {"source": ["aws.iam"]}, "action": "incident", "severity": "low", "category": "Security",
     "threshold": {"count": 10, "window": "5m"}},
    {"name": "keep", "pattern": {"source": ["aws.config"]}, "action": "record"},
    {"name": "unused-record", "pattern": {"source": ["aws.s3"]}, "action": "record"}
  ]}`

func loadRules(t *testing.T, src string) *rules.Set {
	t.Helper()
	set, err := rules.Build([]rules.File{{Name: "rules.json", Data: []byte(src)}})
	if err != nil {
		t.Fatalf("rules.Build: %v", err)
	}
	return set
}

func inc(rule, fp, sev, cat string, opened time.Duration, ttr time.Duration) review.Incident {
	i := review.Incident{Rule: rule, Fingerprint: fp, Severity: sev, Category: cat, Opened: t0.Add(opened), OpsItemID: fmt.Sprintf("oi-%s-%d", fp, opened)}
	if ttr > 0 {
		i.Resolved = i.Opened.Add(ttr)
	}
	return i
}

// input is a week: a flapping alarm resolved within minutes, a burst rule
// resolved within minutes (it has a threshold), a steady rule with slow
// resolutions, and one problem.
func input(t *testing.T) review.Input {
	m, h := time.Minute, time.Hour
	var incs []review.Incident
	for i := range 6 {
		incs = append(incs, inc("flappy", "flappy:a", "low", "Availability", time.Duration(i)*20*h+time.Duration(i)*m, 4*m))
	}
	incs[2].Flapping = true
	for i := range 4 {
		incs = append(incs, inc("bursty", "bursty:acct", "high", "Security", time.Duration(24+i)*h, 10*m))
	}
	incs = append(incs,
		inc("steady", "steady:x", "high", "Availability", 30*h, 3*h),
		inc("steady", "steady:y", "high", "Availability", 100*h, 0),         // still open
		inc("steady", "steady:x", "high", "Availability", 150*h, 50*h),      // resolved after the period
		inc("steady", "steady:x", "high", "Availability", 200*h, time.Hour), // after the period
	)
	ps := []problems.Problem{
		{Key: "P-resolved", Status: problems.Resolved, Rule: "steady", Incidents: 9, History: []problems.Occurrence{{Opened: t0.Add(-100 * h)}}},
		{Key: "P-flappy", Status: problems.Open, Rule: "flappy", Fingerprint: "flappy:a", Title: "Alarm <flappy> & co", Incidents: 6,
			FirstSeen: t0, LastSeen: t0.Add(100 * h), History: []problems.Occurrence{{OpsItemID: "oi-1", Opened: t0}, {OpsItemID: "oi-2", Opened: t0.Add(20 * h), Resolved: t0.Add(21 * h)}, {OpsItemID: "oi-3", Opened: t0.Add(40 * h)}},
			SuspectedCauses: []problems.Cause{{EventID: "e1", EventName: "PutMetricAlarm", Principal: "arn:aws:iam::123456789012:user/<bob>", Time: t0.Add(-h), Resource: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a", Incidents: 3}}},
		{Key: "P-candidate", Status: problems.Candidate, Rule: "steady", Incidents: 2},
		{Key: "P-known", Status: problems.KnownError, Rule: "steady", Incidents: 4, History: []problems.Occurrence{{Opened: t0.Add(30 * h)}}},
	}
	return review.Input{
		Title: "weekly", From: t0, To: t0.Add(7 * 24 * h), Generated: t0.Add(7 * 24 * h),
		Rules: loadRules(t, rulesJSON), Incidents: incs, Problems: ps, Events: 5000,
		Activity: map[string]review.Activity{
			"flappy": {Matched: 6}, "bursty": {Matched: 40}, "steady": {Matched: 3},
			"held-back": {Matched: 12, BelowThreshold: 12, MaxCount: 4}, "keep": {Matched: 7},
		},
	}
}

func TestBuildTotals(t *testing.T) {
	r := review.Build(input(t))
	want := review.Totals{Incidents: 13, Resolved: 12, Open: 1, ProblemsOpen: 1, KnownErrors: 1, Closed: 1,
		MedianTTR: 4 * time.Minute, P90TTR: 3 * time.Hour, MeanTTR: (6*4*time.Minute + 4*10*time.Minute + 3*time.Hour + 50*time.Hour) / 12}
	if r.Totals != want {
		t.Errorf("Totals = %+v, want %+v", r.Totals, want)
	}
	if r.Bucket != 24*time.Hour || len(r.Buckets) != 8 {
		t.Errorf("a week in %s buckets: %d, want days, 8", r.Bucket, len(r.Buckets))
	}
	sum := 0
	for _, b := range r.Buckets {
		sum += b.Total
		if n := b.BySeverity["high"] + b.BySeverity["low"]; n != b.Total {
			t.Errorf("bucket %s: by severity %d, total %d", b.Start, n, b.Total)
		}
	}
	if sum != 13 {
		t.Errorf("buckets hold %d incidents, want 13", sum)
	}
	if got := r.Severities; !slices.Equal(got, []string{"high", "low"}) {
		t.Errorf("Severities = %v, want the rules' order", got)
	}
	var hist []int
	for _, b := range r.Histogram {
		hist = append(hist, b.Count)
	}
	if want := []int{6, 4, 0, 1, 0, 1}; !slices.Equal(hist, want) {
		t.Errorf("Histogram = %v, want %v", hist, want)
	}
	var keys []string
	for _, p := range r.Problems {
		keys = append(keys, p.Key)
	}
	if want := []string{"P-flappy", "P-known", "P-resolved"}; !slices.Equal(keys, want) {
		t.Errorf("Problems = %v, want %v (candidates left out, most incidents in the period first)", keys, want)
	}
}

func TestNoisyAndSilent(t *testing.T) {
	r := review.Build(input(t))
	noisy := map[string]review.Finding{}
	for _, f := range r.Noisy {
		noisy[f.Rule] = f
	}
	tests := []struct {
		rule, current, suggested string
		estimate                 int
	}{
		// Six incidents 20h apart: none has a second one within an hour.
		{"flappy", "", `{"count": 2, "window": "1h"}`, 0},
		// Four incidents an hour apart: doubling the count of 5 opens none.
		{"bursty", `{"count": 5, "window": "10m"}`, `{"count": 10, "window": "10m"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			f, ok := noisy[tt.rule]
			if !ok {
				t.Fatalf("rule %s is not noisy: %+v", tt.rule, r.Noisy)
			}
			if f.Current != tt.current || f.Suggested != tt.suggested || f.Estimate != tt.estimate {
				t.Errorf("Noisy[%s] = %q -> %q (≈%d), want %q -> %q (≈%d)", tt.rule, f.Current, f.Suggested, f.Estimate, tt.current, tt.suggested, tt.estimate)
			}
		})
	}
	if len(r.Noisy) != 2 {
		t.Errorf("Noisy = %+v, want flappy and bursty only (steady resolves slowly)", r.Noisy)
	}
	silent := map[string]review.Finding{}
	for _, f := range r.Silent {
		silent[f.Rule] = f
	}
	if f := silent["never"]; !strings.Contains(f.Why, "never matched in 5000 events") {
		t.Errorf("Silent[never] = %+v, want never matched", f)
	}
	if f := silent["held-back"]; f.Suggested != `{"count": 4, "window": "5m"}` || !strings.Contains(f.Why, "at most 4 within 5m") {
		t.Errorf("Silent[held-back] = %+v, want the threshold lowered to the 4 seen", f)
	}
	if len(r.Silent) != 2 {
		t.Errorf("Silent = %+v, want never and held-back", r.Silent)
	}
	if !slices.Equal(r.Unused, []string{"unused-record"}) {
		t.Errorf("Unused = %v, want [unused-record]", r.Unused)
	}

	in := input(t)
	in.Activity = nil
	r = review.Build(in)
	var names []string
	for _, f := range r.Silent {
		names = append(names, f.Rule)
	}
	if !slices.Equal(names, []string{"never", "held-back"}) || r.Unused != nil {
		t.Errorf("without activity: Silent = %v, Unused = %v; want the incident rules without incidents, no unused", names, r.Unused)
	}
}

func TestEstimate(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name   string
		opened []time.Duration
		want   int
	}{
		{"isolated", []time.Duration{0, 2 * time.Hour, 4 * time.Hour}, 0},
		{"pairs within the hour", []time.Duration{0, 30 * m, 3 * time.Hour, 3*time.Hour + 59*m}, 2},
		{"a run", []time.Duration{0, 10 * m, 20 * m, 30 * m}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := review.Input{Rules: loadRules(t, rulesJSON), From: t0, To: t0.Add(24 * time.Hour)}
			for _, d := range tt.opened {
				in.Incidents = append(in.Incidents, inc("flappy", "flappy:a", "low", "Availability", d, time.Minute))
			}
			r := review.Build(in)
			if len(r.Noisy) != 1 || r.Noisy[0].Estimate != tt.want {
				t.Errorf("Noisy = %+v, want one finding estimating %d", r.Noisy, tt.want)
			}
		})
	}
}

func TestDiffRules(t *testing.T) {
	old := loadRules(t, rulesJSON)
	changed := strings.NewReplacer(
		`"threshold": {"count": 5, "window": "10m"}`, `"threshold": {"count": 8, "window": "10m"}`,
		`{"name": "never", "pattern": {"source": ["aws.kms"]}, "action": "incident", "severity": "high", "category": "Security"},`, ``,
		`{"name": "keep", "pattern": {"source": ["aws.config"]}, "action": "record"},`, `{"name": "keep", "pattern": {"source": ["aws.config", "aws.ssm"]}, "action": "record"},
    {"name": "new-one", "pattern": {"source": ["aws.ssm"]}, "action": "ignore"},`,
	).Replace(rulesJSON)
	cur := loadRules(t, changed)
	got := review.DiffRules(review.Snapshot(old, t0), review.Snapshot(cur, t0))
	var lines []string
	for _, c := range got {
		lines = append(lines, c.Rule+" "+c.Change+" "+strings.Join(c.Fields, ","))
	}
	want := []string{"bursty changed threshold", "keep changed pattern", "never removed ", "new-one added "}
	if !slices.Equal(lines, want) {
		t.Errorf("DiffRules = %q, want %q", lines, want)
	}
	if same := review.DiffRules(review.Snapshot(old, t0), review.Snapshot(loadRules(t, rulesJSON), t0.Add(time.Hour))); len(same) != 0 {
		t.Errorf("DiffRules(same rules) = %v, want none", same)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	in := input(t)
	r := review.Build(in)
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	back, err := review.ReadSnapshot(&page)
	if err != nil {
		t.Fatalf("ReadSnapshot(report): %v", err)
	}
	if d := review.DiffRules(back, r.Snapshot); len(d) != 0 || len(back.Rules) != len(in.Rules.Rules) {
		t.Errorf("snapshot read back from the report differs: %v (%d rules)", d, len(back.Rules))
	}
	in.Previous = &back
	if r2 := review.Build(in); !r2.HasPrevious || len(r2.RuleChanges) != 0 {
		t.Errorf("review against its own snapshot: HasPrevious %v, changes %v", r2.HasPrevious, r2.RuleChanges)
	}
}

func TestReadSnapshotRejects(t *testing.T) {
	bads := []string{
		``,
		`<html><body>no snapshot</body></html>`,
		`<script type="application/json" id="opsloop-rules-snapshot">{"rules": {}`,
		`{"taken": "2026-03-02T00:00:00Z"}`,
		`{"rules": {"a": {"action": 3}}}`,
		`{"rules": {}, "extra": 1}`,
		`[]`,
	}
	for i, b := range bads {
		if _, err := review.ReadSnapshot(strings.NewReader(b)); err == nil {
			t.Errorf("ReadSnapshot(bads[%d] %q) accepted it", i, b)
		}
	}
	if _, err := review.ReadSnapshot(strings.NewReader(bads[1])); !errors.Is(err, review.ErrNoSnapshot) {
		t.Errorf("ReadSnapshot(page without snapshot) error = %v, want ErrNoSnapshot", err)
	}
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add([]byte(`{"taken":"2026-03-02T00:00:00Z","rules":{"a":{"action":"incident","pattern":"{}"}}}`))
	f.Add([]byte(`<p><script type="application/json" id="opsloop-rules-snapshot">{"rules":{}}</script>`))
	f.Add([]byte(`<script type="application/json" id="opsloop-rules-snapshot">`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := review.ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		if s.Rules == nil {
			t.Fatalf("ReadSnapshot accepted a snapshot without rules")
		}
		// A snapshot read is a snapshot a report can carry and give back.
		r := review.Build(review.Input{Generated: t0})
		r.Snapshot = s
		var page bytes.Buffer
		if err := r.WriteHTML(&page); err != nil {
			t.Fatalf("WriteHTML(snapshot read) error = %v", err)
		}
		back, err := review.ReadSnapshot(&page)
		if err != nil || len(review.DiffRules(s, back)) != 0 || len(back.Rules) != len(s.Rules) {
			t.Fatalf("snapshot did not survive a report: %v", err)
		}
	})
}

func TestDurationAndWindow(t *testing.T) {
	tests := []struct {
		d             time.Duration
		human, window string
	}{
		{45 * time.Second, "45s", "45s"},
		{40 * time.Minute, "40m", "40m"},
		{90 * time.Minute, "1h30m", "1h30m"},
		{time.Hour, "1h", "1h"},
		{7 * 24 * time.Hour, "7d", "7d"},
		{31 * time.Hour, "1d7h", "31h"},
	}
	for _, tt := range tests {
		if got := review.Duration(tt.d); got != tt.human {
			t.Errorf("Duration(%s) = %q, want %q", tt.d, got, tt.human)
		}
		got := rules.FormatDuration(tt.d)
		back, err := rules.ParseDuration(got)
		if got != tt.window || err != nil || back != tt.d {
			t.Errorf("FormatDuration(%s) = %q (parses to %s, %v), want %q", tt.d, got, back, err, tt.window)
		}
	}
}

func TestHTMLSelfContainedAndEscaped(t *testing.T) {
	in := input(t)
	in.Incidents = append(in.Incidents, inc(`<script>alert(1)</script>`, "x", `"><img src=x>`, "Cost", time.Hour, time.Minute))
	var page bytes.Buffer
	if err := review.Build(in).WriteHTML(&page); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	html := page.String()
	checks := []struct {
		name string
		bad  *regexp.Regexp
	}{
		{"no script that runs", regexp.MustCompile(`<script(?:\s[^>]*)?>`)},
		{"no resource loaded", regexp.MustCompile(`(?i)<[^>]*\s(?:src|href|srcset|poster|data)\s*=|url\(|@import`)},
		{"no remote address", regexp.MustCompile(`(?i)(?:https?:)?//(?:[a-z0-9-]+\.)+[a-z]{2,}`)},
	}
	// The one script element is the rules snapshot, of a data type; the
	// SVG namespace is a name, never fetched.
	clean := strings.Replace(html, `<script type="application/json" id="opsloop-rules-snapshot">`, "", 1)
	clean = strings.ReplaceAll(clean, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, c := range checks {
		if m := c.bad.FindString(clean); m != "" {
			t.Errorf("%s: the report contains %q", c.name, m)
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(1)&lt;/script&gt;`, `Alarm &lt;flappy&gt; &amp; co`, `user/&lt;bob&gt;`, "PutMetricAlarm", "<svg", `class="bar"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != 6 {
		t.Errorf("the report has %d charts, want 6 (3 series, per rule, time to resolve, top problem)", n)
	}
}

func TestText(t *testing.T) {
	in := input(t)
	prev := review.Snapshot(loadRules(t, strings.Replace(rulesJSON, `"name": "never"`, `"name": "never-before"`, 1)), t0)
	in.Previous = &prev
	text := review.Build(in).Text("s3://bucket/reviews/2026-03-09.html")
	for _, want := range []string{
		"weekly, 2026-03-02 00:00 to 2026-03-09 00:00 UTC",
		"Incidents: 13 opened, 12 resolved, 1 open; time to resolve: median 4m, p90 3h",
		"Problems: 1 open, 1 known errors, 1 resolved",
		"Top problem P-flappy (open, flappy): 6 incidents, 3 in this period",
		"suspected cause: PutMetricAlarm by arn:aws:iam::123456789012:user/<bob> at 2026-03-01 23:00 UTC",
		`Noisy rules: flappy (6 incidents, half resolved within 4m, 1 flapping): threshold {"count": 2, "window": "1h"}`,
		"Silent rules: never (never matched in 5000 events)",
		"Rules since the last review: 1 added, 1 removed, 0 changed",
		"Report: s3://bucket/reviews/2026-03-09.html",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Text lacks %q:\n%s", want, text)
		}
	}
	if lines := strings.Count(text, "\n"); lines > 12 {
		t.Errorf("Text has %d lines, want a short summary", lines)
	}
}

// TestHeldBack: roll-up OpsItems of the OpsItem budget are listed as what
// was held back, not counted as incidents.
func TestHeldBack(t *testing.T) {
	in := input(t)
	roll := inc("bursty", incidents.RollupFingerprint("bursty", t0.Add(30*time.Hour)), "high", "Security", 30*time.Hour, 0)
	roll.Title = "Incidents of rule bursty held back by the OpsItem budget on 2026-03-03"
	in.Incidents = append(in.Incidents, roll)
	r := review.Build(in)
	if r.Totals.Incidents != 13 || len(r.HeldBack) != 1 {
		t.Errorf("Totals.Incidents = %d, HeldBack = %d; want 13 and the roll-up", r.Totals.Incidents, len(r.HeldBack))
	}
	if text := r.Text(""); !strings.Contains(text, "Held back by the OpsItem budget: rule bursty on 2026-03-03 (OpsItem "+roll.OpsItemID+")") {
		t.Errorf("Text does not list what was held back:\n%s", text)
	}
	var b strings.Builder
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "<code>"+roll.OpsItemID+"</code>") {
		t.Error("the HTML does not list the roll-up OpsItem")
	}
}

// TestAnalyses: the review lists the open analyses, every action item not
// done, and the lessons of analyses closed in the period, escaped.
func TestAnalyses(t *testing.T) {
	in := input(t)
	in.From, in.To = t0, t0.Add(7*24*time.Hour)
	in.Analyses = []analysis.Analysis{
		{OpsItemID: "oi-open", Rule: "public-sg", Title: "Security group opened", Status: analysis.Open, Resolved: t0.Add(time.Hour),
			ActionItems: []analysis.ActionItem{{Text: "Deny 0.0.0.0/0 with an SCP", Owner: "platform"}, {Text: "done already", Done: true}}},
		{OpsItemID: "oi-done", Rule: "alarm-high", Title: "Alarm", Status: analysis.Done, Closed: t0.Add(2 * time.Hour),
			Lessons: []string{"<script>alert(1)</script> Pair on changes"}},
		{OpsItemID: "oi-old", Rule: "alarm-high", Status: analysis.Done, Closed: t0.Add(-48 * time.Hour), Lessons: []string{"an old lesson"}},
		{OpsItemID: "oi-tracking", Status: analysis.Tracking},
	}
	r := review.Build(in)
	if len(r.OpenAnalyses) != 1 || len(r.Actions) != 1 || r.Actions[0].Owner != "platform" || len(r.Lessons) != 1 {
		t.Fatalf("open %d, actions %+v, lessons %+v; want 1 open, the one undone action, the period's lesson", len(r.OpenAnalyses), r.Actions, r.Lessons)
	}
	if text := r.Text(""); !strings.Contains(text, "Post-incident analyses: 1 open, 1 action items not done, 1 lessons shared") {
		t.Errorf("Text does not sum the analyses up:\n%s", text)
	}
	var b strings.Builder
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"<code>oi-open</code>", "Deny 0.0.0.0/0 with an SCP", "&lt;script&gt;alert(1)&lt;/script&gt; Pair on changes"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	if strings.Contains(html, "an old lesson") || strings.Contains(html, "<script>alert(1)") {
		t.Error("the HTML shows a lesson of another period, or the lesson unescaped")
	}
}

// TestByAccount: the review sums incidents up by account, with the unit
// the rules list it in, most incidents first.
func TestByAccount(t *testing.T) {
	in := input(t)
	set, err := rules.Build([]rules.File{{Name: "org.json", Data: []byte(`{"organization": {"units": {"ou-ab12-34567890": ["111122223333"]}}, "rules": []}`)}})
	if err != nil {
		t.Fatal(err)
	}
	in.Rules.Units = set.Units
	for i := range in.Incidents {
		in.Incidents[i].Account = []string{"111122223333", "111122223333", "444455556666"}[i%3]
	}
	r := review.Build(in)
	if len(r.Accounts) != 2 || r.Accounts[0].Account != "111122223333" || r.Accounts[0].OU != "ou-ab12-34567890" || r.Accounts[1].OU != "" ||
		r.Accounts[0].Incidents+r.Accounts[1].Incidents != r.Totals.Incidents {
		t.Fatalf("Accounts = %+v (of %d incidents)", r.Accounts, r.Totals.Incidents)
	}
	if text := r.Text(""); !strings.Contains(text, "Incidents by account: 111122223333 ") {
		t.Errorf("Text lacks the accounts:\n%s", text)
	}
	var b strings.Builder
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "<code>ou-ab12-34567890</code>") {
		t.Error("the HTML does not name the unit")
	}
}
