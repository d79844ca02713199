package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsloop/opsloop/internal/inert"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/local/replay"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/review"
	"github.com/opsloop/opsloop/internal/rules"
)

// problemsSource is where the problems commands read problems from: the
// deployment's DynamoDB table, a state file, or the embedded state of a
// replay of events.
type problemsSource struct {
	name      string
	table     *string
	state     *string
	rulesPath *string
	save      *string
}

func newProblemsSource(fs *flag.FlagSet, name string, canSave bool) *problemsSource {
	s := &problemsSource{name: name}
	s.table = tableFlag(fs)
	s.state = fs.String("state", "", "problems state file (JSON) to read instead of replaying events")
	s.rulesPath = fs.String("rules", "", "rules file or directory for the replay (default: the embedded default rules)")
	if canSave {
		s.save = fs.String("save", "", "write the replay's problems state to this file, for show, ack and resolve")
	} else {
		empty := ""
		s.save = &empty
	}
	return s
}

// tableFlag is the deployment's DynamoDB table, read with the AWS SDK's
// default configuration (profile, region, AWS_ENDPOINT_URL_DYNAMODB).
func tableFlag(fs *flag.FlagSet) *string {
	return fs.String("table", "", "the deployment's DynamoDB table (AWS credentials and region from the environment)")
}

// openTable returns the problems store of a deployed opsloop.
func openTable(ctx context.Context, table string) (*problemstore.Store, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return problemstore.New(awsdynamodb.NewFromConfig(cfg), table, problemstore.Options{}), nil
}

// store is what the problems function keeps: problems and analyses.
type store interface {
	problems.Store
	analysis.Store
}

// open returns the store: the table, the state file, or a replay of events.
func (s *problemsSource) open(ctx context.Context, events []string, stderr io.Writer) (store, int) {
	sources := 0
	for _, set := range []bool{*s.table != "", *s.state != "", len(events) > 0} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		fmt.Fprintf(stderr, "opsloop %s: give one of --table NAME, --state FILE or EVENTS to replay\n", s.name)
		return nil, exitInvalid
	case *s.table != "":
		if *s.save != "" {
			fmt.Fprintf(stderr, "opsloop %s: --save needs EVENTS to replay\n", s.name)
			return nil, exitInvalid
		}
		st, err := openTable(ctx, *s.table)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop %s: %v\n", s.name, err)
			return nil, exitFailed
		}
		return st, exitOK
	case *s.state != "" && len(events) > 0:
		fmt.Fprintf(stderr, "opsloop %s: give either --state FILE or EVENTS to replay, not both\n", s.name)
		return nil, exitInvalid
	case *s.state != "":
		if *s.save != "" {
			fmt.Fprintf(stderr, "opsloop %s: --save needs EVENTS to replay\n", s.name)
			return nil, exitInvalid
		}
		st, err := readState(*s.state)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop %s: %v\n", s.name, err)
			return nil, exitInvalid
		}
		return st, exitOK
	case len(events) == 0:
		fmt.Fprintf(stderr, "opsloop %s: give --table NAME, --state FILE, or EVENTS to replay\n", s.name)
		return nil, exitInvalid
	}
	set, err := loadRules(*s.rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop %s: %v\n", s.name, err)
		return nil, exitInvalid
	}
	bar := newProgress(stderr)
	rep, err := replay.Run(ctx, set, events, bar.update)
	bar.done()
	if err != nil {
		fmt.Fprintf(stderr, "opsloop %s: %v\n", s.name, err)
		return nil, exitFailed
	}
	if *s.save != "" {
		if err := writeState(*s.save, rep.Learned.Store); err != nil {
			fmt.Fprintf(stderr, "opsloop %s: %v\n", s.name, err)
			return nil, exitFailed
		}
	}
	return rep.Learned.Store, exitOK
}

func readState(path string) (*memory.Problems, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var st memory.ProblemsState
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	s, err := memory.NewProblemsFrom(st)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	return s, nil
}

// writeState replaces the state file whole, so a failed write leaves the
// previous state.
func writeState(path string, s *memory.Problems) error {
	data, err := json.MarshalIndent(s.State(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".opsloop-state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	return nil
}

func problemsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("problems list", stderr)
	src := newProblemsSource(fs, "problems list", true)
	status := fs.String("status", "all", "open, known-error, resolved or all")
	asJSON := fs.Bool("json", false, "print the problems as a JSON array")
	events, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	want := problems.Statuses
	if *status != "all" {
		if !problems.Status(*status).Valid() {
			fmt.Fprintf(stderr, "opsloop problems list: --status %q: want open, known-error, resolved or all\n", *status)
			return exitInvalid
		}
		want = []problems.Status{problems.Status(*status)}
	}
	store, code := src.open(ctx, events, stderr)
	if code != exitOK {
		return code
	}
	list := []problems.Problem{}
	for _, s := range want {
		ps, err := store.List(ctx, s)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop problems list: %v\n", err)
			return exitFailed
		}
		list = append(list, ps...)
	}
	if *asJSON {
		return printJSON(stdout, stderr, "problems list", list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no problems")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATUS\tRULE\tINCIDENTS\tLAST SEEN\tMTTR\tTOP SUSPECTED CAUSE")
	for _, p := range list {
		cause := "-"
		if len(p.SuspectedCauses) > 0 {
			c := p.SuspectedCauses[0]
			cause = fmt.Sprintf("%s by %s at %s (%d of %d)", c.EventName, c.Principal, stamp(c.Time), c.Incidents, p.Incidents)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", inert.Line(p.Key), p.Status, p.Rule, p.Incidents, stamp(p.LastSeen), orDash(p.MTTR()), inert.Line(cause))
	}
	tw.Flush()
	return exitOK
}

func problemsShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("problems show", stderr)
	src := newProblemsSource(fs, "problems show", false)
	asJSON := fs.Bool("json", false, "print the problem as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, "opsloop problems show: give the problem's KEY (or fingerprint)")
		return exitInvalid
	}
	store, code := src.open(ctx, pos[1:], stderr)
	if code != exitOK {
		return code
	}
	p, err := findProblem(ctx, store, pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "opsloop problems show: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		return printJSON(stdout, stderr, "problems show", p)
	}
	printProblem(stdout, p)
	return exitOK
}

// findProblem looks a problem up by key, or by fingerprint.
func findProblem(ctx context.Context, store problems.Store, ref string) (*problems.Problem, error) {
	for _, key := range []string{ref, problems.Key(ref)} {
		p, err := store.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		if p != nil && p.IsProblem() {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", ref, problems.ErrNotFound)
}

// problemsAck records a problem as a known error; problemsResolve closes it.
var (
	problemsAck     = problemsSetStatus(problems.KnownError)
	problemsResolve = problemsSetStatus(problems.Resolved)
)

func problemsSetStatus(status problems.Status) command {
	verb := map[problems.Status]string{problems.KnownError: "ack", problems.Resolved: "resolve"}[status]
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		name := "problems " + verb
		fs := newFlags(name, stderr)
		table := tableFlag(fs)
		state := fs.String("state", "", "problems state file to change (written by problems list --save)")
		note := fs.String("note", "", "why: the known error's workaround, or what fixed it")
		pos, err := parseArgs(fs, args)
		if err != nil {
			return usageError(err)
		}
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "opsloop %s: give one KEY and either --table NAME or --state FILE\n", name)
			return exitInvalid
		}
		store, file, code := openWritable(ctx, name, *table, *state, stderr)
		if code != exitOK {
			return code
		}
		p, err := findProblem(ctx, store, pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "opsloop %s: %v\n", name, err)
			return exitFailed
		}
		p, err = problems.New(store).SetStatus(ctx, p.Key, status, *note, time.Now().UTC())
		if err != nil {
			fmt.Fprintf(stderr, "opsloop %s: %v\n", name, err)
			return exitFailed
		}
		if file != nil {
			err = writeState(*state, file)
		}
		if err != nil {
			fmt.Fprintf(stderr, "opsloop %s: %v\n", name, err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s is %s\n", inert.Line(p.Key), p.Status)
		return exitOK
	}
}

func printProblem(w io.Writer, p *problems.Problem) {
	fmt.Fprintf(w, "%s  %s\n", inert.Line(p.Key), inert.Line(p.Title))
	fmt.Fprintf(w, "status:        %s", p.Status)
	if !p.StatusChanged.IsZero() {
		fmt.Fprintf(w, " since %s", stamp(p.StatusChanged))
	}
	if p.Note != "" {
		fmt.Fprintf(w, " (%s)", inert.Line(p.Note))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "rule:          %s (%s, %s)\n", p.Rule, orNone(p.Severity), orNone(p.Category))
	fmt.Fprintf(w, "fingerprint:   %s\n", inert.Line(p.Fingerprint))
	if p.Spread {
		accts := p.Accounts()
		fmt.Fprintf(w, "accounts:      %d (%s): the same failure across accounts; a problem from %d\n", len(accts), strings.Join(accts, ", "), p.Recurrence.Count)
	}
	fmt.Fprintf(w, "recorded:      %s, %d incidents within %s\n", stamp(p.Recorded), p.Recurrence.Count, rules.FormatDuration(p.Recurrence.Window()))
	fmt.Fprintf(w, "seen:          %s to %s, %d incidents", stamp(p.FirstSeen), stamp(p.LastSeen), p.Incidents)
	if p.Reopened > 0 {
		fmt.Fprintf(w, ", reopened %d times", p.Reopened)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "MTTR:          %s over %d resolved incidents\n", orDash(p.MTTR()), p.ResolvedIncidents)
	fmt.Fprintf(w, "MTBF:          %s\n", orDash(p.MTBF()))
	fmt.Fprintf(w, "OpsItems:      %s\n", strings.Join(p.OpsItems, ", "))
	fmt.Fprintln(w, "resources:")
	for _, r := range p.Resources {
		fmt.Fprintf(w, "  %s\n", inert.Line(r))
	}
	fmt.Fprintln(w, "\nsuspected causes (changes before its incidents, most incidents preceded first):")
	if len(p.SuspectedCauses) == 0 {
		fmt.Fprintln(w, "  none: no change was recorded to its resources or related ones before its incidents")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range p.SuspectedCauses {
		if i == 10 {
			fmt.Fprintf(tw, "  ... %d more (--json lists them)\n", len(p.SuspectedCauses)-i)
			break
		}
		on := c.Resource
		if c.Via != "" {
			on += " (related to " + c.Via + ")"
		}
		fmt.Fprintf(tw, "  %d of %d\t%s\tby %s\tat %s\ton %s\tevent %s\n", c.Incidents, p.Incidents, inert.Line(c.EventName), inert.Line(orNone(c.Principal)), stamp(c.Time), inert.Line(on), inert.Line(c.EventID))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nincidents:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, o := range p.History {
		resolved := "open"
		if !o.Resolved.IsZero() {
			resolved = "resolved after " + review.Duration(o.TimeToResolve())
		}
		analysed := ""
		if o.Analysis {
			analysed = "post-incident analysis: opsloop analysis show " + o.OpsItemID
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", stamp(o.Opened), orNone(o.OpsItemID), resolved, analysed)
	}
	tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func orDash(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return review.Duration(d)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printJSON(stdout, stderr io.Writer, name string, v any) int {
	if err := printJSONTo(stdout, v); err != nil {
		fmt.Fprintf(stderr, "opsloop %s: %v\n", name, err)
		return exitFailed
	}
	return exitOK
}

func printJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
