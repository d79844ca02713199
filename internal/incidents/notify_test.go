package incidents_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/signal"
)

// TestChatNotifications: "Incident Opened" and "Incident Escalated" carry a
// chat message in the custom notification format: short, linking the
// OpsItem, naming the plan's first step, threaded under the OpsItem, with
// the event's text unable to add Markdown (links, mentions, formatting).
func TestChatNotifications(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, faults{})
	var published []incidents.Event
	e.m = incidents.New(e.ops, e.store, incidents.WithClock(e.clock.Now), incidents.WithDefaultTopic(topic),
		incidents.WithConsoleRegion("eu-west-1"),
		incidents.WithPublisher(incidents.PublisherFunc(func(_ context.Context, dt string, d any) error {
			published = append(published, incidents.Event{DetailType: dt, Detail: d})
			return nil
		})),
		incidents.WithEscalation(&memory.Dues{}, e.ops))
	hostile := "Alarm *x* [click](https://evil.example) <!channel> `y` " + strings.Repeat("z", 500)
	s := sig(signal.Detected, 0, func(s *signal.Signal) {
		s.Title = hostile
		s.Plan.ResponseTime = 15 * time.Minute
		s.Plan.EscalateTo = []string{contact}
		s.Plan.Owner = "on-call"
		s.Plan.Steps = []string{"Acknowledge: set the OpsItem to In progress.", "Contain."}
	})
	if _, err := e.m.Handle(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(16 * time.Minute)
	if _, err := e.m.Escalate(ctx); err != nil {
		t.Fatal(err)
	}
	id := e.ops.Items()[0].ID
	var got []incidents.Notification
	for _, ev := range published {
		var n struct {
			Notification *incidents.Notification `json:"notification"`
		}
		raw, _ := json.Marshal(ev.Detail)
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatal(err)
		}
		if n.Notification != nil {
			got = append(got, *n.Notification)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d notifications, want the opening's and the escalation's", len(got))
	}
	for i, n := range got {
		c := n.Content
		if n.Version != "1.0" || n.Source != "custom" || c.TextType != "client-markdown" || n.Metadata.ThreadID != id {
			t.Errorf("notification %d: %+v; want version 1.0, source custom, client-markdown, threaded under %s", i, n, id)
		}
		if !strings.Contains(c.Description, "https://console.aws.amazon.com/systems-manager/opsitems/"+id+"?region=eu-west-1") {
			t.Errorf("notification %d does not link the OpsItem: %q", i, c.Description)
		}
		if len(c.NextSteps) != 1 || c.NextSteps[0] != "Acknowledge: set the OpsItem to In progress." {
			t.Errorf("notification %d next steps %q, want the plan's first step", i, c.NextSteps)
		}
		for _, bad := range []string{"[click](", "<!channel>", "*x*", "`y`"} {
			if strings.Contains(c.Title, bad) {
				t.Errorf("notification %d title keeps %q: %q", i, bad, c.Title)
			}
		}
		if len(c.Title) > 600 {
			t.Errorf("notification %d title of %d bytes", i, len(c.Title))
		}
	}
	if !strings.HasPrefix(got[1].Content.Title, "Escalated, step 1: ") || !strings.Contains(got[1].Content.Description, contact+" notified") {
		t.Errorf("escalation notification %+v; want the step and the contact", got[1].Content)
	}
}
