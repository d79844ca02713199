// Package analysis keeps post-incident analyses: for an incident of a
// severity whose plan asks for one (high and critical by default), the
// timeline opsloop knows (first event, OpsItem created, acknowledged,
// escalations, recovery, the changes before it), the times to detect,
// acknowledge and resolve, and the responder's root cause, lessons and
// action items. An analysis is tracked from the incident's opening, opens
// when the incident resolves, and is done when the responder says so.
package analysis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is where an analysis stands.
type Status string

// The statuses of an analysis, in order.
const (
	// Tracking: the incident is open; the timeline is being kept.
	Tracking Status = "tracking"
	// Open: the incident resolved; the analysis awaits the responder.
	Open Status = "open"
	// Done: the responder recorded what was learned.
	Done Status = "done"
)

// Statuses lists every status, in order.
var Statuses = []Status{Tracking, Open, Done}

// Valid reports whether s is a status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Errors of the package.
var (
	// ErrConflict is returned by a Store when a conditional write lost a race.
	ErrConflict = errors.New("conditional write conflict")
	// ErrNotFound is returned for an OpsItem without an analysis.
	ErrNotFound = errors.New("no such analysis")
	// ErrInvalid marks an edit that can never apply.
	ErrInvalid = errors.New("invalid analysis")
)

// Bounds that keep an analysis item small whatever events and edits bring:
// it is written whole at each step of the incident, and every started KB
// is a write unit. The OpsItem lists all the changes it knew of.
const (
	MaxEscalations = 20
	// MaxChanges and MaxResources keep the nearest changes before the
	// incident and its first resources.
	MaxChanges     = 5
	MaxResources   = 5
	MaxLessons     = 20
	MaxActionItems = 30
	// MaxText bounds the root cause, a lesson and an action item, in bytes.
	MaxText = 2000
)

// Analysis is one incident's post-incident analysis.
type Analysis struct {
	OpsItemID   string `json:"opsItemId"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Problem is the key of the fingerprint's problem record (whether or
	// not it has recurred into a problem yet).
	Problem   string   `json:"problem,omitempty"`
	Rule      string   `json:"rule,omitempty"`
	Title     string   `json:"title,omitempty"`
	Severity  string   `json:"severity,omitempty"`
	Category  string   `json:"category,omitempty"`
	Account   string   `json:"account,omitempty"`
	Region    string   `json:"region,omitempty"`
	Status    Status   `json:"status"`
	Resources []string `json:"resources,omitempty"`

	// FirstEvent is the time of the event that opened the incident;
	// Created when its OpsItem was created; Acknowledged when a responder
	// set it In progress; Resolved when it was resolved, by Resolution.
	FirstEvent   time.Time    `json:"firstEvent,omitzero"`
	Created      time.Time    `json:"created,omitzero"`
	Acknowledged time.Time    `json:"acknowledged,omitzero"`
	Resolved     time.Time    `json:"resolved,omitzero"`
	Resolution   string       `json:"resolution,omitempty"`
	Escalations  []Escalation `json:"escalations,omitempty"`
	// Changes are the changes to the resources before the incident, newest first.
	Changes []Change `json:"changes,omitempty"`

	// What the responder records.
	RootCause   string       `json:"rootCause,omitempty"`
	Lessons     []string     `json:"lessons,omitempty"`
	ActionItems []ActionItem `json:"actionItems,omitempty"`
	// Edited is when the responder last changed the analysis, and Closed
	// when it was marked done.
	Edited time.Time `json:"edited,omitzero"`
	Closed time.Time `json:"closed,omitzero"`

	// Version guards every write: a Put succeeds only over the version it read.
	Version int64 `json:"version"`
}

// Escalation is one response-time escalation of the incident.
type Escalation struct {
	Step     int       `json:"step"`
	At       time.Time `json:"at"`
	Priority int       `json:"priority,omitempty"`
	Contact  string    `json:"contact,omitempty"`
}

// Change is a change to the incident's resources before it opened.
type Change struct {
	Time      time.Time `json:"time"`
	EventName string    `json:"eventName,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	Title     string    `json:"title,omitempty"`
}

// ActionItem is a follow-up the analysis decided on.
type ActionItem struct {
	Text  string `json:"text"`
	Owner string `json:"owner,omitempty"`
	Done  bool   `json:"done,omitempty"`
}

// Entry is one line of an analysis's timeline.
type Entry struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// Timeline is what opsloop knows of the incident, oldest first: the
// changes before it, the first event, the OpsItem's creation, its
// acknowledgement, escalations and resolution.
func (a *Analysis) Timeline() []Entry {
	var es []Entry
	add := func(t time.Time, what string) {
		if !t.IsZero() {
			es = append(es, Entry{At: t, What: what})
		}
	}
	for _, c := range a.Changes {
		what := "change: " + firstOf(c.EventName, c.Title, "a change")
		if c.Actor != "" {
			what += " by " + c.Actor
		}
		add(c.Time, what)
	}
	add(a.FirstEvent, "first event")
	add(a.Created, "OpsItem "+a.OpsItemID+" created")
	add(a.Acknowledged, "acknowledged (In progress)")
	for _, e := range a.Escalations {
		what := fmt.Sprintf("escalated, step %d", e.Step)
		if e.Priority > 0 {
			what += fmt.Sprintf(", priority %d", e.Priority)
		}
		if e.Contact != "" {
			what += ", " + e.Contact + " notified"
		}
		add(e.At, what)
	}
	what := "resolved"
	if a.Resolution != "" {
		what += ": " + a.Resolution
	}
	add(a.Resolved, what)
	slices.SortStableFunc(es, func(x, y Entry) int { return x.At.Compare(y.At) })
	return es
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// TimeToDetect is from the first event to the OpsItem's creation.
func (a *Analysis) TimeToDetect() (time.Duration, bool) { return span(a.FirstEvent, a.Created) }

// TimeToAcknowledge is from the OpsItem's creation to its acknowledgement.
func (a *Analysis) TimeToAcknowledge() (time.Duration, bool) { return span(a.Created, a.Acknowledged) }

// TimeToResolve is from the first event to the resolution.
func (a *Analysis) TimeToResolve() (time.Duration, bool) { return span(a.FirstEvent, a.Resolved) }

func span(from, to time.Time) (time.Duration, bool) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return 0, false
	}
	return to.Sub(from), true
}

// Undone returns the action items not done.
func (a *Analysis) Undone() []ActionItem {
	var out []ActionItem
	for _, it := range a.ActionItems {
		if !it.Done {
			out = append(out, it)
		}
	}
	return out
}

// Clone returns a deep copy of a.
func (a *Analysis) Clone() *Analysis {
	if a == nil {
		return nil
	}
	c := *a
	c.Resources = slices.Clone(a.Resources)
	c.Escalations = slices.Clone(a.Escalations)
	c.Changes = slices.Clone(a.Changes)
	c.Lessons = slices.Clone(a.Lessons)
	c.ActionItems = slices.Clone(a.ActionItems)
	return &c
}

// Sort orders analyses the most recent incident first, then by OpsItem.
func Sort(as []Analysis) {
	slices.SortFunc(as, func(a, b Analysis) int {
		if c := b.FirstEvent.Compare(a.FirstEvent); c != 0 {
			return c
		}
		return strings.Compare(a.OpsItemID, b.OpsItemID)
	})
}

// Store keeps analyses, one item per OpsItem, with conditional writes.
type Store interface {
	// GetAnalysis returns the analysis of an OpsItem, or nil when none.
	GetAnalysis(ctx context.Context, opsItemID string) (*Analysis, error)
	// PutAnalysis writes a if the stored version is a.Version (0: none may
	// exist yet) and stores it as a.Version+1; otherwise it returns an
	// error wrapping ErrConflict and writes nothing.
	PutAnalysis(ctx context.Context, a *Analysis) error
	// ListAnalyses returns the analyses of status, the most recent first.
	ListAnalyses(ctx context.Context, status Status) ([]Analysis, error)
}

// Edit is a responder's change to an analysis. Nil fields change nothing.
type Edit struct {
	RootCause *string
	// AddLessons and AddActions append; DoneActions marks the action
	// items of these 1-based numbers done.
	AddLessons  []string
	AddActions  []ActionItem
	DoneActions []int
	// Close marks the analysis done; Reopen opens it again.
	Close, Reopen bool
}

// apply applies e to a at now, or says what is wrong with it.
func (e Edit) apply(a *Analysis, now time.Time) error {
	if e.Close && e.Reopen {
		return fmt.Errorf("close and reopen at once: %w", ErrInvalid)
	}
	if a.Status == Tracking && (e.Close || e.Reopen) {
		return fmt.Errorf("analysis of %s: the incident is still open: %w", a.OpsItemID, ErrInvalid)
	}
	if e.RootCause != nil {
		if err := text("root cause", *e.RootCause); err != nil {
			return err
		}
		a.RootCause = strings.TrimSpace(*e.RootCause)
	}
	for _, l := range e.AddLessons {
		if err := text("lesson", l); err != nil {
			return err
		}
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("lesson is empty: %w", ErrInvalid)
		}
		a.Lessons = append(a.Lessons, strings.TrimSpace(l))
	}
	if len(a.Lessons) > MaxLessons {
		return fmt.Errorf("%d lessons: at most %d: %w", len(a.Lessons), MaxLessons, ErrInvalid)
	}
	for _, it := range e.AddActions {
		if err := text("action item", it.Text+it.Owner); err != nil {
			return err
		}
		if strings.TrimSpace(it.Text) == "" {
			return fmt.Errorf("action item is empty: %w", ErrInvalid)
		}
		it.Text, it.Owner = strings.TrimSpace(it.Text), strings.TrimSpace(it.Owner)
		a.ActionItems = append(a.ActionItems, it)
	}
	if len(a.ActionItems) > MaxActionItems {
		return fmt.Errorf("%d action items: at most %d: %w", len(a.ActionItems), MaxActionItems, ErrInvalid)
	}
	for _, n := range e.DoneActions {
		if n < 1 || n > len(a.ActionItems) {
			return fmt.Errorf("action item %d: the analysis has %d: %w", n, len(a.ActionItems), ErrInvalid)
		}
		a.ActionItems[n-1].Done = true
	}
	switch {
	case e.Close:
		a.Status, a.Closed = Done, now
	case e.Reopen:
		a.Status, a.Closed = Open, time.Time{}
	}
	a.Edited = now
	return nil
}

func text(what, s string) error {
	if len(s) > MaxText {
		return fmt.Errorf("%s of %d bytes: at most %d: %w", what, len(s), MaxText, ErrInvalid)
	}
	return nil
}
