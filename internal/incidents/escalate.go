package incidents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// DetailEscalated is the detail type of "Incident Escalated": an OpsItem
// left Open past its severity's response time was raised a step.
const DetailEscalated = "Incident Escalated"

// Dues keeps when each open incident's response is next due, so that a
// schedule finds the incidents nobody acknowledged in time. It keeps only
// the incidents whose OpsItems are in other accounts: an OpsItem of the
// deployment's own account says itself when its response is due (KeyDue),
// and Responses lists it, with no write of opsloop's per incident.
type Dues interface {
	Due(ctx context.Context, fingerprint string, at time.Time) error
	Undue(ctx context.Context, fingerprint string) error
	// DueBy lists the fingerprints due at or before t.
	DueBy(ctx context.Context, t time.Time) ([]string, error)
}

// Responses is what OpsCenter tells of responses: an OpsItem's status
// ("Open" until a responder acknowledges it by setting it "InProgress", or
// it is resolved), and the OpsItems of the deployment's own account still
// Open whose KeyDue is at or before t.
type Responses interface {
	Status(ctx context.Context, id string) (string, error)
	Overdue(ctx context.Context, t time.Time) ([]Overdue, error)
}

// Overdue is an Open OpsItem whose response is due, as its OperationalData
// says: anyone allowed to edit the OpsItem could have changed that, so the
// record decides (the same OpsItem, and due by the record's own time).
type Overdue struct {
	OpsItemID   string
	Fingerprint string
}

// DueIn reports whether the OpsItem id, of OperationalData data, says its
// response is due at or before t: what Responses.Overdue lists.
func DueIn(id string, data map[string]Data, t time.Time) (Overdue, bool) {
	due, err := time.Parse(time.RFC3339, data[KeyDue].Value)
	fp := data[KeyFingerprint].Value
	if err != nil || fp == "" || due.After(t) {
		return Overdue{}, false
	}
	return Overdue{OpsItemID: id, Fingerprint: fp}, true
}

// WithEscalation tracks response times: an incident whose OpsItem is still
// Open when its severity's response time has passed is escalated by
// Escalate, once per response time, until acknowledged or resolved.
func WithEscalation(d Dues, r Responses) Option {
	return func(m *Manager) { m.dues, m.responses = d, r }
}

// EscalatedDetail is the detail of "Incident Escalated".
type EscalatedDetail struct {
	SchemaVersion string    `json:"schemaVersion"`
	OpsItemID     string    `json:"opsItemId"`
	Fingerprint   string    `json:"fingerprint"`
	Rule          string    `json:"rule"`
	Title         string    `json:"title"`
	Severity      string    `json:"severity,omitempty"`
	Step          int       `json:"step"`     // 1 for the first escalation
	Priority      int       `json:"priority"` // the OpsItem's priority now
	Contact       string    `json:"contact,omitempty"`
	Opened        time.Time `json:"opened"`
	Due           time.Time `json:"due"` // when the response was due
	// Notification is the chat message of the escalation.
	Notification *Notification `json:"notification,omitempty"`
}

// EscalateReport is what one Escalate did.
type EscalateReport struct {
	Due          int `json:"due"`
	Escalated    int `json:"escalated"`
	Acknowledged int `json:"acknowledged"` // InProgress or resolved: no longer tracked
}

// due schedules rec's next response check: in Dues when its OpsItem is in
// another account, which Responses cannot list.
func (m *Manager) due(ctx context.Context, rec *Record) {
	if m.dues == nil || rec.DueAt.IsZero() || rec.first().OpsItemAccount == "" {
		return
	}
	if err := m.dues.Due(ctx, rec.Fingerprint, rec.DueAt); err != nil {
		m.log.WarnContext(ctx, "response time not tracked", "fingerprint", rec.Fingerprint, "error", err)
	}
}

// undue stops tracking fp in Dues, when it was tracked there.
func (m *Manager) undue(ctx context.Context, fp string, tracked bool) {
	if m.dues == nil || !tracked {
		return
	}
	if err := m.dues.Undue(ctx, fp); err != nil {
		m.log.WarnContext(ctx, "response time left tracked", "fingerprint", fp, "error", err)
	}
}

// Escalate raises every incident whose response is due and whose OpsItem
// is still Open: a priority step up (to 1 at most), the next of its
// severity's escalation contacts notified, "Incident Escalated" published.
// Each step is claimed in the record with a conditional write, so copies of
// the schedule run at once escalate once. The incidents function runs it
// on a schedule.
func (m *Manager) Escalate(ctx context.Context) (EscalateReport, error) {
	var rep EscalateReport
	if m.dues == nil || m.responses == nil {
		return rep, nil
	}
	now := m.now()
	tracked, err := m.dues.DueBy(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("escalate: %w", err)
	}
	overdue, err := m.responses.Overdue(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("escalate: %w", err)
	}
	type due struct {
		fp, opsItemID string // the OpsItem's own id when it said it is due
	}
	var dues []due
	for _, fp := range tracked {
		dues = append(dues, due{fp: fp})
	}
	for _, o := range overdue {
		if !slices.Contains(tracked, o.Fingerprint) {
			dues = append(dues, due{o.Fingerprint, o.OpsItemID})
		}
	}
	rep.Due = len(dues)
	var errs []error
	for _, d := range dues {
		escalated, acked, err := m.escalate(ctx, d.fp, d.opsItemID)
		switch {
		case err != nil:
			errs = append(errs, err)
		case escalated:
			rep.Escalated++
		case acked:
			rep.Acknowledged++
		}
	}
	return rep, errors.Join(errs...)
}

// escalate takes the next step of fp's response if it is due: fp comes from
// Dues, or from the OpsItem opsItemID that said it is due.
func (m *Manager) escalate(ctx context.Context, fp, opsItemID string) (escalated, acked bool, err error) {
	rec, err := m.get(ctx, fp)
	if err != nil {
		return false, false, err
	}
	tracked := opsItemID == ""
	if !tracked && (rec == nil || rec.OpsItemID != opsItemID) {
		// Another deployment's OpsItem, or one whose fingerprint was
		// edited: not this record's to escalate.
		return false, false, nil
	}
	now := m.now()
	if rec == nil || rec.Status != StatusOpen || rec.OpsItemID == "" || rec.DueAt.IsZero() {
		m.undue(ctx, fp, tracked)
		return false, true, nil
	}
	if rec.DueAt.After(now) || m.claimed(rec) {
		return false, false, nil // not due yet, or a worker is busy with it
	}
	status, err := m.responses.Status(ctx, rec.OpsItemID)
	if err != nil {
		return false, false, fmt.Errorf("status of OpsItem %s for %s: %w", rec.OpsItemID, fp, err)
	}
	if status != StatusOpsItemOpen {
		rec.DueAt = time.Time{}
		if err := m.put(ctx, rec); err != nil && !errors.Is(err, ErrConflict) {
			return false, false, err
		}
		m.undue(ctx, fp, tracked)
		return false, true, nil
	}
	due := rec.DueAt
	rec.Escalated++
	step := rec.Escalated
	if rec.Priority == 0 || rec.Priority > MinPriority {
		if rec.Priority == 0 {
			rec.Priority = MaxPriority
		}
		rec.Priority--
	}
	contact := ""
	if step <= len(rec.Plan.EscalateTo) {
		contact = rec.Plan.EscalateTo[step-1]
	}
	rec.DueAt = time.Time{}
	if rt := rec.Plan.ResponseTime; rt > 0 && (step < len(rec.Plan.EscalateTo) || rec.Priority > MinPriority) {
		rec.DueAt = now.Add(rt)
	}
	id := fmt.Sprintf("escalation:%d", step)
	rec.Pending, rec.Owed, rec.Claimed = id, CallUpdate, now
	if err := m.put(ctx, rec); err != nil {
		if errors.Is(err, ErrConflict) {
			return false, false, nil // another copy of the schedule took the step
		}
		return false, false, err
	}
	if _, err := m.sync(ctx, rec, m.outcome(Repeated, rec)); err != nil {
		return false, false, err
	}
	ev := Event{DetailType: DetailEscalated, Detail: EscalatedDetail{
		SchemaVersion: "1", OpsItemID: rec.OpsItemID, Fingerprint: fp, Rule: rec.Rule, Title: rec.Title,
		Severity: rec.Severity, Step: step, Priority: rec.Priority, Contact: contact, Opened: rec.FirstSeen, Due: due,
		Notification: m.notification(rec, DetailEscalated, step, contact),
	}}
	if err := m.publish(ctx, ev); err != nil {
		// The step is taken and the OpsItem updated: the event is lost,
		// logged, rather than the step repeated.
		m.log.WarnContext(ctx, "escalation not published", "fingerprint", fp, "step", step, "error", err)
	}
	m.log.InfoContext(ctx, "incident escalated", "fingerprint", fp, "opsitem_id", rec.OpsItemID, "step", step, "priority", rec.Priority)
	if rec.DueAt.IsZero() {
		m.undue(ctx, fp, tracked)
	} else {
		m.due(ctx, rec)
	}
	return true, false, nil
}
