package eventfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/trailgen"
)

func TestParseTrailPath(t *testing.T) {
	f, ok := eventfile.ParseTrailPath("trail-bucket/AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/eu-west-1/2026/03/04/111122223333_CloudTrail_eu-west-1_20260304T1615Z_AbCdEf.json.gz")
	if !ok || f.Org != "o-a1b2c3d4e5" || f.Account != "111122223333" || f.Region != "eu-west-1" ||
		!f.Day.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) || !f.Stamp.Equal(time.Date(2026, 3, 4, 16, 15, 0, 0, time.UTC)) {
		t.Errorf("ParseTrailPath = %+v, %v", f, ok)
	}
	if f, ok := eventfile.ParseTrailPath("AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/04/x.json.gz"); !ok || f.Org != "" || !f.Stamp.Equal(f.Day) {
		t.Errorf("an account trail without a stamp: %+v, %v", f, ok)
	}
	for _, p := range []string{"events-samples/s3/create-bucket.json", "AWSLogs/1111/CloudTrail/us-east-1/2026/03/04/x.json", "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/04/x.json.gz"} {
		if _, ok := eventfile.ParseTrailPath(p); ok {
			t.Errorf("ParseTrailPath(%s) took it for a trail file", p)
		}
	}
}

// orgTrail writes an organization trail's layout under dir: two accounts,
// two Regions, two days, one file of two records each.
func orgTrail(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := trailgen.WriteOrgTrail(dir, []string{"111122223333", "444455556666"}, []string{"us-east-1", "eu-west-1"},
		[]time.Time{time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// readTrail reads paths with opts and returns the events' ids in order and
// the skipped count.
func readTrail(t *testing.T, paths []string, opts eventfile.Options) (ids []string, skipped int) {
	t.Helper()
	err := eventfile.ReadWith(context.Background(), paths, opts, func(it eventfile.Item) error {
		switch {
		case it.Err != nil:
			t.Errorf("%s: %v", it.Pos, it.Err)
		case it.Skip != "":
			skipped++
		default:
			ids = append(ids, it.Event.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, skipped
}

// TestReadOrgTrail: an organization trail is read in time order across
// accounts and Regions, and the filter leaves out accounts, Regions and
// days: whole files by their paths, single events by their content.
func TestReadOrgTrail(t *testing.T) {
	dir := t.TempDir()
	orgTrail(t, dir)
	ids, _ := readTrail(t, []string{dir}, eventfile.Options{})
	if len(ids) != 16 {
		t.Fatalf("read %d events, want 16", len(ids))
	}
	var times []time.Time
	err := eventfile.Read(context.Background(), []string{dir}, func(it eventfile.Item) error {
		times = append(times, it.Event.Time)
		return nil
	})
	if err != nil || !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Errorf("events out of time order across accounts: %v, %v", times, err)
	}
	tests := []struct {
		name    string
		filter  eventfile.Filter
		want    int
		skipped int
	}{
		{"one account", eventfile.Filter{Accounts: []string{"444455556666"}}, 8, 0},
		{"one region", eventfile.Filter{Regions: []string{"eu-west-1"}}, 8, 0},
		// The day before's files are read (a day's directory may hold the
		// first minutes of the next), their events skipped.
		{"one day", eventfile.Filter{From: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)}, 8, 8},
		// The second record of the 10:00 files, by its time: the next
		// day's files are not read, the rest of the day's skipped.
		{"half hours", eventfile.Filter{From: time.Date(2026, 3, 3, 10, 15, 0, 0, time.UTC), To: time.Date(2026, 3, 3, 10, 45, 0, 0, time.UTC)}, 2, 6},
	}
	for _, tt := range tests {
		ids, skipped := readTrail(t, []string{dir}, eventfile.Options{Filter: tt.filter})
		if len(ids) != tt.want || skipped != tt.skipped {
			t.Errorf("%s: %d events, %d skipped; want %d, %d", tt.name, len(ids), skipped, tt.want, tt.skipped)
		}
	}
}

// memBucket is an in-memory bucket that counts concurrent fetches.
type memBucket struct {
	objects      map[string][]byte
	mu           sync.Mutex
	active, peak int
}

func (b *memBucket) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	for k := range b.objects {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (b *memBucket) Get(_ context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	b.active++
	b.peak = max(b.peak, b.active)
	b.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	b.mu.Lock()
	b.active--
	b.mu.Unlock()
	return b.objects[key], nil
}

// TestReadBucket: objects of an s3:// path are fetched several at once and
// read in time order, the filter pruning keys before any fetch.
func TestReadBucket(t *testing.T) {
	dir := t.TempDir()
	b := &memBucket{objects: map[string][]byte{}}
	for _, rel := range orgTrail(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		b.objects["org/"+filepath.ToSlash(rel)] = data
	}
	b.objects["org/AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail-Digest/us-east-1/2026/03/03/x.json.gz"] = []byte("never fetched")
	opts := eventfile.Options{Bucket: func(name string) (eventfile.Bucket, error) {
		if name != "trails" {
			return nil, fmt.Errorf("no bucket %s", name)
		}
		return b, nil
	}, Workers: 4}
	local, _ := readTrail(t, []string{dir}, eventfile.Options{})
	remote, skipped := readTrail(t, []string{"s3://trails/org/"}, opts)
	if !slices.Equal(local, remote) || skipped != 1 {
		t.Errorf("from S3 (%d skipped):\n%v\nwant the local order and the digest skipped:\n%v", skipped, remote, local)
	}
	if b.peak < 2 || b.peak > 4 {
		t.Errorf("at most %d fetches at once, want 2 to 4", b.peak)
	}
	opts.Filter = eventfile.Filter{Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"}}
	if ids, _ := readTrail(t, []string{"s3://trails/org/"}, opts); len(ids) != 4 {
		t.Errorf("filtered: %d events, want 4", len(ids))
	}
}
