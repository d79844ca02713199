package event

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/opsloop/opsloop/internal/lazyregexp"
)

// Resource is one AWS resource an event is about: its ARN when known, and
// its CloudFormation-style type and identifier when they can be told.
type Resource struct {
	ARN  string
	Type string // e.g. "AWS::EC2::Instance"
	ID   string // e.g. "i-0abc..."
}

// String renders the resource as its ARN, or as Type/ID.
func (r Resource) String() string {
	if r.ARN != "" {
		return r.ARN
	}
	if r.Type == "" {
		return r.ID
	}
	return r.Type + "/" + r.ID
}

// ResourceRefs lists the resources the event is about, without duplicates,
// in a stable order: the envelope's resources first, then those the
// source-specific detail names (CloudTrail resources and request and
// response parameters, the Config item, an alarm's metric dimensions, the
// EC2 instance, Health's affected entities, GuardDuty's resource). ARNs are
// built from the event's account and region only where their format is
// certain; otherwise a Resource carries Type and ID alone.
func (e *Event) ResourceRefs() []Resource {
	s := newRefSet(e.Region, e.Account)
	for _, r := range e.Resources {
		s.addAny(r)
	}
	switch {
	case isCloudTrailType(e.DetailType):
		s.cloudTrail(e)
	case e.DetailType == DetailTypeAlarm:
		s.alarm(e)
	case isConfigChange(e):
		if c, err := e.ConfigChange(); err == nil {
			r := s.withScope(c.AWSRegion, c.AccountID)
			if c.ARN != "" {
				r.addARN(c.ARN)
			} else {
				r.addTypeID(c.ResourceType, c.ResourceID)
			}
		}
	case e.DetailType == DetailTypeConfigCompliance:
		if c, err := e.ConfigCompliance(); err == nil {
			s.withScope(c.AWSRegion, c.AccountID).addTypeID(c.ResourceType, c.ResourceID)
		}
	case e.Source == "aws.ec2" && e.DetailType == "EC2 Instance State-change Notification":
		for _, id := range e.Values("detail.instance-id") {
			s.addTypeID("AWS::EC2::Instance", strings.TrimSpace(id))
		}
	case e.Source == "aws.health":
		for _, v := range e.Values("detail.affectedEntities.entityValue") {
			s.addAny(v)
		}
	case e.Source == "aws.guardduty":
		s.guardDuty(e)
	}
	return s.out
}

// refSet collects resources and drops repeats, whether a repeat comes as
// the same ARN or as the same type and identifier.
type refSet struct {
	region, account string
	out             []Resource
	seen            map[string]int // key to index in out
	shared          *refSet        // the set that owns out and seen, for scoped views
}

func newRefSet(region, account string) *refSet {
	s := &refSet{region: region, account: account, seen: map[string]int{}}
	s.shared = s
	return s
}

// withScope returns a view of the set that builds ARNs with another region
// and account (when given), as for findings about other accounts.
func (s *refSet) withScope(region, account string) *refSet {
	v := &refSet{region: firstNonEmpty(region, s.region), account: firstNonEmpty(account, s.account), shared: s.shared}
	return v
}

func (s *refSet) add(r Resource) {
	root := s.shared
	keys := make([]string, 0, 2)
	if r.ARN != "" {
		keys = append(keys, "arn|"+r.ARN)
	}
	if r.ID != "" {
		keys = append(keys, "tid|"+r.Type+"|"+r.ID)
	}
	for _, k := range keys {
		i, ok := root.seen[k]
		if !ok {
			continue
		}
		// A resource first named by type and identifier keeps its place
		// and gains the ARN when a later mention carries it.
		if root.out[i].ARN == "" && r.ARN != "" {
			root.out[i].ARN = r.ARN
			root.seen["arn|"+r.ARN] = i
		}
		return
	}
	for _, k := range keys {
		root.seen[k] = len(root.out)
	}
	if len(keys) > 0 {
		root.out = append(root.out, r)
	}
}

// addAny adds a value that may be an ARN or a bare identifier.
func (s *refSet) addAny(v string) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
	case strings.HasPrefix(v, "arn:"):
		s.addARN(v)
	default:
		s.addTypeID(typeOfID(v), v)
	}
}

func (s *refSet) addARN(arn string) {
	arn = strings.TrimSpace(arn)
	if arn == "" {
		return
	}
	typ, id := parseARN(arn)
	s.add(Resource{ARN: arn, Type: typ, ID: id})
}

func (s *refSet) addTypeID(typ, id string) {
	id = strings.TrimSpace(id)
	if id == "" {
		return
	}
	if strings.HasPrefix(id, "arn:") {
		s.addARN(id)
		return
	}
	if arn := buildARN(typ, id, s.region, s.account); arn != "" {
		s.addARN(arn)
		return
	}
	s.add(Resource{Type: typ, ID: id})
}

// iamName matches the names IAM accepts; CloudTrail sometimes writes
// placeholders such as "AWS ROOT USER" where a name would be.
var iamName = lazyregexp.New(`^[\w+=,.@-]{1,128}$`)

func (s *refSet) cloudTrail(e *Event) {
	// The event's CloudTrail view, decoded once for all its readers.
	r, err := e.CloudTrail()
	if err != nil {
		return
	}
	scoped := s.withScope(r.AWSRegion, r.RecipientAccountID)
	for _, res := range r.Resources {
		scoped.addARN(res.ARN)
	}
	params, ok := cloudTrailParams[strings.TrimSuffix(r.EventSource, ".amazonaws.com")]
	if !ok {
		return
	}
	for _, p := range params {
		part, rest, _ := strings.Cut(p.path, ".")
		raw := r.RequestParameters
		if part == "response" {
			raw = r.ResponseElements
		}
		var vals []string
		walk(raw, strings.Split(rest, "."), &vals)
		for _, v := range vals {
			scoped.addParam(p.typ, v)
		}
	}
}

// addParam adds a resource named by a CloudTrail parameter, whose value may
// be an identifier, a name, an ARN or (for SQS) a queue URL.
func (s *refSet) addParam(typ, v string) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" || v == "null":
		return
	case strings.HasPrefix(v, "arn:"):
		s.addARN(v)
	case typ == "":
		s.addTypeID(typeOfID(v), v)
	case typ == "AWS::KMS::Key" && strings.HasPrefix(v, "alias/"):
		s.addTypeID("AWS::KMS::Alias", v)
	case typ == "AWS::SQS::Queue":
		if arn := queueURLARN(v); arn != "" {
			s.addARN(arn)
		}
	case strings.HasPrefix(typ, "AWS::IAM::"):
		if iamName.MatchString(v) {
			s.addTypeID(typ, v)
		}
	default:
		s.addTypeID(typ, v)
	}
}

// queueURLARN turns https://sqs.REGION.amazonaws.com/ACCOUNT/NAME into the
// queue's ARN.
func queueURLARN(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := strings.Split(u.Host, ".")
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(host) < 3 || host[0] != "sqs" || len(parts) != 2 {
		return ""
	}
	region := host[1]
	return "arn:" + partitionOf(region) + ":sqs:" + region + ":" + parts[0] + ":" + parts[1]
}

func (s *refSet) alarm(e *Event) {
	a, err := e.Alarm()
	if err != nil {
		return
	}
	if a.ARN != "" {
		s.addARN(a.ARN)
	}
	for _, m := range a.Metrics {
		for _, name := range m.dimensionNames() {
			value := m.Dimensions[name]
			typ, ok := alarmDimensions[name]
			if name == "ClusterName" {
				typ, ok = clusterType(m.Namespace)
			}
			if !ok {
				continue
			}
			s.addTypeID(typ, value)
		}
	}
}

// clusterType tells which kind of cluster a ClusterName dimension names.
func clusterType(namespace string) (string, bool) {
	switch namespace {
	case "AWS/ECS", "ECS/ContainerInsights":
		return "AWS::ECS::Cluster", true
	case "ContainerInsights":
		return "AWS::EKS::Cluster", true
	case "AWS/Kafka":
		return "AWS::MSK::Cluster", true
	}
	return "", false
}

func (s *refSet) guardDuty(e *Event) {
	var r struct {
		AccountID string `json:"accountId"`
		Region    string `json:"region"`
		Resource  struct {
			InstanceDetails struct {
				InstanceID string `json:"instanceId"`
			} `json:"instanceDetails"`
			AccessKeyDetails struct {
				AccessKeyID string `json:"accessKeyId"`
			} `json:"accessKeyDetails"`
			S3BucketDetails []struct {
				ARN  string `json:"arn"`
				Name string `json:"name"`
			} `json:"s3BucketDetails"`
		} `json:"resource"`
	}
	if json.Unmarshal(e.Detail, &r) != nil {
		return
	}
	scoped := s.withScope(r.Region, r.AccountID)
	scoped.addTypeID("AWS::EC2::Instance", r.Resource.InstanceDetails.InstanceID)
	scoped.add(Resource{Type: "AWS::IAM::AccessKey", ID: strings.TrimSpace(r.Resource.AccessKeyDetails.AccessKeyID)})
	for _, b := range r.Resource.S3BucketDetails {
		scoped.addTypeID("AWS::S3::Bucket", firstNonEmpty(b.ARN, b.Name))
	}
}

// typeOfID returns the type of a bare identifier, or "" when unknown.
func typeOfID(id string) string {
	for _, rt := range idPrefixes {
		if rt.id.MatchString(id) {
			return rt.typ
		}
	}
	return ""
}

// buildARN returns the ARN of a resource of a known type, or "" when the
// format is not certain or region and account are unknown.
func buildARN(typ, id, region, account string) string {
	f, ok := arnFormats[typ]
	if !ok || id == "" || strings.ContainsAny(id, " \t\n") {
		return ""
	}
	if typ == "AWS::ElasticLoadBalancingV2::TargetGroup" && !strings.HasPrefix(id, "targetgroup/") {
		return ""
	}
	if typ == "AWS::KMS::Alias" && !strings.HasPrefix(id, "alias/") {
		return ""
	}
	if f.global {
		return "arn:" + partitionOf(region) + ":" + f.service + ":::" + id
	}
	if region == "" || account == "" {
		return ""
	}
	return "arn:" + partitionOf(region) + ":" + f.service + ":" + region + ":" + account + ":" + f.prefix + id
}

// parseARN tells the type and identifier of the resource an ARN names, for
// the services opsloop knows; both are empty otherwise.
func parseARN(arn string) (typ, id string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "", ""
	}
	service, res := parts[2], parts[5]
	cut := func(prefix string) (string, bool) {
		if rest, ok := strings.CutPrefix(res, prefix); ok && rest != "" {
			return rest, true
		}
		return "", false
	}
	switch service {
	case "ec2":
		for t, f := range arnFormats {
			if f.service != "ec2" {
				continue
			}
			if rest, ok := cut(f.prefix); ok {
				return t, rest
			}
		}
	case "s3":
		if res != "" && !strings.Contains(res, "/") {
			return "AWS::S3::Bucket", res
		}
	case "kms":
		if rest, ok := cut("key/"); ok {
			return "AWS::KMS::Key", rest
		}
		if strings.HasPrefix(res, "alias/") {
			return "AWS::KMS::Alias", res
		}
	case "lambda":
		if rest, ok := cut("function:"); ok {
			name, _, _ := strings.Cut(rest, ":")
			return "AWS::Lambda::Function", name
		}
	case "dynamodb":
		if rest, ok := cut("table/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			return "AWS::DynamoDB::Table", name
		}
	case "rds":
		if rest, ok := cut("db:"); ok {
			return "AWS::RDS::DBInstance", rest
		}
		if rest, ok := cut("cluster:"); ok {
			return "AWS::RDS::DBCluster", rest
		}
	case "cloudtrail":
		if rest, ok := cut("trail/"); ok {
			return "AWS::CloudTrail::Trail", rest
		}
	case "sqs":
		if res != "" && !strings.ContainsAny(res, ":/") {
			return "AWS::SQS::Queue", res
		}
	case "sns":
		if res != "" && !strings.ContainsAny(res, ":/") {
			return "AWS::SNS::Topic", res
		}
	case "logs":
		if rest, ok := cut("log-group:"); ok {
			return "AWS::Logs::LogGroup", strings.TrimSuffix(rest, ":*")
		}
	case "elasticloadbalancing":
		if rest, ok := cut("loadbalancer/"); ok {
			if strings.HasPrefix(rest, "app/") || strings.HasPrefix(rest, "net/") || strings.HasPrefix(rest, "gwy/") {
				return "AWS::ElasticLoadBalancingV2::LoadBalancer", rest
			}
			return "AWS::ElasticLoadBalancing::LoadBalancer", rest
		}
		if strings.HasPrefix(res, "targetgroup/") {
			return "AWS::ElasticLoadBalancingV2::TargetGroup", res
		}
	case "ecs":
		if rest, ok := cut("cluster/"); ok {
			return "AWS::ECS::Cluster", rest
		}
	case "eks":
		if rest, ok := cut("cluster/"); ok {
			return "AWS::EKS::Cluster", rest
		}
	case "elasticache":
		if rest, ok := cut("cluster:"); ok {
			return "AWS::ElastiCache::CacheCluster", rest
		}
	case "kinesis":
		if rest, ok := cut("stream/"); ok {
			return "AWS::Kinesis::Stream", rest
		}
	case "cloudwatch":
		if rest, ok := cut("alarm:"); ok {
			return "AWS::CloudWatch::Alarm", rest
		}
	case "iam":
		for prefix, t := range map[string]string{
			"role/": "AWS::IAM::Role", "user/": "AWS::IAM::User", "group/": "AWS::IAM::Group", "policy/": "AWS::IAM::ManagedPolicy",
		} {
			if rest, ok := cut(prefix); ok {
				// The identifier is the name, the last part of the path,
				// which is how CloudTrail's request parameters name it.
				return t, rest[strings.LastIndex(rest, "/")+1:]
			}
		}
	case "states":
		if rest, ok := cut("stateMachine:"); ok {
			return "AWS::StepFunctions::StateMachine", rest
		}
	case "autoscaling":
		if i := strings.Index(res, ":autoScalingGroupName/"); i >= 0 && strings.HasPrefix(res, "autoScalingGroup:") {
			return "AWS::AutoScaling::AutoScalingGroup", res[i+len(":autoScalingGroupName/"):]
		}
	}
	return "", ""
}

// partitionOf tells the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// IsARN reports whether s looks like an ARN: "arn:partition:service:region:account:resource".
func IsARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] != "" && parts[5] != ""
}
