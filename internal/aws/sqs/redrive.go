// Package redrive moves the messages of a dead-letter SQS queue back to
// where they failed to go: the queue whose redrive policy put them there,
// the event bus the event was on, or the Lambda function EventBridge or
// Lambda itself failed to invoke. Each message is deleted only after it was
// sent again, so a failure or an interruption loses nothing (at worst a
// message is sent twice, which opsloop's consumers take as one). What
// waited in the queue is reported by source, detail type and error.
package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// API is the part of the SQS client a redrive uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ListDeadLetterSourceQueues(ctx context.Context, in *sqs.ListDeadLetterSourceQueuesInput, optFns ...func(*sqs.Options)) (*sqs.ListDeadLetterSourceQueuesOutput, error)
}

// Message is one message of the dead-letter queue.
type Message struct {
	ID   string
	Body string
	// Attributes are the message's attributes: the producer's, or those
	// Lambda (RequestID, ErrorCode, ErrorMessage) or EventBridge
	// (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, ...) add to a
	// failed event.
	Attributes map[string]types.MessageAttributeValue
	// System are SQS's attributes: SentTimestamp, ApproximateReceiveCount,
	// DeadLetterQueueSourceArn, ...
	System map[string]string
}

// Destination sends a message back where it failed to go.
type Destination interface {
	// Send sends m; an error means it was not sent and stays in the queue.
	Send(ctx context.Context, m Message) error
	// String names the destination in reports.
	String() string
}

// Options tune a Run; zero values take the defaults.
type Options struct {
	// Max bounds the messages taken from the queue; 0 takes them all.
	Max int
	// DryRun reports what waits in the queue and sends nothing: the
	// messages stay in the queue, visible again when the run ends.
	DryRun bool
	// Visibility is how long a taken message stays hidden from other
	// consumers while the run holds it (default 5m).
	Visibility time.Duration
	// Wait is how long a receive waits for messages before the queue is
	// taken as empty, in whole seconds (default 1s: long polling asks every
	// SQS server, where a short poll of 0s may miss messages).
	Wait time.Duration
}

// Report is what a Run did and found.
type Report struct {
	Queue       string `json:"queue"`
	Destination string `json:"destination,omitempty"`
	DryRun      bool   `json:"dryRun,omitempty"`
	// Seen counts the messages taken from the queue, Moved those sent
	// and deleted, Failed those left in the queue.
	Seen   int `json:"seen"`
	Moved  int `json:"moved"`
	Failed int `json:"failed"`
	// Waiting is what waited in the queue, the largest group first.
	Waiting []Group `json:"waiting"`
	// Failures say why messages stay in the queue, and which messages were
	// sent but could not be deleted (they will be sent again next time).
	Failures []Failure `json:"failures,omitempty"`
	// Oldest and Newest are when the messages seen were sent to the queue.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// Group counts messages alike in what they are and why they failed.
type Group struct {
	Source     string `json:"source,omitempty"`
	DetailType string `json:"detailType,omitempty"`
	// Origin is how the message came into the queue: "lambda" (a failed
	// asynchronous invocation), "eventbridge" (a target EventBridge could
	// not deliver to), "sqs" (received too often from the source queue), or
	// "unknown".
	Origin    string `json:"origin"`
	ErrorCode string `json:"errorCode,omitempty"`
	// Error is the first error message of the group.
	Error string `json:"error,omitempty"`
	Count int    `json:"count"`
}

// Failure is a message a Run could not move.
type Failure struct {
	MessageID string `json:"messageId"`
	Reason    string `json:"reason"`
	// Sent is true when the message was sent but not deleted.
	Sent bool `json:"sent,omitempty"`
}

// SourceQueue returns the URL of the queue whose redrive policy names dlq,
// for sending its messages back; an error when there is not exactly one.
func SourceQueue(ctx context.Context, api API, dlq string) (string, error) {
	var urls []string
	pages := sqs.NewListDeadLetterSourceQueuesPaginator(api, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlq)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("find the source queue of %s: %w", dlq, err)
		}
		urls = append(urls, page.QueueUrls...)
	}
	switch len(urls) {
	case 0:
		return "", fmt.Errorf("find the source queue of %s: no queue's redrive policy names it (a dead-letter queue of a Lambda function or an EventBridge target): give the destination", dlq)
	case 1:
		return urls[0], nil
	}
	return "", fmt.Errorf("find the source queue of %s: %d queues name it (%s): give the destination", dlq, len(urls), strings.Join(urls, ", "))
}

// Run moves the messages of the queue at url to dst (with DryRun, only
// looks at them) and reports what it did. It stops when the queue has no
// more messages to give, at Options.Max, or when ctx is done; messages it
// could not move are made visible again before it returns. The error is
// about the queue itself (receiving from it); failures to send single
// messages are in the report.
func Run(ctx context.Context, api API, url string, dst Destination, opts Options) (Report, error) {
	if opts.Visibility <= 0 {
		opts.Visibility = 5 * time.Minute
	}
	if opts.Wait <= 0 {
		opts.Wait = time.Second
	}
	rep := Report{Queue: url, DryRun: opts.DryRun, Waiting: []Group{}}
	if dst != nil {
		rep.Destination = dst.String()
	}
	if dst == nil && !opts.DryRun {
		return rep, errors.New("redrive: no destination")
	}
	r := &run{api: api, url: url, dst: dst, opts: opts, rep: &rep, seen: map[string]bool{}, moved: map[string]bool{}, groups: map[Group]int{}}
	err := r.loop(ctx)
	// Release what is held even when ctx is done: a fresh context, bounded.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := r.release(rctx); err == nil {
		err = rerr
	}
	r.summarise()
	return rep, err
}

type run struct {
	api  API
	url  string
	dst  Destination
	opts Options
	rep  *Report

	seen   map[string]bool
	moved  map[string]bool
	held   []string // receipt handles of messages to make visible again
	groups map[Group]int
	errors map[Group]string
}

func (r *run) loop(ctx context.Context) error {
	for r.opts.Max <= 0 || r.rep.Seen < r.opts.Max {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redrive %s: %w", r.url, err)
		}
		n := int32(10)
		if r.opts.Max > 0 {
			n = int32(min(10, r.opts.Max-r.rep.Seen))
		}
		out, err := r.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.url), MaxNumberOfMessages: n,
			VisibilityTimeout:           int32(r.opts.Visibility / time.Second),
			WaitTimeSeconds:             int32(r.opts.Wait / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return fmt.Errorf("receive from %s: %w", r.url, err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		for _, m := range out.Messages {
			r.handle(ctx, m)
		}
	}
	return nil
}

func (r *run) handle(ctx context.Context, sm types.Message) {
	m := Message{ID: aws.ToString(sm.MessageId), Body: aws.ToString(sm.Body), Attributes: sm.MessageAttributes, System: sm.Attributes}
	receipt := aws.ToString(sm.ReceiptHandle)
	if r.seen[m.ID] {
		// Received again within the run: its hiding ran out. One moved
		// already only needs deleting; one held stays held.
		if r.moved[m.ID] {
			_ = r.delete(ctx, receipt)
		} else {
			r.held = append(r.held, receipt)
		}
		return
	}
	r.seen[m.ID] = true
	r.rep.Seen++
	r.count(m)
	if r.opts.DryRun {
		r.held = append(r.held, receipt)
		return
	}
	if err := r.dst.Send(ctx, m); err != nil {
		r.rep.Failed++
		r.rep.Failures = append(r.rep.Failures, Failure{MessageID: m.ID, Reason: err.Error()})
		r.held = append(r.held, receipt)
		return
	}
	r.moved[m.ID] = true
	r.rep.Moved++
	if err := r.delete(ctx, receipt); err != nil {
		// It stays in the queue, visible again at the end, and a later
		// run sends it once more.
		r.rep.Failures = append(r.rep.Failures, Failure{MessageID: m.ID, Reason: err.Error(), Sent: true})
		r.held = append(r.held, receipt)
	}
}

func (r *run) delete(ctx context.Context, receipt string) error {
	if _, err := r.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.url), ReceiptHandle: aws.String(receipt)}); err != nil {
		return fmt.Errorf("sent, but not deleted from %s: %w", r.url, err)
	}
	return nil
}

// release makes the held messages visible again, ten at a time.
func (r *run) release(ctx context.Context) error {
	var errs []error
	for start := 0; start < len(r.held); start += 10 {
		batch := r.held[start:min(start+10, len(r.held))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(batch))
		for i, h := range batch {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0}
		}
		out, err := r.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(r.url), Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("make %d messages visible again (they will be once their %s hiding ends): %w", len(batch), r.opts.Visibility, err))
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("make a message visible again: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

// count adds m to the report's groups and times.
func (r *run) count(m Message) {
	g := Describe(m)
	msg := g.Error
	g.Error = ""
	r.groups[g]++
	if r.errors == nil {
		r.errors = map[Group]string{}
	}
	if _, ok := r.errors[g]; !ok {
		r.errors[g] = msg
	}
	if ms, err := strconv.ParseInt(m.System["SentTimestamp"], 10, 64); err == nil {
		at := time.UnixMilli(ms).UTC()
		if r.rep.Oldest.IsZero() || at.Before(r.rep.Oldest) {
			r.rep.Oldest = at
		}
		if at.After(r.rep.Newest) {
			r.rep.Newest = at
		}
	}
}

func (r *run) summarise() {
	for g, n := range r.groups {
		g.Count, g.Error = n, r.errors[g]
		r.rep.Waiting = append(r.rep.Waiting, g)
	}
	slices.SortFunc(r.rep.Waiting, func(a, b Group) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Source+"\x00"+a.DetailType+"\x00"+a.ErrorCode, b.Source+"\x00"+b.DetailType+"\x00"+b.ErrorCode)
	})
}

// maxErrorText bounds an error message kept in a report.
const maxErrorText = 300

// Describe says what a dead-letter message is and why it failed: the
// EventBridge event its body holds, and the error attributes Lambda or
// EventBridge added.
func Describe(m Message) Group {
	var g Group
	var env struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	if json.Unmarshal([]byte(m.Body), &env) == nil {
		g.Source, g.DetailType = env.Source, env.DetailType
	}
	attr := func(name string) string { return aws.ToString(m.Attributes[name].StringValue) }
	switch {
	case attr("ERROR_CODE") != "" || attr("RULE_ARN") != "":
		g.Origin, g.ErrorCode, g.Error = "eventbridge", attr("ERROR_CODE"), attr("ERROR_MESSAGE")
	case attr("RequestID") != "" || attr("ErrorMessage") != "":
		g.Origin, g.ErrorCode, g.Error = "lambda", attr("ErrorCode"), attr("ErrorMessage")
	case m.System["DeadLetterQueueSourceArn"] != "":
		g.Origin = "sqs"
	default:
		g.Origin = "unknown"
	}
	if len(g.Error) > maxErrorText {
		g.Error = g.Error[:maxErrorText] + "…"
	}
	g.Error = strings.ToValidUTF8(g.Error, "\uFFFD")
	return g
}
