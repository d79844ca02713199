package problems

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Detail types the problems function receives on its EventBridge rules.
const (
	DetailIncidentOpened    = "Incident Opened"    // source "opsloop"
	DetailIncidentResolved  = "Incident Resolved"  // source "opsloop"
	DetailIncidentEscalated = "Incident Escalated" // source "opsloop"
	DetailOpsItemUpdate     = "OpsItem Update"     // source "aws.ssm"
)

// Sources of the events handled.
const (
	SourceOpsloop = "opsloop"
	SourceSSM     = "aws.ssm"
)

// MaxEvent is the largest event accepted: EventBridge's own limit.
const MaxEvent = 256 << 10

// Input is one event the Tracker acts on: an opened incident, a
// resolution, an acknowledgement or an escalation. None is set for events
// it has nothing to do with.
type Input struct {
	Incident        *Incident
	Resolution      *Resolution
	Acknowledgement *Acknowledgement
	Escalation      *Escalation
}

// ParseEvent reads an EventBridge event: opsloop's "Incident Opened",
// "Incident Resolved" and "Incident Escalated", and OpsCenter's "OpsItem
// Update" (a resolution when the OpsItem's status is Resolved, an
// acknowledgement when it is InProgress). Other events give an empty Input.
// Errors wrap ErrInvalid.
func ParseEvent(raw []byte) (Input, error) {
	if len(raw) > MaxEvent {
		return Input{}, fmt.Errorf("event of %d bytes is over %d: %w", len(raw), MaxEvent, ErrInvalid)
	}
	var env struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Time       time.Time       `json:"time"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return Input{}, fmt.Errorf("event is not an EventBridge event: %v: %w", err, ErrInvalid)
	}
	detail := bytes.TrimSpace(env.Detail)
	switch {
	case env.Source == SourceOpsloop && env.DetailType == DetailIncidentOpened:
		var inc Incident
		if err := decodeDetail(detail, &inc); err != nil {
			return Input{}, err
		}
		if err := inc.validate(); err != nil {
			return Input{}, err
		}
		return Input{Incident: &inc}, nil
	case env.Source == SourceOpsloop && env.DetailType == DetailIncidentResolved:
		var r Resolution
		if err := decodeDetail(detail, &r); err != nil {
			return Input{}, err
		}
		if strings.TrimSpace(r.OpsItemID) == "" || r.Resolved.IsZero() {
			return Input{}, fmt.Errorf("%s needs opsItemId and resolved: %w", DetailIncidentResolved, ErrInvalid)
		}
		return Input{Resolution: &r}, nil
	case env.Source == SourceOpsloop && env.DetailType == DetailIncidentEscalated:
		var e Escalation
		if err := decodeDetail(detail, &e); err != nil {
			return Input{}, err
		}
		if strings.TrimSpace(e.OpsItemID) == "" || e.Step < 1 || env.Time.IsZero() {
			return Input{}, fmt.Errorf("%s needs opsItemId, a step and the event's time: %w", DetailIncidentEscalated, ErrInvalid)
		}
		e.At = env.Time
		return Input{Escalation: &e}, nil
	case env.Source == SourceSSM && env.DetailType == DetailOpsItemUpdate:
		var d struct {
			ID       string `json:"ops-item-id"`
			Status   string `json:"status"`
			Modified string `json:"modified-time"`
			By       string `json:"modified-by"`
			Source   string `json:"source"`
		}
		if err := decodeDetail(detail, &d); err != nil {
			return Input{}, err
		}
		resolved, acked := strings.EqualFold(d.Status, "Resolved"), strings.EqualFold(d.Status, "InProgress")
		if !resolved && !acked || d.Source != "" && d.Source != SourceOpsloop {
			// Another tool's OpsItem (OpsCenter says whose): nothing of
			// opsloop's to look up or write.
			return Input{}, nil
		}
		if strings.TrimSpace(d.ID) == "" {
			return Input{}, fmt.Errorf("%s without ops-item-id: %w", DetailOpsItemUpdate, ErrInvalid)
		}
		at, err := time.Parse(time.RFC3339Nano, d.Modified)
		if err != nil {
			at = env.Time
		}
		if at.IsZero() {
			return Input{}, fmt.Errorf("%s of %s has no time: %w", DetailOpsItemUpdate, d.ID, ErrInvalid)
		}
		if acked {
			return Input{Acknowledgement: &Acknowledgement{OpsItemID: d.ID, At: at}}, nil
		}
		return Input{Resolution: &Resolution{OpsItemID: d.ID, Resolved: at, ResolvedBy: d.By}}, nil
	}
	return Input{}, nil
}

func decodeDetail(detail []byte, v any) error {
	if len(detail) == 0 || detail[0] != '{' {
		return fmt.Errorf("event detail is not an object: %w", ErrInvalid)
	}
	if err := json.Unmarshal(detail, v); err != nil {
		return fmt.Errorf("event detail: %v: %w", err, ErrInvalid)
	}
	return nil
}

// Handle applies one EventBridge event. Errors wrapping ErrInvalid are
// permanent (record and drop the event); others are worth retrying.
func (t *Tracker) Handle(ctx context.Context, raw []byte) (Outcome, error) {
	in, err := ParseEvent(raw)
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case in.Incident != nil:
		return t.Opened(ctx, *in.Incident)
	case in.Resolution != nil:
		return t.Resolved(ctx, *in.Resolution)
	case in.Acknowledgement != nil:
		return t.Acknowledged(ctx, *in.Acknowledgement)
	case in.Escalation != nil:
		return t.Escalated(ctx, *in.Escalation)
	}
	return Outcome{Action: Ignored}, nil
}
