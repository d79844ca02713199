package classify_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/changelog"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/rules"
)

// sameAsClassify checks the fast path against the full one on raw: when
// Ignored decides, event.Parse and Classify accept the event and decide the
// same, writing nothing.
func sameAsClassify(t *testing.T, fc fastCheck, raw []byte) bool {
	t.Helper()
	c, st := fc.c, fc.st
	st.calls = 0
	d, source, detailType, ok := c.Ignored(raw)
	if !ok {
		return false
	}
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("Ignored decided %+v on %q, which event.Parse refuses: %v", d, raw, err)
	}
	full, err := c.Classify(context.Background(), ev)
	if err != nil {
		t.Fatalf("Ignored decided %+v on %q, on which Classify fails: %v", d, raw, err)
	}
	if !full.Time.Equal(d.Time) {
		t.Fatalf("on %q: Ignored's time %v, Classify's %v", raw, d.Time, full.Time)
	}
	full.Time = d.Time
	if !reflect.DeepEqual(d, full) || source != ev.Source || detailType != ev.DetailType {
		t.Fatalf("on %q:\n  Ignored  %+v (%s, %s)\n  Classify %+v (%s, %s)", raw, d, source, detailType, full, ev.Source, ev.DetailType)
	}
	if n := st.calls; n != 0 {
		t.Fatalf("on %q: an ignored event wrote %d items", raw, n)
	}
	return true
}

// fastCheck is a classifier of the default rules whose state counts calls.
type fastCheck struct {
	c  *classify.Classifier
	st *countingState
}

func newFastCheck(tb testing.TB) fastCheck {
	st := &countingState{State: memory.New()}
	return fastCheck{c: classify.New(defaultSet(tb), st), st: st}
}

// countingState counts the calls Classify makes to its state.
type countingState struct {
	classify.State
	calls int
}

func (s *countingState) Count(ctx context.Context, key string, t time.Time, w time.Duration, id string) (int, bool, error) {
	s.calls++
	return s.State.Count(ctx, key, t, w, id)
}

func (s *countingState) RecordChange(ctx context.Context, c changelog.Change) error {
	s.calls++
	return s.State.RecordChange(ctx, c)
}

func defaultSet(tb testing.TB) *rules.Set {
	tb.Helper()
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func TestIgnoredAgreesWithClassify(t *testing.T) {
	fc := newFastCheck(t)
	fast := 0
	raws := cloudTrailRaw(t, 2000)
	for _, raw := range raws {
		if sameAsClassify(t, fc, raw) {
			fast++
		}
	}
	// Most of a trail is read-only calls the default rules ignore.
	if fast < len(raws)/2 {
		t.Errorf("the fast path decided %d of %d generated CloudTrail events, want most", fast, len(raws))
	}
	files, _ := filepath.Glob("../../events-samples/*/*.json")
	samples := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if sameAsClassify(t, fc, raw) {
			samples++
		}
	}
	t.Logf("fast path: %d of %d generated events, %d of %d samples", fast, len(raws), samples, len(files))
	// What the full path refuses or decides otherwise is never decided fast.
	for _, raw := range []string{
		`{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","resources":[],"detail":{"eventName":"GetObject","readOnly":true}}`,
		`{"version":"0","id":"1","id":"2","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","detail":{}}`,
		`{"version":0,"id":"1","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","detail":{}}`,
		`{"id":"1","detail-type":"d","source":"aws.s3","account":"1","time":"yesterday","region":"x","detail":{}}`,
		`{"id":"1","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","resources":[{}],"detail":{}}`,
		`{"id":"1","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","resources":"r","detail":{}}`,
		`{"id":"1","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","detail":[]}`,
		`{"id":" ","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","detail":{}}`,
		`{"id":"1","detail-type":"d","source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z","region":"x","detail":{"x":[1,]}}`,
		"{\"id\":\"1\",\"detail-type\":\"d\",\"source\":\"aws.s3\",\"account\":\"1\",\"time\":\"2026-01-01T00:00:00Z\",\"region\":\"x\",\"detail\":{\"x\":\"\xff\"}}",
	} {
		sameAsClassify(t, fc, []byte(raw))
	}
}

func FuzzIgnored(f *testing.F) {
	for _, raw := range cloudTrailRaw(f, 20) {
		f.Add(raw)
	}
	files, _ := filepath.Glob("../../events-samples/*/*.json")
	for _, file := range files {
		if raw, err := os.ReadFile(file); err == nil {
			f.Add(raw)
		}
	}
	fc := newFastCheck(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsClassify(t, fc, raw)
	})
}
