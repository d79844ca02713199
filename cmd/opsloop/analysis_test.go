package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalysisCommands: a replay keeps the analyses of its high and
// critical incidents; a responder edits one in the state file and closes
// it; bad edits are refused and change nothing.
func TestAnalysisCommands(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	code, out, errOut := runCLI("analysis", "list", "--json", "--save", state, "../../events-samples")
	if code != 0 {
		t.Fatalf("analysis list exit %d: %s", code, errOut)
	}
	var open []struct {
		OpsItemID string `json:"opsItemId"`
		Rule      string `json:"rule"`
		Severity  string `json:"severity"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &open); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, a := range open {
		if a.Status != "open" || (a.Severity != "high" && a.Severity != "critical") {
			t.Errorf("listed %+v: want open analyses of high or critical incidents only", a)
		}
		if a.Rule == "security-group-open-to-world" {
			id = a.OpsItemID
		}
	}
	if id == "" {
		t.Fatalf("no open analysis of the resolved security group incident in %s", out)
	}
	code, out, errOut = runCLI("analysis", "edit", id, "--state", state, "--root-cause", "a test rule left in the template",
		"--lesson", "pair on security group changes", "--action", "deny 0.0.0.0/0 with an SCP", "--owner", "platform", "--action", "drill the runbook")
	if code != 0 || !strings.Contains(out, "2 of 2 action items open") {
		t.Fatalf("edit exit %d: %s%s", code, out, errOut)
	}
	for _, bad := range [][]string{
		{"--done", "3"},
		{"--done", "two"},
		{"--close", "--reopen"},
		{"--lesson", " "},
	} {
		if code, _, errOut := runCLI(append([]string{"analysis", "edit", id, "--state", state}, bad...)...); code != 2 {
			t.Errorf("edit %v exit %d (%s), want 2", bad, code, errOut)
		}
	}
	if code, _, _ := runCLI("analysis", "edit", "oi-none", "--state", state, "--close"); code != 1 {
		t.Errorf("edit of no analysis exit %d, want 1", code)
	}
	if code, _, _ := runCLI("analysis", "edit", id, "--close"); code != 2 {
		t.Errorf("edit without --state or --table exit %d, want 2", code)
	}
	if code, out, errOut = runCLI("analysis", "edit", id, "--state", state, "--done", "2", "--close"); code != 0 {
		t.Fatalf("close exit %d: %s", code, errOut)
	}
	code, out, errOut = runCLI("analysis", "show", id, "--state", state)
	for _, want := range []string{"status:       done", "root cause:   a test rule left in the template", "- pair on security group changes",
		"1. [ ] deny 0.0.0.0/0 with an SCP (platform)", "2. [x] drill the runbook", "first event", "resolved: recovered"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s%s", want, out, errOut)
		}
	}
	if code, out, _ = runCLI("analysis", "list", "--state", state, "--status", "done"); code != 0 || !strings.Contains(out, id) {
		t.Errorf("list --status done exit %d:\n%s", code, out)
	}
	if code, _, _ = runCLI("analysis", "list", "--state", state, "--status", "closed"); code != 2 {
		t.Errorf("list --status closed exit %d, want 2", code)
	}
}

// TestProblemShowsAnalyses: a problem's incidents name their analyses.
func TestProblemShowsAnalyses(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	doc := `{"problems": [{"key": "P-000000000001", "fingerprint": "fp", "rule": "r", "title": "t", "status": "open",
  "recurrence": {"count": 2, "windowSeconds": 3600}, "firstSeen": "2026-03-01T10:00:00Z", "lastSeen": "2026-03-01T11:00:00Z",
  "incidents": 2, "opsItems": ["oi-1", "oi-2"], "suspectedCauses": [],
  "history": [{"opsItemId": "oi-1", "opened": "2026-03-01T10:00:00Z", "analysis": true}, {"opsItemId": "oi-2", "opened": "2026-03-01T11:00:00Z"}],
  "resolvedIncidents": 0, "version": 1}], "links": {}}`
	if err := os.WriteFile(state, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("problems", "show", "P-000000000001", "--state", state)
	if code != 0 || !strings.Contains(out, "post-incident analysis: opsloop analysis show oi-1") || strings.Contains(out, "show oi-2") {
		t.Errorf("problems show = %d:\n%s%s", code, out, errOut)
	}
}
