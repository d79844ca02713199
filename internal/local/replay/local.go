package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/signal/fromclassify"
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
	Budget     *memory.Budget
	Waitlist   *memory.Waitlist

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
		Budget:    &memory.Budget{},
		Waitlist:  &memory.Waitlist{},
	}
	l.OpsCenter.Now = l.clock
	l.Classifier = classify.New(set, l.State)
	l.Incidents = incidents.New(l.OpsCenter, l.Records,
		incidents.WithClock(l.clock),
		incidents.WithChanges(l.State, 0),
		incidents.WithBudget(l.Budget),
		incidents.WithWaitlist(l.Waitlist))
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
	// Most of a trail is ignored: the fast path decides those from the
	// bytes, as the deployed classifier does.
	if d, _, _, ok := l.Classifier.Ignored(ev.Raw); ok {
		return Result{Decision: d}, nil
	}
	d, err := l.Classifier.Classify(ctx, ev)
	if err != nil {
		return Result{Decision: d}, err
	}
	res := Result{Decision: d}
	s, ok := fromclassify.Signal(l.Rules, d, ev)
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
