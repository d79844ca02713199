// Package notify publishes opsloop's notifications, such as the review's
// text summary, to an SNS topic.
package sns

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// API is the part of the SNS client the topic uses.
type API interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS's limits on one Publish.
const (
	// MaxMessage bounds a message, in bytes.
	MaxMessage = 256 << 10
	// MaxSubject bounds a subject (e-mail subscriptions show it), in characters.
	MaxSubject = 100
)

// Topic publishes to one SNS topic. Retries of throttling and 5xx are the
// client's.
type Topic struct {
	api API
	arn string
}

// New returns the topic of arn, reached through api.
func New(api API, arn string) *Topic { return &Topic{api: api, arn: arn} }

// ARN is the topic's ARN.
func (t *Topic) ARN() string { return t.arn }

// Publish sends message with subject and returns SNS's message id. What
// SNS would refuse is fixed rather than failed: the subject is made
// printable ASCII on one line within MaxSubject, the message cut to
// MaxMessage bytes at a character boundary.
func (t *Topic) Publish(ctx context.Context, subject, message string) (string, error) {
	in := &sns.PublishInput{TopicArn: aws.String(t.arn), Message: aws.String(Message(message))}
	if s := Subject(subject); s != "" {
		in.Subject = aws.String(s)
	}
	out, err := t.api.Publish(ctx, in)
	if err != nil {
		return "", fmt.Errorf("publish %q to %s: %w", subject, t.arn, err)
	}
	return aws.ToString(out.MessageId), nil
}

// Subject is s as SNS accepts a subject: printable ASCII (other characters
// become "?", line breaks and tabs spaces), no leading space, at most
// MaxSubject characters ("…" would not be ASCII, so "..." marks a cut).
func Subject(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > MaxSubject {
		out = strings.TrimSpace(out[:MaxSubject-3]) + "..."
	}
	return out
}

// Message is s as SNS accepts a message: valid UTF-8, not empty, at most
// MaxMessage bytes, cut at a character boundary with "…" marking the cut.
func Message(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if s == "" {
		return "(empty)"
	}
	if len(s) <= MaxMessage {
		return s
	}
	const mark = "…"
	cut := MaxMessage - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
