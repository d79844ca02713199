package stack

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/infra/ruleparams"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/routing"
	"github.com/opsloop/opsloop/internal/rules"
)

// PipelineStackProps configure NewPipelineStack.
type PipelineStackProps struct {
	awscdk.StackProps
	Config Config
	// Rules are the rules files to deploy; nil reads Config.RulesDir.
	Rules []rules.File
	// MemberTemplate is the member stack's template (MemberTemplate), for
	// an organization's StackSet.
	MemberTemplate string
}

// PipelineStack is the deployed pipeline, with the parts tests and other
// stacks refer to.
type PipelineStack struct {
	awscdk.Stack
	Config     Config
	Classifier awslambda.Function
	Incidents  awslambda.Function
	Problems   awslambda.Function
	// Routes are the generated patterns, one per EventBridge rule in
	// RouteRules, on the default bus, whose target is Classifier.
	Routes     []routing.Route
	RouteRules []awsevents.Rule
	// Parameters are the rules as SSM parameters under Config.RulesPath.
	Parameters     []ruleparams.Parameter
	Table          awsdynamodb.Table
	Bus            awsevents.EventBus
	IncidentsQueue awssqs.Queue
	// IngestBus, IngestRules and StackSet exist in an organization's
	// central stack.
	IngestBus   awsevents.EventBus
	IngestRules []awsevents.Rule
	StackSet    awscdk.CfnStackSet
	// autoRunDocuments are the documents the incidents function may start.
	autoRunDocuments []string
	// memberOpsItemsGranted: the rules create OpsItems in member accounts.
	memberOpsItemsGranted bool
	// ChatTopic and ChatRole exist when a chat channel is configured.
	ChatTopic awssns.Topic
	ChatRole  awsiam.Role
	// DeadLetterQueues by the function whose failed events they keep
	// (and ChatName's, of chat notifications).
	DeadLetterQueues map[string]awssqs.Queue
	Topic            awssns.Topic
	Reports          awss3.Bucket

	findOpsItems awsiam.Policy
}

// eventSource is the source of opsloop's own events.
const eventSource = signal.Source

// Function names, also the directories of their bundles.
const (
	ClassifierName = "classifier"
	IncidentsName  = "incidents"
	ProblemsName   = "problems"
)

// Retries of EventBridge targets. EventBridge retries failed deliveries with
// backoff; events older than the maximum age, or past the attempts, go to
// the target's dead-letter queue, whose depth is alarmed and which
// `opsloop redrive` replays.
const (
	targetMaxEventAgeHours = 1
	targetRetryAttempts    = 16
)

// NewPipelineStack validates the rules, generates the routes and the rules
// parameters, and defines the whole pipeline. Invalid rules fail with the
// validator's errors, each with its file:line.
func NewPipelineStack(scope constructs.Construct, id string, props *PipelineStackProps) (*PipelineStack, error) {
	cfg := props.Config
	files, set, routes, patterns, err := generateRoutes(cfg, props.Rules)
	if err != nil {
		return nil, err
	}
	params, err := ruleparams.Split(cfg.RulesPath, files, ruleparams.StandardTierMax)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{ClassifierName, IncidentsName, ProblemsName} {
		if err := checkBundle(cfg.AssetDir, name); err != nil {
			return nil, err
		}
	}

	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("opsloop: routes the account's events to incidents in OpsCenter and problems")
	}
	st := awscdk.NewStack(scope, jsii.String(id), &sp)
	s := &PipelineStack{Stack: st, Config: cfg, Routes: routes, Parameters: params, DeadLetterQueues: map[string]awssqs.Queue{}}
	retain := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		retain = awscdk.RemovalPolicy_RETAIN
	}

	s.Table = awsdynamodb.NewTable(st, jsii.String("State"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(dynamodb.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String(dynamodb.SortKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		TimeToLiveAttribute: jsii.String(dynamodb.TTLAttribute),
		RemovalPolicy:       retain,
		DeletionProtection:  jsii.Bool(cfg.RetainData),
	})
	s.Table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(dynamodb.StatusIndex),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(dynamodb.StatusIndexPartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(dynamodb.StatusIndexSortKey), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})

	s.Reports = awss3.NewBucket(st, jsii.String("Reports"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-reports"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(400)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy: retain,
	})

	s.Topic = s.notifications(cfg)
	s.Bus = awsevents.NewEventBus(st, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(cfg.Prefix),
		Description:  jsii.String("opsloop's own events: incidents detected, recovered, opened and resolved"),
	})
	s.Bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		ArchiveName:  jsii.String(cfg.Prefix + "-events"),
		Description:  jsii.String("opsloop's own events, kept to replay incidents"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(eventSource)},
		Retention:    awscdk.Duration_Days(jsii.Number(float64(cfg.ArchiveDays))),
	})

	for i, p := range params {
		awsssm.NewStringParameter(st, jsii.String(fmt.Sprintf("Rules%d", i)), &awsssm.StringParameterProps{
			ParameterName: jsii.String(p.Name),
			StringValue:   jsii.String(p.Value),
			Tier:          awsssm.ParameterTier_STANDARD,
			Description:   jsii.String(truncate(fmt.Sprintf("opsloop rules from %s: %s", p.File, strings.Join(p.Rules, ", ")), 1024)),
		})
	}

	s.functions(cfg)
	s.autoRun(set)
	s.memberOpsItems(set)
	s.closeBus(cfg)
	s.routing(patterns)
	if cfg.Organization.ID != "" {
		if props.MemberTemplate == "" {
			return nil, fmt.Errorf("an organization's central stack needs the member stack's template")
		}
		if err := s.organization(cfg, patterns, props.MemberTemplate); err != nil {
			return nil, err
		}
	}
	s.busRules(cfg)
	s.chat(cfg)
	s.monitoring(cfg)
	s.outputs()
	s.suppressions()
	return s, nil
}

// generateRoutes validates the rules (files; nil reads cfg.RulesDir) and
// generates their routes.
func generateRoutes(cfg Config, files []rules.File) ([]rules.File, *rules.Set, []routing.Route, []map[string]any, error) {
	if files == nil {
		var err error
		if files, err = readRules(cfg.RulesDir); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	set, err := rules.Build(files)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("the rules are invalid:\n%w", err)
	}
	routes, err := routing.Patterns(set, routing.Options{MaxPatternSize: cfg.MaxPatternSize, Sources: cfg.Sources})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(routes) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("no rule records or opens incidents for the enabled sources, so no event would reach the classifier")
	}
	patterns, err := decodePatterns(routes)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return files, set, routes, patterns, nil
}

// closeBus lets only the deployment's own functions (and the listed
// forwarders) put events on the opsloop bus: a forged "Incident Recovered"
// would resolve a real OpsItem. An identity policy allowing events:PutEvents
// on "*" does not override this explicit deny. IfExists spares the
// deliveries EventBridge makes itself, such as archive replays, which carry
// no principal ARN.
func (s *PipelineStack) closeBus(cfg Config) {
	publishers := []*string{s.Classifier.Role().RoleArn(), s.Incidents.Role().RoleArn()}
	publishers = append(publishers, *jsii.Strings(cfg.BusPublishers...)...)
	s.Bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyOpsloopPublishes"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{s.Bus.EventBusArn()},
		Conditions: &map[string]any{"ArnNotEqualsIfExists": map[string]any{"aws:PrincipalArn": publishers}},
	}))
}

// outputs name what operators' commands take: the table of `opsloop
// problems --table` and the dead-letter queues of `opsloop redrive --queue`.
func (s *PipelineStack) outputs() {
	out := func(id, desc string, value *string) {
		awscdk.NewCfnOutput(s.Stack, jsii.String(id), &awscdk.CfnOutputProps{Description: jsii.String(desc), Value: value})
	}
	out("TableName", "opsloop's DynamoDB table: opsloop problems --table", s.Table.TableName())
	out("BusName", "opsloop's event bus", s.Bus.EventBusName())
	out("TopicArn", "the notification topic", s.Topic.TopicArn())
	out("ReportsBucket", "the weekly reviews", s.Reports.BucketName())
	names := make([]string, 0, len(s.DeadLetterQueues))
	for name := range s.DeadLetterQueues {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		out(exportName(name)+"DeadLetterQueueUrl", "failed "+name+" events: opsloop redrive --queue", s.DeadLetterQueues[name].QueueUrl())
	}
}

// exportName turns a function name into an output id part ("incidents" -> "Incidents").
func exportName(name string) string {
	if name == "" {
		return name
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// notifications is the topic alarms and OpsCenter notify, encrypted with a
// key CloudWatch and OpsCenter may use (the AWS managed SNS key admits
// neither).
func (s *PipelineStack) notifications(cfg Config) awssns.Topic {
	key := awskms.NewKey(s.Stack, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String("opsloop: encrypts the notification topic"),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AlarmsAndOpsCenterPublishToTheTopic"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil), awsiam.NewServicePrincipal(jsii.String("ssm.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
	}), jsii.Bool(false))
	topic := awssns.NewTopic(s.Stack, jsii.String("Notifications"), &awssns.TopicProps{
		DisplayName: jsii.String("opsloop"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// The stack's own alarms (OpsItem limit, dead letters, rules reloads)
	// publish as CloudWatch, from this account's alarms only.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": s.Account()},
			"ArnLike":      map[string]any{"aws:SourceArn": s.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})},
		},
	}))
	// OpsCenter publishes an OpsItem's notifications itself, as the
	// Systems Manager service, to the topics the OpsItem names.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OpsCenterPublishes"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("ssm.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
	}))
	if cfg.NotificationEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.NotificationEmail), nil))
	}
	return topic
}

// queue is an encrypted queue that refuses unencrypted transport.
func (s *PipelineStack) queue(id string, props *awssqs.QueueProps) awssqs.Queue {
	props.Encryption = awssqs.QueueEncryption_SQS_MANAGED
	props.EnforceSSL = jsii.Bool(true)
	return awssqs.NewQueue(s.Stack, jsii.String(id), props)
}

// deadLetterQueue keeps what failed for two weeks, SQS's longest.
func (s *PipelineStack) deadLetterQueue(id string) awssqs.Queue {
	return s.queue(id, &awssqs.QueueProps{RetentionPeriod: awscdk.Duration_Days(jsii.Number(14))})
}

// readRules reads the rules files of dir as rules.Load does: its *.json
// files, recursively, in name order, schema files excepted.
func readRules(dir string) ([]rules.File, error) {
	var files []rules.File
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".schema.json") {
			return nil
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		files = append(files, rules.File{Name: filepath.ToSlash(name), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rules %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read rules %s: no rules files", dir)
	}
	return files, nil
}

// checkBundle fails early, and clearly, when a function was not built.
func checkBundle(dir, name string) error {
	p := filepath.Join(dir, name, "bootstrap")
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return fmt.Errorf("%s is missing: build the functions with scripts/build.sh (cdk synth and cdk deploy run it first); functions/%s must have a main.go", p, name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
