package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opsloop/opsloop/internal/pattern"
)

// patternMatch prints "match" or "no match" and exits 0 or 1; an invalid
// pattern or event exits 2 with the reason on stderr.
func patternMatch(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("pattern match", stderr)
	patternPath := fs.String("pattern", "", "EventBridge event pattern file (JSON)")
	eventPath := fs.String("event", "", "event file: a full EventBridge event or any JSON object")
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(err)
	}
	if *patternPath == "" || *eventPath == "" {
		fmt.Fprintln(stderr, "opsloop pattern match: --pattern and --event are required")
		return exitInvalid
	}
	src, err := os.ReadFile(*patternPath)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop pattern match: %v\n", err)
		return exitInvalid
	}
	p, err := pattern.Compile(src)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop pattern match: invalid pattern %s: %v\n", *patternPath, err)
		return exitInvalid
	}
	ev, err := os.ReadFile(*eventPath)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop pattern match: %v\n", err)
		return exitInvalid
	}
	ok, err := p.Match(ev)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop pattern match: invalid event %s: %v\n", *eventPath, err)
		return exitInvalid
	}
	if !ok {
		fmt.Fprintln(stdout, "no match")
		return exitFailed
	}
	fmt.Fprintln(stdout, "match")
	return exitOK
}
