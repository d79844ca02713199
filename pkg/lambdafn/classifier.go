package lambdafn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/opsloop/opsloop/pkg/bus"
	"github.com/opsloop/opsloop/pkg/classify"
	"github.com/opsloop/opsloop/pkg/event"
	"github.com/opsloop/opsloop/pkg/incidents"
	"github.com/opsloop/opsloop/pkg/metrics"
	"github.com/opsloop/opsloop/pkg/pipeline"
)

// Bus publishes events on the opsloop bus, as bus.Publisher does.
type Bus interface {
	Publish(ctx context.Context, events ...bus.Event) error
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
	rules   *Rules
	bus     Bus
	log     *slog.Logger
	metrics *Metrics
}

// NewClassifier returns the classifier function's handler.
func NewClassifier(r *Rules, b Bus, log *slog.Logger, m *Metrics) *Classifier {
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
	ev, err := event.Parse(payload)
	if err != nil {
		rej := &RejectedError{Reason: err.Error()}
		c.log.ErrorContext(ctx, "event rejected", "reason", rej.Reason, "size", len(payload),
			"excerpt", excerpt(payload), "request_id", requestID(ctx))
		c.metrics.Count(EventsRejected, nil, 1)
		return classify.Decision{}, rej
	}
	cl, err := c.rules.Classifier(ctx)
	if err != nil {
		c.log.ErrorContext(ctx, "event not classified: no rules", "event_id", ev.ID, "error", err.Error(), "request_id", requestID(ctx))
		return classify.Decision{EventID: ev.ID, Time: ev.Time}, err
	}
	d, err := cl.Classify(ctx, ev)
	if err != nil {
		c.log.WarnContext(ctx, "event not classified", "event_id", ev.ID, "error", err.Error(), "request_id", requestID(ctx))
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
		"reason", d.Reason, "request_id", requestID(ctx))

	s, ok := pipeline.SignalFor(cl.Rules(), d, ev)
	if !ok {
		return d, nil
	}
	if err := c.publish(ctx, s); err != nil {
		c.log.WarnContext(ctx, "signal not published", "event_id", ev.ID, "rule", d.Rule, "fingerprint", d.Fingerprint,
			"error", err.Error(), "request_id", requestID(ctx))
		return d, err
	}
	return d, nil
}

// SignalDetailType is the detail type of the opsloop event carrying s.
func SignalDetailType(s incidents.Signal) string {
	if s.Kind == incidents.Recovered {
		return incidents.DetailRecovered
	}
	return incidents.DetailDetected
}

func (c *Classifier) publish(ctx context.Context, s incidents.Signal) error {
	detail, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode signal %s: %w", s.EventID, err)
	}
	ev := bus.Event{
		Source:     incidents.EventSource,
		DetailType: SignalDetailType(s),
		Detail:     detail,
		Resources:  arns(s.Resources),
	}
	if err := c.bus.Publish(ctx, ev); err != nil {
		return fmt.Errorf("publish signal %s: %w", s.EventID, err)
	}
	return nil
}

// maxEventResources bounds the resources named on one opsloop event; the
// detail lists them all.
const maxEventResources = 20

// arns keeps the resources that are ARNs, which is what an EventBridge
// event's resources hold.
func arns(resources []string) []string {
	var out []string
	for _, r := range resources {
		if incidents.IsARN(r) && len(out) < maxEventResources {
			out = append(out, r)
		}
	}
	return out
}
