package event

import "testing"

// TestBuildARNRoundTrip checks that every ARN buildARN makes is read back
// by parseARN as the same type and identifier, which the deduplication in
// ResourceRefs relies on.
func TestBuildARNRoundTrip(t *testing.T) {
	ids := map[string]string{
		"AWS::EC2::Instance":                        "i-0a1b2c3d4e5f60718",
		"AWS::EC2::SecurityGroup":                   "sg-0f3a9c2b7d1e45a60",
		"AWS::EC2::Volume":                          "vol-0123456789abcdef0",
		"AWS::EC2::VPC":                             "vpc-0c4d2e1f3a5b69788",
		"AWS::EC2::Subnet":                          "subnet-0b1c2d3e4f5a69788",
		"AWS::EC2::NetworkInterface":                "eni-0a9b8c7d6e5f43210",
		"AWS::S3::Bucket":                           "orders-exports",
		"AWS::KMS::Key":                             "8f2e4c1a-3b5d-4e6f-9a7b-0c1d2e3f4a5b",
		"AWS::KMS::Alias":                           "alias/orders",
		"AWS::Lambda::Function":                     "checkout-handler",
		"AWS::DynamoDB::Table":                      "orders",
		"AWS::RDS::DBInstance":                      "orders-db",
		"AWS::RDS::DBCluster":                       "orders-cluster",
		"AWS::CloudTrail::Trail":                    "management-events",
		"AWS::SQS::Queue":                           "orders",
		"AWS::SNS::Topic":                           "alerts",
		"AWS::Logs::LogGroup":                       "/aws/lambda/checkout-handler",
		"AWS::ElasticLoadBalancingV2::LoadBalancer": "app/checkout-alb/50dc6c495c0c9188",
		"AWS::ElasticLoadBalancing::LoadBalancer":   "classic-web",
		"AWS::ElasticLoadBalancingV2::TargetGroup":  "targetgroup/web/73e2d6bc24d8a067",
		"AWS::ECS::Cluster":                         "orders",
		"AWS::EKS::Cluster":                         "platform",
		"AWS::ElastiCache::CacheCluster":            "sessions-001",
		"AWS::Kinesis::Stream":                      "clicks",
		"AWS::CloudWatch::Alarm":                    "high-cpu-web-1",
	}
	for typ := range arnFormats {
		t.Run(typ, func(t *testing.T) {
			id, ok := ids[typ]
			if !ok {
				t.Fatalf("no test identifier for %s", typ)
			}
			arn := buildARN(typ, id, "eu-west-1", "123456789012")
			if arn == "" {
				t.Fatalf("buildARN(%s, %s) = empty", typ, id)
			}
			gotType, gotID := parseARN(arn)
			if gotType != typ || gotID != id {
				t.Errorf("parseARN(%s) = %s, %s, want %s, %s", arn, gotType, gotID, typ, id)
			}
		})
	}
}

func TestBuildARN(t *testing.T) {
	tests := []struct {
		typ, id, region, account, want string
	}{
		{"AWS::EC2::Instance", "i-1", "us-east-1", "1", "arn:aws:ec2:us-east-1:1:instance/i-1"},
		{"AWS::EC2::Instance", "i-1", "cn-north-1", "1", "arn:aws-cn:ec2:cn-north-1:1:instance/i-1"},
		{"AWS::EC2::Instance", "i-1", "us-gov-west-1", "1", "arn:aws-us-gov:ec2:us-gov-west-1:1:instance/i-1"},
		{"AWS::S3::Bucket", "b", "", "", "arn:aws:s3:::b"},
		{"AWS::EC2::Instance", "i-1", "", "1", ""},
		{"AWS::EC2::Instance", "i-1", "us-east-1", "", ""},
		{"AWS::IAM::Role", "r", "us-east-1", "1", ""},
		{"AWS::KMS::Alias", "not-an-alias", "us-east-1", "1", ""},
		{"AWS::ElasticLoadBalancingV2::TargetGroup", "web", "us-east-1", "1", ""},
		{"AWS::S3::Bucket", "has space", "us-east-1", "1", ""},
	}
	for _, tt := range tests {
		if got := buildARN(tt.typ, tt.id, tt.region, tt.account); got != tt.want {
			t.Errorf("buildARN(%s, %s, %s, %s) = %q, want %q", tt.typ, tt.id, tt.region, tt.account, got, tt.want)
		}
	}
}

func TestParseARN(t *testing.T) {
	tests := []struct {
		arn, typ, id string
	}{
		{"arn:aws:iam::123456789012:role/service-role/orders-worker", "AWS::IAM::Role", "orders-worker"},
		{"arn:aws:iam::aws:policy/AdministratorAccess", "AWS::IAM::ManagedPolicy", "AdministratorAccess"},
		{"arn:aws:lambda:us-east-1:1:function:f:live", "AWS::Lambda::Function", "f"},
		{"arn:aws:dynamodb:us-east-1:1:table/orders/stream/2026-01-01T00:00:00.000", "AWS::DynamoDB::Table", "orders"},
		{"arn:aws:logs:us-east-1:1:log-group:/app:*", "AWS::Logs::LogGroup", "/app"},
		{"arn:aws:autoscaling:us-east-1:1:autoScalingGroup:8d9a-11:autoScalingGroupName/web-asg", "AWS::AutoScaling::AutoScalingGroup", "web-asg"},
		{"arn:aws:states:us-east-1:1:stateMachine:orders", "AWS::StepFunctions::StateMachine", "orders"},
		{"arn:aws:s3:::bucket/key", "", ""},
		{"arn:aws:sns:us-east-1:1:alerts:0f1e-sub", "", ""},
		{"arn:aws:codepipeline:us-east-1:1:pipeline:p", "", ""},
		{"arn:aws:ec2", "", ""},
		{"not an arn", "", ""},
	}
	for _, tt := range tests {
		typ, id := parseARN(tt.arn)
		if typ != tt.typ || id != tt.id {
			t.Errorf("parseARN(%s) = %q, %q, want %q, %q", tt.arn, typ, id, tt.typ, tt.id)
		}
	}
}
