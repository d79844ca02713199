package incidents_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/signal"
)

const contact = "arn:aws:sns:us-east-1:123456789012:platform-lead"

// escalating is a detection whose severity expects a response within 15
// minutes and escalates to one contact.
func escalating(minute int) signal.Signal {
	return sig(signal.Detected, minute, func(s *signal.Signal) {
		s.Plan.ResponseTime = 15 * time.Minute
		s.Plan.EscalateTo = []string{contact}
	})
}

// TestEscalateOncePerStep: an OpsItem left Open past its response time is
// raised a priority step and its next contact notified, once per response
// time however often the schedule runs, and "Incident Escalated" is
// published once per step; an acknowledged one is not escalated.
func TestEscalateOncePerStep(t *testing.T) {
	ctx := context.Background()
	dues := &memory.Dues{}
	e := newEnv(t, faults{})
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithDefaultTopic(topic),
		incidents.WithPublisher(incidents.PublisherFunc(func(_ context.Context, dt string, d any) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.published = append(e.published, incidents.Event{DetailType: dt, Detail: d})
			return nil
		})),
		incidents.WithEscalation(dues, e.ops))
	if _, err := e.m.Handle(ctx, escalating(0)); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 0 {
		t.Fatalf("Escalate before the response time = %+v, %v; want nothing", rep, err)
	}
	e.clock.Add(16 * time.Minute)
	// Three copies of the schedule at once take the step once.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.m.Escalate(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	it := e.ops.Items()[0]
	if it.Priority != 1 || !slices.Contains(it.Notifications, contact) || !slices.Contains(it.Notifications, topic) {
		t.Errorf("after the first escalation: priority %d, notifications %v; want 1 and the contact besides the topic", it.Priority, it.Notifications)
	}
	escalations := func() (n int) {
		for _, ev := range e.published {
			if ev.DetailType == incidents.DetailEscalated {
				n++
			}
		}
		return n
	}
	if n := escalations(); n != 1 {
		t.Errorf("Incident Escalated published %d times, want 1", n)
	}
	// Acknowledged: no further step.
	e.ops.SetStatus(it.ID, "InProgress")
	e.clock.Add(20 * time.Minute)
	if rep, err := e.m.Escalate(ctx); err != nil || rep.Escalated != 0 {
		t.Errorf("Escalate after acknowledgement = %+v, %v; want no escalation", rep, err)
	}
	if n := escalations(); n != 1 {
		t.Errorf("Incident Escalated published %d times after acknowledgement, want 1", n)
	}
	if left, _ := dues.DueBy(ctx, e.clock.Now().Add(time.Hour)); len(left) != 0 {
		t.Errorf("still tracked after acknowledgement: %v", left)
	}
}

// TestEscalateUntilTopPriority: unacknowledged, an incident is escalated a
// step each response time until priority 1 and every contact is reached,
// then no more.
func TestEscalateUntilTopPriority(t *testing.T) {
	ctx := context.Background()
	dues := &memory.Dues{}
	e := newEnv(t, faults{})
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithEscalation(dues, e.ops))
	s := escalating(0)
	s.Plan.Priority = 3
	if _, err := e.m.Handle(ctx, s); err != nil {
		t.Fatal(err)
	}
	steps := 0
	for range 6 {
		e.clock.Add(16 * time.Minute)
		rep, err := e.m.Escalate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		steps += rep.Escalated
	}
	if it := e.ops.Items()[0]; steps != 2 || it.Priority != 1 {
		t.Errorf("%d escalations, priority %d; want 2 (3 → 2 → 1) and 1", steps, it.Priority)
	}
}
