package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/functions/incidentsfn"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

// The incidents function's handler on in-memory stand-ins: a batch of two
// signals and a malformed message. Nothing is reported for a retry: the
// signals were applied and the malformed message cannot get better.
func ExampleIncidents_Handle() {
	ops := memory.NewOpsCenter()
	h := incidentsfn.NewIncidents(incidents.New(ops, memory.NewIncidents()), nil, nil)
	at := time.Date(2026, 2, 3, 15, 4, 0, 0, time.UTC)
	msg := func(id, kind string, minutes int) events.SQSMessage {
		s := signal.Signal{SchemaVersion: signal.SchemaVersion, Kind: kind, EventID: id,
			Time: at.Add(time.Duration(minutes) * time.Minute), Rule: "alarm-high",
			Fingerprint: "alarm-high:web-1", Title: "Alarm web-1 is in ALARM",
			Plan: signal.Plan{OpsItemSeverity: "2", Priority: 2}}
		detail, _ := json.Marshal(s)
		body := fmt.Sprintf(`{"version":"0","id":"bus-%s","detail-type":%q,"source":"opsloop","account":"123456789012",`+
			`"time":"2026-02-03T15:05:00Z","region":"us-east-1","resources":[],"detail":%s}`, id, s.BusDetailType(), detail)
		return events.SQSMessage{MessageId: "m-" + id, Body: body}
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		msg("e1", signal.Detected, 0),
		{MessageId: "m-bad", Body: "not an event"},
		msg("e2", signal.Recovered, 25),
	}}
	resp, err := h.Handle(context.Background(), batch)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// The malformed message is reported back, so that the queue keeps it in
	// its dead-letter queue; the two signals are applied.
	for _, f := range resp.BatchItemFailures {
		fmt.Println("kept for the dead-letter queue:", f.ItemIdentifier)
	}
	for _, it := range ops.Items() {
		fmt.Println(it.ID, it.Title, it.Status)
	}
	// Output:
	// kept for the dead-letter queue: m-bad
	// oi-000000000001 Alarm web-1 is in ALARM Resolved
}
