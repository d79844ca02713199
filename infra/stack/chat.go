package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awschatbot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/internal/incidents"
)

// Chat is where incidents are coordinated: a Slack channel or a Microsoft
// Teams channel of Amazon Q Developer in chat applications (AWS Chatbot),
// whose workspace or team an administrator has authorized in the console
// first (the one step CloudFormation cannot do).
type Chat struct {
	SlackWorkspaceID, SlackChannelID           string
	TeamsTenantID, TeamsTeamID, TeamsChannelID string
}

// Enabled says a chat channel is configured.
func (c Chat) Enabled() bool { return c.SlackChannelID != "" || c.TeamsChannelID != "" }

// ChatName is the name of the dead-letter queue of chat notifications.
const ChatName = "chat"

// chat sends incidents to the configured chat channel: a topic of its own
// (the notification topic carries OpsCenter's and the review's messages,
// which are not in the chat format) that EventBridge fills with the chat
// message "Incident Opened" and "Incident Escalated" carry, and a channel
// configuration whose users are held to read-only by its guardrail and
// may read OpsItems.
func (s *PipelineStack) chat(cfg Config) {
	if !cfg.Chat.Enabled() {
		return
	}
	st := s.Stack
	key := s.Topic.MasterKey()
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EventBridgePublishesChat"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
	}), jsii.Bool(false))
	s.ChatTopic = awssns.NewTopic(st, jsii.String("ChatNotifications"), &awssns.TopicProps{
		DisplayName: jsii.String("opsloop chat"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	dlq := s.deadLetterQueue("ChatDeadLetters")
	s.DeadLetterQueues[ChatName] = dlq
	rule := awsevents.NewRule(st, jsii.String("IncidentChat"), &awsevents.RuleProps{
		EventBus:    s.Bus,
		Description: jsii.String("opsloop: incidents opened and escalated, to the chat channel"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(eventSource),
			DetailType: jsii.Strings(incidents.DetailOpened, incidents.DetailEscalated),
			Detail:     &map[string]any{"notification": map[string]any{"source": []any{"custom"}}},
		},
	})
	rule.AddTarget(awseventstargets.NewSnsTopic(s.ChatTopic, &awseventstargets.SnsTopicProps{
		Message:         awsevents.RuleTargetInput_FromEventPath(jsii.String("$.detail.notification")),
		DeadLetterQueue: dlq,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(targetMaxEventAgeHours)),
		RetryAttempts:   jsii.Number(targetRetryAttempts),
	}))
	// Chat users may read an OpsItem (@aws ssm get-ops-item) and nothing
	// else through the channel; notifications need no permission.
	role := awsiam.NewRole(st, jsii.String("ChatRole"), &awsiam.RoleProps{
		Description: jsii.String("opsloop: what chat users may read through Amazon Q Developer in chat applications"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("chatbot.amazonaws.com"), nil),
	})
	role.AddToPolicy(statement("ReadOpsItems", []string{"ssm:GetOpsItem"}, s.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ssm"), Resource: jsii.String("opsitem"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})))
	s.ChatRole = role
	guardrail := jsii.Strings("arn:" + *awscdk.Aws_PARTITION() + ":iam::aws:policy/ReadOnlyAccess")
	topics := &[]*string{s.ChatTopic.TopicArn()}
	if c := cfg.Chat; c.SlackChannelID != "" {
		awschatbot.NewCfnSlackChannelConfiguration(st, jsii.String("SlackChannel"), &awschatbot.CfnSlackChannelConfigurationProps{
			ConfigurationName: jsii.String(cfg.Prefix + "-slack"),
			IamRoleArn:        role.RoleArn(),
			SlackWorkspaceId:  jsii.String(c.SlackWorkspaceID),
			SlackChannelId:    jsii.String(c.SlackChannelID),
			SnsTopicArns:      &[]any{s.ChatTopic.TopicArn()},
			GuardrailPolicies: guardrail,
			LoggingLevel:      jsii.String("ERROR"),
			UserRoleRequired:  jsii.Bool(false),
		})
	}
	if c := cfg.Chat; c.TeamsChannelID != "" {
		awschatbot.NewCfnMicrosoftTeamsChannelConfiguration(st, jsii.String("TeamsChannel"), &awschatbot.CfnMicrosoftTeamsChannelConfigurationProps{
			ConfigurationName: jsii.String(cfg.Prefix + "-teams"),
			IamRoleArn:        role.RoleArn(),
			TeamsTenantId:     jsii.String(c.TeamsTenantID),
			TeamId:            jsii.String(c.TeamsTeamID),
			TeamsChannelId:    jsii.String(c.TeamsChannelID),
			SnsTopicArns:      topics,
			GuardrailPolicies: guardrail,
			LoggingLevel:      jsii.String("ERROR"),
			UserRoleRequired:  jsii.Bool(false),
		})
	}
}
