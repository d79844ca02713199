package functions_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
)

// testRules is a small rules file: alarms named test-* open high incidents
// and recover on OK, CloudTrail Describe* calls are ignored, security group
// changes are recorded.
const testRules = `{
  "severities": {
    "high": {"opsItemSeverity": "2", "priority": 2, "notify": ["default"], "runbooks": ["AWS-RestartEC2Instance"]},
    "low": {"opsItemSeverity": "4", "priority": 4},
    "urgent": {"opsItemSeverity": "1", "priority": 3, "responseTime": "1s", "escalateTo": ["arn:aws:sns:us-east-1:123456789012:lead"], "analysis": true}
  },
  "rules": [
    {
      "name": "test-alarm",
      "pattern": {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                  "detail": {"alarmName": [{"prefix": "test-"}], "state": {"value": ["ALARM"]}}},
      "action": "incident", "severity": "high", "category": "Availability",
      "groupBy": ["detail.alarmName"],
      "title": "Alarm {{detail.alarmName}} is in ALARM",
      "recoverWhen": {"detail": {"state": {"value": ["OK"]}}}
    },
    {
      "name": "urgent-alarm",
      "pattern": {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                  "detail": {"alarmName": [{"prefix": "urgent-"}], "state": {"value": ["ALARM"]}}},
      "action": "incident", "severity": "urgent", "category": "Availability",
      "groupBy": ["detail.alarmName"]
    },
    {
      "name": "describe-calls",
      "pattern": {"source": ["aws.ec2"], "detail": {"eventName": [{"prefix": "Describe"}]}},
      "action": "ignore"
    }
  ]
}`

// otherRules replaces testRules in reload tests: the alarm rule is low.
var otherRules = strings.Replace(testRules, `"severity": "high"`, `"severity": "low"`, 1)

// alarmEvent is a CloudWatch alarm state change of alarm name to state.
func alarmEvent(id, name, state string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":%q,"detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch",
"account":"123456789012","time":%q,"region":"us-east-1",
"resources":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:%s"],
"detail":{"alarmName":%q,"state":{"value":%q,"reason":"Threshold Crossed","timestamp":"2026-02-03T15:04:40.207+0000"},
"previousState":{"value":"OK","reason":"","timestamp":"2026-02-03T14:04:40.207+0000"}}}`,
		id, at.UTC().Format(time.RFC3339), name, name, state)
}

// describeEvent is a CloudTrail DescribeInstances call.
func describeEvent(id string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":%q,"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2",
"account":"123456789012","time":%q,"region":"us-east-1","resources":[],
"detail":{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1",
"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice"}}}`, id, at.UTC().Format(time.RFC3339))
}

var t0 = time.Date(2026, 2, 3, 15, 4, 0, 0, time.UTC)

// fakeLoader is a Loader whose answers the test sets.
type fakeLoader struct {
	mu      sync.Mutex
	files   []parameterstore.File
	changed bool
	err     error
	calls   int
}

func (l *fakeLoader) Load(context.Context) ([]parameterstore.File, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	changed := l.changed
	l.changed = false
	return l.files, changed, l.err
}

// set makes the next Load return data as the only file, changed.
func (l *fakeLoader) set(data string, version int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.files = []parameterstore.File{{Name: "/opsloop/rules/test", Data: []byte(data), Version: version}}
	l.changed, l.err = true, nil
}

func (l *fakeLoader) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

// fakeBus records published events and fails while err is set.
type fakeBus struct {
	mu     sync.Mutex
	events []eventbridge.Event
	err    error
}

func (b *fakeBus) Publish(_ context.Context, evs ...eventbridge.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.events = append(b.events, evs...)
	return nil
}

func (b *fakeBus) published() []eventbridge.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]eventbridge.Event(nil), b.events...)
}

// emf sums the EMF lines in out by metric name, with the dimension values
// appended as name{dim=value}.
func emf(t *testing.T, out *bytes.Buffer) map[string]float64 {
	t.Helper()
	sums := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("output line %q is not JSON: %v", sc.Text(), err)
		}
		meta, ok := doc["_aws"].(map[string]any)
		if !ok {
			continue // a log record
		}
		for _, cm := range meta["CloudWatchMetrics"].([]any) {
			cm := cm.(map[string]any)
			var dims []string
			for _, set := range cm["Dimensions"].([]any) {
				for _, d := range set.([]any) {
					dims = append(dims, fmt.Sprintf("%s=%v", d, doc[d.(string)]))
				}
			}
			for _, m := range cm["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				key := name
				if len(dims) > 0 {
					key += "{" + strings.Join(dims, ",") + "}"
				}
				sums[key] += doc[name].(float64)
			}
		}
	}
	return sums
}

// logRecords returns the log records in out with message msg.
func logRecords(t *testing.T, out *bytes.Buffer, msg string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("output line %q is not JSON: %v", sc.Text(), err)
		}
		if doc["msg"] == msg {
			recs = append(recs, doc)
		}
	}
	return recs
}
