package event_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
)

func sample(t *testing.T, rel string) *event.Event {
	t.Helper()
	root, _ := sampleFiles(t)
	e, err := event.Parse(readFile(t, filepath.Join(root, rel)))
	if err != nil {
		t.Fatalf("Parse(%s): %v", rel, err)
	}
	return e
}

func TestCloudTrail(t *testing.T) {
	tests := []struct {
		file  string
		check func(*event.CloudTrail) (string, any, any)
	}{
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "EventName", c.EventName, "RunInstances"
		}},
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "Service", c.Service(), "ec2"
		}},
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "UserIdentity.Type", c.UserIdentity.Type, "AssumedRole"
		}},
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "SessionIssuer.ARN", c.UserIdentity.SessionIssuer.ARN, "arn:aws:iam::123456789012:role/deploy-pipeline"
		}},
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "EventTime", c.EventTime, time.Date(2026, 2, 12, 10, 3, 17, 0, time.UTC)
		}},
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "ReadOnly", c.ReadOnly, false
		}},
		{"ec2/run-instances.json", func(c *event.CloudTrail) (string, any, any) {
			return "Failed", c.Failed(), false
		}},
		{"ec2/terminate-instances-unauthorized.json", func(c *event.CloudTrail) (string, any, any) {
			return "ErrorCode", c.ErrorCode, "Client.UnauthorizedOperation"
		}},
		{"ec2/terminate-instances-unauthorized.json", func(c *event.CloudTrail) (string, any, any) {
			return "Failed", c.Failed(), true
		}},
		{"ec2/terminate-instances-unauthorized.json", func(c *event.CloudTrail) (string, any, any) {
			return "ResponseElements", c.ResponseElements == nil, true
		}},
		{"iam/create-access-key-access-denied.json", func(c *event.CloudTrail) (string, any, any) {
			return "ErrorCode", c.ErrorCode, "AccessDenied"
		}},
		{"signin/console-login-root-success.json", func(c *event.CloudTrail) (string, any, any) {
			return "UserIdentity.Type", c.UserIdentity.Type, "Root"
		}},
		{"signin/console-login-root-success.json", func(c *event.CloudTrail) (string, any, any) {
			return "ConsoleLogin", c.ConsoleLogin, "Success"
		}},
		{"signin/console-login-root-success.json", func(c *event.CloudTrail) (string, any, any) {
			return "MFAUsed", c.MFAUsed, true
		}},
		{"signin/console-login-failure.json", func(c *event.CloudTrail) (string, any, any) {
			return "ConsoleLogin", c.ConsoleLogin, "Failure"
		}},
		{"signin/console-login-failure.json", func(c *event.CloudTrail) (string, any, any) {
			return "MFAUsed", c.MFAUsed, false
		}},
		{"signin/console-login-failure.json", func(c *event.CloudTrail) (string, any, any) {
			return "Failed", c.Failed(), true
		}},
		{"signin/console-login-failure.json", func(c *event.CloudTrail) (string, any, any) {
			return "EventType", c.EventType, "AwsConsoleSignIn"
		}},
		{"kms/schedule-key-deletion.json", func(c *event.CloudTrail) (string, any, any) {
			return "Resources", len(c.Resources) == 1 && c.Resources[0].Type == "AWS::KMS::Key", true
		}},
		{"cloudtrail/stop-logging.json", func(c *event.CloudTrail) (string, any, any) {
			return "UserIdentity.ARN", c.UserIdentity.ARN, "arn:aws:iam::123456789012:user/ci-bot"
		}},
		{"s3/put-bucket-policy-access-denied.json", func(c *event.CloudTrail) (string, any, any) {
			return "AdditionalEventData", c.AdditionalEventData != nil, true
		}},
	}
	for _, tt := range tests {
		c, err := sample(t, tt.file).CloudTrail()
		if err != nil {
			t.Fatalf("CloudTrail(%s): %v", tt.file, err)
		}
		field, got, want := tt.check(c)
		t.Run(tt.file+"/"+field, func(t *testing.T) {
			if !same(got, want) {
				t.Errorf("CloudTrail(%s).%s = %v, want %v", tt.file, field, got, want)
			}
		})
	}
}

func TestCloudTrailReadOnlyInferred(t *testing.T) {
	tests := []struct {
		name, eventName, readOnly string
		want                      bool
	}{
		{"flag true wins", "PutObject", `"readOnly":true,`, true},
		{"flag false wins", "DescribeInstances", `"readOnly":false,`, false},
		{"flag as string", "PutObject", `"readOnly":"true",`, true},
		{"Describe", "DescribeInstances", "", true},
		{"Get", "GetObject", "", true},
		{"List", "ListBuckets", "", true},
		{"Head", "HeadBucket", "", true},
		{"Lookup", "LookupEvents", "", true},
		{"write", "DeleteBucket", "", false},
		{"lower case is not a prefix", "getaway", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"id":"r","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z",` +
				`"region":"us-east-1","detail":{` + tt.readOnly + `"eventName":"` + tt.eventName + `","eventSource":"s3.amazonaws.com"}}`
			e, err := event.Parse([]byte(raw))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			c, err := e.CloudTrail()
			if err != nil {
				t.Fatalf("CloudTrail: %v", err)
			}
			if c.ReadOnly != tt.want {
				t.Errorf("CloudTrail(%s).ReadOnly = %v, want %v", tt.eventName, c.ReadOnly, tt.want)
			}
		})
	}
}

func TestAlarm(t *testing.T) {
	a, err := sample(t, "cloudwatch/alarm-high-cpu-alarm.json").Alarm()
	if err != nil {
		t.Fatalf("Alarm: %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"Name", a.Name, "high-cpu-web-1"},
		{"ARN", a.ARN, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:high-cpu-web-1"},
		{"State.Value", a.State.Value, "ALARM"},
		{"PreviousState.Value", a.PreviousState.Value, "OK"},
		{"State.Timestamp", a.State.Timestamp, time.Date(2026, 2, 3, 15, 4, 40, 519e6, time.UTC)},
		{"Description", a.Description, "web-1 CPU above 80% for 5 minutes"},
		{"len(Metrics)", len(a.Metrics), 1},
		{"Metrics[0].Namespace", a.Metrics[0].Namespace, "AWS/EC2"},
		{"Metrics[0].Name", a.Metrics[0].Name, "CPUUtilization"},
		{"Metrics[0].Dimensions[InstanceId]", a.Metrics[0].Dimensions["InstanceId"], "i-0a1b2c3d4e5f60718"},
		{"Metrics[0].Stat", a.Metrics[0].Stat, "Average"},
		{"Metrics[0].Period", a.Metrics[0].Period, 300},
		{"Composite", a.Composite(), false},
	}
	for _, c := range checks {
		if !same(c.got, c.want) {
			t.Errorf("Alarm().%s = %v, want %v", c.field, c.got, c.want)
		}
	}

	comp, err := sample(t, "cloudwatch/alarm-composite.json").Alarm()
	if err != nil {
		t.Fatalf("Alarm(composite): %v", err)
	}
	if !comp.Composite() || comp.AlarmRule != "ALARM(critical-api-5xx-errors) OR ALARM(high-cpu-web-1)" || len(comp.Metrics) != 0 {
		t.Errorf("Alarm(composite) = rule %q, %d metrics, want the alarm rule and no metrics", comp.AlarmRule, len(comp.Metrics))
	}

	ins, err := sample(t, "cloudwatch/alarm-insufficient-data.json").Alarm()
	if err != nil {
		t.Fatalf("Alarm(insufficient): %v", err)
	}
	if ins.State.Value != "INSUFFICIENT_DATA" || ins.PreviousState.Value != "OK" {
		t.Errorf("Alarm(insufficient) = %s -> %s, want OK -> INSUFFICIENT_DATA", ins.PreviousState.Value, ins.State.Value)
	}
}

func TestConfigChange(t *testing.T) {
	c, err := sample(t, "config/configuration-item-change-security-group.json").ConfigChange()
	if err != nil {
		t.Fatalf("ConfigChange: %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"MessageType", c.MessageType, "ConfigurationItemChangeNotification"},
		{"ResourceType", c.ResourceType, "AWS::EC2::SecurityGroup"},
		{"ResourceID", c.ResourceID, "sg-0f3a9c2b7d1e45a60"},
		{"ResourceName", c.ResourceName, "web-sg"},
		{"ARN", c.ARN, "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0f3a9c2b7d1e45a60"},
		{"Status", c.Status, "OK"},
		{"CaptureTime", c.CaptureTime, time.Date(2026, 2, 10, 9, 14, 27, 418e6, time.UTC)},
		{"ChangeType", c.ChangeType, "UPDATE"},
		{"len(Changes)", len(c.Changes), 1},
		{"Changes[0].Path", c.Changes[0].Path, "Configuration.IpPermissions.1"},
		{"Changes[0].ChangeType", c.Changes[0].ChangeType, "CREATE"},
		{"Changes[0].Previous", c.Changes[0].Previous == nil, true},
		{"len(Relationships)", len(c.Relationships), 1},
		{"DiffSummary", c.DiffSummary(), "UPDATE: 1 property changed (Configuration.IpPermissions.1 CREATE)"},
	}
	for _, ch := range checks {
		if !same(ch.got, ch.want) {
			t.Errorf("ConfigChange().%s = %v, want %v", ch.field, ch.got, ch.want)
		}
	}
	s3, err := sample(t, "config/configuration-item-change-s3-bucket.json").ConfigChange()
	if err != nil {
		t.Fatalf("ConfigChange(s3): %v", err)
	}
	if len(s3.Changes) != 2 || s3.Changes[0].Path > s3.Changes[1].Path || string(s3.Changes[0].Updated) != "false" {
		t.Errorf("ConfigChange(s3).Changes = %+v, want two sorted changes to false", s3.Changes)
	}
}

func TestConfigChangeDiffSummary(t *testing.T) {
	tests := []struct {
		name string
		c    event.ConfigChange
		want string
	}{
		{"no diff", event.ConfigChange{}, "no diff"},
		{"delete without properties", event.ConfigChange{ChangeType: "DELETE"}, "DELETE"},
		{"many", event.ConfigChange{ChangeType: "UPDATE", Changes: []event.PropertyChange{
			{Path: "A", ChangeType: "UPDATE"}, {Path: "B", ChangeType: "CREATE"}, {Path: "C", ChangeType: "DELETE"},
			{Path: "D", ChangeType: "UPDATE"}, {Path: "E", ChangeType: "UPDATE"},
		}}, "UPDATE: 5 properties changed (A UPDATE, B CREATE, C DELETE, and 2 more)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.DiffSummary(); got != tt.want {
				t.Errorf("DiffSummary() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigCompliance(t *testing.T) {
	tests := []struct {
		file, rule, rtype, newType, oldType string
	}{
		{"config/compliance-change-non-compliant.json", "restricted-ssh", "AWS::EC2::SecurityGroup", "NON_COMPLIANT", "COMPLIANT"},
		{"config/compliance-change-compliant.json", "s3-bucket-public-read-prohibited", "AWS::S3::Bucket", "COMPLIANT", "NON_COMPLIANT"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := sample(t, tt.file).ConfigCompliance()
			if err != nil {
				t.Fatalf("ConfigCompliance: %v", err)
			}
			if c.RuleName != tt.rule || c.ResourceType != tt.rtype || c.New.ComplianceType != tt.newType ||
				c.Old == nil || c.Old.ComplianceType != tt.oldType || c.New.RecordedTime.IsZero() {
				t.Errorf("ConfigCompliance(%s) = %+v (old %+v), want rule %s, %s, %s was %s", tt.file, c, c.Old, tt.rule, tt.rtype, tt.newType, tt.oldType)
			}
		})
	}
}

func TestViewsWrongKind(t *testing.T) {
	alarm := sample(t, "cloudwatch/alarm-ok.json")
	trail := sample(t, "cloudtrail/stop-logging.json")
	views := []struct {
		name string
		call func() error
	}{
		{"CloudTrail of an alarm", func() error { _, err := alarm.CloudTrail(); return err }},
		{"Alarm of a CloudTrail event", func() error { _, err := trail.Alarm(); return err }},
		{"ConfigChange of an alarm", func() error { _, err := alarm.ConfigChange(); return err }},
		{"ConfigCompliance of an alarm", func() error { _, err := alarm.ConfigCompliance(); return err }},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			if err := v.call(); !errors.Is(err, event.ErrWrongKind) {
				t.Errorf("%s error = %v, want ErrWrongKind", v.name, err)
			}
		})
	}
}

func TestViewsBadDetail(t *testing.T) {
	tests := []struct {
		detailType, detail string
		call               func(*event.Event) error
	}{
		{"AWS API Call via CloudTrail", `{"eventName":7}`, func(e *event.Event) error { _, err := e.CloudTrail(); return err }},
		{"CloudWatch Alarm State Change", `{"state":"ALARM"}`, func(e *event.Event) error { _, err := e.Alarm(); return err }},
		{"Config Configuration Item Change", `{"messageType":"x"}`, func(e *event.Event) error { _, err := e.ConfigChange(); return err }},
		{"Config Rules Compliance Change", `{"newEvaluationResult":[]}`, func(e *event.Event) error { _, err := e.ConfigCompliance(); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.detailType, func(t *testing.T) {
			e, err := event.Parse([]byte(withDetail(tt.detailType, tt.detail)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := tt.call(e); err == nil || errors.Is(err, event.ErrWrongKind) {
				t.Errorf("view of %s with detail %s error = %v, want a decode error", tt.detailType, tt.detail, err)
			}
		})
	}
}

func withDetail(detailType, detail string) string {
	return `{"id":"b","detail-type":"` + detailType + `","source":"aws.x","account":"1","time":"2026-01-01T00:00:00Z","region":"r","detail":` + detail + `}`
}

// same compares test values, times by the instant they name.
func same(got, want any) bool {
	if g, ok := got.(time.Time); ok {
		w, ok := want.(time.Time)
		return ok && g.Equal(w)
	}
	return got == want
}
