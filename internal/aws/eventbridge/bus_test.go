package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/eventbridge"
)

var fast = eventbridge.Options{MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

const busName = "opsloop"

func setup(t *testing.T, opts eventbridge.Options) (*eventbridge.Publisher, *awstest.Events) {
	t.Helper()
	srv := awstest.NewEvents()
	t.Cleanup(srv.Close)
	return eventbridge.New(srv.Client(), busName, opts), srv
}

func events(n int, detailSize int) []eventbridge.Event {
	var out []eventbridge.Event
	for i := range n {
		pad := strings.Repeat("x", max(detailSize-40, 0))
		out = append(out, eventbridge.Event{
			Source: "opsloop", DetailType: "Incident Detected",
			Detail:    fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i, pad),
			Resources: []string{fmt.Sprintf("arn:aws:ec2:us-east-1:123456789012:instance/i-%d", i)},
			Time:      time.Date(2026, 3, 1, 12, 0, i%60, 0, time.UTC),
		})
	}
	return out
}

// published returns the n fields of the accepted events' details.
func published(t *testing.T, srv *awstest.Events) []int {
	t.Helper()
	var out []int
	for _, e := range srv.Events() {
		var d struct{ N int }
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatalf("published detail %s: %v", e.Detail, err)
		}
		out = append(out, d.N)
	}
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestBatches(t *testing.T) {
	tests := []struct {
		name      string
		n, size   int
		wantCalls int
	}{
		{"one", 1, 100, 1},
		{"ten fit one call", 10, 100, 1},
		{"entry count splits", 25, 100, 3},
		{"size splits", 5, 400 << 10, 3}, // two 400 KB entries per 1 MB call
		{"near the limit", 3, 1<<20 - 200, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, srv := setup(t, fast)
			evs := events(tt.n, tt.size)
			if err := p.Publish(context.Background(), evs...); err != nil {
				t.Fatalf("Publish(%d events of %d bytes) = %v", tt.n, tt.size, err)
			}
			if got := srv.Calls("PutEvents"); got != tt.wantCalls {
				t.Errorf("PutEvents calls = %d, want %d", got, tt.wantCalls)
			}
			if got := published(t, srv); !slices.Equal(got, seq(tt.n)) {
				t.Errorf("published %v, want %v", got, seq(tt.n))
			}
			for i, e := range srv.Events() {
				want := evs[i]
				if e.Bus != busName || e.Source != want.Source || e.DetailType != want.DetailType ||
					!slices.Equal(e.Resources, want.Resources) || !e.Time.Equal(want.Time) {
					t.Errorf("event %d = %s %s %s %v %v, want %s %s %s %v %v", i, e.Bus, e.Source, e.DetailType, e.Resources, e.Time,
						busName, want.Source, want.DetailType, want.Resources, want.Time)
				}
			}
		})
	}
}

func TestPartialFailuresRetried(t *testing.T) {
	p, srv := setup(t, fast)
	// Entries 1 and 3 of the first call fail, and entry 3 once more.
	srv.ScriptEntries("", "ThrottlingException", "", "InternalFailure", "", "", "InternalFailure")
	if err := p.Publish(context.Background(), events(5, 100)...); err != nil {
		t.Fatalf("Publish with partial failures = %v", err)
	}
	got := published(t, srv)
	slices.Sort(got)
	if !slices.Equal(got, seq(5)) {
		t.Errorf("published %v, want each of %v once", got, seq(5))
	}
	if calls := srv.Calls("PutEvents"); calls != 3 {
		t.Errorf("PutEvents calls = %d, want 3 (all, the 2 failed, the 1 failed again)", calls)
	}
}

func TestFailuresReported(t *testing.T) {
	ctx := context.Background()
	t.Run("retryable until attempts run out", func(t *testing.T) {
		p, srv := setup(t, fast)
		srv.FailEntries(1, 1, "ThrottlingException")
		err := p.Publish(ctx, events(3, 100)...)
		var perr *eventbridge.Error
		if !errors.As(err, &perr) || len(perr.Failures) != 3 || !perr.Retryable() {
			t.Fatalf("Publish under constant throttling = %v, want a retryable *eventbridge.Error naming 3 events", err)
		}
		if calls := srv.Calls("PutEvents"); calls != fast.MaxAttempts {
			t.Errorf("PutEvents calls = %d, want %d", calls, fast.MaxAttempts)
		}
		for i, f := range perr.Failures {
			if f.Index != i || f.Code != "ThrottlingException" {
				t.Errorf("failure %d = %+v, want index %d ThrottlingException", i, f, i)
			}
		}
	})
	t.Run("permanent failures not retried", func(t *testing.T) {
		p, srv := setup(t, fast)
		evs := events(4, 100)
		evs[1].Source = "aws.ec2"
		evs[2].Detail = []byte(`not json`)
		err := p.Publish(ctx, evs...)
		var perr *eventbridge.Error
		if !errors.As(err, &perr) || perr.Retryable() {
			t.Fatalf("Publish(invalid entries) = %v, want a permanent *eventbridge.Error", err)
		}
		var codes []string
		for _, f := range perr.Failures {
			codes = append(codes, fmt.Sprintf("%d:%s", f.Index, f.Code))
		}
		if want := []string{"1:NotAuthorizedForSourceException", "2:MalformedDetail"}; !slices.Equal(codes, want) {
			t.Errorf("failures = %v, want %v", codes, want)
		}
		if !strings.Contains(err.Error(), "#1 aws.ec2/Incident Detected") {
			t.Errorf("error %q does not name the failed event", err)
		}
		if calls := srv.Calls("PutEvents"); calls != 1 {
			t.Errorf("PutEvents calls = %d, want 1", calls)
		}
		if got := published(t, srv); !slices.Equal(got, []int{0, 3}) {
			t.Errorf("published %v, want [0 3]", got)
		}
	})
	t.Run("entry too large for any call", func(t *testing.T) {
		p, srv := setup(t, fast)
		evs := events(3, 100)
		evs[1].Detail = fmt.Appendf(nil, `{"n":1,"pad":%q}`, strings.Repeat("x", eventbridge.MaxRequestSize))
		err := p.Publish(ctx, evs...)
		var perr *eventbridge.Error
		if !errors.As(err, &perr) || len(perr.Failures) != 1 || perr.Failures[0].Index != 1 || perr.Failures[0].Code != eventbridge.CodeTooLarge {
			t.Fatalf("Publish(too large) = %v, want only event 1 failed as %s", err, eventbridge.CodeTooLarge)
		}
		if got := published(t, srv); !slices.Equal(got, []int{0, 2}) {
			t.Errorf("published %v, want [0 2]", got)
		}
	})
}

func TestRequestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("retried by the SDK", func(t *testing.T) {
		p, srv := setup(t, fast)
		srv.Faults.Script("PutEvents", awstest.Throttling, awstest.HTTP500, awstest.InternalException)
		if err := p.Publish(ctx, events(12, 100)...); err != nil {
			t.Fatalf("Publish with request faults = %v", err)
		}
		if calls := srv.Calls("PutEvents"); calls != 5 {
			t.Errorf("PutEvents calls = %d, want 5 (3 faults, 2 calls)", calls)
		}
		if got := published(t, srv); !slices.Equal(got, seq(12)) {
			t.Errorf("published %v, want %v", got, seq(12))
		}
	})
	t.Run("beyond attempts", func(t *testing.T) {
		p, srv := setup(t, fast)
		faults := slices.Repeat([]awstest.Fault{awstest.HTTP503}, fast.MaxAttempts)
		srv.Faults.Script("PutEvents", faults...)
		err := p.Publish(ctx, events(12, 100)...)
		var perr *eventbridge.Error
		if !errors.As(err, &perr) || perr.Err == nil || len(perr.Failures) != 12 || !perr.Retryable() {
			t.Fatalf("Publish(12) with the first call failing = %v, want a retryable *eventbridge.Error naming 12 events", err)
		}
	})
}

func TestRandomFaults(t *testing.T) {
	p, srv := setup(t, eventbridge.Options{MaxAttempts: 12, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	srv.FailEntries(0.3, 9, "InternalFailure")
	srv.Faults.SetRate(0.2, 5, []awstest.Fault{awstest.Throttling, awstest.HTTP503, awstest.InternalException})
	const n = 100
	if err := p.Publish(context.Background(), events(n, 200)...); err != nil {
		t.Fatalf("Publish(%d) under faults = %v", n, err)
	}
	got := published(t, srv)
	slices.Sort(got)
	if !slices.Equal(got, seq(n)) {
		t.Errorf("published %d events, want each of %d exactly once", len(got), n)
	}
	t.Logf("%d events took %d PutEvents calls", n, srv.Calls("PutEvents"))
}
