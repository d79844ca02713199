package rules_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
)

// technique is one attack technique of the catalogue the default rules are
// checked against (docs/detections.json): the sample that shows it and
// what the default rules decide.
type technique struct {
	Technique, Title, Tactic string
	Sample                   string
	// Repeat is how many such events the technique makes (the catalogue's
	// detonation logs, or its description): the sample is classified that
	// many times, as distinct events a second apart.
	Repeat   int
	Rule     string
	Decision classify.Action
	// Reason says why the decision is not an incident.
	Reason string
}

// TestTechniqueCoverage: every technique of the catalogue is decided as
// the table says by the default rules, on its sample (repeated as the
// detonation's count of events), every non-incident decision says why, and
// docs/detections.md is the table (go test ./rules -update rewrites it).
func TestTechniqueCoverage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "detections.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []technique
	if err := json.Unmarshal(data, &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts) < 40 {
		t.Fatalf("%d techniques, want the catalogue's AWS techniques", len(ts))
	}
	set := defaults(t)
	byName := map[string]int{}
	for i, r := range set.Rules {
		byName[r.Name] = i
	}
	incidents := 0
	for _, tc := range ts {
		t.Run(tc.Technique, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "events-samples", tc.Sample))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := event.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := byName[tc.Rule]; !ok {
				t.Fatalf("rule %s is not a default rule", tc.Rule)
			}
			d := decideTimes(t, set, ev, max(tc.Repeat, 1))
			if d.Rule != tc.Rule || d.Action != tc.Decision {
				t.Errorf("sample %s: decided %s by %q (%s), want %s by %s", tc.Sample, d.Action, d.Rule, d.Reason, tc.Decision, tc.Rule)
			}
			if tc.Decision != classify.Incident && tc.Reason == "" {
				t.Errorf("%s is %s, not an incident, without a reason", tc.Technique, tc.Decision)
			}
		})
		if tc.Decision == classify.Incident {
			incidents++
		}
	}
	doc := renderDetections(ts, incidents)
	path := filepath.Join("..", "docs", "detections.md")
	if *update {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./rules -update)", err)
	}
	if string(want) != doc {
		t.Errorf("docs/detections.md is not the coverage table (rerun with -update):\n%s", diff(string(want), doc))
	}
}

func renderDetections(ts []technique, incidents int) string {
	var b strings.Builder
	b.WriteString(`# Detections: the default rules against known attack techniques

The default rules are checked against the AWS techniques of a public attack-simulation catalogue,
Stratus Red Team (its technique ids, grouped by MITRE ATT&CK tactic). For each technique, a
real-shaped sample event (from the catalogue's published detonation logs where it has them, with
this repository's account, Region and times; see events-samples/README.md) is classified by the
default rules as many times as the technique makes such events (from its detonation logs or
description): an incident, or a record or ignore with the reason why not. This page is generated from docs/detections.json by
` + "`go test ./rules -update`" + `, and the same test fails when a rule change changes a decision.

`)
	fmt.Fprintf(&b, "%d of %d techniques open an incident.\n", incidents, len(ts))
	tactic := ""
	for _, tc := range ts {
		if tc.Tactic != tactic {
			tactic = tc.Tactic
			fmt.Fprintf(&b, "\n## %s\n\n| technique | rule | decision | sample × events | why not an incident |\n|---|---|---|---|---|\n", tactic)
		}
		fmt.Fprintf(&b, "| %s (`%s`) | `%s` | %s | `%s` × %d | %s |\n", tc.Title, tc.Technique, tc.Rule, tc.Decision, tc.Sample, max(tc.Repeat, 1), tc.Reason)
	}
	b.WriteString(`
## Tuning and noise

Routine work by service roles and deployments must stay quiet: threshold rules count per principal
(the role or user, not its session), and their counts are set above what an application does at
start. Raise a count, or add a silence for a deployment role, in your own rules file;
` + "`opsloop report`" + ` lists noisy rules with a suggested threshold from your own events.
`)
	return b.String()
}
