package incidents

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/wait"
)

// Manager runs the OpsItem lifecycle: it applies each signal.Signal to the
// fingerprint's Record and makes the OpsCenter calls the change needs.
//
// Every step is safe to repeat. Each OpsCenter call the record owes is
// claimed in it first (a conditional write), then made, then the record is
// written again. Other workers wait for a claimed call instead of making it
// too; a crash between the steps leaves a claim that the next signal for
// the fingerprint takes over once the claim grace has passed, and
// OpsCenter's dedup string makes a repeated CreateOpsItem return the
// OpsItem already created. A redelivered signal the record remembers
// changes nothing and calls nothing.
//
// A Manager is safe for concurrent use when its OpsCenter, Store, Changes
// and Publisher are.
type Manager struct {
	ops         OpsCenter
	store       Store
	changes     Changes
	pub         Publisher
	topic       string
	lookback    time.Duration
	limitRetry  time.Duration
	grace       time.Duration
	attempts    int
	counters    Counters
	waitlist    Waitlist
	dues        Dues
	responses   Responses
	region      string
	automations Automations
	now         func() time.Time
	log         *slog.Logger
}

// Changes looks up what changed on a resource: the changes recorded for it
// within (before-lookback, before], oldest first.
type Changes interface {
	Changes(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error)
}

// ChangesFunc adapts a function to Changes.
type ChangesFunc func(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error)

// Changes implements Changes.
func (f ChangesFunc) Changes(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error) {
	return f(ctx, resource, before, lookback)
}

// Change is one recorded change to a resource, as a responder reads it.
type Change struct {
	Time      time.Time `json:"time"`
	EventName string    `json:"eventName,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	Title     string    `json:"title,omitempty"`
}

// Publisher puts opsloop's own events on the opsloop bus.
type Publisher interface {
	Publish(ctx context.Context, detailType string, detail any) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, detailType string, detail any) error

// Publish implements Publisher.
func (f PublisherFunc) Publish(ctx context.Context, detailType string, detail any) error {
	return f(ctx, detailType, detail)
}

// Option configures a Manager.
type Option func(*Manager)

// WithDefaultTopic sets the SNS topic ARN that replaces "default" in a
// plan's notify list. Without it, "default" is dropped.
func WithDefaultTopic(arn string) Option {
	return func(m *Manager) { m.topic = strings.TrimSpace(arn) }
}

// WithChanges looks up the changes to an incident's resources in the
// lookback before it opened (an hour when lookback is 0), for the OpsItem's
// description and its opsloop:recentChanges.
func WithChanges(c Changes, lookback time.Duration) Option {
	return func(m *Manager) {
		m.changes = c
		if lookback > 0 {
			m.lookback = lookback
		}
	}
}

// WithPublisher publishes "Incident Opened" and "Incident Resolved" before
// the record that ends the step is written, so a failed publish is retried
// with the signal: at least once, never lost. Consumers deduplicate on the
// OpsItem id and detail type. Without a Publisher the events are only
// returned in the Outcome.
func WithPublisher(p Publisher) Option { return func(m *Manager) { m.pub = p } }

// WithClock sets the clock (time.Now by default).
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithLogger sets the logger (none by default).
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// WithLimitRetry sets how long after OpsCenter refused an OpsItem for its
// quotas the Manager tries to create it again (an hour by default).
func WithLimitRetry(d time.Duration) Option { return func(m *Manager) { m.limitRetry = d } }

// WithClaimGrace sets how long a worker's claim on an OpsCenter call holds
// (see Record.Claimed): until it passes, other workers wait for the call
// instead of making it too; after it, a claim left by a worker that died is
// taken over (10 seconds by default, well above a call with its retries).
func WithClaimGrace(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.grace = d
		}
	}
}

// WithAttempts sets how many times a lost race is re-read and retried
// before the signal fails with a retryable error (5 by default).
func WithAttempts(n int) Option {
	return func(m *Manager) {
		if n > 0 {
			m.attempts = n
		}
	}
}

// Defaults of a Manager.
const (
	DefaultLookback   = time.Hour
	DefaultLimitRetry = time.Hour
	DefaultAttempts   = 5
	DefaultGrace      = 10 * time.Second
	// RecoveryTTL is how long a record that only keeps a recovery that
	// found nothing open is kept: the longest a detection can wait in an
	// SQS dead-letter queue (its maximum retention) before a redrive.
	RecoveryTTL = 14 * 24 * time.Hour
)

// Polling for another worker's claimed call: from the first wait, doubling
// up to the longest.
const (
	firstWait   = 20 * time.Millisecond
	longestWait = 500 * time.Millisecond
	// conflictPause bounds the random pause after the first lost race; it
	// grows with each one lost.
	conflictPause = 10 * time.Millisecond
)

// errClaimed says another worker is making the OpsCenter call the record owes.
var errClaimed = errors.New("another worker is making its OpsCenter call")

// recentIDs is how many signal ids a record remembers.
const recentIDs = 64

// New returns a Manager that opens OpsItems in ops and keeps records in store.
func New(ops OpsCenter, store Store, opts ...Option) *Manager {
	m := &Manager{
		ops: ops, store: store,
		lookback: DefaultLookback, limitRetry: DefaultLimitRetry, grace: DefaultGrace, attempts: DefaultAttempts,
		now: time.Now, log: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Action is what handling a signal did.
type Action string

// The actions of Handle.
const (
	// Opened: a new OpsItem was created (or an interrupted creation finished).
	Opened Action = "opened"
	// Repeated: a repeat of an open incident was counted; Outcome.Updated
	// says whether the OpsItem was updated.
	Repeated Action = "repeated"
	// Resolved: the incident recovered and its OpsItem was resolved.
	Resolved Action = "resolved"
	// Held: the incident recovered while flapping, so its OpsItem stays open.
	Held Action = "held"
	// Duplicate: the signal was handled before; nothing changed.
	Duplicate Action = "duplicate"
	// NoIncident: a recovery with no open incident to resolve.
	NoIncident Action = "no-incident"
	// Stale: the signal is older than the state it would change: a recovery
	// older than the last detection, a detection older than the last recovery.
	Stale Action = "stale"
	// LimitExceeded: the incident is open but OpsCenter refuses to create
	// its OpsItem for its quotas. The error wraps ErrLimitExceeded and is
	// permanent; repeats keep being counted and creation is tried again
	// after the limit-retry interval.
	LimitExceeded Action = "limit-exceeded"
	// Rejected: the signal is malformed; the error is permanent.
	Rejected Action = "rejected"
)

// Outcome is the result of handling one signal.
type Outcome struct {
	Action      Action `json:"action"`
	Fingerprint string `json:"fingerprint"`
	OpsItemID   string `json:"opsItemId,omitempty"`
	Occurrences int    `json:"occurrences,omitempty"`
	// Created and Updated say whether CreateOpsItem and UpdateOpsItem were
	// called successfully. Created is set only once the OpsItem's id is
	// recorded, a conditional write that succeeds once per OpsItem: exactly
	// one signal reports it, whichever worker wins a race and however often
	// a failed attempt was retried, so it is what counts OpsItems opened.
	Created bool `json:"created,omitempty"`
	Updated bool `json:"updated,omitempty"`
	// Resolved is set when the handling made an incident's resolution
	// final, the conditional write that clears its claim: once per
	// resolution, so it is what counts incidents resolved.
	Resolved bool `json:"resolved,omitempty"`
	// Events are the events published (or, without a Publisher, to publish).
	Events []Event `json:"events,omitempty"`
}

// Event is one of opsloop's own events.
type Event struct {
	DetailType string `json:"detailType"`
	Detail     any    `json:"detail"`
}

// OpenedDetail is the detail of "Incident Opened".
type OpenedDetail struct {
	SchemaVersion   string    `json:"schemaVersion"`
	OpsItemID       string    `json:"opsItemId"`
	Fingerprint     string    `json:"fingerprint"`
	Rule            string    `json:"rule"`
	Title           string    `json:"title"`
	Severity        string    `json:"severity,omitempty"`
	OpsItemSeverity string    `json:"opsItemSeverity,omitempty"`
	Category        string    `json:"category,omitempty"`
	Resources       []string  `json:"resources,omitempty"`
	Account         string    `json:"account,omitempty"`
	Region          string    `json:"region,omitempty"`
	Opened          time.Time `json:"opened"`  // the opening event's time
	EventID         string    `json:"eventId"` // the opening event's id
	Previous        []string  `json:"previous,omitempty"`
	// Created is when the OpsItem was created; Changes are the changes to
	// the resources before the incident, newest first (the post-incident
	// analysis's timeline starts with them).
	Created time.Time `json:"created,omitzero"`
	Changes []Change  `json:"changes,omitempty"`
	// Notification is the chat message of the opening.
	Notification *Notification `json:"notification,omitempty"`
}

// ResolvedDetail is the detail of "Incident Resolved".
type ResolvedDetail struct {
	SchemaVersion string    `json:"schemaVersion"`
	OpsItemID     string    `json:"opsItemId"`
	Fingerprint   string    `json:"fingerprint"`
	Rule          string    `json:"rule"`
	Title         string    `json:"title"`
	Severity      string    `json:"severity,omitempty"`
	Category      string    `json:"category,omitempty"`
	Resources     []string  `json:"resources,omitempty"`
	Opened        time.Time `json:"opened"`
	Resolved      time.Time `json:"resolved"`
	Occurrences   int       `json:"occurrences"`
	Flapping      bool      `json:"flapping,omitempty"`
	// EventID is the id of the event that recovered the incident.
	EventID    string `json:"eventId"`
	Resolution string `json:"resolution"`
}

// Handle applies s. A nil error means s is fully handled. Otherwise
// Retryable(err) says whether handling s again can succeed (throttling, a
// lost race, a crash) or not (a malformed signal, OpsCenter's quotas): the
// caller retries the first and records the second.
func (m *Manager) Handle(ctx context.Context, s signal.Signal) (Outcome, error) {
	if err := s.Validate(); err != nil {
		m.log.WarnContext(ctx, "signal rejected", "event_id", s.EventID, "fingerprint", s.Fingerprint, "error", err)
		return Outcome{Action: Rejected, Fingerprint: s.Fingerprint}, Permanent(fmt.Errorf("handle signal %s: %w", s.EventID, err))
	}
	if s.Time.IsZero() {
		s.Time = m.now()
	}
	return m.apply(ctx, s, nil)
}

// apply applies s, a valid signal, retrying lost races and waiting for
// other workers' claimed calls. A roll-up's detection carries the incident
// it holds back (held).
func (m *Manager) apply(ctx context.Context, s signal.Signal, held *HeldIncident) (Outcome, error) {
	conflicts, pause, waited := 0, firstWait, time.Duration(0)
	// done keeps what attempts that lost a race did all the same (an
	// OpsItem created, a resolution settled): reported once, by this
	// signal, or never.
	var done Outcome
	for {
		out, err := m.handle(ctx, &s, held)
		out = merge(done, out)
		done = Outcome{Created: out.Created, Resolved: out.Resolved, Updated: out.Updated, Events: out.Events}
		switch {
		case errors.Is(err, errClaimed) && waited < m.grace:
			// Wait for the other worker's call rather than make it
			// twice; the wait ends when the grace would have.
			if err := wait.For(ctx, pause); err != nil {
				return out, fmt.Errorf("handle signal %s: %w", s.EventID, err)
			}
			waited += pause
			pause = min(2*pause, longestWait)
			continue
		case errors.Is(err, ErrConflict):
			if conflicts++; conflicts < m.attempts {
				// A random pause spreads workers racing for one record
				// (a storm's) so that fewer lose again.
				if err := wait.For(ctx, rand.N(time.Duration(conflicts)*conflictPause)); err != nil {
					return out, fmt.Errorf("handle signal %s: %w", s.EventID, err)
				}
				continue
			}
			out = merge(done, Outcome{Fingerprint: s.Fingerprint})
			err = fmt.Errorf("handle signal %s for %s after %d attempts: %w", s.EventID, s.Fingerprint, m.attempts, err)
		}
		m.logOutcome(ctx, &s, out, err)
		return out, err
	}
}

func (m *Manager) logOutcome(ctx context.Context, s *signal.Signal, out Outcome, err error) {
	level := slog.LevelDebug
	switch {
	case err != nil && Retryable(err):
		level = slog.LevelWarn
	case err != nil:
		level = slog.LevelError
	case out.Action == Opened || out.Action == Resolved || out.Action == Held || out.Updated:
		level = slog.LevelInfo
	}
	attrs := []any{"action", string(out.Action), "rule", s.Rule, "fingerprint", s.Fingerprint,
		"event_id", s.EventID, "opsitem_id", out.OpsItemID, "occurrences", out.Occurrences}
	if err != nil {
		attrs = append(attrs, "error", err, "retryable", Retryable(err))
	}
	m.log.Log(ctx, level, "signal handled", attrs...)
}

// handle makes one attempt; ErrConflict means another writer got there
// first and the caller tries again from a fresh read.
func (m *Manager) handle(ctx context.Context, s *signal.Signal, held *HeldIncident) (Outcome, error) {
	rec, err := m.get(ctx, s.Fingerprint)
	if err != nil {
		return Outcome{Fingerprint: s.Fingerprint}, err
	}
	var done Outcome
	if rec != nil {
		if done, err = m.finish(ctx, rec, s); err != nil {
			return done, err
		}
	}
	if rec != nil && rec.Remembers(s.EventID) {
		switch {
		case rec.Pending == s.EventID && rec.Owed == CallUpdate:
			// The update this signal owes was not made yet.
			return m.takeOver(ctx, rec, Repeated)
		case done.Action != "":
			return done, nil // finishing was this signal's own work
		}
		return m.outcome(Duplicate, rec), nil
	}
	var out Outcome
	switch s.Kind {
	case signal.Detected:
		switch {
		case rec == nil:
			out, err = m.open(ctx, nil, s, held)
		case held == nil && (rec.Status != StatusOpen && s.Time.Before(rec.ResolvedAt) ||
			rec.Status == StatusOpen && s.Time.Before(rec.PreviousResolved)):
			out = m.outcome(Stale, rec)
		case rec.Status != StatusOpen:
			out, err = m.open(ctx, rec, s, held)
		default:
			out, err = m.repeat(ctx, rec, s, held)
		}
	default:
		switch {
		case rec == nil || rec.Status != StatusOpen:
			out, err = m.keepRecovery(ctx, rec, s)
		case s.Time.Before(rec.LastSeen):
			out = m.outcome(Stale, rec)
		default:
			out, err = m.recover(ctx, rec, s)
		}
	}
	return merge(done, out), err
}

// merge adds to out what finishing earlier work (done) did.
func merge(done, out Outcome) Outcome {
	out.Created = out.Created || done.Created
	out.Updated = out.Updated || done.Updated
	out.Resolved = out.Resolved || done.Resolved
	out.Events = append(slices.Clip(done.Events), out.Events...)
	return out
}

// finish completes what an earlier attempt left undone on rec before s is
// applied: an OpsItem whose creation was interrupted, an unconfirmed
// resolution, the resolution of an incident detected after its recovery.
func (m *Manager) finish(ctx context.Context, rec *Record, s *signal.Signal) (Outcome, error) {
	var done Outcome
	if rec.Owed == CallCreate && !rec.HeldAt.IsZero() && !rec.RolledUp {
		// A hold whose roll-up was not counted: count it first.
		out, err := m.rollUp(ctx, rec)
		if err != nil {
			return out, err
		}
		done = out
	}
	if rec.Owed == CallCreate && !m.limited(rec) && !m.held(rec) {
		if m.claimed(rec) {
			return m.outcome(Opened, rec), fmt.Errorf("incident %s: %w", rec.Fingerprint, errClaimed)
		}
		// A failed call or a worker that died left the OpsItem
		// unrecorded: claim its creation and finish it. The dedup string
		// returns the OpsItem if it exists.
		if rec.First == nil {
			// Left as claimed (see claim): the signal at hand describes
			// the OpsItem in place of the first one.
			first := firstSignal(s)
			rec.First, rec.Plan = &first, s.Plan.Clone()
		}
		rec.Claimed = m.now()
		if err := m.put(ctx, rec); err != nil {
			return m.outcome(Opened, rec), err
		}
		out, err := m.create(ctx, rec)
		if err != nil && !(errors.Is(err, ErrLimitExceeded) && !Retryable(err)) {
			return merge(done, out), err
		}
		// Refused for OpsCenter's quotas or held back by the budget: the
		// signal still counts, and a repeat reports the refusal again.
		done = merge(done, out)
	}
	if rec.Owed == CallResolve {
		// A resolution whose update is owed: it comes before anything new.
		var err error
		if done, err = m.takeOver(ctx, rec, Resolved); err != nil {
			return done, err
		}
	}
	if rec.Status == StatusOpen && rec.OpsItemID != "" && rec.Recovery != nil {
		out, err := m.recover(ctx, rec, rec.Recovery)
		if done = merge(done, out); err != nil {
			return done, err
		}
	}
	return done, nil
}

// claimed reports whether another worker's claim on rec's owed call is
// recent enough to wait for.
func (m *Manager) claimed(rec *Record) bool {
	return !rec.Claimed.IsZero() && m.now().Sub(rec.Claimed) < m.grace
}

// takeOver makes the update rec owes (rec.Pending) unless another worker is
// making it: it claims the update, then makes it.
func (m *Manager) takeOver(ctx context.Context, rec *Record, a Action) (Outcome, error) {
	if m.claimed(rec) {
		return m.outcome(a, rec), fmt.Errorf("incident %s: %w", rec.Fingerprint, errClaimed)
	}
	rec.Claimed = m.now()
	if err := m.put(ctx, rec); err != nil {
		return m.outcome(a, rec), err
	}
	return m.sync(ctx, rec, m.outcome(a, rec))
}

func (m *Manager) outcome(a Action, rec *Record) Outcome {
	return Outcome{Action: a, Fingerprint: rec.Fingerprint, OpsItemID: rec.OpsItemID, Occurrences: rec.Occurrences}
}

// get reads fingerprint's record, with the call it owes.
func (m *Manager) get(ctx context.Context, fingerprint string) (*Record, error) {
	rec, err := m.store.Get(ctx, fingerprint)
	if err != nil {
		return nil, fmt.Errorf("get incident %s: %w", fingerprint, err)
	}
	rec.upgrade()
	return rec, nil
}

// put writes rec over the version it was read at and advances that version.
func (m *Manager) put(ctx context.Context, rec *Record) error {
	c := rec.Clone()
	if c.OpsItemID != "" && c.First != nil {
		// The OpsItem keeps the raw event (KeyEvent): a record of a
		// kilobyte is one write unit, with the excerpt it is two.
		c.First.Excerpt = ""
	}
	if err := m.store.Put(ctx, c); err != nil {
		return fmt.Errorf("put incident %s: %w", rec.Fingerprint, err)
	}
	rec.Version++
	return nil
}

func (m *Manager) publish(ctx context.Context, ev Event) error {
	if m.pub == nil {
		return nil
	}
	if err := m.pub.Publish(ctx, ev.DetailType, ev.Detail); err != nil {
		return fmt.Errorf("publish %s: %w", ev.DetailType, err)
	}
	return nil
}

// open claims the fingerprint with a new open record (over prev, the last
// incident's, if any), then creates its OpsItem.
func (m *Manager) open(ctx context.Context, prev *Record, s *signal.Signal, held *HeldIncident) (Outcome, error) {
	first := firstSignal(s)
	rec := &Record{
		Fingerprint:     s.Fingerprint,
		Status:          StatusOpen,
		Rule:            s.Rule,
		Title:           s.Title,
		Severity:        s.Severity,
		Category:        s.Category,
		Resources:       limitResources(s.Resources),
		Occurrences:     1,
		FirstSeen:       s.Time,
		LastSeen:        s.Time,
		Flapping:        s.Flapping,
		OpsItemSeverity: s.Plan.OpsItemSeverity,
		Priority:        priority(s.Plan.Priority),
		Plan:            s.Plan.Clone(),
		First:           &first,
		Recent:          remember(nil, s.EventID),
		Owed:            CallCreate,
		Claimed:         m.now(),
		Budget:          s.Budget,
	}
	if held != nil {
		rec.addHeld(*held)
	}
	if prev != nil {
		rec.Version = prev.Version
		rec.Recent = remember(prev.Recent, s.EventID)
		rec.Previous = slices.Clone(prev.Previous)
		rec.PreviousResolved = prev.ResolvedAt
		if r := prev.Recovery; r != nil && !s.Time.After(r.Time) {
			rec.Recovery = r.Clone() // detected late: resolved once opened
		} else if r != nil && r.Time.After(rec.PreviousResolved) {
			// A detection older than that recovery, still to come, is of
			// an incident before it, not of this one.
			rec.PreviousResolved = r.Time
		}
	}
	if err := m.claim(ctx, rec); err != nil {
		return Outcome{Fingerprint: s.Fingerprint}, err
	}
	return m.create(ctx, rec)
}

// firstSignal is s as a record keeps its first signal: what the record
// does not hold itself (rule, title, severity, resources, plan and budget
// are the record's own), its excerpt shortened.
func firstSignal(s *signal.Signal) signal.Signal {
	first := signal.Signal{
		EventID: s.EventID, Time: s.Time, Account: s.Account, Region: s.Region,
		Source: s.Source, DetailType: s.DetailType, Actor: s.Actor, Summary: s.Summary, Reason: s.Reason,
		Unverified: s.Unverified, Excerpt: truncateRunes(text(s.Excerpt), maxExcerpt, Ellipsis),
		OpsItemAccount: s.OpsItemAccount, Portal: s.Portal, Runbooks: s.Runbooks,
	}
	return *first.Clone()
}

// claim writes a new incident's record without what only its OpsItem needs
// (the first signal, with its excerpt, and the plan), and advances rec's
// version. DynamoDB bills a write by the item's size, and the claim is
// written only to be overwritten once the OpsItem exists: without them a
// new fingerprint's claim is one write unit instead of two or three. The
// worker that claimed holds them; one that takes the claim over after the
// grace has only the signal it handles (see finish).
func (m *Manager) claim(ctx context.Context, rec *Record) error {
	c := rec.Clone()
	c.First, c.Plan = nil, signal.Plan{}
	if err := m.store.Put(ctx, c); err != nil {
		return fmt.Errorf("put incident %s: %w", rec.Fingerprint, err)
	}
	rec.Version++
	return nil
}

// limited reports whether OpsCenter refused rec's OpsItem for its quotas
// too recently to try again.
func (m *Manager) limited(rec *Record) bool {
	return !rec.LimitedAt.IsZero() && m.now().Sub(rec.LimitedAt) < m.limitRetry
}

func (m *Manager) limitError(rec *Record) error {
	return Permanent(fmt.Errorf("incident %s has no OpsItem: OpsCenter refused it %d times, last at %s: %w",
		rec.Fingerprint, rec.Limited, stamp(rec.LimitedAt), ErrLimitExceeded))
}

// create opens rec's OpsItem, publishes "Incident Opened" and records the id.
func (m *Manager) create(ctx context.Context, rec *Record) (Outcome, error) {
	if m.limited(rec) {
		return m.outcome(LimitExceeded, rec), m.limitError(rec)
	}
	if rt := rec.Plan.ResponseTime; rt > 0 && m.dues != nil && rec.Escalated == 0 {
		// Before the grant: its Take keeps the due as the schedule's
		// hint, and the OpsItem says it (KeyDue).
		rec.DueAt = m.now().Add(rt)
	}
	granted := rec.Granted
	ok, why, err := m.grant(ctx, rec)
	// Without a budget the schedule lists the Open OpsItems every run.
	hinted := m.counters == nil || !granted && rec.Granted
	if err != nil {
		m.release(ctx, rec)
		return m.outcome(Opened, rec), err
	}
	if !ok {
		return m.holdBack(ctx, rec, why)
	}
	if rec.Changes == nil && m.changes != nil {
		rec.Changes = m.recentChanges(ctx, rec)
	}
	id, existing, err := m.ops.Create(ctx, m.opsItem(rec))
	if errors.Is(err, ErrLimitExceeded) {
		rec.LimitedAt = m.now()
		rec.Limited++
		rec.Claimed = time.Time{}
		if err := m.wait(ctx, rec); err != nil {
			m.release(ctx, rec)
			return m.outcome(LimitExceeded, rec), err
		}
		if err := m.put(ctx, rec); err != nil {
			return m.outcome(LimitExceeded, rec), err
		}
		return m.outcome(LimitExceeded, rec), m.limitError(rec)
	}
	if err != nil {
		m.release(ctx, rec)
		return m.outcome(Opened, rec), fmt.Errorf("create OpsItem for %s: %w", rec.Fingerprint, err)
	}
	rec.OpsItemID, rec.Owed = id, CallNone
	rec.Synced, rec.SyncedAt = rec.Occurrences, m.now()
	wasLimited := rec.Limited > 0
	rec.LimitedAt, rec.Claimed, rec.HeldAt = time.Time{}, time.Time{}, time.Time{}
	od := opened(rec)
	od.Notification = m.notification(rec, DetailOpened, 0, "")
	ev := Event{DetailType: DetailOpened, Detail: od}
	if err := m.publish(ctx, ev); err != nil {
		rec.OpsItemID, rec.Owed = "", CallCreate
		m.release(ctx, rec)
		return m.outcome(Opened, rec), err
	}
	if err := m.put(ctx, rec); err != nil {
		rec.OpsItemID, rec.Owed = "", CallCreate
		m.release(ctx, rec)
		return m.outcome(Opened, rec), err
	}
	m.log.DebugContext(ctx, "OpsItem created", "fingerprint", rec.Fingerprint, "opsitem_id", id, "existing", existing)
	m.due(ctx, rec, hinted)
	// Only by the attempt that created the OpsItem: an automation that
	// changes resources runs at most once (the OpsItem offers it still).
	if !existing {
		m.autoRun(ctx, rec)
	}
	if wasLimited {
		m.unwait(ctx, rec)
	}
	out := m.outcome(Opened, rec)
	out.Created = true
	out.Events = []Event{ev}
	if r := rec.Recovery; r != nil {
		// Detected after its recovery had come: resolve it at once.
		res, err := m.recover(ctx, rec, r)
		return merge(out, res), err
	}
	return out, nil
}

// release gives up a claim after a failed step, so that the next signal
// need not wait out the grace. It is best effort: a claim left behind only
// delays the next attempt by the grace.
func (m *Manager) release(ctx context.Context, rec *Record) {
	rec.Claimed = time.Time{}
	if err := m.put(ctx, rec); err != nil {
		m.log.DebugContext(ctx, "claim left", "fingerprint", rec.Fingerprint, "error", err)
	}
}

// recentChanges looks up what changed on rec's resources before it opened.
// They only enrich the OpsItem, so a failed lookup is logged, not fatal.
func (m *Manager) recentChanges(ctx context.Context, rec *Record) []Change {
	var all []Change
	for _, r := range rec.Resources[:min(len(rec.Resources), maxChangeLookups)] {
		cs, err := m.changes.Changes(ctx, r, rec.FirstSeen, m.lookback)
		if err != nil {
			m.log.WarnContext(ctx, "recent changes unavailable", "fingerprint", rec.Fingerprint, "resource", r, "error", err)
			continue
		}
		for _, lc := range cs {
			c := Change{
				Time:      lc.Time,
				EventName: truncateRunes(oneLine(lc.EventName), maxChangeText, Ellipsis),
				Actor:     truncateRunes(oneLine(lc.Actor), maxChangeText, Ellipsis),
				Title:     truncateRunes(oneLine(lc.Title), maxChangeText, Ellipsis),
			}
			if !slices.Contains(all, c) {
				all = append(all, c)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.After(all[j].Time) })
	if len(all) > maxChanges {
		all = all[:maxChanges]
	}
	if all == nil {
		all = []Change{}
	}
	return all
}

// repeat counts another occurrence of an open incident and updates the
// OpsItem only when a responder would care: the count reached the next
// milestone, the severity rose, flapping started, or the title changed
// (at most once per milestone interval).
func (m *Manager) repeat(ctx context.Context, rec *Record, s *signal.Signal, held *HeldIncident) (Outcome, error) {
	rec.Occurrences++
	if held != nil {
		rec.addHeld(*held)
	}
	if s.Time.After(rec.LastSeen) {
		rec.LastSeen = s.Time
	}
	rec.Recent = remember(rec.Recent, s.EventID)
	for _, r := range s.Resources {
		if !slices.Contains(rec.Resources, r) && len(rec.Resources) < maxRecordResources {
			rec.Resources = append(rec.Resources, r)
		}
	}
	escalated := escalates(rec.OpsItemSeverity, s.Plan.OpsItemSeverity)
	if escalated {
		rec.OpsItemSeverity, rec.Severity, rec.Plan = s.Plan.OpsItemSeverity, s.Severity, s.Plan.Clone()
	}
	if p := priority(s.Plan.Priority); p != 0 && (rec.Priority == 0 || p < rec.Priority) {
		rec.Priority = p
	}
	flapping := s.Flapping && !rec.Flapping
	rec.Flapping = s.Flapping
	retitle := false
	if !blank(s.Title) && s.Title != rec.Title {
		rec.Title = s.Title
		retitle = rec.Retitled != milestoneAt(rec.Occurrences)
	}
	counted := rec.Occurrences >= nextMilestone(rec.Synced)
	if rec.Recovery != nil && s.Time.After(rec.Recovery.Time) {
		rec.Recovery = nil // failing again after that recovery
	}

	if rec.Owed == CallCreate && m.held(rec) {
		// Held back by the budget: count the repeat, call nothing.
		return m.outcome(HeldBack, rec), m.put(ctx, rec)
	}
	if rec.Owed == CallCreate {
		// OpsCenter refused the OpsItem: count the repeat, call nothing.
		if err := m.put(ctx, rec); err != nil {
			return m.outcome(LimitExceeded, rec), err
		}
		return m.outcome(LimitExceeded, rec), m.limitError(rec)
	}
	update := escalated || flapping || retitle || counted
	if update {
		if retitle {
			rec.Retitled = milestoneAt(rec.Occurrences)
		}
		rec.Synced, rec.SyncedAt = rec.Occurrences, m.now()
		rec.Pending, rec.Owed, rec.Claimed = s.EventID, CallUpdate, m.now()
	}
	if err := m.put(ctx, rec); err != nil {
		return m.outcome(Repeated, rec), err
	}
	if update {
		return m.sync(ctx, rec, m.outcome(Repeated, rec))
	}
	return m.outcome(Repeated, rec), nil
}

// escalates reports whether severity next ("1" most severe .. "4") is more
// severe than cur; a severity where there was none counts as a rise.
func escalates(cur, next string) bool {
	n, ok := severityRank(next)
	if !ok {
		return false
	}
	c, ok := severityRank(cur)
	return !ok || n < c
}

func severityRank(s string) (int, bool) {
	if len(s) == 1 && s[0] >= '1' && s[0] <= '4' {
		return int(s[0] - '0'), true
	}
	return 0, false
}

// recover resolves an open incident, or holds it open while it flaps.
func (m *Manager) recover(ctx context.Context, rec *Record, s *signal.Signal) (Outcome, error) {
	rec.Recovery = nil
	if s.Flapping || rec.Flapping {
		out := m.outcome(Held, rec)
		if rec.Flapping {
			return out, nil // already marked: nothing new for a responder
		}
		rec.Flapping = true
		rec.Recent = remember(rec.Recent, s.EventID)
		if rec.OpsItemID != "" {
			rec.Synced, rec.SyncedAt = rec.Occurrences, m.now()
			rec.Pending, rec.Owed, rec.Claimed = s.EventID, CallUpdate, m.now()
		}
		if err := m.put(ctx, rec); err != nil || rec.Pending != s.EventID {
			return out, err
		}
		return m.sync(ctx, rec, out)
	}
	rec.Status = StatusResolved
	rec.ResolvedAt = s.Time
	rec.Resolution = resolution(s)
	rec.Recent = remember(rec.Recent, s.EventID)
	rec.Owed = CallNone // an OpsItem never created is owed no more
	if rec.OpsItemID != "" {
		rec.Pending, rec.Owed, rec.Claimed = s.EventID, CallResolve, m.now()
		if !slices.Contains(rec.Previous, rec.OpsItemID) {
			rec.Previous = append(rec.Previous, rec.OpsItemID)
		}
		rec.Previous = rec.Previous[max(0, len(rec.Previous)-MaxRelated):]
	}
	out := m.outcome(Resolved, rec)
	if err := m.put(ctx, rec); err != nil || rec.Owed != CallResolve {
		out.Resolved = err == nil // an incident OpsCenter never took
		return out, err
	}
	return m.sync(ctx, rec, out)
}

// sync makes the UpdateOpsItem that rec.Pending claimed (the update
// carries the record's whole state) and, for a resolution, what follows
// it: the history entry and "Incident Resolved". Then it clears the claim.
// It returns out with what it did.
func (m *Manager) sync(ctx context.Context, rec *Record, out Outcome) (Outcome, error) {
	by := rec.Pending
	if err := m.ops.Update(ctx, rec.OpsItemID, m.update(rec)); err != nil {
		m.release(ctx, rec)
		return out, fmt.Errorf("update OpsItem %s for %s: %w", rec.OpsItemID, rec.Fingerprint, err)
	}
	out.Updated = true
	resolving := rec.Status == StatusResolved
	if resolving {
		h := History{Fingerprint: rec.Fingerprint, OpsItemID: rec.OpsItemID, Rule: rec.Rule,
			Opened: rec.FirstSeen, Resolved: rec.ResolvedAt, Occurrences: rec.Occurrences}
		if err := m.store.AddHistory(ctx, h); err != nil {
			m.release(ctx, rec)
			return out, fmt.Errorf("add history of %s: %w", rec.Fingerprint, err)
		}
		ev := Event{DetailType: DetailResolved, Detail: resolved(rec, by)}
		if err := m.publish(ctx, ev); err != nil {
			m.release(ctx, rec)
			return out, err
		}
		out.Events = append(out.Events, ev)
	}
	settled, err := m.settle(ctx, rec, by)
	out.Resolved = resolving && settled
	return out, err
}

// settle clears the claim of signal by, now that its update is made, and
// reports whether it did (a conditional write: one worker does). Other
// workers keep writing the record meanwhile (a storm's repeats), so a lost
// race is re-read; a newer claim is left alone.
func (m *Manager) settle(ctx context.Context, rec *Record, by string) (bool, error) {
	for range m.attempts {
		if rec.Pending != by {
			return false, nil
		}
		rec.Pending, rec.Owed, rec.Claimed = "", CallNone, time.Time{}
		err := m.put(ctx, rec)
		if !errors.Is(err, ErrConflict) {
			return err == nil, err
		}
		fresh, err := m.get(ctx, rec.Fingerprint)
		if err != nil || fresh == nil {
			return false, err
		}
		*rec = *fresh
	}
	// Left claimed: after the grace, a redelivery of that signal or the
	// next signal makes the update again, which does no harm.
	m.log.DebugContext(ctx, "update claim left", "fingerprint", rec.Fingerprint, "event_id", by)
	return false, nil
}

// keepRecovery handles a recovery that finds no open incident: there is
// nothing to resolve, but a detection older than it may still be on its
// way (waiting in a dead-letter queue), so the newest such recovery is kept.
func (m *Manager) keepRecovery(ctx context.Context, rec *Record, s *signal.Signal) (Outcome, error) {
	out := Outcome{Action: NoIncident, Fingerprint: s.Fingerprint}
	if rec != nil && (!s.Time.After(rec.ResolvedAt) || rec.Recovery != nil && !s.Time.After(rec.Recovery.Time)) {
		return out, nil // an older recovery adds nothing
	}
	r := s.Clone()
	r.Excerpt, r.Resources, r.Plan = "", nil, signal.Plan{}
	if rec == nil {
		rec = &Record{Fingerprint: s.Fingerprint, Status: StatusResolved, Rule: s.Rule, Expires: m.now().Add(RecoveryTTL)}
	}
	rec.Recovery = r
	rec.Recent = remember(rec.Recent, s.EventID)
	return out, m.put(ctx, rec)
}

func resolution(s *signal.Signal) string {
	what := oneLine(s.Summary)
	if what == "" {
		what = oneLine(s.Title)
	}
	if what == "" {
		what = s.Source + " " + s.DetailType
	}
	return fmt.Sprintf("recovered at %s: %s (rule %s, event %s)", stamp(s.Time), what, s.Rule, s.EventID)
}

// Remembers reports whether the signal id is among the last applied to r.
func (r *Record) Remembers(id string) bool {
	// Records written before digests hold the ids themselves.
	return slices.Contains(r.Recent, digest(id)) || slices.Contains(r.Recent, id)
}

// digest is the 72-bit digest of a signal id that Record.Recent keeps, in
// 12 characters: two ids of a record's 64 share one with a probability
// below 10^-18.
func digest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// remember appends the digest of id to ids, keeping the last recentIDs.
func remember(ids []string, id string) []string {
	d := digest(id)
	if slices.Contains(ids, d) {
		return slices.Clone(ids)
	}
	ids = append(slices.Clone(ids), d)
	if len(ids) > recentIDs {
		ids = ids[len(ids)-recentIDs:]
	}
	return ids
}

// maxRecordResources bounds the resources a record keeps: room for
// MaxResources ARNs among resources named otherwise.
const maxRecordResources = 2 * MaxResources

func limitResources(rs []string) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r) && len(out) < maxRecordResources {
			out = append(out, r)
		}
	}
	return out
}

func opened(rec *Record) OpenedDetail {
	first := rec.first()
	return OpenedDetail{
		SchemaVersion: signal.SchemaVersion, OpsItemID: rec.OpsItemID, Fingerprint: rec.Fingerprint,
		Rule: rec.Rule, Title: rec.Title, Severity: rec.Severity, OpsItemSeverity: rec.OpsItemSeverity,
		Category: rec.Category, Resources: slices.Clone(rec.Resources), Account: first.Account,
		Region: first.Region, Opened: rec.FirstSeen, EventID: first.EventID, Previous: slices.Clone(rec.Previous),
		Created: rec.SyncedAt, Changes: slices.Clone(rec.Changes),
	}
}

func resolved(rec *Record, eventID string) ResolvedDetail {
	return ResolvedDetail{
		SchemaVersion: signal.SchemaVersion, OpsItemID: rec.OpsItemID, Fingerprint: rec.Fingerprint,
		Rule: rec.Rule, Title: rec.Title, Severity: rec.Severity, Category: rec.Category,
		Resources: slices.Clone(rec.Resources), Opened: rec.FirstSeen, Resolved: rec.ResolvedAt,
		Occurrences: rec.Occurrences, Flapping: rec.Flapping, EventID: eventID, Resolution: rec.Resolution,
	}
}
