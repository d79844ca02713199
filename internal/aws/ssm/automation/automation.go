// Package automation is incidents.Automations over Systems Manager
// Automation: StartAutomationExecution through the AWS SDK, with the
// run's idempotency token, so a start repeated after a lost answer starts
// nothing new.
package automation

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/opsloop/opsloop/internal/incidents"
)

// API is the part of the SSM client the Client uses.
type API interface {
	StartAutomationExecution(ctx context.Context, in *ssm.StartAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.StartAutomationExecutionOutput, error)
}

// Client starts automations.
type Client struct{ api API }

var _ incidents.Automations = (*Client)(nil)

// New returns a Client over api.
func New(api API) *Client { return &Client{api: api} }

// Start implements incidents.Automations.
func (c *Client) Start(ctx context.Context, document string, params map[string]string, token string) (string, error) {
	in := &ssm.StartAutomationExecutionInput{DocumentName: aws.String(document), Parameters: map[string][]string{}}
	for k, v := range params {
		in.Parameters[k] = []string{v}
	}
	if token != "" {
		in.ClientToken = aws.String(token)
	}
	out, err := c.api.StartAutomationExecution(ctx, in)
	if err != nil {
		return "", fmt.Errorf("start automation %s: %w", document, err)
	}
	return aws.ToString(out.AutomationExecutionId), nil
}
