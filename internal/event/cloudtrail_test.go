package event_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/repotest"
)

func TestFromCloudTrailRecord(t *testing.T) {
	rec := func(extra string) string {
		return `{"eventVersion":"1.10","eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances",` +
			`"awsRegion":"eu-west-1","eventID":"e-1","recipientAccountId":"123456789012","userIdentity":{"accountId":"999999999999"}` + extra + `}`
	}
	tests := []struct {
		name, record                                           string
		detailType, source, id, account, region, time, errPart string
	}{
		{name: "api call", record: rec(`,"eventType":"AwsApiCall"`),
			detailType: "AWS API Call via CloudTrail", source: "aws.ec2", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "no eventType", record: rec(``),
			detailType: "AWS API Call via CloudTrail", source: "aws.ec2", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "console sign-in", record: strings.Replace(rec(`,"eventType":"AwsConsoleSignIn"`), "ec2.amazonaws.com", "signin.amazonaws.com", 1),
			detailType: "AWS Console Sign In via CloudTrail", source: "aws.signin", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "service event", record: strings.Replace(rec(`,"eventType":"AwsServiceEvent"`), "ec2.amazonaws.com", "kms.amazonaws.com", 1),
			detailType: "AWS Service Event via CloudTrail", source: "aws.kms", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "console action", record: rec(`,"eventType":"AwsConsoleAction"`),
			detailType: "AWS Console Action via CloudTrail", source: "aws.ec2", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "cloudwatch is monitoring", record: strings.Replace(rec(``), "ec2.amazonaws.com", "monitoring.amazonaws.com", 1),
			detailType: "AWS API Call via CloudTrail", source: "aws.monitoring", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "account from identity", record: strings.Replace(rec(``), `"recipientAccountId":"123456789012",`, "", 1),
			detailType: "AWS API Call via CloudTrail", source: "aws.ec2", id: "e-1", account: "999999999999", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "insight", record: strings.Replace(rec(`,"eventType":"AwsCloudTrailInsight"`), `"eventSource":"ec2.amazonaws.com",`, "", 1),
			detailType: "AWS Insight via CloudTrail", source: "aws.cloudtrail", id: "e-1", account: "123456789012", region: "eu-west-1", time: "2026-03-01T10:00:00Z"},
		{name: "unknown event type", record: rec(`,"eventType":"AwsSomethingNew"`), errPart: `"eventType"`},
		{name: "no eventSource", record: strings.Replace(rec(``), `"eventSource":"ec2.amazonaws.com",`, "", 1), errPart: `field "eventSource": missing`},
		{name: "no eventTime", record: strings.Replace(rec(``), `"eventTime":"2026-03-01T10:00:00Z",`, "", 1), errPart: `field "eventTime": missing`},
		{name: "bad eventTime", record: strings.Replace(rec(``), `2026-03-01T10:00:00Z`, "March 1st", 1), errPart: `not RFC 3339`},
		{name: "no awsRegion", record: strings.Replace(rec(``), `"awsRegion":"eu-west-1",`, "", 1), errPart: `field "awsRegion": missing`},
		{name: "no account", record: `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1"}`, errPart: `"recipientAccountId": missing`},
		{name: "eventSource a number", record: strings.Replace(rec(``), `"ec2.amazonaws.com"`, "7", 1), errPart: "cloudtrail record"},
		{name: "not an object", record: `[1]`, errPart: "want a JSON object"},
		{name: "broken", record: `{"eventTime":`, errPart: "cloudtrail record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := event.FromCloudTrailRecord([]byte(tt.record))
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("FromCloudTrailRecord(%s) error = %v, want one containing %q", tt.name, err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromCloudTrailRecord(%s) error = %v", tt.name, err)
			}
			e, err := event.Parse(out)
			if err != nil {
				t.Fatalf("Parse(FromCloudTrailRecord(%s)) error = %v", tt.name, err)
			}
			got := []string{e.DetailType, e.Source, e.ID, e.Account, e.Region, e.Time.Format("2006-01-02T15:04:05Z07:00"), e.Version}
			want := []string{tt.detailType, tt.source, tt.id, tt.account, tt.region, tt.time, "0"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("FromCloudTrailRecord(%s) envelope = %q, want %q", tt.name, got, want)
			}
			if e.Resources == nil || len(e.Resources) != 0 || !strings.Contains(string(out), `"resources":[]`) {
				t.Errorf("FromCloudTrailRecord(%s) resources = %q, want []", tt.name, e.Resources)
			}
			var a, b any
			if json.Unmarshal(e.Detail, &a) != nil || json.Unmarshal([]byte(tt.record), &b) != nil || !jsonEqual(a, b) {
				t.Errorf("FromCloudTrailRecord(%s) detail = %s, want the record", tt.name, e.Detail)
			}
		})
	}
}

func TestFromCloudTrailRecordDerivedID(t *testing.T) {
	rec := []byte(`{"eventTime":"2014-03-06T21:22:54Z","eventSource":"ec2.amazonaws.com","awsRegion":"us-east-2","userIdentity":{"accountId":"123456789012"},"eventName":"StartInstances"}`)
	other := []byte(strings.Replace(string(rec), "StartInstances", "StopInstances", 1))
	id := func(r []byte) string {
		out, err := event.FromCloudTrailRecord(r)
		if err != nil {
			t.Fatalf("FromCloudTrailRecord: %v", err)
		}
		e, err := event.Parse(out)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return e.ID
	}
	first, again, second := id(rec), id(rec), id(other)
	if first == "" || first != again {
		t.Errorf("derived id = %q then %q, want the same non-empty id", first, again)
	}
	if first == second {
		t.Errorf("derived ids of different records are both %q", first)
	}
	if len(first) != 36 || strings.Count(first, "-") != 4 {
		t.Errorf("derived id = %q, want UUID-shaped", first)
	}
}

func TestFromCloudTrailRecordKeepsAmpersand(t *testing.T) {
	rec := `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"signin.amazonaws.com","awsRegion":"us-east-1","recipientAccountId":"1",` +
		`"eventType":"AwsConsoleSignIn","additionalEventData":{"LoginTo":"https://console.aws.amazon.com/?a=1&b=<2>"}}`
	out, err := event.FromCloudTrailRecord([]byte(rec))
	if err != nil {
		t.Fatalf("FromCloudTrailRecord: %v", err)
	}
	if !strings.Contains(string(out), "a=1&b=<2>") {
		t.Errorf("FromCloudTrailRecord output %s escapes the URL, want it verbatim", out)
	}
}

// TestSharedCloudTrailRecords converts every CloudTrail record among the
// shared AWS samples and reads it back through the CloudTrail view.
func TestSharedCloudTrailRecords(t *testing.T) {
	dir := filepath.Join(repotest.Shared(t), "events", "cloudtrail-records")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CloudTrail records in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rec := readFile(t, f)
			out, err := event.FromCloudTrailRecord(rec)
			if err != nil {
				t.Fatalf("FromCloudTrailRecord(%s) error = %v", filepath.Base(f), err)
			}
			e, err := event.Parse(out)
			if err != nil {
				t.Fatalf("Parse(converted %s) error = %v", filepath.Base(f), err)
			}
			c, err := e.CloudTrail()
			if err != nil {
				t.Fatalf("CloudTrail(converted %s) error = %v", filepath.Base(f), err)
			}
			var r struct {
				EventName   string `json:"eventName"`
				EventSource string `json:"eventSource"`
			}
			if err := json.Unmarshal(rec, &r); err != nil {
				t.Fatalf("decode %s: %v", f, err)
			}
			if c.EventName != r.EventName || e.Source != "aws."+strings.TrimSuffix(r.EventSource, ".amazonaws.com") {
				t.Errorf("converted %s = %s from %s, want %s from %s", filepath.Base(f), c.EventName, e.Source, r.EventName, r.EventSource)
			}
			if e.Summary() == "" || e.Actor() == "" {
				t.Errorf("converted %s has summary %q and actor %q, want both", filepath.Base(f), e.Summary(), e.Actor())
			}
		})
	}
}

// TestSharedEvents parses every EventBridge event among the shared AWS
// samples.
func TestSharedEvents(t *testing.T) {
	root := filepath.Join(repotest.Shared(t), "events")
	var n int
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "cloudtrail-records" {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ".json" {
			return nil
		}
		n++
		t.Run(strings.TrimPrefix(path, root+string(filepath.Separator)), func(t *testing.T) {
			e, err := event.Parse(readFile(t, path))
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", path, err)
			}
			if e.Summary() == "" || e.Actor() == "" {
				t.Errorf("Parse(%s): summary %q, actor %q, want both", path, e.Summary(), e.Actor())
			}
			_ = e.ResourceRefs()
		})
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	if n == 0 {
		t.Fatalf("no events under %s", root)
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
