package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/sqs"
)

// localAWS points the SDK's default config at the local endpoints, with
// static credentials and nothing read from the machine's AWS files.
func localAWS(t *testing.T, events *awstest.Events) {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "AKIDAWSTEST", "AWS_SECRET_ACCESS_KEY": "awstest-secret",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SQS": "",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": events.URL(),
	} {
		t.Setenv(k, v)
	}
}

func detected(n int) string {
	return fmt.Sprintf(`{"version":"0","id":"e-%d","detail-type":"Incident Detected","source":"opsloop","account":"123456789012","time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{"n":%d}}`, n, n)
}

func TestRedriveCommand(t *testing.T) {
	srv := awstest.NewSQS()
	defer srv.Close()
	events := awstest.NewEvents()
	defer events.Close()
	localAWS(t, events)
	dlq, _ := srv.CreateQueue("incidents-dlq", nil)
	src, _ := srv.CreateQueue("incidents", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"` + awstest.QueueARN("incidents-dlq") + `","maxReceiveCount":5}`})
	other, _ := srv.CreateQueue("problems-dlq", nil)
	for i := range 5 {
		_, _ = srv.Send("incidents-dlq", detected(i), nil)
	}
	_, _ = srv.Send("problems-dlq", strings.Replace(detected(7), "Incident Detected", "Incident Opened", 1), map[string]awstest.MessageAttribute{
		"ERROR_CODE": {DataType: "String", StringValue: "SDK_CLIENT_ERROR"}, "RULE_ARN": {DataType: "String", StringValue: "arn:aws:events:us-east-1:123456789012:rule/IncidentLifecycle"}})
	_, _ = srv.Send("problems-dlq", `{"source":"aws.ssm","detail-type":"OpsItem Update","detail":{}}`, nil)
	ep := srv.URL()

	// A dry run reports and leaves everything in place.
	code, out, errOut := runCLI("redrive", "--queue", dlq, "--endpoint-url", ep, "--dry-run")
	if code != exitOK || !strings.Contains(out, "5 messages waiting (dry run") || !strings.Contains(out, "Incident Detected") {
		t.Fatalf("redrive --dry-run = %d, %q, stderr %q", code, out, errOut)
	}
	if n := len(srv.Messages("incidents-dlq")); n != 5 {
		t.Fatalf("after a dry run the DLQ holds %d, want 5", n)
	}

	// --max 2, then the rest, to the source queue found by its redrive policy.
	code, out, errOut = runCLI("redrive", "--queue", dlq, "--endpoint-url", ep, "--max", "2", "--json")
	var rep sqs.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || rep.Moved != 2 || rep.Destination != "queue "+src {
		t.Fatalf("redrive --max 2 --json = %d, %+v (%v), stderr %q", code, rep, err, errOut)
	}
	code, out, _ = runCLI("redrive", "--queue", dlq, "--endpoint-url", ep)
	if code != exitOK || !strings.Contains(out, "moved 3, failed 0, of 3") {
		t.Errorf("redrive = %d, %q, want the 3 others moved", code, out)
	}
	if a, b := len(srv.Messages("incidents-dlq")), len(srv.Messages("incidents")); a != 0 || b != 5 {
		t.Errorf("DLQ holds %d and the source %d, want 0 and 5", a, b)
	}

	// To the bus: opsloop's event goes, AWS's stays, and the exit says so.
	code, out, _ = runCLI("redrive", "--queue", other, "--endpoint-url", ep, "--bus", "opsloop")
	if code != exitFailed || !strings.Contains(out, "moved 1, failed 1, of 2") || !strings.Contains(out, "SDK_CLIENT_ERROR") ||
		!strings.Contains(out, "come from AWS only") {
		t.Errorf("redrive --bus = %d, %q, want 1 moved and the aws.ssm event refused", code, out)
	}
	if put := events.Events(); len(put) != 1 || put[0].Bus != "opsloop" || put[0].DetailType != "Incident Opened" {
		t.Errorf("bus got %+v, want the Incident Opened", put)
	}
}

func TestRedriveUsage(t *testing.T) {
	srv := awstest.NewSQS()
	defer srv.Close()
	events := awstest.NewEvents()
	defer events.Close()
	localAWS(t, events)
	lone, _ := srv.CreateQueue("lone", nil)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no queue", []string{"redrive"}, exitInvalid, "--queue"},
		{"two destinations", []string{"redrive", "--queue", lone, "--to", lone, "--bus", "b"}, exitInvalid, "one of"},
		{"negative max", []string{"redrive", "--queue", lone, "--max", "-1"}, exitInvalid, "--max"},
		{"no source queue", []string{"redrive", "--queue", lone, "--endpoint-url", srv.URL()}, exitInvalid, "redrive policy"},
		{"missing queue", []string{"redrive", "--queue", srv.QueueURL("nope"), "--endpoint-url", srv.URL(), "--to", lone}, exitFailed, "NonExistentQueue"},
		{"stray argument", []string{"redrive", "--queue", lone, "extra"}, exitInvalid, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("opsloop %v = %d, stderr %q; want %d, stderr containing %q", tt.args, code, errOut, tt.code, tt.stderr)
			}
		})
	}
}
