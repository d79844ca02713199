package incidents_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

// FuzzHandle opens, repeats and resolves incidents from arbitrary signal
// text. The in-memory OpsCenter refuses any call that breaks an OpsCenter
// limit, so every call must succeed: the Manager cuts, never fails.
func FuzzHandle(f *testing.F) {
	f.Add("Alarm api-errors is in ALARM", "rule:a", "arn:aws:s3:::bucket", "someone", `{"a":1}`, "Availability", "2", "AWS-Restart")
	f.Add("two\nlines\r\n", "Rule:UPPER", "not an arn", "\xff\xfe", "```\n```", "", "9", "")
	f.Add(strings.Repeat("é", 1100), strings.Repeat("f", 600), strings.Repeat("arn:aws:x:r:a:", 3), strings.Repeat("€", 8000), strings.Repeat("日", 3000), strings.Repeat("c", 70), "\n", " ")
	f.Add(" ", "aws:rule", "arn:aws:ec2:us-east-1:1:instance/i-1", "", "", "\t", "", "ssm-doc")
	f.Fuzz(func(t *testing.T, title, fingerprint, resource, actor, excerpt, category, severity, runbook string) {
		ops, store := memory.NewOpsCenter(), memory.NewIncidents()
		m := incidents.New(ops, store, incidents.WithDefaultTopic(topic))
		ctx := context.Background()
		for i, kind := range []string{signal.Detected, signal.Detected, signal.Recovered} {
			s := sig(kind, i, func(s *signal.Signal) {
				s.Title, s.Fingerprint, s.Actor, s.Excerpt, s.Category = title, fingerprint, actor, excerpt, category
				s.Resources = []string{resource, resource + "/2"}
				s.Summary, s.Reason = title+excerpt, actor+title
				s.Plan.OpsItemSeverity, s.Plan.Runbooks, s.Plan.Notify = severity, []string{runbook}, []string{resource, "default"}
			})
			out, err := m.Handle(ctx, s)
			if errors.Is(err, memory.ErrInvalidParameter) {
				t.Fatalf("Handle(%s) made a call OpsCenter refuses: %v", s.EventID, err)
			}
			if err != nil && out.Action != incidents.Rejected {
				t.Fatalf("Handle(%s) = %s, %v", s.EventID, out.Action, err)
			}
			if out.Action == incidents.Rejected {
				if strings.TrimSpace(fingerprint) != "" {
					t.Fatalf("Handle(%s) rejected a signal with fingerprint %q: %v", s.EventID, fingerprint, err)
				}
				return
			}
		}
		items := ops.Items()
		if len(items) != 1 || items[0].Status != "Resolved" || items[0].Occurrences != 2 {
			t.Fatalf("OpsItems = %+v, want one, resolved after 2 occurrences", items)
		}
	})
}
