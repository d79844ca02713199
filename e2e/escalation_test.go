package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/incidents"
)

// The escalation contacts of the test's severity.
const (
	leadTopic = "arn:aws:sns:us-east-1:123456789012:lead"
	headTopic = "arn:aws:sns:us-east-1:123456789012:head"
)

// escalationRules have a severity whose response is due a second after
// the OpsItem opens, with two contacts, and an analysis.
const escalationRules = `{
  "severities": {"urgent": {"opsItemSeverity": "1", "priority": 3, "responseTime": "1s", "analysis": true,
    "escalateTo": ["` + leadTopic + `", "` + headTopic + `"], "owner": {"name": "on-call"}, "steps": ["Acknowledge: set the OpsItem to In progress."]}},
  "rules": [{"name": "urgent-alarm", "action": "incident", "severity": "urgent", "category": "Availability",
    "pattern": {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [{"prefix": "urgent-"}], "state": {"value": ["ALARM"]}}},
    "groupBy": ["detail.alarmName"], "title": "Alarm {{detail.alarmName}} is in ALARM"}]
}`

// TestEscalation runs the real functions on an incident nobody
// acknowledges: every event, SQS batch, schedule and lifecycle event is
// delivered one to three times at once to three instances of each
// function while 30% of the SSM and EventBridge calls fail. The OpsItem
// is escalated once per step (priority 3 to 2 with the first contact, to
// 1 with the second, then no further), "Incident Escalated" is published
// once per step, and the post-incident analysis keeps each step once;
// acknowledged, it is escalated no more.
func TestEscalation(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "urgent.json"), []byte(escalationRules), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const instances = 3
	s := newStack(t, stackOptions{classifiers: instances, incidents: instances, problems: instances, rulesDir: dir})
	rng := rand.New(rand.NewPCG(duplicateSeed, 2))
	copies := func(int) int { return 1 + rng.IntN(3) }
	faults := []awstest.Fault{awstest.Throttling, awstest.InternalServerError, awstest.HTTP503}
	s.ssm.Faults.SetRate(faultRate, 41, faults)
	s.bus.Faults.SetRate(faultRate, 42, faults)

	raw := fmt.Appendf(nil, `{"version":"0","id":"urgent-1","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch",
"account":%q,"time":%q,"region":%q,"resources":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:urgent-db"],
"detail":{"alarmName":"urgent-db","state":{"value":"ALARM","reason":"Threshold Crossed"},"previousState":{"value":"OK"}}}`,
		awstest.Account, time.Now().UTC().Format(time.RFC3339), awstest.Region)
	for range copies(0) {
		if _, ok := s.classify(ctx, raw); !ok {
			t.Fatal("the classifier failed every attempt")
		}
	}
	s.deliver(ctx, s.signals(), copies)
	items := s.ssm.OpsItems()
	if len(items) != 1 {
		t.Fatalf("OpsItems = %d, want 1", len(items))
	}
	id := items[0].ID

	// The schedule every 5 minutes, here every 1.1s: three rounds after
	// the second response time has passed, each delivered up to three
	// times at once.
	seq := 0
	schedule := func() {
		seq++
		body := fmt.Sprintf(`{"version":"0","id":"sched-%d","detail-type":"Scheduled Event","source":"aws.events","account":%q,"time":%q,"region":%q,"resources":[],"detail":{}}`,
			seq, awstest.Account, time.Now().UTC().Format(time.RFC3339), awstest.Region)
		msg := &message{SQSMessage: events.SQSMessage{MessageId: fmt.Sprintf("sched-%d", seq), Body: body, EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:opsloop-e2e-incidents", AWSRegion: awstest.Region}}
		s.deliver(ctx, []*message{msg}, copies)
	}
	for range 4 {
		time.Sleep(1100 * time.Millisecond)
		schedule()
	}
	s.ssm.Faults.Reset()
	s.bus.Faults.Reset()
	time.Sleep(1100 * time.Millisecond)
	schedule() // a step a fault left half-taken completes now

	it, _ := s.ssm.OpsItem(id)
	if it.Priority != 1 || countOf(it.Notifications, leadTopic) != 1 || countOf(it.Notifications, headTopic) != 1 {
		t.Errorf("OpsItem priority %d, notifications %v; want 1, each contact once", it.Priority, it.Notifications)
	}
	steps := escalatedSteps(t, s, id)
	if !slices.Equal(steps, []int{1, 2}) {
		t.Errorf("Incident Escalated steps %v, want [1 2]: once per step", steps)
	}
	if got := s.incidents.metrics()["IncidentsEscalated"]; got != 2 {
		t.Errorf("IncidentsEscalated = %v, want 2", got)
	}
	if len(s.dlq) > 0 {
		t.Errorf("dead letters: %+v", dlqSummary(s.dlq))
	}

	// Acknowledged in OpsCenter, then resolved: the analysis opens with
	// both escalations and the acknowledgement, each once.
	acked := time.Now().UTC().Truncate(time.Second)
	for _, status := range []string{"InProgress", "Resolved"} {
		ev := fmt.Appendf(nil, `{"version":"0","id":"upd-%s","detail-type":"OpsItem Update","source":"aws.ssm","account":%q,"time":%q,"region":%q,"resources":[],"detail":{"ops-item-id":%q,"status":%q,"modified-time":%q}}`,
			status, awstest.Account, acked.Format(time.RFC3339), awstest.Region, id, status, acked.Format(time.RFC3339))
		for range copies(0) {
			s.async(ctx, s.problems, ev)
		}
	}
	client := awsdynamodb.New(awsdynamodb.Options{Region: awstest.Region, BaseEndpoint: aws.String(s.dyn.url()), Credentials: awstest.Credentials()})
	a, err := problemstore.New(client, tableName, problemstore.Options{}).GetAnalysis(ctx, id)
	if err != nil || a == nil {
		t.Fatalf("analysis of %s = %v, %v", id, a, err)
	}
	var got []string
	for _, e := range a.Escalations {
		got = append(got, fmt.Sprintf("%d:%s", e.Step, e.Contact))
	}
	if a.Status != analysis.Open || strings.Join(got, ",") != "1:"+leadTopic+",2:"+headTopic || !a.Acknowledged.Equal(acked) {
		t.Errorf("analysis: status %s, escalations %v, acknowledged %v; want open, each step once, acknowledged at %v", a.Status, got, a.Acknowledged, acked)
	}
	if link := data(mustOpsItem(t, s, id), "opsloop:analysis"); !strings.Contains(link, "opsloop analysis show "+id) {
		t.Errorf("OpsItem's opsloop:analysis = %q", link)
	}
}

func countOf(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// escalatedSteps are the steps of the "Incident Escalated" events of an
// OpsItem on the bus, in order.
func escalatedSteps(t *testing.T, s *stack, id string) []int {
	t.Helper()
	var steps []int
	for _, ev := range s.bus.Events() {
		if ev.DetailType != incidents.DetailEscalated {
			continue
		}
		var d incidents.EscalatedDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.OpsItemID == id {
			steps = append(steps, d.Step)
		}
	}
	slices.Sort(steps)
	return steps
}

func mustOpsItem(t *testing.T, s *stack, id string) awstest.OpsItem {
	t.Helper()
	it, ok := s.ssm.OpsItem(id)
	if !ok {
		t.Fatalf("no OpsItem %s", id)
	}
	return it
}
