package incidents_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/signal"
)

// automationsFake records the runs started.
type automationsFake struct {
	mu   sync.Mutex
	runs map[string]string // token -> document
}

func (a *automationsFake) Start(_ context.Context, document string, params map[string]string, token string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runs == nil {
		a.runs = map[string]string{}
	}
	a.runs[token] = document + " " + params["GroupId"]
	return "exec-" + token[:8], nil
}

const runbookRole = "arn:aws:iam::123456789012:role/opsloop-runbooks"

// TestAutoRun: a rule's autoRun runbook starts once when its incident's
// OpsItem is created (a redelivered detection or a repeat starts nothing;
// a retried start carries the same token), others are only offered, and a
// parameter from the event that is no id, name or ARN stops the run,
// noted on the OpsItem.
func TestAutoRun(t *testing.T) {
	ctx := context.Background()
	runs := &automationsFake{}
	e := newEnv(t, faults{}, incidents.WithAutomations(runs))
	s := sig(signal.Detected, 0, func(s *signal.Signal) {
		s.Runbooks = []signal.Runbook{
			{Document: "AWS-DisablePublicAccessForSecurityGroup", Parameters: map[string]string{"GroupId": "sg-0abc", "AutomationAssumeRole": runbookRole}, AutoRun: true},
			{Document: "AWS-StartEC2Instance", Parameters: map[string]string{"InstanceId": "i-1"}},
			{Document: "AWS-RestartEC2Instance", Parameters: map[string]string{"InstanceId": "i-1; curl evil", "AutomationAssumeRole": runbookRole}, AutoRun: true},
		}
	})
	for range 2 {
		if _, err := e.m.Handle(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.Handle(ctx, sig(signal.Detected, 5)); err != nil {
		t.Fatal(err)
	}
	if len(runs.runs) != 1 {
		t.Fatalf("runs %v; want the safe autoRun runbook once", runs.runs)
	}
	for _, doc := range runs.runs {
		if doc != "AWS-DisablePublicAccessForSecurityGroup sg-0abc" {
			t.Errorf("started %q", doc)
		}
	}
	note := e.ops.Items()[0].OperationalData[incidents.DataAutoRun].Value
	for _, want := range []string{"AWS-DisablePublicAccessForSecurityGroup started: execution exec-", "AWS-RestartEC2Instance not started: parameter InstanceId is not an id, name or ARN"} {
		if !strings.Contains(note, want) {
			t.Errorf("%s = %q, want it to say %q", incidents.DataAutoRun, note, want)
		}
	}
}
