package replay_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/local/replay"
	"github.com/opsloop/opsloop/internal/problems"
)

// TestReplayRecordsProblem is the problems done-criterion: one failure
// recurring after a configuration change is one problem, whose top
// suspected cause is that change.
func TestReplayRecordsProblem(t *testing.T) {
	scenario := filepath.Join("..", "..", "..", "events-samples", "scenarios", "sg-change-then-recurring-alarm")
	rep, err := replay.Run(context.Background(), defaults(t), []string{scenario}, nil)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if len(rep.Problems) != 1 {
		t.Fatalf("replay recorded %d problems, want 1: %+v", len(rep.Problems), rep.Problems)
	}
	p := rep.Problems[0]
	if p.Rule != "alarm" || p.Status != problems.Open || p.Incidents != 4 || len(p.OpsItems) != 4 || p.Reopened != 0 {
		t.Errorf("problem = %s %s, %d incidents, OpsItems %v; want alarm, open, 4", p.Rule, p.Status, p.Incidents, p.OpsItems)
	}
	if p.MTTR() != 40*time.Minute || p.ResolvedIncidents != 4 {
		t.Errorf("MTTR = %s over %d, want 40m over 4 resolved incidents", p.MTTR(), p.ResolvedIncidents)
	}
	tests := []struct {
		event, principal string
		preceded         int
	}{
		{"AuthorizeSecurityGroupIngress", "arn:aws:iam::123456789012:user/bob", 3},
		{"RebootInstances", "arn:aws:iam::123456789012:user/alice", 2},
	}
	if len(p.SuspectedCauses) != len(tests) {
		t.Fatalf("suspected causes = %+v, want %d (nothing from other resources or out of the lookback)", p.SuspectedCauses, len(tests))
	}
	for i, tt := range tests {
		c := p.SuspectedCauses[i]
		if c.EventName != tt.event || c.Principal != tt.principal || c.Incidents != tt.preceded {
			t.Errorf("SuspectedCauses[%d] = %s by %s before %d; want %s by %s before %d", i, c.EventName, c.Principal, c.Incidents, tt.event, tt.principal, tt.preceded)
		}
	}
	if c := p.SuspectedCauses[0]; c.Via == "" {
		t.Errorf("the security group change is related to the instance, want Via set: %+v", c)
	}
	l := rep.Learned
	if len(l.Incidents) != 5 || l.Incidents[0].Rule != "security-group-open-to-world" || l.Incidents[0].Resolved.IsZero() {
		t.Errorf("learned incidents = %+v, want 5, the security group's first and resolved", l.Incidents)
	}
	if got := l.Activity["alarm"].Matched; got != 4 {
		t.Errorf("activity of rule alarm: matched %d, want 4", got)
	}
	if len(l.Store.All()) != 2 {
		t.Errorf("the problems store holds %d records, want the problem and the security group's candidate", len(l.Store.All()))
	}
}
