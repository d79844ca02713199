package pattern

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// obj is a JSON object that keeps its keys in the order given, as real
// CloudTrail events do (encoding/json would sort map keys).
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.k)
		b = append(b, ':')
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// benchServices are AWS services with the API names their CloudTrail events carry.
var benchServices = []struct {
	name   string // the part after "aws." and before ".amazonaws.com"
	nouns  []string
	params func(r *rand.Rand) obj
}{
	{"ec2", []string{"Instances", "SecurityGroup", "Volume", "Snapshot", "KeyPair", "Vpc", "Subnet", "NetworkInterface", "Image", "Tags"},
		func(r *rand.Rand) obj {
			items := []any{}
			for i := 0; i < 1+r.IntN(3); i++ {
				items = append(items, obj{{"instanceId", fmt.Sprintf("i-%016x", r.Uint64())}})
			}
			return obj{{"instancesSet", obj{{"items", items}}}, {"force", r.IntN(2) == 0},
				{"filterSet", obj{{"items", []any{obj{{"name", "tag:env"}, {"valueSet", obj{{"items", []any{obj{{"value", "prod"}}}}}}}}}}}}
		}},
	{"s3", []string{"Bucket", "BucketPolicy", "BucketAcl", "Object", "BucketEncryption", "PublicAccessBlock", "BucketTagging", "BucketVersioning"},
		func(r *rand.Rand) obj {
			return obj{{"bucketName", fmt.Sprintf("logs-%d-%s", r.IntN(1000), []string{"prod", "dev", "audit"}[r.IntN(3)])},
				{"Host", "s3.amazonaws.com"}, {"key", fmt.Sprintf("data/2024/%02d/part-%05d.json.gz", 1+r.IntN(12), r.IntN(99999))}}
		}},
	{"iam", []string{"Role", "RolePolicy", "User", "AccessKey", "Policy", "PolicyVersion", "Group", "LoginProfile", "InstanceProfile"},
		func(r *rand.Rand) obj {
			return obj{{"roleName", fmt.Sprintf("svc-role-%d", r.IntN(500))}, {"policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"},
				{"maxSessionDuration", 3600 * (1 + r.IntN(12))}}
		}},
	{"kms", []string{"Key", "Alias", "Grant", "KeyPolicy", "KeyRotation"},
		func(r *rand.Rand) obj {
			return obj{{"keyId", fmt.Sprintf("arn:aws:kms:us-east-1:123456789012:key/%08x-%04x", r.Uint32(), r.IntN(65535))},
				{"encryptionContext", obj{{"aws:lambda:FunctionArn", "arn:aws:lambda:us-east-1:123456789012:function:worker"}}}, {"pendingWindowInDays", 7 + r.IntN(24)}}
		}},
	{"rds", []string{"DBInstance", "DBCluster", "DBSnapshot", "DBParameterGroup", "DBSubnetGroup"},
		func(r *rand.Rand) obj {
			return obj{{"dBInstanceIdentifier", fmt.Sprintf("db-%d", r.IntN(100))}, {"allocatedStorage", 20 * (1 + r.IntN(50))},
				{"multiAZ", r.IntN(2) == 0}, {"engine", []string{"postgres", "mysql", "aurora-postgresql"}[r.IntN(3)]}}
		}},
	{"lambda", []string{"Function", "FunctionConfiguration", "Alias", "EventSourceMapping", "Permission", "Layer"},
		func(r *rand.Rand) obj {
			return obj{{"functionName", fmt.Sprintf("handler-%d", r.IntN(300))}, {"memorySize", 128 * (1 + r.IntN(16))}, {"timeout", 3 + r.IntN(900)},
				{"environment", obj{{"variables", obj{{"LOG_LEVEL", "info"}}}}}}
		}},
	{"sts", []string{"Role", "SessionToken", "CallerIdentity", "FederationToken"},
		func(r *rand.Rand) obj {
			return obj{{"roleArn", fmt.Sprintf("arn:aws:iam::123456789012:role/deploy-%d", r.IntN(40))}, {"roleSessionName", "ci"}, {"durationSeconds", 900 * (1 + r.IntN(4))}}
		}},
	{"cloudtrail", []string{"Trail", "Logging", "EventSelectors", "InsightSelectors"},
		func(r *rand.Rand) obj {
			return obj{{"name", fmt.Sprintf("org-trail-%d", r.IntN(5))}, {"isMultiRegionTrail", true}}
		}},
	{"secretsmanager", []string{"Secret", "SecretValue", "ResourcePolicy", "RotationSchedule"},
		func(r *rand.Rand) obj {
			return obj{{"secretId", fmt.Sprintf("prod/db/%d", r.IntN(60))}, {"versionStage", "AWSCURRENT"}}
		}},
	{"dynamodb", []string{"Table", "Backup", "ContinuousBackups", "TimeToLive", "GlobalTable"},
		func(r *rand.Rand) obj {
			return obj{{"tableName", fmt.Sprintf("orders-%d", r.IntN(30))}, {"billingMode", "PAY_PER_REQUEST"}}
		}},
}

var (
	benchVerbs      = []string{"Create", "Delete", "Put", "Update", "Attach", "Detach", "Modify", "Describe", "Get", "List", "Start", "Stop", "Terminate", "Run", "Enable", "Disable"}
	benchRegions    = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1"}
	benchErrorCodes = []string{"AccessDenied", "Client.UnauthorizedOperation", "ResourceNotFoundException", "ThrottlingException", "ValidationException", "NoSuchBucket", "InvalidInstanceID.NotFound"}
	benchIdentities = []string{"IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser"}
)

// benchEvent builds an "AWS API Call via CloudTrail" event of 2-4 KB.
func benchEvent(r *rand.Rand) []byte {
	svc := benchServices[r.IntN(len(benchServices))]
	name := benchVerbs[r.IntN(len(benchVerbs))] + svc.nouns[r.IntN(len(svc.nouns))]
	region := benchRegions[r.IntN(len(benchRegions))]
	role := fmt.Sprintf("%s-%d", []string{"Admin", "Deploy", "ReadOnly", "Ops", "Break-Glass"}[r.IntN(5)], r.IntN(20))
	detail := obj{
		{"eventVersion", "1.09"},
		{"userIdentity", obj{
			{"type", benchIdentities[r.IntN(len(benchIdentities))]},
			{"principalId", fmt.Sprintf("AROA%016X:session-%d", r.Uint64(), r.IntN(1000))},
			{"arn", fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/%s/session-%d", role, r.IntN(1000))},
			{"accountId", "123456789012"},
			{"accessKeyId", fmt.Sprintf("ASIA%016X", r.Uint64())},
			{"sessionContext", obj{
				{"sessionIssuer", obj{{"type", "Role"}, {"principalId", fmt.Sprintf("AROA%016X", r.Uint64())},
					{"arn", "arn:aws:iam::123456789012:role/" + role}, {"accountId", "123456789012"}, {"userName", role}}},
				{"webIdFederationData", obj{}},
				{"attributes", obj{{"creationDate", "2024-05-01T10:00:00Z"}, {"mfaAuthenticated", fmt.Sprint(r.IntN(2) == 0)}}}}}}},
		{"eventTime", fmt.Sprintf("2024-05-%02dT%02d:%02d:%02dZ", 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))},
		{"eventSource", svc.name + ".amazonaws.com"},
		{"eventName", name},
		{"awsRegion", region},
		{"sourceIPAddress", fmt.Sprintf("%d.%d.%d.%d", []int{10, 54, 203, 172}[r.IntN(4)], r.IntN(256), r.IntN(256), 1+r.IntN(254))},
		{"userAgent", []string{"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64", "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux", "console.amazonaws.com", "terraform-provider-aws/5.31.0"}[r.IntN(4)]},
		{"requestParameters", svc.params(r)},
		{"responseElements", obj{{"requestId", fmt.Sprintf("%08x-%04x-%04x", r.Uint32(), r.IntN(65535), r.IntN(65535))}, {"return", true}}},
		{"requestID", fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.IntN(65535), r.IntN(65535), r.IntN(65535), r.Uint64()&0xffffffffffff)},
		{"eventID", fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.IntN(65535), r.IntN(65535), r.IntN(65535), r.Uint64()&0xffffffffffff)},
		{"readOnly", strings.HasPrefix(name, "Describe") || strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List")},
		{"eventType", "AwsApiCall"},
		{"managementEvent", true},
		{"recipientAccountId", "123456789012"},
		{"eventCategory", "Management"},
		{"tlsDetails", obj{{"tlsVersion", "TLSv1.3"}, {"cipherSuite", "TLS_AES_128_GCM_SHA256"}, {"clientProvidedHostHeader", svc.name + "." + region + ".amazonaws.com"}}},
		{"sessionCredentialFromConsole", "true"},
		{"additionalEventData", obj{
			{"SignatureVersion", "SigV4"}, {"CipherSuite", "ECDHE-RSA-AES128-GCM-SHA256"}, {"AuthenticationMethod", "AuthHeader"},
			{"bytesTransferredIn", r.IntN(4096)}, {"bytesTransferredOut", r.IntN(65536)},
			{"x-amz-id-2", fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())}}},
		{"vpcEndpointId", fmt.Sprintf("vpce-%017x", r.Uint64()&0xfffffffffffffff)},
		{"vpcEndpointAccountId", "123456789012"},
		{"resources", []any{
			obj{{"accountId", "123456789012"}, {"type", "AWS::" + strings.ToUpper(svc.name[:1]) + svc.name[1:] + "::Resource"}, {"ARN", fmt.Sprintf("arn:aws:%s:%s:123456789012:resource/%d", svc.name, region, r.IntN(10000))}},
			obj{{"accountId", "123456789012"}, {"type", "AWS::IAM::Role"}, {"ARN", "arn:aws:iam::123456789012:role/" + role}},
		}}}
	if r.IntN(4) == 0 {
		detail = append(detail,
			kv{"errorCode", benchErrorCodes[r.IntN(len(benchErrorCodes))]},
			kv{"errorMessage", "User: arn:aws:sts::123456789012:assumed-role/" + role + " is not authorized to perform this operation because no identity-based policy allows the action"})
	}
	ev := obj{
		{"version", "0"}, {"id", fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.IntN(65535), r.IntN(65535), r.IntN(65535), r.Uint64()&0xffffffffffff)},
		{"detail-type", "AWS API Call via CloudTrail"}, {"source", "aws." + svc.name}, {"account", "123456789012"},
		{"time", detail[2].v}, {"region", region}, {"resources", []any{}}, {"detail", detail}}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

func quoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = string(appendJSONString(nil, v))
	}
	return strings.Join(q, ",")
}

// benchPattern builds an operator-style rule: a source, a detail-type, an
// eventName list, and now and then one more condition of another kind.
func benchPattern(r *rand.Rand) string {
	svc := benchServices[r.IntN(len(benchServices))]
	var names []string
	for range 1 + r.IntN(5) {
		names = append(names, benchVerbs[r.IntN(len(benchVerbs))]+svc.nouns[r.IntN(len(svc.nouns))])
	}
	detail := []string{`"eventName":[` + quoteAll(names) + `]`}
	if r.IntN(5) == 0 {
		detail = append(detail, `"eventSource":["`+svc.name+`.amazonaws.com"]`)
	}
	switch r.IntN(14) {
	case 0, 1:
		detail = append(detail, `"errorCode":[{"prefix":"AccessDenied"},{"suffix":"UnauthorizedOperation"}]`)
	case 2:
		detail = append(detail, fmt.Sprintf(`"errorCode":[{"suffix":"%s"}]`, []string{"NotFound", "Exception", "Denied"}[r.IntN(3)]))
	case 3:
		detail = append(detail, fmt.Sprintf(`"userIdentity":{"arn":[{"wildcard":"arn:aws:sts::*:assumed-role/%s*"}]}`, []string{"Admin", "Break-Glass", "Ops"}[r.IntN(3)]))
	case 4:
		detail = append(detail, fmt.Sprintf(`"awsRegion":[{"anything-but":["%s","%s"]}]`, benchRegions[r.IntN(3)], benchRegions[3+r.IntN(3)]))
	case 5:
		detail = append(detail, `"userIdentity":{"type":[{"anything-but":{"prefix":"AWS"}}]}`)
	case 6:
		detail = append(detail, fmt.Sprintf(`"requestParameters":{"maxSessionDuration":[{"numeric":[">",%d]}]}`, 3600*(1+r.IntN(6))))
	case 7:
		detail = append(detail, `"errorCode":[{"exists":true}]`)
	case 8:
		detail = append(detail, `"errorCode":[{"exists":false}]`)
	case 9:
		detail = append(detail, fmt.Sprintf(`"sourceIPAddress":[{"cidr":"%d.0.0.0/8"}]`, []int{10, 54, 203}[r.IntN(3)]))
	case 10:
		detail = append(detail, `"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":[{"equals-ignore-case":"FALSE"}]}}}`)
	case 11:
		detail = append(detail, fmt.Sprintf(`"requestParameters":{"bucketName":[{"wildcard":"logs-*-%s"}]}`, []string{"prod", "audit"}[r.IntN(2)]))
	}
	sources := `"aws.` + svc.name + `"`
	if r.IntN(8) == 0 {
		sources += `,"aws.` + benchServices[r.IntN(len(benchServices))].name + `"`
	}
	return `{"source":[` + sources + `],"detail-type":["AWS API Call via CloudTrail"],"detail":{` + strings.Join(detail, ",") + `}}`
}

type benchCorpus struct {
	patterns []*Pattern
	events   [][]byte
	fields   []*Fields
	bytes    int
}

func newBenchCorpus(b *testing.B, patterns int) benchCorpus {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var c benchCorpus
	for range patterns {
		src := benchPattern(r)
		p, err := Compile([]byte(src))
		if err != nil {
			b.Fatalf("Compile(%s): %v", src, err)
		}
		c.patterns = append(c.patterns, p)
	}
	for range 64 {
		ev := benchEvent(r)
		f, err := ParseEvent(ev)
		if err != nil {
			b.Fatalf("ParseEvent(%s): %v", ev, err)
		}
		c.events = append(c.events, ev)
		c.fields = append(c.fields, f)
		c.bytes += len(ev)
	}
	return c
}

func BenchmarkSetMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := newBenchCorpus(b, n)
			s := NewSet()
			for i, p := range c.patterns {
				s.Add(fmt.Sprint(i), p)
			}
			matches := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				matches += len(s.Match(c.fields[i%len(c.fields)]))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
		})
	}
}

// BenchmarkLinearMatch is the baseline the Set replaces: every pattern
// checked against every event.
func BenchmarkLinearMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := newBenchCorpus(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				f := c.fields[i%len(c.fields)]
				for _, p := range c.patterns {
					p.MatchFields(f)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkParseEvent(b *testing.B) {
	c := newBenchCorpus(b, 0)
	b.ReportAllocs()
	b.SetBytes(int64(c.bytes / len(c.events)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ParseEvent(c.events[i%len(c.events)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestBenchCorpus keeps the benchmark honest: the generated events are
// CloudTrail-sized and the generated patterns do match some of them.
func TestBenchCorpus(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := NewSet()
	for i := range 1000 {
		src := benchPattern(r)
		p, err := Compile([]byte(src))
		if err != nil {
			t.Fatalf("Compile(%s): %v", src, err)
		}
		s.Add(fmt.Sprint(i), p)
	}
	matched := 0
	for range 64 {
		ev := benchEvent(r)
		if len(ev) < 2000 || len(ev) > 4096 {
			t.Errorf("benchmark event is %d bytes, want 2-4 KB", len(ev))
		}
		f, err := ParseEvent(ev)
		if err != nil {
			t.Fatalf("ParseEvent: %v", err)
		}
		if len(s.Match(f)) > 0 {
			matched++
		}
	}
	if matched == 0 {
		t.Errorf("no benchmark event matches any of 1000 patterns")
	}
}

// BenchmarkParseEventFiltered reads events keeping what 100 patterns read.
func BenchmarkParseEventFiltered(b *testing.B) {
	c := newBenchCorpus(b, 100)
	var paths []string
	for _, p := range c.patterns {
		paths = append(paths, p.Paths()...)
	}
	filter := NewFilter(paths, []string{"id", "source", "detail-type", "detail"}, 32)
	b.ReportAllocs()
	b.SetBytes(int64(c.bytes / len(c.events)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f, err := ParseEventFiltered(c.events[i%len(c.events)], filter)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
