package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opsloop/opsloop/internal/wait"
)

// Recorder keeps analyses from the incidents' lifecycle events, which
// arrive in any order and possibly more than once: each applies as a merge
// (first times kept, escalations by step), so a redelivery changes nothing.
type Recorder struct {
	store  Store
	wanted func(severity string) bool
	now    func() time.Time
}

// attempts bounds the retries of a write that lost a race; each retry
// first waits a random while (wait.Race).
const attempts = 12

// NewRecorder returns a Recorder over store that keeps analyses of the
// incidents whose severity wanted accepts (none when nil: it only edits).
func NewRecorder(store Store, wanted func(severity string) bool, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	if wanted == nil {
		wanted = func(string) bool { return false }
	}
	return &Recorder{store: store, wanted: wanted, now: now}
}

// Opening is what "Incident Opened" tells of an incident.
type Opening struct {
	OpsItemID, Fingerprint, Problem, Rule, Title, Severity, Category, Account, Region string
	Resources                                                                         []string
	FirstEvent, Created                                                               time.Time
	Changes                                                                           []Change
}

// Opened starts tracking an incident of a wanted severity. It reports
// whether the incident is tracked.
func (r *Recorder) Opened(ctx context.Context, o Opening) (bool, error) {
	if o.OpsItemID == "" || !r.wanted(o.Severity) {
		return false, nil
	}
	_, err := r.merge(ctx, o.OpsItemID, true, func(a *Analysis) {
		a.Fingerprint, a.Problem, a.Rule, a.Title = o.Fingerprint, o.Problem, o.Rule, o.Title
		a.Severity, a.Category, a.Account, a.Region = o.Severity, o.Category, o.Account, o.Region
		a.Resources = slices.Clone(o.Resources[:min(len(o.Resources), MaxResources)])
		a.FirstEvent = earliest(a.FirstEvent, o.FirstEvent)
		a.Created = earliest(a.Created, o.Created)
		if len(a.Changes) == 0 {
			a.Changes = slices.Clone(o.Changes[:min(len(o.Changes), MaxChanges)])
			for i := range a.Changes {
				if a.Changes[i].EventName != "" {
					a.Changes[i].Title = "" // the timeline names the call
				}
			}
		}
	})
	return err == nil, err
}

// Acknowledged records that a responder set the OpsItem In progress; an
// OpsItem whose analysis is not tracked is left alone.
func (r *Recorder) Acknowledged(ctx context.Context, opsItemID string, at time.Time) error {
	_, err := r.merge(ctx, opsItemID, false, func(a *Analysis) { a.Acknowledged = earliest(a.Acknowledged, at) })
	return err
}

// Escalated records an escalation of an incident of severity.
func (r *Recorder) Escalated(ctx context.Context, opsItemID, severity string, e Escalation) error {
	_, err := r.merge(ctx, opsItemID, r.wanted(severity), func(a *Analysis) {
		if a.Severity == "" {
			a.Severity = severity
		}
		i := slices.IndexFunc(a.Escalations, func(x Escalation) bool { return x.Step == e.Step })
		if i >= 0 || len(a.Escalations) >= MaxEscalations {
			return
		}
		a.Escalations = append(a.Escalations, e)
		slices.SortFunc(a.Escalations, func(x, y Escalation) int { return x.Step - y.Step })
	})
	return err
}

// Resolved records the incident's resolution, which opens its analysis.
// severity is "" when the resolution names only the OpsItem (a responder
// resolved it in OpsCenter): an untracked OpsItem is then left alone.
// open reports that the analysis is open and this resolution the one it
// records: true again for a redelivery, so a caller's later step (linking
// the analysis from the OpsItem) is retried with it.
func (r *Recorder) Resolved(ctx context.Context, opsItemID, severity string, at time.Time, resolution string) (open bool, err error) {
	a, err := r.merge(ctx, opsItemID, severity != "" && r.wanted(severity), func(a *Analysis) {
		if a.Severity == "" {
			a.Severity = severity
		}
		if a.Resolved.IsZero() || at.Before(a.Resolved) {
			a.Resolved = at
			if resolution != "" {
				a.Resolution = resolution
			}
		}
	})
	return err == nil && a != nil && a.Status == Open && a.Resolved.Equal(at), err
}

// merge applies f to the analysis of id, creating it when create, and
// opens it once resolved. It returns the analysis as stored, nil when
// there is none.
func (r *Recorder) merge(ctx context.Context, id string, create bool, f func(*Analysis)) (*Analysis, error) {
	if id == "" {
		return nil, nil
	}
	for n := range attempts {
		if err := wait.Race(ctx, n); err != nil {
			return nil, fmt.Errorf("analysis of %s: %w", id, err)
		}
		a, err := r.store.GetAnalysis(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("analysis of %s: %w", id, err)
		}
		if a == nil {
			if !create {
				return nil, nil
			}
			a = &Analysis{OpsItemID: id, Status: Tracking}
		}
		before := a.Clone()
		f(a)
		if a.Status == Tracking && !a.Resolved.IsZero() {
			a.Status = Open
		}
		if a.Version > 0 && same(before, a) {
			return a, nil
		}
		err = r.store.PutAnalysis(ctx, a)
		if err == nil {
			a.Version++
			return a, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("analysis of %s: %d writes lost races: %w", id, attempts, ErrConflict)
}

// Edit applies a responder's edit to the analysis of id and returns it.
func (r *Recorder) Edit(ctx context.Context, id string, e Edit) (*Analysis, error) {
	for n := range attempts {
		if err := wait.Race(ctx, n); err != nil {
			return nil, fmt.Errorf("edit analysis of %s: %w", id, err)
		}
		a, err := r.store.GetAnalysis(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("edit analysis of %s: %w", id, err)
		}
		if a == nil {
			return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		if err := e.apply(a, r.now().UTC()); err != nil {
			return nil, err
		}
		err = r.store.PutAnalysis(ctx, a)
		if err == nil {
			a.Version++
			return a, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("edit analysis of %s: %w", id, err)
		}
	}
	return nil, fmt.Errorf("edit analysis of %s: %d writes lost races: %w", id, attempts, ErrConflict)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// same reports whether f changed nothing: a redelivered event costs no write.
func same(a, b *Analysis) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}
