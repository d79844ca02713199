package sqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/aws/sqs"
)

// fast reads the queue with short polls: the local endpoint answers from
// one place, so an empty short poll means an empty queue.
var fast = sqs.Options{Wait: time.Millisecond}

func event(source, detailType string, n int) string {
	return fmt.Sprintf(`{"version":"0","id":"e-%d","detail-type":%q,"source":%q,"account":"123456789012","time":"2026-03-01T12:%02d:00Z","region":"us-east-1","resources":["arn:aws:ssm:us-east-1:123456789012:opsitem/oi-%d"],"detail":{"n":%d}}`,
		n, detailType, source, n%60, n, n)
}

// noRetries keeps the SDK from absorbing injected faults.
func noRetries(o *awssqs.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 1 })
}

// poison fills the DLQ of queue work through its redrive policy: each
// message is received twice from work without being deleted.
func poison(t *testing.T, srv *awstest.SQS, client *awssqs.Client, bodies []string) (src, dlq string) {
	t.Helper()
	dlq, _ = srv.CreateQueue("work-dlq", nil)
	src, err := srv.CreateQueue("work", map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + awstest.QueueARN("work-dlq") + `","maxReceiveCount":1}`})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		if _, err := srv.Send("work", b, map[string]awstest.MessageAttribute{"kind": {DataType: "String", StringValue: "signal"}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		for {
			out, err := client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				break
			}
		}
		srv.Advance(2 * time.Second)
	}
	if n := len(srv.Messages("work-dlq")); n != len(bodies) {
		t.Fatalf("DLQ holds %d messages after poisoning, want %d", n, len(bodies))
	}
	return src, dlq
}

func bodies(ms []awstest.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Body)
	}
	slices.Sort(out)
	return out
}

func TestRedriveToSourceQueue(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSQS()
	defer srv.Close()
	client := srv.Client()
	var want []string
	for i := range 25 {
		want = append(want, event("opsloop", "Incident Detected", i))
	}
	slices.Sort(want)
	src, dlq := poison(t, srv, client, want)

	got, err := sqs.SourceQueue(ctx, client, dlq)
	if err != nil || got != src {
		t.Fatalf("SourceQueue(dlq) = %q, %v, want %q", got, err, src)
	}
	rep, err := sqs.Run(ctx, client, dlq, sqs.ToQueue(client, src), fast)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if rep.Seen != 25 || rep.Moved != 25 || rep.Failed != 0 {
		t.Errorf("Run = seen %d, moved %d, failed %d, want 25, 25, 0", rep.Seen, rep.Moved, rep.Failed)
	}
	if len(rep.Waiting) != 1 || rep.Waiting[0] != (sqs.Group{Source: "opsloop", DetailType: "Incident Detected", Origin: "sqs", Count: 25}) {
		t.Errorf("Waiting = %+v, want 25 Incident Detected from sqs", rep.Waiting)
	}
	if rep.Oldest.IsZero() || rep.Newest.Before(rep.Oldest) {
		t.Errorf("Oldest, Newest = %s, %s", rep.Oldest, rep.Newest)
	}
	if n := len(srv.Messages("work-dlq")); n != 0 {
		t.Errorf("DLQ holds %d messages after the redrive, want 0", n)
	}
	back := srv.Messages("work")
	if got := bodies(back); !slices.Equal(got, want) {
		t.Errorf("source queue holds %d messages, want the 25 originals", len(got))
	}
	if a := back[0].Attributes["kind"]; a.StringValue != "signal" {
		t.Errorf("redriven message attributes = %+v, want the producer's", back[0].Attributes)
	}
}

func TestRedriveUnderFaults(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSQS()
	defer srv.Close()
	client := srv.Client(noRetries)
	var want []string
	for i := range 40 {
		want = append(want, event("opsloop", "Incident Detected", i))
	}
	slices.Sort(want)
	src, dlq := poison(t, srv, srv.Client(), want)

	// A third of the sends fail; every deletion fails once in a while too.
	srv.Faults.SetRate(0.3, 7, []awstest.Fault{awstest.Throttling, awstest.HTTP503}, "SendMessage", "DeleteMessage")
	first, err := sqs.Run(ctx, client, dlq, sqs.ToQueue(client, src), fast)
	if err != nil {
		t.Fatalf("Run under faults = %v", err)
	}
	if first.Failed == 0 || first.Moved == 0 || first.Seen != 40 || first.Moved+first.Failed != 40 {
		t.Fatalf("Run under faults = seen %d, moved %d, failed %d, want 40 seen, some moved, some failed", first.Seen, first.Moved, first.Failed)
	}
	sentNotDeleted := 0
	for _, f := range first.Failures {
		if f.Sent {
			sentNotDeleted++
		}
	}
	if left := len(srv.Messages("work-dlq")); left != first.Failed+sentNotDeleted {
		t.Errorf("DLQ holds %d after the run, want the %d failed and %d not deleted", left, first.Failed, sentNotDeleted)
	}
	srv.Faults.Reset()
	second, err := sqs.Run(ctx, client, dlq, sqs.ToQueue(client, src), fast)
	if err != nil || second.Failed != 0 || second.Moved != first.Failed+sentNotDeleted {
		t.Fatalf("second Run = %+v, %v, want the rest moved", second, err)
	}
	if n := len(srv.Messages("work-dlq")); n != 0 {
		t.Errorf("DLQ holds %d after the second run, want 0", n)
	}
	// Nothing lost; only the messages sent but not deleted came twice.
	got := bodies(srv.Messages("work"))
	if len(got) != 40+sentNotDeleted {
		t.Errorf("source queue holds %d messages, want %d", len(got), 40+sentNotDeleted)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Fatalf("message %s lost", w[:40])
		}
	}
}

func TestRedriveDryRunAndMax(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSQS()
	defer srv.Close()
	client := srv.Client()
	dlq, _ := srv.CreateQueue("classifier-dlq", nil)
	lambdaErr := map[string]awstest.MessageAttribute{
		"RequestID":    {DataType: "String", StringValue: "r-1"},
		"ErrorCode":    {DataType: "Number", StringValue: "200"},
		"ErrorMessage": {DataType: "String", StringValue: "classify event: ThrottlingException"},
	}
	bridgeErr := map[string]awstest.MessageAttribute{
		"RULE_ARN":      {DataType: "String", StringValue: "arn:aws:events:us-east-1:123456789012:rule/Route1"},
		"TARGET_ARN":    {DataType: "String", StringValue: "arn:aws:lambda:us-east-1:123456789012:function:classifier"},
		"ERROR_CODE":    {DataType: "String", StringValue: "SDK_CLIENT_ERROR"},
		"ERROR_MESSAGE": {DataType: "String", StringValue: "Unable to invoke Lambda function"},
	}
	for i := range 3 {
		_, _ = srv.Send("classifier-dlq", event("aws.cloudwatch", "CloudWatch Alarm State Change", i), lambdaErr)
	}
	_, _ = srv.Send("classifier-dlq", event("aws.ec2", "AWS API Call via CloudTrail", 9), bridgeErr)
	_, _ = srv.Send("classifier-dlq", "not json", nil)

	rep, err := sqs.Run(ctx, client, dlq, nil, sqs.Options{DryRun: true, Wait: time.Millisecond})
	if err != nil {
		t.Fatalf("Run(dry run) = %v", err)
	}
	want := []sqs.Group{
		{Source: "aws.cloudwatch", DetailType: "CloudWatch Alarm State Change", Origin: "lambda", ErrorCode: "200", Error: "classify event: ThrottlingException", Count: 3},
		{Origin: "unknown", Count: 1},
		{Source: "aws.ec2", DetailType: "AWS API Call via CloudTrail", Origin: "eventbridge", ErrorCode: "SDK_CLIENT_ERROR", Error: "Unable to invoke Lambda function", Count: 1},
	}
	if rep.Seen != 5 || rep.Moved != 0 || !slices.Equal(rep.Waiting, want) {
		t.Errorf("Run(dry run) = seen %d moved %d waiting %+v, want 5, 0, %+v", rep.Seen, rep.Moved, rep.Waiting, want)
	}
	out, _ := client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10})
	if len(out.Messages) != 5 {
		t.Fatalf("after a dry run %d messages are visible, want all 5", len(out.Messages))
	}
	srv.Advance(time.Hour)

	fn := newFakeLambda(t)
	rep, err = sqs.Run(ctx, client, dlq, sqs.ToFunction(fn.client(), "classifier"), sqs.Options{Max: 2, Wait: time.Millisecond})
	if err != nil || rep.Seen != 2 || rep.Moved != 2 {
		t.Fatalf("Run(max 2) = %+v, %v, want 2 moved", rep, err)
	}
	if n := len(srv.Messages("classifier-dlq")); n != 3 {
		t.Errorf("DLQ holds %d after moving 2 of 5, want 3", n)
	}
	if got := fn.payloads(); len(got) != 2 || !json.Valid([]byte(got[0])) {
		t.Errorf("function invoked with %q, want 2 events", got)
	}
}

func TestRedriveToBus(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSQS()
	defer srv.Close()
	events := awstest.NewEvents()
	defer events.Close()
	client := srv.Client()
	dlq, _ := srv.CreateQueue("problems-dlq", nil)
	for i := range 4 {
		_, _ = srv.Send("problems-dlq", event("opsloop", "Incident Opened", i), map[string]awstest.MessageAttribute{
			"ERROR_CODE": {DataType: "String", StringValue: "SDK_CLIENT_ERROR"}})
	}
	_, _ = srv.Send("problems-dlq", event("aws.ssm", "OpsItem Update", 7), nil)
	_, _ = srv.Send("problems-dlq", `{"source":"opsloop"}`, nil)

	dst := sqs.ToBus(eventbridge.New(events.Client(), "opsloop", eventbridge.Options{}), "opsloop")
	rep, err := sqs.Run(ctx, client, dlq, dst, fast)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if rep.Moved != 4 || rep.Failed != 2 || len(rep.Failures) != 2 {
		t.Fatalf("Run = moved %d failed %d failures %+v, want 4 moved and 2 refused", rep.Moved, rep.Failed, rep.Failures)
	}
	reasons := rep.Failures[0].Reason + " | " + rep.Failures[1].Reason
	if !strings.Contains(reasons, "come from AWS only") || !strings.Contains(reasons, "not an EventBridge event") {
		t.Errorf("failure reasons = %s, want the aws.* source and the malformed event named", reasons)
	}
	put := events.Events()
	if len(put) != 4 {
		t.Fatalf("bus got %d events, want 4", len(put))
	}
	if e := put[0]; e.Bus != "opsloop" || e.Source != "opsloop" || e.DetailType != "Incident Opened" || string(e.Detail) != `{"n":0}` ||
		!e.Time.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) || len(e.Resources) != 1 {
		t.Errorf("re-put event = %+v, want the original's source, detail type, detail, time and resources", e)
	}
	if n := len(srv.Messages("problems-dlq")); n != 2 {
		t.Errorf("DLQ holds %d, want the 2 refused", n)
	}
}

func TestSourceQueueErrors(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSQS()
	defer srv.Close()
	client := srv.Client()
	lone, _ := srv.CreateQueue("lone", nil)
	shared, _ := srv.CreateQueue("shared-dlq", nil)
	policy := `{"deadLetterTargetArn":"` + awstest.QueueARN("shared-dlq") + `","maxReceiveCount":3}`
	_, _ = srv.CreateQueue("a", map[string]string{"RedrivePolicy": policy})
	_, _ = srv.CreateQueue("b", map[string]string{"RedrivePolicy": policy})
	for _, tt := range []struct{ url, want string }{{lone, "no queue's redrive policy"}, {shared, "2 queues"}} {
		if _, err := sqs.SourceQueue(ctx, client, tt.url); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SourceQueue(%s) = %v, want an error saying %q", tt.url, err, tt.want)
		}
	}
	if _, err := sqs.Run(ctx, client, srv.QueueURL("missing"), sqs.ToQueue(client, lone), fast); err == nil {
		t.Errorf("Run on a missing queue = nil error")
	}
}

// fakeLambda answers Lambda's Invoke as the service (or the Runtime
// Interface Emulator) does, recording the payloads.
type fakeLambda struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string
}

func newFakeLambda(t *testing.T) *fakeLambda {
	f := &fakeLambda{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2015-03-31/functions/classifier/invocations" || r.Header.Get("X-Amz-Invocation-Type") != "Event" {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"Type":"User","message":"Function not found"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, string(body))
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLambda) client() *lambda.Client {
	return lambda.New(lambda.Options{Region: awstest.Region, BaseEndpoint: aws.String(f.srv.URL), Credentials: awstest.Credentials()})
}

func (f *fakeLambda) payloads() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func TestFunctionNotFound(t *testing.T) {
	fn := newFakeLambda(t)
	err := sqs.ToFunction(fn.client(), "missing").Send(context.Background(), sqs.Message{ID: "m", Body: "{}"})
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("Send to a missing function = %v, want ResourceNotFoundException", err)
	}
}
