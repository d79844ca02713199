package stack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/infra/stack"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/metrics"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/routing"
	"github.com/opsloop/opsloop/internal/rules"
)

// The whole app is synthesized once per test binary: jsii starts node, and
// a synth takes seconds.
var (
	synthErr    error
	subject     *stack.PipelineStack
	template    assertions.Template
	tpl         map[string]any
	annotations assertions.Annotations
	assetDir    string
	root        string
)

const testEmail = "oncall@example.com"

// The chat channels of the test deployment.
const (
	testSlackWorkspace = "T0123ABCD"
	testSlackChannel   = "C0456EFGH"
	testTenant         = "11111111-2222-3333-4444-555555555555"
	testTeam           = "66666666-7777-8888-9999-000000000000"
	testTeamsChannel   = "19%3Aabc123%40thread.tacv2"
)

func TestMain(m *testing.M) {
	code := run(m)
	os.Exit(code)
}

func run(m *testing.M) int {
	defer jsii.Close()
	var err error
	if root, err = repoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if assetDir, err = os.MkdirTemp("", "opsloop-assets-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(assetDir)
	outDir, err := os.MkdirTemp("", "opsloop-cdk-out-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(outDir)
	for _, name := range []string{stack.ClassifierName, stack.IncidentsName, stack.ProblemsName} {
		// The template only needs a bundle to hash; the real ones are
		// built by scripts/build.sh.
		err = os.MkdirAll(filepath.Join(assetDir, name), 0o755)
		if err == nil {
			err = os.WriteFile(filepath.Join(assetDir, name, "bootstrap"), []byte("bundle of "+name), 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	synthErr = synthesize(outDir)
	return m.Run()
}

// testContext is cdk.json's context, as `cdk synth` passes it to the app,
// with the test's bundles, rules and email.
func testContext() (map[string]any, error) {
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	ctx := doc.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	ctx[stack.KeyRulesDir] = filepath.Join(root, "rules")
	ctx[stack.KeyAssetDir] = assetDir
	ctx[stack.KeyNotificationEmail] = testEmail
	ctx[stack.KeyChatSlackWorkspace], ctx[stack.KeyChatSlackChannel] = testSlackWorkspace, testSlackChannel
	ctx[stack.KeyChatTeamsTenant], ctx[stack.KeyChatTeamsTeam], ctx[stack.KeyChatTeamsChannel] = testTenant, testTeam, testTeamsChannel
	return ctx, nil
}

func testConfig(ctx map[string]any) (stack.Config, error) {
	return stack.ConfigFrom(func(k string) (any, bool) { v, ok := ctx[k]; return v, ok })
}

func synthesize(outDir string) error {
	ctx, err := testContext()
	if err != nil {
		return err
	}
	cfg, err := testConfig(ctx)
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir), Context: &ctx})
	subject, err = stack.NewPipelineStack(app, "opsloop", &stack.PipelineStackProps{Config: cfg})
	if err != nil {
		return err
	}
	stack.Check(app)
	template = assertions.Template_FromStack(subject.Stack, nil)
	raw, err := json.Marshal(template.ToJSON())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &tpl); err != nil {
		return err
	}
	annotations = assertions.Annotations_FromStack(subject.Stack)
	return nil
}

func synthesized(t *testing.T) {
	t.Helper()
	if synthErr != nil {
		t.Fatalf("synth: %v", synthErr)
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// resources returns the template's resources of a type, by logical id.
func resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			out[id] = props
		}
	}
	return out
}

func logicalID(c constructs.IConstruct) string {
	return *subject.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
}

// refersTo reports whether a template value mentions the logical id (Ref
// or Fn::GetAtt).
func refersTo(v any, id string) bool {
	b, _ := json.Marshal(v)
	return strings.Contains(string(b), `"Ref":"`+id+`"`) || strings.Contains(string(b), `"Fn::GetAtt":["`+id+`"`)
}

func TestFunctions(t *testing.T) {
	synthesized(t)
	// GIVEN the synthesized stack WHEN its functions are read
	fns := resources("AWS::Lambda::Function")
	tests := []struct {
		name     string
		id       string
		env      []string
		reserved any
		timeout  float64
	}{
		{stack.ClassifierName, logicalID(subject.Classifier), []string{lambdaenv.EnvTable, lambdaenv.EnvBus, lambdaenv.EnvRulesPath, lambdaenv.EnvRulesTTL}, nil, 30},
		{stack.IncidentsName, logicalID(subject.Incidents), []string{lambdaenv.EnvTable, lambdaenv.EnvBus, lambdaenv.EnvTopic}, 2.0, 120},
		{stack.ProblemsName, logicalID(subject.Problems), []string{lambdaenv.EnvTable, lambdaenv.EnvRulesPath, lambdaenv.EnvRulesTTL, lambdaenv.EnvReportBucket, lambdaenv.EnvTopic, lambdaenv.EnvIncidentsRole}, nil, 300},
	}
	if len(fns) != len(tests) {
		t.Errorf("functions = %d, want %d (no CDK-internal functions)", len(fns), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fns[tt.id]
			if p == nil {
				t.Fatalf("function %s (%s) not in the template", tt.name, tt.id)
			}
			// THEN each is a Go bootstrap on provided.al2023, arm64, with
			// JSON logs to its own log group, X-Ray tracing and its settings
			checks := []struct {
				field string
				got   any
				want  any
			}{
				{"Runtime", p["Runtime"], "provided.al2023"},
				{"Architectures", p["Architectures"], []any{"arm64"}},
				{"Handler", p["Handler"], "bootstrap"},
				{"LoggingConfig.LogFormat", p["LoggingConfig"].(map[string]any)["LogFormat"], "JSON"},
				{"TracingConfig", p["TracingConfig"], map[string]any{"Mode": "Active"}},
				{"Timeout", p["Timeout"], tt.timeout},
				{"ReservedConcurrentExecutions", p["ReservedConcurrentExecutions"], tt.reserved},
			}
			for _, c := range checks {
				if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
					t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
				}
			}
			lg := p["LoggingConfig"].(map[string]any)["LogGroup"]
			found := false
			for id, g := range resources("AWS::Logs::LogGroup") {
				if refersTo(lg, id) {
					found = true
					if g["RetentionInDays"] != 30.0 {
						t.Errorf("log group RetentionInDays = %v, want 30", g["RetentionInDays"])
					}
				}
			}
			if !found {
				t.Errorf("LoggingConfig.LogGroup = %v, want the stack's own log group", lg)
			}
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			var got []string
			for k := range vars {
				got = append(got, k)
			}
			sort.Strings(got)
			want := slices.Clone(tt.env)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("environment = %v, want %v", got, want)
			}
			if slices.Contains(tt.env, lambdaenv.EnvRulesPath) && vars[lambdaenv.EnvRulesPath] != "/opsloop/rules" {
				t.Errorf("%s = %v, want /opsloop/rules", lambdaenv.EnvRulesPath, vars[lambdaenv.EnvRulesPath])
			}
		})
	}
	// AND the functions invoked by EventBridge keep what fails after
	// Lambda's two retries in a dead-letter queue
	for _, fn := range []string{logicalID(subject.Classifier), logicalID(subject.Problems)} {
		if dl := fns[fn]["DeadLetterConfig"]; dl == nil {
			t.Errorf("function %s has no DeadLetterConfig", fn)
		}
		template.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
			"FunctionName": map[string]any{"Ref": fn}, "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600,
		})
	}
}

// statements returns the IAM statements attached to a role, by the
// policies that name it.
func statements(roleID string) []map[string]any {
	var out []map[string]any
	for _, p := range resources("AWS::IAM::Policy") {
		if !refersTo(p["Roles"], roleID) {
			continue
		}
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
		return out
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}

func TestIAMLeastPrivilege(t *testing.T) {
	synthesized(t)
	logs := []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	xray := []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	state := []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	tests := []struct {
		name string
		role string
		want []string
		// wildcard lists the only actions allowed on Resource "*".
		wildcard []string
	}{
		{stack.ClassifierName, roleOf(subject.Classifier),
			concat(logs, xray, state, []string{"dynamodb:DeleteItem", "events:PutEvents", "sqs:SendMessage", "ssm:GetParametersByPath"}), xray},
		{stack.IncidentsName, roleOf(subject.Incidents),
			concat(logs, xray, state, []string{"events:PutEvents",
				"ssm:CreateOpsItem", "ssm:GetOpsItem", "ssm:UpdateOpsItem", "ssm:DescribeOpsItems",
				"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}),
			concat(xray, []string{"ssm:DescribeOpsItems"})},
		{stack.ProblemsName, roleOf(subject.Problems),
			concat(logs, xray, state, []string{"dynamodb:DeleteItem", "sqs:SendMessage", "ssm:GetParametersByPath", "ssm:GetOpsItem", "ssm:UpdateOpsItem", "s3:PutObject", "s3:GetObject", "s3:ListBucket", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}), xray},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// GIVEN the function's role WHEN its statements are read
			sts := statements(tt.role)
			if len(sts) == 0 {
				t.Fatalf("role %s has no statements", tt.role)
			}
			got := map[string]bool{}
			for _, s := range sts {
				if s["Effect"] != "Allow" {
					continue
				}
				resources := strs(s["Resource"])
				for _, a := range strs(s["Action"]) {
					// THEN no action is a wildcard
					if strings.Contains(a, "*") {
						t.Errorf("action %q is a wildcard", a)
					}
					got[a] = true
					// AND "*" resources are kept to actions IAM cannot scope
					if slices.Contains(resources, "*") && !slices.Contains(tt.wildcard, a) {
						t.Errorf("%s is allowed on every resource", a)
					}
				}
			}
			// AND the role may do exactly what the function's job needs
			var gotList []string
			for a := range got {
				gotList = append(gotList, a)
			}
			sort.Strings(gotList)
			want := slices.Clone(tt.want)
			sort.Strings(want)
			if !slices.Equal(gotList, want) {
				t.Errorf("actions = %v\nwant %v", gotList, want)
			}
		})
	}
	// AND no role has managed policies
	for id, r := range resources("AWS::IAM::Role") {
		if r["ManagedPolicyArns"] != nil {
			t.Errorf("role %s has managed policies %v", id, r["ManagedPolicyArns"])
		}
	}
}

func roleOf(fn awslambda.Function) string {
	return *subject.GetLogicalId(fn.Role().Node().DefaultChild().(awscdk.CfnElement))
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// routeRules returns the EventBridge rules that route the default bus to
// the classifier, with their patterns as JSON.
func routeRules(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range resources("AWS::Events::Rule") {
		d, _ := r["Description"].(string)
		if !strings.HasPrefix(d, routing.DescriptionPrefix) {
			continue
		}
		out[id] = marshalPlain(r["EventPattern"])
	}
	return out
}

func TestRoutesAsDeployed(t *testing.T) {
	synthesized(t)
	// GIVEN the route rules in the template
	routes := routeRules(t)
	if len(routes) != len(subject.Routes) || len(routes) == 0 {
		t.Fatalf("route rules = %d, want %d", len(routes), len(subject.Routes))
	}
	classifier := logicalID(subject.Classifier)
	var generated []string
	for _, r := range subject.Routes {
		generated = append(generated, canonicalJSON(t, r.Pattern))
	}
	var compiled []*pattern.Pattern
	for id, src := range routes {
		r := resources("AWS::Events::Rule")[id]
		// THEN each is on the default bus, within the pattern size quota,
		// a valid EventBridge pattern
		if r["EventBusName"] != nil {
			t.Errorf("route %s is on bus %v, want the default bus", id, r["EventBusName"])
		}
		if len(src) > subject.Config.MaxPatternSize {
			t.Errorf("route %s pattern is %d characters, more than %d", id, len(src), subject.Config.MaxPatternSize)
		}
		if !slices.Contains(generated, canonicalJSON(t, src)) {
			t.Errorf("route %s pattern %s is none of the generated patterns", id, src)
		}
		p, err := pattern.Compile([]byte(src))
		if err != nil {
			t.Fatalf("route %s: Compile(%s) error = %v", id, src, err)
		}
		compiled = append(compiled, p)
		// AND it invokes the classifier with an explicit retry policy and a
		// dead-letter queue
		targets := r["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("route %s has %d targets, want 1", id, len(targets))
		}
		tg := targets[0].(map[string]any)
		if !refersTo(tg["Arn"], classifier) {
			t.Errorf("route %s targets %v, want the classifier", id, tg["Arn"])
		}
		if fmt.Sprint(tg["RetryPolicy"]) != fmt.Sprint(map[string]any{"MaximumEventAgeInSeconds": 3600.0, "MaximumRetryAttempts": 16.0}) {
			t.Errorf("route %s RetryPolicy = %v", id, tg["RetryPolicy"])
		}
		if !refersTo(tg["DeadLetterConfig"], logicalID(subject.DeadLetterQueues[stack.ClassifierName])) {
			t.Errorf("route %s DeadLetterConfig = %v, want the classifier's dead-letter queue", id, tg["DeadLetterConfig"])
		}
	}
	// AND the tools that route as deployed read the same patterns
	raw, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	fromTemplate, err := routing.FromTemplate(raw)
	if err != nil {
		t.Fatalf("FromTemplate() error = %v", err)
	}
	if len(fromTemplate) != len(routes) {
		t.Errorf("FromTemplate() = %d patterns, want %d", len(fromTemplate), len(routes))
	}
	for _, p := range fromTemplate {
		if !slices.Contains(generated, canonicalJSON(t, p)) {
			t.Errorf("FromTemplate() pattern %s is none of the generated patterns", p)
		}
	}
	// WHEN the sample events are matched against the deployed patterns
	set, err := rules.Load(filepath.Join(root, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := routing.Inputs(set)
	samples := readSamples(t)
	routed := 0
	for name, data := range samples {
		var matchedBy []string
		for _, in := range inputs {
			if ok, _ := in.Pattern.Match(data); ok {
				matchedBy = append(matchedBy, in.Name)
			}
		}
		n := 0
		for _, p := range compiled {
			if ok, _ := p.Match(data); ok {
				n++
			}
		}
		// THEN every event a recording or incident rule matches is routed,
		// exactly once, and no other event is
		switch {
		case len(matchedBy) > 0 && n == 0:
			t.Errorf("%s: rules %v match it, but no deployed route does", name, matchedBy)
		case len(matchedBy) == 0 && n > 0:
			t.Errorf("%s: no routed rule matches it, but %d routes do", name, n)
		case n > 1:
			t.Errorf("%s: %d routes match it, so the classifier would run %d times", name, n, n)
		}
		if n > 0 {
			routed++
		}
	}
	t.Logf("%d route rules (sizes %v); %d of %d samples routed", len(routes), routeSizes(routes), routed, len(samples))
}

// canonicalJSON re-encodes JSON text with sorted keys and no HTML escapes,
// as the template holds it.
func canonicalJSON(t *testing.T, src string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return marshalPlain(v)
}

func marshalPlain(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

func routeSizes(routes map[string]string) []int {
	var sizes []int
	for _, r := range routes {
		sizes = append(sizes, len(r))
	}
	sort.Ints(sizes)
	return sizes
}

func readSamples(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dir := filepath.Join(root, "events-samples")
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "trails" {
			return filepath.SkipDir // many events a file, in the shapes users hold
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = data
		return err
	})
	if err != nil || len(out) < 20 {
		t.Fatalf("read samples in %s: %v (%d found)", dir, err, len(out))
	}
	return out
}

func TestBusAndItsRules(t *testing.T) {
	synthesized(t)
	// GIVEN the stack THEN it has the opsloop bus with an archive of its events
	template.HasResourceProperties(jsii.String("AWS::Events::EventBus"), map[string]any{"Name": "opsloop"})
	template.HasResourceProperties(jsii.String("AWS::Events::Archive"), map[string]any{
		"EventPattern": map[string]any{"source": []any{"opsloop"}}, "RetentionDays": 90,
	})
	bus := logicalID(subject.Bus)
	sqsTarget := assertions.Match_ObjectLike(&map[string]any{
		"Arn":              map[string]any{"Fn::GetAtt": []any{logicalID(subject.IncidentsQueue), "Arn"}},
		"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{logicalID(subject.DeadLetterQueues[stack.IncidentsName]), "Arn"}}},
		"RetryPolicy":      map[string]any{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 16},
	})
	problemsTarget := assertions.Match_ObjectLike(&map[string]any{
		"Arn":              map[string]any{"Fn::GetAtt": []any{logicalID(subject.Problems), "Arn"}},
		"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{logicalID(subject.DeadLetterQueues[stack.ProblemsName]), "Arn"}}},
		"RetryPolicy":      map[string]any{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 16},
	})
	// AND incidents detected or recovered go to the incidents queue
	template.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
		"EventBusName": map[string]any{"Ref": bus},
		"EventPattern": map[string]any{"source": []any{"opsloop"}, "detail-type": []any{"Incident Detected", "Incident Recovered"}},
		"Targets":      []any{sqsTarget},
	})
	// AND incidents opened or resolved, OpsItem events and the schedule go
	// to the problems function
	template.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
		"EventBusName": map[string]any{"Ref": bus},
		"EventPattern": map[string]any{"source": []any{"opsloop"}, "detail-type": []any{"Incident Opened", "Incident Resolved", "Incident Escalated"}},
		"Targets":      []any{problemsTarget},
	})
	template.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
		"EventBusName": assertions.Match_Absent(),
		"EventPattern": map[string]any{"source": []any{"aws.ssm"}, "detail-type": []any{"OpsItem Create", "OpsItem Update"}},
		"Targets":      []any{problemsTarget},
	})
	template.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
		"ScheduleExpression": stack.DefaultReportSchedule,
		"Targets":            []any{problemsTarget},
	})
	// AND the 5-minute schedule of escalations and retries goes to the
	// incidents queue
	template.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
		"ScheduleExpression": "rate(5 minutes)",
		"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
			"Arn":         map[string]any{"Fn::GetAtt": []any{logicalID(subject.IncidentsQueue), "Arn"}},
			"RetryPolicy": map[string]any{"MaximumEventAgeInSeconds": 600, "MaximumRetryAttempts": 16},
		})},
	})
	// AND the incidents function consumes its queue in batches, reporting
	// failed items, at most two at a time
	template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"FunctionName":          map[string]any{"Ref": logicalID(subject.Incidents)},
		"BatchSize":             10,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
		"ScalingConfig":         map[string]any{"MaximumConcurrency": 2},
	})
	template.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
		"VisibilityTimeout": 720,
		"RedrivePolicy": map[string]any{
			"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{logicalID(subject.DeadLetterQueues[stack.IncidentsName]), "Arn"}},
			"maxReceiveCount":     5,
		},
	})
}

func TestEncryptionAndStorage(t *testing.T) {
	synthesized(t)
	// GIVEN the stack THEN every queue is encrypted and refuses plain transport
	queues := resources("AWS::SQS::Queue")
	if len(queues) != 5 {
		t.Errorf("queues = %d, want 5 (incidents, and the dead-letter queues of the three functions and of chat)", len(queues))
	}
	for id, q := range queues {
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("queue %s is not encrypted", id)
		}
		found := false
		for _, p := range resources("AWS::SQS::QueuePolicy") {
			b, _ := json.Marshal(p)
			if refersTo(p["Queues"], id) && strings.Contains(string(b), `"aws:SecureTransport":"false"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("queue %s has no policy denying insecure transport", id)
		}
	}
	// AND one table: on demand, PITR, encrypted, TTL, keys from internal/aws/dynamodb
	template.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(1))
	template.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
		"BillingMode":                      "PAY_PER_REQUEST",
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"SSESpecification":                 map[string]any{"SSEEnabled": true},
		"TimeToLiveSpecification":          map[string]any{"AttributeName": dynamodb.TTLAttribute, "Enabled": true},
		"KeySchema": []any{
			map[string]any{"AttributeName": dynamodb.PartitionKey, "KeyType": "HASH"},
			map[string]any{"AttributeName": dynamodb.SortKey, "KeyType": "RANGE"},
		},
		"GlobalSecondaryIndexes": []any{assertions.Match_ObjectLike(&map[string]any{
			"IndexName": dynamodb.StatusIndex,
			"KeySchema": []any{
				map[string]any{"AttributeName": dynamodb.StatusIndexPartitionKey, "KeyType": "HASH"},
				map[string]any{"AttributeName": dynamodb.StatusIndexSortKey, "KeyType": "RANGE"},
			},
		})},
	})
	template.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{"DeletionPolicy": "Retain"})
	// AND the reports bucket: encrypted, private, TLS only, expiring
	template.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
			map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
		"LifecycleConfiguration": map[string]any{"Rules": []any{assertions.Match_ObjectLike(&map[string]any{"ExpirationInDays": 400, "Status": "Enabled"})}},
	})
	template.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		})})},
	})
	// AND the notification topic: encrypted with a rotating key, TLS only,
	// OpsCenter may publish, the owner's email subscribed
	key := logicalID(subject.Topic.MasterKey())
	template.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	template.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{
		"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{key, "Arn"}},
	})
	template.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}),
			assertions.Match_ObjectLike(&map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "ssm.amazonaws.com"}, "Action": "sns:Publish"}),
		})},
	})
	template.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": testEmail})
}

func TestRulesParameters(t *testing.T) {
	synthesized(t)
	// GIVEN the rules parameters in the template
	params := resources("AWS::SSM::Parameter")
	if len(params) != len(subject.Parameters) || len(params) == 0 {
		t.Fatalf("parameters = %d, want %d", len(params), len(subject.Parameters))
	}
	var files []rules.File
	for id, p := range params {
		name, _ := p["Name"].(string)
		value, _ := p["Value"].(string)
		// THEN each is a Standard parameter under the rules path, within
		// its size, without the "{{" Parameter Store refuses
		if !strings.HasPrefix(name, "/opsloop/rules/") || p["Tier"] != "Standard" || p["Type"] != "String" {
			t.Errorf("parameter %s: name %q, tier %v, type %v", id, name, p["Tier"], p["Type"])
		}
		if len(value) > 4096 || strings.Contains(value, "{{") {
			t.Errorf("parameter %s: %d bytes, holds {{: %v", name, len(value), strings.Contains(value, "{{"))
		}
		files = append(files, rules.File{Name: name, Data: []byte(value)})
	}
	// WHEN the functions load them as GetParametersByPath returns them
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	got, err := rules.Build(files)
	if err != nil {
		t.Fatalf("Build(parameters) error = %v", err)
	}
	// THEN they hold the repository's rules in their order
	want, err := rules.Load(filepath.Join(root, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != len(want.Rules) {
		t.Fatalf("parameters hold %d rules, want %d", len(got.Rules), len(want.Rules))
	}
	for i := range want.Rules {
		if got.Rules[i].Name != want.Rules[i].Name {
			t.Errorf("rule %d = %s, want %s", i, got.Rules[i].Name, want.Rules[i].Name)
		}
	}
}

func TestAlarmsAndDashboard(t *testing.T) {
	synthesized(t)
	topic := logicalID(subject.Topic)
	alarms := resources("AWS::CloudWatch::Alarm")
	// GIVEN the stack THEN the pipeline's own failures alarm to the topic
	want := map[string]float64{}
	type key struct{ ns, metric string }
	found := map[key]int{}
	for id, a := range alarms {
		if !refersTo(a["AlarmActions"], topic) || !refersTo(a["OKActions"], topic) {
			t.Errorf("alarm %s does not notify the topic", id)
		}
		ns, _ := a["Namespace"].(string)
		m, _ := a["MetricName"].(string)
		found[key{ns, m}]++
		want[ns+"/"+m] = a["Threshold"].(float64)
	}
	for _, k := range []struct {
		key
		n int
	}{
		{key{"AWS/Lambda", "Errors"}, 3}, {key{"AWS/Lambda", "Throttles"}, 3},
		{key{"AWS/SQS", "ApproximateNumberOfMessagesVisible"}, 3}, {key{"AWS/SQS", "ApproximateAgeOfOldestMessage"}, 1},
		{key{metrics.Namespace, metrics.OpsItemLimitExceeded}, 1}, {key{metrics.Namespace, metrics.RulesReloadFailed}, 1},
	} {
		if found[k.key] != k.n {
			t.Errorf("alarms on %s %s = %d, want %d", k.ns, k.metric, found[k.key], k.n)
		}
	}
	if want["AWS/SQS/ApproximateAgeOfOldestMessage"] != 900 {
		t.Errorf("queue age alarm threshold = %v, want 900", want["AWS/SQS/ApproximateAgeOfOldestMessage"])
	}
	// AND the dashboard draws opsloop's own metrics
	boards := resources("AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		t.Fatalf("dashboards = %d, want 1", len(boards))
	}
	for _, b := range boards {
		body, _ := json.Marshal(b["DashboardBody"])
		for _, m := range []string{metrics.Decisions, metrics.IncidentsOpened, metrics.IncidentsResolved, metrics.ProblemsOpened, metrics.TimeToResolve} {
			if !strings.Contains(string(body), `\"`+metrics.Namespace+`\",\"`+m+`\"`) {
				t.Errorf("dashboard does not draw %s/%s", metrics.Namespace, m)
			}
		}
		for _, action := range []string{"ignore", "record", "incident", "recover"} {
			if !strings.Contains(string(body), `\"Action\",\"`+action+`\"`) {
				t.Errorf("dashboard does not draw decisions %q", action)
			}
		}
	}
}

func TestNagClean(t *testing.T) {
	synthesized(t)
	// GIVEN the app with cdk-nag's AwsSolutions checks
	// WHEN its annotations are read THEN nothing is left unsuppressed
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for kind, found := range map[string]*[]*cxapi.SynthesisMessage{
		"error":   annotations.FindError(jsii.String("*"), match),
		"warning": annotations.FindWarning(jsii.String("*"), match),
	} {
		for _, m := range *found {
			t.Errorf("cdk-nag %s at %s: %v", kind, *m.Id, m.Entry.Data)
		}
	}
}

func TestInvalidRulesFailSynth(t *testing.T) {
	synthesized(t)
	ctx, err := testContext()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := testConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := []rules.File{{Name: "rules/broken.json", Data: []byte(`{
  "severities": {"high": {"opsItemSeverity": "2", "priority": 2}},
  "rules": [
    {"name": "x", "pattern": {"source": "aws.ec2"}, "action": "incident", "severity": "nope", "category": "Availability"}
  ]
}`)}}
	tests := []struct {
		name  string
		props *stack.PipelineStackProps
		want  []string
	}{
		{"invalid rules", &stack.PipelineStackProps{Config: cfg, Rules: bad}, []string{"rules are invalid", "rules/broken.json:4:"}},
		{"rule too large for a parameter", &stack.PipelineStackProps{Config: cfg, Rules: []rules.File{{Name: "rules/huge.json", Data: []byte(
			`{"severities":{"high":{"opsItemSeverity":"2","priority":2}},"rules":[{"name":"huge","description":"` + strings.Repeat("x", 5000) + `","pattern":{"source":["aws.ec2"]},"action":"record"}]}`)}}},
			[]string{`rule "huge"`, "4096"}},
		{"missing bundle", &stack.PipelineStackProps{Config: func() stack.Config { c := cfg; c.AssetDir = t.TempDir(); return c }()}, []string{"classifier/bootstrap is missing", "scripts/build.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// GIVEN a new app WHEN the stack is defined with bad input
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			_, err := stack.NewPipelineStack(app, "opsloop", tt.props)
			// THEN definition fails, saying where and why
			if err == nil {
				t.Fatal("NewPipelineStack() error = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewPipelineStack() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	// GIVEN the synthesized template WHEN its outputs are read
	outputs, _ := tpl["Outputs"].(map[string]any)
	// THEN operators find the table and every dead-letter queue there
	want := []string{"TableName", "BusName", "TopicArn", "ReportsBucket"}
	for name := range subject.DeadLetterQueues {
		want = append(want, strings.ToUpper(name[:1])+name[1:]+"DeadLetterQueueUrl")
	}
	for _, id := range want {
		if _, ok := outputs[id]; !ok {
			t.Errorf("template has no output %s", id)
		}
	}
	if len(want) < 7 {
		t.Errorf("only %d outputs expected: the functions' dead-letter queues are missing from the stack", len(want))
	}
}

// TestAlarmActionsMayPublish: every topic an alarm notifies has a policy
// that lets CloudWatch publish to it, from this account's alarms.
func TestAlarmActionsMayPublish(t *testing.T) {
	synthesized(t)
	policies := resources("AWS::SNS::TopicPolicy")
	allows := func(topic string) bool {
		for _, p := range policies {
			if !refersTo(p["Topics"], topic) {
				continue
			}
			doc, _ := p["PolicyDocument"].(map[string]any)
			stmts, _ := doc["Statement"].([]any)
			for _, s := range stmts {
				st, _ := s.(map[string]any)
				b, _ := json.Marshal(st)
				if st["Effect"] == "Allow" && strings.Contains(string(b), `"Service":"cloudwatch.amazonaws.com"`) &&
					strings.Contains(string(b), `"sns:Publish"`) && strings.Contains(string(b), `"aws:SourceAccount"`) {
					return true
				}
			}
		}
		return false
	}
	alarms := resources("AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	for id, a := range alarms {
		for _, key := range []string{"AlarmActions", "OKActions"} {
			actions, _ := a[key].([]any)
			for _, act := range actions {
				ref, _ := act.(map[string]any)["Ref"].(string)
				if ref == "" || !allows(ref) {
					t.Errorf("alarm %s %s %v: the topic's policy does not let CloudWatch publish", id, key, act)
				}
			}
		}
	}
}

// TestBusIsClosed: only the classifier's and incidents function's roles may
// put events on the opsloop bus.
func TestBusIsClosed(t *testing.T) {
	synthesized(t)
	policies := resources("AWS::Events::EventBusPolicy")
	if len(policies) != 1 {
		t.Fatalf("event bus policies = %d, want 1", len(policies))
	}
	for _, p := range policies {
		if !refersTo(p["EventBusName"], logicalID(subject.Bus)) {
			t.Errorf("the policy is not on the opsloop bus: %v", p["EventBusName"])
		}
		st := p["Statement"].(map[string]any)
		principal, _ := json.Marshal(st["Principal"])
		if st["Effect"] != "Deny" || st["Action"] != "events:PutEvents" || (string(principal) != `"*"` && string(principal) != `{"AWS":"*"}`) {
			t.Errorf("statement = %v, want a deny of events:PutEvents to everyone", st)
		}
		cond, _ := st["Condition"].(map[string]any)["ArnNotEqualsIfExists"].(map[string]any)
		arns, _ := cond["aws:PrincipalArn"].([]any)
		want := []string{logicalID(subject.Classifier.Role()), logicalID(subject.Incidents.Role())}
		if len(arns) != len(want) {
			t.Fatalf("publishers = %v, want the classifier's and incidents function's roles", arns)
		}
		for i, id := range want {
			if !refersTo(arns[i], id) {
				t.Errorf("publisher %d = %v, want role %s", i, arns[i], id)
			}
		}
	}
}

// TestChat: with a Slack and a Teams channel in the context, incidents
// opened and escalated reach both through a chat topic of their own, as
// the chat message the events carry; the channels' users are held to
// read-only by the guardrail, and the role they act through reads
// CloudWatch only.
func TestChat(t *testing.T) {
	synthesized(t)
	topic := logicalID(subject.ChatTopic)
	role := logicalID(subject.ChatRole)
	for typ, ids := range map[string][]string{
		"AWS::Chatbot::SlackChannelConfiguration":          {testSlackWorkspace, testSlackChannel},
		"AWS::Chatbot::MicrosoftTeamsChannelConfiguration": {testTenant, testTeam, testTeamsChannel},
	} {
		cs := resources(typ)
		if len(cs) != 1 {
			t.Fatalf("%d %s, want 1", len(cs), typ)
		}
		for _, c := range cs {
			b, _ := json.Marshal(c)
			for _, id := range ids {
				if !strings.Contains(string(b), id) {
					t.Errorf("%s lacks %s: %s", typ, id, b)
				}
			}
			if !refersTo(c["SnsTopicArns"], topic) || len(c["SnsTopicArns"].([]any)) != 1 || !refersTo(c["IamRoleArn"], role) {
				t.Errorf("%s topics %v, role %v; want the chat topic only and the chat role", typ, c["SnsTopicArns"], c["IamRoleArn"])
			}
			if g := fmt.Sprint(c["GuardrailPolicies"]); !strings.Contains(g, ":iam::aws:policy/ReadOnlyAccess") || len(c["GuardrailPolicies"].([]any)) != 1 {
				t.Errorf("%s guardrails %s, want ReadOnlyAccess only", typ, g)
			}
		}
	}
	if b, _ := json.Marshal(resources("AWS::IAM::Role")[role]); !strings.Contains(string(b), "chatbot.amazonaws.com") {
		t.Errorf("chat role %s: want chatbot.amazonaws.com to assume it", b)
	}
	if got := statements(role); len(got) != 1 || fmt.Sprint(got[0]["Action"]) != "ssm:GetOpsItem" || !strings.Contains(fmt.Sprint(got[0]["Resource"]), ":opsitem/*") {
		t.Errorf("chat role statements %v; want ssm:GetOpsItem on OpsItems only", got)
	}
	found := false
	for _, rule := range resources("AWS::Events::Rule") {
		for _, tg := range asList(rule["Targets"]) {
			if !refersTo(tg, topic) {
				continue
			}
			found = true
			target := tg.(map[string]any)
			if target["InputPath"] != "$.detail.notification" || target["DeadLetterConfig"] == nil {
				t.Errorf("chat target %v: want the notification as the message, and a dead-letter queue", target)
			}
			if p, _ := json.Marshal(rule["EventPattern"]); !strings.Contains(string(p), "Incident Opened") || !strings.Contains(string(p), "Incident Escalated") {
				t.Errorf("chat rule pattern %s", p)
			}
		}
	}
	if !found {
		t.Error("no rule targets the chat topic")
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestAutoRunGrants: a rules set with an autoRun runbook gives the
// incidents function the start of that document and the pass of its role
// to Systems Manager, nothing more, and stays cdk-nag clean; the default
// rules, which run nothing by themselves, grant neither (TestIAMLeastPrivilege).
func TestAutoRunGrants(t *testing.T) {
	synthesized(t)
	data, err := os.ReadFile(filepath.Join(root, "rules", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::123456789012:role/opsloop-runbooks"
	auto := strings.Replace(string(data), `"parameters": {"GroupId": "{{detail.requestParameters.groupId}}"}}]`,
		`"parameters": {"GroupId": "{{detail.requestParameters.groupId}}", "AutomationAssumeRole": "`+role+`"}, "autoRun": true}]`, 1)
	if auto == string(data) {
		t.Fatal("the default rules no longer offer AWS-DisablePublicAccessForSecurityGroup as the test expects")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "default.json"), []byte(auto), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, err := testContext()
	if err != nil {
		t.Fatal(err)
	}
	ctx[stack.KeyRulesDir] = dir
	cfg, err := testConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
	st, err := stack.NewPipelineStack(app, "opsloop", &stack.PipelineStackProps{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	stack.Check(app)
	raw, _ := json.Marshal(assertions.Template_FromStack(st.Stack, nil).ToJSON())
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	roleID := *st.GetLogicalId(st.Incidents.Role().Node().DefaultChild().(awscdk.CfnElement))
	var start, pass map[string]any
	for _, r := range doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		if res["Type"] != "AWS::IAM::Policy" || !refersTo(props["Roles"], roleID) {
			continue
		}
		for _, s := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			stmt := s.(map[string]any)
			switch stmt["Sid"] {
			case "AutoRunRunbooks":
				start = stmt
			case "AutoRunAsTheirRoles":
				pass = stmt
			}
		}
	}
	if start == nil || pass == nil {
		t.Fatalf("incidents role lacks the autoRun statements: start %v, pass %v", start, pass)
	}
	b, _ := json.Marshal(start["Resource"])
	if start["Action"] != "ssm:StartAutomationExecution" || !strings.Contains(string(b), "document/AWS-DisablePublicAccessForSecurityGroup") ||
		!strings.Contains(string(b), "automation-definition/AWS-DisablePublicAccessForSecurityGroup:*") || strings.Contains(string(b), "document/*") {
		t.Errorf("start statement %v", start)
	}
	if pass["Action"] != "iam:PassRole" || pass["Resource"] != role || !strings.Contains(fmt.Sprint(pass["Condition"]), "ssm.amazonaws.com") {
		t.Errorf("pass statement %v; want iam:PassRole on %s to ssm.amazonaws.com only", pass, role)
	}
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	ann := assertions.Annotations_FromStack(st.Stack)
	for _, found := range []*[]*cxapi.SynthesisMessage{ann.FindError(jsii.String("*"), match), ann.FindWarning(jsii.String("*"), match)} {
		for _, m := range *found {
			t.Errorf("cdk-nag at %s: %v", *m.Id, m.Entry.Data)
		}
	}
}
