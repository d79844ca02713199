package functions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/functions/problemsfn"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/aws/s3"
	"github.com/opsloop/opsloop/internal/aws/sns"
	"github.com/opsloop/opsloop/internal/aws/ssm/opscenter"
	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/problems"
)

// learning is the problems function on the real adapters, next to the
// classifier and incidents functions of deploy.
type learning struct {
	*deployment
	s3       *awstest.S3
	sns      *awstest.SNS
	topic    string
	problems *problemsfn.Problems
	state    *problemstore.Store
	fed      int // bus events already handed to the problems function
}

func deployLearning(t *testing.T, dyn *awstest.Dynalite, table string) *learning {
	t.Helper()
	return deployLearningWith(t, dyn, table, nil)
}

// deployLearningWith is deployLearning with the problems function's
// OpsCenter updates going to ops instead, when not nil.
func deployLearningWith(t *testing.T, dyn *awstest.Dynalite, table string, ops problemsfn.OpsItemUpdater) *learning {
	t.Helper()
	d := deploy(t, dyn, table)
	l := &learning{deployment: d, s3: awstest.NewS3(), sns: awstest.NewSNS()}
	t.Cleanup(l.s3.Close)
	t.Cleanup(l.sns.Close)
	l.s3.CreateBucket("reports")
	l.topic = l.sns.CreateTopic("opsloop")
	w := lambdaenv.Locked(d.out)
	log := lambdaenv.NewLogger(w, "INFO")
	m := lambdaenv.NewMetrics(w, log)
	client := dyn.Client()
	table0 := dynamodb.New(client, table, dynamodb.Options{})
	l.state = problemstore.New(client, table, problemstore.Options{})
	loader := parameterstore.NewLoader(d.ssm.Client(), rulesPath, parameterstore.Options{TTL: time.Nanosecond, MaxBackoff: 10 * time.Millisecond})
	described := opscenter.New(d.ssm.Client(), opscenter.Options{MaxBackoff: 10 * time.Millisecond})
	if ops == nil {
		ops = described
	}
	l.problems = problemsfn.NewProblems(problemsfn.ProblemsConfig{
		Rules: problemsfn.LiveRules(loader, log, m), Store: l.state, Relations: l.state, Changes: table0,
		OpsItems: ops, Describe: described, IncidentsRole: incidentsRole,
		Analyses: l.state, Table: table,
		Log: l.state, Marks: l.state,
		Reports:  s3.New(l.s3.Client(), "reports", s3.Options{Region: "us-east-1"}),
		Notifier: sns.New(l.sns.Client(), l.topic),
		Logger:   log, Metrics: m,
		Now: func() time.Time { return t0.Add(30 * 24 * time.Hour) },
	})
	return l
}

// feed hands the lifecycle events published since the last call to the
// problems function, as the opsloop bus's rule would, each times copies.
func (l *learning) feed(t *testing.T, copies int) []problemsfn.ProblemsResult {
	t.Helper()
	var out []problemsfn.ProblemsResult
	all := l.bus.Events()
	for _, ev := range all[l.fed:] {
		if ev.DetailType != incidents.DetailOpened && ev.DetailType != incidents.DetailResolved && ev.DetailType != incidents.DetailEscalated {
			continue
		}
		for range copies {
			out = append(out, l.invoke(t, ev.JSON()))
		}
	}
	l.fed = len(all)
	return out
}

func (l *learning) invoke(t *testing.T, payload []byte) problemsfn.ProblemsResult {
	t.Helper()
	resp, err := l.problems.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("problems Invoke(%.100s) error %v", payload, err)
	}
	var res problemsfn.ProblemsResult
	if err := json.Unmarshal(resp, &res); err != nil {
		t.Fatalf("problems Invoke answer %s: %v", resp, err)
	}
	return res
}

// incidentsRole names the incidents function's role to the problems
// function.
const incidentsRole = "opsloop-incidents-role"

func opsItemUpdate(id, status string, at time.Time) []byte {
	return opsItemUpdateBy(id, status, at, "arn:aws:iam::123456789012:user/responder")
}

// opsItemUpdateBy is OpsCenter's event of an update that by made.
func opsItemUpdateBy(id, status string, at time.Time, by string) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"u-%s","detail-type":"OpsItem Update","source":"aws.ssm","account":"123456789012",
"time":%q,"region":"us-east-1","resources":[],"detail":{"ops-item-id":%q,"status":%q,"modified-time":%q,"modified-by":%q,"source":"opsloop"}}`,
		id, at.Format(time.RFC3339), id, status, at.Format(time.RFC3339), by)
}

func scheduled(at time.Time) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"s-1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
"time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/WeeklyReview"],"detail":{}}`, at.Format(time.RFC3339))
}

func TestProblemsFunction(t *testing.T) {
	dyn := awstest.DynaliteForTest(t)
	ctx := context.Background()
	l := deployLearning(t, dyn, "problems")

	// The alarm fires and recovers three times; every lifecycle event is
	// delivered to the problems function twice.
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 6 * time.Hour)
		l.classify(t, alarmEvent(fmt.Sprintf("a%d", i), "test-cpu", "ALARM", at))
		if resp := l.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver: %v", resp.BatchItemFailures)
		}
		if i < 2 {
			l.classify(t, alarmEvent(fmt.Sprintf("o%d", i), "test-cpu", "OK", at.Add(time.Duration(i+1)*10*time.Minute)))
			if resp := l.deliver(t); len(resp.BatchItemFailures) > 0 {
				t.Fatalf("deliver: %v", resp.BatchItemFailures)
			}
		}
		l.feed(t, 2)
	}
	items := l.ssm.OpsItems()
	if len(items) != 3 {
		t.Fatalf("OpsItems = %d, want 3 (one per recurrence)", len(items))
	}
	open, err := l.state.List(ctx, problems.Open)
	if err != nil || len(open) != 1 {
		t.Fatalf("open problems = %v, %v, want 1", open, err)
	}
	p := open[0]
	if p.Incidents != 3 || p.Rule != "test-alarm" || p.ResolvedIncidents != 2 || p.MTTRSeconds != 900 {
		t.Errorf("problem = incidents %d rule %s resolved %d MTTR %ds, want 3, test-alarm, 2, 900s", p.Incidents, p.Rule, p.ResolvedIncidents, p.MTTRSeconds)
	}
	third, _ := l.ssm.OpsItem(items[2].ID)
	if want := []string{items[1].ID, items[0].ID}; !slices.Equal(third.RelatedOpsItems, want) {
		t.Errorf("third OpsItem related to %v, want %v", third.RelatedOpsItems, want)
	}

	// OpsCenter's events of the resolutions the incidents function made
	// are not looked up (a GetOpsItem each): its own event applied them.
	gets := l.ssm.Calls("GetOpsItem")
	for _, it := range items[:2] {
		by := "arn:aws:sts::123456789012:assumed-role/" + incidentsRole + "/opsloop-incidents"
		if res := l.invoke(t, opsItemUpdateBy(it.ID, "Resolved", t0.Add(time.Hour), by)); res.Outcome == nil || res.Outcome.Action != problems.Duplicate {
			t.Errorf("OpsCenter's event of the incidents function's resolution = %+v, want a duplicate", res.Outcome)
		}
	}
	if n := l.ssm.Calls("GetOpsItem") - gets; n != 0 {
		t.Errorf("GetOpsItem calls for the incidents function's resolutions = %d, want 0", n)
	}

	// A responder resolves the third OpsItem in the console; OpsCenter's
	// event arrives twice, and an update that is not a resolution once.
	l.invoke(t, opsItemUpdate(items[2].ID, "InProgress", t0.Add(12*time.Hour+5*time.Minute)))
	for range 2 {
		l.invoke(t, opsItemUpdate(items[2].ID, "Resolved", t0.Add(12*time.Hour+40*time.Minute)))
	}
	if n := l.ssm.Calls("GetOpsItem") - gets; n != 2 {
		t.Errorf("GetOpsItem calls for the responder's resolution, delivered twice = %d, want 2", n)
	}
	got, _ := l.state.Get(ctx, p.Key)
	if got.ResolvedIncidents != 3 || got.MTTRSeconds != (600+1200+2400)/3 {
		t.Errorf("after the console resolution: resolved %d MTTR %ds, want 3 and %ds", got.ResolvedIncidents, got.MTTRSeconds, (600+1200+2400)/3)
	}

	// Malformed input is rejected and counted, not retried.
	for _, bad := range []string{`not json`, `{"source":"opsloop","detail-type":"Incident Opened","detail":{"rule":"x"}}`,
		`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`} {
		if res := l.invoke(t, []byte(bad)); res.Rejected == "" {
			t.Errorf("Invoke(%s) = %+v, want rejected", bad, res)
		}
	}

	metrics := emf(t, l.out)
	for k, v := range map[string]float64{
		"ProblemsOpened": 1, "ProblemsRejected": 3,
		"TimeToResolve{Source=opsloop}": 600 + 1200, "TimeToResolve{Source=aws.ssm}": 2400,
	} {
		if metrics[k] != v {
			t.Errorf("metric %s = %v, want %v (all: %v)", k, metrics[k], v, metrics)
		}
	}

	// The weekly review: the report in S3, its summary on the topic, sent
	// once however often the schedule is delivered.
	end := t0.Add(3 * 24 * time.Hour)
	res := l.invoke(t, scheduled(end))
	if res.Review == nil || res.Review.Incidents != 3 || res.Review.Problems != 1 || res.Review.AlreadySent {
		t.Fatalf("review = %+v, want 3 incidents and 1 problem, sent", res.Review)
	}
	obj, ok := l.s3.Object("reports", res.Review.Key)
	if !ok || !strings.Contains(string(obj.Body), "opsloop-rules-snapshot") || !strings.Contains(string(obj.Body), p.Key) {
		t.Fatalf("report %s = %d bytes, want the HTML naming %s with its rules snapshot", res.Review.Key, len(obj.Body), p.Key)
	}
	sent := l.sns.Published()
	if len(sent) != 1 || !strings.Contains(sent[0].Message, "Incidents: 3 opened, 3 resolved") ||
		!strings.Contains(sent[0].Message, "Report: https://s3.console.aws.amazon.com/s3/object/reports?region=us-east-1") ||
		!strings.Contains(sent[0].Message, "Top problem "+p.Key) || !strings.HasPrefix(sent[0].Subject, "opsloop review") {
		t.Errorf("published %+v, want the review's text with the report's link", sent)
	}
	if again := l.invoke(t, scheduled(end)); again.Review == nil || !again.Review.AlreadySent {
		t.Errorf("review redelivered = %+v, want already sent", again.Review)
	}
	if n := len(l.sns.Published()); n != 1 {
		t.Errorf("published %d messages after a redelivered schedule, want 1", n)
	}

	// Copies of one schedule handled at once: one of them sends it.
	copiesEnd := end.Add(24 * time.Hour)
	results := make([]problemsfn.ProblemsResult, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = l.invoke(t, scheduled(copiesEnd)) })
	}
	wg.Wait()
	sentBy := 0
	for _, r := range results {
		if r.Review != nil && !r.Review.AlreadySent {
			sentBy++
		}
	}
	if n := len(l.sns.Published()); n != 2 || sentBy != 1 {
		t.Fatalf("3 copies of a schedule at once: %d sent it, %d messages in all; want 1 and 2", sentBy, n)
	}

	// The next week's review compares its rules with this one's.
	if err := l.ssm.SetParameter(rulesPath+"/test", "String", otherRules); err != nil {
		t.Fatal(err)
	}
	next := l.invoke(t, scheduled(end.Add(7*24*time.Hour)))
	if next.Review == nil || next.Review.Incidents != 0 {
		t.Fatalf("next review = %+v", next.Review)
	}
	if msgs := l.sns.Published(); len(msgs) != 3 || !strings.Contains(msgs[2].Message, "Rules since the last review:") {
		t.Errorf("next review's text = %q, want the rules changes since the last review", msgs[len(msgs)-1].Message)
	}
}

func TestProblemsFunctionRetries(t *testing.T) {
	dyn := awstest.DynaliteForTest(t)
	l := deployLearning(t, dyn, "problems-retries")
	l.classify(t, alarmEvent("a1", "test-disk", "ALARM", t0))
	if resp := l.deliver(t); len(resp.BatchItemFailures) > 0 {
		t.Fatalf("deliver: %v", resp.BatchItemFailures)
	}
	var opened []byte
	for _, ev := range l.bus.Events() {
		if ev.DetailType == incidents.DetailOpened {
			opened = ev.JSON()
		}
	}
	ctx := context.Background()

	// Parameter Store down before any rules were loaded: the event fails,
	// to be retried.
	l.ssm.Faults.Script("GetParametersByPath", slices.Repeat([]awstest.Fault{awstest.HTTP503}, 10)...)
	if _, err := l.problems.Invoke(ctx, opened); err == nil {
		t.Fatalf("Invoke without rules = nil error, want one to retry")
	}
	l.ssm.Faults.Reset()
	if _, err := l.problems.Invoke(ctx, opened); err != nil {
		t.Fatalf("Invoke once rules load = %v", err)
	}

	// S3 failing past the SDK's retries: the review fails, sends nothing,
	// and its retry sends it once.
	l.s3.Faults.Script("PutObject", slices.Repeat([]awstest.Fault{awstest.HTTP503}, 3)...)
	if _, err := l.problems.Invoke(ctx, scheduled(t0.Add(24*time.Hour))); err == nil {
		t.Fatalf("review with S3 failing = nil error")
	}
	if n := len(l.sns.Published()); n != 0 {
		t.Errorf("published %d messages while the report could not be written, want 0", n)
	}
	if res := l.invoke(t, scheduled(t0.Add(24*time.Hour))); res.Review == nil || res.Review.Incidents != 1 {
		t.Fatalf("review retried = %+v", res.Review)
	}
	if n := len(l.sns.Published()); n != 1 {
		t.Errorf("published %d messages, want 1", n)
	}
}

// TestAnalysisThroughFunctions follows an incident of a severity that
// asks for a post-incident analysis through the incidents and problems
// functions on the real adapters, every event delivered twice: opened,
// escalated past its response time, acknowledged and resolved in
// OpsCenter. The analysis opens once, with the whole timeline, and the
// OpsItem links it.
func TestAnalysisThroughFunctions(t *testing.T) {
	dyn := awstest.DynaliteForTest(t)
	ctx := context.Background()
	l := deployLearning(t, dyn, "analysis")
	l.classify(t, alarmEvent("u1", "urgent-db", "ALARM", t0))
	if resp := l.deliver(t); len(resp.BatchItemFailures) > 0 {
		t.Fatalf("deliver: %v", resp.BatchItemFailures)
	}
	l.feed(t, 2)
	id := l.ssm.OpsItems()[0].ID
	if a, err := l.state.GetAnalysis(ctx, id); err != nil || a == nil || a.Status != analysis.Tracking {
		t.Fatalf("analysis after opening = %+v, %v; want tracking", a, err)
	}
	time.Sleep(2100 * time.Millisecond) // past the 1s response time, in whole seconds
	schedule := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "schedule-a",
		Body: `{"version":"0","id":"sa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-03-01T13:00:00Z","region":"us-east-1","resources":[],"detail":{}}`}}}
	if resp, err := l.incidents.Handle(ctx, schedule); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("schedule = %v, %v", resp, err)
	}
	l.feed(t, 2)
	acked, resolved := time.Now().UTC().Truncate(time.Second), time.Now().UTC().Truncate(time.Second).Add(time.Hour)
	for _, ev := range [][]byte{opsItemUpdate(id, "InProgress", acked), opsItemUpdate(id, "Resolved", resolved)} {
		for range 2 {
			if res := l.invoke(t, ev); res.Rejected != "" {
				t.Fatalf("rejected %s", res.Rejected)
			}
		}
	}
	a, err := l.state.GetAnalysis(ctx, id)
	if err != nil || a == nil {
		t.Fatalf("analysis = %v, %v", a, err)
	}
	if a.Status != analysis.Open || a.Rule != "urgent-alarm" || len(a.Escalations) != 1 || a.Escalations[0].Contact != "arn:aws:sns:us-east-1:123456789012:lead" ||
		!a.Acknowledged.Equal(acked) || !a.Resolved.Equal(resolved) || a.Created.IsZero() || !a.FirstEvent.Equal(t0) {
		t.Errorf("analysis = %+v; want open with the escalation, acknowledgement and resolution", a)
	}
	if _, ok := a.TimeToAcknowledge(); !ok {
		t.Errorf("time to acknowledge unknown: %+v", a)
	}
	link := l.ssm.OpsItems()[0].OperationalData[problemsfn.DataAnalysis].Value
	if want := "opsloop analysis show " + id + " --table analysis"; !strings.Contains(link, want) {
		t.Errorf("OpsItem's %s = %q, want it to name %q", problemsfn.DataAnalysis, link, want)
	}
	p, err := l.state.Get(ctx, problems.Key(a.Fingerprint))
	if err != nil || p == nil || len(p.History) != 1 || !p.History[0].Analysis {
		t.Errorf("problem record = %+v, %v; want its incident marked as analysed", p, err)
	}
}

// TestOpsItemRefusalsKeptOut: OpsCenter refusing the analysis link (the
// OpsItem gone, say) is logged and the resolution applied; throttling
// fails the invocation, for Lambda to retry it.
func TestOpsItemRefusalsKeptOut(t *testing.T) {
	dyn := awstest.DynaliteForTest(t)
	ctx := context.Background()
	for i, tt := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"linked", nil, false},
		{"OpsItem gone", incidents.Permanent(errors.New("OpsItemNotFoundException")), false},
		{"throttled", errors.New("ThrottlingException"), true},
	} {
		var sent map[string]incidents.Data
		fail := tt.err
		l := deployLearningWith(t, dyn, fmt.Sprintf("refusals%d", i), updaterFunc(func(_ context.Context, _ string, u incidents.Update) error {
			sent = u.OperationalData
			return fail
		}))
		l.classify(t, alarmEvent("u1", "urgent-db", "ALARM", t0))
		if resp := l.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver: %v", resp.BatchItemFailures)
		}
		l.feed(t, 1)
		id := l.ssm.OpsItems()[0].ID
		_, err := l.problems.Invoke(ctx, opsItemUpdate(id, "Resolved", t0.Add(time.Hour)))
		if (err != nil) != tt.wantErr || sent[problemsfn.DataAnalysis].Value == "" {
			t.Errorf("%s: Invoke = %v (sent %v), want error %v", tt.name, err, sent, tt.wantErr)
		}
		if tt.wantErr {
			// Lambda's retry links it.
			fail, sent = nil, nil
			if _, err := l.problems.Invoke(ctx, opsItemUpdate(id, "Resolved", t0.Add(time.Hour))); err != nil || sent[problemsfn.DataAnalysis].Value == "" {
				t.Errorf("%s: the retry = %v, sent %v; want the link sent", tt.name, err, sent)
			}
		}
	}
}

type updaterFunc func(ctx context.Context, id string, u incidents.Update) error

func (f updaterFunc) Update(ctx context.Context, id string, u incidents.Update) error {
	return f(ctx, id, u)
}

func TestReadProblemsSettings(t *testing.T) {
	full := map[string]string{
		lambdaenv.EnvTable: "t", lambdaenv.EnvRulesPath: "/opsloop/rules", lambdaenv.EnvTopic: "arn:aws:sns:us-east-1:123456789012:o",
		lambdaenv.EnvReportBucket: "b", lambdaenv.EnvRulesTTL: "2m",
	}
	s, err := problemsfn.ReadProblemsSettings(lambdaenv.FromMap(full))
	if err != nil || s.Table != "t" || s.ReportBucket != "b" || s.RulesTTL != 2*time.Minute || s.Topic == "" {
		t.Errorf("ReadProblemsSettings(full) = %+v, %v", s, err)
	}
	_, err = problemsfn.ReadProblemsSettings(lambdaenv.FromMap(map[string]string{lambdaenv.EnvRulesTTL: "soon"}))
	for _, name := range []string{lambdaenv.EnvTable, lambdaenv.EnvRulesPath, lambdaenv.EnvTopic, lambdaenv.EnvReportBucket, lambdaenv.EnvRulesTTL} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("ReadProblemsSettings(empty) = %v, want %s named", err, name)
		}
	}
}
