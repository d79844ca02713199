package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/opsloop/opsloop/internal/repotest"
)

// cloudTrailViewCases are details the scan reads and those it declines.
var cloudTrailViewCases = []string{
	`{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:bob","arn":"arn:aws:sts::1:assumed-role/r/bob","accountId":"1","accessKeyId":"ASIA","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA","arn":"arn:aws:iam::1:role/r","accountId":"1","userName":"r"},"attributes":{"creationDate":"2026-03-01T10:00:00Z","mfaAuthenticated":"true"}}},"eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"cli","requestParameters":{"a": [1, 2]},"responseElements":null,"readOnly":false,"resources":[{"ARN":"arn:aws:ec2:eu-west-1:1:instance/i-1","accountId":"1","type":"AWS::EC2::Instance"},null],"eventType":"AwsApiCall","recipientAccountId":"1","eventID":"e-1"}`,
	` { "eventName" : "ConsoleLogin" , "readOnly" : "TRUE", "responseElements": {"ConsoleLogin": "Failure"}, "additionalEventData": {"MFAUsed": "Yes"}, "resources": [] } `,
	`{"userIdentity":null,"resources":null,"readOnly":null,"errorCode":null}`,
	`{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":true}}}}`,
	`{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":null}}}}`,
	`{"readOnly":{"no":"idea"},"requestParameters":"text"}`,
	`{"responseElements":{"consoleLogin":"Success"}}`, // case-folded: encoding/json reads it
	`{"responseElements":{"ConsoleLogin":1}}`,         // not a string: an error, nothing read
	`{"responseElements":["ConsoleLogin"]}`,           // not an object
	`{"additionalEventData":{"MFAUsed":"y\u0065s"}}`,  // an escape
	`{"EventName":"RunInstances"}`,                    // case-folded key
	`{"eventName":"A","eventName":"B"}`,               // repeated: the last wins
	`{"eventName":"caf\u00e9"}`,                       // an escape
	`{"eventName":5}`,                                 // a type error
	`{"userIdentity":"root"}`,                         // a type error
	`{"resources":[{"arn":"x"}]}`,                     // case-folded key in an element
	`{"resources":["x"]}`,                             // a type error
	`{"resources":{}}`,                                // a type error
	`{"userIdentity":{"ſessionContext":{}}}`,          // folds to sessionContext
	"{\"eventName\":\"\xff\"}",                        // invalid UTF-8: replaced by encoding/json
	`null`,
}

func checkCloudTrailView(t *testing.T, detail []byte) {
	t.Helper()
	if !json.Valid(detail) {
		return // the event's parse checked the detail
	}
	var want cloudTrailJSON
	wantErr := json.Unmarshal(detail, &want)
	if got, ok := scanCloudTrailView(detail); ok {
		if wantErr != nil {
			t.Fatalf("scan read %q, encoding/json refuses it: %v", detail, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scan of %q =\n%+v\nencoding/json:\n%+v", detail, got, want)
		}
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(detail, &members) != nil {
		return
	}
	for _, member := range members {
		var c consoleLoginJSON
		if json.Unmarshal(member, &c) != nil {
			c.ConsoleLogin = ""
		}
		if got := stringMember(member, "ConsoleLogin", func(r *consoleLoginJSON) *string { return &r.ConsoleLogin }); got != c.ConsoleLogin {
			t.Fatalf("stringMember(%q, ConsoleLogin) = %q, encoding/json %q", member, got, c.ConsoleLogin)
		}
		var m mfaUsedJSON
		if json.Unmarshal(member, &m) != nil {
			m.MFAUsed = ""
		}
		if got := stringMember(member, "MFAUsed", func(r *mfaUsedJSON) *string { return &r.MFAUsed }); got != m.MFAUsed {
			t.Fatalf("stringMember(%q, MFAUsed) = %q, encoding/json %q", member, got, m.MFAUsed)
		}
	}
}

// TestCloudTrailViewScan: the scan reads what encoding/json reads, on the
// cases above and the detail of every CloudTrail sample; it reads the
// samples itself rather than declining them.
func TestCloudTrailViewScan(t *testing.T) {
	for _, c := range cloudTrailViewCases {
		checkCloudTrailView(t, []byte(c))
	}
	if _, ok := scanCloudTrailView([]byte(cloudTrailViewCases[0])); !ok {
		t.Errorf("the scan declined a plain CloudTrail detail")
	}
	files, _ := filepath.Glob(filepath.Join(repotest.Root(t), "events-samples", "*", "*.json"))
	samples, read := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			DetailType string `json:"detail-type"`
			Detail     json.RawMessage
		}
		if json.Unmarshal(data, &ev) != nil || !isCloudTrailType(ev.DetailType) {
			continue
		}
		samples++
		checkCloudTrailView(t, ev.Detail)
		if _, ok := scanCloudTrailView(ev.Detail); ok {
			read++
		}
	}
	if samples < 20 || read*10 < samples*9 {
		t.Errorf("the scan read %d of %d CloudTrail samples' details, want nine in ten at least", read, samples)
	}
	t.Logf("the scan read %d of %d CloudTrail samples' details", read, samples)
}

// FuzzCloudTrailView holds the scan to encoding/json on any valid detail.
func FuzzCloudTrailView(f *testing.F) {
	for _, c := range cloudTrailViewCases {
		f.Add([]byte(c))
	}
	f.Fuzz(checkCloudTrailView)
}
