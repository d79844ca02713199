package classify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strconv"
	"testing"
	"time"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/trailgen"
)

// cloudTrailEvents returns n EventBridge events converted from synthetic
// CloudTrail records (1.5-2.5 KB each, as real ones).
func cloudTrailEvents(tb testing.TB, n int) []*event.Event {
	tb.Helper()
	evs := make([]*event.Event, n)
	for i, raw := range cloudTrailRaw(tb, n) {
		var err error
		if evs[i], err = event.Parse(raw); err != nil {
			tb.Fatal(err)
		}
	}
	return evs
}

// cloudTrailRaw returns the events of cloudTrailEvents as bytes.
func cloudTrailRaw(tb testing.TB, n int) [][]byte {
	tb.Helper()
	g := trailgen.New(7, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	out := make([][]byte, n)
	for i := range out {
		rec, err := json.Marshal(g.Record())
		if err != nil {
			tb.Fatal(err)
		}
		if out[i], err = event.FromCloudTrailRecord(rec); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// manyRules returns the default rules plus n generated operator rules of
// the shapes operators write: services and event names, error codes,
// prefixes, wildcards, anything-but, numeric and exists conditions.
func manyRules(tb testing.TB, n int) *rules.Set {
	tb.Helper()
	def, err := fs.ReadFile(opsloop.DefaultRules, "default.json")
	if err != nil {
		tb.Fatal(err)
	}
	services := []string{"ec2", "s3", "iam", "kms", "lambda", "dynamodb", "rds", "sts", "sns", "sqs", "ecs", "eks", "cloudformation", "logs", "events", "ssm", "secretsmanager", "route53", "elasticloadbalancing", "autoscaling"}
	rs := []map[string]any{}
	for i := range n {
		svc := services[i%len(services)]
		detail := map[string]any{"eventSource": []any{svc + ".amazonaws.com"}}
		switch i % 6 {
		case 0:
			detail["eventName"] = []any{fmt.Sprintf("Create%dThing", i), fmt.Sprintf("Delete%dThing", i)}
		case 1:
			detail["errorCode"] = []any{map[string]any{"prefix": fmt.Sprintf("Err%d", i)}}
		case 2:
			detail["eventName"] = []any{map[string]any{"wildcard": fmt.Sprintf("Put*Policy%d", i)}}
		case 3:
			detail["userIdentity"] = map[string]any{"userName": []any{fmt.Sprintf("user-%d", i)}, "type": []any{map[string]any{"anything-but": "AWSService"}}}
		case 4:
			detail["requestParameters"] = map[string]any{"maxCount": []any{map[string]any{"numeric": []any{">", 100 + i}}}}
		case 5:
			detail["eventName"] = []any{fmt.Sprintf("Modify%d", i)}
			detail["errorCode"] = []any{map[string]any{"exists": false}}
		}
		rs = append(rs, map[string]any{
			"name": fmt.Sprintf("gen-%04d", i), "pattern": map[string]any{"source": []any{"aws." + svc}, "detail": detail},
			"action": "record",
		})
	}
	gen, err := json.Marshal(map[string]any{"rules": rs})
	if err != nil {
		tb.Fatal(err)
	}
	set, err := rules.Build([]rules.File{{Name: "default.json", Data: def}, {Name: "generated.json", Data: gen}})
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// BenchmarkClassify measures events per second per core on CloudTrail-sized
// events, from the event's bytes as the function receives them to the
// decision; the cost must stay nearly flat as the rule count grows.
func BenchmarkClassify(b *testing.B) {
	raws := cloudTrailRaw(b, 4096)
	for _, n := range []int{0, 100, 1000} {
		set := manyRules(b, n)
		b.Run(fmt.Sprintf("rules=%d", len(set.Rules)), func(b *testing.B) {
			c := classify.New(set, memory.New())
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				// Parsed anew: a parsed event caches what it was asked.
				ev, err := event.Parse(raws[i%len(raws)])
				if err != nil {
					b.Fatal(err)
				}
				ev.ID = strconv.Itoa(i) // every delivery is a new event
				if _, err := c.Classify(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestManyRulesSameDecisions guards the benchmark's premise: the generated
// rules change no decision of the default rules on these events.
func TestManyRulesSameDecisions(t *testing.T) {
	evs := cloudTrailEvents(t, 500)
	a := classify.New(manyRules(t, 0), memory.New())
	b := classify.New(manyRules(t, 1000), memory.New())
	ctx := context.Background()
	for _, ev := range evs {
		da, err := a.Classify(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		db, err := b.Classify(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if da.Action != db.Action || da.Rule != db.Rule {
			t.Fatalf("event %s: default rules say %s/%s, with 1000 more %s/%s", ev.ID, da.Action, da.Rule, db.Action, db.Rule)
		}
	}
}

// BenchmarkDecide measures what the classifier function does with an
// event's bytes: the fast path for the events the rules ignore, the full
// parse and Classify for the others.
func BenchmarkDecide(b *testing.B) {
	raws := cloudTrailRaw(b, 4096)
	for _, n := range []int{0, 100, 1000} {
		set := manyRules(b, n)
		b.Run(fmt.Sprintf("rules=%d", len(set.Rules)), func(b *testing.B) {
			c := classify.New(set, memory.New())
			ctx := context.Background()
			fast := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				raw := raws[i%len(raws)]
				if _, _, _, ok := c.Ignored(raw); ok {
					fast++
					continue
				}
				ev, err := event.Parse(raw)
				if err != nil {
					b.Fatal(err)
				}
				ev.ID = strconv.Itoa(i)
				if _, err := c.Classify(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(fast)/float64(b.N), "fast/op")
		})
	}
}

// BenchmarkIgnored measures the fast path alone, on the events it decides,
// as the rule count grows.
func BenchmarkIgnored(b *testing.B) {
	all := cloudTrailRaw(b, 4096)
	for _, n := range []int{0, 100, 1000} {
		set := manyRules(b, n)
		b.Run(fmt.Sprintf("rules=%d", len(set.Rules)), func(b *testing.B) {
			c := classify.New(set, memory.New())
			var raws [][]byte
			for _, raw := range all {
				if _, _, _, ok := c.Ignored(raw); ok {
					raws = append(raws, raw)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, _, _, ok := c.Ignored(raws[i%len(raws)]); !ok {
					b.Fatal("not ignored")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
