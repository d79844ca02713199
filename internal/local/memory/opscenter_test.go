package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

// validOpsItem is an OpsItem within every limit; each bad case breaks one.
func validOpsItem(dedup string) incidents.OpsItem {
	return incidents.OpsItem{
		Title:       "Alarm api-errors is in ALARM",
		Description: "what happened\n\n- **Where:** account 123456789012",
		Source:      "opsloop",
		Severity:    "2",
		Priority:    2,
		Category:    "Availability",
		OperationalData: map[string]incidents.Data{
			incidents.KeyDedup:       {Value: `{"dedupString":"` + dedup + `"}`, Searchable: true},
			incidents.KeyResources:   {Value: `[{"arn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-errors"}]`},
			incidents.KeyAutomations: {Value: `[{"automationType":"AWS::SSM::Automation","automationId":"AWS-RestartEC2Instance"}]`},
			"opsloop:rule":           {Value: "alarm-in-alarm"},
			"opsloop:fingerprint":    {Value: "alarm-in-alarm:" + dedup},
			"opsloop:occurrences":    {Value: "3"},
		},
		Notifications:   []string{"arn:aws:sns:us-east-1:123456789012:oncall"},
		RelatedOpsItems: []string{"oi-000000000001"},
	}
}

func TestOpsCenterRefusesWhatBreaksALimit(t *testing.T) {
	data := func(k, v string) func(*incidents.OpsItem) {
		return func(it *incidents.OpsItem) { it.OperationalData[k] = incidents.Data{Value: v} }
	}
	var related []string
	for i := range incidents.MaxRelated + 1 {
		related = append(related, fmt.Sprintf("oi-%012x", i))
	}
	var resources []string
	for i := range incidents.MaxResources + 1 {
		resources = append(resources, fmt.Sprintf(`{"arn":"arn:aws:s3:::b%d"}`, i))
	}
	bads := []struct {
		name string
		mod  func(*incidents.OpsItem)
	}{
		{"empty title", func(it *incidents.OpsItem) { it.Title = "" }},
		{"blank title", func(it *incidents.OpsItem) { it.Title = "  " }},
		{"title with a line break", func(it *incidents.OpsItem) { it.Title = "a\nb" }},
		{"long title", func(it *incidents.OpsItem) { it.Title = strings.Repeat("é", incidents.MaxTitle+1) }},
		{"empty description", func(it *incidents.OpsItem) { it.Description = "" }},
		{"blank description", func(it *incidents.OpsItem) { it.Description = "\n\t " }},
		{"long description", func(it *incidents.OpsItem) { it.Description = strings.Repeat("日", incidents.MaxDescription+1) }},
		{"invalid UTF-8 description", func(it *incidents.OpsItem) { it.Description = "bad \xff" }},
		{"empty source", func(it *incidents.OpsItem) { it.Source = "" }},
		{"source naming aws", func(it *incidents.OpsItem) { it.Source = "my-AWS-tool" }},
		{"source naming amazon", func(it *incidents.OpsItem) { it.Source = "amazon" }},
		{"long source", func(it *incidents.OpsItem) { it.Source = strings.Repeat("s", incidents.MaxSource+1) }},
		{"long severity", func(it *incidents.OpsItem) { it.Severity = strings.Repeat("1", incidents.MaxSeverity+1) }},
		{"long category", func(it *incidents.OpsItem) { it.Category = strings.Repeat("c", incidents.MaxCategory+1) }},
		{"priority above 5", func(it *incidents.OpsItem) { it.Priority = 6 }},
		{"negative priority", func(it *incidents.OpsItem) { it.Priority = -1 }},
		{"notification not an ARN", func(it *incidents.OpsItem) { it.Notifications = []string{"default"} }},
		{"too many related OpsItems", func(it *incidents.OpsItem) { it.RelatedOpsItems = related }},
		{"reserved key aws", data("aws:x", "v")},
		{"reserved key Amazon", data("Amazon", "v")},
		{"reserved key ssm", data("ssmthing", "v")},
		{"reserved key /aws/other", data("/aws/other", "v")},
		{"reserved key /amzn", data("/amzn/x", "v")},
		{"long key", data(strings.Repeat("k", incidents.MaxDataKey+1), "v")},
		{"blank key", data(" ", "v")},
		{"blank value", data("opsloop:x", " \n")},
		{"long value", data("opsloop:x", strings.Repeat("v", incidents.MaxDataValue+1))},
		{"resources not JSON", data(incidents.KeyResources, "arn:aws:s3:::b")},
		{"resource not an ARN", data(incidents.KeyResources, `[{"arn":"i-123"}]`)},
		{"too many resources", data(incidents.KeyResources, "["+strings.Join(resources, ",")+"]")},
		{"dedup not JSON", data(incidents.KeyDedup, "fp")},
		{"dedup blank", data(incidents.KeyDedup, `{"dedupString":" "}`)},
		{"automation of another type", data(incidents.KeyAutomations, `[{"automationType":"Other","automationId":"x"}]`)},
	}
	ctx := context.Background()
	for _, bad := range bads {
		t.Run(bad.name, func(t *testing.T) {
			ops := memory.NewOpsCenter()
			it := validOpsItem("fp")
			bad.mod(&it)
			id, _, err := ops.Create(ctx, it)
			if !errors.Is(err, memory.ErrInvalidParameter) || incidents.Retryable(err) {
				t.Errorf("Create(%s) = %q, %v; want a permanent %v", bad.name, id, err, memory.ErrInvalidParameter)
			}
			if n := len(ops.Items()); n != 0 {
				t.Errorf("Create(%s) kept %d OpsItems", bad.name, n)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		ops := memory.NewOpsCenter()
		for _, it := range []incidents.OpsItem{validOpsItem("fp"), {Title: "t", Description: "d", Source: "opsloop"}} {
			if _, _, err := ops.Create(ctx, it); err != nil {
				t.Errorf("Create(%q) = %v, want success", it.Title, err)
			}
		}
	})
}

func TestOpsCenterUpdate(t *testing.T) {
	ctx := context.Background()
	ops := memory.NewOpsCenter()
	id, _, err := ops.Create(ctx, validOpsItem("fp"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	tests := []struct {
		name    string
		id      string
		u       incidents.Update
		wantErr error
	}{
		{"unknown OpsItem", "oi-ffffffffffff", incidents.Update{Title: "x"}, memory.ErrNotFound},
		{"dedup string can't change", id, incidents.Update{OperationalData: map[string]incidents.Data{incidents.KeyDedup: {Value: `{"dedupString":"other"}`}}}, memory.ErrInvalidParameter},
		{"unknown status", id, incidents.Update{Status: "Done"}, memory.ErrInvalidParameter},
		{"long title", id, incidents.Update{Title: strings.Repeat("t", incidents.MaxTitle+1)}, memory.ErrInvalidParameter},
		{"reserved key", id, incidents.Update{OperationalData: map[string]incidents.Data{"aws": {Value: "v"}}}, memory.ErrInvalidParameter},
		{"resolve, with new data", id, incidents.Update{Status: "Resolved", OperationalData: map[string]incidents.Data{"opsloop:occurrences": {Value: "7"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ops.Update(ctx, tt.id, tt.u)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Update(%s) = %v, want %v", tt.name, err, tt.wantErr)
			}
		})
	}
	it := ops.Items()[0]
	if it.Status != "Resolved" || it.Occurrences != 7 || it.Title != validOpsItem("fp").Title || it.Updates != 1 || it.Rule != "alarm-in-alarm" {
		t.Errorf("OpsItem after updates = status %s, %d occurrences, title %q, %d updates, rule %q; want Resolved, 7, unchanged, 1, alarm-in-alarm",
			it.Status, it.Occurrences, it.Title, it.Updates, it.Rule)
	}
	if _, ok := it.OperationalData[incidents.KeyAutomations]; !ok {
		t.Errorf("Update removed %s: updates add and edit keys only", incidents.KeyAutomations)
	}
	if st := ops.Stats(); st.Updates != len(tests) || st.Creates != 1 {
		t.Errorf("Stats = %+v, want %d updates, 1 create", st, len(tests))
	}
}

func TestOpsCenterDedup(t *testing.T) {
	ctx := context.Background()
	ops := memory.NewOpsCenter()
	create := func(dedup string) (string, bool) {
		t.Helper()
		id, existing, err := ops.Create(ctx, validOpsItem(dedup))
		if err != nil {
			t.Fatalf("Create(%s): %v", dedup, err)
		}
		return id, existing
	}
	first, existing := create("disk-full")
	if existing {
		t.Errorf("Create(disk-full) first = existing, want new")
	}
	if id, existing := create("DISK-FULL"); id != first || !existing {
		t.Errorf("Create(DISK-FULL) = %s, existing %v; want %s, existing: dedup strings aren't case sensitive", id, existing, first)
	}
	if id, existing := create("other"); id == first || existing {
		t.Errorf("Create(other) = %s, existing %v; want a new OpsItem", id, existing)
	}
	if err := ops.Update(ctx, first, incidents.Update{Status: "InProgress"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if id, existing := create("disk-full"); id != first || !existing {
		t.Errorf("Create(disk-full) while InProgress = %s, existing %v; want %s", id, existing, first)
	}
	if err := ops.Update(ctx, first, incidents.Update{Status: "Resolved"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if id, existing := create("disk-full"); id == first || existing {
		t.Errorf("Create(disk-full) after resolution = %s, existing %v; want a new OpsItem", id, existing)
	}
	st := ops.Stats()
	if st.Creates != 5 || st.Created != 3 || st.Deduplicated != 2 || len(ops.Items()) != 3 {
		t.Errorf("Stats = %+v with %d OpsItems, want 5 creates, 3 created, 2 deduplicated", st, len(ops.Items()))
	}
}

func TestOpsCenterMonthlyLimit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)
	ops := &memory.OpsCenter{MonthlyLimit: 2, Now: func() time.Time { return now }}
	steps := []struct {
		dedup   string
		advance time.Duration
		want    error
	}{
		{"a", 0, nil},
		{"b", 0, nil},
		{"c", 0, incidents.ErrLimitExceeded},
		{"a", 0, nil},              // an open OpsItem's dedup string creates nothing, so it is not refused
		{"c", 72 * time.Hour, nil}, // April
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		_, _, err := ops.Create(ctx, validOpsItem(st.dedup))
		if !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
			t.Errorf("step %d: Create(%s) = %v, want %v", i, st.dedup, err, st.want)
		}
	}
	if st := ops.Stats(); st.Refused != 1 || st.Created != 3 {
		t.Errorf("Stats = %+v, want 1 refused, 3 created", st)
	}
}

func TestOpsCenterItemsAreCopies(t *testing.T) {
	ctx := context.Background()
	ops := memory.NewOpsCenter()
	if _, _, err := ops.Create(ctx, validOpsItem("fp")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	items := ops.Items()
	items[0].OperationalData["opsloop:rule"] = incidents.Data{Value: "changed"}
	items[0].Notifications[0] = "changed"
	again := ops.Items()[0]
	if again.Rule != "alarm-in-alarm" || again.Notifications[0] == "changed" {
		t.Errorf("changing Items() changed the OpsCenter: rule %q, notifications %v", again.Rule, again.Notifications)
	}
	if again.ID != "oi-000000000001" || again.Fingerprint != "alarm-in-alarm:fp" || len(again.Resources) != 1 {
		t.Errorf("Item = id %s, fingerprint %s, resources %v", again.ID, again.Fingerprint, again.Resources)
	}
}
