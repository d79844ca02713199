// Command opsloop is the operator's tool: it checks patterns and rules, and
// replays events through the whole pipeline to show what would happen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/opsloop/opsloop/internal/inert"
)

// Exit codes shared by the commands.
const (
	exitOK      = 0
	exitFailed  = 1 // no match, invalid rules: the answer is "no"
	exitInvalid = 2 // bad usage or input the command cannot judge
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `opsloop turns AWS events into incidents and problems.

Usage:
  opsloop pattern match --pattern PATTERN.json --event EVENT.json
  opsloop rules validate [PATH...]
  opsloop rules test [--rules PATH] [--json] EVENT.json...
  opsloop rules schema
  opsloop replay [--rules PATH] [--json] [--accounts IDS] [--regions NAMES] [--from DAY] [--to DAY] PATH...
  opsloop problems list [--status S] [--json] (--table NAME | --state FILE | [--rules PATH] [--save FILE] PATH...)
  opsloop problems show KEY [--json] (--table NAME | --state FILE | [--rules PATH] PATH...)
  opsloop problems ack KEY [--note TEXT] (--table NAME | --state FILE)
  opsloop problems resolve KEY [--note TEXT] (--table NAME | --state FILE)
  opsloop analysis list [--status S] [--json] (--table NAME | --state FILE | [--rules PATH] [--save FILE] PATH...)
  opsloop analysis show OPSITEM [--json] (--table NAME | --state FILE | [--rules PATH] PATH...)
  opsloop analysis edit OPSITEM [--root-cause TEXT] [--lesson TEXT]... [--action TEXT]... [--owner NAME]
                        [--done N]... [--close | --reopen] (--table NAME | --state FILE)
  opsloop report [--rules PATH] [--out FILE.html] [--previous FILE | --previous-rules PATH] [--snapshot FILE] PATH...
  opsloop redrive --queue URL [--to URL | --bus NAME | --function NAME] [--max N] [--dry-run] [--json] [--endpoint-url URL]

PATH may be a file, a directory, or s3://bucket/prefix (read with the AWS SDK's default
configuration). Without --rules the embedded default rules are used. replay reads CloudTrail's
S3 layout (AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/) in time order across
accounts; --accounts, --regions, --from and --to skip the files outside them unread.
The problems commands work on a deployment's DynamoDB table (--table, with the AWS
credentials and region of the environment), on a state file (--state, written by
problems list --save), or replay PATH... and show what the embedded problems state
holds afterwards; ack (known error) and resolve change the table or the state file.
The analysis commands work on the same places: the post-incident analyses of incidents
whose severity asks for one, opened when they resolve (list shows the open ones unless
--status says otherwise); edit records the root cause, lessons and action items. report replays PATH... and writes the
review as one HTML file, printing its text summary. redrive moves the messages of a
dead-letter queue in AWS (or a local endpoint) back where they failed to go.
`

// run runs the command of args. Everything it prints passes through an
// inert.Writer: text from events never reaches the terminal as control codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out, errs := inert.NewWriter(stdout), inert.NewWriter(stderr)
	defer out.Flush()
	defer errs.Flush()
	return dispatch(ctx, args, out, errs)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitInvalid
	}
	var cmd func(context.Context, []string, io.Writer, io.Writer) int
	switch args[0] {
	case "pattern":
		cmd = sub(map[string]command{"match": patternMatch})
	case "rules":
		cmd = sub(map[string]command{"validate": rulesValidate, "test": rulesTest, "schema": rulesSchema})
	case "replay":
		cmd = replayCmd
	case "problems":
		cmd = sub(map[string]command{"list": problemsList, "show": problemsShow, "ack": problemsAck, "resolve": problemsResolve})
	case "analysis":
		cmd = sub(map[string]command{"list": analysisList, "show": analysisShow, "edit": analysisEdit})
	case "report":
		cmd = reportCmd
	case "redrive":
		cmd = redriveCmd
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "opsloop: unknown command %q\n\n%s", args[0], usage)
		return exitInvalid
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

func sub(cmds map[string]command) command {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		if len(args) == 0 || cmds[args[0]] == nil {
			fmt.Fprint(stderr, usage)
			return exitInvalid
		}
		return cmds[args[0]](ctx, args[1:], stdout, stderr)
	}
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("opsloop "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// usageError reports whether err came from flag parsing, which has already
// printed its message.
func usageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitInvalid
}
