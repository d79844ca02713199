package event

import (
	"sort"
	"strings"

	"github.com/opsloop/opsloop/internal/lazyregexp"
)

// resourceType is what opsloop knows of one type of AWS resource, in one
// place: how its ARN is built, the shape of a bare identifier, the metric
// dimensions and the CloudTrail parameters that name one.
type resourceType struct {
	typ string // CloudFormation type name
	// service and prefix build the ARN, arn:PARTITION:SERVICE:REGION:ACCOUNT:PREFIX+ID
	// (no region or account when global); empty service: no certain ARN
	// format (IAM paths, random suffixes).
	service, prefix string
	global          bool
	// id matches the type's bare identifiers, where they have a shape of their own.
	id *lazyregexp.Regexp
	// dimensions are CloudWatch metric dimensions naming one.
	dimensions []string
	// cloudTrail are, per event source service ("ec2" of
	// ec2.amazonaws.com), the request parameters ("request.") and response
	// elements ("response.") naming one, dotted, arrays flattened.
	cloudTrail map[string][]string
}

// resourceTypes is everything opsloop knows of resource types. The order
// is the order resources are found in a CloudTrail event's parameters
// (requests before responses).
var resourceTypes = []resourceType{
	{typ: "AWS::EC2::Instance", service: "ec2", prefix: "instance/", id: ec2ID("i"), dimensions: []string{"InstanceId"},
		cloudTrail: map[string][]string{"ec2": {"request.instanceId", "request.instancesSet.items.instanceId", "response.instancesSet.items.instanceId"}}},
	{typ: "AWS::EC2::SecurityGroup", service: "ec2", prefix: "security-group/", id: ec2ID("sg"),
		cloudTrail: map[string][]string{"ec2": {"request.groupId", "response.groupId", "response.securityGroupRuleSet.items.groupId"}}},
	{typ: "AWS::EC2::Volume", service: "ec2", prefix: "volume/", id: ec2ID("vol"), dimensions: []string{"VolumeId"},
		cloudTrail: map[string][]string{"ec2": {"request.volumeId", "response.volumeId"}}},
	{typ: "AWS::EC2::VPC", service: "ec2", prefix: "vpc/", id: ec2ID("vpc"),
		cloudTrail: map[string][]string{"ec2": {"request.vpcId", "response.vpc.vpcId"}}},
	{typ: "AWS::EC2::Subnet", service: "ec2", prefix: "subnet/", id: ec2ID("subnet"),
		cloudTrail: map[string][]string{"ec2": {"request.subnetId", "response.subnet.subnetId"}}},
	{typ: "AWS::EC2::NetworkInterface", service: "ec2", prefix: "network-interface/", id: ec2ID("eni"),
		cloudTrail: map[string][]string{"ec2": {"request.networkInterfaceId"}}},
	{typ: "AWS::S3::Bucket", service: "s3", global: true, dimensions: []string{"BucketName"},
		cloudTrail: map[string][]string{"s3": {"request.bucketName"}}},
	{typ: "AWS::KMS::Key", service: "kms", prefix: "key/",
		cloudTrail: map[string][]string{"kms": {"request.keyId", "response.keyId", "response.keyMetadata.arn"}}},
	{typ: "AWS::KMS::Alias", service: "kms"},
	{typ: "AWS::IAM::Role", cloudTrail: map[string][]string{"iam": {"request.roleName", "response.role.arn"}}},
	{typ: "AWS::IAM::User", cloudTrail: map[string][]string{"iam": {"request.userName", "response.user.arn"}}},
	{typ: "AWS::IAM::Group", cloudTrail: map[string][]string{"iam": {"request.groupName", "response.group.arn"}}},
	{typ: "AWS::IAM::ManagedPolicy", cloudTrail: map[string][]string{"iam": {"request.policyArn", "response.policy.arn"}}},
	{typ: "AWS::Lambda::Function", service: "lambda", prefix: "function:", dimensions: []string{"FunctionName"},
		cloudTrail: map[string][]string{"lambda": {"request.functionName", "response.functionArn"}}},
	{typ: "AWS::DynamoDB::Table", service: "dynamodb", prefix: "table/", dimensions: []string{"TableName"},
		cloudTrail: map[string][]string{"dynamodb": {"request.tableName", "response.tableDescription.tableArn"}}},
	{typ: "AWS::RDS::DBInstance", service: "rds", prefix: "db:", dimensions: []string{"DBInstanceIdentifier"},
		cloudTrail: map[string][]string{"rds": {"request.dBInstanceIdentifier", "response.dBInstanceArn"}}},
	{typ: "AWS::RDS::DBCluster", service: "rds", prefix: "cluster:", dimensions: []string{"DBClusterIdentifier"},
		cloudTrail: map[string][]string{"rds": {"request.dBClusterIdentifier", "response.dBClusterArn"}}},
	{typ: "AWS::CloudTrail::Trail", service: "cloudtrail", prefix: "trail/",
		cloudTrail: map[string][]string{"cloudtrail": {"request.name", "request.trailName", "response.trailARN"}}},
	{typ: "AWS::SNS::Topic", service: "sns", dimensions: []string{"TopicName"},
		cloudTrail: map[string][]string{"sns": {"request.topicArn", "response.topicArn"}}},
	{typ: "AWS::SQS::Queue", service: "sqs", dimensions: []string{"QueueName"},
		cloudTrail: map[string][]string{"sqs": {"request.queueUrl"}}},
	{typ: "AWS::Logs::LogGroup", service: "logs", prefix: "log-group:",
		cloudTrail: map[string][]string{"logs": {"request.logGroupName"}}},
	{typ: "AWS::ElasticLoadBalancingV2::LoadBalancer", service: "elasticloadbalancing", prefix: "loadbalancer/", dimensions: []string{"LoadBalancer"}},
	{typ: "AWS::ElasticLoadBalancing::LoadBalancer", service: "elasticloadbalancing", prefix: "loadbalancer/", dimensions: []string{"LoadBalancerName"}},
	{typ: "AWS::ElasticLoadBalancingV2::TargetGroup", service: "elasticloadbalancing", dimensions: []string{"TargetGroup"}},
	{typ: "AWS::ECS::Cluster", service: "ecs", prefix: "cluster/"},
	{typ: "AWS::EKS::Cluster", service: "eks", prefix: "cluster/"},
	{typ: "AWS::ElastiCache::CacheCluster", service: "elasticache", prefix: "cluster:", dimensions: []string{"CacheClusterId"}},
	{typ: "AWS::Kinesis::Stream", service: "kinesis", prefix: "stream/", dimensions: []string{"StreamName"}},
	{typ: "AWS::CloudWatch::Alarm", service: "cloudwatch", prefix: "alarm:"},
	{typ: "AWS::AutoScaling::AutoScalingGroup", dimensions: []string{"AutoScalingGroupName"}},
	{typ: "AWS::StepFunctions::StateMachine", dimensions: []string{"StateMachineArn"}},
	{typ: "AWS::ApiGateway::RestApi", dimensions: []string{"ApiName"}},
}

// untypedParams are CloudTrail parameters that name resources of several
// types, told apart by their identifiers' shape.
var untypedParams = map[string][]string{"ec2": {"request.resourcesSet.items.resourceId"}}

func ec2ID(prefix string) *lazyregexp.Regexp {
	return lazyregexp.New(`^` + prefix + `-[0-9a-f]{8,17}$`)
}

// The lookups derived from resourceTypes.
var (
	cloudTrailParams = map[string][]param{} // by event source service
	alarmDimensions  = map[string]string{}  // dimension -> type
	idPrefixes       []resourceType         // types whose bare identifiers have a shape
	arnFormats       = map[string]resourceType{}
)

// param is one CloudTrail parameter naming resources of typ ("" for
// untypedParams).
type param struct {
	path string
	typ  string
}

func init() {
	for _, rt := range resourceTypes {
		for service, paths := range rt.cloudTrail {
			for _, p := range paths {
				cloudTrailParams[service] = append(cloudTrailParams[service], param{p, rt.typ})
			}
		}
		for _, d := range rt.dimensions {
			alarmDimensions[d] = rt.typ
		}
		if rt.id != nil {
			idPrefixes = append(idPrefixes, rt)
		}
		if rt.service != "" {
			arnFormats[rt.typ] = rt
		}
	}
	for service, paths := range untypedParams {
		for _, p := range paths {
			cloudTrailParams[service] = append(cloudTrailParams[service], param{p, ""})
		}
	}
	for _, ps := range cloudTrailParams {
		// Requests before responses, each in the table's order.
		sort.SliceStable(ps, func(i, j int) bool {
			return strings.HasPrefix(ps[i].path, "request.") && strings.HasPrefix(ps[j].path, "response.")
		})
	}
}
