package incidents_test

import (
	"context"
	"regexp"
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
		s.Resources = append(s.Resources, "arn:aws:lambda:us-east-1:123456789012:function:x)](https://attacker.example/[a]<b>")
		s.Portal = &signal.Portal{URL: "https://d-1234567890.awsapps.com/start", Role: "ReadOnly"}
	})
	if _, err := e.m.Handle(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	items := e.ops.Items()
	if len(items) != 1 {
		t.Fatalf("OpsItems = %d, want 1", len(items))
	}
	head := items[0].Description
	// The console links are opsloop's own markup: each resource's name is
	// escaped text, each URL made of escaped parts that cannot end it.
	var console string
	for _, l := range strings.Split(head, "\n") {
		if rest, ok := strings.CutPrefix(l, "- **Console:** "); ok {
			console = rest
			head = strings.Replace(head, l, "", 1)
		}
	}
	links := regexp.MustCompile(`\[((?:[^\]\\]|\\.)*)\]\((https://[^()<>\[\] ]*)\)`).FindAllStringSubmatch(console, -1)
	if len(links) != 2 {
		t.Fatalf("console links %q: want two", console)
	}
	for _, l := range links {
		name := l[1]
		for i := 0; i < len(name); i++ {
			if strings.IndexByte("[]()<>!#`", name[i]) >= 0 && (i == 0 || name[i-1] != '\\') {
				t.Errorf("console link name %q carries an unescaped %q", name, name[i])
			}
		}
	}
	for _, l := range links {
		if !strings.HasPrefix(l[2], "https://d-1234567890.awsapps.com/start/#/console?account_id=123456789012&role_name=ReadOnly&destination=https%3A%2F%2Fus-east-1.console.aws.amazon.com") {
			t.Errorf("console link %q does not sign in to the resource's account through the portal", l[2])
		}
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
