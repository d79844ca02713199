// Package e2e runs opsloop's Lambda functions end to end: the real bootstrap
// binaries, built as for Lambda, under the Lambda Runtime Interface
// Emulator, against dynalite and the local SSM and EventBridge endpoints of
// package awstest, with the rules in Parameter Store as the deployment puts
// them. The test plays EventBridge and SQS: it invokes the classifier with
// each sample event and delivers the signals the classifier published to the
// incidents function in SQS batches, then checks the OpsItems against what
// `opsloop replay` reports for the same events.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/signal"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/infra/ruleparams"
	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/repotest"
	"github.com/opsloop/opsloop/internal/rules"
)

const (
	tableName = "opsloop-e2e"
	busName   = "opsloop-e2e"
	rulesPath = "/opsloop-e2e/rules"
	topicName = "opsloop-e2e-notifications"
	topicARN  = "arn:aws:sns:us-east-1:123456789012:" + topicName
	// batchSize is the SQS event source's batch size in the deployment.
	batchSize = 10
)

// functionNames are the functions the tests build and run.
var functionNames = []string{"classifier", "incidents", "problems"}

func TestPipeline(t *testing.T) {
	if os.Getenv(skipEnv) == "1" {
		t.Skip(skipEnv + "=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root := repotest.Root(t)
	rie, err := findRIE(ctx)
	if err != nil {
		t.Fatalf("%v: %s", err, setupHint)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", ".bin", "dynalite")); err != nil {
		t.Fatalf("dynalite (node_modules) is not installed: %s", setupHint)
	}
	samples := filepath.Join(root, "events-samples")
	if _, err := os.Stat(samples); err != nil {
		t.Fatalf("events-samples: %v", err)
	}

	// The builds run while dynalite starts and the rules are put in place.
	tmp := t.TempDir()
	type built struct {
		paths map[string]string
		err   error
	}
	builds := make(chan built, 1)
	go func() {
		start := time.Now()
		p, err := buildFunctions(ctx, root, filepath.Join(tmp, "dist"), functionNames)
		t.Logf("built %v in %s", functionNames, time.Since(start).Round(time.Millisecond))
		builds <- built{p, err}
	}()
	replays := make(chan replayResult, 1)
	go func() { replays <- runReplay(ctx, root, tmp, samples) }()

	dyn := awstest.DynaliteForTest(t)
	createTable(t, dyn)
	ssm := awstest.NewSSM()
	t.Cleanup(ssm.Close)
	bus := awstest.NewEvents()
	t.Cleanup(bus.Close)
	set := putRules(t, ssm, filepath.Join(root, "rules"))

	b := <-builds
	if b.err != nil {
		t.Fatal(b.err)
	}
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=" + awstest.Region,
		"AWS_ACCESS_KEY_ID=AKIAE2ETESTEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=e2e-test-secret",
		"AWS_ENDPOINT_URL_DYNAMODB=" + dyn.URL(),
		"AWS_ENDPOINT_URL_SSM=" + ssm.URL(),
		"AWS_ENDPOINT_URL_EVENTBRIDGE=" + bus.URL(),
		"AWS_LAMBDA_LOG_LEVEL=INFO",
		"OPSLOOP_TABLE=" + tableName,
		"OPSLOOP_BUS=" + busName,
		"OPSLOOP_RULES_PATH=" + rulesPath,
		"OPSLOOP_RULES_TTL=5m0s",
		"OPSLOOP_TOPIC_ARN=" + topicARN,
		"OPSLOOP_REPORT_BUCKET=" + reportBucket,
	}
	// Each function starts right before its first invocation, so that
	// its cold start is measured alone: the incidents function's first
	// is an empty batch, the classifier's the first sample.
	fn := map[string]*function{}
	start := func(name string, timeout int) *function {
		fn[name] = startFunction(t, rie, name, b.paths[name],
			append(slices.Clone(env), "AWS_LAMBDA_FUNCTION_NAME=opsloop-"+name, "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(timeout)))
		return fn[name]
	}
	if _, err := start("incidents", 120).invoke(ctx, []byte(`{"Records":[]}`)); err != nil {
		t.Fatalf("incidents with an empty batch: %v", err)
	}
	start("classifier", 30)
	p := &pipe{classifier: fn["classifier"], incidents: fn["incidents"], bus: bus}

	var items []eventfile.Item
	err = eventfile.Read(ctx, []string{samples}, func(it eventfile.Item) error {
		if it.Err == nil && it.Skip == "" {
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// EventBridge delivers to the classifier only what the deployed rules
	// route: the samples every rule ignores stay on the default bus.
	items, dropped := route(t, loadRoutes(t, root), set, items)

	// First pass, in replay's order, each event's signals delivered before
	// the next event, as replay applies them.
	var recoveries []recovery
	for _, it := range items {
		d := p.classify(ctx, t, it)
		p.deliver(ctx, t, batchSize)
		if d.Action == classify.Recover && strings.Contains(filepath.Base(it.Pos), "alarm-ok") {
			recoveries = append(recoveries, recovery{it.Pos, d, lastOpsItem(ssm.OpsItems(), d.Fingerprint)})
		}
	}
	// The problems function learns from the lifecycle's events, started
	// right before the first so that its cold start is measured alone.
	start("problems", 60)
	learned := 0
	for _, ev := range bus.Events() {
		if ev.Bus == busName && (ev.DetailType == incidents.DetailOpened || ev.DetailType == incidents.DetailResolved) {
			if _, err := fn["problems"].invoke(ctx, ev.JSON()); err != nil {
				t.Fatalf("problems(%s %s): %v", ev.DetailType, ev.ID, err)
			}
			learned++
		}
	}
	after1 := ssm.OpsItems()
	calls1 := ssm.CallCounts()
	t.Logf("first pass: %d events, %d signals delivered, %d OpsItems, %d lifecycle events learned from", len(items), p.messages, len(after1), learned)
	published1 := countTypes(bus, busName)

	// Second pass: every event delivered again, the signals in full
	// batches. Nothing may change.
	for _, it := range items {
		// Only counted events know a redelivery (their count's bucket
		// keeps their ids): the others are decided again, to the same
		// effect.
		if d := p.classify(ctx, t, it); !d.Duplicate && d.Action == classify.Incident {
			t.Errorf("second delivery of %s: decision %s not marked duplicate", it.Pos, d.Action)
		}
	}
	if n := p.deliver(ctx, t, batchSize); n == 0 {
		t.Error("second pass published no signals to deliver again")
	}

	rep := <-replays
	if rep.err != nil {
		t.Fatal(rep.err)
	}
	got := ssm.OpsItems()

	t.Run("same OpsItems as replay", func(t *testing.T) {
		checkAgainstReplay(t, got, rep.report)
	})
	t.Run("same problems as replay", func(t *testing.T) {
		client := awsdynamodb.New(awsdynamodb.Options{Region: awstest.Region, BaseEndpoint: aws.String(dyn.URL()), Credentials: awstest.Credentials()})
		store := problemstore.New(client, tableName, problemstore.Options{})
		gotProblems := map[string]string{}
		for _, status := range problems.Statuses {
			ps, err := store.List(ctx, status)
			if err != nil {
				t.Fatalf("list %s problems: %v", status, err)
			}
			for _, p := range ps {
				gotProblems[p.Key] = comparable(t, p)
			}
		}
		if len(rep.report.Problems) == 0 {
			t.Fatal("replay recorded no problem from the samples")
		}
		for _, p := range rep.report.Problems {
			if want := comparable(t, p); gotProblems[p.Key] != want {
				t.Errorf("problem %s:\n  got  %s\n  want %s (replay)", p.Key, gotProblems[p.Key], want)
			}
			delete(gotProblems, p.Key)
		}
		for k, p := range gotProblems {
			t.Errorf("problem %s not in replay's report: %s", k, p)
		}
	})
	t.Run("fields", func(t *testing.T) {
		checkFields(t, got, set)
	})
	t.Run("dedup", func(t *testing.T) {
		if len(got) != len(after1) {
			t.Errorf("OpsItems after delivering everything twice = %d, want %d as after once", len(got), len(after1))
		}
		for i := range min(len(got), len(after1)) {
			a, b := after1[i], got[i]
			if a.Status != b.Status || data(a, incidents.KeyOccurrences) != data(b, incidents.KeyOccurrences) || a.Updates != b.Updates {
				t.Errorf("OpsItem %s changed on redelivery: %s/%s occurrences %s/%s updates %d/%d", a.ID, a.Status, b.Status,
					data(a, incidents.KeyOccurrences), data(b, incidents.KeyOccurrences), a.Updates, b.Updates)
			}
		}
		calls := ssm.CallCounts()
		for _, op := range []string{"CreateOpsItem", "UpdateOpsItem"} {
			if calls[op] != calls1[op] {
				t.Errorf("%s calls after the second pass = %d, want %d (redelivered signals call nothing)", op, calls[op], calls1[op])
			}
		}
		if now := countTypes(bus, busName); now[incidents.DetailOpened] != published1[incidents.DetailOpened] ||
			now[incidents.DetailResolved] != published1[incidents.DetailResolved] {
			t.Errorf("opsloop events after the second pass = %v, want the first pass's %v", now, published1)
		}
		m := p.classifier.metrics()
		for action, n := range rep.report.Decisions {
			key := fmt.Sprintf("Decisions{Action=%s}", action)
			if action == string(classify.Ignore) {
				n -= dropped // never routed to the classifier
			}
			switch got := int(m[key]); {
			case action != string(classify.Incident):
				// Only incidents are always counted, so known as
				// redelivered: the others' second delivery may be decided,
				// and counted, again.
				if got < n || got > 2*n {
					t.Errorf("metric %s = %d, want %d as replay decided, up to twice that for the second delivery", key, got, n)
				}
			case got != n:
				t.Errorf("metric %s = %d, want %d as replay decided (redeliveries and unrouted events not counted)", key, got, n)
			}
		}
	})
	t.Run("resolve on recovery", func(t *testing.T) {
		checkRecovery(t, recoveries)
	})
	t.Run("events and metrics", func(t *testing.T) {
		opened, resolved := len(got), 0
		for _, it := range got {
			if it.Status == incidents.StatusOpsItemResolved {
				resolved++
			}
		}
		pub := countTypes(bus, busName)
		if pub[incidents.DetailOpened] != opened || pub[incidents.DetailResolved] != resolved {
			t.Errorf("published %d Incident Opened and %d Incident Resolved, want %d and %d", pub[incidents.DetailOpened],
				pub[incidents.DetailResolved], opened, resolved)
		}
		m := p.incidents.metrics()
		if int(m["IncidentsOpened"]) != opened || int(m["IncidentsResolved"]) != resolved {
			t.Errorf("metrics IncidentsOpened %v, IncidentsResolved %v; want %d and %d", m["IncidentsOpened"], m["IncidentsResolved"], opened, resolved)
		}
		// The classifier and the problems function load the rules on
		// their first event and keep them for the TTL: one Parameter
		// Store call each in the whole run.
		if n := ssm.Calls("GetParametersByPath"); n != 2 {
			t.Errorf("GetParametersByPath calls = %d, want 2", n)
		}
		recs := p.incidents.logs("signal handled")
		if len(recs) == 0 {
			t.Fatal("the incidents function logged no \"signal handled\" record")
		}
		for _, k := range []string{"rule", "fingerprint", "event_id", "opsitem_id"} {
			if _, ok := recs[0][k]; !ok {
				t.Errorf("\"signal handled\" record %v lacks the key %s", recs[0], k)
			}
		}
	})
	t.Run("bad input rejected", func(t *testing.T) {
		checkBadInput(ctx, t, p)
	})
	t.Run("partial batch failure", func(t *testing.T) {
		checkPartialBatch(ctx, t, p, ssm)
	})

	report(t, fn)
}

// pipe plays EventBridge and SQS between the functions.
type pipe struct {
	classifier *function
	incidents  *function
	bus        *awstest.Events
	routed     int // bus events looked at so far
	messages   int // SQS messages made so far
}

// classify invokes the classifier with one event, which must succeed.
func (p *pipe) classify(ctx context.Context, t *testing.T, it eventfile.Item) classify.Decision {
	t.Helper()
	resp, err := p.classifier.invoke(ctx, it.Raw)
	if err != nil {
		t.Fatalf("classifier(%s): %v", it.Pos, err)
	}
	var d classify.Decision
	if err := json.Unmarshal(resp, &d); err != nil {
		t.Fatalf("classifier(%s) response %s: %v", it.Pos, resp, err)
	}
	return d
}

// signals returns the SQS messages of the signals published on the opsloop
// bus since the last call: what the bus rule targeting the queue matches.
func (p *pipe) signals() []events.SQSMessage {
	all := p.bus.Events()
	var msgs []events.SQSMessage
	for _, ev := range all[p.routed:] {
		if ev.Bus != busName || ev.Source != signal.Source ||
			(ev.DetailType != signal.DetailDetected && ev.DetailType != signal.DetailRecovered) {
			continue
		}
		p.messages++
		msgs = append(msgs, events.SQSMessage{
			MessageId: fmt.Sprintf("e2e-%06d", p.messages), Body: string(ev.JSON()), EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:opsloop-e2e-incidents", AWSRegion: awstest.Region,
		})
	}
	p.routed = len(all)
	return msgs
}

// deliver hands the new signals to the incidents function in batches of
// size; every message must succeed. It returns the messages delivered.
func (p *pipe) deliver(ctx context.Context, t *testing.T, size int) int {
	t.Helper()
	msgs := p.signals()
	for b := range slices.Chunk(msgs, size) {
		if failed := p.batch(ctx, t, b); len(failed) > 0 {
			t.Fatalf("incidents: batch item failures %v", failed)
		}
	}
	return len(msgs)
}

// batch invokes the incidents function with msgs and returns the ids of
// the messages it reported as failures.
func (p *pipe) batch(ctx context.Context, t *testing.T, msgs []events.SQSMessage) []string {
	t.Helper()
	payload, err := json.Marshal(events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.incidents.invoke(ctx, payload)
	if err != nil {
		t.Fatalf("incidents: %v", err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("incidents response %s: %v", out, err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func countTypes(bus *awstest.Events, name string) map[string]int {
	n := map[string]int{}
	for _, ev := range bus.Events() {
		if ev.Bus == name {
			n[ev.DetailType]++
		}
	}
	return n
}

func createTable(t *testing.T, d *awstest.Dynalite) {
	t.Helper()
	dynamotest.Create(t, d.Client(), tableName)
}

// putRules puts the rules files of dir in Parameter Store as the deployment
// does (ruleparams.Split, Standard tier) and returns them validated.
func putRules(t *testing.T, ssm *awstest.SSM, dir string) *rules.Set {
	t.Helper()
	var files []rules.File
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".schema.json") {
			return err
		}
		data, err := os.ReadFile(name)
		if err == nil {
			files = append(files, rules.File{Name: filepath.ToSlash(name), Data: data})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Build(files)
	if err != nil {
		t.Fatalf("rules in %s: %v", dir, err)
	}
	params, err := ruleparams.Split(rulesPath, files, ruleparams.StandardTierMax)
	if err != nil {
		t.Fatalf("split rules into parameters: %v", err)
	}
	for _, p := range params {
		if err := ssm.SetParameter(p.Name, "String", p.Value); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("rules: %d files as %d parameters under %s", len(files), len(params), rulesPath)
	return set
}

// replayReport is the part of `opsloop replay --json` the test compares.
type replayReport struct {
	Events    int            `json:"events"`
	Decisions map[string]int `json:"decisions"`
	OpsItems  []struct {
		Title           string   `json:"title"`
		Status          string   `json:"status"`
		Severity        string   `json:"severity"`
		Priority        int      `json:"priority"`
		Category        string   `json:"category"`
		Fingerprint     string   `json:"fingerprint"`
		Occurrences     int      `json:"occurrences"`
		Notifications   []string `json:"notifications"`
		OperationalData map[string]struct {
			Value string `json:"value"`
		} `json:"operationalData"`
	} `json:"opsItems"`
	Problems []problems.Problem `json:"problems"`
}

type replayResult struct {
	report *replayReport
	err    error
}

// runReplay builds the operator CLI and replays the samples with it, with
// the embedded default rules or rules (a file or directory).
func runReplay(ctx context.Context, root, tmp, samples string, rules ...string) replayResult {
	bin := filepath.Join(tmp, "opsloop")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/opsloop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return replayResult{err: fmt.Errorf("build the opsloop CLI: %w\n%s", err, out)}
	}
	args := []string{"replay", "--json"}
	if len(rules) > 0 {
		args = append(args, "--rules", rules[0])
	}
	cmd := exec.CommandContext(ctx, bin, append(args, samples)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return replayResult{err: fmt.Errorf("opsloop replay --json: %w", err)}
	}
	var rep replayReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return replayResult{err: fmt.Errorf("opsloop replay --json output: %w", err)}
	}
	return replayResult{report: &rep}
}

func data(it awstest.OpsItem, key string) string { return it.OperationalData[key].Value }

// checkAgainstReplay compares the OpsItems with replay's, fingerprint by
// fingerprint in creation order: the same status, occurrences, title,
// severity, priority, category, dedup string and resources.
func checkAgainstReplay(t *testing.T, got []awstest.OpsItem, rep *replayReport) {
	if len(got) != len(rep.OpsItems) {
		t.Errorf("OpsItems = %d, replay reports %d", len(got), len(rep.OpsItems))
	}
	type summary struct {
		title, status, severity, category, dedup, resources string
		priority, occurrences                               int
	}
	mine, theirs := map[string][]summary{}, map[string][]summary{}
	for _, it := range got {
		n, _ := strconv.Atoi(data(it, incidents.KeyOccurrences))
		fp := data(it, incidents.KeyFingerprint)
		mine[fp] = append(mine[fp], summary{it.Title, it.Status, it.Severity, it.Category, data(it, incidents.KeyDedup),
			data(it, incidents.KeyResources), it.Priority, n})
	}
	for _, it := range rep.OpsItems {
		theirs[it.Fingerprint] = append(theirs[it.Fingerprint], summary{it.Title, it.Status, it.Severity, it.Category,
			it.OperationalData[incidents.KeyDedup].Value, it.OperationalData[incidents.KeyResources].Value, it.Priority, it.Occurrences})
	}
	fps := make([]string, 0, len(theirs))
	for fp := range theirs {
		fps = append(fps, fp)
	}
	for fp := range mine {
		if _, ok := theirs[fp]; !ok {
			fps = append(fps, fp)
		}
	}
	sort.Strings(fps)
	for _, fp := range fps {
		if !slices.Equal(mine[fp], theirs[fp]) {
			t.Errorf("fingerprint %s:\n  end to end %+v\n  replay     %+v", fp, mine[fp], theirs[fp])
		}
	}
}

// checkFields checks what a responder relies on in each OpsItem.
func checkFields(t *testing.T, got []awstest.OpsItem, set *rules.Set) {
	if len(got) == 0 {
		t.Fatal("no OpsItems")
	}
	for _, it := range got {
		fp := data(it, incidents.KeyFingerprint)
		if it.Title == "" || it.Description == "" || it.Source != incidents.Source || it.Category == "" {
			t.Errorf("OpsItem %s (%s): title %q, source %q, category %q, description of %d bytes; want them all set",
				it.ID, fp, it.Title, it.Source, it.Category, len(it.Description))
		}
		sev := set.Severities[data(it, incidents.KeySeverity)]
		if sev == nil {
			t.Errorf("OpsItem %s (%s): severity %q is not one of the rules'", it.ID, fp, data(it, incidents.KeySeverity))
			continue
		}
		if it.Severity != sev.OpsItemSeverity || it.Priority != sev.Priority {
			t.Errorf("OpsItem %s (%s): severity %s priority %d, want the %s plan's %s and %d",
				it.ID, fp, it.Severity, it.Priority, sev.Name, sev.OpsItemSeverity, sev.Priority)
		}
		var want []string
		for _, n := range sev.Notify {
			if n == rules.DefaultTopic {
				n = topicARN
			}
			want = append(want, n)
		}
		if !slices.Equal(it.Notifications, want) {
			t.Errorf("OpsItem %s (%s): notifications %v, want %v", it.ID, fp, it.Notifications, want)
		}
		var dedup struct {
			DedupString string `json:"dedupString"`
		}
		if err := json.Unmarshal([]byte(data(it, incidents.KeyDedup)), &dedup); err != nil || dedup.DedupString != incidents.DedupString(fp) {
			t.Errorf("OpsItem %s: /aws/dedup %q, want the dedup string of %s", it.ID, data(it, incidents.KeyDedup), fp)
		}
		if raw := data(it, incidents.KeyResources); raw != "" {
			var rs []struct {
				ARN string `json:"arn"`
			}
			if err := json.Unmarshal([]byte(raw), &rs); err != nil || len(rs) == 0 {
				t.Errorf("OpsItem %s: /aws/resources %q is not a list of ARNs", it.ID, raw)
			}
			for _, r := range rs {
				if !event.IsARN(r.ARN) {
					t.Errorf("OpsItem %s: /aws/resources names %q, not an ARN", it.ID, r.ARN)
				}
			}
		}
		if data(it, incidents.KeyRule) == "" || data(it, incidents.KeyFirstSeen) == "" {
			t.Errorf("OpsItem %s: opsloop:rule %q, opsloop:firstSeen %q; want both", it.ID, data(it, incidents.KeyRule), data(it, incidents.KeyFirstSeen))
		}
	}
}

// recovery is an alarm's return to OK and the alarm's last OpsItem right
// after the incidents function handled it.
type recovery struct {
	pos      string
	decision classify.Decision
	last     *awstest.OpsItem
}

func lastOpsItem(items []awstest.OpsItem, fingerprint string) *awstest.OpsItem {
	var last *awstest.OpsItem
	for i := range items {
		if data(items[i], incidents.KeyFingerprint) == fingerprint {
			last = &items[i]
		}
	}
	return last
}

// checkRecovery checks that each alarm's return to OK resolved the alarm's
// OpsItem, with a resolution naming the event that recovered it.
func checkRecovery(t *testing.T, recoveries []recovery) {
	if len(recoveries) == 0 {
		t.Fatal("no alarm-ok sample recovered an incident")
	}
	for _, r := range recoveries {
		d := r.decision
		if r.last == nil {
			t.Errorf("%s recovers %s, which has no OpsItem", r.pos, d.Fingerprint)
			continue
		}
		if r.last.Status != incidents.StatusOpsItemResolved || !strings.Contains(data(*r.last, incidents.KeyResolution), d.EventID) {
			t.Errorf("%s: OpsItem %s of %s is %s with resolution %q, want Resolved naming event %s",
				r.pos, r.last.ID, d.Fingerprint, r.last.Status, data(*r.last, incidents.KeyResolution), d.EventID)
		}
	}
}

// checkBadInput sends the classifier malformed events: each fails with
// RejectedError and is counted, and the function goes on working.
func checkBadInput(ctx context.Context, t *testing.T, p *pipe) {
	before := p.classifier.metrics()["EventsRejected"]
	bads := []struct{ name, payload string }{
		{"not JSON", "this is not an event"},
		{"wrong types", `{"version":0,"id":1,"detail-type":[],"source":{},"account":"1","time":"x","region":"r","resources":"x","detail":"x"}`},
		{"missing envelope fields", `{"detail":{}}`},
		{"invalid UTF-8", "{\"version\":\"0\",\"id\":\"\xff\xfe\",\"detail-type\":\"d\",\"source\":\"s\",\"account\":\"1\",\"time\":\"2026-01-01T00:00:00Z\",\"region\":\"r\",\"resources\":[],\"detail\":{}}"},
		{"deeply nested", `{"version":"0","id":"n","detail-type":"d","source":"s","account":"1","time":"2026-01-01T00:00:00Z","region":"r","resources":[],"detail":` +
			strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`},
		{"huge", `{"version":"0","id":"h","detail-type":"d","source":"s","account":"1","time":"2026-01-01T00:00:00Z","region":"r","resources":[],"detail":{"a":"` +
			strings.Repeat("x", 1<<20) + `"}}`},
	}
	for _, bad := range bads {
		_, err := p.classifier.invoke(ctx, []byte(bad.payload))
		fe, ok := err.(*invokeError)
		if !ok || fe.Type != "RejectedError" || !strings.Contains(fe.Message, "event") {
			t.Errorf("classifier(%s) = %v, want a RejectedError naming the reason", bad.name, err)
		}
	}
	if got := p.classifier.metrics()["EventsRejected"] - before; int(got) != len(bads) {
		t.Errorf("EventsRejected grew by %v, want %d", got, len(bads))
	}
	if n := len(p.classifier.logs("event rejected")); n < len(bads) {
		t.Errorf("\"event rejected\" records = %d, want at least %d", n, len(bads))
	}
	if msgs := p.signals(); len(msgs) != 0 {
		t.Errorf("rejected events published %d signals", len(msgs))
	}
}

// checkPartialBatch delivers a batch of a malformed message and a signal
// whose OpsItem creation keeps failing: only the signal is reported for a
// retry, and its redelivery opens the one OpsItem.
func checkPartialBatch(ctx context.Context, t *testing.T, p *pipe, ssm *awstest.SSM) {
	ev := `{"version":"0","id":"e2e-partial-batch","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch",
"account":"123456789012","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:critical-e2e-batch"],
"detail":{"alarmName":"critical-e2e-batch","state":{"value":"ALARM","reason":"Threshold Crossed","timestamp":"2026-03-01T10:00:00.000+0000"},
"previousState":{"value":"OK","reason":"","timestamp":"2026-03-01T09:00:00.000+0000"}}}`
	d := p.classify(ctx, t, eventfile.Item{Raw: []byte(ev), Pos: "partial-batch"})
	if d.Action != classify.Incident {
		t.Fatalf("classifier(critical-e2e-batch ALARM) = %s, want incident", d.Action)
	}
	msgs := p.signals()
	if len(msgs) != 1 {
		t.Fatalf("signals published = %d, want 1", len(msgs))
	}
	bad := events.SQSMessage{MessageId: "e2e-malformed", Body: `{"detail-type":"Incident Detected"}`}
	before, rejectedBefore := len(ssm.OpsItems()), p.incidents.metrics()["SignalsRejected"]
	ssm.Faults.Script("CreateOpsItem", slices.Repeat([]awstest.Fault{awstest.InternalServerError}, 5)...)
	failed := p.batch(ctx, t, []events.SQSMessage{bad, msgs[0]})
	slices.Sort(failed)
	if want := []string{msgs[0].MessageId, bad.MessageId}; !slices.Equal(failed, want) {
		// The malformed message is reported back too: the queue keeps it
		// in its dead-letter queue after the last receive.
		t.Fatalf("batch item failures = %v, want %v", failed, want)
	}
	if got := p.incidents.metrics()["SignalsRejected"] - rejectedBefore; got != 1 {
		t.Errorf("SignalsRejected grew by %v, want 1", got)
	}
	if failed := p.batch(ctx, t, msgs); len(failed) != 0 {
		t.Fatalf("redelivery: batch item failures %v", failed)
	}
	if after := len(ssm.OpsItems()); after != before+1 {
		t.Errorf("OpsItems after the retried creation = %d, want %d", after, before+1)
	}
}

// figures are the measurements of one run.
type figures struct {
	GOARCH    string            `json:"goarch"`
	Functions []functionFigures `json:"functions"`
}

type functionFigures struct {
	Name         string  `json:"name"`
	BinaryBytes  int64   `json:"binaryBytes"`
	ColdStartMs  float64 `json:"coldStartMs"`
	EmulatorMs   float64 `json:"emulatorMs"`
	Invocations  int     `json:"invocations"`
	WarmMedianMs float64 `json:"warmMedianMs"`
}

// report logs binary sizes and cold starts and writes them to the file
// OPSLOOP_E2E_REPORT names, if any.
func report(t *testing.T, fns map[string]*function) {
	f := figures{GOARCH: runtime.GOARCH}
	for _, name := range functionNames {
		fn := fns[name]
		if fn == nil {
			continue
		}
		warm := slices.Clone(fn.warm)
		slices.Sort(warm)
		var median time.Duration
		if len(warm) > 0 {
			median = warm[len(warm)/2]
		}
		ff := functionFigures{Name: name, BinaryBytes: fn.size, ColdStartMs: ms(fn.coldStart), EmulatorMs: ms(fn.listening), Invocations: len(fn.warm) + 1, WarmMedianMs: ms(median)}
		f.Functions = append(f.Functions, ff)
		// Issue "Speed": the classifier and the incidents function stay
		// within 12 MB (the problems function links S3 and SNS).
		if name != "problems" && ff.BinaryBytes > 12e6 {
			t.Errorf("%s: bootstrap is %d bytes, over 12 MB", name, ff.BinaryBytes)
		}
		t.Logf("%s: bootstrap %.1f MB (%s), cold start %.1f ms (emulator start to first response, %.1f ms of it until the emulator listened), warm invoke median %.2f ms over %d",
			name, float64(ff.BinaryBytes)/1e6, runtime.GOARCH, ff.ColdStartMs, ff.EmulatorMs, ff.WarmMedianMs, len(warm))
	}
	if path := os.Getenv(reportEnv); path != "" {
		out, _ := json.MarshalIndent(f, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Errorf("write %s: %v", path, err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
