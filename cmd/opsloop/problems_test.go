package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scenario is a security group opened to the world, after which an alarm
// on an instance in that group recurs four times.
const scenario = "../../events-samples/scenarios/sg-change-then-recurring-alarm"

// TestReplayProblems is the done-criterion at the CLI: the replay records
// one problem whose top suspected cause is the configuration change.
func TestReplayProblems(t *testing.T) {
	code, out, errOut := runCLI("replay", "--json", scenario)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, errOut)
	}
	var rep struct {
		Problems []struct {
			Key             string   `json:"key"`
			Rule            string   `json:"rule"`
			Status          string   `json:"status"`
			Incidents       int      `json:"incidents"`
			OpsItems        []string `json:"opsItems"`
			SuspectedCauses []struct {
				EventName string    `json:"eventName"`
				Principal string    `json:"principal"`
				Time      time.Time `json:"time"`
				Incidents int       `json:"incidents"`
			} `json:"suspectedCauses"`
		} `json:"problems"`
		OpsItems []struct {
			ID      string   `json:"id"`
			Related []string `json:"relatedOpsItems"`
		} `json:"opsItems"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("replay --json: %v", err)
	}
	if len(rep.Problems) != 1 {
		t.Fatalf("replay found %d problems, want 1: %s", len(rep.Problems), out)
	}
	p := rep.Problems[0]
	if p.Rule != "alarm" || p.Status != "open" || p.Incidents != 4 || len(p.OpsItems) != 4 || !strings.HasPrefix(p.Key, "P-") {
		t.Errorf("problem = %s %s %s, %d incidents, OpsItems %v; want alarm, open, 4 incidents and OpsItems", p.Key, p.Rule, p.Status, p.Incidents, p.OpsItems)
	}
	if len(p.SuspectedCauses) == 0 {
		t.Fatalf("problem has no suspected causes")
	}
	top := p.SuspectedCauses[0]
	want := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	if top.EventName != "AuthorizeSecurityGroupIngress" || top.Principal != "arn:aws:iam::123456789012:user/bob" || !top.Time.Equal(want) || top.Incidents != 3 {
		t.Errorf("top suspected cause = %+v, want AuthorizeSecurityGroupIngress by bob at %s, before 3 incidents", top, want)
	}
	// The last incident's OpsItem is related to the problem's others.
	last := rep.OpsItems[len(rep.OpsItems)-1]
	if last.ID != p.OpsItems[3] || len(last.Related) != 3 {
		t.Errorf("last OpsItem %s related to %v, want the problem's other 3", last.ID, last.Related)
	}
}

func TestProblemsCommands(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	code, out, errOut := runCLI("problems", "list", "--save", state, scenario)
	if code != 0 || !strings.Contains(out, "AuthorizeSecurityGroupIngress by arn:aws:iam::123456789012:user/bob") {
		t.Fatalf("problems list (replay) = %d:\n%s%s", code, out, errOut)
	}
	key := strings.Fields(strings.Split(out, "\n")[1])[0]
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
	}{
		{"list from state", []string{"problems", "list", "--state", state}, 0, []string{key, "open", "alarm"}},
		{"list as JSON", []string{"problems", "list", "--state", state, "--json"}, 0, []string{`"key": "` + key, `"suspectedCauses"`}},
		{"show", []string{"problems", "show", key, "--state", state}, 0, []string{"status:        open", "3 of 4", "AuthorizeSecurityGroupIngress", "related to arn:aws:ec2:us-east-1:123456789012:instance/i-0b7e5c1d2a3f49876", "resolved after 40m"}},
		{"show by fingerprint", []string{"problems", "show", "alarm:123456789012/us-east-1/web-3-cpu-high", "--state", state}, 0, []string{key}},
		{"show after replay", []string{"problems", "show", key, scenario}, 0, []string{"MTTR:          40m"}},
		{"ack", []string{"problems", "ack", key, "--note", "bots on 8080; rule revoked", "--state", state}, 0, []string{key + " is known-error"}},
		{"known errors", []string{"problems", "list", "--status", "known-error", "--state", state}, 0, []string{key}},
		{"no open ones left", []string{"problems", "list", "--status", "open", "--state", state}, 0, []string{"no problems"}},
		{"note shown", []string{"problems", "show", key, "--state", state}, 0, []string{"known-error since", "(bots on 8080; rule revoked)"}},
		{"resolve", []string{"problems", "resolve", key, "--state", state}, 0, []string{key + " is resolved"}},
		{"unknown key", []string{"problems", "show", "P-000000000000", "--state", state}, 1, nil},
		{"ack unknown", []string{"problems", "ack", "P-000000000000", "--state", state}, 1, nil},
		{"both sources", []string{"problems", "list", "--state", state, scenario}, 2, nil},
		{"no source", []string{"problems", "list"}, 2, nil},
		{"save without replay", []string{"problems", "list", "--state", state, "--save", state}, 2, nil},
		{"bad status", []string{"problems", "list", "--status", "closed", "--state", state}, 2, nil},
		{"ack without state", []string{"problems", "ack", key}, 2, nil},
		{"missing state file", []string{"problems", "list", "--state", state + ".nope"}, 2, nil},
		{"state file of another kind", []string{"problems", "list", "--state", "testdata/alarm-pattern.json"}, 2, nil},
		{"show without key", []string{"problems", "show"}, 2, nil},
		{"unknown subcommand", []string{"problems", "delete"}, 2, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, out, errOut := runCLI(st.args...)
			if code != st.code {
				t.Fatalf("opsloop %v = %d, want %d:\n%s%s", st.args, code, st.code, out, errOut)
			}
			for _, want := range st.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("opsloop %v output lacks %q:\n%s", st.args, want, out)
				}
			}
		})
	}
	if code, out, _ := runCLI("problems", "list", "--status", "resolved", "--state", state); code != 0 || !strings.Contains(out, key) {
		t.Errorf("after resolve, list --status resolved = %d:\n%s", code, out)
	}
}
