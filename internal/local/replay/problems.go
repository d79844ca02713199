package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/review"
	"github.com/opsloop/opsloop/internal/rules"
)

// Learned is what the problems function would have learned from the
// replayed events: its store, the incidents for the review, and what each
// rule did.
type Learned struct {
	Store     *memory.Problems
	Incidents []review.Incident
	Activity  map[string]review.Activity
	// From and To span the valid events' times.
	From, To time.Time
}

// learning feeds the lifecycle's "Incident Opened" and "Incident Resolved"
// events to the problems tracker, as the opsloop bus does in AWS.
type learning struct {
	set     *rules.Set
	tracker *problems.Tracker
	learned *Learned
	byID    map[string]int // OpsItem id -> index in learned.Incidents
}

func newLearning(set *rules.Set, local *Local) *learning {
	store := memory.NewProblems()
	relate := problems.RelaterFunc(func(ctx context.Context, id string, related []string) error {
		return local.OpsCenter.Update(ctx, id, incidents.Update{RelatedOpsItems: related})
	})
	return &learning{
		set: set,
		tracker: problems.New(store, problems.WithRules(set), problems.WithChanges(local.State, 0),
			problems.WithRelations(store), problems.WithRelater(relate), problems.WithAnalyses(store, nil)),
		learned: &Learned{Store: store, Activity: map[string]review.Activity{}},
		byID:    map[string]int{},
	}
}

// observe learns from one processed event.
func (l *learning) observe(ctx context.Context, ev *event.Event, res Result) error {
	lr := l.learned
	if lr.From.IsZero() || ev.Time.Before(lr.From) {
		lr.From = ev.Time
	}
	if ev.Time.After(lr.To) {
		lr.To = ev.Time
	}
	d := res.Decision
	if r := l.set.Rule(d.Rule); r != nil && r.Action == rules.Incident && r.Threshold != nil &&
		d.Action == classify.Record && d.Silence == "" && !d.Duplicate {
		a := lr.Activity[d.Rule]
		a.BelowThreshold++
		a.MaxCount = max(a.MaxCount, d.Count)
		lr.Activity[d.Rule] = a
	}
	if res.Outcome == nil {
		return nil
	}
	if res.Outcome.Action == incidents.Held {
		if i, ok := l.byID[res.Outcome.OpsItemID]; ok {
			lr.Incidents[i].Flapping = true
		}
	}
	for _, e := range res.Outcome.Events {
		detail, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.DetailType, err)
		}
		raw, err := json.Marshal(struct {
			Source     string          `json:"source"`
			DetailType string          `json:"detail-type"`
			Time       time.Time       `json:"time"`
			Detail     json.RawMessage `json:"detail"`
		}{problems.SourceOpsloop, e.DetailType, ev.Time, detail})
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.DetailType, err)
		}
		if _, err := l.tracker.Handle(ctx, raw); err != nil {
			return fmt.Errorf("problems: %s: %w", e.DetailType, err)
		}
		if err := l.incident(e.DetailType, detail); err != nil {
			return err
		}
	}
	return nil
}

// incident keeps the review's view of an opened or resolved incident.
func (l *learning) incident(detailType string, detail []byte) error {
	switch detailType {
	case incidents.DetailOpened:
		var inc review.Incident
		if err := json.Unmarshal(detail, &inc); err != nil {
			return fmt.Errorf("decode %s: %w", detailType, err)
		}
		l.byID[inc.OpsItemID] = len(l.learned.Incidents)
		l.learned.Incidents = append(l.learned.Incidents, inc)
	case incidents.DetailResolved:
		var r problems.Resolution
		if err := json.Unmarshal(detail, &r); err != nil {
			return fmt.Errorf("decode %s: %w", detailType, err)
		}
		if i, ok := l.byID[r.OpsItemID]; ok {
			inc := &l.learned.Incidents[i]
			inc.Resolved, inc.Occurrences = r.Resolved, r.Occurrences
			inc.Flapping = inc.Flapping || r.Flapping
		}
	}
	return nil
}

// fill puts the problems into the report, open ones first.
func (l *learning) fill(ctx context.Context, rep *Report) error {
	for _, s := range problems.Statuses {
		ps, err := l.learned.Store.List(ctx, s)
		if err != nil {
			return fmt.Errorf("list %s problems: %w", s, err)
		}
		rep.Problems = append(rep.Problems, ps...)
	}
	for name, rc := range rep.Rules {
		a := l.learned.Activity[name]
		a.Matched = rc.Matched
		l.learned.Activity[name] = a
	}
	slices.SortStableFunc(l.learned.Incidents, func(a, b review.Incident) int { return a.Opened.Compare(b.Opened) })
	rep.Learned = l.learned
	return nil
}
