package eventfile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/eventfile"
)

// TestReadParsedEvents checks that events and CloudTrail records come with
// their event parsed, equal to parsing Raw, and bad ones without.
func TestReadParsedEvents(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"Records":[` +
		`{"eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","eventID":"e-1","recipientAccountId":"123456789012"},` +
		`{"eventSource":"ec2.amazonaws.com","awsRegion":"eu-west-1","eventID":"no-time","recipientAccountId":"123456789012"},` +
		`{"eventTime":"2026-03-01T10:00:01Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","eventID":"e-2","recipientAccountId":"123456789012"}]}`))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "trail.json.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	single := `{"version":"0","id":"s-1","detail-type":"d","source":"s","account":"1","time":"2026-03-01T10:00:00Z","region":"r","resources":[],"detail":{}}`
	if err := os.WriteFile(filepath.Join(dir, "single.json"), []byte(single), 0o644); err != nil {
		t.Fatal(err)
	}
	var items []eventfile.Item
	err := eventfile.Read(context.Background(), []string{dir}, func(it eventfile.Item) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantParsed := map[string]bool{"trail.json.gz#Records[0]": true, "trail.json.gz#Records[1]": false, "trail.json.gz#Records[2]": true, "single.json": true}
	if len(items) != len(wantParsed) {
		t.Fatalf("Read gave %d items, want %d", len(items), len(wantParsed))
	}
	for _, it := range items {
		pos := filepath.Base(it.Pos)
		want, ok := wantParsed[pos]
		if !ok {
			t.Errorf("unexpected item %s", it.Pos)
			continue
		}
		if (it.Event != nil) != want {
			t.Errorf("item %s: Event set = %v, want %v", pos, it.Event != nil, want)
		}
		if it.Event == nil {
			continue
		}
		if !bytes.Equal(it.Event.Raw, it.Raw) {
			t.Errorf("item %s: Event.Raw differs from Raw", pos)
		}
		parsed, err := event.Parse(it.Raw)
		if err != nil {
			t.Fatalf("Parse(item %s) = %v", pos, err)
		}
		if parsed.ID != it.Event.ID || parsed.Source != it.Event.Source || !parsed.Time.Equal(it.Event.Time) ||
			!bytes.Equal(parsed.Detail, it.Event.Detail) {
			t.Errorf("item %s: Event %+v, want Parse(Raw) %+v", pos, it.Event, parsed)
		}
	}
}
