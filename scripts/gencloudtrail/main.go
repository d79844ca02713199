// Command gencloudtrail writes synthetic CloudTrail log files (gzipped JSON
// with a Records array, as CloudTrail delivers them to S3) for replay
// benchmarks: go run ./scripts/gencloudtrail -out /tmp/trail -records 1000000
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opsloop/opsloop/internal/trailgen"
)

func main() {
	out := flag.String("out", "trail", "directory to write the log files into")
	records := flag.Int("records", 100000, "total number of records")
	perFile := flag.Int("per-file", 10000, "records per log file")
	seed := flag.Uint64("seed", 1, "random seed; the same seed writes the same files")
	flag.Parse()
	if err := write(*out, *records, *perFile, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gencloudtrail:", err)
		os.Exit(1)
	}
}

func write(dir string, records, perFile int, seed uint64) error {
	if perFile < 1 {
		return fmt.Errorf("per-file must be positive")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	g := trailgen.New(seed, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	for n, file := 0, 0; n < records; file++ {
		name := filepath.Join(dir, fmt.Sprintf("123456789012_CloudTrail_us-east-1_20261001T0000Z_%06d.json.gz", file))
		count := min(perFile, records-n)
		if err := writeFile(name, g, count); err != nil {
			return err
		}
		n += count
	}
	return nil
}

func writeFile(name string, g *trailgen.Generator, count int) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	zw := gzip.NewWriter(f)
	enc := json.NewEncoder(zw)
	recs := make([]map[string]any, count)
	for i := range recs {
		recs[i] = g.Record()
	}
	if err := enc.Encode(map[string]any{"Records": recs}); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
