package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/inert"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/review"
)

func analysisList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("analysis list", stderr)
	src := newProblemsSource(fs, "analysis list", true)
	status := fs.String("status", "open", "tracking, open, done or all")
	asJSON := fs.Bool("json", false, "print the analyses as a JSON array")
	events, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	want := analysis.Statuses
	if *status != "all" {
		if !analysis.Status(*status).Valid() {
			fmt.Fprintf(stderr, "opsloop analysis list: --status %q: want tracking, open, done or all\n", *status)
			return exitInvalid
		}
		want = []analysis.Status{analysis.Status(*status)}
	}
	st, code := src.open(ctx, events, stderr)
	if code != exitOK {
		return code
	}
	list := []analysis.Analysis{}
	for _, s := range want {
		as, err := st.ListAnalyses(ctx, s)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop analysis list: %v\n", err)
			return exitFailed
		}
		list = append(list, as...)
	}
	if *asJSON {
		return printJSON(stdout, stderr, "analysis list", list)
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "no %s analyses\n", strings.TrimPrefix(*status, "all"))
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OPSITEM\tSTATUS\tSEVERITY\tRULE\tFIRST EVENT\tDETECT\tACKNOWLEDGE\tRESOLVE\tACTIONS OPEN\tTITLE")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", inert.Line(a.OpsItemID), a.Status, inert.Line(orNone(a.Severity)), inert.Line(orNone(a.Rule)),
			stamp(a.FirstEvent), took(a.TimeToDetect), took(a.TimeToAcknowledge), took(a.TimeToResolve), len(a.Undone()), inert.Line(a.Title))
	}
	tw.Flush()
	return exitOK
}

func took(f func() (time.Duration, bool)) string {
	if d, ok := f(); ok {
		return review.Duration(d)
	}
	return "-"
}

func analysisShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("analysis show", stderr)
	src := newProblemsSource(fs, "analysis show", false)
	asJSON := fs.Bool("json", false, "print the analysis as JSON, with its timeline")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, "opsloop analysis show: give the OpsItem id of the incident")
		return exitInvalid
	}
	st, code := src.open(ctx, pos[1:], stderr)
	if code != exitOK {
		return code
	}
	a, err := st.GetAnalysis(ctx, pos[0])
	if err == nil && a == nil {
		err = fmt.Errorf("%s: %w", pos[0], analysis.ErrNotFound)
	}
	if err != nil {
		fmt.Fprintf(stderr, "opsloop analysis show: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		return printJSON(stdout, stderr, "analysis show", struct {
			*analysis.Analysis
			Timeline []analysis.Entry `json:"timeline"`
		}{a, a.Timeline()})
	}
	printAnalysis(stdout, a)
	return exitOK
}

func printAnalysis(w io.Writer, a *analysis.Analysis) {
	fmt.Fprintf(w, "%s  %s\n", inert.Line(a.OpsItemID), inert.Line(a.Title))
	fmt.Fprintf(w, "status:       %s", a.Status)
	if !a.Closed.IsZero() {
		fmt.Fprintf(w, " since %s", stamp(a.Closed))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "rule:         %s (%s, %s)\n", inert.Line(orNone(a.Rule)), inert.Line(orNone(a.Severity)), inert.Line(orNone(a.Category)))
	if a.Account != "" || a.Region != "" {
		fmt.Fprintf(w, "where:        account %s, %s\n", inert.Line(orNone(a.Account)), inert.Line(orNone(a.Region)))
	}
	if a.Problem != "" {
		fmt.Fprintf(w, "problem:      %s (opsloop problems show %s)\n", inert.Line(a.Problem), inert.Line(a.Problem))
	}
	fmt.Fprintf(w, "detect:       %s\nacknowledge:  %s\nresolve:      %s\n", took(a.TimeToDetect), took(a.TimeToAcknowledge), took(a.TimeToResolve))
	fmt.Fprintln(w, "\ntimeline:")
	for _, e := range a.Timeline() {
		fmt.Fprintf(w, "  %s  %s\n", stamp(e.At), inert.Line(e.What))
	}
	fmt.Fprintf(w, "\nroot cause:   %s\n", inert.Line(orNone(a.RootCause)))
	fmt.Fprintln(w, "lessons:")
	if len(a.Lessons) == 0 {
		fmt.Fprintln(w, "  none yet (opsloop analysis edit --lesson TEXT)")
	}
	for _, l := range a.Lessons {
		fmt.Fprintf(w, "  - %s\n", inert.Line(l))
	}
	fmt.Fprintln(w, "action items:")
	if len(a.ActionItems) == 0 {
		fmt.Fprintln(w, "  none yet (opsloop analysis edit --action TEXT [--owner NAME])")
	}
	for i, it := range a.ActionItems {
		mark := " "
		if it.Done {
			mark = "x"
		}
		owner := ""
		if it.Owner != "" {
			owner = " (" + inert.Line(it.Owner) + ")"
		}
		fmt.Fprintf(w, "  %d. [%s] %s%s\n", i+1, mark, inert.Line(it.Text), owner)
	}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func analysisEdit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("analysis edit", stderr)
	table := tableFlag(fs)
	state := fs.String("state", "", "problems state file to change (written by problems list --save)")
	var lessons, actions listFlag
	var done []int
	var e analysis.Edit
	fs.Func("root-cause", "the root cause, replacing the one recorded", func(v string) error { e.RootCause = &v; return nil })
	fs.Var(&lessons, "lesson", "a lesson learned (repeat for more)")
	fs.Var(&actions, "action", "an action item (repeat for more)")
	owner := fs.String("owner", "", "who owns the action items added")
	fs.Func("done", "the number of an action item now done (repeat for more)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("want an action item's number, as show lists it")
		}
		done = append(done, n)
		return nil
	})
	fs.BoolVar(&e.Close, "close", false, "mark the analysis done")
	fs.BoolVar(&e.Reopen, "reopen", false, "open a done analysis again")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "opsloop analysis edit: give one OpsItem id and either --table NAME or --state FILE")
		return exitInvalid
	}
	e.AddLessons, e.DoneActions = lessons, done
	for _, text := range actions {
		e.AddActions = append(e.AddActions, analysis.ActionItem{Text: text, Owner: *owner})
	}
	st, file, code := openWritable(ctx, "analysis edit", *table, *state, stderr)
	if code != exitOK {
		return code
	}
	a, err := analysis.NewRecorder(st, nil, nil).Edit(ctx, pos[0], e)
	if err == nil && file != nil {
		err = writeState(*state, file)
	}
	switch {
	case errors.Is(err, analysis.ErrInvalid):
		fmt.Fprintf(stderr, "opsloop analysis edit: %v\n", err)
		return exitInvalid
	case err != nil:
		fmt.Fprintf(stderr, "opsloop analysis edit: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "analysis of %s is %s: %d lessons, %d of %d action items open\n", inert.Line(a.OpsItemID), a.Status, len(a.Lessons), len(a.Undone()), len(a.ActionItems))
	return exitOK
}

// openWritable opens the table or the state file that a command changes;
// file is the state to write back, nil for the table.
func openWritable(ctx context.Context, name, table, state string, stderr io.Writer) (st store, file *memory.Problems, code int) {
	if (state == "") == (table == "") {
		fmt.Fprintf(stderr, "opsloop %s: give either --table NAME or --state FILE\n", name)
		return nil, nil, exitInvalid
	}
	var err error
	if table != "" {
		st, err = openTable(ctx, table)
	} else {
		file, err = readState(state)
		st = file
	}
	if err != nil {
		fmt.Fprintf(stderr, "opsloop %s: %v\n", name, err)
		return nil, nil, exitInvalid
	}
	return st, file, exitOK
}

var _ flag.Value = (*listFlag)(nil)
