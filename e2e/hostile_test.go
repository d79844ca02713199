package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/incidents"
)

// TestHostileInput runs the attacks of the hostile-input issue through the
// real function binaries, the deployed routes, dynalite and the local SSM
// and EventBridge endpoints: forged sources reach nothing, a flood of
// distinct incidents is held to the budget with one roll-up, and secrets
// that CloudTrail logs in clear reach no OpsItem, record or bus event.
func TestHostileInput(t *testing.T) {
	root, _ := requireTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := loadRoutes(t, root)
	s := newStack(t, stackOptions{classifiers: 1, incidents: 1})

	t.Run("forged sources", func(t *testing.T) {
		for _, it := range samples(t, root) {
			var ev map[string]any
			if err := json.Unmarshal(it.Raw, &ev); err != nil {
				t.Fatal(err)
			}
			ev["source"], ev["id"] = "corp.forged", "forged-"+fmt.Sprint(ev["id"])
			raw, _ := json.Marshal(ev)
			if n := r.routed(t, raw); n > 0 {
				t.Errorf("%s with a forged source is routed by %d deployed rules, want none", it.Pos, n)
			}
			// Even delivered, the classifier ignores it.
			if d, ok := s.classify(ctx, raw); !ok || d.Action != classify.Ignore {
				t.Errorf("classifier(%s forged) = %s (ok %v), want ignore", it.Pos, d.Action, ok)
			}
		}
		if n := len(s.signals()); n != 0 {
			t.Errorf("forged events sent %d signals, want none", n)
		}
	})

	t.Run("flood held to the budget", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(root, "events-samples", "ec2", "instance-state-stopped.json"))
		if err != nil {
			t.Fatal(err)
		}
		const n = 40
		for i := range n {
			var ev map[string]any
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("i-%017x", i+1)
			ev["id"], ev["time"] = fmt.Sprintf("flood-%d", i), time.Now().UTC().Format(time.RFC3339)
			ev["resources"] = []string{"arn:aws:ec2:us-east-1:123456789012:instance/" + id}
			ev["detail"].(map[string]any)["instance-id"] = id
			data, _ := json.Marshal(ev)
			if d, ok := s.classify(ctx, data); !ok || d.Action != classify.Incident {
				t.Fatalf("classifier(stopped %s) = %s (ok %v), want incident", id, d.Action, ok)
			}
		}
		s.deliver(ctx, s.signals(), nil)
		own, rollups := 0, 0
		for _, it := range s.ssm.OpsItems() {
			switch {
			case data(it, incidents.KeyHeldBack) != "":
				rollups++
			case data(it, incidents.KeyRule) == "ec2-instance-stopped":
				own++
			}
		}
		if own != 10 || rollups != 1 {
			t.Errorf("%d stopped instances opened %d OpsItems of their rule and %d roll-ups, want 10 (the rule's hourly cap) and 1", n, own, rollups)
		}
		if got := s.incidents.metrics()["IncidentsHeldBack"]; got != n-10 {
			t.Errorf("IncidentsHeldBack = %v, want %d", got, n-10)
		}
	})

	t.Run("secrets not copied", func(t *testing.T) {
		dir := filepath.Join(root, "internal", "redact", "testdata")
		var expect map[string]struct{ Secrets []string }
		want, err := os.ReadFile(filepath.Join(dir, "expect.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &expect); err != nil {
			t.Fatal(err)
		}
		var secrets []string
		for name, want := range expect {
			raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, want.Secrets...)
			for i := range 11 { // ten denied (an incident with an excerpt), one allowed (a change)
				var ev map[string]any
				if err := json.Unmarshal(raw, &ev); err != nil {
					t.Fatal(err)
				}
				ev["id"], ev["time"] = fmt.Sprintf("%s-%d", name, i), time.Now().UTC().Format(time.RFC3339)
				d := ev["detail"].(map[string]any)
				d["eventID"], d["eventTime"] = ev["id"], ev["time"]
				if i < 10 {
					d["errorCode"], d["errorMessage"] = "AccessDenied", "not authorized"
				}
				payload, _ := json.Marshal(ev)
				if _, ok := s.classify(ctx, payload); !ok {
					t.Fatalf("classifier(%s) failed", ev["id"])
				}
			}
		}
		s.deliver(ctx, s.signals(), nil)
		opened := 0
		var seen strings.Builder
		for _, it := range s.ssm.OpsItems() {
			if data(it, incidents.KeyRule) == "access-denied-burst" {
				opened++
			}
			b, _ := json.Marshal(it)
			seen.Write(b)
		}
		if opened == 0 {
			t.Fatal("the denied bursts opened no OpsItem: the test shows nothing")
		}
		for _, ev := range s.bus.Events() {
			b, _ := json.Marshal(ev)
			seen.Write(b)
		}
		client := awsdynamodb.New(awsdynamodb.Options{Region: awstest.Region, BaseEndpoint: aws.String(s.dyn.url()), Credentials: awstest.Credentials()})
		p := awsdynamodb.NewScanPaginator(client, &awsdynamodb.ScanInput{TableName: aws.String(tableName)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			b, _ := json.Marshal(page.Items)
			seen.Write(b)
		}
		for _, secret := range secrets {
			if strings.Contains(seen.String(), secret) {
				t.Errorf("secret %q reached an OpsItem, a bus event or the table", secret)
			}
		}
	})
}
