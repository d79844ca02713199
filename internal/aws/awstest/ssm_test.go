package awstest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

func newSSM(t *testing.T) (*awstest.SSM, *ssm.Client) {
	t.Helper()
	srv := awstest.NewSSM()
	t.Cleanup(srv.Close)
	// One attempt: these tests look at single responses.
	return srv, srv.Client(func(o *ssm.Options) { o.RetryMaxAttempts = 1 })
}

func createInput(dedup string) *ssm.CreateOpsItemInput {
	in := &ssm.CreateOpsItemInput{
		Title: aws.String("t"), Description: aws.String("d"), Source: aws.String("opsloop"),
		OperationalData: map[string]types.OpsItemDataValue{},
	}
	if dedup != "" {
		in.OperationalData["/aws/dedup"] = types.OpsItemDataValue{Type: types.OpsItemDataTypeSearchableString, Value: aws.String(`{"dedupString":"` + dedup + `"}`)}
	}
	return in
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestCreateOpsItemValidation(t *testing.T) {
	long := func(n int) *string { return aws.String(strings.Repeat("a", n)) }
	data := func(k, v string) func(*ssm.CreateOpsItemInput) {
		return func(in *ssm.CreateOpsItemInput) {
			in.OperationalData[k] = types.OpsItemDataValue{Type: types.OpsItemDataTypeString, Value: aws.String(v)}
		}
	}
	goods := []struct {
		name   string
		change func(*ssm.CreateOpsItemInput)
	}{
		{"minimal", func(*ssm.CreateOpsItemInput) {}},
		{"longest title", func(in *ssm.CreateOpsItemInput) { in.Title = long(awstest.MaxTitle) }},
		{"longest description in characters", func(in *ssm.CreateOpsItemInput) {
			in.Description = aws.String(strings.Repeat("é", awstest.MaxDescription))
		}},
		{"severity 4, priority 5", func(in *ssm.CreateOpsItemInput) { in.Severity, in.Priority = aws.String("4"), aws.Int32(5) }},
		{"system keys", func(in *ssm.CreateOpsItemInput) {
			data("/aws/resources", `[{"arn":"arn:aws:s3:::b"}]`)(in)
			data("/aws/automations", `[{"automationId":"AWS-RestartEC2Instance","automationType":"AWS::SSM::Automation"}]`)(in)
		}},
		{"largest data value", data("opsloop:v", strings.Repeat("v", awstest.MaxDataValue))},
		{"ten related", func(in *ssm.CreateOpsItemInput) {
			for i := range awstest.MaxRelatedOpsItems {
				in.RelatedOpsItems = append(in.RelatedOpsItems, types.RelatedOpsItem{OpsItemId: aws.String(fmt.Sprintf("oi-%012x", i))})
			}
		}},
	}
	bads := []struct {
		name   string
		change func(*ssm.CreateOpsItemInput)
		code   string
	}{
		{"title too long", func(in *ssm.CreateOpsItemInput) { in.Title = long(awstest.MaxTitle + 1) }, "ValidationException"},
		{"blank title", func(in *ssm.CreateOpsItemInput) { in.Title = aws.String(" \n") }, "ValidationException"},
		{"empty description", func(in *ssm.CreateOpsItemInput) { in.Description = aws.String("") }, "ValidationException"},
		{"description too long", func(in *ssm.CreateOpsItemInput) { in.Description = long(awstest.MaxDescription + 1) }, "ValidationException"},
		{"source too long", func(in *ssm.CreateOpsItemInput) { in.Source = long(awstest.MaxSource + 1) }, "ValidationException"},
		{"source with amazon", func(in *ssm.CreateOpsItemInput) { in.Source = aws.String("Amazon-thing") }, "OpsItemInvalidParameterException"},
		{"severity 0", func(in *ssm.CreateOpsItemInput) { in.Severity = aws.String("0") }, "OpsItemInvalidParameterException"},
		{"severity high", func(in *ssm.CreateOpsItemInput) { in.Severity = aws.String("high") }, "OpsItemInvalidParameterException"},
		{"priority 0", func(in *ssm.CreateOpsItemInput) { in.Priority = aws.Int32(0) }, "ValidationException"},
		{"priority 6", func(in *ssm.CreateOpsItemInput) { in.Priority = aws.Int32(6) }, "ValidationException"},
		{"category too long", func(in *ssm.CreateOpsItemInput) { in.Category = long(awstest.MaxCategory + 1) }, "ValidationException"},
		{"key aws", data("awsKey", "x"), "OpsItemInvalidParameterException"},
		{"key /ssm", data("/ssm/x", "x"), "OpsItemInvalidParameterException"},
		{"key Amzn", data("Amzn.x", "x"), "OpsItemInvalidParameterException"},
		{"key /aws/other", data("/aws/other", "x"), "OpsItemInvalidParameterException"},
		{"key too long", data(strings.Repeat("k", awstest.MaxDataKey+1), "x"), "ValidationException"},
		{"value too large", data("opsloop:v", strings.Repeat("v", awstest.MaxDataValue+1)), "OpsItemInvalidParameterException"},
		{"dedup without dedupString", data("/aws/dedup", `{"dedup":"x"}`), "OpsItemInvalidParameterException"},
		{"resources not a list", data("/aws/resources", `{"arn":"arn:aws:s3:::b"}`), "OpsItemInvalidParameterException"},
		{"too many resources", data("/aws/resources", "["+strings.Repeat(`{"arn":"arn:aws:s3:::b"},`, awstest.MaxRelatedResources)+`{"arn":"arn:aws:s3:::c"}]`), "OpsItemInvalidParameterException"},
		{"automation without type", data("/aws/automations", `[{"automationId":"X"}]`), "OpsItemInvalidParameterException"},
		{"eleven related", func(in *ssm.CreateOpsItemInput) {
			for i := range awstest.MaxRelatedOpsItems + 1 {
				in.RelatedOpsItems = append(in.RelatedOpsItems, types.RelatedOpsItem{OpsItemId: aws.String(fmt.Sprintf("oi-%012x", i))})
			}
		}, "OpsItemInvalidParameterException"},
		{"notification not an ARN", func(in *ssm.CreateOpsItemInput) {
			in.Notifications = []types.OpsItemNotification{{Arn: aws.String("topic")}}
		}, "OpsItemInvalidParameterException"},
		{"change request type", func(in *ssm.CreateOpsItemInput) { in.OpsItemType = aws.String("/aws/changerequest") }, "OpsItemInvalidParameterException"},
	}
	ctx := context.Background()
	for _, g := range goods {
		t.Run(g.name, func(t *testing.T) {
			_, client := newSSM(t)
			in := createInput("")
			g.change(in)
			if _, err := client.CreateOpsItem(ctx, in); err != nil {
				t.Errorf("CreateOpsItem(%s) = %v, want success", g.name, err)
			}
		})
	}
	for _, b := range bads {
		t.Run(b.name, func(t *testing.T) {
			srv, client := newSSM(t)
			in := createInput("")
			b.change(in)
			_, err := client.CreateOpsItem(ctx, in)
			if got := errorCode(err); got != b.code {
				t.Errorf("CreateOpsItem(%s) = %v, want %s", b.name, err, b.code)
			}
			if n := len(srv.OpsItems()); n != 0 {
				t.Errorf("CreateOpsItem(%s) stored %d OpsItems, want 0", b.name, n)
			}
		})
	}
}

func TestOpsItemLifecycle(t *testing.T) {
	ctx := context.Background()
	srv, client := newSSM(t)
	out, err := client.CreateOpsItem(ctx, createInput("Fp-1"))
	if err != nil {
		t.Fatalf("CreateOpsItem = %v", err)
	}
	id := aws.ToString(out.OpsItemId)
	_, err = client.CreateOpsItem(ctx, createInput("fp-1"))
	var exists *types.OpsItemAlreadyExistsException
	if !errors.As(err, &exists) || aws.ToString(exists.OpsItemId) != id {
		t.Fatalf("CreateOpsItem(duplicate) = %v, want OpsItemAlreadyExistsException with OpsItemId %s", err, id)
	}
	steps := []struct {
		name string
		in   *ssm.UpdateOpsItemInput
		code string
	}{
		{"in progress", &ssm.UpdateOpsItemInput{OpsItemId: aws.String(id), Status: types.OpsItemStatusInProgress}, ""},
		{"bad status", &ssm.UpdateOpsItemInput{OpsItemId: aws.String(id), Status: "Done"}, "ValidationException"},
		{"bad id", &ssm.UpdateOpsItemInput{OpsItemId: aws.String("oi-1")}, "ValidationException"},
		{"unknown id", &ssm.UpdateOpsItemInput{OpsItemId: aws.String("oi-00000000ffff")}, "OpsItemNotFoundException"},
		{"dedup changed", &ssm.UpdateOpsItemInput{OpsItemId: aws.String(id), OperationalData: map[string]types.OpsItemDataValue{
			"/aws/dedup": {Value: aws.String(`{"dedupString":"other"}`)}}}, "OpsItemInvalidParameterException"},
		{"data added and deleted", &ssm.UpdateOpsItemInput{OpsItemId: aws.String(id),
			OperationalData:         map[string]types.OpsItemDataValue{"opsloop:n": {Type: types.OpsItemDataTypeString, Value: aws.String("2")}},
			OperationalDataToDelete: []string{"opsloop:gone"}}, ""},
	}
	for _, s := range steps {
		_, err := client.UpdateOpsItem(ctx, s.in)
		if got := errorCode(err); got != s.code {
			t.Errorf("UpdateOpsItem(%s) = %v, want %q", s.name, err, s.code)
		}
	}
	// Still open (InProgress): dedup holds.
	if _, err := client.CreateOpsItem(ctx, createInput("fp-1")); !errors.As(err, &exists) {
		t.Errorf("CreateOpsItem(duplicate of InProgress) = %v, want OpsItemAlreadyExistsException", err)
	}
	if _, err := client.UpdateOpsItem(ctx, &ssm.UpdateOpsItemInput{OpsItemId: aws.String(id), Status: types.OpsItemStatusResolved}); err != nil {
		t.Fatalf("UpdateOpsItem(Resolved) = %v", err)
	}
	got, err := client.GetOpsItem(ctx, &ssm.GetOpsItemInput{OpsItemId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetOpsItem = %v", err)
	}
	if it := got.OpsItem; it.Status != types.OpsItemStatusResolved || aws.ToString(it.OperationalData["opsloop:n"].Value) != "2" ||
		aws.ToString(it.Version) != "4" || it.CreatedTime == nil || aws.ToString(it.OpsItemArn) == "" {
		t.Errorf("GetOpsItem = %+v, want Resolved, opsloop:n 2, version 4 (three updates)", it)
	}
	if _, err := client.CreateOpsItem(ctx, createInput("fp-1")); err != nil {
		t.Errorf("CreateOpsItem(duplicate of a resolved OpsItem) = %v, want a new OpsItem", err)
	}
	if n := len(srv.OpsItems()); n != 2 {
		t.Errorf("OpsItems = %d, want 2", n)
	}
}

func TestDescribeOpsItemsPages(t *testing.T) {
	ctx := context.Background()
	srv, client := newSSM(t)
	for i := range 7 {
		if _, err := client.CreateOpsItem(ctx, createInput(fmt.Sprintf("fp-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	pages := ssm.NewDescribeOpsItemsPaginator(client, &ssm.DescribeOpsItemsInput{MaxResults: aws.Int32(3)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeOpsItems page = %v", err)
		}
		for _, s := range page.OpsItemSummaries {
			ids = append(ids, aws.ToString(s.OpsItemId))
		}
	}
	var want []string
	for _, it := range srv.OpsItems() {
		want = append(want, it.ID)
	}
	if !slices.Equal(ids, want) || srv.Calls("DescribeOpsItems") != 3 {
		t.Errorf("DescribeOpsItems pages = %v in %d calls, want %v in 3", ids, srv.Calls("DescribeOpsItems"), want)
	}
	bads := []*ssm.DescribeOpsItemsInput{
		{MaxResults: aws.Int32(51)},
		{NextToken: aws.String("bogus")},
		{OpsItemFilters: []types.OpsItemFilter{{Key: types.OpsItemFilterKeyAutomationId, Operator: types.OpsItemFilterOperatorEqual, Values: []string{"x"}}}},
		{OpsItemFilters: []types.OpsItemFilter{{Key: types.OpsItemFilterKeyStatus, Operator: types.OpsItemFilterOperatorGreaterThan, Values: []string{"x"}}}},
	}
	for i, in := range bads {
		if _, err := client.DescribeOpsItems(ctx, in); err == nil {
			t.Errorf("DescribeOpsItems(bad %d) succeeded, want an error", i)
		}
	}
}

func TestGetParametersByPath(t *testing.T) {
	ctx := context.Background()
	srv, client := newSSM(t)
	for _, p := range []struct{ name, typ, value string }{
		{"/app/a", "String", "1"},
		{"/app/b", "SecureString", "secret"},
		{"/app/sub/c", "StringList", "x,y"},
		{"/apple/d", "String", "not under /app"},
	} {
		if err := srv.SetParameter(p.name, p.typ, p.value); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		in        ssm.GetParametersByPathInput
		want      []string // name=value
		wantError string
	}{
		{"one level", ssm.GetParametersByPathInput{Path: aws.String("/app"), WithDecryption: aws.Bool(true)}, []string{"/app/a=1", "/app/b=secret"}, ""},
		{"recursive", ssm.GetParametersByPathInput{Path: aws.String("/app/"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)},
			[]string{"/app/a=1", "/app/b=secret", "/app/sub/c=x,y"}, ""},
		{"encrypted", ssm.GetParametersByPathInput{Path: aws.String("/app")}, []string{"/app/a=1", "/app/b=YXdzdGVzdC1rbXMtY2lwaGVydGV4dDpzZWNyZXQ="}, ""},
		{"root", ssm.GetParametersByPathInput{Path: aws.String("/"), Recursive: aws.Bool(true), MaxResults: aws.Int32(1), WithDecryption: aws.Bool(true)},
			[]string{"/app/a=1", "/app/b=secret", "/app/sub/c=x,y", "/apple/d=not under /app"}, ""},
		{"no slash", ssm.GetParametersByPathInput{Path: aws.String("app")}, nil, "ValidationException"},
		{"max results 11", ssm.GetParametersByPathInput{Path: aws.String("/app"), MaxResults: aws.Int32(11)}, nil, "ValidationException"},
		{"bad token", ssm.GetParametersByPathInput{Path: aws.String("/app"), NextToken: aws.String("x")}, nil, "InvalidNextToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			in := tt.in
			pages := ssm.NewGetParametersByPathPaginator(client, &in)
			var err error
			for pages.HasMorePages() {
				var page *ssm.GetParametersByPathOutput
				if page, err = pages.NextPage(ctx); err != nil {
					break
				}
				for _, p := range page.Parameters {
					got = append(got, aws.ToString(p.Name)+"="+aws.ToString(p.Value))
				}
			}
			if code := errorCode(err); code != tt.wantError || !slices.Equal(got, tt.want) {
				t.Errorf("GetParametersByPath(%s) = %v, %v, want %v, %q", tt.name, got, err, tt.want, tt.wantError)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	srv := awstest.NewSSM()
	defer srv.Close()
	tests := []struct {
		name, target, contentType, auth string
		wantStatus                      int
		wantType                        string
	}{
		{"unsigned", "AmazonSSM.GetOpsItem", "application/x-amz-json-1.1", "", 400, "MissingAuthenticationTokenException"},
		{"signed for another service", "AmazonSSM.GetOpsItem", "application/x-amz-json-1.1", "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/events/aws4_request", 400, "MissingAuthenticationTokenException"},
		{"wrong content type", "AmazonSSM.GetOpsItem", "application/json", "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ssm/aws4_request", 400, "SerializationException"},
		{"unknown operation", "AmazonSSM.DeleteOpsItem", "application/x-amz-json-1.1", "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ssm/aws4_request", 400, "UnknownOperationException"},
		{"other service's target", "AWSEvents.PutEvents", "application/x-amz-json-1.1", "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ssm/aws4_request", 400, "UnknownOperationException"},
		{"bad JSON", "AmazonSSM.GetOpsItem", "application/x-amz-json-1.1", "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ssm/aws4_request", 400, "SerializationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"OpsItemId":"oi-000000000001"}`
			if tt.name == "bad JSON" {
				body = `{"OpsItemId":`
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader(body))
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Content-Type", tt.contentType)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			buf := make([]byte, 512)
			n, _ := resp.Body.Read(buf)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(buf[:n]), `"__type":"`+tt.wantType+`"`) {
				t.Errorf("%s: %s %s, want %d %s", tt.name, resp.Status, buf[:n], tt.wantStatus, tt.wantType)
			}
		})
	}
}
