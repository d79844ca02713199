// Package bus publishes events to an EventBridge event bus with PutEvents:
// in batches within the API's limits, retrying only the entries that
// failed with a retryable code.
package eventbridge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/opsloop/opsloop/internal/wait"
)

// PutEvents limits.
const (
	// MaxEntries is the most entries one PutEvents call takes.
	MaxEntries = 10
	// MaxRequestSize bounds the summed entry sizes of one call (see
	// EntrySize).
	MaxRequestSize = 1 << 20
)

// API is the part of the EventBridge client the Publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Event is one event to publish.
type Event struct {
	Source     string
	DetailType string
	// Detail is the event's detail, a JSON object.
	Detail    []byte
	Resources []string
	// Time is the event's time; zero lets EventBridge use the time of the call.
	Time time.Time
}

// EntrySize is the size EventBridge counts for an entry: 14 bytes for a
// time, and the UTF-8 bytes of Source, DetailType, Detail and each resource.
func EntrySize(e Event) int {
	n := len(e.Source) + len(e.DetailType) + len(e.Detail)
	if !e.Time.IsZero() {
		n += 14
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// Options tune a Publisher; zero values take the defaults.
type Options struct {
	// MaxAttempts bounds the rounds of sending failed entries again, the
	// first included (default 5).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the jittered exponential delay
	// between rounds (defaults 100ms and 5s). The SDK's retries of a whole
	// request (throttling, 5xx) use MaxAttempts and MaxBackoff too.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// Publisher publishes events to one event bus.
type Publisher struct {
	api     API
	bus     string
	opts    Options
	retryer aws.Retryer
}

// New returns a Publisher to the bus named (or with the ARN) bus.
func New(api API, bus string, opts Options) *Publisher {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts, o.MaxBackoff = opts.MaxAttempts, opts.MaxBackoff
	})
	return &Publisher{api: api, bus: bus, opts: opts, retryer: r}
}

// Failure is an event that could not be published.
type Failure struct {
	// Index is the event's position in the Publish call.
	Index      int
	Source     string
	DetailType string
	Code       string
	Message    string
}

// retryableCodes are the per-entry error codes worth sending again, and
// CodeNotSent.
var retryableCodes = map[string]bool{"InternalFailure": true, "ThrottlingException": true, CodeNotSent: true}

// Retryable reports whether sending the event again may succeed.
func (f Failure) Retryable() bool { return retryableCodes[f.Code] }

// Error is the error of a Publish that left events unpublished.
type Error struct {
	Failures []Failure
	// Err is the request's error when a whole call failed.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "publish events: %d not published:", len(e.Failures))
	for i, f := range e.Failures {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(e.Failures)-i)
			break
		}
		fmt.Fprintf(&b, " #%d %s/%s (%s: %s);", f.Index, f.Source, f.DetailType, f.Code, f.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " %v", e.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether publishing the failed events again may
// succeed: every failure has a retryable code and a whole call, if one
// failed, failed with an error the SDK deems retryable.
func (e *Error) Retryable() bool {
	if e.Err != nil && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(e.Err) != aws.TrueTernary {
		return false
	}
	for _, f := range e.Failures {
		if !f.Retryable() {
			return false
		}
	}
	return true
}

// Codes of failures that are not EventBridge's.
const (
	// CodeTooLarge is an event larger than one PutEvents call may carry.
	CodeTooLarge = "EntryTooLarge"
	// CodeNotSent is an event not sent because a whole call failed.
	CodeNotSent = "NotSent"
)

// Publish sends events in calls of at most MaxEntries entries and
// MaxRequestSize bytes. Entries that fail with a retryable code are sent
// again, with backoff, up to MaxAttempts rounds; the others are not. It
// returns an *Error naming the events still not published, if any. A
// caller that publishes again after an error sends the published events
// again too: consumers must be idempotent (at-least-once delivery).
func (p *Publisher) Publish(ctx context.Context, events ...Event) error {
	var failed []Failure
	pending := make([]int, 0, len(events))
	for i, e := range events {
		if n := EntrySize(e); n > MaxRequestSize {
			failed = append(failed, failure(events, i, CodeTooLarge,
				fmt.Sprintf("entry of %d bytes exceeds the %d bytes of a PutEvents call", n, MaxRequestSize)))
			continue
		}
		pending = append(pending, i)
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		var again []Failure
		batches := p.batches(events, pending)
		for b, batch := range batches {
			retryable, perm, err := p.put(ctx, events, batch)
			if err != nil {
				for _, rest := range batches[b:] {
					for _, i := range rest {
						failed = append(failed, failure(events, i, CodeNotSent, "a PutEvents call failed"))
					}
				}
				return &Error{Failures: sorted(append(failed, again...)), Err: err}
			}
			failed = append(failed, perm...)
			again = append(again, retryable...)
		}
		if len(again) == 0 {
			break
		}
		if attempt >= p.opts.MaxAttempts {
			failed = append(failed, again...)
			break
		}
		if err := wait.For(ctx, p.backoff(attempt)); err != nil {
			return &Error{Failures: sorted(append(failed, again...)), Err: err}
		}
		pending = pending[:0]
		for _, f := range again {
			pending = append(pending, f.Index)
		}
	}
	if len(failed) > 0 {
		return &Error{Failures: sorted(failed)}
	}
	return nil
}

func failure(events []Event, i int, code, msg string) Failure {
	return Failure{Index: i, Source: events[i].Source, DetailType: events[i].DetailType, Code: code, Message: msg}
}

// put sends one batch and returns its failed entries, retryable and
// permanent.
func (p *Publisher) put(ctx context.Context, events []Event, batch []int) (again, perm []Failure, err error) {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(batch))}
	for j, i := range batch {
		e := events[i]
		entry := types.PutEventsRequestEntry{
			EventBusName: aws.String(p.bus), Source: aws.String(e.Source), DetailType: aws.String(e.DetailType),
			Detail: aws.String(string(e.Detail)), Resources: e.Resources,
		}
		if !e.Time.IsZero() {
			entry.Time = aws.Time(e.Time)
		}
		in.Entries[j] = entry
	}
	out, err := p.api.PutEvents(ctx, in, func(o *eventbridge.Options) { o.Retryer = p.retryer })
	if err != nil {
		return nil, nil, fmt.Errorf("put %d events: %w", len(batch), err)
	}
	if out.FailedEntryCount == 0 {
		return nil, nil, nil
	}
	if len(out.Entries) != len(batch) {
		return nil, nil, fmt.Errorf("put %d events: %d failed, but the response has %d entries", len(batch), out.FailedEntryCount, len(out.Entries))
	}
	for j, r := range out.Entries {
		if r.ErrorCode == nil {
			continue
		}
		f := failure(events, batch[j], *r.ErrorCode, aws.ToString(r.ErrorMessage))
		if f.Retryable() {
			again = append(again, f)
		} else {
			perm = append(perm, f)
		}
	}
	return again, perm, nil
}

// batches splits the pending events into calls within the API's limits,
// in order.
func (p *Publisher) batches(events []Event, pending []int) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for _, i := range pending {
		n := EntrySize(events[i])
		if len(cur) == MaxEntries || (len(cur) > 0 && size+n > MaxRequestSize) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// backoff is the full-jitter exponential delay before round attempt+1.
func (p *Publisher) backoff(attempt int) time.Duration {
	d := p.opts.BaseBackoff << min(attempt-1, 20)
	if d <= 0 || d > p.opts.MaxBackoff {
		d = p.opts.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func sorted(fs []Failure) []Failure {
	slices.SortFunc(fs, func(a, b Failure) int { return a.Index - b.Index })
	return fs
}

// MaxResources bounds the resources named on one opsloop event; the detail
// lists them all.
const MaxResources = 20

// Resources keeps the first MaxResources of resources that are ARNs, which
// is what an EventBridge event's resources hold.
func Resources(resources []string) []string {
	var out []string
	for _, r := range resources {
		if event.IsARN(r) && len(out) < MaxResources {
			out = append(out, r)
		}
	}
	return out
}
