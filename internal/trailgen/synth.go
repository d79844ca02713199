// Package synth makes synthetic, realistic CloudTrail records for load tests,
// benchmarks and replay measurements.
package trailgen

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Generator makes CloudTrail records deterministically from its seed.
type Generator struct {
	rnd     *rand.Rand
	t       time.Time
	account string
	seq     uint64
}

// New returns a generator whose records start at start, one every few seconds.
func New(seed uint64, start time.Time) *Generator {
	return &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), t: start, account: "123456789012"}
}

type call struct {
	source, name string
	readOnly     bool
	weight       int
	params       func(g *Generator) map[string]any
}

var regions = []string{"us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2"}

var users = []string{"alice", "bob", "carol", "deploy-bot", "ci-runner", "mallory"}

// calls mixes what an account's trail holds: mostly reads, some writes, a few
// failures, a little of everything the default rules watch.
var calls = []call{
	{"ec2.amazonaws.com", "DescribeInstances", true, 30, func(g *Generator) map[string]any {
		return map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": g.instance()}}}, "filterSet": map[string]any{}}
	}},
	{"s3.amazonaws.com", "GetBucketAcl", true, 15, func(g *Generator) map[string]any {
		return map[string]any{"bucketName": fmt.Sprintf("orders-%d", g.rnd.IntN(20)), "Host": "s3.amazonaws.com", "acl": ""}
	}},
	{"sts.amazonaws.com", "AssumeRole", true, 15, func(g *Generator) map[string]any {
		return map[string]any{"roleArn": "arn:aws:iam::123456789012:role/app-" + fmt.Sprint(g.rnd.IntN(10)), "roleSessionName": fmt.Sprintf("session-%d", g.rnd.IntN(1000)), "durationSeconds": 3600}
	}},
	{"kms.amazonaws.com", "Decrypt", true, 10, func(g *Generator) map[string]any {
		return map[string]any{"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": map[string]any{"aws:lambda:FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:checkout"}}
	}},
	{"ec2.amazonaws.com", "RunInstances", false, 3, func(g *Generator) map[string]any {
		return map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}}}, "instanceType": "t3.medium", "subnetId": "subnet-0123456789abcdef0"}
	}},
	{"ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false, 2, func(g *Generator) map[string]any {
		cidr := "10.0.0.0/16"
		if g.rnd.IntN(10) == 0 {
			cidr = "0.0.0.0/0"
		}
		return map[string]any{"groupId": fmt.Sprintf("sg-0%016x", g.rnd.IntN(50)), "ipPermissions": map[string]any{"items": []any{map[string]any{
			"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": map[string]any{"items": []any{map[string]any{"cidrIp": cidr}}}}}}}
	}},
	{"iam.amazonaws.com", "PutRolePolicy", false, 2, func(g *Generator) map[string]any {
		return map[string]any{"roleName": fmt.Sprintf("app-%d", g.rnd.IntN(10)), "policyName": "inline", "policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`}
	}},
	{"lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", false, 2, func(g *Generator) map[string]any {
		return map[string]any{"functionName": "checkout", "memorySize": 512, "timeout": 30}
	}},
	{"dynamodb.amazonaws.com", "UpdateTable", false, 1, func(g *Generator) map[string]any {
		return map[string]any{"tableName": "orders", "billingMode": "PAY_PER_REQUEST"}
	}},
	{"kms.amazonaws.com", "ScheduleKeyDeletion", false, 1, func(g *Generator) map[string]any {
		return map[string]any{"keyId": fmt.Sprintf("arn:aws:kms:us-east-1:123456789012:key/%08x-1111-2222-3333-444455556666", g.rnd.IntN(5)), "pendingWindowInDays": 7}
	}},
}

var totalWeight = func() int {
	n := 0
	for _, c := range calls {
		n += c.weight
	}
	return n
}()

func (g *Generator) instance() string { return fmt.Sprintf("i-0%016x", g.rnd.IntN(200)) }

// Record returns the next CloudTrail record (as CloudTrail writes it to S3).
func (g *Generator) Record() map[string]any {
	g.seq++
	g.t = g.t.Add(time.Duration(g.rnd.IntN(4000)) * time.Millisecond)
	w := g.rnd.IntN(totalWeight)
	var c call
	for _, c = range calls {
		if w < c.weight {
			break
		}
		w -= c.weight
	}
	user := users[g.rnd.IntN(len(users))]
	region := regions[g.rnd.IntN(len(regions))]
	rec := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": fmt.Sprintf("AIDA%016X", g.rnd.Uint64()%1e15), "arn": "arn:aws:iam::123456789012:user/" + user,
			"accountId": g.account, "accessKeyId": fmt.Sprintf("AKIA%016X", g.rnd.Uint64()%1e15), "userName": user,
			"sessionContext": map[string]any{"attributes": map[string]any{"creationDate": g.t.Add(-time.Hour).Format(time.RFC3339), "mfaAuthenticated": "false"}},
		},
		"eventTime":          g.t.UTC().Format(time.RFC3339),
		"eventSource":        c.source,
		"eventName":          c.name,
		"awsRegion":          region,
		"sourceIPAddress":    fmt.Sprintf("198.51.100.%d", g.rnd.IntN(250)+1),
		"userAgent":          "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#arm64 api/ec2#1.210.0",
		"requestParameters":  c.params(g),
		"responseElements":   nil,
		"requestID":          fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rnd.Uint32(), g.rnd.IntN(1<<16), g.rnd.IntN(1<<12), g.rnd.IntN(1<<12), g.rnd.Uint64()&(1<<48-1)),
		"eventID":            fmt.Sprintf("%08x-%04x-4%03x-9%03x-%012x", uint32(g.seq), g.rnd.IntN(1<<16), g.rnd.IntN(1<<12), g.rnd.IntN(1<<12), g.rnd.Uint64()&(1<<48-1)),
		"readOnly":           c.readOnly,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": g.account,
		"eventCategory":      "Management",
		"tlsDetails":         map[string]any{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": c.source},
	}
	if g.rnd.IntN(25) == 0 {
		rec["errorCode"] = "AccessDenied"
		rec["errorMessage"] = fmt.Sprintf("User: arn:aws:iam::123456789012:user/%s is not authorized to perform: %s", user, c.name)
		if c.source == "ec2.amazonaws.com" {
			rec["errorCode"] = "Client.UnauthorizedOperation"
		}
	}
	return rec
}
