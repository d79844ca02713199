package awstest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

func newSQS(t *testing.T) (*awstest.SQS, *sqs.Client) {
	t.Helper()
	srv := awstest.NewSQS()
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

func receive(t *testing.T, client *sqs.Client, url string, n int32) []types.Message {
	t.Helper()
	out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: n,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage(%s) = %v", url, err)
	}
	return out.Messages
}

func TestSQSSendReceiveDelete(t *testing.T) {
	ctx := context.Background()
	srv, client := newSQS(t)
	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "30"}})
	if err != nil {
		t.Fatalf("CreateQueue = %v", err)
	}
	url := aws.ToString(created.QueueUrl)
	got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl(work) = %v, %v, want %s", got, err, url)
	}
	attrs := map[string]types.MessageAttributeValue{
		"ErrorCode": {DataType: aws.String("String"), StringValue: aws.String("Unhandled")},
		"Raw":       {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
	}
	sent, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"id":"e-1"}`), MessageAttributes: attrs})
	if err != nil {
		t.Fatalf("SendMessage = %v", err) // the SDK checks the body's MD5
	}
	wire := map[string]awstest.MessageAttribute{"ErrorCode": {DataType: "String", StringValue: "Unhandled"}, "Raw": {DataType: "Binary", BinaryValue: []byte{0, 1, 2}}}
	if want := awstest.AttributesMD5(wire); aws.ToString(sent.MD5OfMessageAttributes) != want {
		t.Errorf("MD5OfMessageAttributes = %s, want %s", aws.ToString(sent.MD5OfMessageAttributes), want)
	}

	msgs := receive(t, client, url, 10)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != `{"id":"e-1"}` {
		t.Fatalf("ReceiveMessage = %+v, want the one message", msgs)
	}
	m := msgs[0]
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" {
		t.Errorf("system attributes = %v, want ApproximateReceiveCount 1 and SentTimestamp", m.Attributes)
	}
	if v := m.MessageAttributes["ErrorCode"]; aws.ToString(v.StringValue) != "Unhandled" || string(m.MessageAttributes["Raw"].BinaryValue) != "\x00\x01\x02" {
		t.Errorf("message attributes = %+v, want those sent", m.MessageAttributes)
	}
	if again := receive(t, client, url, 10); len(again) != 0 {
		t.Errorf("ReceiveMessage within the visibility timeout = %d messages, want 0", len(again))
	}
	srv.Advance(31 * time.Second)
	again := receive(t, client, url, 10)
	if len(again) != 1 || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("ReceiveMessage after the visibility timeout = %+v, want the message, received twice", again)
	}
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: again[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage = %v", err)
	}
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: again[0].ReceiptHandle}); err != nil {
		t.Errorf("DeleteMessage of a deleted message = %v, want success", err)
	}
	if n := len(srv.Messages("work")); n != 0 {
		t.Errorf("messages left = %d, want 0", n)
	}
}

func TestSQSRedrivePolicy(t *testing.T) {
	ctx := context.Background()
	srv, client := newSQS(t)
	dlq, _ := srv.CreateQueue("work-dlq", nil)
	src, err := srv.CreateQueue("work", map[string]string{
		"VisibilityTimeout": "10",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + awstest.QueueARN("work-dlq") + `","maxReceiveCount":2}`,
	})
	if err != nil {
		t.Fatalf("CreateQueue = %v", err)
	}
	if _, err := srv.Send("work", "poison", nil); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got := receive(t, client, src, 1); len(got) != 1 {
			t.Fatalf("receive %d = %d messages, want 1", i+1, len(got))
		}
		srv.Advance(11 * time.Second)
	}
	if got := receive(t, client, src, 1); len(got) != 0 {
		t.Fatalf("receive 3 = %d messages, want 0: received maxReceiveCount times, it belongs to the DLQ", len(got))
	}
	moved := receive(t, client, dlq, 10)
	if len(moved) != 1 || aws.ToString(moved[0].Body) != "poison" || moved[0].Attributes["DeadLetterQueueSourceArn"] != awstest.QueueARN("work") {
		t.Fatalf("DLQ holds %+v, want the message with DeadLetterQueueSourceArn", moved)
	}
	sources, err := client.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlq)})
	if err != nil || len(sources.QueueUrls) != 1 || sources.QueueUrls[0] != src {
		t.Errorf("ListDeadLetterSourceQueues(dlq) = %v, %v, want [%s]", sources, err, src)
	}
}

func TestSQSBatchesAndVisibility(t *testing.T) {
	ctx := context.Background()
	srv, client := newSQS(t)
	url, _ := srv.CreateQueue("work", nil)
	var entries []types.SendMessageBatchRequestEntry
	for _, id := range []string{"a", "b", "c"} {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String("body " + id)})
	}
	entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String("bad"), MessageBody: aws.String("\x01")})
	out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatalf("SendMessageBatch = %v", err)
	}
	if len(out.Successful) != 3 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "InvalidMessageContents" {
		t.Fatalf("SendMessageBatch = %d ok, failed %+v, want 3 ok and bad refused", len(out.Successful), out.Failed)
	}
	msgs := receive(t, client, url, 10)
	if len(msgs) != 3 {
		t.Fatalf("ReceiveMessage = %d messages, want 3", len(msgs))
	}
	release := []types.ChangeMessageVisibilityBatchRequestEntry{{Id: aws.String("r0"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0}}
	if _, err := client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: release}); err != nil {
		t.Fatalf("ChangeMessageVisibilityBatch = %v", err)
	}
	del := []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("d1"), ReceiptHandle: msgs[1].ReceiptHandle}, {Id: aws.String("d2"), ReceiptHandle: msgs[2].ReceiptHandle},
		{Id: aws.String("d3"), ReceiptHandle: aws.String("not-a-handle")},
	}
	dout, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
	if err != nil || len(dout.Successful) != 2 || len(dout.Failed) != 1 || aws.ToString(dout.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch = %+v, %v, want 2 deleted and the bad handle refused", dout, err)
	}
	left := receive(t, client, url, 10)
	if len(left) != 1 || aws.ToString(left[0].Body) != aws.ToString(msgs[0].Body) {
		t.Errorf("after release and deletes = %+v, want the released message alone", left)
	}
}

func TestSQSLongPoll(t *testing.T) {
	srv, client := newSQS(t)
	url, _ := srv.CreateQueue("work", nil)
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, _ = srv.Send("work", "late", nil)
	}()
	start := time.Now()
	out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage(wait 5s) = %v, %v, want the late message", out, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("long poll returned after %s, want as soon as the message came", d)
	}
}

func TestSQSRefusals(t *testing.T) {
	ctx := context.Background()
	srv, client := newSQS(t)
	url, _ := srv.CreateQueue("work", nil)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown queue", func() error {
			_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(srv.QueueURL("nope")), MessageBody: aws.String("x")})
			return err
		}, "NonExistentQueue"},
		{"invalid characters", func() error {
			_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("a\x00b")})
			return err
		}, "InvalidMessageContents"},
		{"too large", func() error {
			_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strings.Repeat("x", awstest.MaxSQSMessage+1))})
			return err
		}, "InvalidParameterValue"},
		{"too many to receive", func() error {
			_, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"repeated batch ids", func() error {
			_, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
				{Id: aws.String("a"), MessageBody: aws.String("1")}, {Id: aws.String("a"), MessageBody: aws.String("2")},
			}})
			return err
		}, "BatchEntryIdsNotDistinct"},
		{"bad redrive policy", func() error {
			_, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("x"), Attributes: map[string]string{"RedrivePolicy": `{"maxReceiveCount":0}`}})
			return err
		}, "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || !strings.Contains(ae.ErrorCode(), tt.code) && !strings.Contains(err.Error(), tt.code) {
				t.Errorf("%s = %v, want %s", tt.name, err, tt.code)
			}
		})
	}
	var missing *types.QueueDoesNotExist
	if _, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")}); !errors.As(err, &missing) {
		t.Errorf("GetQueueUrl(nope) = %v, want *types.QueueDoesNotExist", err)
	}
}

func TestSQSFaultsRetried(t *testing.T) {
	srv, client := newSQS(t)
	url, _ := srv.CreateQueue("work", nil)
	_, _ = srv.Send("work", "m", nil)
	srv.Faults.Script("ReceiveMessage", awstest.Throttling, awstest.HTTP503)
	if got := receive(t, client, url, 1); len(got) != 1 {
		t.Fatalf("ReceiveMessage after two faults = %d messages, want 1", len(got))
	}
	if n := srv.Calls("ReceiveMessage"); n != 3 {
		t.Errorf("ReceiveMessage calls = %d, want 3 (two faults retried)", n)
	}
}
