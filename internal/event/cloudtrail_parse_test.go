package event_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/repotest"
	"github.com/opsloop/opsloop/internal/trailgen"
)

// sameEvent reports how got differs from want, "" when it does not.
func sameEvent(got, want *event.Event) string {
	switch {
	case got.Version != want.Version, got.ID != want.ID, got.DetailType != want.DetailType, got.Source != want.Source,
		got.Account != want.Account, got.Region != want.Region:
		return "envelope"
	case !got.Time.Equal(want.Time) || got.Time.Location().String() != want.Time.Location().String():
		return "time"
	case !slices.Equal(got.Resources, want.Resources) || (got.Resources == nil) != (want.Resources == nil):
		return "resources"
	case string(got.Detail) != string(want.Detail):
		return "detail"
	case string(got.Raw) != string(want.Raw):
		return "raw"
	}
	for _, path := range []string{"source", "detail.eventName", "detail.userIdentity.arn", "detail.requestParameters"} {
		if !slices.Equal(got.Values(path), want.Values(path)) {
			return "Values(" + path + ")"
		}
	}
	return ""
}

// checkParseCloudTrailRecord holds ParseCloudTrailRecord to
// Parse(FromCloudTrailRecord(record)): the same event, or both failing; and
// for valid JSON, ParseValidCloudTrailRecord to ParseCloudTrailRecord.
func checkParseCloudTrailRecord(t *testing.T, record []byte) {
	t.Helper()
	got, err := event.ParseCloudTrailRecord(record)
	if json.Valid(record) {
		fast, ferr := event.ParseValidCloudTrailRecord(record)
		switch {
		case (err == nil) != (ferr == nil):
			t.Fatalf("ParseValidCloudTrailRecord(%.80q) error = %v, ParseCloudTrailRecord error = %v", record, ferr, err)
		case err != nil:
			if err.Error() != ferr.Error() {
				t.Fatalf("ParseValidCloudTrailRecord(%.80q) error = %q, want %q", record, ferr, err)
			}
		default:
			if diff := sameEvent(fast, got); diff != "" {
				t.Fatalf("ParseValidCloudTrailRecord(%.80q) differs from ParseCloudTrailRecord in %s:\n got %+v\nwant %+v", record, diff, fast, got)
			}
		}
	}
	out, cerr := event.FromCloudTrailRecord(record)
	var want *event.Event
	if cerr == nil {
		want, cerr = event.Parse(out)
	}
	switch {
	case (err == nil) != (cerr == nil):
		t.Fatalf("ParseCloudTrailRecord(%.80q) error = %v, Parse(FromCloudTrailRecord) error = %v", record, err, cerr)
	case err != nil:
		if err.Error() != cerr.Error() {
			t.Fatalf("ParseCloudTrailRecord(%.80q) error = %q, want %q", record, err, cerr)
		}
	default:
		if diff := sameEvent(got, want); diff != "" {
			t.Fatalf("ParseCloudTrailRecord(%.80q) differs from Parse(FromCloudTrailRecord) in %s:\n got %+v\nwant %+v", record, diff, got, want)
		}
	}
}

var cloudTrailRecordCases = []struct{ name, record string }{
	{"api call", `{"eventVersion":"1.10","eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","eventID":"e-1","recipientAccountId":"123456789012"}`},
	{"whitespace kept out", " \n{ \"eventTime\": \"2026-03-01T10:00:00+02:00\", \"eventSource\": \"s3.amazonaws.com\", \"awsRegion\": \"us-east-1\", \"eventID\": \"e-2\", \"userIdentity\": {\"accountId\": \"111111111111\"} }\n"},
	{"derived id", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","awsRegion":"us-east-1","recipientAccountId":"1"}`},
	{"console sign-in", `{"eventType":"AwsConsoleSignIn","eventTime":"2026-03-01T10:00:00Z","eventSource":"signin.amazonaws.com","awsRegion":"us-east-1","eventID":"e-3","recipientAccountId":"1","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/?a=1&b=2"}}`},
	{"escapes in strings", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e\"4\u2028<>","recipientAccountId":"1"}`},
	{"blank id", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"  ","recipientAccountId":"1"}`},
	{"blank region", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":" ","eventID":"e-5","recipientAccountId":"1"}`},
	{"blank account", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-6","recipientAccountId":"\t"}`},
	{"missing time", `{"eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-7","recipientAccountId":"1"}`},
	{"bad time", `{"eventTime":"yesterday","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-8","recipientAccountId":"1"}`},
	{"not an object", `[1]`},
	{"not JSON", `{"eventTime":`},
	{"key in another case", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","EventID":"e-9","recipientAccountId":"1"}`},
	{"repeated key", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-10","eventID":"e-11","recipientAccountId":"1"}`},
	{"escaped key", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","event\u0049D":"e-12","recipientAccountId":"1"}`},
	{"number id", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":12,"recipientAccountId":"1"}`},
	{"null fields", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":null,"eventType":null,"recipientAccountId":null,"userIdentity":{"accountId":"2"}}`},
	{"identity null", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-13","userIdentity":null}`},
	{"identity a string", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-14","userIdentity":"x"}`},
	{"identity account twice", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-15","userIdentity":{"accountId":"3","AccountID":"4","x":[1,{"y":null}]}}`},
	{"identity account escaped", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-16","userIdentity":{"accountId":"\u0035"}}`},
	{"nested values", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-17","recipientAccountId":"1","requestParameters":{"a":[[],{},[1,-2.5e3,true,false,null,"s\"]"]],"b":{"c":{"d":[{"e":"}"}]}}}}`},
	{"nested too deep", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-18","recipientAccountId":"1","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`},
	{"spaces inside", "{\"eventTime\" : \"2026-03-01T10:00:00Z\",\"eventSource\":\"kms.amazonaws.com\",\"awsRegion\":\"us-east-1\",\"eventID\":\"e-19\",\"recipientAccountId\":\"1\",\"x\":[ 1 , { } ]}"},
	{"invalid UTF-8 in a field read", "{\"eventType\":\"\xe7\"}"},
	{"key folding to another", `{"eventTime":"2026-03-01T10:00:00Z","eventſource":"kms.amazonaws.com","awsRegion":"us-east-1","eventID":"e-20","recipientAccountId":"1"}`},
	{"invalid UTF-8", "{\"eventTime\":\"2026-03-01T10:00:00Z\",\"eventSource\":\"kms.amazonaws.com\",\"awsRegion\":\"us-east-1\",\"eventID\":\"\xff\",\"recipientAccountId\":\"1\"}"},
}

func TestParseCloudTrailRecord(t *testing.T) {
	for _, tt := range cloudTrailRecordCases {
		t.Run(tt.name, func(t *testing.T) {
			checkParseCloudTrailRecord(t, []byte(tt.record))
		})
	}
	t.Run("shared records", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(repotest.Shared(t), "events", "cloudtrail-records", "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no CloudTrail records in the shared fixtures: %v", err)
		}
		for _, f := range files {
			checkParseCloudTrailRecord(t, readFile(t, f))
		}
	})
	t.Run("generated records", func(t *testing.T) {
		g := trailgen.New(5, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
		for range 500 {
			rec, err := json.Marshal(g.Record())
			if err != nil {
				t.Fatal(err)
			}
			checkParseCloudTrailRecord(t, rec)
		}
	})
}

// FuzzParseCloudTrailRecord checks ParseCloudTrailRecord against
// Parse(FromCloudTrailRecord) on any input.
func FuzzParseCloudTrailRecord(f *testing.F) {
	for _, tt := range cloudTrailRecordCases {
		f.Add([]byte(tt.record))
	}
	f.Fuzz(func(t *testing.T, record []byte) {
		checkParseCloudTrailRecord(t, record)
	})
}
