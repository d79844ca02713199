package incidents_test

import (
	"context"
	"fmt"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

func ExampleManager_Handle() {
	ops, store := memory.NewOpsCenter(), memory.NewIncidents()
	m := incidents.New(ops, store, incidents.WithDefaultTopic("arn:aws:sns:us-east-1:123456789012:oncall"))
	ctx := context.Background()

	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	sig := func(kind, id string, minute int) signal.Signal {
		return signal.Signal{
			SchemaVersion: signal.SchemaVersion, Kind: kind, EventID: id,
			Time: at.Add(time.Duration(minute) * time.Minute),
			Rule: "alarm-in-alarm", Fingerprint: "alarm-in-alarm:api-errors",
			Title: "Alarm api-errors is in ALARM", Severity: "high", Category: "Availability",
			Plan:      signal.Plan{OpsItemSeverity: "2", Priority: 2, Notify: []string{"default"}},
			Resources: []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-errors"},
			Account:   "123456789012", Region: "us-east-1",
		}
	}
	for _, s := range []signal.Signal{
		sig(signal.Detected, "e1", 0),
		sig(signal.Detected, "e2", 1),
		sig(signal.Detected, "e2", 1), // redelivered
		sig(signal.Detected, "e3", 2),
		sig(signal.Recovered, "e4", 3),
	} {
		out, err := m.Handle(ctx, s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %s %s, %d occurrences, updated %v\n", s.EventID, out.Action, out.OpsItemID, out.Occurrences, out.Updated)
	}
	for _, it := range ops.Items() {
		fmt.Printf("%s %q %s severity %s, %d occurrences\n", it.ID, it.Title, it.Status, it.Severity, it.Occurrences)
	}
	fmt.Printf("calls: %d create, %d updates\n", ops.Stats().Creates, ops.Stats().Updates)
	// Output:
	// e1: opened oi-000000000001, 1 occurrences, updated false
	// e2: repeated oi-000000000001, 2 occurrences, updated true
	// e2: duplicate oi-000000000001, 2 occurrences, updated false
	// e3: repeated oi-000000000001, 3 occurrences, updated false
	// e4: resolved oi-000000000001, 3 occurrences, updated true
	// oi-000000000001 "Alarm api-errors is in ALARM" Resolved severity 2, 3 occurrences
	// calls: 1 create, 2 updates
}
