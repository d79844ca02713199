package sns_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/sns"
)

func TestPublish(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSNS()
	defer srv.Close()
	arn := srv.CreateTopic("opsloop")
	topic := sns.New(srv.Client(), arn)
	long := strings.Repeat("é", sns.MaxMessage) // twice the limit in bytes
	tests := []struct {
		name, subject, message string
		wantSubject            string
		wantMessage            func(string) bool
	}{
		{"plain", "opsloop review 2026-02-23 to 2026-03-02", "Incidents: 3 opened\nReport: s3://b/k\n",
			"opsloop review 2026-02-23 to 2026-03-02", func(m string) bool { return m == "Incidents: 3 opened\nReport: s3://b/k\n" }},
		{"subject SNS would refuse", " Review — week 9\n", "m", "Review ? week 9", func(m string) bool { return m == "m" }},
		{"no subject", "", "m", "", func(m string) bool { return m == "m" }},
		{"message over the limit", "s", long, "s", func(m string) bool {
			return len(m) <= sns.MaxMessage && utf8.ValidString(m) && strings.HasSuffix(m, "é…")
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := topic.Publish(ctx, tt.subject, tt.message)
			if err != nil || id == "" {
				t.Fatalf("Publish = %q, %v, want a message id", id, err)
			}
			got := srv.Published()
			if len(got) != i+1 {
				t.Fatalf("published %d messages, want %d", len(got), i+1)
			}
			n := got[i]
			if n.Subject != tt.wantSubject || !tt.wantMessage(n.Message) || n.TopicArn != arn {
				t.Errorf("Publish(%q) sent subject %q, message of %d bytes to %s", tt.subject, n.Subject, len(n.Message), n.TopicArn)
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSNS()
	defer srv.Close()
	client := srv.Client(func(o *awssns.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 2 })
	})
	missing := sns.New(client, "arn:aws:sns:us-east-1:123456789012:missing")
	if _, err := missing.Publish(ctx, "s", "m"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Publish to a missing topic = %v, want an error naming it", err)
	}
	topic := sns.New(client, srv.CreateTopic("t"))
	srv.Faults.Script("Publish", awstest.HTTP503, awstest.HTTP503)
	_, err := topic.Publish(ctx, "s", "m")
	if err == nil || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("Publish through two 503s with 2 attempts = %v, want a retryable error", err)
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "review", " \n\t", "Résumé — week 9", strings.Repeat("x", 200), "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		subj := sns.Subject(s)
		if len(subj) > sns.MaxSubject || strings.HasPrefix(subj, " ") {
			t.Fatalf("Subject(%q) = %q: too long or leading space", s, subj)
		}
		for i := 0; i < len(subj); i++ {
			if subj[i] < 0x20 || subj[i] > 0x7e {
				t.Fatalf("Subject(%q) = %q: byte %#x is not printable ASCII", s, subj, subj[i])
			}
		}
		msg := sns.Message(s)
		if msg == "" || len(msg) > sns.MaxMessage || !utf8.ValidString(msg) {
			t.Fatalf("Message(%q) = %q: empty, too long or not UTF-8", s, msg)
		}
	})
}
