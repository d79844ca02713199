package incidents_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/signal"
)

// TestDescriptionInert: event text in a signal (an alarm description, a
// request parameter in the title) reaches the OpsItem description as text:
// no link, image, heading or raw HTML of the event's author, and no line
// of its own.
func TestDescriptionInert(t *testing.T) {
	e := newEnv(t, faults{})
	s := sig(signal.Detected, 0, func(s *signal.Signal) {
		s.Summary = "# Resolved\n![pixel](https://attacker.example/p.png) [runbook](https://attacker.example/phish) <img src=x onerror=alert(1)>"
		s.Actor = "arn:aws:sts::123456789012:assumed-role/r/[click](https://attacker.example)"
		s.Title = "Alarm **urgent** `x` is in ALARM"
	})
	if _, err := e.m.Handle(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	items := e.ops.Items()
	if len(items) != 1 {
		t.Fatalf("OpsItems = %d, want 1", len(items))
	}
	desc := items[0].Description
	head := desc
	if i := strings.Index(desc, "**Raw event (excerpt):**"); i >= 0 {
		head = desc[:i] // the excerpt is a code block: Markdown is not rendered there
	}
	// Markdown syntax from the event stays escaped: a bracket, an image's
	// "!", a tag's "<" or a heading's "#" always follows a backslash.
	for i := 0; i < len(head); i++ {
		if strings.IndexByte("[]!<#`", head[i]) >= 0 && (i == 0 || head[i-1] != '\\') {
			t.Errorf("description carries an unescaped %q from the event at %d: %q", head[i], i, head[max(0, i-20):min(len(head), i+20)])
		}
	}
	if !strings.Contains(head, `\!\[pixel\]`) || !strings.Contains(head, `\[click\]`) {
		t.Errorf("description lost the event's text instead of escaping it:\n%s", head)
	}
}
