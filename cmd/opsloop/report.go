package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opsloop/opsloop/internal/local/replay"
	"github.com/opsloop/opsloop/internal/review"
)

func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", stderr)
	rulesPath := fs.String("rules", "", "rules file or directory (default: the embedded default rules)")
	out := fs.String("out", "report.html", "where to write the HTML report")
	previous := fs.String("previous", "", "the last review: its HTML report or rules snapshot JSON, to list rules changes since")
	previousRules := fs.String("previous-rules", "", "the rules of the last review (file or directory), instead of --previous")
	snapshot := fs.String("snapshot", "", "also write this review's rules snapshot (JSON) here, for the next --previous")
	title := fs.String("title", "opsloop review", "the report's title")
	events, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(events) == 0 {
		fmt.Fprintln(stderr, "opsloop report: give at least one PATH of events")
		return exitInvalid
	}
	if *previous != "" && *previousRules != "" {
		fmt.Fprintln(stderr, "opsloop report: give --previous or --previous-rules, not both")
		return exitInvalid
	}
	set, err := loadRules(*rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop report: %v\n", err)
		return exitInvalid
	}
	var prev *review.RulesSnapshot
	switch {
	case *previous != "":
		s, err := readSnapshot(*previous)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop report: --previous: %v\n", err)
			return exitInvalid
		}
		prev = &s
	case *previousRules != "":
		old, err := loadRules(*previousRules)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop report: --previous-rules: %v\n", err)
			return exitInvalid
		}
		s := review.Snapshot(old, time.Time{})
		prev = &s
	}
	bar := newProgress(stderr)
	rep, err := replay.Run(ctx, set, events, bar.update)
	bar.done()
	if err != nil {
		fmt.Fprintf(stderr, "opsloop report: %v\n", err)
		return exitFailed
	}
	rv := review.Build(review.Input{
		Title: *title, From: rep.Learned.From, To: rep.Learned.To, Generated: time.Now(),
		Rules: set, Previous: prev, Incidents: rep.Learned.Incidents, Problems: rep.Problems,
		Activity: rep.Learned.Activity, Events: rep.Events, Analyses: rep.Learned.Store.State().Analyses,
	})
	if err := writeFile(*out, rv.WriteHTML); err != nil {
		fmt.Fprintf(stderr, "opsloop report: %v\n", err)
		return exitFailed
	}
	if *snapshot != "" {
		err := writeFile(*snapshot, func(w io.Writer) error { return printJSONTo(w, rv.Snapshot) })
		if err != nil {
			fmt.Fprintf(stderr, "opsloop report: %v\n", err)
			return exitFailed
		}
	}
	fmt.Fprint(stdout, rv.Text(*out))
	return exitOK
}

func readSnapshot(path string) (review.RulesSnapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return review.RulesSnapshot{}, err
	}
	defer f.Close()
	s, err := review.ReadSnapshot(f)
	if errors.Is(err, review.ErrNoSnapshot) {
		return s, fmt.Errorf("%s holds no rules snapshot: give a report written by opsloop report, or a --snapshot file", path)
	}
	return s, err
}

// writeFile writes path through a buffer, and reports the first error of
// writing or closing it.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
