package problems

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/wait"
)

// Tracker turns incidents into problems. Every step is safe to repeat: an
// incident or resolution already applied changes nothing, and each record
// is written with a conditional write that is re-read and retried when it
// loses a race. A Tracker is safe for concurrent use when its Store,
// Changes, Relations and Relater are.
type Tracker struct {
	store      Store
	changes    Changes
	relations  Relations
	relater    Relater
	opsItems   OpsItems
	rules      *rules.Set
	lookback   time.Duration
	relateBack time.Duration
	attempts   int
	log        *slog.Logger
	analyses   *analysis.Recorder
}

// Defaults of a Tracker.
const (
	// DefaultLookback is how long before an incident a change counts as
	// having preceded it.
	DefaultLookback = 24 * time.Hour
	// DefaultRelationLookback is how far back the change log is read to
	// learn which resources are related: the change log's lifetime.
	DefaultRelationLookback = 30 * 24 * time.Hour
	// DefaultAttempts is how many times a lost race is retried.
	DefaultAttempts = 5
)

// DefaultRecurrence applies when the Tracker has no rules, or the rule is
// unknown and the rules set none: 3 incidents within 7 days.
var DefaultRecurrence = Recurrence{Count: 3, WindowSeconds: int64(7 * 24 * time.Hour / time.Second)}

// maxRelatedLookups bounds the related resources looked up per incident resource.
const maxRelatedLookups = 10

// Option configures a Tracker.
type Option func(*Tracker)

// WithRules takes each rule's problem recurrence from set (the rule's own,
// else the set's). Without it every rule uses DefaultRecurrence.
func WithRules(set *rules.Set) Option { return func(t *Tracker) { t.rules = set } }

// WithChanges finds suspected causes in the change log: changes within
// lookback before an incident (DefaultLookback when 0) to its resources and
// to resources related to them.
func WithChanges(c Changes, lookback time.Duration) Option {
	return func(t *Tracker) {
		t.changes = c
		if lookback > 0 {
			t.lookback = lookback
		}
	}
}

// WithRelations keeps the relations learned from the change log in an
// index, so they outlive the change log.
func WithRelations(r Relations) Option { return func(t *Tracker) { t.relations = r } }

// WithOpsItems completes resolutions that name only their OpsItem (see
// Complete).
func WithOpsItems(o OpsItems) Option { return func(t *Tracker) { t.opsItems = o } }

// WithRelater relates each new incident's OpsItem to the problem's other
// OpsItems in OpsCenter.
func WithRelater(r Relater) Option { return func(t *Tracker) { t.relater = r } }

// WithAnalyses keeps a post-incident analysis of every incident whose
// severity asks for one (the rules' "analysis"; none without WithRules),
// in store, linked from the problem's history.
func WithAnalyses(store analysis.Store, now func() time.Time) Option {
	return func(t *Tracker) { t.analyses = analysis.NewRecorder(store, t.wantsAnalysis, now) }
}

func (t *Tracker) wantsAnalysis(severity string) bool {
	if t.rules == nil {
		return false
	}
	s := t.rules.Severities[severity]
	return s != nil && s.Analysis
}

// WithLogger sets the logger (none by default).
func WithLogger(l *slog.Logger) Option { return func(t *Tracker) { t.log = l } }

// WithAttempts sets how many times a lost race is re-read and retried.
func WithAttempts(n int) Option {
	return func(t *Tracker) {
		if n > 0 {
			t.attempts = n
		}
	}
}

// New returns a Tracker keeping records in store.
func New(store Store, opts ...Option) *Tracker {
	t := &Tracker{
		store: store, lookback: DefaultLookback, relateBack: DefaultRelationLookback,
		attempts: DefaultAttempts, log: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Action is what handling an input did.
type Action string

// The actions of a Tracker.
const (
	// Tracked: the incident was counted; it is not (yet) a problem.
	Tracked Action = "tracked"
	// Recorded: the incident completed the recurrence: a new problem.
	Recorded Action = "recorded"
	// Linked: the incident was linked to its known problem.
	Linked Action = "linked"
	// Reopened: the incident recurred after its problem was resolved.
	Reopened Action = "reopened"
	// ResolvedIncident: an incident's resolution was recorded.
	ResolvedIncident Action = "resolved-incident"
	// Acknowledged and Escalated: an incident's acknowledgement or
	// escalation, which only its analysis records.
	Acknowledged Action = "acknowledged"
	Escalated    Action = "escalated"
	// Duplicate: the input was applied before; nothing changed.
	Duplicate Action = "duplicate"
	// Unknown: a resolution of an incident no record knows.
	Unknown Action = "unknown"
	// Ignored: an event the Tracker has nothing to do with.
	Ignored Action = "ignored"
)

// Outcome is the result of handling one input.
type Outcome struct {
	Action    Action `json:"action"`
	Key       string `json:"key,omitempty"`
	Status    Status `json:"status,omitempty"`
	Incidents int    `json:"incidents,omitempty"`
	// Related are the OpsItems the incident's OpsItem was related to.
	Related []string `json:"related,omitempty"`
	// AnalysisOpened says the resolution's post-incident analysis is open
	// (again for a redelivery, so what follows its opening is retried).
	AnalysisOpened bool `json:"analysisOpened,omitempty"`
}

// recurrence is the recurrence of rule.
func (t *Tracker) recurrence(rule string) Recurrence {
	if t.rules == nil {
		return DefaultRecurrence
	}
	rec := t.rules.Problems
	if r := t.rules.Rule(rule); r != nil && r.Problems.Count > 0 {
		rec = r.Problems
	}
	if rec.Count <= 0 || rec.Window <= 0 {
		return DefaultRecurrence
	}
	return Recurrence{Count: rec.Count, WindowSeconds: int64(rec.Window / time.Second)}
}

// spreadAccounts is in how many accounts rule's failure is a problem
// across accounts; 0 when the rules do not count it.
func (t *Tracker) spreadAccounts(rule string) int {
	if t.rules == nil {
		return 0
	}
	if r := t.rules.Rule(rule); r != nil && r.Problems.Accounts > 0 {
		return r.Problems.Accounts
	}
	return t.rules.Problems.Accounts
}

// Opened applies an opened incident: it is counted under its fingerprint,
// recorded as a problem once the rule's recurrence is reached, and linked
// to the problem (its OpsItem related to the problem's others) after that.
func (t *Tracker) Opened(ctx context.Context, inc Incident) (Outcome, error) {
	if err := inc.validate(); err != nil {
		return Outcome{}, err
	}
	key := Key(inc.Fingerprint)
	// The analysis first: its item exists before the problem's history
	// says it does.
	if t.analyses != nil {
		o := analysis.Opening{
			OpsItemID: inc.OpsItemID, Fingerprint: inc.Fingerprint, Problem: key, Rule: inc.Rule, Title: inc.Title,
			Severity: inc.Severity, Category: inc.Category, Account: inc.Account, Region: inc.Region,
			Resources: inc.Resources, FirstEvent: inc.Opened, Created: inc.Created, Changes: inc.Changes,
		}
		if _, err := t.analyses.Opened(ctx, o); err != nil {
			return Outcome{Key: key}, fmt.Errorf("apply incident %s: %w", inc.OpsItemID, err)
		}
	}
	out, err := t.openedUnder(ctx, inc.Fingerprint, false, inc)
	if err != nil {
		return out, err
	}
	// The same failure counted across the organization too, when the
	// rules ask; the outcome is the fingerprint's own.
	if spread := SpreadFingerprint(inc.Fingerprint); spread != "" && t.spreadAccounts(inc.Rule) > 0 {
		if _, err := t.openedUnder(ctx, spread, true, inc); err != nil {
			return out, err
		}
	}
	return out, nil
}

// openedUnder applies inc to the record of fingerprint, retrying lost races.
func (t *Tracker) openedUnder(ctx context.Context, fingerprint string, spread bool, inc Incident) (Outcome, error) {
	key := Key(fingerprint)
	var lastErr error
	for n := range t.attempts {
		if err := wait.Race(ctx, n); err != nil {
			return Outcome{Key: key}, fmt.Errorf("apply incident %s: %w", inc.OpsItemID, err)
		}
		out, err := t.opened(ctx, key, fingerprint, spread, inc)
		if !errors.Is(err, ErrConflict) {
			t.logOutcome(ctx, "incident opened", out, err, "opsitem_id", inc.OpsItemID, "fingerprint", fingerprint)
			return out, err
		}
		lastErr = err
	}
	return Outcome{Key: key}, fmt.Errorf("apply incident %s after %d attempts: %w", inc.OpsItemID, t.attempts, lastErr)
}

func (t *Tracker) opened(ctx context.Context, key, fingerprint string, spread bool, inc Incident) (Outcome, error) {
	cur, err := t.store.Get(ctx, key)
	if err != nil {
		return Outcome{Key: key}, fmt.Errorf("get problem %s: %w", key, err)
	}
	p := cur.Clone()
	if p == nil {
		p = &Problem{Key: key, Fingerprint: fingerprint, Spread: spread, Status: Candidate, FirstSeen: inc.Opened, History: []Occurrence{}, SuspectedCauses: []Cause{}}
	}
	if p.has(inc) {
		return p.outcome(Duplicate), nil
	}
	p.add(inc, inc.OpsItemID != "" && t.analyses != nil && t.wantsAnalysis(inc.Severity))
	before := p.Status
	action := Linked
	var fresh []Occurrence // incidents whose causes are still to be found
	switch p.Status {
	case Candidate:
		rec := t.recurrence(inc.Rule)
		if spread {
			rec.Count = t.spreadAccounts(inc.Rule)
		}
		p.Recurrence = rec
		p.keepWindow(rec.Window())
		reached := len(p.History)
		if spread {
			reached = p.accounts()
		}
		if reached < rec.Count {
			action = Tracked
			break
		}
		action = Recorded
		p.Status, p.Recorded, p.StatusChanged = Open, inc.Opened, inc.Opened
		fresh = slices.Clone(p.History)
	case Resolved:
		action = Reopened
		p.Status, p.StatusChanged, p.Note = Open, inc.Opened, ""
		p.Reopened++
		fresh = []Occurrence{p.occurrence(inc)}
	default:
		fresh = []Occurrence{p.occurrence(inc)}
	}
	if len(fresh) > 0 {
		if err := t.addCauses(ctx, p, fresh); err != nil {
			return Outcome{Key: key}, err
		}
	}
	p.analyse()
	out := p.outcome(action)
	if p.IsProblem() && t.relater != nil && inc.OpsItemID != "" {
		if rel := p.relatedTo(inc.OpsItemID); len(rel) > 0 {
			if err := t.relater.Relate(ctx, inc.OpsItemID, rel); err != nil {
				return out, fmt.Errorf("relate OpsItem %s to problem %s: %w", inc.OpsItemID, key, err)
			}
			out.Related = rel
		}
	}
	if err := t.store.Put(ctx, p); err != nil {
		return out, fmt.Errorf("put problem %s: %w", key, err)
	}
	if before != p.Status {
		t.log.InfoContext(ctx, "problem status", "problem", key, "from", string(before), "to", string(p.Status), "rule", p.Rule)
	}
	return out, nil
}

// Resolved applies the end of an incident: its time to resolve, and the
// problem's MTTR and MTBF. A resolution that names only the OpsItem (see
// Complete) is described by WithOpsItems, or found through the OpsItem's
// link, if one was written.
func (t *Tracker) Resolved(ctx context.Context, r Resolution) (Outcome, error) {
	if strings.TrimSpace(r.OpsItemID) == "" || r.Resolved.IsZero() {
		return Outcome{}, fmt.Errorf("resolution needs an OpsItem id and a time: %w", ErrInvalid)
	}
	r, err := Complete(ctx, r, t.opsItems)
	if err != nil {
		return Outcome{}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
	}
	opened := false
	if t.analyses != nil {
		if opened, err = t.analyses.Resolved(ctx, r.OpsItemID, r.Severity, r.Resolved, r.Resolution); err != nil {
			return Outcome{}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
		}
	}
	out, err := t.resolveProblem(ctx, r)
	out.AnalysisOpened = opened
	return out, err
}

// Acknowledged records that a responder set an incident's OpsItem In
// progress, in its analysis.
func (t *Tracker) Acknowledged(ctx context.Context, a Acknowledgement) (Outcome, error) {
	if t.analyses != nil {
		if err := t.analyses.Acknowledged(ctx, a.OpsItemID, a.At); err != nil {
			return Outcome{}, fmt.Errorf("apply acknowledgement of %s: %w", a.OpsItemID, err)
		}
	}
	return Outcome{Action: Acknowledged}, nil
}

// Escalated records an escalation of an incident, in its analysis.
func (t *Tracker) Escalated(ctx context.Context, e Escalation) (Outcome, error) {
	if t.analyses != nil {
		step := analysis.Escalation{Step: e.Step, At: e.At, Priority: e.Priority, Contact: e.Contact}
		if err := t.analyses.Escalated(ctx, e.OpsItemID, e.Severity, step); err != nil {
			return Outcome{}, fmt.Errorf("apply escalation of %s: %w", e.OpsItemID, err)
		}
	}
	return Outcome{Action: Escalated}, nil
}

// resolveProblem applies a resolution to the problem of its incident, and
// to the failure's record across accounts.
func (t *Tracker) resolveProblem(ctx context.Context, r Resolution) (Outcome, error) {
	fp := r.Fingerprint
	key := ""
	if fp != "" {
		key = Key(fp)
	} else {
		k, err := t.store.Link(ctx, r.OpsItemID)
		if err != nil {
			return Outcome{}, fmt.Errorf("find problem of OpsItem %s: %w", r.OpsItemID, err)
		}
		key = k
	}
	if key == "" {
		return Outcome{Action: Unknown}, nil
	}
	out, err := t.resolvedUnder(ctx, key, r)
	if err != nil || out.Action == Unknown {
		return out, err
	}
	if fp == "" {
		p, err := t.store.Get(ctx, key)
		if err != nil {
			return out, fmt.Errorf("get problem %s: %w", key, err)
		}
		if p != nil {
			fp = p.Fingerprint
		}
	}
	rule, _, _ := strings.Cut(fp, ":")
	if spread := SpreadFingerprint(fp); spread != "" && t.spreadAccounts(rule) > 0 {
		if _, err := t.resolvedUnder(ctx, Key(spread), r); err != nil {
			return out, err
		}
	}
	return out, nil
}

// resolvedUnder applies r to the record of key, retrying lost races.
func (t *Tracker) resolvedUnder(ctx context.Context, key string, r Resolution) (Outcome, error) {
	var lastErr error
	for n := range t.attempts {
		if err := wait.Race(ctx, n); err != nil {
			return Outcome{Key: key}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
		}
		out, err := t.resolved(ctx, key, r)
		if !errors.Is(err, ErrConflict) {
			t.logOutcome(ctx, "incident resolved", out, err, "opsitem_id", r.OpsItemID)
			return out, err
		}
		lastErr = err
	}
	return Outcome{Key: key}, fmt.Errorf("apply resolution of %s after %d attempts: %w", r.OpsItemID, t.attempts, lastErr)
}

func (t *Tracker) resolved(ctx context.Context, key string, r Resolution) (Outcome, error) {
	cur, err := t.store.Get(ctx, key)
	if err != nil {
		return Outcome{Key: key}, fmt.Errorf("get problem %s: %w", key, err)
	}
	if cur == nil {
		return Outcome{Action: Unknown, Key: key}, nil
	}
	p := cur.Clone()
	i := slices.IndexFunc(p.History, func(o Occurrence) bool { return o.OpsItemID == r.OpsItemID })
	if i < 0 {
		return p.outcome(Unknown), nil
	}
	o := &p.History[i]
	if !o.Resolved.IsZero() || r.Resolved.Before(o.Opened) {
		// Resolved once, or a resolution older than the incident: a
		// redelivery or a stale event, nothing to learn from.
		return p.outcome(Duplicate), nil
	}
	o.Resolved = r.Resolved
	o.Occurrences = r.Occurrences
	o.Flapping = r.Flapping
	p.analyse()
	if err := t.store.Put(ctx, p); err != nil {
		return p.outcome(ResolvedIncident), fmt.Errorf("put problem %s: %w", key, err)
	}
	return p.outcome(ResolvedIncident), nil
}

// SetStatus is the operator's change of a problem's status: KnownError
// acknowledges it (the cause is known, a workaround exists), Resolved
// closes it (its next incident reopens it), Open reopens it. It returns
// the problem as written.
func (t *Tracker) SetStatus(ctx context.Context, key string, status Status, note string, at time.Time) (*Problem, error) {
	if !status.Valid() {
		return nil, fmt.Errorf("status %q is none of %v: %w", status, Statuses, ErrInvalid)
	}
	var lastErr error
	for range t.attempts {
		cur, err := t.store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("get problem %s: %w", key, err)
		}
		if cur == nil || !cur.IsProblem() {
			return nil, fmt.Errorf("set status of %s: %w", key, ErrNotFound)
		}
		p := cur.Clone()
		p.Status, p.Note, p.StatusChanged = status, strings.TrimSpace(note), at
		err = t.store.Put(ctx, p)
		if err == nil {
			t.log.InfoContext(ctx, "problem status", "problem", key, "from", string(cur.Status), "to", string(status), "rule", p.Rule)
			p.Version++
			return p, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("put problem %s: %w", key, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("set status of %s after %d attempts: %w", key, t.attempts, lastErr)
}

func (t *Tracker) logOutcome(ctx context.Context, msg string, out Outcome, err error, args ...any) {
	args = append(args, "action", string(out.Action), "problem", out.Key)
	if err != nil {
		t.log.WarnContext(ctx, msg, append(args, "error", err.Error())...)
		return
	}
	t.log.DebugContext(ctx, msg, args...)
}

func (inc *Incident) validate() error {
	var bad []string
	if strings.TrimSpace(inc.Fingerprint) == "" {
		bad = append(bad, "fingerprint is empty")
	}
	if strings.TrimSpace(inc.Rule) == "" {
		bad = append(bad, "rule is empty")
	}
	if inc.OpsItemID == "" && inc.EventID == "" {
		bad = append(bad, "neither opsItemId nor eventId is set")
	}
	if inc.Opened.IsZero() {
		bad = append(bad, "opened is not set")
	}
	if len(bad) > 0 {
		return fmt.Errorf("incident: %s: %w", strings.Join(bad, "; "), ErrInvalid)
	}
	return nil
}

func (p *Problem) outcome(a Action) Outcome {
	return Outcome{Action: a, Key: p.Key, Status: p.Status, Incidents: p.Incidents}
}

// has reports whether the incident is in History already.
func (p *Problem) has(inc Incident) bool {
	return slices.ContainsFunc(p.History, func(o Occurrence) bool {
		if inc.OpsItemID != "" {
			return o.OpsItemID == inc.OpsItemID
		}
		return o.EventID == inc.EventID
	})
}

func (p *Problem) occurrence(inc Incident) Occurrence {
	return Occurrence{OpsItemID: inc.OpsItemID, Account: inc.Account, EventID: inc.EventID, Opened: inc.Opened}
}

// add puts the incident into History in time order, and takes the
// incident's description when it is the newest.
func (p *Problem) add(inc Incident, analysed bool) {
	o := p.occurrence(inc)
	o.Analysis = analysed
	// Incidents at the same time are ordered by their ids, so the record
	// is the same whatever order they arrive in.
	i, _ := slices.BinarySearchFunc(p.History, o, compareOccurrences)
	p.History = slices.Insert(p.History, i, o)
	if len(p.History) > MaxHistory {
		p.History = slices.Delete(p.History, 0, len(p.History)-MaxHistory)
	}
	p.Incidents++
	if last := p.History[len(p.History)-1]; p.Rule == "" || compareOccurrences(o, last) == 0 {
		p.Rule, p.Title, p.Severity, p.Category = inc.Rule, inc.Title, inc.Severity, inc.Category
	}
	if p.FirstSeen.IsZero() || inc.Opened.Before(p.FirstSeen) {
		p.FirstSeen = inc.Opened
	}
	if inc.Opened.After(p.LastSeen) {
		p.LastSeen = inc.Opened
	}
	// The first MaxResources in name order: the same set in any order of
	// arrival.
	for _, r := range inc.Resources {
		if j, found := slices.BinarySearch(p.Resources, r); r != "" && !found {
			p.Resources = slices.Insert(p.Resources, j, r)
		}
	}
	if len(p.Resources) > MaxResources {
		p.Resources = p.Resources[:MaxResources]
	}
}

// compareOccurrences orders incidents by time, then by event and OpsItem id.
func compareOccurrences(a, b Occurrence) int {
	if c := a.Opened.Compare(b.Opened); c != 0 {
		return c
	}
	if c := strings.Compare(a.EventID, b.EventID); c != 0 {
		return c
	}
	return strings.Compare(a.OpsItemID, b.OpsItemID)
}

// keepWindow drops, from a candidate, the incidents that fell out of the
// window before its newest one: they no longer count towards recurrence.
func (p *Problem) keepWindow(window time.Duration) {
	from := p.LastSeen.Add(-window)
	p.History = slices.DeleteFunc(p.History, func(o Occurrence) bool { return !o.Opened.After(from) })
	p.Incidents = len(p.History)
	if len(p.History) > 0 {
		p.FirstSeen = p.History[0].Opened
	}
}

// analyse derives OpsItems, time to resolve and time between failures
// from History.
func (p *Problem) analyse() {
	p.OpsItems = p.OpsItems[:0:0]
	var ttr, tbf time.Duration
	var resolved, gaps int
	for i, o := range p.History {
		if o.OpsItemID != "" {
			p.OpsItems = append(p.OpsItems, o.OpsItemID)
		}
		if !o.Resolved.IsZero() && !o.Resolved.Before(o.Opened) {
			ttr += o.Resolved.Sub(o.Opened)
			resolved++
			if i+1 < len(p.History) {
				if gap := p.History[i+1].Opened.Sub(o.Resolved); gap > 0 {
					tbf += gap
					gaps++
				}
			}
		}
	}
	p.ResolvedIncidents = resolved
	p.MTTRSeconds, p.MTBFSeconds = 0, 0
	if resolved > 0 {
		p.MTTRSeconds = int64(ttr / time.Duration(resolved) / time.Second)
	}
	if gaps > 0 {
		p.MTBFSeconds = int64(tbf / time.Duration(gaps) / time.Second)
	}
}

// relatedTo lists the OpsItems an incident's OpsItem relates to: the
// problem's newest other OpsItems, at most MaxRelated.
func (p *Problem) relatedTo(id string) []string {
	var out []string
	for i := len(p.History) - 1; i >= 0 && len(out) < MaxRelated; i-- {
		if o := p.History[i].OpsItemID; o != "" && o != id && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}
