package incidents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	fp    = "alarm-in-alarm:api-errors"
	alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-errors"
	topic = "arn:aws:sns:us-east-1:123456789012:opsloop-default"
)

// sig is a signal of the test's incident; id doubles as its offset in
// minutes from t0 unless a mod sets the time.
func sig(kind string, minute int, mods ...func(*signal.Signal)) signal.Signal {
	s := signal.Signal{
		SchemaVersion: signal.SchemaVersion,
		Kind:          kind,
		EventID:       fmt.Sprintf("%s-%d", kind, minute),
		Time:          t0.Add(time.Duration(minute) * time.Minute),
		Rule:          "alarm-in-alarm",
		Fingerprint:   fp,
		Title:         "Alarm api-errors is in ALARM",
		Severity:      "high",
		Category:      "Availability",
		Plan: signal.Plan{OpsItemSeverity: "2", Priority: 2, Notify: []string{"default"},
			Runbooks: []string{"AWS-RestartEC2Instance"}},
		Resources:  []string{alarm},
		Account:    "123456789012",
		Region:     "us-east-1",
		Source:     "aws.cloudwatch",
		DetailType: "CloudWatch Alarm State Change",
		Actor:      "arn:aws:iam::123456789012:role/deployer",
		Summary:    "Alarm api-errors went from OK to ALARM: 5xx above 5% for 3 minutes",
		Reason:     `rule "alarm-in-alarm" opens an incident`,
		Excerpt:    `{"detail":{"alarmName":"api-errors","state":{"value":"ALARM"}}}`,
	}
	if kind == signal.Recovered {
		s.Summary = "Alarm api-errors went from ALARM to OK"
	}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func flapping(s *signal.Signal) { s.Flapping = true }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// opsFake is an OpsCenter made of functions, for failure injection.
type opsFake struct {
	create func(context.Context, incidents.OpsItem) (string, bool, error)
	update func(context.Context, string, incidents.Update) error
}

func (f opsFake) Create(ctx context.Context, it incidents.OpsItem) (string, bool, error) {
	return f.create(ctx, it)
}

func (f opsFake) Update(ctx context.Context, id string, u incidents.Update) error {
	return f.update(ctx, id, u)
}

// storeFake is a Store made of functions, for failure injection.
type storeFake struct {
	get        func(context.Context, string) (*incidents.Record, error)
	put        func(context.Context, *incidents.Record) error
	addHistory func(context.Context, incidents.History) error
}

func (f storeFake) Get(ctx context.Context, fingerprint string) (*incidents.Record, error) {
	return f.get(ctx, fingerprint)
}

func (f storeFake) Put(ctx context.Context, rec *incidents.Record) error { return f.put(ctx, rec) }

func (f storeFake) AddHistory(ctx context.Context, h incidents.History) error {
	return f.addHistory(ctx, h)
}

// env is a Manager over the in-memory stand-ins, with the calls that reach
// them through optional failure injection.
type env struct {
	mu        sync.Mutex // guards published and the fault counters
	ops       *memory.OpsCenter
	store     *memory.Incidents
	clock     *clock
	published []incidents.Event
	m         *incidents.Manager
}

// faults wraps the stand-ins; nil fields pass calls through.
type faults struct {
	create  func(n int) error // n counts Create calls from 1
	update  func(n int) error
	put     func(n int) error
	get     func(n int) error
	history func(n int) error
	publish func(n int) error
}

func newEnv(t *testing.T, f faults, opts ...incidents.Option) *env {
	t.Helper()
	e := &env{ops: memory.NewOpsCenter(), store: memory.NewIncidents(), clock: &clock{t: t0}}
	e.ops.Now = e.clock.Now
	var creates, updates, puts, gets, histories, publishes int
	inject := func(fn func(int) error, n *int) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		*n++
		if fn == nil {
			return nil
		}
		return fn(*n)
	}
	ops := opsFake{
		create: func(ctx context.Context, it incidents.OpsItem) (string, bool, error) {
			if err := inject(f.create, &creates); err != nil {
				return "", false, err
			}
			return e.ops.Create(ctx, it)
		},
		update: func(ctx context.Context, id string, u incidents.Update) error {
			if err := inject(f.update, &updates); err != nil {
				return err
			}
			return e.ops.Update(ctx, id, u)
		},
	}
	store := storeFake{
		get: func(ctx context.Context, fp string) (*incidents.Record, error) {
			if err := inject(f.get, &gets); err != nil {
				return nil, err
			}
			return e.store.Get(ctx, fp)
		},
		put: func(ctx context.Context, rec *incidents.Record) error {
			if err := inject(f.put, &puts); err != nil {
				return err
			}
			return e.store.Put(ctx, rec)
		},
		addHistory: func(ctx context.Context, h incidents.History) error {
			if err := inject(f.history, &histories); err != nil {
				return err
			}
			return e.store.AddHistory(ctx, h)
		},
	}
	pub := incidents.PublisherFunc(func(_ context.Context, dt string, d any) error {
		if err := inject(f.publish, &publishes); err != nil {
			return err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.published = append(e.published, incidents.Event{DetailType: dt, Detail: d})
		return nil
	})
	all := append([]incidents.Option{incidents.WithClock(e.clock.Now), incidents.WithDefaultTopic(topic),
		incidents.WithPublisher(pub)}, opts...)
	e.m = incidents.New(ops, store, all...)
	return e
}

func (e *env) record(t *testing.T) *incidents.Record {
	t.Helper()
	rec, err := e.store.Get(context.Background(), fp)
	if err != nil {
		t.Fatalf("Get(%s): %v", fp, err)
	}
	return rec
}

var (
	errThrottled = errors.New("ThrottlingException: rate exceeded")
	errCrash     = errors.New("crash")
)

// once fails the first call with err.
func once(err error) func(int) error {
	return func(n int) error {
		if n == 1 {
			return err
		}
		return nil
	}
}

// at fails call number k with err.
func at(k int, err error) func(int) error {
	return func(n int) error {
		if n == k {
			return err
		}
		return nil
	}
}

func always(err error) func(int) error { return func(int) error { return err } }

// errKind names how an error should be treated.
func errKind(err error) string {
	switch {
	case err == nil:
		return "none"
	case incidents.Retryable(err):
		return "retryable"
	default:
		return "permanent"
	}
}

type step struct {
	s       signal.Signal
	want    incidents.Action
	wantErr string // "none", "retryable" or "permanent"
	advance time.Duration
}

func ok(s signal.Signal, want incidents.Action) step {
	return step{s: s, want: want, wantErr: "none"}
}

func TestLifecycle(t *testing.T) {
	d := func(minute int, mods ...func(*signal.Signal)) signal.Signal {
		return sig(signal.Detected, minute, mods...)
	}
	r := func(minute int, mods ...func(*signal.Signal)) signal.Signal {
		return sig(signal.Recovered, minute, mods...)
	}
	tests := []struct {
		name        string
		faults      faults
		opts        []incidents.Option
		steps       []step
		wantItems   []string // OpsItem statuses, in creation order
		wantCreates int      // CreateOpsItem calls that reached OpsCenter
		wantUpdates int
		wantOcc     int // the record's occurrences
		wantEvents  []string
	}{
		{
			name:        "open, repeat, resolve",
			steps:       []step{ok(d(0), incidents.Opened), ok(d(1), incidents.Repeated), ok(d(2), incidents.Repeated), ok(r(3), incidents.Resolved)},
			wantItems:   []string{"Resolved"},
			wantCreates: 1, wantUpdates: 2, wantOcc: 3, // the 2nd occurrence is a milestone, the 3rd is not
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved},
		},
		{
			name:        "a detection after resolution opens a new OpsItem",
			steps:       []step{ok(d(0), incidents.Opened), ok(r(1), incidents.Resolved), ok(d(2), incidents.Opened)},
			wantItems:   []string{"Resolved", "Open"},
			wantCreates: 2, wantUpdates: 1, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved, incidents.DetailOpened},
		},
		{
			name:      "a recovery with nothing open does nothing",
			steps:     []step{ok(r(0), incidents.NoIncident)},
			wantItems: nil,
		},
		{
			name:        "a recovery older than the last detection is stale",
			steps:       []step{ok(d(10), incidents.Opened), ok(r(5), incidents.Stale)},
			wantItems:   []string{"Open"},
			wantCreates: 1, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:        "a detection older than the recovery is stale",
			steps:       []step{ok(d(0), incidents.Opened), ok(r(10), incidents.Resolved), ok(d(5), incidents.Stale)},
			wantItems:   []string{"Resolved"},
			wantCreates: 1, wantUpdates: 1, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved},
		},
		{
			name:   "Create fails once: the redelivery opens it",
			faults: faults{create: once(errThrottled)},
			steps: []step{
				{s: d(0), wantErr: "retryable"},
				ok(d(0), incidents.Opened),
			},
			wantItems: []string{"Open"}, wantCreates: 1, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:   "crash between record and Create: the next signal creates it, then counts",
			faults: faults{create: once(errCrash)},
			steps: []step{
				{s: d(0), wantErr: "retryable"},
				ok(d(1), incidents.Repeated),
			},
			wantItems: []string{"Open"}, wantCreates: 1, wantUpdates: 1, wantOcc: 2,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:   "crash between Create and recording the id: dedup returns the OpsItem",
			faults: faults{put: at(2, errCrash)}, // put 1 claims the record, put 2 records the id
			steps: []step{
				{s: d(0), wantErr: "retryable"},
				ok(d(0), incidents.Opened),
			},
			wantItems: []string{"Open"}, wantCreates: 2, wantOcc: 1, // the 2nd Create is deduplicated
			wantEvents: []string{incidents.DetailOpened, incidents.DetailOpened},
		},
		{
			name:      "a lost race is re-read and retried",
			faults:    faults{put: once(fmt.Errorf("put: %w", incidents.ErrConflict))},
			steps:     []step{ok(d(0), incidents.Opened)},
			wantItems: []string{"Open"}, wantCreates: 1, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:      "races lost every time end in a retryable error",
			faults:    faults{put: always(incidents.ErrConflict)},
			steps:     []step{{s: d(0), wantErr: "retryable"}},
			wantItems: nil,
		},
		{
			name:      "a failed read is retryable",
			faults:    faults{get: once(errThrottled)},
			steps:     []step{{s: d(0), wantErr: "retryable"}, ok(d(0), incidents.Opened)},
			wantItems: []string{"Open"}, wantCreates: 1, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:   "Update fails once: the redelivery counts the repeat once",
			faults: faults{update: once(errThrottled)},
			steps: []step{
				ok(d(0), incidents.Opened),
				{s: d(1), wantErr: "retryable"},
				ok(d(1), incidents.Repeated),
			},
			wantItems: []string{"Open"}, wantCreates: 1, wantUpdates: 1, wantOcc: 2,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:   "publishing the opening fails: the redelivery publishes it",
			faults: faults{publish: once(errThrottled)},
			steps: []step{
				{s: d(0), wantErr: "retryable"},
				ok(d(0), incidents.Opened),
			},
			wantItems: []string{"Open"}, wantCreates: 2, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:   "publishing the resolution fails: the redelivery resolves it",
			faults: faults{publish: at(2, errThrottled)},
			steps: []step{
				ok(d(0), incidents.Opened),
				{s: r(1), wantErr: "retryable"},
				ok(r(1), incidents.Resolved),
				ok(r(1), incidents.Duplicate),
			},
			wantItems: []string{"Resolved"}, wantCreates: 1, wantUpdates: 2, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved},
		},
		{
			name:   "history fails: the redelivery resolves it",
			faults: faults{history: once(errThrottled)},
			steps: []step{
				ok(d(0), incidents.Opened),
				{s: r(1), wantErr: "retryable"},
				ok(r(1), incidents.Resolved),
			},
			wantItems: []string{"Resolved"}, wantCreates: 1, wantUpdates: 2, wantOcc: 1,
			wantEvents: []string{incidents.DetailOpened, incidents.DetailResolved},
		},
		{
			name:   "OpsCenter's quota: permanent, counted, repeats make no call",
			faults: faults{create: always(fmt.Errorf("create: %w", incidents.ErrLimitExceeded))},
			steps: []step{
				{s: d(0), want: incidents.LimitExceeded, wantErr: "permanent"},
				{s: d(1), want: incidents.LimitExceeded, wantErr: "permanent"},
				ok(d(1), incidents.Duplicate),
				{s: d(2), want: incidents.LimitExceeded, wantErr: "permanent", advance: 2 * time.Hour}, // tries again
				ok(r(3), incidents.Resolved),
			},
			wantItems: nil, wantOcc: 3,
		},
		{
			name: "quota lifted: the next signal after the retry interval opens it",
			opts: []incidents.Option{incidents.WithLimitRetry(30 * time.Minute)},
			faults: faults{create: func(n int) error {
				if n <= 1 {
					return incidents.ErrLimitExceeded
				}
				return nil
			}},
			steps: []step{
				{s: d(0), want: incidents.LimitExceeded, wantErr: "permanent"},
				{s: d(1), want: incidents.LimitExceeded, wantErr: "permanent", advance: 10 * time.Minute},
				{s: d(2), want: incidents.Repeated, wantErr: "none", advance: 30 * time.Minute},
			},
			wantItems: []string{"Open"}, wantCreates: 1, wantUpdates: 0, wantOcc: 3,
			wantEvents: []string{incidents.DetailOpened},
		},
		{
			name:  "a malformed signal is rejected for good",
			steps: []step{{s: d(0, func(s *signal.Signal) { s.Kind = "maybe" }), want: incidents.Rejected, wantErr: "permanent"}},
		},
		{
			name:  "a signal of an unknown schema version is rejected",
			steps: []step{{s: d(0, func(s *signal.Signal) { s.SchemaVersion = "2" }), want: incidents.Rejected, wantErr: "permanent"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.faults, tt.opts...)
			for i, st := range tt.steps {
				e.clock.Add(st.advance)
				out, err := e.m.Handle(context.Background(), st.s)
				if got := errKind(err); got != st.wantErr {
					t.Fatalf("step %d: Handle(%s) error = %v (%s), want %s", i, st.s.EventID, err, got, st.wantErr)
				}
				if st.want != "" && out.Action != st.want {
					t.Fatalf("step %d: Handle(%s) = %s, want %s", i, st.s.EventID, out.Action, st.want)
				}
				if out.Action == incidents.LimitExceeded && !errors.Is(err, incidents.ErrLimitExceeded) {
					t.Errorf("step %d: Handle(%s) error = %v, want one wrapping ErrLimitExceeded", i, st.s.EventID, err)
				}
			}
			var statuses []string
			for _, it := range e.ops.Items() {
				statuses = append(statuses, it.Status)
			}
			if !reflect.DeepEqual(statuses, tt.wantItems) {
				t.Errorf("OpsItem statuses = %v, want %v", statuses, tt.wantItems)
			}
			st := e.ops.Stats()
			if st.Created != len(tt.wantItems) || st.Creates != tt.wantCreates || st.Updates != tt.wantUpdates {
				t.Errorf("OpsCenter calls = %d creates (%d created), %d updates, want %d creates (%d created), %d updates",
					st.Creates, st.Created, st.Updates, tt.wantCreates, len(tt.wantItems), tt.wantUpdates)
			}
			if st.Invalid != 0 {
				t.Errorf("OpsCenter refused %d calls as invalid", st.Invalid)
			}
			var events []string
			for _, ev := range e.published {
				events = append(events, ev.DetailType)
			}
			if !reflect.DeepEqual(events, tt.wantEvents) {
				t.Errorf("published %v, want %v", events, tt.wantEvents)
			}
			if rec := e.record(t); tt.wantOcc != 0 && (rec == nil || rec.Occurrences != tt.wantOcc) {
				t.Errorf("record = %+v, want %d occurrences", rec, tt.wantOcc)
			}
		})
	}
}

// TestIdempotency delivers every signal twice: the second delivery must
// change nothing and call nothing.
func TestIdempotency(t *testing.T) {
	signals := []signal.Signal{
		sig(signal.Detected, 0),
		sig(signal.Detected, 1),
		sig(signal.Detected, 2),
		sig(signal.Recovered, 3, flapping),
		sig(signal.Detected, 4),
		sig(signal.Recovered, 5),
		sig(signal.Recovered, 6),
		sig(signal.Detected, 7),
	}
	e := newEnv(t, faults{})
	ctx := context.Background()
	for _, s := range signals {
		t.Run(s.EventID, func(t *testing.T) {
			first, err := e.m.Handle(ctx, s)
			if err != nil {
				t.Fatalf("Handle(%s) first: %v", s.EventID, err)
			}
			before, stats, puts, published := e.record(t), e.ops.Stats(), e.store.Puts(), len(e.published)
			items := e.ops.Items()
			again, err := e.m.Handle(ctx, s)
			if err != nil {
				t.Fatalf("Handle(%s) again: %v", s.EventID, err)
			}
			// A signal that changed nothing may be judged the same way again;
			// any other is a duplicate.
			if again.Action != incidents.Duplicate && again.Action != first.Action {
				t.Errorf("Handle(%s) again = %s, want %s or %s", s.EventID, again.Action, incidents.Duplicate, first.Action)
			}
			if got := e.record(t); !reflect.DeepEqual(got, before) {
				t.Errorf("Handle(%s) again changed the record:\n got %+v\nwant %+v", s.EventID, got, before)
			}
			if got := e.ops.Stats(); got != stats {
				t.Errorf("Handle(%s) again called OpsCenter: %+v, want %+v", s.EventID, got, stats)
			}
			if got := e.store.Puts(); got != puts {
				t.Errorf("Handle(%s) again wrote %d records", s.EventID, got-puts)
			}
			if got := len(e.published); got != published {
				t.Errorf("Handle(%s) again published %d events", s.EventID, got-published)
			}
			if got := e.ops.Items(); !reflect.DeepEqual(got, items) {
				t.Errorf("Handle(%s) again changed the OpsItems", s.EventID)
			}
		})
	}
}

// TestStorm: 10,000 repeats of one failure are one OpsItem and a number of
// Updates bounded by incidents.MaxUpdates.
func TestStorm(t *testing.T) {
	const n = 10000
	tests := []struct {
		name string
		mod  func(i int, s *signal.Signal)
		// exact, when set, is the number of Updates expected.
		exact int
	}{
		{name: "same failure", exact: incidents.Milestones(n) + 1}, // + the resolution
		{
			name: "titles change, severity rises, flapping starts and stops",
			mod: func(i int, s *signal.Signal) {
				s.Title = fmt.Sprintf("Alarm api-errors is in ALARM (%d)", i)
				s.Plan.OpsItemSeverity = []string{"4", "3", "2", "1"}[min(i/2500, 3)]
				s.Flapping = i >= 7000 && i < 9000
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, faults{})
			ctx := context.Background()
			for i := range n {
				s := sig(signal.Detected, 0)
				s.EventID = fmt.Sprintf("storm-%d", i)
				s.Time = t0.Add(time.Duration(i) * time.Second)
				if tt.mod != nil {
					tt.mod(i, &s)
				}
				if _, err := e.m.Handle(ctx, s); err != nil {
					t.Fatalf("Handle(%s): %v", s.EventID, err)
				}
			}
			rec := sig(signal.Recovered, 0)
			rec.Time = t0.Add(n * time.Second)
			if _, err := e.m.Handle(ctx, rec); err != nil {
				t.Fatalf("Handle(recovery): %v", err)
			}
			items := e.ops.Items()
			if len(items) != 1 {
				t.Fatalf("storm of %d made %d OpsItems, want 1", n, len(items))
			}
			st := e.ops.Stats()
			bound := incidents.MaxUpdates(n)
			t.Logf("%d signals: %d Create, %d Updates (bound %d), %d record writes", n, st.Creates, st.Updates, bound, e.store.Puts())
			if st.Creates != 1 {
				t.Errorf("storm of %d made %d Create calls, want 1", n, st.Creates)
			}
			if st.Updates > bound {
				t.Errorf("storm of %d made %d Updates, want at most MaxUpdates(%d) = %d", n, st.Updates, n, bound)
			}
			if tt.exact != 0 && st.Updates != tt.exact {
				t.Errorf("storm of %d made %d Updates, want %d", n, st.Updates, tt.exact)
			}
			if items[0].Occurrences != n || items[0].Status != "Resolved" {
				t.Errorf("OpsItem shows %d occurrences, status %s; want %d, Resolved", items[0].Occurrences, items[0].Status, n)
			}
		})
	}
}

func TestFlapping(t *testing.T) {
	steps := []struct {
		s           signal.Signal
		want        incidents.Action
		wantUpdated bool
	}{
		{sig(signal.Detected, 0), incidents.Opened, false},
		{sig(signal.Recovered, 1, flapping), incidents.Held, true}, // marked flapping: one Update
		{sig(signal.Recovered, 2, flapping), incidents.Held, false},
		{sig(signal.Detected, 3, flapping), incidents.Repeated, true}, // the 2nd occurrence: a milestone
		{sig(signal.Recovered, 4), incidents.Held, false},             // the record is still flapping
		{sig(signal.Detected, 5), incidents.Repeated, false},          // no longer flapping
		{sig(signal.Recovered, 6), incidents.Resolved, true},
	}
	e := newEnv(t, faults{})
	for i, st := range steps {
		out, err := e.m.Handle(context.Background(), st.s)
		if err != nil {
			t.Fatalf("step %d: Handle(%s): %v", i, st.s.EventID, err)
		}
		if out.Action != st.want || out.Updated != st.wantUpdated {
			t.Errorf("step %d: Handle(%s) = %s, updated %v; want %s, updated %v", i, st.s.EventID, out.Action, out.Updated, st.want, st.wantUpdated)
		}
		items := e.ops.Items()
		if len(items) != 1 {
			t.Fatalf("step %d: %d OpsItems, want 1", i, len(items))
		}
		// Step 5 ends flapping without a milestone, so the OpsItem learns it
		// with the resolution.
		marked := strings.HasPrefix(items[0].OperationalData[incidents.KeyFlapping].Value, "true")
		if wantMarked := i >= 1 && i <= 5; marked != wantMarked {
			t.Errorf("step %d: OpsItem marked flapping %v, want %v", i, marked, wantMarked)
		}
	}
	if items := e.ops.Items(); items[0].Status != "Resolved" {
		t.Errorf("OpsItem status = %s, want Resolved", items[0].Status)
	}
}

func TestFlappingDetectionUpdatesOnce(t *testing.T) {
	e := newEnv(t, faults{})
	var updated []bool
	for i := range 8 {
		s := sig(signal.Detected, i)
		s.Flapping = i >= 2
		out, err := e.m.Handle(context.Background(), s)
		if err != nil {
			t.Fatalf("Handle(%s): %v", s.EventID, err)
		}
		updated = append(updated, out.Updated)
	}
	// occurrence 2 and 5 are milestones, 3 starts flapping.
	want := []bool{false, true, true, false, true, false, false, false}
	if !reflect.DeepEqual(updated, want) {
		t.Errorf("Updated per detection = %v, want %v", updated, want)
	}
}

func TestOpsItemContent(t *testing.T) {
	changes := incidents.ChangesFunc(func(_ context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error) {
		if lookback != time.Hour || !before.Equal(t0) {
			return nil, fmt.Errorf("unexpected lookup %s %s %s", resource, before, lookback)
		}
		if resource != alarm {
			return nil, nil
		}
		return []changelog.Change{
			{Time: t0.Add(-50 * time.Minute), EventName: "PutMetricAlarm", Actor: "arn:aws:iam::123456789012:user/alice", Title: "alarm threshold changed"},
			{Time: t0.Add(-10 * time.Minute), EventName: "UpdateFunctionCode", Actor: "arn:aws:iam::123456789012:role/deployer", Title: "api deployed"},
		}, nil
	})
	e := newEnv(t, faults{}, incidents.WithChanges(changes, 0))
	s := sig(signal.Detected, 0, func(s *signal.Signal) {
		s.Resources = append(s.Resources, "AWS::Lambda::Function/api")
		s.Plan.Notify = []string{"default", "arn:aws:sns:us-east-1:123456789012:oncall", "not-an-arn", "default"}
	})
	if _, err := e.m.Handle(context.Background(), s); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	it := e.ops.Items()[0]
	scalars := []struct{ field, got, want string }{
		{"Title", it.Title, s.Title},
		{"Source", it.Source, "opsloop"},
		{"Severity", it.Severity, "2"},
		{"Priority", fmt.Sprint(it.Priority), "2"},
		{"Category", it.Category, "Availability"},
		{"Status", it.Status, "Open"},
		{"Notifications", strings.Join(it.Notifications, " "), topic + " arn:aws:sns:us-east-1:123456789012:oncall"},
		{"Fingerprint", it.Fingerprint, fp},
		{"Rule", it.Rule, "alarm-in-alarm"},
		{"Resources", strings.Join(it.Resources, " "), alarm},
		{KeyData(incidents.KeyDedup), it.OperationalData[incidents.KeyDedup].Value, `{"dedupString":"` + fp + `"}`},
		{KeyData(incidents.KeyAutomations), it.OperationalData[incidents.KeyAutomations].Value,
			`[{"automationId":"AWS-RestartEC2Instance","automationType":"AWS::SSM::Automation"}]`},
		{KeyData(incidents.KeyOccurrences), it.OperationalData[incidents.KeyOccurrences].Value, "1"},
		{KeyData(incidents.KeyFirstSeen), it.OperationalData[incidents.KeyFirstSeen].Value, "2025-03-01T12:00:00Z"},
		{KeyData(incidents.KeyActor), it.OperationalData[incidents.KeyActor].Value, s.Actor},
	}
	for _, c := range scalars {
		if c.got != c.want {
			t.Errorf("OpsItem %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	var recent []incidents.Change
	if err := json.Unmarshal([]byte(it.OperationalData[incidents.KeyRecentChanges].Value), &recent); err != nil || len(recent) != 2 || recent[0].EventName != "UpdateFunctionCode" {
		t.Errorf("OpsItem %s = %s (%v), want both changes, newest first", incidents.KeyRecentChanges, it.OperationalData[incidents.KeyRecentChanges].Value, err)
	}
	for _, want := range []string{
		s.Summary,
		"account 123456789012, region us-east-1",
		alarm + ", AWS::Lambda::Function/api",
		"**Caused by:** " + s.Actor,
		"first seen 2025-03-01T12:00:00Z",
		"1 occurrence ",
		"**Decided by:** " + s.Reason,
		`aws.cloudwatch "CloudWatch Alarm State Change"`,
		"AWS-RestartEC2Instance",
		"in the hour before",
		"UpdateFunctionCode by arn:aws:iam::123456789012:role/deployer: api deployed",
		"excerpt in operational data " + incidents.KeyEvent,
	} {
		if !strings.Contains(it.Description, want) {
			t.Errorf("OpsItem description lacks %q:\n%s", want, it.Description)
		}
	}
	if got := it.OperationalData[incidents.KeyEvent].Value; got != s.Excerpt {
		t.Errorf("OpsItem %s = %q, want the excerpt %q", incidents.KeyEvent, got, s.Excerpt)
	}
}

// TestRecordLeavesExcerptToOpsItem: once its OpsItem exists, a record
// keeps neither the raw-event excerpt (the OpsItem's KeyEvent has it, and
// an update leaves it there) nor copies of its own fields in the first
// signal: the record stays one write unit.
func TestRecordLeavesExcerptToOpsItem(t *testing.T) {
	e := newEnv(t, faults{})
	ctx := context.Background()
	for _, minute := range []int{0, 1} { // the second is milestone 2: an Update
		if _, err := e.m.Handle(ctx, sig(signal.Detected, minute)); err != nil {
			t.Fatal(err)
		}
	}
	rec := e.record(t)
	if rec.First == nil || rec.First.Excerpt != "" || rec.First.EventID != "detected-0" || rec.First.Actor == "" {
		t.Fatalf("record's first signal = %+v, want detected-0's, without its excerpt", rec.First)
	}
	if f := rec.First; f.Title != "" || f.Rule != "" || len(f.Resources) > 0 || len(f.Plan.Runbooks) > 0 || len(rec.Plan.Runbooks) == 0 {
		t.Errorf("record's first signal = %+v, want none of the record's own fields (plan %+v)", f, rec.Plan)
	}
	items := e.ops.Items()
	if len(items) != 1 || e.ops.Stats().Updates != 1 {
		t.Fatalf("OpsItems = %d, updates %d; want 1, 1", len(items), e.ops.Stats().Updates)
	}
	if got := items[0].OperationalData[incidents.KeyEvent].Value; got != sig(signal.Detected, 0).Excerpt {
		t.Errorf("OpsItem %s after the update = %q, want the first signal's excerpt", incidents.KeyEvent, got)
	}
}

// KeyData names an OperationalData key in failure messages.
func KeyData(k string) string { return "OperationalData " + k }

func TestNotificationsWithoutDefaultTopic(t *testing.T) {
	ops, store := memory.NewOpsCenter(), memory.NewIncidents()
	m := incidents.New(ops, store)
	if _, err := m.Handle(context.Background(), sig(signal.Detected, 0)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got := ops.Items()[0].Notifications; len(got) != 0 {
		t.Errorf("Notifications = %v, want none: \"default\" without a configured topic is dropped", got)
	}
}

func TestChangesLookupFailureStillOpens(t *testing.T) {
	failing := incidents.ChangesFunc(func(context.Context, string, time.Time, time.Duration) ([]changelog.Change, error) {
		return nil, errThrottled
	})
	e := newEnv(t, faults{}, incidents.WithChanges(failing, 0))
	out, err := e.m.Handle(context.Background(), sig(signal.Detected, 0))
	if err != nil || out.Action != incidents.Opened {
		t.Fatalf("Handle = %s, %v; want opened", out.Action, err)
	}
	if d := e.ops.Items()[0].Description; !strings.Contains(d, "nothing recorded") {
		t.Errorf("description lacks \"nothing recorded\":\n%s", d)
	}
}

func TestResolutionData(t *testing.T) {
	e := newEnv(t, faults{})
	ctx := context.Background()
	rec := sig(signal.Recovered, 7)
	for _, s := range []signal.Signal{sig(signal.Detected, 0), rec} {
		if _, err := e.m.Handle(ctx, s); err != nil {
			t.Fatalf("Handle(%s): %v", s.EventID, err)
		}
	}
	it := e.ops.Items()[0]
	res := it.OperationalData[incidents.KeyResolution].Value
	for _, want := range []string{"2025-03-01T12:07:00Z", rec.Summary, rec.EventID} {
		if !strings.Contains(res, want) {
			t.Errorf("%s = %q, lacks %q", incidents.KeyResolution, res, want)
		}
	}
	if !strings.Contains(it.Description, "**Resolved:**") {
		t.Errorf("description lacks the resolution:\n%s", it.Description)
	}
	hist := e.store.History(fp)
	want := []incidents.History{{Fingerprint: fp, OpsItemID: it.ID, Rule: "alarm-in-alarm", Opened: t0, Resolved: rec.Time, Occurrences: 1}}
	if !reflect.DeepEqual(hist, want) {
		t.Errorf("History(%s) = %+v, want %+v", fp, hist, want)
	}
	if len(e.published) != 2 {
		t.Fatalf("published %d events, want 2", len(e.published))
	}
	d, ok := e.published[1].Detail.(incidents.ResolvedDetail)
	if !ok || d.OpsItemID != it.ID || !d.Opened.Equal(t0) || !d.Resolved.Equal(rec.Time) || d.EventID != rec.EventID {
		t.Errorf("Incident Resolved detail = %+v, want OpsItem %s opened %s resolved %s by %s", e.published[1].Detail, it.ID, t0, rec.Time, rec.EventID)
	}
}

// TestLimits opens OpsItems from signals that break every OpsCenter limit:
// the stand-in refuses anything over a limit, so each must have been cut.
func TestLimits(t *testing.T) {
	var many []string
	for i := range 150 {
		many = append(many, fmt.Sprintf("arn:aws:ec2:us-east-1:123456789012:instance/i-%017d", i))
	}
	tests := []struct {
		name  string
		mod   func(*signal.Signal)
		check func(t *testing.T, it memory.Item)
	}{
		{
			name: "title",
			mod:  func(s *signal.Signal) { s.Title = "line one\nline two " + strings.Repeat("é", 3000) },
			check: func(t *testing.T, it memory.Item) {
				if n := len([]rune(it.Title)); n != incidents.MaxTitle || !strings.HasSuffix(it.Title, incidents.Ellipsis) || strings.Contains(it.Title, "\n") {
					t.Errorf("Title has %d characters, ends %q; want %d, one line, ending %q", n, last(it.Title, 5), incidents.MaxTitle, incidents.Ellipsis)
				}
			},
		},
		{
			name: "blank title",
			mod:  func(s *signal.Signal) { s.Title = " \n " },
			check: func(t *testing.T, it memory.Item) {
				if !strings.Contains(it.Title, fp) {
					t.Errorf("Title = %q, want one naming %s", it.Title, fp)
				}
			},
		},
		{
			name: "description",
			mod: func(s *signal.Signal) {
				s.Summary = strings.Repeat("€", 1500)
				s.Reason = strings.Repeat("ü", 1500)
				s.Excerpt = strings.Repeat("x", 5000)
			},
			check: func(t *testing.T, it memory.Item) {
				if n := len([]rune(it.Description)); n > incidents.MaxDescription || !strings.HasSuffix(it.Description, "(truncated)") {
					t.Errorf("Description has %d characters, ends %q; want at most %d, marked truncated", n, last(it.Description, 20), incidents.MaxDescription)
				}
			},
		},
		{
			name: "excerpt cut in the operational data",
			mod:  func(s *signal.Signal) { s.Excerpt = strings.Repeat("日本", 2000) },
			check: func(t *testing.T, it memory.Item) {
				ev := it.OperationalData[incidents.KeyEvent].Value
				if n := len([]rune(ev)); n != 1500 || !strings.HasSuffix(ev, incidents.Ellipsis) || strings.Contains(it.Description, "日本") {
					t.Errorf("%s has %d characters, ends %q, description %d; want 1500 ending %q, none in the description", incidents.KeyEvent, n, last(ev, 5), len(it.Description), incidents.Ellipsis)
				}
			},
		},
		{
			name: "resources",
			mod:  func(s *signal.Signal) { s.Resources = append([]string{"AWS::S3::Bucket/x"}, many...) },
			check: func(t *testing.T, it memory.Item) {
				if len(it.Resources) != incidents.MaxResources || it.Resources[0] != many[0] {
					t.Errorf("/aws/resources lists %d, first %q; want %d ARNs, first %q", len(it.Resources), it.Resources[0], incidents.MaxResources, many[0])
				}
			},
		},
		{
			name: "long fingerprint",
			mod:  func(s *signal.Signal) { s.Fingerprint = "rule:" + strings.Repeat("a", 700) },
			check: func(t *testing.T, it memory.Item) {
				var v struct{ DedupString string }
				if err := json.Unmarshal([]byte(it.OperationalData[incidents.KeyDedup].Value), &v); err != nil || len(v.DedupString) > incidents.MaxDedup {
					t.Errorf("/aws/dedup = %.60q (%v), want a dedup string of at most %d", it.OperationalData[incidents.KeyDedup].Value, err, incidents.MaxDedup)
				}
				if len(it.OperationalData[incidents.KeyFingerprint].Value) != 705 {
					t.Errorf("%s was cut; it fits the value limit", incidents.KeyFingerprint)
				}
			},
		},
		{
			name: "actor value",
			mod:  func(s *signal.Signal) { s.Actor = strings.Repeat("a€", 10000) },
			check: func(t *testing.T, it memory.Item) {
				if v := it.OperationalData[incidents.KeyActor].Value; len(v) > incidents.MaxDataValue || !strings.HasSuffix(v, incidents.Ellipsis) {
					t.Errorf("%s has %d bytes, want at most %d ending %q", incidents.KeyActor, len(v), incidents.MaxDataValue, incidents.Ellipsis)
				}
			},
		},
		{
			name: "category and severity",
			mod: func(s *signal.Signal) {
				s.Category = strings.Repeat("C", 100)
				s.Plan.OpsItemSeverity = "4\n"
				s.Plan.Priority = 9
			},
			check: func(t *testing.T, it memory.Item) {
				if len(it.Category) != incidents.MaxCategory || it.Severity != "4" || it.Priority != 0 {
					t.Errorf("Category %d chars, Severity %q, Priority %d; want %d, \"4\", unset", len(it.Category), it.Severity, it.Priority, incidents.MaxCategory)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, faults{})
			s := sig(signal.Detected, 0, tt.mod)
			if _, err := e.m.Handle(context.Background(), s); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			tt.check(t, e.ops.Items()[0])
		})
	}
}

func TestRelatedOpsItems(t *testing.T) {
	e := newEnv(t, faults{})
	ctx := context.Background()
	const incidentsN = 14
	for i := range incidentsN {
		for _, kind := range []string{signal.Detected, signal.Recovered} {
			if _, err := e.m.Handle(ctx, sig(kind, 2*i+map[string]int{signal.Detected: 0, signal.Recovered: 1}[kind])); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		}
	}
	items := e.ops.Items()
	if len(items) != incidentsN {
		t.Fatalf("%d OpsItems, want %d", len(items), incidentsN)
	}
	lastItem := items[incidentsN-1]
	var want []string
	for _, it := range items[incidentsN-1-incidents.MaxRelated : incidentsN-1] {
		want = append(want, it.ID)
	}
	if !reflect.DeepEqual(lastItem.RelatedOpsItems, want) {
		t.Errorf("RelatedOpsItems = %v, want the %d before it %v", lastItem.RelatedOpsItems, incidents.MaxRelated, want)
	}
	if got := e.store.History(fp); len(got) != incidentsN {
		t.Errorf("History has %d incidents, want %d", len(got), incidentsN)
	}
}

// TestConcurrentDelivery hands each storm to several workers at once, with
// some deliveries repeated: one OpsItem per fingerprint, every occurrence
// counted once. A storm stays within the 64 ids a record remembers; a
// redelivery later than that is counted again (see Record.Recent).
func TestConcurrentDelivery(t *testing.T) {
	e := newEnv(t, faults{}, incidents.WithAttempts(100))
	const rounds, n, workers = 20, 48, 8
	for round := range rounds {
		fpr := fmt.Sprintf("concurrent:%d", round)
		var wg sync.WaitGroup
		errs := make(chan error, n*2)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					s := sig(signal.Detected, 0)
					s.Fingerprint, s.EventID = fpr, fmt.Sprintf("%s-%d", fpr, i)
					for range 1 + i%2 {
						if _, err := e.m.Handle(context.Background(), s); err != nil {
							errs <- err
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Handle: %v", err)
		}
		rec, err := e.store.Get(context.Background(), fpr)
		if err != nil || rec == nil || rec.Occurrences != n || rec.OpsItemID == "" {
			t.Errorf("round %d: record %+v (%v), want %d occurrences and an OpsItem", round, rec, err, n)
		}
	}
	if items := e.ops.Items(); len(items) != rounds {
		t.Errorf("%d OpsItems, want %d", len(items), rounds)
	}
}

func last(s string, n int) string {
	r := []rune(s)
	return string(r[max(0, len(r)-n):])
}

// TestLateRedelivery: a signal redelivered after the record forgot its id
// must not act on a newer incident; its time gives it away.
func TestLateRedelivery(t *testing.T) {
	e := newEnv(t, faults{})
	ctx := context.Background()
	handle := func(s signal.Signal) incidents.Outcome {
		t.Helper()
		out, err := e.m.Handle(ctx, s)
		if err != nil {
			t.Fatalf("Handle(%s): %v", s.EventID, err)
		}
		return out
	}
	opening, recovery := sig(signal.Detected, 0), sig(signal.Recovered, 1)
	handle(opening)
	handle(recovery)
	for i := range 100 { // a new incident, long enough to push both ids out
		s := sig(signal.Detected, 2)
		s.EventID, s.Time = fmt.Sprintf("later-%d", i), s.Time.Add(time.Duration(i)*time.Second)
		handle(s)
	}
	for _, s := range []signal.Signal{recovery, opening} {
		if out := handle(s); out.Action != incidents.Stale {
			t.Errorf("late Handle(%s) = %s, want %s", s.EventID, out.Action, incidents.Stale)
		}
	}
	if items := e.ops.Items(); len(items) != 2 || items[1].Status != "Open" {
		t.Errorf("OpsItems = %d, the last %s; want 2, the last Open", len(items), items[len(items)-1].Status)
	}
}

func TestDescriptionDecidedBy(t *testing.T) {
	tests := []struct{ reason, want string }{
		{`rule "alarm-in-alarm" matched 20 times within 5m0s (threshold 20)`, `**Decided by:** rule "alarm-in-alarm" matched 20 times`},
		{"matched the pattern", `**Decided by:** rule "alarm-in-alarm": matched the pattern`},
		{"", `**Decided by:** rule "alarm-in-alarm": unknown`},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			e := newEnv(t, faults{})
			if _, err := e.m.Handle(context.Background(), sig(signal.Detected, 0, func(s *signal.Signal) { s.Reason = tt.reason })); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if d := e.ops.Items()[0].Description; !strings.Contains(d, tt.want) {
				t.Errorf("description with reason %q lacks %q:\n%s", tt.reason, tt.want, d)
			}
		})
	}
}

// TestCreatedReportedOnce: the signal whose handling recorded the OpsItem
// says Created, even when the attempt that created it lost its record write
// and the retry found the OpsItem through the dedup string; no other signal
// says so.
func TestCreatedReportedOnce(t *testing.T) {
	e := newEnv(t, faults{put: func(n int) error {
		if n == 2 { // the write of the new OpsItem's id
			return incidents.ErrConflict
		}
		return nil
	}})
	ctx := context.Background()
	first, err := e.m.Handle(ctx, sig(signal.Detected, 0))
	if err != nil {
		t.Fatal(err)
	}
	repeat, err := e.m.Handle(ctx, sig(signal.Detected, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || repeat.Created {
		t.Errorf("Created = %v for the opening signal, %v for the repeat; want true, false", first.Created, repeat.Created)
	}
	if st := e.ops.Stats(); st.Created != 1 {
		t.Errorf("OpsItems created = %d, want 1 (stats %+v)", st.Created, st)
	}
}

// TestRecordsWithoutOwed: records written before Record.Owed was kept still
// say what they owe: an open record without an OpsItem gets it created on
// its next signal, a resolution whose update was owed is made.
func TestRecordsWithoutOwed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, faults{})
	first := sig(signal.Detected, 0)
	old := &incidents.Record{Fingerprint: fp, Status: incidents.StatusOpen, Rule: first.Rule, Title: first.Title,
		Occurrences: 1, FirstSeen: first.Time, LastSeen: first.Time, First: &first, OpsItemSeverity: "2"}
	if err := e.store.Put(ctx, old); err != nil {
		t.Fatal(err)
	}
	out, err := e.m.Handle(ctx, sig(signal.Detected, 1))
	if err != nil || !out.Created {
		t.Fatalf("next signal on an old record without its OpsItem = %+v, %v; want it created", out, err)
	}
	rec := e.record(t)
	if rec.Owed != incidents.CallNone || rec.OpsItemID == "" {
		t.Errorf("record owes %q, OpsItem %q; want nothing owed and the OpsItem kept", rec.Owed, rec.OpsItemID)
	}

	// A resolution whose update an old worker claimed and never made.
	rec.Status, rec.Pending, rec.ResolvedAt = incidents.StatusResolved, "recovered-5", t0.Add(5*time.Minute)
	rec.Owed = incidents.CallNone
	if err := e.store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	out, err = e.m.Handle(ctx, sig(signal.Detected, 9))
	if err != nil || !out.Resolved {
		t.Fatalf("next signal after an owed resolution = %+v, %v; want the resolution made first", out, err)
	}
	for _, it := range e.ops.Items() {
		if it.ID == rec.OpsItemID && it.Status != incidents.StatusOpsItemResolved {
			t.Errorf("OpsItem status = %s, want Resolved", it.Status)
		}
	}
}

// TestRuleRunbooks: the rule's runbooks are offered in /aws/automations
// before the plan's, with their parameters in opsloop:runbooks and in the
// description.
func TestRuleRunbooks(t *testing.T) {
	e := newEnv(t, faults{})
	s := sig(signal.Detected, 0, func(s *signal.Signal) {
		s.Runbooks = []signal.Runbook{{Document: "AWS-StartEC2Instance", Parameters: map[string]string{"InstanceId": "i-0a1b2c3d4e5f60718"}}}
	})
	if _, err := e.m.Handle(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	it := e.ops.Items()[0]
	auto := it.OperationalData["/aws/automations"].Value
	if !strings.Contains(auto, `"automationId":"AWS-StartEC2Instance"`) || strings.Index(auto, "AWS-StartEC2Instance") > strings.Index(auto, "AWS-RestartEC2Instance") {
		t.Errorf("/aws/automations = %s, want the rule's runbook, then the plan's", auto)
	}
	var rbs []signal.Runbook
	if err := json.Unmarshal([]byte(it.OperationalData[incidents.KeyRunbooks].Value), &rbs); err != nil || len(rbs) != 1 || rbs[0].Parameters["InstanceId"] != "i-0a1b2c3d4e5f60718" {
		t.Errorf("%s = %v (%v), want the runbook with its InstanceId", incidents.KeyRunbooks, rbs, err)
	}
	if !strings.Contains(it.Description, "AWS-StartEC2Instance (InstanceId=i-0a1b2c3d4e5f60718); AWS-RestartEC2Instance") {
		t.Errorf("description does not list the runbooks with their parameters:\n%s", it.Description)
	}
}

// TestResponsePlanShown: the severity's owner and steps are in the
// description, the steps in order.
func TestResponsePlanShown(t *testing.T) {
	e := newEnv(t, faults{})
	s := sig(signal.Detected, 0, func(s *signal.Signal) {
		s.Plan.Owner = "payments on-call"
		s.Plan.Steps = []string{"Acknowledge the OpsItem.", "Roll back the **last** deploy."}
	})
	if _, err := e.m.Handle(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	desc := e.ops.Items()[0].Description
	for _, want := range []string{"- **Owner:** payments on-call", "**Response plan:**\n1. Acknowledge the OpsItem.\n2. Roll back the **last** deploy."} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
}

func TestOpsItemInMemberAccount(t *testing.T) {
	ctx := context.Background()
	const member = "111122223333"
	arn := "arn:aws:ssm:us-east-1:" + member + ":opsitem/oi-0000000000aa"
	var created []incidents.OpsItem
	var updated []string
	ops := opsFake{
		create: func(_ context.Context, it incidents.OpsItem) (string, bool, error) {
			created = append(created, it)
			return arn, false, nil
		},
		update: func(_ context.Context, id string, _ incidents.Update) error {
			updated = append(updated, id)
			return nil
		},
	}
	store := memory.NewIncidents()
	m := incidents.New(ops, store, incidents.WithClock(func() time.Time { return t0.Add(time.Hour) }))
	// GIVEN a signal whose rule creates OpsItems in the event's account
	inMember := func(s *signal.Signal) { s.OpsItemAccount, s.Account = member, member }
	// WHEN it opens and then recovers
	for _, s := range []signal.Signal{sig(signal.Detected, 0, inMember), sig(signal.Detected, 1, inMember), sig(signal.Recovered, 5, inMember)} {
		if _, err := m.Handle(ctx, s); err != nil {
			t.Fatalf("Handle(%s): %v", s.EventID, err)
		}
	}
	// THEN the OpsItem is created in that account once, and named by its
	// ARN in every later call and in the record
	if len(created) != 1 || created[0].AccountID != member {
		t.Fatalf("created %+v, want one OpsItem in %s", created, member)
	}
	if len(updated) == 0 || slices.ContainsFunc(updated, func(id string) bool { return id != arn }) {
		t.Errorf("updated %v, want every update by the ARN %s", updated, arn)
	}
	if rec, _ := store.Get(ctx, fp); rec == nil || rec.OpsItemID != arn || rec.Status != incidents.StatusResolved {
		t.Errorf("record = %+v, want the ARN and resolved", rec)
	}
	// AND a signal naming no OpsItem account creates in the deployment's
	created = nil
	other := func(s *signal.Signal) { s.Fingerprint = "other" }
	if _, err := m.Handle(ctx, sig(signal.Detected, 9, other)); err != nil {
		t.Fatal(err)
	}
	if len(created) != 1 || created[0].AccountID != "" {
		t.Errorf("created %+v, want one in the deployment's account", created)
	}
}
