package replay_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"github.com/opsloop/opsloop/internal/eventfile"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/local/replay"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/trailgen"
)

// writeTrail writes files CloudTrail log files of per records each.
func writeTrail(tb testing.TB, dir string, files, per int) {
	tb.Helper()
	g := trailgen.New(3, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	for f := range files {
		recs := make([]map[string]any, per)
		for i := range recs {
			recs[i] = g.Record()
		}
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("trail-%03d.json.gz", f)))
		if err != nil {
			tb.Fatal(err)
		}
		zw := gzip.NewWriter(out)
		if err := json.NewEncoder(zw).Encode(map[string]any{"Records": recs}); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		if err := out.Close(); err != nil {
			tb.Fatal(err)
		}
	}
}

func defaults(tb testing.TB) *rules.Set {
	set, err := rules.LoadFS(opsloop.DefaultRules)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func TestReplayCloudTrailFiles(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 2, 500)
	rep, err := replay.Run(context.Background(), defaults(t), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 1000 || rep.Invalid.Count != 0 {
		t.Fatalf("replay read %d events, %d invalid; want 1000, 0", rep.Events, rep.Invalid.Count)
	}
	total := 0
	for _, a := range classify.Actions {
		total += rep.Decisions[a]
	}
	if total != 1000 {
		t.Errorf("decisions add up to %d, want 1000", total)
	}
	if rep.Decisions[classify.Ignore] == 0 || rep.Decisions[classify.Record] == 0 || rep.Rules["api-read"].Matched == 0 {
		t.Errorf("decisions %v: want reads ignored and writes recorded", rep.Decisions)
	}
}

func TestReplayTwiceCountsDuplicates(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 1, 100)
	rep, err := replay.Run(context.Background(), defaults(t), []string{dir, dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 200 || rep.Duplicates != 100 {
		t.Errorf("replaying one file twice: %d events, %d duplicates; want 200, 100", rep.Events, rep.Duplicates)
	}
}

// BenchmarkReplay compares a replay of CloudTrail log files with the floor:
// only decompressing and decoding the same files.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	const files, per = 4, 5000
	writeTrail(b, dir, files, per)
	set := defaults(b)
	b.Run("replay", func(b *testing.B) {
		for range b.N {
			rep, err := replay.Run(context.Background(), set, []string{dir}, nil)
			if err != nil || rep.Events != files*per {
				b.Fatal(err, rep.Events)
			}
		}
		b.ReportMetric(float64(b.N*files*per)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("decode-floor", func(b *testing.B) {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
		for range b.N {
			for _, p := range paths {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				zr, err := gzip.NewReader(f)
				if err != nil {
					b.Fatal(err)
				}
				var doc struct{ Records []json.RawMessage }
				if err := json.NewDecoder(zr).Decode(&doc); err != nil || len(doc.Records) != per {
					b.Fatal(err)
				}
				f.Close()
			}
		}
		b.ReportMetric(float64(b.N*files*per)/b.Elapsed().Seconds(), "events/s")
	})
}

// TestParallelReadingSameReport: reading, decompressing and parsing files
// on several workers changes nothing of the report: it equals the report
// of one reader, on the samples and on a generated trail of many files.
func TestParallelReadingSameReport(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 12, 300)
	set := defaults(t)
	for _, paths := range [][]string{{"../../../events-samples"}, {dir}} {
		var reports []string
		for _, workers := range []int{1, 4} {
			rep, err := replay.RunWith(context.Background(), set, paths, nil, eventfile.Options{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			reports = append(reports, string(data))
		}
		if reports[0] != reports[1] {
			t.Errorf("%v: the report of 4 workers differs from one reader's", paths)
		}
	}
}
