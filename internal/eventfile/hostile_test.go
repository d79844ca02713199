package eventfile_test

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/opsloop/opsloop/internal/eventfile"
)

// TestHostileFiles: files built to exhaust the reader are refused or cut
// while streaming, and never stop the other inputs.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	// One 64 MB CloudTrail record, 64 KB gzipped.
	huge := filepath.Join(dir, "huge.json.gz")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	io.WriteString(gz, `{"Records":[{"eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","x":"`)
	chunk := strings.Repeat("a", 1<<20)
	for range 64 {
		io.WriteString(gz, chunk)
	}
	io.WriteString(gz, `"}]}`)
	gz.Close()
	f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var items []eventfile.Item
	err = eventfile.Read(context.Background(), []string{huge}, func(it eventfile.Item) error { items = append(items, it); return nil })
	runtime.ReadMemStats(&after)
	if err != nil || len(items) != 1 || items[0].Err == nil || !strings.Contains(items[0].Err.Error(), "over") {
		t.Fatalf("Read(huge record) = %v, %+v; want one item refused as too large", err, items)
	}
	used := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 64 MB record (64 KB gzipped): %.1f MB allocated", float64(used)/(1<<20))
	// Buffers grow by doubling up to the cut: a few times MaxItem, never
	// the record's 64 MB.
	if used > 6*eventfile.MaxItem {
		t.Errorf("reading a 64 MB record took %d MB, want it cut at %d MB", used>>20, eventfile.MaxItem>>20)
	}

	// A dangling link is one invalid item; the file after it is still read.
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"id":"1"}`), 0o600)
	dangling := filepath.Join(dir, "gone.json")
	if err := os.Symlink(filepath.Join(dir, "missing.json"), dangling); err != nil {
		t.Skip("no symlinks here")
	}
	items = nil
	err = eventfile.Read(context.Background(), []string{dangling, good}, func(it eventfile.Item) error { items = append(items, it); return nil })
	if err != nil || len(items) != 2 || items[0].Err == nil || items[1].Err != nil {
		t.Errorf("Read(dangling link, good) = %v, %+v; want the link invalid and the file read", err, items)
	}

	// Devices and FIFOs are refused by name, before reading.
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err == nil {
		if err := eventfile.Read(context.Background(), []string{fifo}, func(eventfile.Item) error { return nil }); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Read(FIFO) = %v, want it refused as not a regular file", err)
		}
	}
	if err := eventfile.Read(context.Background(), []string{"/dev/zero"}, func(eventfile.Item) error { return nil }); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read(/dev/zero) = %v, want it refused as not a regular file", err)
	}
}
