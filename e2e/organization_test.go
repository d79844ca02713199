package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/functions/problemsfn"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/routing"
)

// orgTemplateFile is the central stack of an organization, synthesized by
// scripts/test.sh before the tests (with organizationId and one unit).
const orgTemplateFile = "cdk.out.org/opsloop.template.json"

// The organization of the test: two member accounts, two Regions, and an
// account outside it.
const (
	memberA = "111111111111"
	memberB = "222222222222"
	memberC = "333333333333"
	// management is the organization's management account, which runs
	// the member stack on its own (StackSets do not deploy there).
	management = "444444444444"
	outsider   = "999999999999"
	ingestBus  = "opsloop-ingest"
)

// orgDeployment is what the synthesized central template deploys for an
// organization: the ingest bus's policy, the member stacks' routes (from
// the StackSet's template) and the ingest bus's routes to the classifier.
type orgDeployment struct {
	orgID    string
	policy   []awstest.PolicyStatement
	member   *routes
	ingest   *routes
	nMember  int
	nIngest  int
	template string
}

func loadOrgDeployment(t *testing.T, root string) orgDeployment {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, orgTemplateFile))
	if err != nil {
		t.Fatalf("the organization's synthesized template is missing (%v): scripts/test.sh synthesizes it", err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var d orgDeployment
	var ingestPats []string
	busIDs := map[string]string{}
	for id, r := range doc.Resources {
		if r.Type == "AWS::Events::EventBus" {
			var name string
			_ = json.Unmarshal(r.Properties["Name"], &name)
			busIDs[id] = name
		}
	}
	for _, r := range doc.Resources {
		switch r.Type {
		case "AWS::Events::EventBusPolicy":
			var ref struct{ Ref string }
			_ = json.Unmarshal(r.Properties["EventBusName"], &ref)
			if busIDs[ref.Ref] != ingestBus {
				continue
			}
			var st awstest.PolicyStatement
			if err := json.Unmarshal(r.Properties["Statement"], &st); err != nil {
				t.Fatalf("ingest bus statement: %v", err)
			}
			var org string
			_ = json.Unmarshal(st.Condition["StringEquals"]["aws:PrincipalOrgID"], &org)
			d.orgID = org
			d.policy = append(d.policy, st)
		case "AWS::CloudFormation::StackSet":
			_ = json.Unmarshal(r.Properties["TemplateBody"], &d.template)
		case "AWS::Events::Rule":
			var desc string
			_ = json.Unmarshal(r.Properties["Description"], &desc)
			if strings.HasPrefix(desc, routing.IngestDescriptionPrefix) {
				var b bytes.Buffer
				_ = json.Compact(&b, r.Properties["EventPattern"])
				ingestPats = append(ingestPats, b.String())
			}
		}
	}
	if len(d.policy) == 0 || d.orgID == "" || d.template == "" || len(ingestPats) == 0 {
		t.Fatalf("%s: ingest policy %v (organization %q), member template %d bytes, ingest routes %d", orgTemplateFile, d.policy, d.orgID, len(d.template), len(ingestPats))
	}
	memberPats, err := routing.FromTemplate([]byte(d.template))
	if err != nil {
		t.Fatalf("member template: %v", err)
	}
	d.member, d.nMember = compileRoutes(t, memberPats), len(memberPats)
	d.ingest, d.nIngest = compileRoutes(t, ingestPats), len(ingestPats)
	return d
}

func compileRoutes(t *testing.T, pats []string) *routes {
	t.Helper()
	r := &routes{set: pattern.NewSet(), n: len(pats)}
	for i, src := range pats {
		p, err := pattern.Compile([]byte(src))
		if err != nil {
			t.Fatalf("route %d: %v", i, err)
		}
		r.set.Add(src, p)
	}
	return r
}

// orgRulesDir is a directory with the default rules, their "problems"
// replaced by the top-level fields of settings (JSON members).
func orgRulesDir(t *testing.T, root, settings string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "rules", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	const problems = `"problems": {"recurrence": {"count": 3, "window": "7d"}},`
	if !bytes.Contains(raw, []byte(problems)) {
		t.Fatalf("the default rules no longer say %s", problems)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "default.json"), bytes.Replace(raw, []byte(problems), []byte(settings+","), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// orgEvents are the samples as an organization's accounts would send them:
// every sample from member A in us-east-1, every third one also from member
// B in eu-west-1 and every CloudWatch alarm also from member C in
// ap-southeast-2 (each its own event, with its own id), in the samples'
// order, after a StackSet update made from the management account.
func orgEvents(t *testing.T, root, dir string) []eventfile.Item {
	t.Helper()
	var out []eventfile.Item
	write := func(name string, ev map[string]any) {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		name = filepath.Join(dir, name)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, eventfile.Item{Pos: name, Raw: data})
	}
	write("0000-0-management.json", map[string]any{
		"version": "0", "id": "e2e-update-stack-set", "detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudformation",
		"account": management, "time": "2026-02-03T14:00:00Z", "region": "us-east-1", "resources": []any{},
		"detail": map[string]any{"eventVersion": "1.09", "eventSource": "cloudformation.amazonaws.com", "eventName": "UpdateStackSet",
			"eventTime": "2026-02-03T14:00:00Z", "awsRegion": "us-east-1", "readOnly": false, "eventType": "AwsApiCall",
			"userIdentity":      map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::" + management + ":assumed-role/platform/deploy", "accountId": management},
			"requestParameters": map[string]any{"stackSetName": "alarms-baseline", "callAs": "SELF"}},
	})
	for i, it := range samples(t, root) {
		alarm := strings.Contains(filepath.ToSlash(it.Pos), "/cloudwatch/")
		for _, m := range []struct{ account, region, suffix string }{{memberA, "us-east-1", "a"}, {memberB, "eu-west-1", "b"}, {memberC, "ap-southeast-2", "c"}} {
			if (m.suffix == "b" && i%3 != 0) || (m.suffix == "c" && !alarm) {
				continue
			}
			raw := bytes.ReplaceAll(it.Raw, []byte(awstest.Account), []byte(m.account))
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var ev map[string]any
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("%s: %v", it.Pos, err)
			}
			ev["account"], ev["region"], ev["id"] = m.account, m.region, fmt.Sprint(ev["id"])+"-"+m.suffix
			write(fmt.Sprintf("%04d-%s.json", i, m.suffix), ev)
		}
	}
	return out
}

// TestOrganization runs an organization through the real binaries: the
// events of two member accounts in two Regions reach the central functions
// only through the member stack's routes and the ingest bus, whose policy
// (from the synthesized template) the local EventBridge endpoint enforces;
// what they leave behind equals one replay of the same events.
func TestOrganization(t *testing.T) {
	root, _ := requireTools(t)
	d := loadOrgDeployment(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	items := orgEvents(t, root, dir)
	// The default rules, counting problems across 3 accounts as an
	// organization's deployment does.
	orgRules := orgRulesDir(t, root, `"problems": {"recurrence": {"count": 3, "window": "7d", "accounts": 3}}`)
	replays := make(chan replayResult, 1)
	go func() { replays <- runReplay(ctx, root, t.TempDir(), dir, orgRules) }()

	s := newStack(t, stackOptions{classifiers: 1, incidents: 1, rulesDir: orgRules})
	s.bus.SetBusPolicy(ingestBus, d.policy...)
	role := func(account string) awstest.Principal {
		return awstest.Principal{Account: account, OrgID: d.orgID, ARN: "arn:aws:iam::" + account + ":role/StackSet-opsloop-member-ForwardRole"}
	}
	stranger := awstest.Principal{Account: outsider, OrgID: "o-zzzzzzzzzz9", ARN: "arn:aws:iam::" + outsider + ":role/forward"}
	s.bus.AddPrincipal("AKIDMEMBERA", role(memberA))
	s.bus.AddPrincipal("AKIDOUTSIDER", stranger)

	t.Run("the bus admits the organization's AWS events only", func(t *testing.T) {
		ev := items[0].Raw
		if _, err := s.bus.Forward(stranger, ingestBus, bytes.ReplaceAll(ev, []byte(memberA), []byte(outsider))); err == nil {
			t.Error("an event forwarded from outside the organization was taken")
		}
		for _, c := range []struct{ key, source, code string }{
			{"AKIDMEMBERA", "aws.ec2", "NotAuthorizedForSourceException"}, // a forged AWS source
			{"AKIDMEMBERA", "acme.orders", "AccessDeniedException"},       // not an AWS source
			{"AKIDOUTSIDER", "acme.orders", "AccessDeniedException"},
		} {
			client := eventbridge.New(eventbridge.Options{Region: awstest.Region, BaseEndpoint: aws.String(s.bus.URL()),
				Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: c.key, SecretAccessKey: "s"}, nil
				})})
			out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
				Source: aws.String(c.source), DetailType: aws.String("AWS API Call via CloudTrail"), Detail: aws.String(`{"eventName":"DeleteTrail"}`),
				EventBusName: aws.String(ingestBus),
			}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Entries[0].ErrorCode); got != c.code {
				t.Errorf("PutEvents by %s of %s = %q, want %q", c.key, c.source, got, c.code)
			}
		}
		for _, ev := range s.bus.Events() {
			if ev.Bus == ingestBus {
				t.Errorf("the ingest bus took %s from %s", ev.Source, ev.Account)
			}
		}
	})

	forwardAll := func(s *stack, copies func() int) {
		t.Helper()
		forwarded, left, _ := runOrganization(ctx, t, s, d, items, role, orgRun{copies: copies})
		t.Logf("%d member routes forward %d of %d events of the organization's accounts and Regions; %d ingest routes carry them to the classifier; %d left in the members",
			d.nMember, forwarded, len(items), d.nIngest, left)
		if len(s.dlq) > 0 {
			t.Fatalf("dead letters without any fault: %+v", s.dlq)
		}
	}
	forwardAll(s, nil)
	reviewEnd := lastTime(t, items).Add(time.Hour)
	s.review(ctx, reviewEnd, 1)
	clean := s.state()

	rep := <-replays
	if rep.err != nil {
		t.Fatal(rep.err)
	}
	got := s.ssm.OpsItems()
	t.Run("same OpsItems as replay", func(t *testing.T) { checkAgainstReplay(t, got, rep.report) })
	t.Run("same problems as replay", func(t *testing.T) {
		records := s.problemRecords()
		for _, p := range rep.report.Problems {
			if want := comparable(t, p); records[p.Key] != want {
				t.Errorf("problem %s:\n  got  %s\n  want %s (replay)", p.Key, records[p.Key], want)
			}
		}
		open := 0
		for _, r := range records {
			if strings.Contains(r, `"status":"`+string(problems.Open)+`"`) {
				open++
			}
		}
		if len(rep.report.Problems) == 0 {
			t.Error("replay recorded no problem from the organization's events")
		}
		if open != len(rep.report.Problems) {
			t.Errorf("open problems = %d, replay reports %d", open, len(rep.report.Problems))
		}
	})
	t.Run("a failure across accounts is one problem caused by the StackSet update", func(t *testing.T) {
		var found []problems.Problem
		for _, p := range rep.report.Problems {
			if p.Spread {
				found = append(found, p)
			}
		}
		if len(found) == 0 {
			t.Fatal("no problem across accounts")
		}
		for _, p := range found {
			if len(p.Accounts()) < 3 || !strings.Contains(p.Fingerprint, ":*/*/") {
				t.Errorf("problem %s (%s) spans %v", p.Key, p.Fingerprint, p.Accounts())
			}
		}
		// The alarms of the day of the update follow it: it is their cause.
		caused := 0
		for _, p := range found {
			if len(p.SuspectedCauses) > 0 && p.SuspectedCauses[0].EventName == "UpdateStackSet" && p.SuspectedCauses[0].Principal != "" &&
				strings.Contains(p.SuspectedCauses[0].Principal, management) {
				caused++
			}
		}
		if caused == 0 {
			t.Errorf("no problem across accounts names the StackSet update as its cause: %+v", found)
		}
		t.Logf("%d problems across accounts, %d caused by the StackSet update", len(found), caused)
	})
	t.Run("the review reports by account", func(t *testing.T) {
		// The week's incidents by account, as the OpsItems say.
		from := reviewEnd.Add(-problemsfn.DefaultReviewPeriod)
		want := map[string]int{}
		for _, it := range got {
			if first, err := time.Parse(time.RFC3339, data(it, incidents.KeyFirstSeen)); err == nil && !first.Before(from) && first.Before(reviewEnd) {
				want[data(it, incidents.KeyAccount)]++
			}
		}
		var line string
		for _, n := range s.sns.Published() {
			for _, l := range strings.Split(n.Message, "\n") {
				if strings.HasPrefix(l, "Incidents by account: ") {
					line = l
				}
			}
		}
		gotBy := map[string]int{}
		for _, part := range strings.Split(strings.TrimPrefix(line, "Incidents by account: "), ", ") {
			var acct string
			var n int
			if _, err := fmt.Sscanf(part, "%s %d", &acct, &n); err == nil {
				gotBy[acct] = n
			}
		}
		if len(want) < 2 || !maps.Equal(gotBy, want) {
			t.Errorf("review line %q, want incidents by account %v", line, want)
		}
	})
	t.Run("OpsItems name their account and Region", func(t *testing.T) {
		seen := map[string]int{}
		for _, it := range got {
			acct, region := data(it, incidents.KeyAccount), data(it, incidents.KeyRegion)
			seen[acct+"/"+region]++
			if !strings.Contains(it.Title, " in "+acct+"/"+region) || !strings.Contains(data(it, incidents.KeyFingerprint), acct) {
				t.Errorf("OpsItem %q (fingerprint %s) does not name %s/%s", it.Title, data(it, incidents.KeyFingerprint), acct, region)
			}
			if strings.Contains(it.Title, awstest.Account) {
				t.Errorf("OpsItem %q names the central account", it.Title)
			}
		}
		if seen[memberA+"/us-east-1"] == 0 || seen[memberB+"/eu-west-1"] == 0 || seen[memberC+"/ap-southeast-2"] == 0 {
			t.Errorf("OpsItems by account and Region = %v, want both members", seen)
		}
	})
	t.Run("duplicates and concurrency", func(t *testing.T) {
		// Every forwarded event and SQS batch delivered one to three times,
		// the copies handled at once by three instances of each function.
		dup := newStack(t, stackOptions{classifiers: 3, incidents: 3, problems: 3, rulesDir: orgRules})
		dup.bus.SetBusPolicy(ingestBus, d.policy...)
		rng := rand.New(rand.NewPCG(duplicateSeed, 2))
		forwardAll(dup, func() int { return 1 + rng.IntN(3) })
		dup.review(ctx, lastTime(t, items).Add(time.Hour), 3)
		compareStates(t, dup.state(), clean)
	})
	t.Run("faults and redrive", func(t *testing.T) {
		// 30% of the SSM and EventBridge calls of the central functions
		// fail, and 10% of the members' forwardings fail past their
		// retries; then the central dead-letter queues are redriven, and
		// the members' (opsloop redrive in each member account) forward
		// their events late.
		fs := newStack(t, stackOptions{classifiers: 1, incidents: 1, rulesDir: orgRules})
		fs.bus.SetBusPolicy(ingestBus, d.policy...)
		faults := []awstest.Fault{awstest.Throttling, awstest.InternalServerError, awstest.HTTP503}
		fs.ssm.Faults.SetRate(faultRate, 11, faults)
		fs.bus.Faults.SetRate(faultRate, 12, faults)
		rng := rand.New(rand.NewPCG(duplicateSeed, 3))
		_, _, held := runOrganization(ctx, t, fs, d, items, role, orgRun{forwardFails: func() bool { return rng.Float64() < 0.1 }})
		fs.ssm.Faults.Reset()
		fs.bus.Faults.Reset()
		waited, _ := fs.redrive(t)
		if len(held) == 0 {
			t.Fatal("no forwarding failed")
		}
		if _, _, again := runOrganization(ctx, t, fs, d, held, role, orgRun{}); len(again) > 0 {
			t.Fatalf("redriven forwardings failed again: %d", len(again))
		}
		fs.review(ctx, reviewEnd, 1)
		if len(fs.dlq) > 0 {
			late, _ := fs.redrive(t)
			waited = append(waited, late...)
		}
		if len(fs.dlq) > 0 {
			t.Errorf("dead letters after the redrive: %+v", dlqSummary(fs.dlq))
		}
		t.Logf("%d events waited in the members' dead-letter queues, %d messages in the central ones", len(held), len(waited))
		compareStates(t, fs.state(), clean)
	})
	t.Run("OpsItems in the member accounts", func(t *testing.T) {
		// The rules' organization.opsItemAccount set to member, and the
		// central account OpsCenter's delegated administrator for them.
		rulesDir := orgRulesDir(t, root, `"problems": {"recurrence": {"count": 3, "window": "7d", "accounts": 3}}, "organization": {"opsItemAccount": "member"}`)
		ms := newStack(t, stackOptions{classifiers: 1, incidents: 1, rulesDir: rulesDir})
		ms.bus.SetBusPolicy(ingestBus, d.policy...)
		ms.ssm.AllowAccounts(memberA, memberB, memberC, management)
		forwardAll(ms, nil)
		got := ms.ssm.OpsItems()
		// The same OpsItems as replay's, each in the account of its events,
		// followed to resolution by ARN.
		checkAgainstReplay(t, got, rep.report)
		resolved := 0
		for _, it := range got {
			if it.Account == "" || it.Account != data(it, incidents.KeyAccount) {
				t.Errorf("OpsItem %q is in account %q, its events' is %q", it.Title, it.Account, data(it, incidents.KeyAccount))
			}
			if it.Status == "Resolved" {
				resolved++
			}
		}
		if resolved == 0 {
			t.Error("no OpsItem in a member account was resolved")
		}
	})
}

// orgRun plays the platform's faults of an organization's run.
type orgRun struct {
	// copies is how many times at once EventBridge delivers each event to
	// the classifier and SQS each batch to the incidents function (nil: once).
	copies func() int
	// forwardFails says a member's forwarding of an event fails past its
	// retries: the event waits in the member's dead-letter queue.
	forwardFails func() bool
}

// runOrganization sends each member event through the member routes, the
// ingest bus and its routes to the classifier, then the signals to the
// incidents function. It returns how many events the members forwarded
// and kept, and those whose forwarding failed (held in the members'
// dead-letter queues).
func runOrganization(ctx context.Context, t *testing.T, s *stack, d orgDeployment, items []eventfile.Item,
	role func(account string) awstest.Principal, run orgRun) (forwarded, left int, held []eventfile.Item) {
	copies := run.copies
	t.Helper()
	local := classify.New(s.set, memory.New())
	for _, it := range items {
		var acct struct{ Account string }
		_ = json.Unmarshal(it.Raw, &acct)
		if n := d.member.routed(t, it.Raw); n == 0 {
			// Not forwarded: the rules must ignore it.
			if dec, err := local.Classify(ctx, parse(t, it)); err != nil || dec.Action != classify.Ignore {
				t.Errorf("%s is not forwarded by the member routes, but the rules decide %v (%v)", it.Pos, dec.Action, err)
			}
			left++
			continue
		} else if n > 1 {
			t.Errorf("%s matches %d member routes: it would be forwarded %d times", it.Pos, n, n)
		}
		if run.forwardFails != nil && run.forwardFails() {
			held = append(held, it)
			continue
		}
		ev, err := s.bus.Forward(role(acct.Account), ingestBus, it.Raw)
		if err != nil {
			t.Fatalf("%s: forward from member %s: %v", it.Pos, acct.Account, err)
		}
		forwarded++
		delivered := ev.JSON()
		if n := d.ingest.routed(t, delivered); n != 1 {
			t.Fatalf("%s on the ingest bus matches %d routes to the classifier, want 1", it.Pos, n)
		}
		n := 1
		if copies != nil {
			n = copies()
		}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, ok := s.classify(ctx, delivered); !ok {
					t.Errorf("classifier(%s) failed: %+v", it.Pos, s.dlq)
				}
			})
		}
		wg.Wait()
		if copies == nil {
			s.deliver(ctx, s.signals(), nil)
		} else {
			s.deliver(ctx, s.signals(), func(int) int { return copies() })
		}
	}
	return forwarded, left, held
}
