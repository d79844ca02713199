package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/opsloop/opsloop/internal/inert"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/local/replay"
)

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("replay", stderr)
	rulesPath := fs.String("rules", "", "rules file or directory (default: the embedded default rules)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	read := readFlags(fs)
	paths, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "opsloop replay: give at least one PATH of events")
		return exitInvalid
	}
	set, err := loadRules(*rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop replay: %v\n", err)
		return exitInvalid
	}
	opts, err := read.options(ctx, paths)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop replay: %v\n", err)
		return exitInvalid
	}
	bar := newProgress(stderr)
	opts.Files = bar.file
	rep, err := replay.RunWith(ctx, set, paths, bar.update, opts)
	bar.done()
	if err != nil {
		fmt.Fprintf(stderr, "opsloop replay: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "opsloop replay: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	printReport(stdout, rep)
	return exitOK
}

func printReport(w io.Writer, rep *replay.Report) {
	fmt.Fprintf(w, "events: %d read, %d invalid, %d duplicate deliveries", rep.Events, rep.Invalid.Count, rep.Duplicates)
	for _, reason := range slices.Sorted(maps.Keys(rep.Skipped)) {
		fmt.Fprintf(w, ", %d skipped (%s)", rep.Skipped[reason], reason)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "decisions:")
	for _, a := range classify.Actions {
		fmt.Fprintf(w, " %s %d", a, rep.Decisions[a])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RULE\tMATCHED\tDECIDED\tINCIDENTS\tRECOVERS\t")
	for _, name := range rep.RuleNames() {
		rc := rep.Rules[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", name, rc.Matched, rc.Decided, rc.Incidents, rc.Recovers)
	}
	tw.Flush()
	if len(rep.Accounts) > 1 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ACCOUNT\tEVENTS\tINCIDENTS\tRECOVERS\t")
		for _, id := range slices.Sorted(maps.Keys(rep.Accounts)) {
			ac := rep.Accounts[id]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", inert.Line(id), ac.Events, ac.Incidents, ac.Recovers)
		}
		tw.Flush()
	}
	printOpsItems(w, rep)
	if rep.Invalid.Count > 0 {
		fmt.Fprintf(w, "\ninvalid input:\n")
		for reason, n := range rep.Invalid.Reasons {
			fmt.Fprintf(w, "  %6d  %s\n", n, inert.Line(reason))
		}
		for i, it := range rep.Invalid.Items {
			if i == 10 {
				fmt.Fprintf(w, "  ... (--json lists up to %d)\n", len(rep.Invalid.Items))
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", inert.Line(it.Pos), inert.Line(it.Error))
		}
	}
}

// progress draws a live count on a terminal and nothing otherwise.
type progress struct {
	w         io.Writer
	on        bool
	start     time.Time
	last      time.Time
	n         int
	files, of int
}

func newProgress(w io.Writer) *progress {
	// The bar is opsloop's own text, drawn with control codes on the
	// terminal itself, past the inert.Writer that guards the rest.
	if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
		w = u.Unwrap()
	}
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(n int) {
	p.n = n
	if !p.on {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.draw(now)
	}
}

// file notes that the i-th of n files or objects of a path is being read.
func (p *progress) file(_ string, i, n int) { p.files, p.of = i, n }

func (p *progress) draw(now time.Time) {
	secs := now.Sub(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.n) / secs
	}
	fmt.Fprintf(p.w, "\r\x1b[K  replaying: %d events read  %.0f/s  %.1fs", p.n, rate, secs)
	if p.of > 1 && p.files > 0 {
		left := time.Duration(secs * float64(p.of-p.files) / float64(p.files) * float64(time.Second))
		fmt.Fprintf(p.w, "  file %d of %d, about %s left", p.files, p.of, left.Round(time.Second))
	}
}

func (p *progress) done() {
	if p.on && !p.last.IsZero() {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
}

// maxListed bounds the OpsItems the summary lists.
const maxListed = 50

// printOpsItems lists what responders and operators would have seen: the
// OpsItems, what they cost in OpsCenter calls, and the problems.
func printOpsItems(w io.Writer, rep *replay.Report) {
	open := 0
	for _, it := range rep.OpsItems {
		if it.Status == "Open" {
			open++
		}
	}
	fmt.Fprintf(w, "\nOpsItems: %d (%d open, %d resolved), with %d CreateOpsItem and %d UpdateOpsItem calls\n",
		len(rep.OpsItems), open, len(rep.OpsItems)-open, rep.OpsCenterCalls.Creates, rep.OpsCenterCalls.Updates)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, it := range rep.OpsItems {
		if i == maxListed {
			fmt.Fprintf(tw, "  ... %d more (--json lists them all)\n", len(rep.OpsItems)-i)
			break
		}
		fmt.Fprintf(tw, "  %s\t%s\tseverity %s\t%d×\t%s\n", it.ID, it.Status, it.Severity, it.Occurrences, inert.Line(it.Title))
	}
	tw.Flush()
	if len(rep.Problems) == 0 {
		return
	}
	fmt.Fprintf(w, "\nproblems: %d\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s  %s  rule %s, %d incidents\n", inert.Line(p.Key), p.Status, p.Rule, p.Incidents)
		if len(p.SuspectedCauses) > 0 {
			c := p.SuspectedCauses[0]
			fmt.Fprintf(w, "    top suspected cause: %s by %s at %s (before %d of %d incidents)\n", inert.Line(c.EventName), inert.Line(orNone(c.Principal)), stamp(c.Time), c.Incidents, p.Incidents)
		}
	}
}
