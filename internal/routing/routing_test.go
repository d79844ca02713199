package routing_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/repotest"
	"github.com/opsloop/opsloop/internal/routing"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/trailgen"
)

type sample struct {
	name string
	data []byte
}

// samples reads every event in events-samples.
func samples(t testing.TB) []sample {
	t.Helper()
	root := filepath.Join(repotest.Root(t), "events-samples")
	var out []sample
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "trails" {
			return filepath.SkipDir // many events a file, in the shapes users hold
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, sample{rel, data})
		return nil
	})
	if err != nil {
		t.Fatalf("read samples: %v", err)
	}
	if len(out) < 20 {
		t.Fatalf("found %d sample events in %s, want the repository's samples", len(out), root)
	}
	return out
}

// syntheticEvents converts generated CloudTrail records to the events
// EventBridge delivers, for a corpus larger than the samples.
func syntheticEvents(t testing.TB, n int) []sample {
	t.Helper()
	g := trailgen.New(7, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	var out []sample
	for range n {
		rec, err := json.Marshal(g.Record())
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.FromCloudTrailRecord(rec)
		if err != nil {
			continue
		}
		out = append(out, sample{"synthetic", ev})
	}
	if len(out) < n/2 {
		t.Fatalf("converted %d of %d synthetic records", len(out), n)
	}
	return out
}

func defaultSet(t testing.TB) *rules.Set {
	t.Helper()
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		t.Fatalf("load default rules: %v", err)
	}
	return set
}

func compile(t testing.TB, routes []routing.Route) []*pattern.Pattern {
	t.Helper()
	ps := make([]*pattern.Pattern, len(routes))
	for i, r := range routes {
		p, err := pattern.Compile([]byte(r.Pattern))
		if err != nil {
			t.Fatalf("route %d: Compile(%s) error = %v", i, r.Pattern, err)
		}
		ps[i] = p
	}
	return ps
}

func matches(t testing.TB, ps []*pattern.Pattern, data []byte) int {
	t.Helper()
	n := 0
	for _, p := range ps {
		ok, err := p.Match(data)
		if err != nil {
			t.Fatalf("Match: %v", err)
		}
		if ok {
			n++
		}
	}
	return n
}

// wanted reports whether some routed input matches the event.
func wanted(t testing.TB, in []routing.Input, data []byte) bool {
	t.Helper()
	for _, i := range in {
		ok, err := i.Pattern.Match(data)
		if err != nil {
			t.Fatalf("Match: %v", err)
		}
		if ok {
			return true
		}
	}
	return false
}

// namedAndUnnamed reports whether the event matches both an input that
// names its sources exactly and one that does not: the routes of the two
// kinds overlap, since the second admits every AWS source.
func namedAndUnnamed(t testing.TB, in []routing.Input, data []byte) bool {
	t.Helper()
	var named, unnamed bool
	for _, i := range in {
		ok, err := i.Pattern.Match(data)
		if err != nil {
			t.Fatalf("Match: %v", err)
		}
		if ok && strings.Contains(i.Pattern.String(), `"source":["`) {
			named = true
		} else if ok {
			unnamed = true
		}
	}
	return named && unnamed
}

// TestPatternsRouteExactlyTheMatchedEvents checks the default rules' routes
// against every sample and a synthetic CloudTrail corpus, for pattern size
// limits that need one route and several: every event a routed rule matches
// is routed, no other event is, and at the limits EventBridge has (2048,
// 4096 on request) no event is routed twice unless it matches a rule naming
// its source and one that does not. Below them, a cell no field splits
// small enough is cut into parts that may overlap.
func TestPatternsRouteExactlyTheMatchedEvents(t *testing.T) {
	set := defaultSet(t)
	in := routing.Inputs(set)
	events := append(samples(t), syntheticEvents(t, 3000)...)
	for _, tt := range []struct {
		size     int
		disjoint bool
	}{{4096, true}, {2048, true}, {1024, false}, {600, false}, {400, false}} {
		size := tt.size
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			routes, err := routing.Patterns(set, routing.Options{MaxPatternSize: size})
			if err != nil {
				t.Fatalf("Patterns() error = %v", err)
			}
			for _, r := range routes {
				if len(r.Pattern) > size {
					t.Errorf("route of %d characters, want at most %d: %s", len(r.Pattern), size, r.Pattern)
				}
			}
			ps := compile(t, routes)
			routed := 0
			for _, ev := range events {
				want := wanted(t, in, ev.data)
				got := matches(t, ps, ev.data)
				if want && got == 0 {
					t.Errorf("%s: a rule matches it, but no route does", ev.name)
				}
				if !want && got > 0 {
					t.Errorf("%s: no routed rule matches it, but %d routes do", ev.name, got)
				}
				if got > 1 && tt.disjoint && !(got == 2 && namedAndUnnamed(t, in, ev.data)) {
					t.Errorf("%s: routed %d times, want once (twice only when it matches a rule naming its source and one that does not)", ev.name, got)
				}
				if got > 0 {
					routed++
				}
			}
			if routed == 0 || routed == len(events) {
				t.Errorf("routed %d of %d events; the corpus should hold both kinds", routed, len(events))
			}
			t.Logf("limit %d: %d routes, %d of %d events routed", size, len(routes), routed, len(events))
		})
	}
}

// TestPatternsPackDefaultRules pins how few EventBridge rules the default
// rules take: two when the quota is raised to 4096 characters, 19 at the
// default 2048. Routing each event once costs rules: the clauses that any
// API call can match (writes, refusals, the root user) are repeated in
// every rule that splits the calls by name. EventBridge rules cost nothing;
// the bus allows 300.
func TestPatternsPackDefaultRules(t *testing.T) {
	set := defaultSet(t)
	for _, tt := range []struct{ size, want int }{{4096, 2}, {2048, 19}} {
		routes, err := routing.Patterns(set, routing.Options{MaxPatternSize: tt.size})
		if err != nil {
			t.Fatalf("Patterns(%d) error = %v", tt.size, err)
		}
		if len(routes) != tt.want {
			t.Errorf("Patterns(limit %d) = %d routes, want %d", tt.size, len(routes), tt.want)
		}
	}
}

func TestPatternsSkipIgnoreOnlyEvents(t *testing.T) {
	set := defaultSet(t)
	routes, err := routing.Patterns(set, routing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps := compile(t, routes)
	data, err := os.ReadFile(filepath.Join(repotest.Root(t), "events-samples", "ec2", "describe-instances.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := matches(t, ps, data); n != 0 {
		t.Errorf("a read-only call (only the ignore rule api-read matches) is routed by %d routes, want 0", n)
	}
	for _, r := range routes {
		for _, name := range r.Inputs {
			if set.Rule(name).Action == rules.Ignore {
				t.Errorf("route carries ignore rule %s", name)
			}
		}
	}
}

func TestPackSources(t *testing.T) {
	set := defaultSet(t)
	in := routing.Inputs(set)
	sources := []string{"aws.cloudwatch", "aws.ec2"}
	for _, size := range []int{2048, 500} {
		routes, err := routing.Pack(in, routing.Options{MaxPatternSize: size, Sources: sources})
		if err != nil {
			t.Fatalf("Pack(sources %v) error = %v", sources, err)
		}
		ps := compile(t, routes)
		for _, ev := range samples(t) {
			var env struct{ Source string }
			if err := json.Unmarshal(ev.data, &env); err != nil {
				t.Fatal(err)
			}
			enabled := env.Source == sources[0] || env.Source == sources[1]
			want := enabled && wanted(t, in, ev.data)
			if got := matches(t, ps, ev.data) > 0; got != want {
				t.Errorf("limit %d: %s from %s routed = %v, want %v", size, ev.name, env.Source, got, want)
			}
		}
	}
}

func mustCompile(t testing.TB, src string) *pattern.Pattern {
	t.Helper()
	p, err := pattern.Compile([]byte(src))
	if err != nil {
		t.Fatalf("Compile(%s) error = %v", src, err)
	}
	return p
}

// TestPackSimplifies pins the pattern written for small inputs.
func TestPackSimplifies(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{
			name: "values of one field merged",
			in: []string{
				`{"source":["aws.cloudwatch"],"detail":{"state":{"value":["ALARM"]}}}`,
				`{"source":["aws.cloudwatch"],"detail":{"state":{"value":["OK"]}}}`,
			},
			want: `{"detail":{"state":{"value":["ALARM","OK"]}},"source":["aws.cloudwatch"]}`,
		},
		{
			name: "narrower alternative dropped",
			in: []string{
				`{"source":["aws.cloudwatch"],"detail":{"state":{"value":["ALARM"]}}}`,
				`{"source":["aws.cloudwatch"],"detail":{"alarmName":[{"prefix":"critical-"}],"state":{"value":["ALARM"]}}}`,
			},
			want: `{"detail":{"state":{"value":["ALARM"]}},"source":["aws.cloudwatch"]}`,
		},
		{
			name: "shared fields written once",
			in: []string{
				`{"source":["aws.ec2"],"detail":{"state":["stopped"]}}`,
				`{"source":["aws.ec2"],"detail":{"eventName":["RunInstances"]}}`,
			},
			want: `{"detail":{"$or":[{"eventName":["RunInstances"]},{"state":["stopped"]}]},"source":["aws.ec2"]}`,
		},
		{
			name: "anything-but lists kept apart",
			in: []string{
				`{"source":["a"],"detail":{"x":[{"anything-but":"1"}]}}`,
				`{"source":["a"],"detail":{"x":["2"]}}`,
			},
			want: `{"detail":{"$or":[{"x":["2"]},{"x":[{"anything-but":"1"}]}]},"source":["a"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []routing.Input
			for i, src := range tt.in {
				in = append(in, routing.Input{Name: "r" + strconv.Itoa(i), Pattern: mustCompile(t, src)})
			}
			routes, err := routing.Pack(in, routing.Options{})
			if err != nil {
				t.Fatalf("Pack() error = %v", err)
			}
			if len(routes) != 1 || routes[0].Pattern != tt.want {
				t.Errorf("Pack(%v) = %+v, want one route %s", tt.in, routes, tt.want)
			}
		})
	}
}

func TestPackRejects(t *testing.T) {
	long := `{"source":["aws.ec2"],"detail":{"eventName":["` + strings.Repeat("x", 300) + `"]}}`
	tests := []struct {
		name    string
		in      []string
		opts    routing.Options
		wantErr string
	}{
		{"one pattern over the limit", []string{long}, routing.Options{MaxPatternSize: 200}, "big alone is"},
		{"more routes than allowed", []string{
			`{"source":["a"],"detail":{"x":["` + strings.Repeat("a", 150) + `"]}}`,
			`{"source":["b"],"detail":{"x":["` + strings.Repeat("b", 150) + `"]}}`,
			`{"source":["c"],"detail":{"x":["` + strings.Repeat("c", 150) + `"]}}`,
		}, routing.Options{MaxPatternSize: 200, MaxRoutes: 2}, "need 3 EventBridge rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []routing.Input
			for _, src := range tt.in {
				in = append(in, routing.Input{Name: "big", Pattern: mustCompile(t, src)})
			}
			routes, err := routing.Pack(in, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Pack() = %v, %v; want an error containing %q", routes, err, tt.wantErr)
			}
		})
	}
}

func TestPackNothingToRoute(t *testing.T) {
	routes, err := routing.Pack(nil, routing.Options{})
	if err != nil || len(routes) != 0 {
		t.Errorf("Pack(nil) = %v, %v; want no routes", routes, err)
	}
}

// TestForgedSourcesNotRouted: any principal allowed events:PutEvents can put
// a copy of an AWS event under a source of its own. However the default
// rules are packed, no route carries such a copy of any sample.
func TestForgedSourcesNotRouted(t *testing.T) {
	set := defaultSet(t)
	for _, size := range []int{4096, 2048, 600} {
		routes, err := routing.Patterns(set, routing.Options{MaxPatternSize: size})
		if err != nil {
			t.Fatalf("Patterns(%d) error = %v", size, err)
		}
		ps := compile(t, routes)
		for _, s := range samples(t) {
			var ev map[string]any
			if err := json.Unmarshal(s.data, &ev); err != nil {
				t.Fatal(err)
			}
			for _, forged := range []string{"corp.forged", "aws", "AWS.cloudtrail", " aws.cloudtrail"} {
				ev["source"] = forged
				data, _ := json.Marshal(ev)
				if n := matches(t, ps, data); n > 0 {
					t.Errorf("limit %d: %s with source %q is routed %d times, want never", size, s.name, forged, n)
				}
			}
		}
	}
}

// TestScopedRuleRouted: a rule scoped to accounts and Regions routes only
// their events, so other accounts' events never invoke the classifier.
func TestScopedRuleRouted(t *testing.T) {
	set, err := rules.Build([]rules.File{{Name: "scoped.json", Data: []byte(`{"rules": [{"name": "r", "action": "record",
  "pattern": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
  "scope": {"accounts": ["111122223333"], "regions": ["eu-west-1"]}}]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := routing.Patterns(set, routing.Options{MaxPatternSize: routing.DefaultMaxPatternSize})
	if err != nil || len(routes) != 1 {
		t.Fatalf("Patterns = %v, %v", routes, err)
	}
	p, err := pattern.Compile([]byte(routes[0].Pattern))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		account, region string
		want            bool
	}{{"111122223333", "eu-west-1", true}, {"999999999999", "eu-west-1", false}, {"111122223333", "us-east-1", false}} {
		ev := `{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "account": "` + tt.account + `", "region": "` + tt.region + `", "detail": {}}`
		if got, _ := p.Match([]byte(ev)); got != tt.want {
			t.Errorf("route %s of %s in %s = %v, want %v", routes[0].Pattern, tt.account, tt.region, got, tt.want)
		}
	}
}
