package replay_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/local/replay"
	"github.com/opsloop/opsloop/internal/rules"
)

// trailEnv names a directory of CloudTrail log files (*.json.gz) for
// BenchmarkReplayTrail, such as scripts/gencloudtrail writes; without it
// the benchmark writes 20,000 records of its own.
const trailEnv = "OPSLOOP_BENCH_TRAIL"

// BenchmarkReplayTrail replays a directory of CloudTrail log files and, in
// the same run, only decompresses and decodes them into records: the floor
// no replay of those files can beat. Both report records per second.
// scripts/bench.sh runs it on one million generated records.
func BenchmarkReplayTrail(b *testing.B) {
	dir := os.Getenv(trailEnv)
	if dir == "" {
		dir = b.TempDir()
		writeTrail(b, dir, 4, 5000)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no *.json.gz files in %s (%v)", dir, err)
	}
	records := 0
	// The floor of issue "Speed": every record decoded into a map.
	b.Run("decode-floor", func(b *testing.B) {
		for range b.N {
			records = decodeTrail[map[string]any](b, paths)
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	})
	// A stricter one: every record only checked and kept as bytes.
	b.Run("decode-raw-floor", func(b *testing.B) {
		for range b.N {
			records = decodeTrail[json.RawMessage](b, paths)
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	})
	set := defaults(b)
	for _, workers := range []int{1, 0} { // one reader, then GOMAXPROCS
		name := "replay"
		if workers == 1 {
			name = "replay-1-reader"
		}
		b.Run(name, func(b *testing.B) {
			benchReplay(b, set, dir, workers, &records)
		})
	}
}

// benchReplay replays dir b.N times with workers reading, checking the
// records all arrive, and reports records per second.
func benchReplay(b *testing.B, set *rules.Set, dir string, workers int, records *int) {
	for range b.N {
		rep, err := replay.RunWith(context.Background(), set, []string{dir}, nil, eventfile.Options{Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		if *records > 0 && rep.Events+rep.Invalid.Count != *records {
			b.Fatalf("replay read %d events and %d invalid, want %d records", rep.Events, rep.Invalid.Count, *records)
		}
		*records = rep.Events + rep.Invalid.Count
	}
	b.ReportMetric(float64(b.N**records)/b.Elapsed().Seconds(), "records/s")
}

// decodeTrail decompresses and decodes each file's Records, each record
// into a Record, and returns how many there were.
func decodeTrail[Record any](b *testing.B, paths []string) int {
	n := 0
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		var doc struct{ Records []Record }
		if err := json.NewDecoder(zr).Decode(&doc); err != nil {
			b.Fatal(err)
		}
		n += len(doc.Records)
		f.Close()
	}
	return n
}
