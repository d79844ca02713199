package functions_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/functions/classifierfn"
	"github.com/opsloop/opsloop/internal/functions/incidentsfn"
	"github.com/opsloop/opsloop/internal/lambdaenv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/incidentstore"
	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/aws/ssm/opscenter"
	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
	"github.com/opsloop/opsloop/internal/incidents"
)

const (
	testBus   = "opsloop-test"
	testTopic = "arn:aws:sns:us-east-1:123456789012:oncall"
	rulesPath = "/opsloop/rules"
)

// deployment is both functions' handlers on the real adapters, against the
// local SSM and EventBridge endpoints and dynalite.
type deployment struct {
	ssm        *awstest.SSM
	bus        *awstest.Events
	out        *bytes.Buffer
	classifier *classifierfn.Classifier
	incidents  *incidentsfn.Incidents
	delivered  int // bus events already handed to the incidents function
}

func deploy(t *testing.T, d *awstest.Dynalite, table string) *deployment {
	t.Helper()
	client := d.Client()
	dynamotest.Create(t, client, table)
	dep := &deployment{ssm: awstest.NewSSM(), bus: awstest.NewEvents(), out: &bytes.Buffer{}}
	t.Cleanup(dep.ssm.Close)
	t.Cleanup(dep.bus.Close)
	if err := dep.ssm.SetParameter(rulesPath+"/test", "String", testRules); err != nil {
		t.Fatal(err)
	}
	w := lambdaenv.Locked(dep.out)
	log := lambdaenv.NewLogger(w, "INFO")
	m := lambdaenv.NewMetrics(w, log)
	state := dynamodb.New(client, table, dynamodb.Options{})
	// A TTL of a nanosecond reloads the rules on every event.
	loader := parameterstore.NewLoader(dep.ssm.Client(), rulesPath, parameterstore.Options{TTL: time.Nanosecond, MaxBackoff: 10 * time.Millisecond})
	publisher := eventbridge.New(dep.bus.Client(), testBus, eventbridge.Options{MaxBackoff: 10 * time.Millisecond})
	dep.classifier = classifierfn.NewClassifier(classifierfn.LiveRules(loader, state, log, m), publisher, log, m)
	ops := opscenter.New(dep.ssm.Client(), opscenter.Options{MaxBackoff: 10 * time.Millisecond})
	records := incidentstore.New(state)
	manager := incidents.New(ops, records,
		incidents.WithPublisher(incidentsfn.Publisher(publisher)),
		incidents.WithChanges(state, 0),
		incidents.WithDefaultTopic(testTopic),
		incidents.WithBudget(records),
		incidents.WithWaitlist(records),
		incidents.WithEscalation(records, ops),
		incidents.WithLogger(log))
	dep.incidents = incidentsfn.NewIncidents(manager, log, m)
	return dep
}

// classify invokes the classifier with each payload, failing the test on
// any error.
func (d *deployment) classify(t *testing.T, payloads ...[]byte) {
	t.Helper()
	for _, p := range payloads {
		if _, err := d.classifier.Invoke(context.Background(), p); err != nil {
			t.Fatalf("classifier Invoke(%.80s) error %v", p, err)
		}
	}
}

// deliver sends the signals published since the last call to the incidents
// function as one SQS batch, as the opsloop bus rule and the queue would.
func (d *deployment) deliver(t *testing.T) events.SQSEventResponse {
	t.Helper()
	var b events.SQSEvent
	all := d.bus.Events()
	for i, ev := range all[d.delivered:] {
		if ev.DetailType != signal.DetailDetected && ev.DetailType != signal.DetailRecovered {
			continue
		}
		b.Records = append(b.Records, events.SQSMessage{MessageId: fmt.Sprintf("msg-%d", d.delivered+i), Body: string(ev.JSON())})
	}
	d.delivered = len(all)
	resp, err := d.incidents.Handle(context.Background(), b)
	if err != nil {
		t.Fatalf("incidents Handle error %v", err)
	}
	return resp
}

func (d *deployment) published(detailType string) int {
	n := 0
	for _, ev := range d.bus.Events() {
		if ev.DetailType == detailType && ev.Bus == testBus {
			n++
		}
	}
	return n
}

func TestFunctionsOnAdapters(t *testing.T) {
	dyn := awstest.DynaliteForTest(t)

	t.Run("lifecycle", func(t *testing.T) {
		d := deploy(t, dyn, "lifecycle")
		d.classify(t, alarmEvent("e1", "test-cpu", "ALARM", t0), alarmEvent("e2", "test-cpu", "ALARM", t0.Add(time.Minute)),
			describeEvent("e3", t0))
		if resp := d.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver detections: failures %v", resp.BatchItemFailures)
		}
		// Redelivery of both the events and the signals changes nothing.
		d.delivered = 0
		d.classify(t, alarmEvent("e1", "test-cpu", "ALARM", t0))
		if resp := d.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("redeliver: failures %v", resp.BatchItemFailures)
		}
		items := d.ssm.OpsItems()
		if len(items) != 1 {
			t.Fatalf("OpsItems after detections = %d, want 1", len(items))
		}
		it := items[0]
		if it.Title != "Alarm test-cpu is in ALARM" || it.Severity != "2" || it.Priority != 2 || it.Category != "Availability" ||
			it.Source != incidents.Source || !slices.Equal(it.Notifications, []string{testTopic}) {
			t.Errorf("OpsItem = %q sev %s prio %d cat %s source %s notify %v; want the rule's title and the high plan",
				it.Title, it.Severity, it.Priority, it.Category, it.Source, it.Notifications)
		}
		if got := it.OperationalData[incidents.KeyOccurrences].Value; got != "2" {
			t.Errorf("OpsItem occurrences = %q, want 2", got)
		}
		if got := it.OperationalData[awstest.KeyDedup].Value; got == "" {
			t.Error("OpsItem has no /aws/dedup")
		}

		d.classify(t, alarmEvent("e4", "test-cpu", "OK", t0.Add(10*time.Minute)))
		if resp := d.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver recovery: failures %v", resp.BatchItemFailures)
		}
		it, _ = d.ssm.OpsItem(it.ID)
		if it.Status != incidents.StatusOpsItemResolved {
			t.Errorf("OpsItem status after OK = %s, want Resolved", it.Status)
		}
		if o, r := d.published(incidents.DetailOpened), d.published(incidents.DetailResolved); o != 1 || r != 1 {
			t.Errorf("published %d Incident Opened and %d Incident Resolved, want 1 each", o, r)
		}
		got := emf(t, d.out)
		want := map[string]float64{"Decisions{Action=incident}": 2, "Decisions{Action=ignore}": 1, "Decisions{Action=recover}": 1,
			"IncidentsOpened": 1, "IncidentsResolved": 1, "TimeToResolve": 600}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("metric %s = %v, want %v (all: %v)", k, got[k], v, got)
			}
		}
	})

	t.Run("OpsCenter failing", func(t *testing.T) {
		d := deploy(t, dyn, "faults")
		d.classify(t, alarmEvent("f1", "test-disk", "ALARM", t0))
		// More 5xx than the adapter's attempts: the message is retried.
		d.ssm.Faults.Script("CreateOpsItem", slices.Repeat([]awstest.Fault{awstest.InternalServerError}, opscenter.DefaultMaxAttempts)...)
		resp := d.deliver(t)
		if len(resp.BatchItemFailures) != 1 {
			t.Fatalf("deliver under faults: failures %v, want the one message", resp.BatchItemFailures)
		}
		d.delivered = 0
		if resp := d.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("redeliver after faults: failures %v", resp.BatchItemFailures)
		}
		if n := len(d.ssm.OpsItems()); n != 1 {
			t.Errorf("OpsItems after a retried creation = %d, want 1", n)
		}
	})

	t.Run("OpsItem limit", func(t *testing.T) {
		d := deploy(t, dyn, "limit")
		d.ssm.SetOpsItemLimit(1)
		d.classify(t, alarmEvent("l1", "test-a", "ALARM", t0), alarmEvent("l2", "test-b", "ALARM", t0))
		resp := d.deliver(t)
		if len(resp.BatchItemFailures) > 0 {
			t.Errorf("deliver over the limit: failures %v, want none (not retried)", resp.BatchItemFailures)
		}
		if got := emf(t, d.out); got["OpsItemLimitExceeded"] != 1 || got["IncidentsOpened"] != 1 {
			t.Errorf("metrics = %v, want 1 opened and 1 OpsItemLimitExceeded", got)
		}
		// The retry schedule opens the refused one once OpsCenter takes it,
		// with no further event of its alarm.
		schedule := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "schedule-1",
			Body: `{"version":"0","id":"s1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-03-01T13:00:00Z","region":"us-east-1","resources":[],"detail":{}}`}}}
		for _, limit := range []int{1, 0} {
			d.ssm.SetOpsItemLimit(limit)
			if resp, err := d.incidents.Handle(context.Background(), schedule); err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("scheduled retry (limit %d) = %v, %v", limit, resp, err)
			}
		}
		if n := len(d.ssm.OpsItems()); n != 2 {
			t.Errorf("OpsItems after the scheduled retry = %d, want 2", n)
		}
		if got := emf(t, d.out); got["OpsItemsRetried"] != 1 {
			t.Errorf("OpsItemsRetried = %v, want 1", got["OpsItemsRetried"])
		}
		// A forged schedule needs a source with the AWS prefix, which
		// PutEvents refuses; anything else is no schedule.
		forged := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "forged-1", Body: strings.Replace(schedule.Records[0].Body, `"aws.events"`, `"corp.events"`, 1)}}}
		if resp, _ := d.incidents.Handle(context.Background(), forged); len(resp.BatchItemFailures) != 1 {
			t.Errorf("a schedule with a custom source = %v, want it rejected to the dead-letter queue", resp)
		}
	})

	t.Run("response time", func(t *testing.T) {
		d := deploy(t, dyn, "escalation")
		d.classify(t, alarmEvent("u1", "urgent-db", "ALARM", t0))
		if resp := d.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver: failures %v", resp.BatchItemFailures)
		}
		time.Sleep(2100 * time.Millisecond) // past the 1s response time, in whole seconds
		schedule := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "schedule-u",
			Body: `{"version":"0","id":"su","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-03-01T13:00:00Z","region":"us-east-1","resources":[],"detail":{}}`}}}
		for range 2 { // the second run finds the step taken
			if resp, err := d.incidents.Handle(context.Background(), schedule); err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("schedule = %v, %v", resp, err)
			}
		}
		it := d.ssm.OpsItems()[0]
		if it.Priority != 2 || !slices.Contains(it.Notifications, "arn:aws:sns:us-east-1:123456789012:lead") {
			t.Errorf("OpsItem priority %d, notifications %v; want 2 and the escalation contact", it.Priority, it.Notifications)
		}
		if n := d.published(incidents.DetailEscalated); n != 1 {
			t.Errorf("Incident Escalated published %d times, want 1", n)
		}
		if got := emf(t, d.out)["IncidentsEscalated"]; got != 1 {
			t.Errorf("IncidentsEscalated = %v, want 1", got)
		}
	})

	t.Run("rules reload", func(t *testing.T) {
		d := deploy(t, dyn, "reload")
		d.classify(t, alarmEvent("r1", "test-a", "ALARM", t0))
		// A hand-edited parameter that does not validate, then Parameter
		// Store failing: the last good rules keep classifying.
		if err := d.ssm.SetParameter(rulesPath+"/test", "String", `{"rules": [{"name": "broken"}]}`); err != nil {
			t.Fatal(err)
		}
		d.classify(t, alarmEvent("r2", "test-b", "ALARM", t0))
		d.ssm.Faults.Script("GetParametersByPath", slices.Repeat([]awstest.Fault{awstest.HTTP503}, 5)...)
		d.classify(t, alarmEvent("r3", "test-c", "ALARM", t0))
		if n := d.published(signal.DetailDetected); n != 3 {
			t.Errorf("Incident Detected published = %d, want 3 with the last good rules", n)
		}
		if got := emf(t, d.out)["RulesReloadFailed"]; got != 2 {
			t.Errorf("RulesReloadFailed = %v, want 2", got)
		}
		if err := d.ssm.SetParameter(rulesPath+"/test", "String", otherRules); err != nil {
			t.Fatal(err)
		}
		d.classify(t, alarmEvent("r4", "test-d", "ALARM", t0))
		if resp := d.deliver(t); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver: failures %v", resp.BatchItemFailures)
		}
		var sevs []string
		for _, it := range d.ssm.OpsItems() {
			sevs = append(sevs, it.Severity)
		}
		if want := []string{"2", "2", "2", "4"}; !slices.Equal(sevs, want) {
			t.Errorf("OpsItem severities = %v, want %v (the new rules apply once valid)", sevs, want)
		}
	})
}
