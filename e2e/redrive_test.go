package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/sqs"
	"github.com/opsloop/opsloop/internal/repotest"
)

// Queue and function names of the local sqs.
const (
	incidentsQueue       = "opsloop-e2e-incidents"
	incidentsDeadLetters = "opsloop-e2e-incidents-dlq"
	classifierDeadLetter = "opsloop-e2e-classifier-dlq"
	classifierFunction   = "opsloop-e2e-classifier"
	problemsDeadLetter   = "opsloop-e2e-problems-dlq"
	problemsFunction     = "opsloop-e2e-problems"
)

// redrive puts what waited in the dead-letter queues back with `opsloop
// redrive`, as an operator would: the harness's dead letters go into the
// dead-letter queues of a local SQS endpoint (the classifier's and the
// problems function's with the attributes Lambda sets on a failed
// asynchronous invocation), the CLI moves those back to their function
// through a local Lambda Invoke endpoint in front of the emulators, and the
// incidents queue's back to the queue, from which they are delivered. It returns what waited and the
// CLI's reports.
func (s *stack) redrive(t *testing.T) ([]deadLetter, []sqs.Report) {
	t.Helper()
	s.mu.Lock()
	waiting := s.dlq
	s.dlq = nil
	s.mu.Unlock()

	q := awstest.NewSQS()
	t.Cleanup(q.Close)
	asyncDeadLetters := map[string]string{"classifier": classifierDeadLetter, "problems": problemsDeadLetter}
	for _, name := range []string{incidentsQueue, incidentsDeadLetters, classifierDeadLetter, problemsDeadLetter} {
		if _, err := q.CreateQueue(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, dl := range waiting {
		var err error
		if queue, ok := asyncDeadLetters[dl.Function]; ok {
			_, err = q.Send(queue, dl.Body, map[string]awstest.MessageAttribute{
				"RequestID":    {DataType: "String", StringValue: fmt.Sprintf("e2e-request-%04d", i)},
				"ErrorCode":    {DataType: "Number", StringValue: "200"},
				"ErrorMessage": {DataType: "String", StringValue: excerptString(dl.Error, 1000)},
			})
		} else {
			_, err = q.Send(incidentsDeadLetters, dl.Body, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// Lambda's Invoke API for asynchronous invocations, in front of the
	// emulators: the platform's retries and dead-letter queue apply again.
	functions := map[string]*pool{classifierFunction: s.classifier, problemsFunction: s.problems}
	invoked := map[string]int{}
	lambdaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
		name, _ = strings.CutSuffix(name, "/invocations")
		p := functions[name]
		if !ok || p == nil || r.Header.Get("X-Amz-Invocation-Type") != "Event" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"Type":"User","message":"Function not found: %s"}`, name)
			return
		}
		payload, _ := io.ReadAll(r.Body)
		invoked[name]++ // the CLI invokes one message at a time
		s.async(r.Context(), p, payload)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(lambdaAPI.Close)

	cli := buildCLI(t)
	run := func(args ...string) sqs.Report {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"redrive", "--json", "--endpoint-url", q.URL()}, args...)...)
		cmd.Env = append(s.envWithout("AWS_ENDPOINT_URL_"), "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI.URL)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var rep sqs.Report
		if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil || err != nil {
			t.Fatalf("opsloop redrive %v: %v %v\n%s%s", args, err, jerr, stdout.String(), stderr.String())
		}
		return rep
	}
	reports := []sqs.Report{
		run("--queue", q.QueueURL(classifierDeadLetter), "--function", classifierFunction),
		run("--queue", q.QueueURL(incidentsDeadLetters), "--to", q.QueueURL(incidentsQueue)),
	}
	for _, name := range []string{classifierDeadLetter, incidentsDeadLetters} {
		if left := q.Messages(name); len(left) > 0 {
			t.Errorf("%s holds %d messages after the redrive, want none", name, len(left))
		}
	}
	if reports[0].Moved != invoked[classifierFunction] {
		t.Errorf("redrive reports %d events moved to the classifier, the Invoke API saw %d", reports[0].Moved, invoked[classifierFunction])
	}
	// The classifier's signals and the queue's messages go to the incidents
	// function.
	msgs := s.signals()
	for _, m := range q.Messages(incidentsQueue) {
		msgs = append(msgs, &message{SQSMessage: events.SQSMessage{MessageId: m.ID, Body: m.Body, EventSource: "aws:sqs"}})
	}
	s.deliver(t.Context(), msgs, nil)
	// Last the problems function's: the lifecycle events it missed, now
	// that the incidents they are about have been redriven too.
	if len(q.Messages(problemsDeadLetter)) > 0 {
		rep := run("--queue", q.QueueURL(problemsDeadLetter), "--function", problemsFunction)
		if rep.Moved != invoked[problemsFunction] {
			t.Errorf("redrive reports %d events moved to the problems function, the Invoke API saw %d", rep.Moved, invoked[problemsFunction])
		}
		if left := q.Messages(problemsDeadLetter); len(left) > 0 {
			t.Errorf("%s holds %d messages after the redrive, want none", problemsDeadLetter, len(left))
		}
		reports = append(reports, rep)
	}
	return waiting, reports
}

// envWithout is the functions' environment less the variables starting
// with prefix.
func (s *stack) envWithout(prefix string) []string {
	var env []string
	for _, kv := range s.env {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// buildCLI builds the operator CLI for the test.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "opsloop")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/opsloop")
	cmd.Dir = repotest.Root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the opsloop CLI: %v\n%s", err, out)
	}
	return bin
}
