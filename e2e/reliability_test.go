package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/eventfile"
)

// The decision classes AWS calls are counted by.
const (
	classIgnore  = "ignore"
	classRecord  = "record"
	classNew     = "incident (new)"
	classRepeat  = "incident (repeat)"
	classRecover = "recover"
	rulesLoadOp  = "GetParametersByPath"
	putEventsOp  = "PutEvents"
	faultRate    = 0.3
	// publishRounds is how many rounds the bus publisher sends a failing
	// entry (bus.Options' default MaxAttempts).
	publishRounds = 5
	duplicateSeed = 20261125
	// maxNewIncidentWriteUnits bounds a new incident's DynamoDB write units
	// in the clean run: issue "Speed"'s target (docs/performance.md).
	maxNewIncidentWriteUnits = 8.0
)

// TestReliability runs the sample events through three deployments and
// compares what they leave behind: a clean run (one instance of each
// function, every event and message delivered once, in order), a run where
// every event and every SQS batch is delivered one to three times with the
// copies handled concurrently by three instances of each function, and a run
// where 30% of the SSM and EventBridge calls fail and DynamoDB restarts in
// the middle, followed by a redrive of the dead-letter queues. The clean run
// also counts the AWS calls each kind of decision costs.
func TestReliability(t *testing.T) {
	root, _ := requireTools(t)
	items := samples(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// The weekly review after the samples: its schedule's event comes an
	// hour after the last of them.
	reviewEnd := lastTime(t, items).Add(time.Hour)

	var clean state
	t.Run("clean run", func(t *testing.T) {
		s := newStack(t, stackOptions{classifiers: 1, incidents: 1})
		calls := countedRun(ctx, t, s, items)
		s.review(ctx, reviewEnd, 1)
		clean = s.state()
		if len(clean.opsItems) == 0 {
			t.Fatal("the clean run opened no OpsItem")
		}
		// The samples' scenario recurs: its alarm makes a problem, the
		// other incidents candidates.
		open := 0
		for _, p := range clean.problems {
			if strings.Contains(p, `"status":"open"`) {
				open++
			}
		}
		if open == 0 || clean.problemsOpened != float64(open) {
			t.Fatalf("the clean run recorded %d open problems (ProblemsOpened %v) among %d records, want at least 1, counted once each",
				open, clean.problemsOpened, len(clean.problems))
		}
		if n := len(s.problems.logs("event rejected")); n > 0 {
			t.Errorf("the problems function rejected %d lifecycle events", n)
		}
		t.Logf("problems: %d records, %d of them open problems", len(clean.problems), open)
		if want := fmt.Sprintf("%d problems]; 1 messages, 1 reports", open); !strings.HasSuffix(clean.review, want) ||
			strings.HasPrefix(clean.review, "sent [0 incidents") {
			t.Errorf("review: %s, want one sent, of the week's incidents and %d problem, one message and one report", clean.review, open)
		}
		t.Logf("review: %s", clean.review)
		checkCallsPerDecision(t, calls)
		// Counted by the instances' own "rules loaded" records: on a loaded
		// machine the SDK may resend a GetParametersByPath request.
		for _, p := range []*pool{s.classifier, s.problems} {
			for _, f := range p.all {
				if n := len(f.logs("rules loaded")); n != 1 {
					t.Errorf("%s loaded the rules %d times, want once for the whole run", f.name, n)
				}
			}
		}
		if n := s.ssm.Calls(rulesLoadOp); n < 2 || n > 4 {
			t.Errorf("%s calls = %d, want 2 (one classifier and one problems instance load the rules once each), or a resent one more each", rulesLoadOp, n)
		}
		writeFigures(t, "calls-per-decision", map[string]any{"classes": calls, "opsItems": len(s.ssm.OpsItems()),
			"coldStarts": []coldStarts{s.classifier.coldStarts(), s.incidents.coldStarts()}})
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("duplicates and concurrency", func(t *testing.T) {
		const instances = 3
		s := newStack(t, stackOptions{classifiers: instances, incidents: instances, problems: instances})
		rng := rand.New(rand.NewPCG(duplicateSeed, 1))
		start := time.Now()
		deliveries, messages, batches := 0, 0, 0
		for _, it := range items {
			n := 1 + rng.IntN(3)
			deliveries += n
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					if _, ok := s.classify(ctx, it.Raw); !ok {
						t.Errorf("classifier(%s) failed", it.Pos)
					}
				})
			}
			wg.Wait()
			msgs := s.signals()
			messages += len(msgs)
			batches += s.deliver(ctx, msgs, func(int) int { return 1 + rng.IntN(3) })
		}
		s.review(ctx, reviewEnd, 3)
		if len(s.dlq) > 0 {
			t.Errorf("dead letters without any fault: %+v", s.dlq)
		}
		got := s.state()
		compareStates(t, got, clean)
		for fp, its := range got.opsItems {
			open := 0
			for _, it := range its {
				if it.Status != "Resolved" {
					open++
				}
			}
			if open > 1 {
				t.Errorf("fingerprint %s has %d open OpsItems, want at most 1", fp, open)
			}
		}
		// Each instance loads the rules once for the whole run. Counted by
		// the instances' own "rules loaded" records: on a loaded machine the
		// SDK may resend one GetParametersByPath request, which is one load.
		loads := 0
		for _, f := range s.classifier.all {
			n := len(f.logs("rules loaded"))
			if n > 1 {
				t.Errorf("%s loaded the rules %d times, want once for the whole run", f.name, n)
			}
			loads += n
		}
		if loads == 0 {
			t.Error("no classifier instance logged \"rules loaded\"")
		}
		if n := s.ssm.Calls(rulesLoadOp); n > 2*2*instances {
			t.Errorf("%s calls = %d, want at most %d: one per classifier and problems instance, with a resent request at most", rulesLoadOp, n, 2*2*instances)
		}
		if busy := used(s.classifier); busy < 2 {
			t.Errorf("classifier instances that handled events = %d, want at least 2 for concurrency", busy)
		}
		if busy := used(s.incidents); busy < 2 {
			t.Errorf("incidents instances that handled batches = %d, want at least 2 for concurrency", busy)
		}
		t.Logf("%d events delivered %d times to %d classifier instances; %d signal messages in %d batch invocations on %d incidents instances; %s",
			len(items), deliveries, instances, messages, batches, instances, time.Since(start).Round(time.Millisecond))
		writeFigures(t, "duplicates", map[string]any{"events": len(items), "deliveries": deliveries, "messages": messages,
			"batchInvocations": batches, "instances": instances, "opsItems": len(s.ssm.OpsItems()), "seconds": seconds(time.Since(start)),
			"coldStarts": []coldStarts{s.classifier.coldStarts(), s.incidents.coldStarts()}})
	})

	t.Run("faults and redrive", func(t *testing.T) {
		s := newStack(t, stackOptions{classifiers: 1, incidents: 1})
		faults := []awstest.Fault{awstest.Throttling, awstest.InternalServerError, awstest.HTTP503}
		random := func(seed uint64) {
			s.ssm.Faults.SetRate(faultRate, seed, faults)
			s.bus.Faults.SetRate(faultRate, seed+1, faults)
		}
		random(7)
		// Two events meet an EventBridge that fails every entry for
		// longer than the retries last, so that both dead-letter queues
		// are used whatever the random faults do: the classifier's
		// publication of one event fails every round of every attempt,
		// and the incidents function's "Incident Opened" of another on
		// every receive. The random faults pause meanwhile, so that the
		// scripted failures are used up exactly.
		//
		// The detection of the Health issue waits in the classifier's
		// dead-letter queue while its recovery goes through: redriven, it
		// comes after its recovery, and must still end as in the clean
		// run (its OpsItem opened and resolved), not as an open OpsItem.
		classifierOutage := func() {
			s.bus.ScriptEntries(slices.Repeat([]string{"InternalFailure"}, asyncAttempts*publishRounds)...)
		}
		outages := map[string]func(){
			"kms/schedule-key-deletion.json":       classifierOutage,
			"health/ec2-issue-open.json":           classifierOutage,
			"guardduty/finding-high-severity.json": nil, // scripted after the classifier
		}
		seen := 0
		start := time.Now()
		restartAt := len(items) / 2
		restarted := make(chan error, 1)
		for i, it := range items {
			name, outage := outageFor(it.Pos, outages)
			if name != "" {
				seen++
				s.ssm.Faults.Reset()
				s.bus.Faults.Reset()
				if outage != nil {
					outage()
				}
			}
			if i == restartAt {
				// DynamoDB goes away for a second while this event is
				// handled; the next event waits until it is back, so
				// that the outage hits one event whatever the machine's
				// speed.
				go func() {
					time.Sleep(20 * time.Millisecond)
					restarted <- s.dyn.restart(time.Second)
				}()
			}
			s.classify(ctx, it.Raw)
			msgs := s.signals()
			if name != "" && outage == nil {
				s.bus.ScriptEntries(slices.Repeat([]string{"InternalFailure"}, maxReceiveCount*publishRounds)...)
			}
			s.deliver(ctx, msgs, nil)
			if i == restartAt {
				if err := <-restarted; err != nil {
					t.Fatalf("restart dynalite: %v", err)
				}
			}
			if name != "" {
				random(uint64(100 + i))
			}
		}
		if seen != len(outages) {
			t.Fatalf("samples with a scripted outage = %d, want %d (%v)", seen, len(outages), slices.Collect(maps.Keys(outages)))
		}
		faulted := time.Since(start)
		s.ssm.Faults.Reset()
		s.bus.Faults.Reset()
		waited, reports := s.redrive(t)
		byFunction := map[string]int{}
		for _, dl := range waited {
			byFunction[dl.Function]++
		}
		if byFunction["classifier"] == 0 || byFunction["incidents"] == 0 {
			t.Errorf("dead letters by function = %v, want some of both the classifier and the incidents queue", byFunction)
		}
		// The review under faults too: 30% of the S3 and SNS requests
		// fail as well; if the schedule fails every attempt, it is
		// redriven from the dead-letter queue.
		random(300)
		s.s3.Faults.SetRate(faultRate, 302, faults)
		s.sns.Faults.SetRate(faultRate, 303, faults)
		s.review(ctx, reviewEnd, 1)
		for _, f := range []*awstest.Faults{s.ssm.Faults, s.bus.Faults, s.s3.Faults, s.sns.Faults} {
			f.Reset()
		}
		if len(s.dlq) > 0 {
			late, _ := s.redrive(t)
			waited = append(waited, late...)
			t.Logf("the review's schedule waited in the dead-letter queue: %d message(s)", len(late))
		}
		if len(s.dlq) > 0 {
			t.Errorf("dead letters after the redrive: %+v", dlqSummary(s.dlq))
		}
		compareStates(t, s.state(), clean)
		summary := dlqSummary(waited)
		t.Logf("under faults: %s; dead-letter queues held %d message(s) before the redrive:", faulted.Round(time.Millisecond), len(waited))
		for _, dl := range summary {
			t.Logf("  %s after %d attempts: %s", dl.Function, dl.Attempts, dl.Error)
		}
		moved := 0
		for _, rep := range reports {
			moved += rep.Moved
			for _, g := range rep.Waiting {
				t.Logf("  opsloop redrive %s -> %s: %d %s/%s from %s: %s %s", rep.Queue, rep.Destination, g.Count, g.Source, g.DetailType,
					g.Origin, g.ErrorCode, excerptString(g.Error, 160))
			}
		}
		if moved != len(waited) {
			t.Errorf("opsloop redrive moved %d messages, want the %d that waited", moved, len(waited))
		}
		ssmCalls, ebCalls := s.ssm.CallCounts(), s.bus.Calls(putEventsOp)
		dbCalls, _, _ := s.db.snapshot()
		writeFigures(t, "faults", map[string]any{"events": len(items), "faultRate": faultRate, "secondsUnderFaults": seconds(faulted),
			"deadLetters": summary, "redrive": reports, "ssmCalls": ssmCalls, "putEventsCalls": ebCalls, "dynamodbCalls": dbCalls})
	})
}

// lastTime is the time of the latest of items.
func lastTime(t *testing.T, items []eventfile.Item) time.Time {
	t.Helper()
	var last time.Time
	for _, it := range items {
		var ev struct {
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal(it.Raw, &ev); err != nil {
			t.Fatalf("%s: %v", it.Pos, err)
		}
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	return last
}

// outageFor returns the outage scripted for the sample at pos, by the
// sample's path ending.
func outageFor(pos string, outages map[string]func()) (string, func()) {
	for name, f := range outages {
		if strings.HasSuffix(filepath.ToSlash(pos), "/"+name) {
			return name, f
		}
	}
	return "", nil
}

// used counts the instances of p that handled an invocation.
func used(p *pool) int {
	n := 0
	for _, f := range p.all {
		if f.coldStart > 0 {
			n++
		}
	}
	return n
}

// deadLetterSummary is what waited in a dead-letter queue.
type deadLetterSummary struct {
	Function string `json:"function"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
	Event    string `json:"event"`
}

func dlqSummary(dls []deadLetter) []deadLetterSummary {
	out := []deadLetterSummary{}
	for _, dl := range dls {
		out = append(out, deadLetterSummary{Function: dl.Function, Error: excerptString(dl.Error, 200), Attempts: dl.Attempts,
			Event: excerptString(dl.Body, 120)})
	}
	return out
}

func excerptString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// calls are the AWS calls of the events of one decision class, summed.
type calls struct {
	Events int `json:"events"`
	// DynamoDB counts requests by operation, DynamoDBUnits the capacity
	// units they are estimated to consume.
	DynamoDB      map[string]int     `json:"dynamodb"`
	DynamoDBUnits map[string]float64 `json:"dynamodbUnits"`
	// DynamoDBWrites are the write units by operation and kind of item.
	DynamoDBWrites map[string]float64 `json:"dynamodbWrites"`
	SSM            map[string]int     `json:"ssm"`
	PutEvents      int                `json:"putEvents"`
	// BusEvents counts the events put on a bus.
	BusEvents int `json:"busEvents"`
	// SQSMessages counts the messages on the incidents queue.
	SQSMessages          int `json:"sqsMessages"`
	ClassifierInvokes    int `json:"classifierInvocations"`
	IncidentsInvocations int `json:"incidentsInvocations"`
}

// counters is a snapshot of every call count of a stack.
type counters struct {
	db        map[string]int
	units     map[string]float64
	writes    map[string]float64
	ssm       map[string]int
	putEvents int
	busEvents int
}

func (s *stack) counters() counters {
	db, units, writes := s.db.snapshot()
	return counters{db: db, units: units, writes: writes, ssm: s.ssm.CallCounts(), putEvents: s.bus.Calls(putEventsOp), busEvents: len(s.bus.Events())}
}

func (c *calls) add(before, after counters, messages, invocations int) {
	c.Events++
	if c.DynamoDB == nil {
		c.DynamoDB, c.DynamoDBUnits, c.DynamoDBWrites, c.SSM = map[string]int{}, map[string]float64{}, map[string]float64{}, map[string]int{}
	}
	for k, n := range after.writes {
		if d := n - before.writes[k]; d > 0 {
			c.DynamoDBWrites[k] += d
		}
	}
	for op, n := range after.db {
		if d := n - before.db[op]; d > 0 {
			c.DynamoDB[op] += d
		}
	}
	for op, n := range after.units {
		if d := n - before.units[op]; d > 0 {
			c.DynamoDBUnits[op] += d
		}
	}
	for op, n := range after.ssm {
		if d := n - before.ssm[op]; d > 0 && op != rulesLoadOp {
			c.SSM[op] += d
		}
	}
	c.PutEvents += after.putEvents - before.putEvents
	c.BusEvents += after.busEvents - before.busEvents
	c.SQSMessages += messages
	c.ClassifierInvokes++
	c.IncidentsInvocations += invocations
}

// countedRun delivers each event once and its signals right after it, and
// sums the calls each event made by its decision class.
func countedRun(ctx context.Context, t *testing.T, s *stack, items []eventfile.Item) map[string]*calls {
	t.Helper()
	byClass := map[string]*calls{}
	for _, it := range items {
		before := s.counters()
		d, ok := s.classify(ctx, it.Raw)
		if !ok {
			t.Fatalf("classifier(%s) failed: %+v", it.Pos, s.dlq)
		}
		msgs := s.signals()
		inv := s.deliver(ctx, msgs, nil)
		after := s.counters()
		class := string(d.Action)
		if d.Action == classify.Incident {
			class = classRepeat
			if after.ssm["CreateOpsItem"] > before.ssm["CreateOpsItem"] {
				class = classNew
			}
		}
		if byClass[class] == nil {
			byClass[class] = &calls{}
		}
		byClass[class].add(before, after, len(msgs), inv)
	}
	if len(s.dlq) > 0 {
		t.Fatalf("dead letters without any fault: %+v", s.dlq)
	}
	classes := make([]string, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		k := byClass[c]
		t.Logf("%-18s %2d events: DynamoDB %v (units %v; writes %v), SSM %v, PutEvents %d, bus events %d, SQS messages %d, incidents invocations %d",
			c, k.Events, k.DynamoDB, k.DynamoDBUnits, k.DynamoDBWrites, k.SSM, k.PutEvents, k.BusEvents, k.SQSMessages, k.IncidentsInvocations)
	}
	return byClass
}

// checkCallsPerDecision holds each decision class to what the design
// promises: ignored and recorded events never reach OpsCenter or the bus,
// no hot path reads OpsCenter (DynamoDB knows), a new incident is one
// CreateOpsItem and a repeat at most one UpdateOpsItem.
func checkCallsPerDecision(t *testing.T, byClass map[string]*calls) {
	t.Helper()
	for _, c := range []string{classIgnore, classRecord, classNew} {
		if byClass[c] == nil {
			t.Errorf("no sample event made a %q decision", c)
		}
	}
	for class, k := range byClass {
		perEvent := func(n int) float64 { return float64(n) / float64(k.Events) }
		if n := k.SSM["GetOpsItem"] + k.SSM["DescribeOpsItems"]; n > 0 {
			t.Errorf("%s: %d GetOpsItem/DescribeOpsItems calls, want none on the hot path", class, n)
		}
		writeUnits := 0.0
		for _, u := range k.DynamoDBWrites {
			writeUnits += u
		}
		switch class {
		case classIgnore, classRecord:
			if len(k.SSM) > 0 || k.PutEvents > 0 {
				t.Errorf("%s: SSM %v, PutEvents %d; want no OpsCenter or bus call", class, k.SSM, k.PutEvents)
			}
			if class == classIgnore && writeUnits > 0 {
				t.Errorf("%s: DynamoDB writes %v; want none for an event every rule ignores", class, k.DynamoDBWrites)
			}
		case classNew:
			if got := perEvent(k.SSM["CreateOpsItem"]); got != 1 {
				t.Errorf("%s: %.2f CreateOpsItem per event, want 1", class, got)
			}
			if got := writeUnits / float64(k.Events); got > maxNewIncidentWriteUnits {
				t.Errorf("%s: %.2f DynamoDB write units per event over the three functions, want at most %.1f: %v",
					class, got, maxNewIncidentWriteUnits, k.DynamoDBWrites)
			}
		case classRepeat:
			if k.SSM["CreateOpsItem"] > 0 || perEvent(k.SSM["UpdateOpsItem"]) > 1 {
				t.Errorf("%s: SSM %v for %d events; want no CreateOpsItem and at most one UpdateOpsItem each", class, k.SSM, k.Events)
			}
		case classRecover:
			if k.SSM["CreateOpsItem"] > 0 || perEvent(k.SSM["UpdateOpsItem"]) > 1 {
				t.Errorf("%s: SSM %v for %d events; want at most one UpdateOpsItem each", class, k.SSM, k.Events)
			}
		}
	}
}
