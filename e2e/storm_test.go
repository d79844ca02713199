package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/incidents"
)

// TestStorm delivers 10,000 repeats of one failure to four concurrent
// instances of the incidents function (twice the deployment's
// MaximumConcurrency), in SQS batches of 10: they make one OpsItem counting
// every repeat, and at most incidents.MaxUpdates(10000) CreateOpsItem and
// UpdateOpsItem calls between them.
func TestStorm(t *testing.T) {
	root, _ := requireTools(t)
	const repeats, instances = 10000, 4
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := newStack(t, stackOptions{classifiers: 1, incidents: instances})

	raw, err := os.ReadFile(filepath.Join(root, "events-samples", "cloudwatch", "alarm-lambda-errors.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := s.classify(ctx, raw)
	if !ok || d.Action != classify.Incident {
		t.Fatalf("classifier(alarm-lambda-errors) = %s (ok %v), want incident", d.Action, ok)
	}
	first := s.signals()
	if len(first) != 1 {
		t.Fatalf("signals of one alarm = %d, want 1", len(first))
	}
	storm, err := repeatsOf(first[0], repeats)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	invocations := s.deliver(ctx, storm, nil)
	took := time.Since(start)
	if len(s.dlq) > 0 {
		t.Errorf("dead letters: %d, the first %+v", len(s.dlq), dlqSummary(s.dlq[:1]))
	}

	var mine []string
	for _, it := range s.ssm.OpsItems() {
		if data(it, incidents.KeyFingerprint) == d.Fingerprint {
			mine = append(mine, it.ID+" "+it.Status+" "+data(it, incidents.KeyOccurrences))
			// 10,000 is an update milestone, so the OpsItem shows the
			// exact count.
			if got := data(it, incidents.KeyOccurrences); got != strconv.Itoa(repeats) {
				t.Errorf("OpsItem %s occurrences = %s, want %d", it.ID, got, repeats)
			}
		}
	}
	if len(mine) != 1 {
		t.Errorf("OpsItems of %s = %v, want exactly 1", d.Fingerprint, mine)
	}
	calls := s.ssm.CallCounts()
	made := calls["CreateOpsItem"] + calls["UpdateOpsItem"]
	if bound := incidents.MaxUpdates(repeats); made > bound {
		t.Errorf("CreateOpsItem %d + UpdateOpsItem %d = %d calls, want at most MaxUpdates(%d) = %d",
			calls["CreateOpsItem"], calls["UpdateOpsItem"], made, repeats, bound)
	}
	if got := s.incidents.metrics()["IncidentsOpened"]; got != 1 {
		t.Errorf("IncidentsOpened = %v, want 1", got)
	}
	receives := 0
	for _, m := range storm {
		receives += m.receives
	}
	db, units, _ := s.db.snapshot()
	dbRequests := 0
	for op, n := range db {
		if op != "CreateTable" && op != "DescribeTable" {
			dbRequests += n
		}
	}
	writeUnits := (units["PutItem"] + units["UpdateItem"] + units["DeleteItem"]) / repeats
	readUnits := (units["GetItem"] + units["Query"]) / repeats
	t.Logf("storm of %d repeats on %d instances: %s (%.0f signals/s), %d batch invocations, %d receives (%d redelivered after a lost race), "+
		"CreateOpsItem %d + UpdateOpsItem %d (bound %d), DynamoDB %v (%.2f requests, %.2f write and %.2f read units a signal)",
		repeats, instances, took.Round(time.Millisecond), float64(repeats)/took.Seconds(), invocations, receives, receives-repeats,
		calls["CreateOpsItem"], calls["UpdateOpsItem"], incidents.MaxUpdates(repeats), db, float64(dbRequests)/repeats, writeUnits, readUnits)
	writeFigures(t, "storm", map[string]any{"repeats": repeats, "instances": instances, "seconds": seconds(took),
		"signalsPerSecond": float64(repeats) / took.Seconds(), "batchInvocations": invocations, "receives": receives,
		"createOpsItem": calls["CreateOpsItem"], "updateOpsItem": calls["UpdateOpsItem"], "bound": incidents.MaxUpdates(repeats),
		"dynamodb": db, "dynamodbRequestsPerSignal": float64(dbRequests) / repeats,
		"dynamodbWriteUnitsPerSignal": writeUnits, "dynamodbReadUnitsPerSignal": readUnits})
}

// repeatsOf makes n messages of the signal in msg: msg itself and n-1
// repeats of the same failure, each from a new source event a second later.
func repeatsOf(msg *message, n int) ([]*message, error) {
	var ev map[string]any
	if err := json.Unmarshal([]byte(msg.Body), &ev); err != nil {
		return nil, fmt.Errorf("signal message: %w", err)
	}
	detail, _ := ev["detail"].(map[string]any)
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(detail["time"]))
	if err != nil {
		return nil, fmt.Errorf("signal time: %w", err)
	}
	out := []*message{msg}
	for i := 1; i < n; i++ {
		detail["eventId"] = fmt.Sprintf("%08x-5702-4d3e-9c1b-%012x", i, i) // shaped as EventBridge ids are
		detail["time"] = at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		ev["id"] = fmt.Sprintf("storm-bus-%05d", i)
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, &message{SQSMessage: events.SQSMessage{MessageId: fmt.Sprintf("storm-%05d", i), Body: string(body),
			EventSource: "aws:sqs", EventSourceARN: msg.EventSourceARN, AWSRegion: msg.AWSRegion}})
	}
	return out, nil
}
