package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportScenario: the review of the scenario shows the problem and the
// configuration change suspected of causing it.
func TestReportScenario(t *testing.T) {
	dir := t.TempDir()
	page, snap := filepath.Join(dir, "review.html"), filepath.Join(dir, "rules-snapshot.json")
	code, out, errOut := runCLI("report", "--out", page, "--snapshot", snap, scenario)
	if code != 0 {
		t.Fatalf("report exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Incidents: 5 opened, 5 resolved, 0 open",
		"Problems: 1 open, 0 known errors, 0 resolved",
		"Top problem P-",
		"suspected cause: AuthorizeSecurityGroupIngress by arn:aws:iam::123456789012:user/bob at 2026-03-05 10:00 UTC on arn:aws:ec2:us-east-1:123456789012:security-group/sg-0f3a9c2b7d1e45a60 (preceded 3 of 4 incidents)",
		"Report: " + page,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report summary lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("report wrote no page: %v", err)
	}
	html := string(data)
	top := section(html, "problems")
	for _, want := range []string{"Alarm web-3-cpu-high is in ALARM", `<tr class="cause-top"><td>AuthorizeSecurityGroupIngress</td>`, "user/bob", "2026-03-05 10:00 UTC", "3 of 4", "<svg"} {
		if !strings.Contains(top, want) {
			t.Errorf("the page's top problems lack %q", want)
		}
	}

	// The next review compares its rules with this one's.
	for _, prev := range [][]string{{"--previous", page}, {"--previous", snap}} {
		code, out, errOut = runCLI(append([]string{"report", "--out", filepath.Join(dir, "next.html")}, append(prev, scenario)...)...)
		if code != 0 || !strings.Contains(out, "Rules since the last review: 0 added, 0 removed, 0 changed") {
			t.Errorf("report %v = %d:\n%s%s", prev, code, out, errOut)
		}
	}
	code, out, _ = runCLI("report", "--out", filepath.Join(dir, "next.html"), "--previous-rules", "testdata/one-rule.json", scenario)
	if code != 0 || !strings.Contains(out, "Rules since the last review: 41 added, 1 removed, 0 changed") {
		t.Errorf("report --previous-rules = %d:\n%s", code, out)
	}
	next, _ := os.ReadFile(filepath.Join(dir, "next.html"))
	if changes := section(string(next), "rules-changes"); !strings.Contains(changes, "<code>old-alarm</code></td><td>removed") {
		t.Errorf("the page's rules changes do not list the removed rule:\n%s", changes)
	}
}

func TestReportUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no events", []string{"report", "--out", filepath.Join(dir, "a.html")}, 2},
		{"both previous", []string{"report", "--previous", "x", "--previous-rules", "y", scenario}, 2},
		{"previous is no report", []string{"report", "--out", filepath.Join(dir, "a.html"), "--previous", "testdata/alarm-pattern.json", scenario}, 2},
		{"previous missing", []string{"report", "--out", filepath.Join(dir, "a.html"), "--previous", filepath.Join(dir, "nope.html"), scenario}, 2},
		{"bad previous rules", []string{"report", "--out", filepath.Join(dir, "a.html"), "--previous-rules", "testdata/bad-rules.json", scenario}, 2},
		{"unwritable output", []string{"report", "--out", filepath.Join(dir, "no", "such", "dir.html"), scenario}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out, errOut := runCLI(tt.args...); code != tt.code {
				t.Errorf("opsloop %v = %d, want %d:\n%s%s", tt.args, code, tt.code, out, errOut)
			}
		})
	}
}

// section returns the HTML of the page's section with id.
func section(html, id string) string {
	_, rest, ok := strings.Cut(html, `<section id="`+id+`">`)
	if !ok {
		return ""
	}
	s, _, _ := strings.Cut(rest, "</section>")
	return s
}
