package classify_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/changelog"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/rules"
)

// maxEventSize is EventBridge's limit on an event (PutEvents entry).
const maxEventSize = 256 * 1024

// maxClassifyMemory is the memory one event may take to classify.
const maxClassifyMemory = 64 << 20

// hostileShapes are the worst shapes of a 256 KB event found: each spends
// its bytes on what costs a flattening parser the most.
var hostileShapes = map[string]func(size int) string{
	// one long key above many leaves: every leaf's path holds the key
	"long key over many leaves": func(size int) string {
		key := strings.Repeat("k", size/2)
		var b strings.Builder
		for i := 0; b.Len() < size/2-16; i++ {
			fmt.Fprintf(&b, `"%x":1,`, i)
		}
		return `{"` + key + `":{` + strings.TrimSuffix(b.String(), ",") + `}}`
	},
	// a key just within the path limit above many leaves
	"1 KB key over many leaves": func(size int) string {
		key := strings.Repeat("k", 1000)
		var b strings.Builder
		for i := 0; b.Len() < size-1100; i++ {
			fmt.Fprintf(&b, `"%x":1,`, i%4096)
		}
		return `{"` + key + `":{` + strings.TrimSuffix(b.String(), ",") + `}}`
	},
	// many values deep inside nested arrays: every leaf lists its arrays
	"deep arrays of many leaves": func(size int) string {
		open, close := strings.Repeat("[", 60), strings.Repeat("]", 60)
		var b strings.Builder
		for b.Len() < size-200 {
			b.WriteString("1,")
		}
		return `{"a":` + open + strings.TrimSuffix(b.String(), ",") + close + `}`
	},
	// many one-letter keys
	"many tiny fields": func(size int) string {
		var b strings.Builder
		for i := 0; b.Len() < size-64; i++ {
			fmt.Fprintf(&b, `"%x":0,`, i)
		}
		return `{` + strings.TrimSuffix(b.String(), ",") + `}`
	},
	// one huge string of escapes
	"escaped string": func(size int) string {
		return `{"s":"` + strings.Repeat(`\u00e9`, (size-64)/6) + `"}`
	},
}

// hostileEvent wraps detail in a CloudTrail envelope, filled to size bytes.
func hostileEvent(tb testing.TB, shape string, size int) *event.Event {
	tb.Helper()
	env := `{"version":"0","id":"hostile-1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"123456789012",` +
		`"time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{"eventName":"PutBucketTagging","errorCode":"AccessDenied","requestParameters":`
	body := hostileShapes[shape](size - len(env) - 4)
	raw := env + body + `}}`
	ev, err := event.Parse([]byte(raw))
	if err != nil {
		tb.Fatalf("%s: %v", shape, err)
	}
	return ev
}

func defaultClassifier(tb testing.TB) *classify.Classifier {
	tb.Helper()
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		tb.Fatal(err)
	}
	return classify.New(set, memory.New())
}

// TestHostileShapesBounded: any event up to EventBridge's size classifies
// within maxClassifyMemory, whatever its shape (time: BenchmarkHostileShapes).
func TestHostileShapesBounded(t *testing.T) {
	c := defaultClassifier(t)
	for shape := range hostileShapes {
		ev := hostileEvent(t, shape, maxEventSize)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d, err := c.Classify(context.Background(), ev)
		runtime.ReadMemStats(&after)
		used := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d KB event, %s, %.1f MB allocated", shape, len(ev.Raw)>>10, d.Action, float64(used)/(1<<20))
		if inv := (*classify.InvalidError)(nil); err != nil && !errors.As(err, &inv) {
			t.Errorf("%s: Classify error = %v, want a decision or *InvalidError", shape, err)
		}
		if used > maxClassifyMemory {
			t.Errorf("%s: classifying took %d MB, want at most %d MB", shape, used>>20, maxClassifyMemory>>20)
		}
	}
}

func BenchmarkHostileShapes(b *testing.B) {
	c := defaultClassifier(b)
	for shape := range hostileShapes {
		ev := hostileEvent(b, shape, maxEventSize)
		b.Run(strings.ReplaceAll(shape, " ", "-"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.Classify(context.Background(), ev)
			}
		})
	}
}

// FuzzClassifyMemory: no event within the size limit takes more than
// maxClassifyMemory to classify.
func FuzzClassifyMemory(f *testing.F) {
	for shape := range hostileShapes {
		f.Add(hostileShapes[shape](4096))
	}
	c := defaultClassifier(f)
	f.Fuzz(func(t *testing.T, detail string) {
		raw := `{"version":"0","id":"f","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"1","time":"2026-03-01T12:00:00Z","region":"r","resources":[],"detail":` + detail + `}`
		if len(raw) > maxEventSize {
			return
		}
		ev, err := event.Parse([]byte(raw))
		if err != nil {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _ = c.Classify(context.Background(), ev)
		runtime.ReadMemStats(&after)
		if used := after.TotalAlloc - before.TotalAlloc; used > maxClassifyMemory {
			t.Fatalf("classifying a %d-byte event took %d MB", len(raw), used>>20)
		}
	})
}

// TestProvenance: an event whose source is not an AWS service's is acted on
// only by a rule naming that source, is marked unverified, and never enters
// the change log, whatever its shape.
func TestProvenance(t *testing.T) {
	const src = `{"rules": [
  {"name": "sg-change", "pattern": {"source": [{"prefix": "aws."}], "detail": {"eventName": ["AuthorizeSecurityGroupIngress"]}}, "action": "record",
   "groupBy": ["detail.requestParameters.groupId"]},
  {"name": "root", "pattern": {"detail": {"userIdentity": {"type": ["Root"]}}}, "action": "incident", "severity": "high"},
  {"name": "own-app", "pattern": {"source": ["corp.payments"], "detail-type": ["Payment Failed"]}, "action": "incident", "severity": "high"}
],
"severities": {"high": {"opsItemSeverity": "2", "priority": 2}}}`
	set, err := rules.Build([]rules.File{{Name: "p.json", Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	c := classify.New(set, store)
	ev := func(id, source, detailType, detail string) *event.Event {
		e, err := event.Parse([]byte(`{"version":"0","id":"` + id + `","detail-type":"` + detailType + `","source":"` + source +
			`","account":"123456789012","time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	change := `{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","awsRegion":"us-east-1","eventTime":"2026-03-01T12:00:00Z","eventName":"AuthorizeSecurityGroupIngress","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/bob"},"requestParameters":{"groupId":"sg-1"}}`
	root := `{"eventName":"ConsoleLogin","userIdentity":{"type":"Root","arn":"arn:aws:iam::123456789012:root"}}`
	tests := []struct {
		name       string
		ev         *event.Event
		want       classify.Action
		unverified bool
	}{
		{"forged root sign-in", ev("f1", "corp.forged", "AWS Console Sign In via CloudTrail", root), classify.Ignore, true},
		{"genuine root sign-in", ev("g1", "aws.signin", "AWS Console Sign In via CloudTrail", root), classify.Incident, false},
		{"forged change", ev("f2", "corp.forged", "AWS API Call via CloudTrail", change), classify.Ignore, true},
		{"source that only looks like AWS", ev("f3", "AWS.ec2", "AWS API Call via CloudTrail", change), classify.Ignore, true},
		{"genuine change", ev("g2", "aws.ec2", "AWS API Call via CloudTrail", change), classify.Record, false},
		{"the operators' own source, named", ev("o1", "corp.payments", "Payment Failed", `{"id":"p-1"}`), classify.Incident, true},
	}
	var resource string
	for _, tt := range tests {
		d, err := c.Classify(context.Background(), tt.ev)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tt.name == "genuine change" && len(d.Resources) > 0 {
			resource = d.Resources[0]
		}
		if d.Action != tt.want || d.Unverified != tt.unverified {
			t.Errorf("Classify(%s) = %s unverified %v (%s), want %s unverified %v", tt.name, d.Action, d.Unverified, d.Reason, tt.want, tt.unverified)
		}
	}
	if resource == "" {
		t.Fatal("the genuine change names no resource")
	}
	got, err := store.Changes(context.Background(), resource, time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].EventID != "g2" {
		t.Errorf("change log of %s = %+v, want only the genuine change", resource, got)
	}
}

func TestSharedChangesRecordedUnderTheOrganization(t *testing.T) {
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st := memory.New()
	c := classify.New(set, st)
	// GIVEN a StackSet update and an ordinary write, each recorded by the
	// default rules
	for _, call := range []struct{ source, name string }{{"cloudformation.amazonaws.com", "UpdateStackSet"}, {"ec2.amazonaws.com", "StopInstances"}} {
		ev, err := event.Parse([]byte(`{"version":"0","id":"` + call.name + `","detail-type":"AWS API Call via CloudTrail","source":"aws.` + strings.Split(call.source, ".")[0] +
			`","account":"999999999999","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{"eventVersion":"1.08","eventSource":"` + call.source +
			`","eventName":"` + call.name + `","readOnly":false,"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::999999999999:assumed-role/platform/x"},"requestParameters":{"stackSetName":"baseline","instanceIds":"i-1"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := c.Classify(ctx, ev); err != nil || d.Action != classify.Record {
			t.Fatalf("%s = %v, %v; want recorded", call.name, d.Action, err)
		}
	}
	// WHEN the organization's changes are read THEN only the shared one is
	cs, err := st.Changes(ctx, changelog.Organization, time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), time.Hour*2)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].EventName != "UpdateStackSet" {
		t.Errorf("organization's changes = %+v, want the StackSet update", cs)
	}
}
