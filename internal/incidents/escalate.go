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
// the incidents whose OpsItems Responses cannot list (in other accounts)
// or whose due the budget's tally was not told of (see Escalate).
type Dues interface {
	Due(ctx context.Context, fingerprint string, at time.Time) error
	Undue(ctx context.Context, fingerprint string) error
	// DueBy lists the fingerprints due at or before t.
	DueBy(ctx context.Context, t time.Time) ([]string, error)
}

// Responses is what OpsCenter tells of responses: an OpsItem's status
// ("Open" until a responder acknowledges it by setting it "InProgress", or
// it is resolved), and the OpsItems of the deployment's own account still
// Open, with when their responses are due (KeyDue).
type Responses interface {
	Status(ctx context.Context, id string) (string, error)
	Open(ctx context.Context) ([]OpenResponse, error)
}

// OpenResponse is an Open OpsItem and what its OperationalData says of
// its incident: anyone allowed to edit the OpsItem could have changed that,
// so the record decides (the same OpsItem, and due by the record's own
// time).
type OpenResponse struct {
	OpsItemID   string
	Fingerprint string
	Due         time.Time // zero: none
}

// ResponseOf is what the OpsItem id, of OperationalData data, says of its
// response; false when it is not an incident's.
func ResponseOf(id string, data map[string]Data) (OpenResponse, bool) {
	fp := data[KeyFingerprint].Value
	if fp == "" {
		return OpenResponse{}, false
	}
	due, _ := time.Parse(time.RFC3339, data[KeyDue].Value) // "none", as before: zero
	return OpenResponse{OpsItemID: id, Fingerprint: fp, Due: due}, true
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

// due schedules rec's next response check in Dues, unless hinted: the
// budget's tally was told of it (see Escalate). Responses cannot list an
// OpsItem in another account, so those are always in Dues.
func (m *Manager) due(ctx context.Context, rec *Record, hinted bool) {
	if m.dues == nil || rec.DueAt.IsZero() || hinted && rec.first().OpsItemAccount == "" {
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
//
// OpsCenter keeps the dues of the deployment's own OpsItems (KeyDue), and
// listing them costs an OpsCenter request, so the budget's month tally
// keeps the earliest as a hint (each new OpsItem's Take tells it its due):
// the schedule lists the Open OpsItems only once the hint has come, and
// then sets it to the next due among them. No write per incident is spent
// on its due, and no request per run.
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
	list, hints, err := m.dueHints(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("escalate: %w", err)
	}
	var open []OpenResponse
	if list {
		if open, err = m.responses.Open(ctx); err != nil {
			return rep, fmt.Errorf("escalate: %w", err)
		}
	}
	var errs []error
	var next time.Time // the earliest due of the own OpsItems after this run
	sooner := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	run := func(fp, opsItemID string) {
		rep.Due++
		escalated, acked, due, err := m.escalate(ctx, fp, opsItemID)
		switch {
		case err != nil:
			errs = append(errs, err)
		case escalated:
			rep.Escalated++
		case acked:
			rep.Acknowledged++
		}
		if opsItemID != "" {
			sooner(due)
		}
	}
	for _, fp := range tracked {
		run(fp, "")
	}
	for _, o := range open {
		switch {
		case slices.Contains(tracked, o.Fingerprint) || o.Due.IsZero():
		case o.Due.After(now):
			sooner(o.Due)
		default:
			run(o.Fingerprint, o.OpsItemID)
		}
	}
	if list && len(errs) == 0 {
		m.resetHints(ctx, hints, next)
	}
	return rep, errors.Join(errs...)
}

// escalationStep is the id the record's pending call has for a step.
func escalationStep(step int) string { return fmt.Sprintf("escalation:%d", step) }

// hint is a month tally and the due hint it held.
type hint struct {
	tally Tally
	DueHint
}

// dueHints reads the hints of this month's tally and the last month's (an
// OpsItem opened at the end of a month is due in the next), and reports
// whether one has come. Without a budget there is no hint: always list.
func (m *Manager) dueHints(ctx context.Context, now time.Time) (bool, []hint, error) {
	if m.counters == nil {
		return true, nil, nil
	}
	u := now.UTC()
	first := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	list := false
	var hints []hint
	for _, at := range []time.Time{now, first.Add(-time.Nanosecond)} {
		t := monthTally(at)
		h, err := m.counters.Hint(ctx, t)
		if err != nil {
			return false, nil, fmt.Errorf("due hint %s: %w", t.Key, err)
		}
		hints = append(hints, hint{t, h})
		list = list || !h.At.IsZero() && !h.At.After(now)
	}
	return list, hints, nil
}

// resetHints moves the hint to next, the earliest due the run left, in
// this month's tally, and clears last month's. A Take in between wins: the
// hint stays as it was, and the next run lists again.
func (m *Manager) resetHints(ctx context.Context, hints []hint, next time.Time) {
	if len(hints) == 0 {
		return
	}
	cur := hints[0]
	if !cur.At.Equal(next) {
		ok, err := m.counters.SetHint(ctx, cur.tally, cur.DueHint, next)
		if err != nil || !ok {
			if err != nil {
				m.log.WarnContext(ctx, "due hint not moved", "tally", cur.tally.Key, "error", err)
			}
			return
		}
	}
	for _, h := range hints[1:] {
		if h.At.IsZero() {
			continue
		}
		if _, err := m.counters.SetHint(ctx, h.tally, h.DueHint, time.Time{}); err != nil {
			m.log.WarnContext(ctx, "due hint not cleared", "tally", h.tally.Key, "error", err)
		}
	}
}

// escalate takes the next step of fp's response if it is due: fp comes from
// Dues, or from the Open OpsItem opsItemID that said it is due. It returns
// when the response is next due (zero: no more).
func (m *Manager) escalate(ctx context.Context, fp, opsItemID string) (escalated, acked bool, next time.Time, err error) {
	rec, err := m.get(ctx, fp)
	if err != nil {
		return false, false, time.Time{}, err
	}
	tracked := opsItemID == ""
	if !tracked && (rec == nil || rec.OpsItemID != opsItemID) {
		// Another deployment's OpsItem, or one whose fingerprint was
		// edited: not this record's to escalate.
		return false, false, time.Time{}, nil
	}
	now := m.now()
	if rec == nil || rec.Status != StatusOpen || rec.OpsItemID == "" || rec.DueAt.IsZero() {
		m.undue(ctx, fp, tracked)
		return false, true, time.Time{}, nil
	}
	if rec.DueAt.After(now) || m.claimed(rec) {
		return false, false, rec.DueAt, nil // not due yet, or a worker is busy with it
	}
	status := StatusOpsItemOpen // as listed
	if tracked {
		if status, err = m.responses.Status(ctx, rec.OpsItemID); err != nil {
			return false, false, time.Time{}, fmt.Errorf("status of OpsItem %s for %s: %w", rec.OpsItemID, fp, err)
		}
	}
	if status != StatusOpsItemOpen {
		rec.DueAt = time.Time{}
		if err := m.put(ctx, rec); err != nil && !errors.Is(err, ErrConflict) {
			return false, false, time.Time{}, err
		}
		m.undue(ctx, fp, tracked)
		return false, true, time.Time{}, nil
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
	rec.Pending, rec.Owed, rec.Claimed = escalationStep(step), CallUpdate, now
	if err := m.put(ctx, rec); err != nil {
		if errors.Is(err, ErrConflict) {
			// Another copy of the schedule took the step; its next due is
			// not known here, so this one's stays: the hint is not moved
			// past it, and the next run looks again.
			return false, false, due, nil
		}
		return false, false, time.Time{}, err
	}
	if _, err := m.sync(ctx, rec, m.outcome(Repeated, rec)); err != nil {
		return false, false, time.Time{}, err
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
	switch {
	case rec.DueAt.IsZero():
		m.undue(ctx, fp, tracked)
	case tracked:
		m.due(ctx, rec, false)
	}
	return true, false, rec.DueAt, nil
}
