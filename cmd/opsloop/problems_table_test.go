package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/problems"
)

// TestProblemsOnTable works on problems the deployed functions keep in
// DynamoDB: dynalite here, through the SDK's endpoint variable.
func TestProblemsOnTable(t *testing.T) {
	ctx := context.Background()
	dyn := awstest.DynaliteForTest(t)
	const table = "opsloop-cli-test"
	if _, err := dyn.Client().CreateTable(ctx, dynamodb.TableDefinition(table)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", dyn.URL())
	t.Setenv("AWS_REGION", awstest.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIACLITESTEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cli-test-secret")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")

	// GIVEN a fingerprint that opened three incidents within the window
	store := problemstore.New(dyn.Client(), table, problemstore.Options{})
	tracker := problems.New(store)
	at := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	for i, id := range []string{"oi-1", "oi-2", "oi-3"} {
		if _, err := tracker.Opened(ctx, problems.Incident{
			OpsItemID: id, Fingerprint: "alarm:db-cpu", Rule: "alarm", Title: "Alarm db-cpu is in ALARM",
			Opened: at.Add(time.Duration(i) * time.Hour), EventID: id,
		}); err != nil {
			t.Fatal(err)
		}
	}
	key := problems.Key("alarm:db-cpu")

	// WHEN an operator lists, acknowledges and shows it on the table
	code, out, errOut := runCLI("problems", "list", "--table", table)
	if code != 0 || !strings.Contains(out, key) || !strings.Contains(out, "open") {
		t.Fatalf("problems list --table = %d\n%s%s\nwant the open problem %s", code, out, errOut, key)
	}
	if code, out, errOut = runCLI("problems", "ack", key, "--note", "restart clears it", "--table", table); code != 0 {
		t.Fatalf("problems ack --table = %d\n%s%s", code, out, errOut)
	}
	// THEN the table holds it as a known error
	code, out, _ = runCLI("problems", "show", "alarm:db-cpu", "--table", table)
	if code != 0 || !strings.Contains(out, "status:        known-error") || !strings.Contains(out, "restart clears it") {
		t.Errorf("problems show --table after ack = %d\n%s\nwant known-error with the note", code, out)
	}
	if code, _, errOut = runCLI("problems", "list", "--table", table, "--state", "x.json"); code != 2 || !strings.Contains(errOut, "give one of") {
		t.Errorf("problems list with --table and --state = %d %q, want 2 naming the choice", code, errOut)
	}
}
