// Package classifierfn is the classifier function's logic: one EventBridge
// event in, a decision under the current rules, and for incidents and
// recoveries a signal on the opsloop bus.
package classifierfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/opsloop/opsloop/internal/functions/liverules"
	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/metrics"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/signal/fromclassify"
)

// Bus publishes events on the opsloop bus, as eventbridge.Publisher does.
type Bus interface {
	Publish(ctx context.Context, events ...eventbridge.Event) error
}

// RejectedError is the error of an event the classifier refuses as
// malformed. The invocation fails with it, although retrying cannot help:
// EventBridge invokes the classifier asynchronously, and only a failed
// invocation reaches the function's dead-letter queue, which keeps the event
// for inspection and `opsloop redrive`. The platform's retries of it cost a
// parse each.
type RejectedError struct {
	// Reason says what is wrong with the event.
	Reason string
}

func (e *RejectedError) Error() string { return "event rejected: " + e.Reason }

// Classifier is the classifier function: it classifies one EventBridge event
// under the current rules and puts incident and recover decisions on the
// opsloop bus as "Incident Detected" and "Incident Recovered" signals.
type Classifier struct {
	rules   *liverules.Rules[*classify.Classifier]
	bus     Bus
	log     *slog.Logger
	metrics *lambdaenv.Metrics
}

// LiveRules keeps the classifier of the current rules, classifying with
// state.
func LiveRules(loader liverules.Loader, state classify.State, log *slog.Logger, m *lambdaenv.Metrics) *liverules.Rules[*classify.Classifier] {
	return liverules.New(loader, func(set *rules.Set) *classify.Classifier { return classify.New(set, state) }, log, m)
}

// NewClassifier returns the classifier function's handler.
func NewClassifier(r *liverules.Rules[*classify.Classifier], b Bus, log *slog.Logger, m *lambdaenv.Metrics) *Classifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Classifier{rules: r, bus: b, log: log, metrics: m}
}

// Invoke implements the aws-lambda-go Handler interface, taking the payload
// as bytes so that input that is not even JSON reaches the parser and is
// rejected with its reason. The response is the decision, for synchronous
// callers and tests; EventBridge discards it.
func (c *Classifier) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	d, err := c.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode decision %s: %w", d.EventID, err)
	}
	return out, nil
}

// Handle classifies one event and publishes its signal, if it makes one.
// A malformed event fails with *RejectedError; any other error is worth
// retrying (throttling, 5xx, rules not loaded yet), and a retry is safe: a
// redelivered event is not counted again, and its signal is published again
// for the incidents function to recognise.
func (c *Classifier) Handle(ctx context.Context, payload []byte) (classify.Decision, error) {
	// Most events are ignored: the fast path decides those from the bytes,
	// reading only what the rules read; anything else takes the full path.
	if cl, loaded := c.rules.Loaded(ctx); loaded {
		if d, source, detailType, ok := cl.Ignored(payload); ok {
			c.metrics.Count(metrics.Decisions, map[string]string{metrics.DimensionAction: string(d.Action)}, 1)
			c.log.DebugContext(ctx, "event classified", "event_id", d.EventID, "source", source, "detail_type", detailType,
				"action", string(d.Action), "rule", d.Rule, "reason", d.Reason, "fast", true, "request_id", lambdaenv.RequestID(ctx))
			return d, nil
		}
	}
	ev, err := event.Parse(payload)
	if err != nil {
		rej := &RejectedError{Reason: err.Error()}
		c.log.ErrorContext(ctx, "event rejected", "reason", rej.Reason, "size", len(payload),
			"excerpt", lambdaenv.Excerpt(payload), "request_id", lambdaenv.RequestID(ctx))
		c.metrics.Count(metrics.EventsRejected, nil, 1)
		return classify.Decision{}, rej
	}
	cl, err := c.rules.Current(ctx)
	if err != nil {
		c.log.ErrorContext(ctx, "event not classified: no rules", "event_id", ev.ID, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		return classify.Decision{EventID: ev.ID, Time: ev.Time}, err
	}
	d, err := cl.Classify(ctx, ev)
	if inv := (*classify.InvalidError)(nil); errors.As(err, &inv) {
		c.log.ErrorContext(ctx, "event rejected", "event_id", ev.ID, "reason", inv.Reason, "size", len(payload),
			"excerpt", lambdaenv.Excerpt(payload), "request_id", lambdaenv.RequestID(ctx))
		c.metrics.Count(metrics.EventsRejected, nil, 1)
		return d, &RejectedError{Reason: inv.Reason}
	}
	if err != nil {
		c.log.WarnContext(ctx, "event not classified", "event_id", ev.ID, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		return d, fmt.Errorf("classify event %s: %w", ev.ID, err)
	}
	if !d.Duplicate {
		c.metrics.Count(metrics.Decisions, map[string]string{metrics.DimensionAction: string(d.Action)}, 1)
	}
	level := slog.LevelDebug
	if d.Action == classify.Incident || d.Action == classify.Recover {
		level = slog.LevelInfo
	}
	c.log.Log(ctx, level, "event classified", "event_id", ev.ID, "source", ev.Source, "detail_type", ev.DetailType,
		"action", string(d.Action), "rule", d.Rule, "fingerprint", d.Fingerprint, "duplicate", d.Duplicate,
		"reason", d.Reason, "request_id", lambdaenv.RequestID(ctx))

	s, ok := fromclassify.Signal(cl.Rules(), d, ev)
	if !ok {
		return d, nil
	}
	if err := c.publish(ctx, s); err != nil {
		c.log.WarnContext(ctx, "signal not published", "event_id", ev.ID, "rule", d.Rule, "fingerprint", d.Fingerprint,
			"error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		return d, err
	}
	return d, nil
}

func (c *Classifier) publish(ctx context.Context, s signal.Signal) error {
	detail, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode signal %s: %w", s.EventID, err)
	}
	ev := eventbridge.Event{
		Source:     signal.Source,
		DetailType: s.BusDetailType(),
		Detail:     detail,
		Resources:  eventbridge.Resources(s.Resources),
	}
	if err := c.bus.Publish(ctx, ev); err != nil {
		return fmt.Errorf("publish signal %s: %w", s.EventID, err)
	}
	return nil
}
