package stack_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/infra/stack"
)

func from(ctx map[string]any) (stack.Config, error) {
	return stack.ConfigFrom(func(k string) (any, bool) { v, ok := ctx[k]; return v, ok })
}

func TestConfigDefaults(t *testing.T) {
	c, err := from(nil)
	if err != nil {
		t.Fatalf("ConfigFrom(empty) error = %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"Prefix", c.Prefix, "opsloop"},
		{"RulesPath", c.RulesPath, "/opsloop/rules"},
		{"RulesDir", c.RulesDir, "rules"},
		{"RulesTTL", c.RulesTTL, 5 * time.Minute},
		{"LogRetentionDays", c.LogRetentionDays, 30},
		{"ReportSchedule", c.ReportSchedule, "cron(0 8 ? * MON *)"},
		{"MaxPatternSize", c.MaxPatternSize, 2048},
		{"Architecture", c.Architecture, "arm64"},
		{"AssetDir", c.AssetDir, "dist"},
		{"RetainData", c.RetainData, true},
		{"ArchiveDays", c.ArchiveDays, 90},
		{"IncidentsConcurrency", c.IncidentsConcurrency, 2},
		{"NotificationEmail", c.NotificationEmail, ""},
		{"Sources", len(c.Sources), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.field, ch.got, ch.want)
		}
	}
}

func TestConfigValues(t *testing.T) {
	tests := []struct {
		name  string
		ctx   map[string]any
		check func(stack.Config) bool
	}{
		{"prefix names the rules path", map[string]any{"prefix": "ops-prod"}, func(c stack.Config) bool { return c.RulesPath == "/ops-prod/rules" }},
		{"sources from -c, commas", map[string]any{"sources": "aws.ec2, aws.cloudwatch"}, func(c stack.Config) bool {
			return slices.Equal(c.Sources, []string{"aws.cloudwatch", "aws.ec2"})
		}},
		{"sources as JSON text", map[string]any{"sources": `["aws.kms","aws.kms"]`}, func(c stack.Config) bool { return slices.Equal(c.Sources, []string{"aws.kms"}) }},
		{"sources from cdk.json", map[string]any{"sources": []any{"aws.health"}}, func(c stack.Config) bool { return slices.Equal(c.Sources, []string{"aws.health"}) }},
		{"numbers as strings", map[string]any{"logRetentionDays": "90", "maxPatternSize": "4096"}, func(c stack.Config) bool {
			return c.LogRetentionDays == 90 && c.MaxPatternSize == 4096
		}},
		{"booleans as strings", map[string]any{"retainData": "false"}, func(c stack.Config) bool { return !c.RetainData }},
		{"email", map[string]any{"notificationEmail": "ops@example.com"}, func(c stack.Config) bool { return c.NotificationEmail == "ops@example.com" }},
		{"unreserved incidents", map[string]any{"incidentsConcurrency": 0.0}, func(c stack.Config) bool { return c.IncidentsConcurrency == 0 }},
		{"an organization", map[string]any{"organizationId": "o-abcdefghij1", "memberOrganizationalUnits": []any{"ou-ab12-cdefgh34", "r-ab12"}, "memberRegions": "eu-west-1,us-east-1"}, func(c stack.Config) bool {
			o := c.Organization
			return o.ID == "o-abcdefghij1" && slices.Equal(o.MemberUnits, []string{"ou-ab12-cdefgh34", "r-ab12"}) &&
				slices.Equal(o.MemberRegions, []string{"eu-west-1", "us-east-1"}) && o.CallAs == "DELEGATED_ADMIN" && c.Stack == stack.StackCentral
		}},
		{"a member stack alone", map[string]any{"stack": "member", "centralBusArn": "arn:aws:events:eu-west-1:111122223333:event-bus/opsloop-ingest", "stackSetCallAs": "SELF"}, func(c stack.Config) bool {
			return c.Stack == stack.StackMember && c.CentralBus == "arn:aws:events:eu-west-1:111122223333:event-bus/opsloop-ingest" && c.Organization.CallAs == "SELF"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := from(tt.ctx)
			if err != nil {
				t.Fatalf("ConfigFrom(%v) error = %v", tt.ctx, err)
			}
			if !tt.check(c) {
				t.Errorf("ConfigFrom(%v) = %+v", tt.ctx, c)
			}
		})
	}
}

func TestConfigRejects(t *testing.T) {
	bads := []struct {
		ctx  map[string]any
		want string
	}{
		{map[string]any{"prefix": "1bad"}, `"prefix"`},
		{map[string]any{"notificationEmail": "not-an-address"}, `"notificationEmail"`},
		{map[string]any{"sources": "aws.ec2,bad source!"}, `"sources"`},
		{map[string]any{"rulesParameterPath": "/aws/rules"}, `"rulesParameterPath"`},
		{map[string]any{"rulesTTL": "forever"}, `"rulesTTL"`},
		{map[string]any{"logRetentionDays": 31.0}, `"logRetentionDays"`},
		{map[string]any{"reportSchedule": "weekly"}, `"reportSchedule"`},
		{map[string]any{"maxPatternSize": 9000.0}, `"maxPatternSize"`},
		{map[string]any{"architecture": "riscv"}, `"architecture"`},
		{map[string]any{"retainData": "maybe"}, `"retainData"`},
		{map[string]any{"incidentsConcurrency": 1.0}, `"incidentsConcurrency"`},
		{map[string]any{"archiveRetentionDays": -1.0}, `"archiveRetentionDays"`},
		{map[string]any{"chatSlackChannelId": "C0456EFGH"}, `"chatSlackChannelId": needs the other ids`},
		{map[string]any{"organizationId": "o-short", "memberOrganizationalUnits": "ou-ab12-cdefgh34"}, `"organizationId": "o-short"`},
		{map[string]any{"organizationId": "o-abcdefghij1"}, `"memberOrganizationalUnits": name at least one`},
		{map[string]any{"organizationId": "o-abcdefghij1", "memberOrganizationalUnits": "ou-ab12-cdefgh34,engineering"}, `"memberOrganizationalUnits": "engineering"`},
		{map[string]any{"memberOrganizationalUnits": "ou-ab12-cdefgh34"}, `"organizationId": is needed`},
		{map[string]any{"organizationId": "o-abcdefghij1", "memberOrganizationalUnits": "r-ab12", "memberRegions": "eu-west-1 Frankfurt"}, `"memberRegions": "Frankfurt"`},
		{map[string]any{"stackSetCallAs": "ADMIN"}, `"stackSetCallAs": "ADMIN"`},
		{map[string]any{"stack": "member"}, `"centralBusArn": "": want the central stack's ingest bus ARN`},
		{map[string]any{"stack": "member", "centralBusArn": "arn:aws:sqs:eu-west-1:111122223333:q"}, `"centralBusArn"`},
		{map[string]any{"centralBusArn": "arn:aws:events:eu-west-1:111122223333:event-bus/opsloop-ingest"}, `"centralBusArn": is for stack=member only`},
		{map[string]any{"stack": "edge"}, `"stack": "edge"`},
		{map[string]any{"chatSlackWorkspaceId": "t-lower", "chatSlackChannelId": "C1"}, `"chatSlackWorkspaceId": "t-lower"`},
		{map[string]any{"chatTeamsTenantId": "11111111-2222-3333-4444-555555555555", "chatTeamsTeamId": "66666666-7777-8888-9999-000000000000",
			"chatTeamsChannelId": "19:abc@thread.tacv2"}, `"chatTeamsChannelId": "19:abc@thread.tacv2": want a Microsoft Teams channel id, URL-encoded`},
	}
	for _, b := range bads {
		c, err := from(b.ctx)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ConfigFrom(%v) = %+v, %v; want an error naming %s", b.ctx, c, err, b.want)
		}
	}
	if c, err := from(map[string]any{"chatSlackWorkspaceId": "T01", "chatSlackChannelId": "C02"}); err != nil || !c.Chat.Enabled() {
		t.Errorf("a Slack channel: %+v, %v; want chat enabled", c.Chat, err)
	}
	if c, _ := from(map[string]any{}); c.Chat.Enabled() {
		t.Error("chat enabled without a channel")
	}
	// Every mistake is reported at once.
	_, err := from(map[string]any{"prefix": "1bad", "architecture": "riscv"})
	if err == nil || !strings.Contains(err.Error(), `"prefix"`) || !strings.Contains(err.Error(), `"architecture"`) {
		t.Errorf("ConfigFrom(two mistakes) error = %v, want both named", err)
	}
}
