package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/internal/routing"
)

// organization makes the stack the central one of an AWS Organization: an
// ingest bus that only the organization's principals may put AWS events on,
// the same routes on it to the classifier, and the StackSet deploying the
// member stack (memberTemplate) to the member units' accounts.
func (s *PipelineStack) organization(cfg Config, patterns []map[string]any, memberTemplate string) error {
	org := cfg.Organization
	st := s.Stack
	s.IngestBus = awsevents.NewEventBus(st, jsii.String("IngestBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(cfg.Prefix + "-ingest"),
		Description:  jsii.String("opsloop: the organization's member accounts forward their AWS events here"),
	})
	// Principals of the organization (the member stacks' forwarding roles)
	// may put events whose source is an AWS service's. EventBridge refuses
	// an aws. source from any caller's own PutEvents, so what arrives was
	// forwarded by a rule from a member account's default bus, and names
	// that account.
	s.IngestBus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OrganizationForwardsAWSEvents"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{s.IngestBus.EventBusArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:PrincipalOrgID": org.ID},
			"StringLike":   map[string]any{"events:source": "aws.*"},
		},
	}))
	// The member routes chose the events already; the same routes here keep
	// a member's own extra rules from sending the classifier more.
	for i, r := range s.Routes {
		desc := fmt.Sprintf("%s %d of %d: %s", routing.IngestDescriptionPrefix, i+1, len(s.Routes), joinInputs(r))
		rule := routeRule(st, fmt.Sprintf("IngestRoute%d", i+1), desc, s.IngestBus, patterns[i])
		rule.AddTarget(awseventstargets.NewLambdaFunction(s.Classifier, s.lambdaTarget(ClassifierName)))
		s.IngestRules = append(s.IngestRules, rule)
	}

	regions := jsii.Strings(org.MemberRegions...)
	if len(org.MemberRegions) == 0 {
		regions = &[]*string{awscdk.Aws_REGION()}
	}
	s.StackSet = awscdk.NewCfnStackSet(st, jsii.String("MemberStackSet"), &awscdk.CfnStackSetProps{
		StackSetName:    jsii.String(cfg.Prefix + "-member"),
		Description:     jsii.String("opsloop member: forwards each member account's routed events to the central opsloop ingest bus"),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		CallAs:          jsii.String(org.CallAs),
		AutoDeployment: &awscdk.CfnStackSet_AutoDeploymentProperty{
			Enabled: jsii.Bool(true), RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		ManagedExecution: map[string]any{"Active": true},
		Capabilities:     jsii.Strings("CAPABILITY_IAM"),
		OperationPreferences: &awscdk.CfnStackSet_OperationPreferencesProperty{
			RegionConcurrencyType:      jsii.String("PARALLEL"),
			MaxConcurrentPercentage:    jsii.Number(25),
			FailureTolerancePercentage: jsii.Number(10),
		},
		Parameters: &[]*awscdk.CfnStackSet_ParameterProperty{
			{ParameterKey: jsii.String(ParamCentralBus), ParameterValue: s.IngestBus.EventBusArn()},
			{ParameterKey: jsii.String(ParamCentralAccount), ParameterValue: awscdk.Aws_ACCOUNT_ID()},
			{ParameterKey: jsii.String(ParamCentralRegion), ParameterValue: awscdk.Aws_REGION()},
		},
		StackInstancesGroup: &[]*awscdk.CfnStackSet_StackInstancesProperty{{
			DeploymentTargets: &awscdk.CfnStackSet_DeploymentTargetsProperty{OrganizationalUnitIds: jsii.Strings(org.MemberUnits...)},
			Regions:           regions,
		}},
	})
	// Inline when it fits; larger templates go up as a file asset of the
	// deployment, which CloudFormation reads when it creates the StackSet.
	if len(memberTemplate) <= MaxStackSetTemplateBody {
		s.StackSet.SetTemplateBody(jsii.String(memberTemplate))
	} else {
		sum := sha256.Sum256([]byte(memberTemplate))
		file := filepath.Join(cfg.AssetDir, "member-"+hex.EncodeToString(sum[:8])+".template.json")
		if err := os.WriteFile(file, []byte(memberTemplate), 0o644); err != nil {
			return fmt.Errorf("member template: %w", err)
		}
		asset := awss3assets.NewAsset(st, jsii.String("MemberTemplate"), &awss3assets.AssetProps{Path: jsii.String(file)})
		s.StackSet.SetTemplateUrl(asset.HttpUrl())
	}
	awscdk.NewCfnOutput(st, jsii.String("IngestBusArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("the bus member stacks forward to (" + KeyCentralBus + " of a member stack deployed alone)"),
		Value:       s.IngestBus.EventBusArn(),
	})
	return nil
}
