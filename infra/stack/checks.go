package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"strings"

	"github.com/opsloop/opsloop/internal/aws/s3"
)

// Check applies cdk-nag's AwsSolutions rules to everything under scope (the
// app): every finding not suppressed with a reason fails as an error or a
// warning annotation.
func Check(scope constructs.Construct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

func suppression(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	return s
}

// suppressions records, next to each resource, why an AwsSolutions finding
// does not apply to it.
func (s *PipelineStack) suppressions() {
	add := func(c constructs.IConstruct, sups ...*cdknag.NagPackSuppression) {
		cdknag.NagSuppressions_AddResourceSuppressions(c, &sups, jsii.Bool(true))
	}
	st := s.Stack
	xray := suppression("AwsSolutions-IAM5",
		"Resource::* is only on xray:PutTraceSegments and xray:PutTelemetryRecords, which Lambda's active tracing needs and which IAM authorizes on no resource but *.",
		"Resource::*")
	params := suppression("AwsSolutions-IAM5",
		"The function reads every rules parameter under "+s.Config.RulesPath+" with GetParametersByPath; cdk deploy names one parameter per part of a rules file, so the set changes with the rules.",
		"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter"+s.Config.RulesPath+"/*")
	opsItems := "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:opsitem/*"
	add(s.Classifier.Role(), xray, params)
	incidents := []*cdknag.NagPackSuppression{xray, suppression("AwsSolutions-IAM5",
		"OpsCenter assigns each OpsItem's id when it is created, so the function that opens OpsItems and then updates and resolves them cannot name them in advance; no Describe/List or delete action is granted on them.",
		opsItems)}
	if len(s.autoRunDocuments) > 0 {
		applies := []string{"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:automation-execution/*"}
		for _, d := range s.autoRunDocuments {
			account := "<AWS::AccountId>"
			if strings.HasPrefix(d, "AWS") {
				account = ""
			}
			applies = append(applies, "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:"+account+":automation-definition/"+d+":*")
		}
		incidents = append(incidents, suppression("AwsSolutions-IAM5",
			"Starting an autoRun document (named, at any of its versions) creates an automation execution whose id Systems Manager assigns; the function may start the documents the rules mark autoRun only, as the roles the rules name.",
			applies...))
	}
	if s.memberOpsItemsGranted {
		incidents = append(incidents, suppression("AwsSolutions-IAM5",
			"The rules create OpsItems in the organization's member accounts (OpsCenter's cross-account OpsItems): their ids and accounts are known only when an event arrives; only this Region's OpsItems, and only create, get and update.",
			"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:*:opsitem/*"))
	}
	add(s.Incidents.Role(), incidents...)
	add(s.findOpsItems, suppression("AwsSolutions-IAM5",
		"ssm:DescribeOpsItems, the only action in this policy, is a list action that IAM authorizes on no resource but *; the function uses it to find an OpsItem by its dedup string after a lost write, and the Open OpsItems whose response is overdue.",
		"Resource::*"))
	reportObjects := "Resource::<" + *st.GetLogicalId(s.Reports.Node().DefaultChild().(awscdk.CfnElement)) + ".Arn>/" + s3.DefaultPrefix + "*"
	problems := []*cdknag.NagPackSuppression{xray, params, suppression("AwsSolutions-IAM5",
		"The function links the OpsItems of one problem as related OpsItems (UpdateOpsItem), and reads which incident an OpsItem resolved in OpsCenter is of (GetOpsItem); OpsCenter assigns their ids at creation.",
		opsItems), suppression("AwsSolutions-IAM5",
		"The function writes and reads back (s3:PutObject, s3:GetObject) the review reports, one object per review named by its date, under the reviews prefix of this stack's own reports bucket.",
		reportObjects)}
	if s.memberOpsItemsGranted {
		problems = append(problems, suppression("AwsSolutions-IAM5",
			"The function links post-incident analyses on OpsItems the rules create in the organization's member accounts and reads which incident they are of (GetOpsItem and UpdateOpsItem only, this Region); their ids and accounts are known only at creation.",
			"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:*:opsitem/*"))
	}
	add(s.Problems.Role(), problems...)
	if s.ChatRole != nil {
		add(s.ChatRole, suppression("AwsSolutions-IAM5",
			"Chat users may read the OpsItems opsloop opens (ssm:GetOpsItem only), whose ids OpsCenter assigns at creation; the channel's guardrail (ReadOnlyAccess) caps the role whatever it later gets.",
			opsItems))
		add(s.DeadLetterQueues[ChatName], suppression("AwsSolutions-SQS3",
			"This queue is the dead-letter queue of the chat rule's target: it keeps the chat notifications EventBridge could not deliver, for opsloop redrive."))
	}
	add(s.Reports, suppression("AwsSolutions-S1",
		"The bucket holds only the weekly review reports the problems function writes; no one else writes to it, so access logs would record only that function, whose actions CloudTrail already records."))
}
