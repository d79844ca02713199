package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/routing"
	"github.com/opsloop/opsloop/internal/rules"
)

// templateFile is what scripts/synth.sh (run by scripts/test.sh before the
// tests) writes: the end-to-end run routes with its patterns, so what is
// tested is what is deployed.
const templateFile = "cdk.out/opsloop.template.json"

// routes are the default bus's EventBridge rules of the synthesized template.
type routes struct {
	set *pattern.Set
	n   int
}

func loadRoutes(t *testing.T, root string) *routes {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, templateFile))
	if err != nil {
		t.Fatalf("the synthesized template is missing (%v): run scripts/synth.sh first, as scripts/test.sh does", err)
	}
	pats, err := routing.FromTemplate(data)
	if err != nil {
		t.Fatalf("routes of %s: %v", templateFile, err)
	}
	if len(pats) == 0 {
		t.Fatalf("%s routes nothing to the classifier", templateFile)
	}
	r := &routes{set: pattern.NewSet(), n: len(pats)}
	for i, src := range pats {
		p, err := pattern.Compile([]byte(src))
		if err != nil {
			t.Fatalf("route %d of %s is not a valid pattern: %v", i, templateFile, err)
		}
		r.set.Add(src, p)
	}
	return r
}

// routed reports how many of the deployed rules deliver raw to the classifier.
func (r *routes) routed(t *testing.T, raw []byte) int {
	t.Helper()
	f, err := pattern.ParseEvent(raw)
	if err != nil {
		t.Fatalf("route event: %v", err)
	}
	return len(r.set.Match(f))
}

// route keeps the items the deployed rules deliver to the classifier, each
// exactly once, and checks that what they leave out would have been ignored.
func route(t *testing.T, r *routes, set *rules.Set, items []eventfile.Item) (kept []eventfile.Item, dropped int) {
	t.Helper()
	local := classify.New(set, memory.New())
	for _, it := range items {
		switch n := r.routed(t, it.Raw); n {
		case 0:
			ev := parse(t, it)
			d, err := local.Classify(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != classify.Ignore {
				t.Errorf("%s is not routed by the deployed rules, but the rules decide %s by %s", it.Pos, d.Action, d.Rule)
			}
			dropped++
		case 1:
			kept = append(kept, it)
		default:
			t.Errorf("%s matches %d deployed rules: the classifier would run %d times", it.Pos, n, n)
			kept = append(kept, it)
		}
	}
	t.Logf("%d EventBridge rules of the template route %d of %d sample events; %d are left out (ignored by every rule)", r.n, len(kept), len(items), dropped)
	return kept, dropped
}

func parse(t *testing.T, it eventfile.Item) *event.Event {
	t.Helper()
	ev, err := event.Parse(it.Raw)
	if err != nil {
		t.Fatalf("%s: %v", it.Pos, err)
	}
	return ev
}
