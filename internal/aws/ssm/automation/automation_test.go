package automation_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/ssm/automation"
)

// TestStart: against the local SSM endpoint, a run's parameters go as
// SSM's lists, and a start repeated with its token starts nothing new.
func TestStart(t *testing.T) {
	ctx := context.Background()
	s := awstest.NewSSM()
	defer s.Close()
	c := automation.New(s.Client())
	params := map[string]string{"InstanceId": "i-0abc", "AutomationAssumeRole": "arn:aws:iam::123456789012:role/opsloop-runbooks"}
	const token = "0f0e0d0c-0b0a-4909-8807-060504030201"
	first, err := c.Start(ctx, "AWS-StartEC2Instance", params, token)
	if err != nil || first == "" {
		t.Fatalf("Start = %q, %v", first, err)
	}
	again, err := c.Start(ctx, "AWS-StartEC2Instance", params, token)
	if err != nil || again != first {
		t.Fatalf("Start again = %q, %v; want %q", again, err, first)
	}
	runs := s.Executions()
	if len(runs) != 1 || runs[0].Parameters["InstanceId"][0] != "i-0abc" || runs[0].ClientToken != token {
		t.Fatalf("executions %+v; want one with the instance id and the token", runs)
	}
	if _, err := c.Start(ctx, "AWS-StartEC2Instance", params, "not-a-uuid"); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Errorf("Start with a bad token = %v, want SSM's ValidationException", err)
	}
}
