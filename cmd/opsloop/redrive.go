package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsloop/opsloop/internal/inert"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awseventbridge "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/aws/sqs"
)

const redriveUsage = `opsloop redrive moves the messages of a dead-letter queue back where they failed to go,
deleting each only once it was sent again, and reports what waited in the queue.

Destination (one of; by default the queue whose redrive policy names the DLQ):
  --to URL          an SQS queue (the incidents queue, for its DLQ)
  --bus NAME        an event bus: the event is put on it again (opsloop's own events only)
  --function NAME   a Lambda function, invoked asynchronously with the event (the classifier's
                    and the problems function's DLQs, whose events come from AWS sources)

AWS credentials and region come from the SDK's usual sources. --endpoint-url sets the SQS
endpoint; AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_EVENTBRIDGE and AWS_ENDPOINT_URL_LAMBDA set
each service's (a local setup's endpoints).
`

func redriveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("redrive", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, redriveUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	queue := fs.String("queue", "", "URL of the dead-letter queue (required)")
	to := fs.String("to", "", "URL of the queue to send the messages to")
	busName := fs.String("bus", "", "name or ARN of the event bus to put the events on")
	function := fs.String("function", "", "name or ARN of the Lambda function to invoke with the events")
	maxN := fs.Int("max", 0, "move at most N messages (0: all)")
	dryRun := fs.Bool("dry-run", false, "only report what waits in the queue; send and delete nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	endpoint := fs.String("endpoint-url", "", "SQS endpoint URL, for a local setup")
	visibility := fs.Duration("visibility", 5*time.Minute, "how long a message taken stays hidden from other consumers")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "opsloop redrive: unexpected arguments %q\n", rest)
		return exitInvalid
	}
	if *queue == "" {
		fmt.Fprintln(stderr, "opsloop redrive: give --queue URL, the dead-letter queue")
		return exitInvalid
	}
	if *maxN < 0 {
		fmt.Fprintln(stderr, "opsloop redrive: --max must not be negative")
		return exitInvalid
	}
	given := 0
	for _, v := range []string{*to, *busName, *function} {
		if v != "" {
			given++
		}
	}
	if given > 1 {
		fmt.Fprintln(stderr, "opsloop redrive: give one of --to, --bus and --function")
		return exitInvalid
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "opsloop redrive: load AWS config: %v\n", err)
		return exitFailed
	}
	sqsClient := awssqs.NewFromConfig(cfg, func(o *awssqs.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})
	var dst sqs.Destination
	switch {
	case *to != "":
		dst = sqs.ToQueue(sqsClient, *to)
	case *busName != "":
		dst = sqs.ToBus(eventbridge.New(awseventbridge.NewFromConfig(cfg), *busName, eventbridge.Options{}), *busName)
	case *function != "":
		dst = sqs.ToFunction(lambda.NewFromConfig(cfg), *function)
	case !*dryRun:
		src, err := sqs.SourceQueue(ctx, sqsClient, *queue)
		if err != nil {
			fmt.Fprintf(stderr, "opsloop redrive: %v\n", err)
			return exitInvalid
		}
		dst = sqs.ToQueue(sqsClient, src)
	}
	rep, err := sqs.Run(ctx, sqsClient, *queue, dst, sqs.Options{Max: *maxN, DryRun: *dryRun, Visibility: *visibility})
	if *asJSON {
		if perr := printJSONTo(stdout, rep); perr != nil {
			fmt.Fprintf(stderr, "opsloop redrive: %v\n", perr)
			return exitFailed
		}
	} else {
		printRedrive(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "opsloop redrive: %v\n", err)
		return exitFailed
	}
	if rep.Failed > 0 || len(rep.Failures) > 0 {
		return exitFailed
	}
	return exitOK
}

func printRedrive(w io.Writer, rep sqs.Report) {
	switch {
	case rep.DryRun:
		fmt.Fprintf(w, "%s: %d messages waiting (dry run: nothing sent or deleted)\n", rep.Queue, rep.Seen)
	default:
		fmt.Fprintf(w, "%s -> %s: moved %d, failed %d, of %d\n", rep.Queue, rep.Destination, rep.Moved, rep.Failed, rep.Seen)
	}
	if len(rep.Waiting) > 0 {
		fmt.Fprintf(w, "\nWaited (sent to the queue %s to %s):\n", rep.Oldest.Format(time.RFC3339), rep.Newest.Format(time.RFC3339))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  COUNT\tSOURCE\tDETAIL TYPE\tFROM\tERROR")
		for _, g := range rep.Waiting {
			cause := strings.TrimSpace(g.ErrorCode + " " + g.Error)
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", g.Count, inert.Line(dash(g.Source)), inert.Line(dash(g.DetailType)), inert.Line(g.Origin), inert.Line(dash(cause)))
		}
		tw.Flush()
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintln(w, "\nNot moved:")
		for _, f := range rep.Failures {
			state := "left in the queue"
			if f.Sent {
				state = "sent, left in the queue (will be sent again)"
			}
			fmt.Fprintf(w, "  %s: %s: %s\n", inert.Line(f.MessageID), state, inert.Line(f.Reason))
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
