package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/metrics"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/repotest"
	"github.com/opsloop/opsloop/internal/rules"
)

// The platform's retry settings the deployment configures, which the stack
// plays: EventBridge invokes the classifier asynchronously, and Lambda tries
// a failing event asyncAttempts times before its dead-letter queue keeps it;
// SQS hands the incidents function a message maxReceiveCount times before
// the queue's redrive policy moves it to the dead-letter queue.
const (
	asyncAttempts   = 3
	reportBucket    = "opsloop-e2e-reports"
	maxReceiveCount = 5
)

// builds holds the bootstraps built once for every test of the package.
var builds struct {
	once  sync.Once
	dir   string
	paths map[string]string
	err   error
}

// TestMain removes what the shared build left behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// sharedBootstraps builds the functions once per test binary.
func sharedBootstraps(t *testing.T, root string) map[string]string {
	t.Helper()
	builds.once.Do(func() {
		builds.dir, builds.err = os.MkdirTemp("", "opsloop-e2e-")
		if builds.err == nil {
			builds.paths, builds.err = buildFunctions(context.Background(), root, builds.dir, functionNames)
		}
	})
	if builds.err != nil {
		t.Fatal(builds.err)
	}
	return builds.paths
}

// requireTools fails t with the set-up hint when the emulator or dynalite
// is missing, and returns the repository root and the emulator.
func requireTools(t *testing.T) (root, rie string) {
	t.Helper()
	if os.Getenv(skipEnv) == "1" {
		t.Skip(skipEnv + "=1")
	}
	root = repotest.Root(t)
	rie, err := findRIE(context.Background())
	if err != nil {
		t.Fatalf("%v: %s", err, setupHint)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", ".bin", "dynalite")); err != nil {
		t.Fatalf("dynalite (node_modules) is not installed: %s", setupHint)
	}
	return root, rie
}

// durableDynalite is dynalite keeping its data in a LevelDB directory, so
// that a restart loses nothing, as DynamoDB loses nothing when an endpoint
// is unavailable for a while.
type durableDynalite struct {
	bin, dir string
	port     int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *output
}

func startDurableDynalite(t *testing.T, root string) *durableDynalite {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d := &durableDynalite{bin: filepath.Join(root, "node_modules", ".bin", "dynalite"), dir: filepath.Join(t.TempDir(), "db"), port: port}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

func (d *durableDynalite) url() string { return "http://127.0.0.1:" + strconv.Itoa(d.port) }

func (d *durableDynalite) start() error {
	cmd := exec.Command(d.bin, "--host", "127.0.0.1", "--port", strconv.Itoa(d.port), "--path", d.dir,
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dynalite: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	d.mu.Lock()
	d.cmd, d.done, d.out = cmd, done, out
	d.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(d.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("dynalite exited: %s", out.tail(2048))
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.stop()
	return fmt.Errorf("dynalite does not listen on port %d after 20s: %s", d.port, out.tail(2048))
}

func (d *durableDynalite) stop() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd != nil {
		killGroup(cmd)
		<-done
	}
}

// restart stops dynalite, leaves it down for down, and starts it again on
// the same port and data.
func (d *durableDynalite) restart(down time.Duration) error {
	d.stop()
	time.Sleep(down)
	return d.start()
}

// countingProxy stands in front of dynalite and counts the requests by
// operation, with the capacity units they consume: dynalite's own figure
// (the proxy asks every request for it), which like DynamoDB bills a write
// by the larger of the item before and after it.
type countingProxy struct {
	server *httptest.Server

	mu    sync.Mutex
	calls map[string]int
	// units are the capacity units consumed, by operation, and writes the
	// write units by operation and kind of item (see itemKind).
	units  map[string]float64
	writes map[string]float64
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{calls: map[string]int{}, units: map[string]float64{}, writes: map[string]float64{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	// While dynalite restarts the proxy answers 503, which the SDK retries
	// as it retries an unavailable DynamoDB endpoint.
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		op := strings.TrimPrefix(resp.Request.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		reqSize, _ := strconv.Atoi(resp.Request.Header.Get("X-E2e-Size"))
		kind := resp.Request.Header.Get("X-E2e-Kind")
		var used float64
		switch {
		case resp.StatusCode == http.StatusOK:
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			used = consumedUnits(body)
		case resp.StatusCode == http.StatusBadRequest && isWrite(op):
			// A write refused by its condition is billed too, though
			// dynalite reports nothing for it: estimated from the request
			// at a unit a started KB. The run refuses no other request.
			used = float64(max(1, (reqSize+1023)/1024))
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if isWrite(op) && strings.HasSuffix(kind, " +index") && resp.StatusCode == http.StatusOK {
			used *= 2
		}
		p.units[op] += used
		if isWrite(op) {
			p.writes[op+" "+kind] += used
		}
		return nil
	}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		p.mu.Lock()
		p.calls[op]++
		p.mu.Unlock()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Header.Set("X-E2e-Size", strconv.Itoa(len(body)))
		kind := itemKind(body)
		if bytes.Contains(body, []byte(`"`+dynamodb.StatusIndexPartitionKey+`"`)) {
			// The write reaches the status index (all attributes
			// projected) too: billed again, at least once more.
			kind += " +index"
		}
		r.Header.Set("X-E2e-Kind", kind)
		// dynalite checks no signature, so the body may change.
		body = askConsumedCapacity(body)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.server.Close)
	return p
}

// askConsumedCapacity adds ReturnConsumedCapacity TOTAL to a request that
// does not ask for it.
func askConsumedCapacity(body []byte) []byte {
	var req map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil {
		return body
	}
	if _, ok := req["ReturnConsumedCapacity"]; ok {
		return body
	}
	req["ReturnConsumedCapacity"] = json.RawMessage(`"TOTAL"`)
	out, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return out
}

// consumedUnits reads the capacity units a response reports (a batch's
// summed over its tables).
func consumedUnits(body []byte) float64 {
	type consumed struct{ CapacityUnits float64 }
	var resp struct{ ConsumedCapacity json.RawMessage }
	if json.Unmarshal(body, &resp) != nil || len(resp.ConsumedCapacity) == 0 {
		return 0
	}
	var one consumed
	if json.Unmarshal(resp.ConsumedCapacity, &one) == nil {
		return one.CapacityUnits
	}
	var many []consumed
	_ = json.Unmarshal(resp.ConsumedCapacity, &many)
	var n float64
	for _, c := range many {
		n += c.CapacityUnits
	}
	return n
}

// itemKind names the kind of item a request writes or reads: its keys'
// prefixes before '#' ("inc/state", "chg/…"), from Key or Item.
func itemKind(body []byte) string {
	type key struct {
		PK struct{ S string } `json:"pk"`
		SK struct{ S string } `json:"sk"`
	}
	var req struct{ Key, Item *key }
	if json.Unmarshal(body, &req) != nil {
		return "?"
	}
	k := req.Key
	if k == nil {
		k = req.Item
	}
	if k == nil {
		return "-"
	}
	prefix := func(s string) string {
		if i := strings.IndexByte(s, '#'); i >= 0 {
			return s[:i]
		}
		return s
	}
	return prefix(k.PK.S) + "/" + prefix(k.SK.S)
}

func isWrite(op string) bool { return op == "PutItem" || op == "UpdateItem" || op == "DeleteItem" }

func (p *countingProxy) url() string { return p.server.URL }

func (p *countingProxy) snapshot() (calls map[string]int, units, writes map[string]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls), maps.Clone(p.units), maps.Clone(p.writes)
}

// stack is one deployment of opsloop on the local stand-ins: several
// instances of each function, sharing dynalite (behind the counting proxy)
// and the local SSM and EventBridge endpoints.
type stack struct {
	t          *testing.T
	dyn        *durableDynalite
	db         *countingProxy
	ssm        *awstest.SSM
	bus        *awstest.Events
	s3         *awstest.S3
	sns        *awstest.SNS
	set        *rules.Set
	classifier *pool
	incidents  *pool
	problems   *pool
	env        []string

	routed  int // bus events looked at for the incidents queue so far
	learned int // bus events looked at for the problems function so far
	seq     int // SQS messages made so far

	mu  sync.Mutex
	dlq []deadLetter // what the platform gave up on
}

type stackOptions struct {
	classifiers, incidents, problems int
	rulesTTL                         time.Duration
	// rulesDir replaces the repository's rules.
	rulesDir string
}

func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	root, rie := requireTools(t)
	paths := sharedBootstraps(t, root)
	s := &stack{t: t}
	s.dyn = startDurableDynalite(t, root)
	s.db = newCountingProxy(t, s.dyn.url())
	createTableAt(t, s.db.url())
	s.ssm = awstest.NewSSM()
	t.Cleanup(s.ssm.Close)
	s.bus = awstest.NewEvents()
	t.Cleanup(s.bus.Close)
	s.s3 = awstest.NewS3()
	t.Cleanup(s.s3.Close)
	s.s3.CreateBucket(reportBucket)
	s.sns = awstest.NewSNS()
	t.Cleanup(s.sns.Close)
	if arn := s.sns.CreateTopic(topicName); arn != topicARN {
		t.Fatalf("topic %s, want %s", arn, topicARN)
	}
	if opts.rulesDir == "" {
		opts.rulesDir = filepath.Join(root, "rules")
	}
	s.set = putRules(t, s.ssm, opts.rulesDir)
	if opts.rulesTTL == 0 {
		opts.rulesTTL = 5 * time.Minute
	}
	home := t.TempDir()
	s.env = []string{
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=" + awstest.Region,
		"AWS_ACCESS_KEY_ID=AKIAE2ETESTEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=e2e-test-secret",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.db.url(),
		"AWS_ENDPOINT_URL_SSM=" + s.ssm.URL(),
		"AWS_ENDPOINT_URL_EVENTBRIDGE=" + s.bus.URL(),
		"AWS_ENDPOINT_URL_S3=" + s.s3.URL(),
		"AWS_ENDPOINT_URL_SNS=" + s.sns.URL(),
		"AWS_LAMBDA_LOG_LEVEL=INFO",
		"OPSLOOP_TABLE=" + tableName,
		"OPSLOOP_BUS=" + busName,
		"OPSLOOP_RULES_PATH=" + rulesPath,
		"OPSLOOP_RULES_TTL=" + opts.rulesTTL.String(),
		"OPSLOOP_TOPIC_ARN=" + topicARN,
		"OPSLOOP_REPORT_BUCKET=" + reportBucket,
	}
	start := func(name string, n, timeout int) *pool {
		p := &pool{name: name, free: make(chan *function, n)}
		for i := range n {
			env := append(slices.Clone(s.env), "AWS_LAMBDA_FUNCTION_NAME=opsloop-"+name,
				"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(timeout))
			f := startFunction(t, rie, fmt.Sprintf("%s-%d", name, i), paths[name], env)
			p.all = append(p.all, f)
			p.free <- f
		}
		return p
	}
	s.classifier = start("classifier", max(opts.classifiers, 1), 30)
	s.incidents = start("incidents", max(opts.incidents, 1), 120)
	s.problems = start("problems", max(opts.problems, 1), 60)
	return s
}

// pool is the instances of one function; an instance takes one invocation
// at a time, as a Lambda execution environment does.
type pool struct {
	name string
	all  []*function
	free chan *function
}

func (p *pool) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f := <-p.free
	defer func() { p.free <- f }()
	return f.invoke(ctx, payload)
}

// metrics sums the EMF metrics of every instance.
func (p *pool) metrics() map[string]float64 {
	sum := map[string]float64{}
	for _, f := range p.all {
		for k, v := range f.metrics() {
			sum[k] += v
		}
	}
	return sum
}

func (p *pool) logs(msg string) []map[string]any {
	var recs []map[string]any
	for _, f := range p.all {
		recs = append(recs, f.logs(msg)...)
	}
	return recs
}

// alive reports the instances whose emulator has exited.
func (p *pool) exited() []string {
	var names []string
	for _, f := range p.all {
		select {
		case <-f.exited:
			names = append(names, f.name)
		default:
		}
	}
	return names
}

// deadLetter is a message the platform gave up on, as its dead-letter
// queue keeps it: the original payload with the last error.
type deadLetter struct {
	Function string `json:"function"`
	Body     string `json:"body"`
	Error    string `json:"error"`
	// Attempts is how often the platform tried it.
	Attempts int `json:"attempts"`
}

// classify delivers one event to the classifier as EventBridge and Lambda's
// asynchronous invocation do (see async). It returns the decision, ok false
// when the event went to the dead-letter queue.
func (s *stack) classify(ctx context.Context, payload []byte) (classify.Decision, bool) {
	var d classify.Decision
	resp, ok := s.async(ctx, s.classifier, payload)
	if ok {
		if err := json.Unmarshal(resp, &d); err != nil {
			s.t.Errorf("classifier response %s: %v", resp, err)
		}
	}
	return d, ok
}

// async invokes p as Lambda's asynchronous invocation does: a failed
// invocation is tried again, up to asyncAttempts in all, and then kept in
// the function's dead-letter queue. It returns the response, ok false when
// the payload went to the dead-letter queue.
func (s *stack) async(ctx context.Context, p *pool, payload []byte) ([]byte, bool) {
	var err error
	for range asyncAttempts {
		var resp []byte
		if resp, err = p.invoke(ctx, payload); err == nil {
			return resp, true
		}
		var fe *invokeError
		if !errors.As(err, &fe) {
			s.t.Errorf("%s: %v", p.name, err)
			return nil, false
		}
	}
	s.mu.Lock()
	s.dlq = append(s.dlq, deadLetter{Function: p.name, Body: string(payload), Error: err.Error(), Attempts: asyncAttempts})
	s.mu.Unlock()
	return nil, false
}

// learn plays the bus rule that sends the incident lifecycle's events
// ("Incident Opened", "Incident Escalated", "Incident Resolved") to the
// problems function: each
// event published since the last call is invoked asynchronously, copies(i)
// times at once (nil: once), one event after the other.
func (s *stack) learn(ctx context.Context, copies func(i int) int) {
	all := s.bus.Events()
	routed := 0
	for _, ev := range all[s.learned:] {
		if ev.Bus != busName || ev.Source != signal.Source ||
			(ev.DetailType != incidents.DetailOpened && ev.DetailType != incidents.DetailResolved && ev.DetailType != incidents.DetailEscalated) {
			continue
		}
		n := 1
		if copies != nil {
			n = max(copies(routed), 1)
		}
		routed++
		payload := ev.JSON()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { s.async(ctx, s.problems, payload) })
		}
		wg.Wait()
	}
	s.learned = len(all)
}

// message is one SQS message on the incidents queue.
type message struct {
	events.SQSMessage
	receives int
}

// signals turns the signals published on the opsloop bus since the last
// call into SQS messages: what the bus rule targeting the queue matches.
func (s *stack) signals() []*message {
	all := s.bus.Events()
	var msgs []*message
	for _, ev := range all[s.routed:] {
		if ev.Bus != busName || ev.Source != signal.Source ||
			(ev.DetailType != signal.DetailDetected && ev.DetailType != signal.DetailRecovered) {
			continue
		}
		s.seq++
		msgs = append(msgs, &message{SQSMessage: events.SQSMessage{
			MessageId: fmt.Sprintf("e2e-%07d", s.seq), Body: string(ev.JSON()), EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:opsloop-e2e-incidents", AWSRegion: awstest.Region,
		}})
	}
	s.routed = len(all)
	return msgs
}

// deliver plays the SQS event source: msgs go to the incidents instances in
// batches of batchSize, the batches in parallel, each batch copied copies(i)
// times (1 for none); messages reported as failures come back in later
// batches until they have been received maxReceiveCount times, and then go
// to the dead-letter queue. Then the lifecycle events the batches published
// go to the problems function (learn, with the same copies). It returns
// the incidents invocations made.
func (s *stack) deliver(ctx context.Context, msgs []*message, copies func(batch int) int) int {
	invocations := 0
	for pending := msgs; len(pending) > 0; {
		type job struct{ batch []*message }
		var jobs []job
		for i, b := 0, 0; i < len(pending); i, b = i+batchSize, b+1 {
			batch := pending[i:min(i+batchSize, len(pending))]
			n := 1
			if copies != nil {
				n = max(copies(b), 1)
			}
			for range n {
				jobs = append(jobs, job{batch})
			}
		}
		failed := make([]map[string]bool, len(jobs))
		var wg sync.WaitGroup
		for j, jb := range jobs {
			for _, m := range jb.batch {
				m.receives++
			}
			wg.Go(func() { failed[j] = s.batch(ctx, jb.batch) })
		}
		wg.Wait()
		invocations += len(jobs)
		// A message is to retry when no copy of it succeeded: SQS deletes
		// it as soon as one receiver does.
		ok := map[string]bool{}
		for j, jb := range jobs {
			for _, m := range jb.batch {
				if !failed[j][m.MessageId] {
					ok[m.MessageId] = true
				}
			}
		}
		var retry []*message
		seen := map[string]bool{}
		for _, m := range pending {
			if ok[m.MessageId] || seen[m.MessageId] {
				continue
			}
			seen[m.MessageId] = true
			if m.receives >= maxReceiveCount {
				s.mu.Lock()
				s.dlq = append(s.dlq, deadLetter{Function: "incidents", Body: m.Body, Error: "batch item failure", Attempts: m.receives})
				s.mu.Unlock()
				continue
			}
			retry = append(retry, m)
		}
		pending = retry
	}
	s.learn(ctx, copies)
	return invocations
}

// batch invokes an incidents instance with msgs and returns the ids it
// reported as failures; a failed invocation fails them all.
func (s *stack) batch(ctx context.Context, msgs []*message) map[string]bool {
	recs := make([]events.SQSMessage, len(msgs))
	for i, m := range msgs {
		recs[i] = m.SQSMessage
		recs[i].Attributes = map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.receives)}
	}
	payload, err := json.Marshal(events.SQSEvent{Records: recs})
	if err != nil {
		s.t.Error(err)
	}
	failed := map[string]bool{}
	out, err := s.incidents.invoke(ctx, payload)
	if err != nil {
		var fe *invokeError
		if !errors.As(err, &fe) {
			s.t.Errorf("incidents: %v", err)
		}
		for _, m := range msgs {
			failed[m.MessageId] = true
		}
		return failed
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		s.t.Errorf("incidents response %s: %v", out, err)
	}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	return failed
}

// samples reads the sample events in replay's order.
func samples(t *testing.T, root string) []eventfile.Item {
	t.Helper()
	var items []eventfile.Item
	err := eventfile.Read(context.Background(), []string{filepath.Join(root, "events-samples")}, func(it eventfile.Item) error {
		if it.Err == nil && it.Skip == "" {
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) == 0 {
		t.Fatal("no sample events")
	}
	return items
}

// state is what a run leaves behind that a responder or the review sees:
// the OpsItems by fingerprint in creation order, and the classifier's
// decision counts.
type state struct {
	opsItems  map[string][]opsItemState
	decisions map[string]float64
	opened    float64
	resolved  float64
	// problems are the problem records (candidates too), comparable.
	problems       map[string]string
	problemsOpened float64
	// review is what the weekly review sent: how many incidents and
	// problems it covered, its messages and reports.
	review string
}

type opsItemState struct {
	Title, Status, Severity, Category string
	Priority                          int
	// Data is the OperationalData, key=value lines in key order.
	Data string
}

func (s *stack) state() state {
	st := state{opsItems: map[string][]opsItemState{}, decisions: map[string]float64{}}
	for _, it := range s.ssm.OpsItems() {
		fp := data(it, incidents.KeyFingerprint)
		keys := slices.Sorted(maps.Keys(it.OperationalData))
		lines := make([]string, len(keys))
		for i, k := range keys {
			// An OpsItem naming itself (the analysis link) differs between
			// runs as OpsCenter numbers OpsItems in arrival order.
			lines[i] = k + "=" + strings.ReplaceAll(it.OperationalData[k].Value, it.ID, "<this OpsItem>")
			if v := it.OperationalData[k].Value; k == incidents.KeyDue && v != "none" {
				// The wall clock's, not the events': a time in each run.
				lines[i] = k + "=<a time>"
			}
		}
		st.opsItems[fp] = append(st.opsItems[fp], opsItemState{it.Title, it.Status, it.Severity, it.Category, it.Priority,
			strings.Join(lines, "\n")})
	}
	m := s.classifier.metrics()
	for _, a := range classify.Actions {
		st.decisions[string(a)] = m[fmt.Sprintf("Decisions{Action=%s}", a)]
	}
	im := s.incidents.metrics()
	st.opened, st.resolved = im["IncidentsOpened"], im["IncidentsResolved"]
	st.problems = s.problemRecords()
	st.problemsOpened = s.problems.metrics()[metrics.ProblemsOpened]
	var sent []string
	for _, rec := range s.problems.logs("review sent") {
		sent = append(sent, fmt.Sprintf("%v incidents, %v problems", rec["incidents"], rec["problems"]))
	}
	st.review = fmt.Sprintf("sent %v; %d messages, %d reports", sent, len(s.sns.Published()), len(s.s3.Objects(reportBucket)))
	return st
}

// review invokes the problems function with the weekly schedule's event
// for the week ending at end, copies times at once, as the asynchronous
// invocation does (what fails every attempt waits in the dead-letter queue).
func (s *stack) review(ctx context.Context, end time.Time, copies int) {
	payload := fmt.Appendf(nil, `{"version":"0","id":"e2e-review","detail-type":"Scheduled Event","source":"aws.events",`+
		`"account":%q,"time":%q,"region":%q,"resources":[],"detail":{}}`, awstest.Account, end.Format(time.RFC3339), awstest.Region)
	var wg sync.WaitGroup
	for range max(copies, 1) {
		wg.Go(func() { s.async(ctx, s.problems, payload) })
	}
	wg.Wait()
}

// problemRecords reads every problem record from the table.
func (s *stack) problemRecords() map[string]string {
	client := awsdynamodb.New(awsdynamodb.Options{Region: awstest.Region, BaseEndpoint: aws.String(s.dyn.url()), Credentials: awstest.Credentials()})
	store := problemstore.New(client, tableName, problemstore.Options{})
	out := map[string]string{}
	for _, status := range append([]problems.Status{problems.Candidate}, problems.Statuses...) {
		ps, err := store.List(context.Background(), status)
		if err != nil {
			s.t.Fatalf("list %s problems: %v", status, err)
		}
		for _, p := range ps {
			out[p.Key] = comparable(s.t, p)
		}
	}
	return out
}

// comparable is p as JSON less what differs between runs by design: the
// OpsItem ids (the order OpsCenter numbers them in) and the version.
func comparable(t *testing.T, p problems.Problem) string {
	t.Helper()
	p.Version, p.OpsItems = 0, []string{fmt.Sprintf("%d OpsItems", len(p.OpsItems))}
	p.History = slices.Clone(p.History)
	for i := range p.History {
		p.History[i].OpsItemID = ""
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// compareStates reports every difference of got from want.
func compareStates(t *testing.T, got, want state) {
	t.Helper()
	fps := map[string]bool{}
	for fp := range want.opsItems {
		fps[fp] = true
	}
	for fp := range got.opsItems {
		fps[fp] = true
	}
	n, m := 0, 0
	for fp := range fps {
		n += len(got.opsItems[fp])
		m += len(want.opsItems[fp])
		if !slices.Equal(got.opsItems[fp], want.opsItems[fp]) {
			t.Errorf("fingerprint %s:\n  got  %+v\n  want %+v", fp, got.opsItems[fp], want.opsItems[fp])
		}
	}
	if n != m {
		t.Errorf("OpsItems = %d, want %d", n, m)
	}
	for a, w := range want.decisions {
		switch {
		case a != string(classify.Incident):
			// Only incidents are always counted, so known as redelivered:
			// another redelivered event may be decided, and counted, again.
			if got.decisions[a] < w {
				t.Errorf("Decisions{Action=%s} = %v, want at least %v", a, got.decisions[a], w)
			}
		case got.decisions[a] != w:
			t.Errorf("Decisions{Action=%s} = %v, want %v", a, got.decisions[a], w)
		}
	}
	if got.opened != want.opened || got.resolved != want.resolved {
		t.Errorf("IncidentsOpened, IncidentsResolved = %v, %v; want %v, %v", got.opened, got.resolved, want.opened, want.resolved)
	}
	keys := maps.Clone(want.problems)
	maps.Copy(keys, got.problems)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if got.problems[k] != want.problems[k] {
			t.Errorf("problem record %s:\n  got  %s\n  want %s", k, got.problems[k], want.problems[k])
		}
	}
	if got.review != want.review {
		t.Errorf("review: %s, want %s", got.review, want.review)
	}
	if got.problemsOpened != want.problemsOpened {
		t.Errorf("ProblemsOpened = %v, want %v", got.problemsOpened, want.problemsOpened)
	}
}

// createTableAt creates the table through the DynamoDB endpoint at url.
func createTableAt(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	client := awsdynamodb.New(awsdynamodb.Options{Region: awstest.Region, BaseEndpoint: aws.String(url), Credentials: awstest.Credentials()})
	if _, err := client.CreateTable(ctx, dynamodb.TableDefinition(tableName)); err != nil {
		t.Fatalf("CreateTable(%s) = %v", tableName, err)
	}
	waiter := awsdynamodb.NewTableExistsWaiter(client, func(o *awsdynamodb.TableExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond })
	if err := waiter.Wait(ctx, &awsdynamodb.DescribeTableInput{TableName: aws.String(tableName)}, 10*time.Second); err != nil {
		t.Fatalf("wait for table %s: %v", tableName, err)
	}
}
