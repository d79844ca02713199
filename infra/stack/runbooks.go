package stack

import (
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/internal/rules"
)

// AutoRuns lists what the rules' autoRun runbooks need: the documents
// they start and the roles they run as, each once and in order.
func AutoRuns(set *rules.Set) (documents, roles []string) {
	for _, r := range set.Rules {
		for _, rb := range r.Runbooks {
			if !rb.AutoRun {
				continue
			}
			if !slices.Contains(documents, rb.Document) {
				documents = append(documents, rb.Document)
			}
			if role := rb.Parameters[rules.AssumeRoleParameter].String(); !slices.Contains(roles, role) {
				roles = append(roles, role)
			}
		}
	}
	slices.Sort(documents)
	slices.Sort(roles)
	return documents, roles
}

// autoRun grants the incidents function exactly what the rules' autoRun
// runbooks need, and nothing when none is marked: starting those
// documents, and passing their roles to Systems Manager only. Designed
// from the Systems Manager and IAM documentation (AWS-owned documents
// have no account in their ARNs); IAM's evaluation is unproven here.
func (s *PipelineStack) autoRun(set *rules.Set) {
	documents, roles := AutoRuns(set)
	if len(documents) == 0 {
		return
	}
	s.autoRunDocuments = documents
	var resources []*string
	for _, d := range documents {
		account := s.Account()
		if strings.HasPrefix(d, "AWS") {
			account = jsii.String("")
		}
		for _, r := range []struct{ resource, name string }{{"document", d}, {"automation-definition", d + ":*"}} {
			resources = append(resources, s.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ssm"), Account: account, Resource: jsii.String(r.resource), ResourceName: jsii.String(r.name),
				ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			}))
		}
	}
	resources = append(resources, s.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ssm"), Resource: jsii.String("automation-execution"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	}))
	s.Incidents.AddToRolePolicy(statement("AutoRunRunbooks", []string{"ssm:StartAutomationExecution"}, resources...))
	s.Incidents.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AutoRunAsTheirRoles"),
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(roles...),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}},
	}))
}

// MemberOpsItems reports whether any rule creates OpsItems in the event's
// account (the deployment's setting, or a rule's own).
func MemberOpsItems(set *rules.Set) bool {
	for _, r := range set.Rules {
		if r.Action == rules.Incident && set.OpsItemAccountOf(r.Name) == rules.OpsItemsMember {
			return true
		}
	}
	return false
}

// memberOpsItems lets the functions create, read and update OpsItems in
// the organization's accounts, in this Region, when the rules create them
// there; nothing otherwise. OpsCenter checks the member accounts' own
// side (the delegated administrator's resource policy on their OpsItem
// group), which docs/organization.md says how to set up. Designed from the
// OpsCenter documentation; unproven here.
func (s *PipelineStack) memberOpsItems(set *rules.Set) {
	if !MemberOpsItems(set) {
		return
	}
	s.memberOpsItemsGranted = true
	anyAccount := s.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ssm"), Account: jsii.String("*"), Resource: jsii.String("opsitem"), ResourceName: jsii.String("*")})
	s.Incidents.AddToRolePolicy(statement("MemberAccountOpsItems", []string{"ssm:CreateOpsItem", "ssm:GetOpsItem", "ssm:UpdateOpsItem"}, anyAccount))
	s.Problems.AddToRolePolicy(statement("MemberAccountOpsItems", []string{"ssm:GetOpsItem", "ssm:UpdateOpsItem"}, anyAccount))
}
