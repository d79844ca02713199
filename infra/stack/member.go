package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/opsloop/opsloop/internal/routing"
	"github.com/opsloop/opsloop/internal/rules"
)

// The member stack's parameters: where the central ingest bus is. The
// StackSet passes them; a member stack synthesized alone takes them from
// KeyCentralBus as defaults.
const (
	ParamCentralBus     = "CentralBusArn"
	ParamCentralAccount = "CentralAccount"
	ParamCentralRegion  = "CentralRegion"
)

// MaxStackSetTemplateBody is CloudFormation's limit on a template passed
// inline (TemplateBody), in bytes.
const MaxStackSetTemplateBody = 51200

// MemberStackProps configure NewMemberStack.
type MemberStackProps struct {
	awscdk.StackProps
	Config Config
	// Rules are the rules files whose routes the member forwards; nil
	// reads Config.RulesDir.
	Rules []rules.File
}

// MemberStack runs in every member account and watched Region: the
// generated routes on the account's default bus, forwarding to the central
// ingest bus through a role that may do nothing else, with retries and an
// alarmed dead-letter queue in the member account.
type MemberStack struct {
	awscdk.Stack
	Routes      []routing.Route
	RouteRules  []awsevents.Rule
	Role        awsiam.Role
	DeadLetters awssqs.Queue
	Alarm       awscloudwatch.Alarm
}

// NewMemberStack defines the member stack. It has no assets and needs no
// CDK bootstrap, so a StackSet can deploy its template to any account.
func NewMemberStack(scope constructs.Construct, id string, props *MemberStackProps) (*MemberStack, error) {
	cfg := props.Config
	_, _, routes, patterns, err := generateRoutes(cfg, props.Rules)
	if err != nil {
		return nil, err
	}
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("opsloop member: forwards this account's events that opsloop's rules use to the central opsloop")
	}
	sp.Synthesizer = awscdk.NewBootstraplessSynthesizer(nil)
	sp.AnalyticsReporting = jsii.Bool(false)
	st := awscdk.NewStack(scope, jsii.String(id), &sp)
	m := &MemberStack{Stack: st, Routes: routes}

	var busDefault, accountDefault, regionDefault *string
	if match := busARNRE.FindStringSubmatch(cfg.CentralBus); match != nil {
		busDefault, regionDefault, accountDefault = jsii.String(match[0]), jsii.String(match[1]), jsii.String(match[2])
	}
	busParam := awscdk.NewCfnParameter(st, jsii.String(ParamCentralBus), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: busDefault,
		Description:    jsii.String("The central opsloop ingest bus (the central stack's IngestBusArn output)"),
		AllowedPattern: jsii.String(busARNRE.String()),
	})
	accountParam := awscdk.NewCfnParameter(st, jsii.String(ParamCentralAccount), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: accountDefault,
		Description:    jsii.String("The central opsloop account: its own events reach the pipeline without forwarding"),
		AllowedPattern: jsii.String(`^[0-9]{12}$`),
	})
	regionParam := awscdk.NewCfnParameter(st, jsii.String(ParamCentralRegion), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: regionDefault,
		Description:    jsii.String("The central opsloop Region"),
		AllowedPattern: jsii.String(regionRE.String()),
	})
	// Where the central stack itself runs, its own routes already carry
	// the events: forwarding them too would deliver each twice.
	forwards := awscdk.NewCfnCondition(st, jsii.String("NotCentral"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionAnd(
			awscdk.Fn_ConditionEquals(awscdk.Aws_ACCOUNT_ID(), accountParam.ValueAsString()),
			awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), regionParam.ValueAsString()),
		)),
	})

	central := awsevents.EventBus_FromEventBusArn(st, jsii.String("CentralBus"), busParam.ValueAsString())
	m.Role = awsiam.NewRole(st, jsii.String("ForwardRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("opsloop member: EventBridge puts this account's routed events on the central opsloop ingest bus, and nothing else"),
	})
	// The bus targets grant the role events:PutEvents on the central bus,
	// its only permission.
	m.DeadLetters = awssqs.NewQueue(st, jsii.String("ForwardDeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})

	// One statement for all the routes (the rules of this account), not
	// one per rule: the template must fit a StackSet's inline limit.
	m.DeadLetters.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ForwardingRulesKeepFailedEvents"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{m.DeadLetters.QueueArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}))
	for i := range routes {
		// Short descriptions, for the same reason; the central stack's
		// routes name their rules.
		rule := routeRule(st, fmt.Sprintf("Route%d", i+1), fmt.Sprintf("%s %d of %d", routing.DescriptionPrefix, i+1, len(routes)), nil, patterns[i])
		rule.AddTarget(awseventstargets.NewEventBus(central, &awseventstargets.EventBusProps{Role: m.Role}))
		cfn := rule.Node().DefaultChild().(awsevents.CfnRule)
		cfn.AddPropertyOverride(jsii.String("Targets.0.RetryPolicy"), map[string]any{
			"MaximumEventAgeInSeconds": targetMaxEventAgeHours * 3600,
			"MaximumRetryAttempts":     targetRetryAttempts,
		})
		cfn.AddPropertyOverride(jsii.String("Targets.0.DeadLetterConfig"), map[string]any{"Arn": m.DeadLetters.QueueArn()})
		cfn.CfnOptions().SetCondition(forwards)
		m.RouteRules = append(m.RouteRules, rule)
	}

	// The alarm opens an OpsItem in the member account itself: when
	// forwarding fails, the central pipeline cannot be told.
	m.Alarm = awscloudwatch.NewAlarm(st, jsii.String("ForwardingFailed"), &awscloudwatch.AlarmProps{
		Metric:             m.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		AlarmDescription:   jsii.String("opsloop member: events could not be forwarded to the central opsloop bus and wait in the dead-letter queue (14 days); redrive them with opsloop redrive once the cause is fixed"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	m.Alarm.AddAlarmAction(awscloudwatchactions.NewSsmAction(awscloudwatchactions.OpsItemSeverity_HIGH, awscloudwatchactions.OpsItemCategory_AVAILABILITY))

	awscdk.NewCfnOutput(st, jsii.String("DeadLetterQueueUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("events not forwarded: opsloop redrive --queue"), Value: m.DeadLetters.QueueUrl(),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(m.DeadLetters, &[]*cdknag.NagPackSuppression{suppression("AwsSolutions-SQS3",
		"This queue is the dead-letter queue of the forwarding rules' target: it keeps the events EventBridge could not put on the central bus.")}, jsii.Bool(true))
	return m, nil
}

// MemberTemplate synthesizes the member stack on its own, with cdk-nag's
// checks, and returns its template as compact JSON, without the CDK's
// metadata. It fails on a cdk-nag finding (error or warning), as `cdk
// synth --strict` does.
func MemberTemplate(cfg Config, files []rules.File) (string, error) {
	// An output directory of its own: under `cdk synth`, the app's would
	// be the CLI's, and this synth would overwrite its manifest.
	out, err := os.MkdirTemp("", "opsloop-member-")
	if err != nil {
		return "", fmt.Errorf("member template: %w", err)
	}
	defer os.RemoveAll(out)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	m, err := NewMemberStack(app, cfg.Prefix+"-member", &MemberStackProps{Config: cfg, Rules: files})
	if err != nil {
		return "", err
	}
	Check(app)
	art := app.Synth(nil).GetStackArtifact(m.ArtifactId())
	var findings []string
	for _, msg := range *art.Messages() {
		if msg.Level == cxapi.SynthesisMessageLevel_ERROR || msg.Level == cxapi.SynthesisMessageLevel_WARNING {
			findings = append(findings, fmt.Sprintf("%s: %v", *msg.Id, msg.Entry.Data))
		}
	}
	if len(findings) > 0 {
		return "", fmt.Errorf("the member stack has findings:\n  %s", strings.Join(findings, "\n  "))
	}
	tpl, ok := art.Template().(map[string]any)
	if !ok {
		return "", fmt.Errorf("member template: not a JSON object")
	}
	// Metadata (construct paths, cdk-nag's suppressions) is for the CDK
	// only, and the template must fit a StackSet's inline limit.
	if res, ok := tpl["Resources"].(map[string]any); ok {
		for _, r := range res {
			if r, ok := r.(map[string]any); ok {
				delete(r, "Metadata")
			}
		}
	}
	body, err := json.Marshal(tpl)
	if err != nil {
		return "", fmt.Errorf("member template: %w", err)
	}
	return string(body), nil
}
