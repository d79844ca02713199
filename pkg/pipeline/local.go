package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsloop/opsloop/pkg/classify"
	"github.com/opsloop/opsloop/pkg/event"
	"github.com/opsloop/opsloop/pkg/incidents"
	"github.com/opsloop/opsloop/pkg/memory"
	"github.com/opsloop/opsloop/pkg/rules"
)

// Local is the whole pipeline in one process on embedded stand-ins for
// DynamoDB, the opsloop bus and OpsCenter: what replay and tests run.
// Time is the events' own, so a replay of last month behaves as last month did.
type Local struct {
	Rules      *rules.Set
	Classifier *classify.Classifier
	Incidents  *incidents.Manager
	State      *memory.Store
	Records    *memory.Incidents
	OpsCenter  *memory.OpsCenter

	mu  sync.Mutex
	now time.Time // the time of the event being processed
}

// NewLocal builds the local pipeline for set.
func NewLocal(set *rules.Set) *Local {
	l := &Local{
		Rules:     set,
		State:     memory.New(),
		Records:   memory.NewIncidents(),
		OpsCenter: memory.NewOpsCenter(),
	}
	l.OpsCenter.Now = l.clock
	l.Classifier = classify.New(set, l.State)
	l.Incidents = incidents.New(l.OpsCenter, l.Records,
		incidents.WithClock(l.clock),
		incidents.WithChanges(ChangesFrom(l.State), 0))
	return l
}

func (l *Local) clock() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

// Result is what processing one event did.
type Result struct {
	Decision classify.Decision
	// Outcome is set when the decision was an incident or a recovery.
	Outcome *incidents.Outcome
}

// Process classifies ev and runs the incident lifecycle on the decision.
func (l *Local) Process(ctx context.Context, ev *event.Event) (Result, error) {
	l.mu.Lock()
	if ev.Time.After(l.now) {
		l.now = ev.Time
	}
	l.mu.Unlock()
	d, err := l.Classifier.Classify(ctx, ev)
	if err != nil {
		return Result{Decision: d}, err
	}
	res := Result{Decision: d}
	s, ok := SignalFor(l.Rules, d, ev)
	if !ok {
		return res, nil
	}
	out, err := l.Incidents.Handle(ctx, s)
	res.Outcome = &out
	if err != nil && incidents.Retryable(err) {
		return res, fmt.Errorf("handle %s signal %s: %w", s.Kind, s.EventID, err)
	}
	return res, nil
}

// changeLog is the part of the state that knows what changed on a resource.
type changeLog interface {
	Changes(ctx context.Context, resource string, t time.Time, lookback time.Duration) ([]classify.Change, error)
}

// ChangesFrom lets the incident lifecycle read the classifier's change log.
func ChangesFrom(log changeLog) incidents.Changes {
	return incidents.ChangesFunc(func(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]incidents.Change, error) {
		cs, err := log.Changes(ctx, resource, before, lookback)
		if err != nil {
			return nil, err
		}
		out := make([]incidents.Change, len(cs))
		for i, c := range cs {
			out[i] = incidents.Change{Time: c.Time, EventName: c.EventName, Actor: c.Actor, Title: c.Title}
		}
		return out, nil
	})
}
