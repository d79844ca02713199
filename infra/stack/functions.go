package stack

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/s3"
	"github.com/opsloop/opsloop/internal/lambdaenv"
)

// function describes one Lambda function.
type function struct {
	name        string
	description string
	memoryMB    float64
	timeout     time.Duration
	env         map[string]*string
	reserved    int
	// async functions are invoked by EventBridge: Lambda retries a failed
	// invocation twice, then keeps the event in the function's DLQ.
	async bool
}

// newFunction defines a function with its own role (no managed policies,
// only the statements added for it), its own log group, JSON logs and
// X-Ray tracing.
func (s *PipelineStack) newFunction(f function) awslambda.Function {
	st := s.Stack
	id := strings.ToUpper(f.name[:1]) + f.name[1:]
	logs := awslogs.NewLogGroup(st, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     s.Config.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(st, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("opsloop " + f.name + " function"),
	})
	logs.GrantWrite(role)
	arch := awslambda.Architecture_ARM_64()
	if s.Config.Architecture == "x86_64" {
		arch = awslambda.Architecture_X86_64()
	}
	props := &awslambda.FunctionProps{
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  arch,
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(s.Config.AssetDir, f.name)), nil),
		Description:   jsii.String(f.description),
		MemorySize:    jsii.Number(f.memoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(f.timeout.Seconds())),
		Environment:   &f.env,
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Tracing:       awslambda.Tracing_ACTIVE,
	}
	if f.reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(f.reserved))
	}
	if f.async {
		dlq := s.deadLetterQueue(id + "DeadLetters")
		s.DeadLetterQueues[f.name] = dlq
		props.DeadLetterQueue = dlq
		props.RetryAttempts = jsii.Number(2)
		props.MaxEventAge = awscdk.Duration_Hours(jsii.Number(targetMaxEventAgeHours))
	}
	return awslambda.NewFunction(st, jsii.String(id), props)
}

// statement allows actions on resources.
func statement(sid string, actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// functions defines the three functions and exactly the permissions each
// one's job needs.
func (s *PipelineStack) functions(cfg Config) {
	st := s.Stack
	table := s.Table.TableArn()
	rulesPath := strings.TrimPrefix(cfg.RulesPath, "/")
	// GetParametersByPath is authorized on the path itself; the parameters
	// under it are named by the deployment, one per part of a rules file.
	rulesParams := []*string{
		st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(rulesPath)}),
		st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(rulesPath + "/*")}),
	}
	opsItems := st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ssm"), Resource: jsii.String("opsitem"), ResourceName: jsii.String("*")})
	// withRules adds what a function that reads the rules needs to find them.
	withRules := func(env map[string]*string) map[string]*string {
		env[lambdaenv.EnvRulesPath] = jsii.String(cfg.RulesPath)
		env[lambdaenv.EnvRulesTTL] = jsii.String(cfg.RulesTTL.String())
		return env
	}

	// The classifier keeps delivery dedup, threshold counters and the change
	// log (single-item reads, conditional writes, counter updates, range
	// reads of counters) and publishes incidents and recoveries. Its
	// downstreams (DynamoDB on demand, PutEvents for the few events that
	// matter) need no concurrency cap.
	s.Classifier = s.newFunction(function{
		name:        ClassifierName,
		description: "opsloop: classifies the account's events with the rules",
		memoryMB:    256,
		timeout:     30 * time.Second,
		env:         withRules(map[string]*string{lambdaenv.EnvTable: s.Table.TableName(), lambdaenv.EnvBus: s.Bus.EventBusName()}),
		async:       true,
	})
	// DeleteItem forgets a delivery whose classification failed, so that
	// the retry counts the event.
	s.Classifier.AddToRolePolicy(statement("State", []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}, table))
	s.Classifier.AddToRolePolicy(statement("Rules", []string{"ssm:GetParametersByPath"}, rulesParams...))
	s.Bus.GrantPutEventsTo(s.Classifier, nil)

	// The incidents function owns the OpsItem lifecycle. Its concurrency
	// is capped because every OpsCenter call counts against Systems
	// Manager's API rate for the whole account and Region, shared with the
	// console and every other tool, and OpsCenter publishes no per-action
	// rate to plan against. Two workers, each taking a batch of up to 10
	// signals in turn with the SDK's backoff, keep opsloop to a handful of
	// SSM calls per second even in a storm; storms coalesce per fingerprint,
	// so what two workers cannot take waits in the queue (whose age is
	// alarmed) instead of being throttled into the dead-letter queue. Two
	// is also the smallest concurrency an SQS event source can be held to.
	incidentsTimeout := 2 * time.Minute
	s.Incidents = s.newFunction(function{
		name:        IncidentsName,
		description: "opsloop: opens, updates and resolves OpsItems for incidents",
		memoryMB:    256,
		timeout:     incidentsTimeout,
		// The signals carry the rule's response plan, so this function
		// needs no access to the rules.
		env: map[string]*string{
			lambdaenv.EnvTable: s.Table.TableName(),
			lambdaenv.EnvBus:   s.Bus.EventBusName(),
			lambdaenv.EnvTopic: s.Topic.TopicArn(),
		},
		reserved: cfg.IncidentsConcurrency,
	})
	s.Incidents.AddToRolePolicy(statement("State", []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}, table))
	// CreateOpsItem needs ssm:AddTagsToResource only when it sets Tags,
	// which opsloop does not.
	s.Incidents.AddToRolePolicy(statement("OpsItems", []string{"ssm:CreateOpsItem", "ssm:GetOpsItem", "ssm:UpdateOpsItem"}, opsItems))
	// DescribeOpsItems (finding an OpsItem by its dedup string after a lost
	// write) is a list action: IAM authorizes it on no resource but "*".
	s.findOpsItems = awsiam.NewPolicy(st, jsii.String("IncidentsFindOpsItems"), &awsiam.PolicyProps{
		Statements: &[]awsiam.PolicyStatement{statement("FindOpsItems", []string{"ssm:DescribeOpsItems"}, jsii.String("*"))},
		Roles:      &[]awsiam.IRole{s.Incidents.Role()},
	})
	s.Bus.GrantPutEventsTo(s.Incidents, nil)

	incidentsDLQ := s.deadLetterQueue("IncidentsDeadLetters")
	s.DeadLetterQueues[IncidentsName] = incidentsDLQ
	s.IncidentsQueue = s.queue("IncidentsQueue", &awssqs.QueueProps{
		// Six times the function's timeout, as Lambda advises for SQS.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * incidentsTimeout.Seconds())),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: incidentsDLQ, MaxReceiveCount: jsii.Number(5)},
	})
	workers := max(2, cfg.IncidentsConcurrency)
	s.Incidents.AddEventSource(awslambdaeventsources.NewSqsEventSource(s.IncidentsQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(float64(workers)),
	}))

	// The problems function records problems from incidents' recurrence,
	// reads OpsItems for resolution times, links the OpsItems of one problem
	// as related OpsItems and writes the weekly review.
	s.Problems = s.newFunction(function{
		name:        ProblemsName,
		description: "opsloop: records recurring incidents as problems and writes the weekly review",
		memoryMB:    512,
		timeout:     5 * time.Minute,
		env: withRules(map[string]*string{lambdaenv.EnvTable: s.Table.TableName(), lambdaenv.EnvReportBucket: s.Reports.BucketName(), lambdaenv.EnvTopic: s.Topic.TopicArn(),
			lambdaenv.EnvIncidentsRole: s.Incidents.Role().RoleName()}),
		async: true,
	})
	// DeleteItem gives up the claim on sending a review that failed.
	s.Problems.AddToRolePolicy(statement("State", []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"},
		table, jsii.String(*table+"/index/"+dynamodb.StatusIndex)))
	s.Problems.AddToRolePolicy(statement("Rules", []string{"ssm:GetParametersByPath"}, rulesParams...))
	// GetOpsItem: a resolution in OpsCenter names only the OpsItem, whose
	// data says which incident it is of (problems.OpsItems).
	s.Problems.AddToRolePolicy(statement("OpsItems", []string{"ssm:GetOpsItem", "ssm:UpdateOpsItem"}, opsItems))
	s.Problems.AddToRolePolicy(statement("Reports", []string{"s3:PutObject", "s3:GetObject"}, s.Reports.ArnForObjects(jsii.String(s3.DefaultPrefix+"*"))))
	// The previous review is found by listing the reviews' prefix only.
	s.Problems.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListReports"),
		Actions:    jsii.Strings("s3:ListBucket"),
		Resources:  jsii.Strings(*s.Reports.BucketArn()),
		Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": []string{s3.DefaultPrefix + "*"}}},
	}))
	// The weekly review's text summary goes to the topic, which is
	// encrypted: publishing needs a data key of the topic's key.
	s.Problems.AddToRolePolicy(statement("Notify", []string{"sns:Publish"}, s.Topic.TopicArn()))
	s.Problems.AddToRolePolicy(statement("NotifyKey", []string{"kms:GenerateDataKey", "kms:Decrypt"}, s.Topic.MasterKey().KeyArn()))
}
