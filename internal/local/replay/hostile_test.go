package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/local/replay"
)

// sample reads a sample event as a map, to reshape it as an attacker would.
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "events-samples", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// replayEvents writes evs as JSON lines and replays them on the default rules.
func replayEvents(t *testing.T, evs []map[string]any) *replay.Report {
	t.Helper()
	var b strings.Builder
	for _, ev := range evs {
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := replay.Run(context.Background(), defaults(t), []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Invalid.Count != 0 {
		t.Fatalf("invalid events: %+v", rep.Invalid)
	}
	return rep
}

// TestForgedSourceIsIgnored: anyone allowed events:PutEvents can put an
// event shaped as CloudTrail's on the default bus, with a source of its own
// (EventBridge refuses "aws." in PutEvents). A forged root sign-in opens no
// OpsItem, and forged changes blame nobody.
func TestForgedSourceIsIgnored(t *testing.T) {
	root := sample(t, "signin/console-login-root-success.json")
	root["source"], root["id"] = "corp.forged", "forged-root-1"
	change := sample(t, "ec2/authorize-security-group-ingress.json")
	change["source"], change["id"] = "corp.forged", "forged-change-1"
	rep := replayEvents(t, []map[string]any{root, change})
	if len(rep.OpsItems) != 0 {
		t.Errorf("forged events opened %d OpsItems, want none: %+v", len(rep.OpsItems), rep.OpsItems[0].Title)
	}
	if rep.Decisions["ignore"] != 2 {
		t.Errorf("decisions = %v, want both ignored", rep.Decisions)
	}
	// The genuine event of the same shape still opens its incident.
	genuine := sample(t, "signin/console-login-root-success.json")
	if rep := replayEvents(t, []map[string]any{genuine}); len(rep.OpsItems) != 1 {
		t.Errorf("the genuine root sign-in opened %d OpsItems, want 1", len(rep.OpsItems))
	}
}

// TestDeniedCallsDoNotFanOut: a principal without permissions calls
// StopLogging 500 times with trail names of its choosing, under 50 session
// names of its choosing: one incident of the attempt, not one per value.
func TestDeniedCallsDoNotFanOut(t *testing.T) {
	var evs []map[string]any
	for i := range 500 {
		ev := sample(t, "cloudtrail/stop-logging-access-denied.json")
		ev["id"] = fmt.Sprintf("denied-%d", i)
		d := ev["detail"].(map[string]any)
		d["eventID"] = fmt.Sprintf("denied-event-%d", i)
		d["eventTime"] = fmt.Sprintf("2026-02-03T14:%02d:%02dZ", 41+i/60%10, i%60)
		ev["time"] = d["eventTime"]
		d["requestParameters"] = map[string]any{"name": fmt.Sprintf("decoy-%d", i)}
		session := fmt.Sprintf("probe-%d", i%50)
		ui := d["userIdentity"].(map[string]any)
		ui["arn"] = "arn:aws:sts::123456789012:assumed-role/ReadOnly/" + session
		ui["principalId"] = "AROAEXAMPLEREADONLY1:" + session
		evs = append(evs, ev)
	}
	rep := replayEvents(t, evs)
	byRule := map[string]int{}
	for _, it := range rep.OpsItems {
		byRule[it.OperationalData["opsloop:rule"].Value]++
	}
	if len(rep.OpsItems) > 2 || byRule["cloudtrail-tampering-attempt"] != 1 || byRule["cloudtrail-tampering"] != 0 {
		t.Errorf("500 denied calls opened %d OpsItems %v, want one for the attempt (and at most one denied-calls burst)", len(rep.OpsItems), byRule)
	}
	for _, it := range rep.OpsItems {
		if it.Severity == "1" {
			t.Errorf("denied attempts opened a critical OpsItem: %s", it.Title)
		}
	}
}

// TestInvalidReasonsBounded: 5,000 bad events, each with a reason of its
// own (the syntax error's offset), are all counted, under at most 100
// distinct reasons.
func TestInvalidReasonsBounded(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, `{"id":"x","pad":"%s",}`+"\n", strings.Repeat(" ", i))
	}
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := replay.Run(context.Background(), defaults(t), []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range rep.Invalid.Reasons {
		total += n
	}
	if rep.Invalid.Count != 5000 || total != 5000 || len(rep.Invalid.Reasons) > 100 || len(rep.Invalid.Items) > 1000 {
		t.Errorf("invalid = %d counted, %d under %d reasons, %d items kept; want 5000 under at most 100 reasons, at most 1000 items",
			rep.Invalid.Count, total, len(rep.Invalid.Reasons), len(rep.Invalid.Items))
	}
}

// TestSecretsNotCopied: CloudTrail logs some requests' secrets in clear, and
// a denied call logs whatever its caller sent. Each real-shaped fixture,
// denied ten times (an incident, with an excerpt) and once allowed (a
// recorded change), leaves none of its secrets in the OpsItems, the
// signals' records, the problems or the change log.
func TestSecretsNotCopied(t *testing.T) {
	dir := filepath.Join("..", "..", "redact", "testdata")
	var expect map[string]struct{ Secrets []string }
	data, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &expect); err != nil {
		t.Fatal(err)
	}
	for name, want := range expect {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var evs []map[string]any
			for i := range 11 {
				var ev map[string]any
				if err := json.Unmarshal(data, &ev); err != nil {
					t.Fatal(err)
				}
				ev["id"] = fmt.Sprintf("%s-%d", name, i)
				d := ev["detail"].(map[string]any)
				d["eventID"] = ev["id"]
				if i < 10 {
					d["errorCode"], d["errorMessage"] = "AccessDenied", "not authorized"
				}
				evs = append(evs, ev)
			}
			rep := replayEvents(t, evs)
			if rep.Lifecycle["opened"] == 0 {
				t.Fatalf("the denied burst opened no incident (lifecycle %v): the test shows nothing", rep.Lifecycle)
			}
			out, err := json.Marshal(struct {
				*replay.Report
				Learned *replay.Learned
			}{rep, rep.Learned})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range want.Secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("replay copied the secret %q", s)
				}
			}
		})
	}
}

// TestOpsItemBudget: 300 instances stopped within one hour (or one
// principal made to look like many) open the rule's hourly cap of
// OpsItems and one roll-up OpsItem that lists the rest; nothing is dropped,
// and a critical incident of another rule still opens its own OpsItem.
func TestOpsItemBudget(t *testing.T) {
	var evs []map[string]any
	for i := range 300 {
		ev := sample(t, "ec2/instance-state-stopped.json")
		id := fmt.Sprintf("i-%017x", i)
		ev["id"] = fmt.Sprintf("stopped-%d", i)
		ev["time"] = fmt.Sprintf("2026-02-15T18:%02d:%02dZ", i/60, i%60)
		ev["resources"] = []string{"arn:aws:ec2:us-east-1:123456789012:instance/" + id}
		ev["detail"].(map[string]any)["instance-id"] = id
		evs = append(evs, ev)
	}
	root := sample(t, "signin/console-login-root-success.json")
	root["time"] = "2026-02-15T18:30:00Z"
	evs = append(evs, root)
	rep := replayEvents(t, evs)

	var own, rollups []int
	critical := 0
	for i, it := range rep.OpsItems {
		switch {
		case it.OperationalData["opsloop:heldBack"].Value != "":
			rollups = append(rollups, i)
		case it.OperationalData["opsloop:rule"].Value == "ec2-instance-stopped":
			own = append(own, i)
		case it.Severity == "1":
			critical++
		}
	}
	if len(own) != 10 || len(rollups) != 1 || critical != 1 {
		t.Fatalf("OpsItems: %d of the rule, %d roll-ups, %d critical; want 10 (its hourly cap), 1, 1", len(own), len(rollups), critical)
	}
	if got := rep.Lifecycle["held-back"]; got != 290 {
		t.Errorf("lifecycle held-back = %d, want 290 (nothing dropped)", got)
	}
	roll := rep.OpsItems[rollups[0]]
	var held []struct {
		Fingerprint string
		Count       int
	}
	if err := json.Unmarshal([]byte(roll.OperationalData["opsloop:heldBack"].Value), &held); err != nil {
		t.Fatalf("opsloop:heldBack is not JSON: %v", err)
	}
	// The roll-up is updated at occurrence milestones, as every OpsItem
	// is: at 200 of the 290 holds, the last milestone reached.
	more := roll.OperationalData["opsloop:heldBackMore"].Value
	if len(held) != 50 || more != "150" || roll.Occurrences != 200 || !strings.Contains(roll.Title, "ec2-instance-stopped held back") {
		t.Errorf("roll-up %q at %d holds lists %d held incidents and %s more, want 200 holds: 50 listed and 150 more", roll.Title, roll.Occurrences, len(held), more)
	}
}
