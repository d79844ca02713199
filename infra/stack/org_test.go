package stack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/infra/stack"
	"github.com/opsloop/opsloop/internal/routing"
)

const (
	testOrg  = "o-abcdefghij1"
	testUnit = "ou-ab12-cdefgh34"
)

// orgSynth is the central stack of an organization, synthesized once.
var orgSynth struct {
	once   sync.Once
	err    error
	st     *stack.PipelineStack
	tpl    map[string]any
	member map[string]any
	ann    assertions.Annotations
}

func orgContext(t *testing.T, extra map[string]any) map[string]any {
	t.Helper()
	ctx, err := testContext()
	if err != nil {
		t.Fatal(err)
	}
	ctx[stack.KeyOrganizationID] = testOrg
	ctx[stack.KeyMemberUnits] = testUnit
	ctx[stack.KeyMemberRegions] = "eu-west-1,us-east-1"
	for k, v := range extra {
		ctx[k] = v
	}
	return ctx
}

// synthCentral synthesizes the central stack of ctx as infra/main.go does.
func synthCentral(t *testing.T, ctx map[string]any) (*stack.PipelineStack, map[string]any, error) {
	cfg, err := testConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	body, err := stack.MemberTemplate(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
	st, err := stack.NewPipelineStack(app, "opsloop", &stack.PipelineStackProps{Config: cfg, MemberTemplate: body})
	if err != nil {
		return nil, nil, err
	}
	stack.Check(app)
	raw, _ := json.Marshal(assertions.Template_FromStack(st.Stack, nil).ToJSON())
	var doc map[string]any
	err = json.Unmarshal(raw, &doc)
	return st, doc, err
}

func orgStack(t *testing.T) {
	t.Helper()
	synthesized(t)
	orgSynth.once.Do(func() {
		o := &orgSynth
		if o.st, o.tpl, o.err = synthCentral(t, orgContext(t, nil)); o.err != nil {
			return
		}
		o.ann = assertions.Annotations_FromStack(o.st.Stack)
		set := typed(o.tpl, "AWS::CloudFormation::StackSet")
		if len(set) != 1 {
			o.err = fmt.Errorf("stack sets = %d, want 1", len(set))
			return
		}
		for _, props := range set {
			o.err = json.Unmarshal([]byte(props["TemplateBody"].(string)), &o.member)
		}
	})
	if orgSynth.err != nil {
		t.Fatalf("organization synth: %v", orgSynth.err)
	}
}

// typed returns a template's resources of a type, by logical id.
func typed(doc map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func TestOrganizationIngestBus(t *testing.T) {
	orgStack(t)
	ingest := logicalIDIn(orgSynth.st, orgSynth.st.IngestBus)
	// GIVEN the central stack of an organization WHEN its ingest bus's
	// policy is read THEN it admits PutEvents only from the organization's
	// principals and only for AWS sources
	var stmts []map[string]any
	for _, p := range typed(orgSynth.tpl, "AWS::Events::EventBusPolicy") {
		if refersTo(p["EventBusName"], ingest) {
			stmts = append(stmts, p["Statement"].(map[string]any))
		}
	}
	if len(stmts) != 1 {
		t.Fatalf("ingest bus policy statements = %v, want one", stmts)
	}
	s := stmts[0]
	cond, _ := json.Marshal(s["Condition"])
	if s["Effect"] != "Allow" || s["Action"] != "events:PutEvents" || !refersTo(s["Resource"], ingest) ||
		string(cond) != `{"StringEquals":{"aws:PrincipalOrgID":"`+testOrg+`"},"StringLike":{"events:source":"aws.*"}}` {
		t.Errorf("ingest bus statement = %v", s)
	}
	// AND the same routes as the default bus's carry its events to the
	// classifier, under descriptions of their own
	classifier := logicalIDIn(orgSynth.st, orgSynth.st.Classifier)
	var onIngest, onDefault []string
	for _, r := range typed(orgSynth.tpl, "AWS::Events::Rule") {
		desc, _ := r["Description"].(string)
		pat, _ := json.Marshal(r["EventPattern"])
		switch {
		case strings.HasPrefix(desc, routing.IngestDescriptionPrefix):
			if !refersTo(r["EventBusName"], ingest) || !refersTo(r["Targets"], classifier) {
				t.Errorf("ingest route %q: bus %v targets %v", desc, r["EventBusName"], r["Targets"])
			}
			onIngest = append(onIngest, string(pat))
		case strings.HasPrefix(desc, routing.DescriptionPrefix):
			onDefault = append(onDefault, string(pat))
		}
	}
	slices.Sort(onIngest)
	slices.Sort(onDefault)
	if len(onIngest) == 0 || !slices.Equal(onIngest, onDefault) {
		t.Errorf("ingest routes (%d) differ from the default bus's (%d)", len(onIngest), len(onDefault))
	}
	// AND cdk-nag finds nothing
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, found := range []*[]*cxapi.SynthesisMessage{orgSynth.ann.FindError(jsii.String("*"), match), orgSynth.ann.FindWarning(jsii.String("*"), match)} {
		for _, m := range *found {
			t.Errorf("cdk-nag at %s: %v", *m.Id, m.Entry.Data)
		}
	}
}

func TestOrganizationStackSet(t *testing.T) {
	orgStack(t)
	var set map[string]any
	for _, p := range typed(orgSynth.tpl, "AWS::CloudFormation::StackSet") {
		set = p
	}
	// GIVEN the central stack WHEN its StackSet is read THEN it is
	// service-managed, deploys to new accounts of the units on its own, in
	// the chosen Regions, and passes the ingest bus to the members
	got, _ := json.Marshal(map[string]any{
		"PermissionModel": set["PermissionModel"], "AutoDeployment": set["AutoDeployment"], "CallAs": set["CallAs"],
		"StackInstancesGroup": set["StackInstancesGroup"], "Capabilities": set["Capabilities"],
	})
	want := `{"AutoDeployment":{"Enabled":true,"RetainStacksOnAccountRemoval":false},"CallAs":"DELEGATED_ADMIN","Capabilities":["CAPABILITY_IAM"],` +
		`"PermissionModel":"SERVICE_MANAGED","StackInstancesGroup":[{"DeploymentTargets":{"OrganizationalUnitIds":["` + testUnit + `"]},"Regions":["eu-west-1","us-east-1"]}]}`
	if string(got) != want {
		t.Errorf("stack set =\n%s\nwant\n%s", got, want)
	}
	ingest := logicalIDIn(orgSynth.st, orgSynth.st.IngestBus)
	params := map[string]any{}
	for _, p := range set["Parameters"].([]any) {
		p := p.(map[string]any)
		params[p["ParameterKey"].(string)] = p["ParameterValue"]
	}
	if !refersTo(params[stack.ParamCentralBus], ingest) || fmt.Sprint(params[stack.ParamCentralAccount]) != "map[Ref:AWS::AccountId]" ||
		fmt.Sprint(params[stack.ParamCentralRegion]) != "map[Ref:AWS::Region]" {
		t.Errorf("stack set parameters = %v", params)
	}
	if body := set["TemplateBody"].(string); len(body) > stack.MaxStackSetTemplateBody || strings.Contains(body, "aws:cdk:path") {
		t.Errorf("template body: %d bytes (limit %d), with CDK metadata: %v", len(body), stack.MaxStackSetTemplateBody, strings.Contains(body, "aws:cdk:path"))
	}
}

func TestMemberStack(t *testing.T) {
	orgStack(t)
	m := orgSynth.member
	body, _ := json.Marshal(m)
	// GIVEN the member template the StackSet deploys WHEN its routes are
	// read THEN they are the central stack's default-bus routes
	pats, err := routing.FromTemplate(body)
	if err != nil {
		t.Fatal(err)
	}
	var central []string
	for _, r := range orgSynth.st.Routes {
		central = append(central, r.Pattern)
	}
	compact := func(list []string) []string {
		out := make([]string, len(list))
		for i, p := range list {
			var v any
			_ = json.Unmarshal([]byte(p), &v)
			b, _ := json.Marshal(v)
			out[i] = string(b)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(compact(pats), compact(central)) {
		t.Errorf("member routes (%d) differ from the central routes (%d)", len(pats), len(central))
	}
	// AND each forwards to the central bus parameter through the role,
	// with retries and the dead-letter queue, except where the central
	// stack itself runs
	roles := typed(m, "AWS::IAM::Role")
	queues := typed(m, "AWS::SQS::Queue")
	if len(roles) != 1 || len(queues) != 1 {
		t.Fatalf("roles %d, queues %d; want one of each", len(roles), len(queues))
	}
	var roleID, queueID string
	for id := range roles {
		roleID = id
	}
	for id := range queues {
		queueID = id
	}
	for id, r := range m["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::Events::Rule" {
			continue
		}
		props := res["Properties"].(map[string]any)
		targets := props["Targets"].([]any)
		tg := targets[0].(map[string]any)
		retry, _ := json.Marshal(tg["RetryPolicy"])
		if len(targets) != 1 || fmt.Sprint(tg["Arn"]) != "map[Ref:"+stack.ParamCentralBus+"]" || !refersTo(tg["RoleArn"], roleID) ||
			!refersTo(tg["DeadLetterConfig"], queueID) || string(retry) != `{"MaximumEventAgeInSeconds":3600,"MaximumRetryAttempts":16}` ||
			res["Condition"] != "NotCentral" || props["EventBusName"] != nil {
			t.Errorf("member rule %s: %v (condition %v)", id, props, res["Condition"])
		}
	}
	cond, _ := json.Marshal(m["Conditions"])
	if string(cond) != `{"NotCentral":{"Fn::Not":[{"Fn::And":[{"Fn::Equals":[{"Ref":"AWS::AccountId"},{"Ref":"CentralAccount"}]},{"Fn::Equals":[{"Ref":"AWS::Region"},{"Ref":"CentralRegion"}]}]}]}}` {
		t.Errorf("conditions = %s", cond)
	}
	// AND the role is EventBridge's, for this account's rules, and may
	// only put events on the central bus
	trust, _ := json.Marshal(roles[roleID]["AssumeRolePolicyDocument"])
	if !strings.Contains(string(trust), `"Principal":{"Service":"events.amazonaws.com"}`) || !strings.Contains(string(trust), `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) {
		t.Errorf("role trust = %s", trust)
	}
	var stmts []any
	for _, p := range typed(m, "AWS::IAM::Policy") {
		stmts = append(stmts, p["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
	}
	if got, _ := json.Marshal(stmts); string(got) != `[{"Action":"events:PutEvents","Effect":"Allow","Resource":{"Ref":"`+stack.ParamCentralBus+`"}}]` {
		t.Errorf("role statements = %s, want events:PutEvents on the central bus only", got)
	}
	// AND undelivered events raise an OpsItem in the member account
	alarms := typed(m, "AWS::CloudWatch::Alarm")
	if len(alarms) != 1 {
		t.Fatalf("alarms = %d, want 1", len(alarms))
	}
	for _, a := range alarms {
		act, _ := json.Marshal(a["AlarmActions"])
		dims, _ := json.Marshal(a["Dimensions"])
		if !strings.Contains(string(act), ":opsitem:2#CATEGORY=Availability") || !strings.Contains(string(dims), queueID) {
			t.Errorf("alarm actions %s on %s", act, dims)
		}
	}
	// AND it needs no CDK bootstrap in the member accounts
	if strings.Contains(string(body), "BootstrapVersion") || strings.Contains(string(body), "CDKMetadata") {
		t.Error("member template refers to the CDK bootstrap or metadata")
	}
}

func TestMemberStackAlone(t *testing.T) {
	synthesized(t)
	// GIVEN stack=member with the central bus WHEN synthesized as the app
	// does THEN the parameters default to the bus's ARN, account and Region
	ctx, err := testContext()
	if err != nil {
		t.Fatal(err)
	}
	ctx[stack.KeyStack] = stack.StackMember
	ctx[stack.KeyCentralBus] = "arn:aws:events:eu-west-1:111122223333:event-bus/opsloop-ingest"
	cfg, err := testConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
	m, err := stack.NewMemberStack(app, "opsloop-member", &stack.MemberStackProps{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	stack.Check(app)
	params := assertions.Template_FromStack(m.Stack, nil).ToJSON()
	got, _ := json.Marshal((*params)["Parameters"])
	for _, want := range []string{`"Default":"arn:aws:events:eu-west-1:111122223333:event-bus/opsloop-ingest"`, `"Default":"111122223333"`, `"Default":"eu-west-1"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("parameters %s lack %s", got, want)
		}
	}
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	ann := assertions.Annotations_FromStack(m.Stack)
	for _, found := range []*[]*cxapi.SynthesisMessage{ann.FindError(jsii.String("*"), match), ann.FindWarning(jsii.String("*"), match)} {
		for _, msg := range *found {
			t.Errorf("cdk-nag at %s: %v", *msg.Id, msg.Entry.Data)
		}
	}
}

func TestLargeMemberTemplateGoesAsAsset(t *testing.T) {
	synthesized(t)
	// GIVEN rules whose routes make the member template larger than a
	// StackSet takes inline
	dir := t.TempDir()
	rs := make([]string, 60)
	for i := range rs {
		names := make([]string, 40)
		for j := range names {
			names[j] = fmt.Sprintf(`"Operation%02dOfRule%02dWithAName"`, j, i)
		}
		rs[i] = fmt.Sprintf(`{"name": "wide-%d", "action": "incident", "severity": "low", "category": "Availability", "pattern": {"source": ["aws.ec2"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"requestParameters": {"field%02d": [%s]}}}}`, i, i, strings.Join(names, ","))
	}
	data, err := os.ReadFile(filepath.Join(root, "rules", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "default.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wide.json"), []byte(`{"rules": [`+strings.Join(rs, ",\n")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	assets := t.TempDir()
	for _, name := range []string{stack.ClassifierName, stack.IncidentsName, stack.ProblemsName} {
		_ = os.MkdirAll(filepath.Join(assets, name), 0o755)
		_ = os.WriteFile(filepath.Join(assets, name, "bootstrap"), []byte("bundle"), 0o755)
	}
	// WHEN the central stack is synthesized
	_, doc, err := synthCentral(t, orgContext(t, map[string]any{stack.KeyRulesDir: dir, stack.KeyAssetDir: assets}))
	if err != nil {
		t.Fatal(err)
	}
	// THEN the StackSet takes the template from a file asset, written
	// next to the bundles
	for _, set := range typed(doc, "AWS::CloudFormation::StackSet") {
		if set["TemplateBody"] != nil || set["TemplateURL"] == nil {
			t.Errorf("stack set: body %v, URL %v; want the URL of an asset", set["TemplateBody"] != nil, set["TemplateURL"])
		}
	}
	files, _ := filepath.Glob(filepath.Join(assets, "member-*.template.json"))
	if len(files) != 1 {
		t.Fatalf("member template files = %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() <= stack.MaxStackSetTemplateBody {
		t.Errorf("member template file: %v, %v", fi, err)
	}
}

func logicalIDIn(st *stack.PipelineStack, c constructs.IConstruct) string {
	return *st.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
}

func TestMemberOpsItemsGrants(t *testing.T) {
	synthesized(t)
	// GIVEN the default synth THEN no function may touch other accounts' OpsItems
	if b, _ := json.Marshal(tpl); strings.Contains(string(b), "MemberAccountOpsItems") {
		t.Error("the default deployment grants cross-account OpsItems")
	}
	// GIVEN rules that create OpsItems in the event's account
	data, err := os.ReadFile(filepath.Join(root, "rules", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	member := strings.Replace(string(data), "{", `{"organization": {"opsItemAccount": "member"},`, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "default.json"), []byte(member), 0o644); err != nil {
		t.Fatal(err)
	}
	// WHEN synthesized
	st, doc, err := synthCentral(t, orgContext(t, map[string]any{stack.KeyRulesDir: dir}))
	if err != nil {
		t.Fatal(err)
	}
	// THEN the incidents function may create, read and update OpsItems of
	// any account in this Region, the problems function update them
	want := map[string]string{
		logicalIDIn(st, st.Incidents.Role()): `["ssm:CreateOpsItem","ssm:GetOpsItem","ssm:UpdateOpsItem"]`,
		logicalIDIn(st, st.Problems.Role()):  `["ssm:GetOpsItem","ssm:UpdateOpsItem"]`,
	}
	for _, p := range typed(doc, "AWS::IAM::Policy") {
		for role, actions := range want {
			if !refersTo(p["Roles"], role) {
				continue
			}
			for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				stmt := s.(map[string]any)
				if stmt["Sid"] != "MemberAccountOpsItems" {
					continue
				}
				a, _ := json.Marshal(stmt["Action"])
				r, _ := json.Marshal(stmt["Resource"])
				if string(a) != actions || !strings.Contains(string(r), `":ssm:",{"Ref":"AWS::Region"},":*:opsitem/*"`) {
					t.Errorf("role %s: %s on %s", role, a, r)
				}
				delete(want, role)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("roles without the member OpsItems statement: %v", want)
	}
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	ann := assertions.Annotations_FromStack(st.Stack)
	for _, found := range []*[]*cxapi.SynthesisMessage{ann.FindError(jsii.String("*"), match), ann.FindWarning(jsii.String("*"), match)} {
		for _, m := range *found {
			t.Errorf("cdk-nag at %s: %v", *m.Id, m.Entry.Data)
		}
	}
}
