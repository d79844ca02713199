package event_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/opsloop/opsloop/internal/event"
)

func refStrings(refs []event.Resource) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = fmt.Sprintf("%s|%s|%s", r.ARN, r.Type, r.ID)
	}
	return out
}

func TestResourceRefs(t *testing.T) {
	ev := func(detailType, source string, resources, detail string) string {
		return `{"id":"x","detail-type":"` + detailType + `","source":"` + source + `","account":"123456789012",` +
			`"time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":` + resources + `,"detail":` + detail + `}`
	}
	ct := func(source, req, resp string) string {
		return ev("AWS API Call via CloudTrail", "aws.x", "[]",
			`{"eventSource":"`+source+`","awsRegion":"us-east-1","recipientAccountId":"123456789012","requestParameters":`+req+`,"responseElements":`+resp+`}`)
	}
	tests := []struct {
		name, event string
		want        []string
	}{
		{"envelope ARNs and bare ids, deduplicated", ev("Custom", "app", `["arn:aws:s3:::b","i-0123456789abcdef0","arn:aws:s3:::b","thing"]`, `{}`), []string{
			"arn:aws:s3:::b|AWS::S3::Bucket|b",
			"arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0|AWS::EC2::Instance|i-0123456789abcdef0",
			"||thing",
		}},
		{"ec2 request and response merge", ct("ec2.amazonaws.com",
			`{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}`,
			`{"instancesSet":{"items":[{"instanceId":"i-2"},{"instanceId":"i-3"}]}}`), []string{
			"arn:aws:ec2:us-east-1:123456789012:instance/i-1|AWS::EC2::Instance|i-1",
			"arn:aws:ec2:us-east-1:123456789012:instance/i-2|AWS::EC2::Instance|i-2",
			"arn:aws:ec2:us-east-1:123456789012:instance/i-3|AWS::EC2::Instance|i-3",
		}},
		{"ec2 create tags infers types", ct("ec2.amazonaws.com",
			`{"resourcesSet":{"items":[{"resourceId":"sg-0123456789abcdef0"},{"resourceId":"ami-0123456789abcdef0"}]}}`, `null`), []string{
			"arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0|AWS::EC2::SecurityGroup|sg-0123456789abcdef0",
			"||ami-0123456789abcdef0",
		}},
		{"iam role by name and by arn with path", ct("iam.amazonaws.com",
			`{"roleName":"worker"}`, `{"role":{"arn":"arn:aws:iam::123456789012:role/app/worker"}}`), []string{
			"arn:aws:iam::123456789012:role/app/worker|AWS::IAM::Role|worker",
		}},
		{"iam placeholder user name skipped", ct("iam.amazonaws.com", `{"userName":"AWS ROOT USER"}`, `null`), []string{}},
		{"iam managed policy", ct("iam.amazonaws.com", `{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}`, `null`), []string{
			"|AWS::IAM::Role|r",
			"arn:aws:iam::aws:policy/ReadOnlyAccess|AWS::IAM::ManagedPolicy|ReadOnlyAccess",
		}},
		{"kms id and alias", ct("kms.amazonaws.com", `{"keyId":"alias/orders"}`, `{"keyId":"arn:aws:kms:us-east-1:123456789012:key/k1"}`), []string{
			"arn:aws:kms:us-east-1:123456789012:alias/orders|AWS::KMS::Alias|alias/orders",
			"arn:aws:kms:us-east-1:123456789012:key/k1|AWS::KMS::Key|k1",
		}},
		{"lambda by name", ct("lambda.amazonaws.com", `{"functionName":"f"}`, `{"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}`), []string{
			"arn:aws:lambda:us-east-1:123456789012:function:f|AWS::Lambda::Function|f",
		}},
		{"dynamodb, rds, sqs url", ct("sqs.amazonaws.com", `{"queueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/orders"}`, `null`), []string{
			"arn:aws:sqs:eu-west-1:123456789012:orders|AWS::SQS::Queue|orders",
		}},
		{"unknown service only record resources", ev("AWS API Call via CloudTrail", "aws.ssm", "[]",
			`{"eventSource":"ssm.amazonaws.com","requestParameters":{"name":"p"},"resources":[{"ARN":"arn:aws:ssm:us-east-1:123456789012:parameter/p"}]}`), []string{
			"arn:aws:ssm:us-east-1:123456789012:parameter/p||",
		}},
		{"alarm dimensions in name order", ev("CloudWatch Alarm State Change", "aws.cloudwatch", `["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"]`,
			`{"alarmName":"a","configuration":{"metrics":[{"metricStat":{"metric":{"namespace":"AWS/ApplicationELB","dimensions":{"TargetGroup":"targetgroup/web/73e2","LoadBalancer":"app/alb/50dc","Unknown":"x"}}}},`+
				`{"metricStat":{"metric":{"namespace":"AWS/ECS","dimensions":{"ClusterName":"orders","ServiceName":"api"}}}},`+
				`{"metricStat":{"metric":{"namespace":"AWS/AutoScaling","dimensions":{"AutoScalingGroupName":"web-asg"}}}}]}}`), []string{
			"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a|AWS::CloudWatch::Alarm|a",
			"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/alb/50dc|AWS::ElasticLoadBalancingV2::LoadBalancer|app/alb/50dc",
			"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2|AWS::ElasticLoadBalancingV2::TargetGroup|targetgroup/web/73e2",
			"arn:aws:ecs:us-east-1:123456789012:cluster/orders|AWS::ECS::Cluster|orders",
			"|AWS::AutoScaling::AutoScalingGroup|web-asg",
		}},
		{"config compliance for the account itself", ev("Config Rules Compliance Change", "aws.config", "[]",
			`{"resourceType":"AWS::::Account","resourceId":"123456789012","awsRegion":"us-east-1","newEvaluationResult":{"complianceType":"NON_COMPLIANT"}}`), []string{
			"|AWS::::Account|123456789012",
		}},
		{"health entities other than instances", ev("AWS Health Event", "aws.health", "[]",
			`{"eventTypeCode":"X","affectedEntities":[{"entityValue":"arn:aws:rds:us-east-1:123456789012:db:orders-db"},{"entityValue":"vol-0123456789abcdef0"}]}`), []string{
			"arn:aws:rds:us-east-1:123456789012:db:orders-db|AWS::RDS::DBInstance|orders-db",
			"arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0|AWS::EC2::Volume|vol-0123456789abcdef0",
		}},
		{"guardduty in another account and region", ev("GuardDuty Finding", "aws.guardduty", "[]",
			`{"type":"T","accountId":"210987654321","region":"eu-west-1","resource":{"instanceDetails":{"instanceId":"i-9"},"accessKeyDetails":{"accessKeyId":"AKIA1"},"s3BucketDetails":[{"name":"b1"}]}}`), []string{
			"arn:aws:ec2:eu-west-1:210987654321:instance/i-9|AWS::EC2::Instance|i-9",
			"|AWS::IAM::AccessKey|AKIA1",
			"arn:aws:s3:::b1|AWS::S3::Bucket|b1",
		}},
		{"no resources", ev("Custom", "app", "[]", `{}`), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.Parse([]byte(tt.event))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := refStrings(e.ResourceRefs())
			if !slices.Equal(got, tt.want) {
				t.Errorf("ResourceRefs(%s) =\n%q\nwant\n%q", tt.name, got, tt.want)
			}
		})
	}
}

func TestResourceString(t *testing.T) {
	tests := []struct {
		r    event.Resource
		want string
	}{
		{event.Resource{ARN: "arn:aws:s3:::b", Type: "AWS::S3::Bucket", ID: "b"}, "arn:aws:s3:::b"},
		{event.Resource{Type: "AWS::IAM::Role", ID: "r"}, "AWS::IAM::Role/r"},
		{event.Resource{ID: "thing"}, "thing"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Resource%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}
