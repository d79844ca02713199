package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/opsloop/opsloop/internal/inert"

	"github.com/opsloop/opsloop"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/rules"
)

// loadRules loads the rules at path, or the embedded defaults when path is empty.
func loadRules(path string) (*rules.Set, error) {
	if path == "" {
		return rules.LoadFS(opsloop.DefaultRules)
	}
	return rules.Load(path)
}

func rulesValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rules validate", stderr)
	paths, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(paths) == 0 {
		paths = []string{"rules"}
	}
	set, err := rules.Load(paths...)
	if err != nil {
		var errs rules.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stdout, e)
			}
			fmt.Fprintf(stdout, "%d error(s)\n", len(errs))
		} else {
			fmt.Fprintf(stdout, "%v\n", err)
		}
		return exitFailed
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "valid: %d rules, %d severities, %d silences in %d file(s)\n",
		len(set.Rules), len(set.Severities), len(set.Silences), len(set.Files))
	return exitOK
}

func rulesSchema(_ context.Context, _ []string, stdout, stderr io.Writer) int {
	data, err := fs.ReadFile(opsloop.DefaultRules, "opsloop-rules.schema.json")
	if err != nil {
		fmt.Fprintf(stderr, "opsloop rules schema: %v\n", err)
		return exitFailed
	}
	_, _ = stdout.Write(data)
	return exitOK
}

// testResult is what `rules test --json` prints per event.
type testResult struct {
	File string `json:"file"`
	// Pos is where in File the event is, when File holds several
	// (JSON lines, CloudTrail logs, lookup-events output, ...).
	Pos      string             `json:"pos,omitempty"`
	Error    string             `json:"error,omitempty"`
	Decision *classify.Decision `json:"decision,omitempty"`
	Closest  []nearMiss         `json:"closest,omitempty"`
}

type nearMiss struct {
	Rule   string         `json:"rule"`
	Misses []pattern.Miss `json:"misses"`
}

// rulesTest shows, for each event, the rule that decides it, the others that
// matched, the decision, and for an event no rule matches the closest rules
// and why they missed. Events are classified in order on one state, so
// thresholds can be tried with several events.
func rulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rules test", stderr)
	rulesPath := fs.String("rules", "", "rules file or directory (default: the embedded default rules)")
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	files, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "opsloop rules test: give at least one EVENT.json")
		return exitInvalid
	}
	set, err := loadRules(*rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop rules test: %v\n", err)
		return exitInvalid
	}
	c := classify.New(set, memory.New())
	code := exitOK
	enc := json.NewEncoder(stdout)
	for _, f := range files {
		for _, res := range testFile(ctx, c, set, f) {
			if res.Error != "" {
				code = exitInvalid
			}
			if *asJSON {
				if err := enc.Encode(res); err != nil {
					return exitFailed
				}
				continue
			}
			printTest(stdout, res)
		}
	}
	return code
}

// testFile tests every event file holds, in whatever shape eventfile reads
// (a single event, JSON lines, CloudTrail records and logs, ...).
func testFile(ctx context.Context, c *classify.Classifier, set *rules.Set, file string) []testResult {
	var out []testResult
	err := eventfile.Read(ctx, []string{file}, func(it eventfile.Item) error {
		res := testResult{File: file}
		if it.Pos != file {
			res.Pos = it.Pos
		}
		switch {
		case it.Skip != "":
			return nil
		case it.Err != nil:
			res.Error = it.Err.Error()
		default:
			res = testOne(ctx, c, set, res, it)
		}
		out = append(out, res)
		return nil
	})
	if err != nil {
		out = append(out, testResult{File: file, Error: err.Error()})
	}
	return out
}

func testOne(ctx context.Context, c *classify.Classifier, set *rules.Set, res testResult, it eventfile.Item) testResult {
	ev := it.Event
	if ev == nil {
		var err error
		if ev, err = event.Parse(it.Raw); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	d, err := c.Classify(ctx, ev)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Decision = &d
	if d.Rule == "" {
		res.Closest = closest(set, ev, 3)
	}
	return res
}

// closest ranks rules by how few of their conditions the event misses.
func closest(set *rules.Set, ev *event.Event, n int) []nearMiss {
	fields, err := pattern.ParseEvent(ev.Raw)
	if err != nil {
		return nil
	}
	var near []nearMiss
	for _, r := range set.Rules {
		if misses := r.Pattern.Explain(fields); len(misses) > 0 {
			near = append(near, nearMiss{Rule: r.Name, Misses: misses})
		}
	}
	sort.SliceStable(near, func(i, j int) bool { return len(near[i].Misses) < len(near[j].Misses) })
	if len(near) > n {
		near = near[:n]
	}
	return near
}

func printTest(w io.Writer, res testResult) {
	if res.Pos != "" {
		fmt.Fprintf(w, "%s\n", inert.Line(res.Pos))
	} else {
		fmt.Fprintf(w, "%s\n", inert.Line(res.File))
	}
	if res.Error != "" {
		fmt.Fprintf(w, "  error:       %s\n\n", inert.Line(res.Error))
		return
	}
	d := res.Decision
	fmt.Fprintf(w, "  decision:    %s\n", d.Action)
	if d.Rule != "" {
		fmt.Fprintf(w, "  rule:        %s\n", d.Rule)
	}
	if len(d.Matched) > 0 {
		fmt.Fprintf(w, "  also matched: %s\n", strings.Join(d.Matched, ", "))
	}
	if d.Action == classify.Incident || d.Action == classify.Recover {
		fmt.Fprintf(w, "  fingerprint: %s\n", inert.Line(d.Fingerprint))
		fmt.Fprintf(w, "  severity:    %s\n  category:    %s\n", d.Severity, d.Category)
	}
	if d.Title != "" {
		fmt.Fprintf(w, "  title:       %s\n", inert.Line(d.Title))
	}
	if len(d.Resources) > 0 {
		fmt.Fprintf(w, "  resources:   %s\n", inert.Line(strings.Join(d.Resources, ", ")))
	}
	fmt.Fprintf(w, "  why:         %s\n", inert.Line(d.Reason))
	if len(res.Closest) > 0 {
		fmt.Fprintf(w, "  closest rules:\n")
		for _, nm := range res.Closest {
			fmt.Fprintf(w, "    %s misses %d condition(s):\n", nm.Rule, len(nm.Misses))
			for _, m := range nm.Misses {
				got := "nothing (missing)"
				if m.Got != nil {
					got = strings.Join(m.Got, ", ") // JSON text, as in the event
				}
				fmt.Fprintf(w, "      %s: wants %s, event has %s\n", inert.Line(m.Path), m.Want, inert.Line(got))
			}
		}
	}
	fmt.Fprintln(w)
}
