// Package incidentsfn is the incidents function's logic: SQS batches of
// signals from the opsloop bus handed to the incident lifecycle, with
// partial batch failures for what is worth retrying.
package incidentsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/signal"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/metrics"
)

// Bus is the part of the opsloop bus the lifecycle publishes to.
type Bus interface {
	Publish(ctx context.Context, events ...eventbridge.Event) error
}

// Lifecycle applies signals to incidents, as incidents.Manager does, and
// retries the OpsItems OpsCenter refused for its quota.
type Lifecycle interface {
	Handle(ctx context.Context, s signal.Signal) (incidents.Outcome, error)
	Retry(ctx context.Context) (incidents.RetryReport, error)
	Escalate(ctx context.Context) (incidents.EscalateReport, error)
}

// Incidents is the incidents function: it applies the signals of an SQS batch
// (each message the EventBridge event the opsloop bus delivered) to the
// incident lifecycle, one after another in queue order.
type Incidents struct {
	lifecycle Lifecycle
	log       *slog.Logger
	metrics   *lambdaenv.Metrics
}

// NewIncidents returns the incidents function's handler.
func NewIncidents(l Lifecycle, log *slog.Logger, m *lambdaenv.Metrics) *Incidents {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Incidents{lifecycle: l, log: log, metrics: m}
}

// Handle applies each message's signal and reports the messages worth
// retrying as batch item failures, so that SQS redelivers those alone (the
// event source mapping must enable ReportBatchItemFailures). A malformed
// message or a signal the lifecycle refuses (metrics.SignalsRejected) is logged and
// counted on its first receive and reported as a failure every time, so that
// the queue's redrive policy moves it to the dead-letter queue, where it is
// kept for redrive once the cause is fixed. An incident OpsCenter refused to
// open for its quotas (OpsItemLimitExceeded) leaves the queue: the lifecycle
// keeps its record and opens it later. Once ctx is done the messages not yet
// handled are reported as failures untouched.
func (h *Incidents) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	var opened, resolved, rejected, limited, held, retried, escalated int
	var resolveTimes []float64
	for _, msg := range batch.Records {
		if ctx.Err() != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			continue
		}
		if retrySchedule([]byte(msg.Body)) {
			rep, rerr := h.lifecycle.Retry(ctx)
			retried += rep.Opened
			esc, eerr := h.lifecycle.Escalate(ctx)
			escalated += esc.Escalated
			if err := errors.Join(rerr, eerr); err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				h.log.WarnContext(ctx, "scheduled work failed", "message_id", msg.MessageId, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
				continue
			}
			h.log.InfoContext(ctx, "scheduled work done", "waiting", rep.Waiting, "opened", rep.Opened, "refused", rep.Refused,
				"dropped", rep.Dropped, "due", esc.Due, "escalated", esc.Escalated, "acknowledged", esc.Acknowledged, "request_id", lambdaenv.RequestID(ctx))
			continue
		}
		s, err := signal.Decode([]byte(msg.Body))
		if err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			if firstReceive(msg) {
				rejected++
				h.log.ErrorContext(ctx, "message rejected", "message_id", msg.MessageId, "reason", err.Error(),
					"excerpt", lambdaenv.Excerpt([]byte(msg.Body)), "kept", "dead-letter queue", "request_id", lambdaenv.RequestID(ctx))
			}
			continue
		}
		out, err := h.lifecycle.Handle(ctx, s)
		// What the handling did counts even when a later step failed and
		// the signal is retried: the lifecycle reports each once.
		if out.Created {
			opened++
		}
		if out.Resolved {
			resolved++
			for _, ev := range out.Events {
				if d, ok := ev.Detail.(incidents.ResolvedDetail); ok && !d.Opened.IsZero() && !d.Resolved.Before(d.Opened) {
					resolveTimes = append(resolveTimes, d.Resolved.Sub(d.Opened).Seconds())
				}
			}
		}
		switch {
		case err != nil && incidents.Retryable(err):
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			h.log.WarnContext(ctx, "signal to retry", "message_id", msg.MessageId, "event_id", s.EventID,
				"rule", s.Rule, "fingerprint", s.Fingerprint, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
			continue
		case errors.Is(err, incidents.ErrLimitExceeded):
			limited++
		case err != nil:
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			if !firstReceive(msg) {
				continue
			}
			rejected++
		}
		if err != nil {
			h.log.ErrorContext(ctx, "signal not applied", "message_id", msg.MessageId, "event_id", s.EventID,
				"rule", s.Rule, "fingerprint", s.Fingerprint, "action", string(out.Action), "error", err.Error(),
				"request_id", lambdaenv.RequestID(ctx))
			continue
		}
		if out.Action == incidents.HeldBack {
			held++
		}
	}
	var samples []metrics.Sample
	for _, c := range []struct {
		name string
		n    int
	}{{metrics.IncidentsOpened, opened}, {metrics.IncidentsResolved, resolved}, {metrics.SignalsRejected, rejected}, {metrics.OpsItemLimitExceeded, limited},
		{metrics.IncidentsHeldBack, held}, {metrics.OpsItemsRetried, retried}, {metrics.IncidentsEscalated, escalated}} {
		if c.n > 0 {
			samples = append(samples, metrics.Sample{Name: c.name, Unit: metrics.Count, Value: float64(c.n)})
		}
	}
	h.metrics.Put(nil, samples...)
	for _, secs := range resolveTimes {
		h.metrics.Put(nil, metrics.Sample{Name: metrics.TimeToResolve, Unit: metrics.Seconds, Value: secs})
	}
	h.log.InfoContext(ctx, "batch handled", "messages", len(batch.Records), "retry", len(resp.BatchItemFailures),
		"opened", opened, "resolved", resolved, "rejected", rejected, "limit_exceeded", limited, "held_back", held, "retried", retried, "request_id", lambdaenv.RequestID(ctx))
	return resp, nil
}

// Publisher adapts b to the lifecycle's Publisher: "Incident Opened" and
// "Incident Resolved" go on the opsloop bus with source "opsloop", the detail
// as JSON and the incident's resource ARNs as the event's resources.
func Publisher(b Bus) incidents.Publisher {
	return incidents.PublisherFunc(func(ctx context.Context, detailType string, detail any) error {
		data, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("encode %s: %w", detailType, err)
		}
		var resources []string
		switch d := detail.(type) {
		case incidents.OpenedDetail:
			resources = d.Resources
		case incidents.ResolvedDetail:
			resources = d.Resources
		}
		ev := eventbridge.Event{Source: signal.Source, DetailType: detailType, Detail: data, Resources: eventbridge.Resources(resources)}
		return b.Publish(ctx, ev)
	})
}

// firstReceive reports whether SQS hands msg over for the first time, so that
// a rejected message kept for the dead-letter queue is counted once.
func firstReceive(msg events.SQSMessage) bool {
	n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	return err != nil || n <= 1
}

// IncidentsSettings configure the incidents function.
type IncidentsSettings struct {
	Table string
	Bus   string
	// Topic replaces "default" in response plans' notify lists; empty
	// drops it.
	Topic string
}

// ReadIncidentsSettings reads the incidents function's settings from env,
// naming every missing variable in one error.
func ReadIncidentsSettings(env *lambdaenv.Env) (IncidentsSettings, error) {
	s := IncidentsSettings{
		Table: env.Required(lambdaenv.EnvTable),
		Bus:   env.Required(lambdaenv.EnvBus),
		Topic: env.Optional(lambdaenv.EnvTopic, ""),
	}
	return s, env.Err()
}

// RetrySource and RetryDetailType mark the scheduled event (an EventBridge
// schedule on the default bus, whose events only EventBridge can put:
// their source has the AWS prefix) that has the function retry the
// OpsItems OpsCenter refused and escalate the responses overdue.
const (
	RetrySource     = "aws.events"
	RetryDetailType = "Scheduled Event"
)

// retrySchedule reports whether body is the retry schedule's event.
func retrySchedule(body []byte) bool {
	var ev struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	return json.Unmarshal(body, &ev) == nil && ev.Source == RetrySource && ev.DetailType == RetryDetailType
}
