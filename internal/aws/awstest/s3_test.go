package awstest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

func TestS3PutGetList(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("reports")
	client := srv.Client()

	page := []byte("<!doctype html><title>review</title>")
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("reports"), Key: aws.String("reviews/2026-03-02T08-00-00Z.html"), Body: bytes.NewReader(page),
		ContentType: aws.String("text/html; charset=utf-8"), Metadata: map[string]string{"period": "2026-W09"},
	})
	if err != nil {
		t.Fatalf("PutObject = %v", err)
	}
	stored, ok := srv.Object("reports", "reviews/2026-03-02T08-00-00Z.html")
	if !ok || !bytes.Equal(stored.Body, page) || stored.ContentType != "text/html; charset=utf-8" || stored.Metadata["period"] != "2026-W09" {
		t.Fatalf("stored object = %+v, want the page with its type and metadata", stored)
	}
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("reviews/2026-03-02T08-00-00Z.html")})
	if err != nil {
		t.Fatalf("GetObject = %v", err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(body, page) || aws.ToString(got.ContentType) != "text/html; charset=utf-8" {
		t.Errorf("GetObject = %q (%s), want the page", body, aws.ToString(got.ContentType))
	}

	for i := range 5 {
		srv.PutObject("reports", fmt.Sprintf("reviews/2026-0%d-01T08-00-00Z.html", i+4), []byte("x"), time.Now())
	}
	srv.PutObject("reports", "other/file", []byte("x"), time.Now())
	var keys []string
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String("reports"), Prefix: aws.String("reviews/"), MaxKeys: aws.Int32(2)})
	calls := 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2 = %v", err)
		}
		calls++
		for _, o := range p.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(keys) != 6 || !slices.IsSorted(keys) || calls != 3 || keys[0] != "reviews/2026-03-02T08-00-00Z.html" {
		t.Errorf("listed %v in %d pages, want the 6 reviews, sorted, in 3 pages", keys, calls)
	}
}

func TestS3Refusals(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("reports")
	client := srv.Client()

	_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("missing")})
	var noKey *types.NoSuchKey
	if !errors.As(err, &noKey) {
		t.Errorf("GetObject(missing) = %v, want *types.NoSuchKey", err)
	}
	_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("reports"), Key: aws.String("missing")})
	var notFound *types.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("HeadObject(missing) = %v, want *types.NotFound", err)
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("k"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" {
		t.Errorf("PutObject(bucket nope) = %v, want NoSuchBucket", err)
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String(strings.Repeat("k", awstest.MaxS3Key+1)), Body: strings.NewReader("x")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "KeyTooLongError" {
		t.Errorf("PutObject(long key) = %v, want KeyTooLongError", err)
	}

	// A body that does not match its signed hash or checksum is refused.
	for _, h := range []map[string]string{
		{"X-Amz-Content-Sha256": strings.Repeat("0", 64)},
		{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD", "X-Amz-Checksum-Crc32": "AAAAAA=="},
		{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "9"},
	} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/reports/raw", strings.NewReader("3\r\nabc\r\n0\r\n\r\n"))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/s3/aws4_request")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT with %v = %d, want 400", h, resp.StatusCode)
		}
	}
	if _, ok := srv.Object("reports", "raw"); ok {
		t.Errorf("a refused PUT stored its object")
	}
}

func TestS3ChunkedUpload(t *testing.T) {
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("reports")
	body := "5;chunk-signature=00\r\nhello\r\n6;chunk-signature=00\r\n world\r\n0;chunk-signature=00\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
	req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/reports/chunked", strings.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/s3/aws4_request")
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", "11")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, ok := srv.Object("reports", "chunked")
	if resp.StatusCode != http.StatusOK || !ok || string(o.Body) != "hello world" {
		t.Errorf("chunked PUT = %d, stored %q, want 200 and \"hello world\"", resp.StatusCode, o.Body)
	}
}

func TestS3FaultsRetried(t *testing.T) {
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("reports")
	srv.Faults.Script("PutObject", awstest.Fault{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."}, awstest.HTTP500)
	_, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if err != nil || srv.Calls("PutObject") != 3 {
		t.Errorf("PutObject after two faults = %v in %d calls, want success in 3", err, srv.Calls("PutObject"))
	}
}

func TestSNSPublish(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSNS()
	defer srv.Close()
	topic := srv.CreateTopic("ops")
	client := srv.Client()
	srv.Faults.Script("Publish", awstest.Fault{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded"})
	out, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String("opsloop review, week 9"), Message: aws.String("line 1\nline 2")})
	if err != nil || aws.ToString(out.MessageId) == "" {
		t.Fatalf("Publish = %v, %v, want a message id", out, err)
	}
	got := srv.Published()
	if len(got) != 1 || got[0].Message != "line 1\nline 2" || got[0].Subject != "opsloop review, week 9" || got[0].TopicArn != topic {
		t.Errorf("published %+v, want the message", got)
	}
	if srv.Calls("Publish") != 2 {
		t.Errorf("Publish calls = %d, want 2 (a throttle retried)", srv.Calls("Publish"))
	}

	tests := []struct {
		name string
		in   *sns.PublishInput
		code string
	}{
		{"unknown topic", &sns.PublishInput{TopicArn: aws.String(topic + "x"), Message: aws.String("m")}, "NotFound"},
		{"subject with a line break", &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String("a\nb"), Message: aws.String("m")}, "InvalidParameter"},
		{"subject too long", &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String(strings.Repeat("s", 101)), Message: aws.String("m")}, "InvalidParameter"},
		{"empty message", &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("")}, "InvalidParameter"},
		{"message too long", &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("m", awstest.MaxSNSMessage+1))}, "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.Publish(ctx, tt.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
				t.Errorf("Publish(%s) = %v, want %s", tt.name, err, tt.code)
			}
		})
	}
	var nf *snstypes.NotFoundException
	if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic + "x"), Message: aws.String("m")}); !errors.As(err, &nf) {
		t.Errorf("Publish(unknown topic) = %v, want *types.NotFoundException", err)
	}
	if n := len(srv.Published()); n != 1 {
		t.Errorf("published %d messages after the refusals, want 1", n)
	}
}
