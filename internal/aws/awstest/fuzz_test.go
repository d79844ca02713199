package awstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequests sends arbitrary bodies to every operation: the endpoints
// must answer each with 200 or a 4xx whose body names the error, never
// panic or fail as a server would.
func FuzzRequests(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"AmazonSSM.CreateOpsItem", `{"Title":"t","Description":"d","Source":"s","OperationalData":{"/aws/dedup":{"Type":"SearchableString","Value":"{\"dedupString\":\"x\"}"}}}`},
		{"AmazonSSM.CreateOpsItem", `{"Title":"t","Description":"d","Source":"s","Priority":9,"RelatedOpsItems":[{}],"Notifications":[{}]}`},
		{"AmazonSSM.UpdateOpsItem", `{"OpsItemId":"oi-000000000001","Status":"Resolved","OperationalDataToDelete":["a"]}`},
		{"AmazonSSM.GetOpsItem", `{"OpsItemId":"oi-000000000001"}`},
		{"AmazonSSM.DescribeOpsItems", `{"OpsItemFilters":[{"Key":"OperationalData","Values":["{\"key\":\"k\",\"value\":\"v\"}"],"Operator":"Equal"}],"MaxResults":1,"NextToken":"YXdzdGVzdDox"}`},
		{"AmazonSSM.GetParametersByPath", `{"Path":"/a","Recursive":true,"MaxResults":1,"NextToken":"YXdzdGVzdDotMQ=="}`},
		{"AWSEvents.PutEvents", `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}","Time":1.5e9,"Resources":["r"]}]}`},
		{"AWSEvents.PutEvents", `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}","Time":-1e300}]}`},
		{"AmazonSSM.CreateOpsItem", `null`},
		{"AWSEvents.PutEvents", `[]`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.body)
	}
	ssm, events := NewSSM(), NewEvents()
	defer ssm.Close()
	defer events.Close()
	_ = ssm.SetParameter("/a/b", "SecureString", "v")
	f.Fuzz(func(t *testing.T, op, body string) {
		ep := ssm.ep
		if strings.HasPrefix(op, "AWSEvents.") {
			ep = events.ep
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/"+ep.signing+"/aws4_request")
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("%s %q: status %d", op, body, rec.Code)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q: response %q is not a JSON object: %v", op, body, rec.Body.String(), err)
		}
		if _, ok := out["__type"]; ok != (rec.Code != http.StatusOK) {
			t.Fatalf("%s %q: status %d with body %s", op, body, rec.Code, rec.Body.String())
		}
	})
}
