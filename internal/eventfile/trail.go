package eventfile

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/event"
)

// TrailFile is what the S3 layout of CloudTrail log files tells of one
// file, before it is read:
//
//	AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz
type TrailFile struct {
	Org, Account, Region string
	// Day is the file's day directory; Stamp the time in its name, when
	// CloudTrail wrote it (its records are of the minutes before).
	Day, Stamp time.Time
}

var trailPathRE = regexp.MustCompile(`(?:^|/)AWSLogs/(?:(o-[a-z0-9]{10,32})/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/([0-9]{4})/([0-9]{2})/([0-9]{2})/([^/]+)$`)

var trailStampRE = regexp.MustCompile(`_([0-9]{8}T[0-9]{4}Z)_`)

// ParseTrailPath reads a file's path (or S3 key) in the CloudTrail layout;
// ok is false for any other path.
func ParseTrailPath(p string) (f TrailFile, ok bool) {
	m := trailPathRE.FindStringSubmatch(path.Clean(strings.ReplaceAll(p, "\\", "/")))
	if m == nil {
		return f, false
	}
	day, err := time.Parse("2006/01/02", m[4]+"/"+m[5]+"/"+m[6])
	if err != nil {
		return f, false
	}
	f = TrailFile{Org: m[1], Account: m[2], Region: m[3], Day: day, Stamp: day}
	if s := trailStampRE.FindStringSubmatch(m[7]); s != nil {
		if t, err := time.Parse("20060102T1504Z", s[1]); err == nil {
			f.Stamp = t
		}
	}
	return f, true
}

// Filter keeps the events of some accounts and Regions within a time
// span; an empty list or a zero time limits nothing.
type Filter struct {
	Accounts, Regions []string
	// From is inclusive, To exclusive.
	From, To time.Time
}

// SkipFiltered is the Skip of an event the Filter leaves out.
const SkipFiltered = "outside --accounts, --regions, --from and --to"

// IsZero says the filter keeps everything.
func (f Filter) IsZero() bool {
	return len(f.Accounts) == 0 && len(f.Regions) == 0 && f.From.IsZero() && f.To.IsZero()
}

// KeepFile reports whether a file may hold events the filter keeps, by its
// path alone: false only for a file in the CloudTrail layout whose
// account, Region or day the filter excludes.
func (f Filter) KeepFile(p string) bool {
	t, ok := ParseTrailPath(p)
	if !ok {
		return true
	}
	if !f.keeps(t.Account, t.Region) {
		return false
	}
	// A day's directory holds records of that day (UTC), give or take the
	// minutes CloudTrail takes to deliver them.
	const slack = time.Hour
	if !f.From.IsZero() && t.Day.Add(24*time.Hour+slack).Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !t.Day.Add(-slack).Before(f.To) {
		return false
	}
	return true
}

// KeepEvent reports whether the filter keeps ev.
func (f Filter) KeepEvent(ev *event.Event) bool {
	if !f.keeps(ev.Account, ev.Region) {
		return false
	}
	if !f.From.IsZero() && ev.Time.Before(f.From) {
		return false
	}
	return f.To.IsZero() || ev.Time.Before(f.To)
}

func (f Filter) keeps(account, region string) bool {
	return (len(f.Accounts) == 0 || slices.Contains(f.Accounts, account)) &&
		(len(f.Regions) == 0 || slices.Contains(f.Regions, region))
}

// SortTrailFiles orders files in the CloudTrail layout by the time in
// their names, across accounts and Regions, so that a replay of an
// organization's trail goes forward in time (to a file's few minutes);
// the relative order of other files is kept, after them.
func SortTrailFiles(files []string) {
	slices.SortStableFunc(files, func(a, b string) int {
		ta, oka := ParseTrailPath(a)
		tb, okb := ParseTrailPath(b)
		switch {
		case oka && okb:
			if c := ta.Stamp.Compare(tb.Stamp); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
}

// timeOrder passes items on to fn, holding those of trail files written
// at the same minute (one per account and Region of an organization trail)
// until the next minute's file starts, and then emitting them in event
// time order: a replay of an organization trail goes forward in time
// across accounts, not one account's file after another's.
type timeOrder struct {
	fn    func(Item) error
	stamp time.Time // of the files held; zero for none
	held  []Item
}

// file announces the next file read.
func (o *timeOrder) file(name string) error {
	t, ok := ParseTrailPath(name)
	if ok && t.Stamp.Equal(o.stamp) {
		return nil
	}
	if err := o.flush(); err != nil {
		return err
	}
	if ok {
		o.stamp = t.Stamp
	}
	return nil
}

func (o *timeOrder) add(it Item) error {
	if o.stamp.IsZero() {
		return o.fn(it)
	}
	o.held = append(o.held, it)
	return nil
}

// flush emits what is held, events by time (what holds no event first).
func (o *timeOrder) flush() error {
	slices.SortStableFunc(o.held, func(a, b Item) int {
		switch {
		case a.Event == nil && b.Event == nil:
			return 0
		case a.Event == nil:
			return -1
		case b.Event == nil:
			return 1
		}
		return a.Event.Time.Compare(b.Event.Time)
	})
	for _, it := range o.held {
		if err := o.fn(it); err != nil {
			return err
		}
	}
	o.held, o.stamp = o.held[:0], time.Time{}
	return nil
}

// Bucket is an S3 bucket's objects, as the S3 adapter lists and reads
// them.
type Bucket interface {
	// List returns the keys under prefix, in key order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Get returns an object's content.
	Get(ctx context.Context, key string) ([]byte, error)
}

// Options tune ReadWith.
type Options struct {
	Filter Filter
	// Bucket returns the bucket of an s3://bucket/prefix path; nil when
	// such paths are not to be read.
	Bucket func(name string) (Bucket, error)
	// Fetchers bounds the objects fetched at once (default 8).
	Fetchers int
	// Files is called with each file or object about to be read and
	// how many there are of its path.
	Files func(name string, n, of int)
}

// defaultFetchers is how many S3 objects are fetched at once.
const defaultFetchers = 8

// readBucket reads the event files under an s3://bucket/prefix path: the
// keys the filter may keep, in trail time order, fetched opts.Fetchers at
// a time and read in order.
func readBucket(ctx context.Context, p string, opts Options, fn func(Item) error) error {
	order := &timeOrder{fn: fn}
	fn = order.add
	name, prefix, _ := strings.Cut(strings.TrimPrefix(p, "s3://"), "/")
	if opts.Bucket == nil {
		return fmt.Errorf("read events: %s: S3 paths are not read here", p)
	}
	b, err := opts.Bucket(name)
	if err != nil {
		return fmt.Errorf("read events: %s: %w", p, err)
	}
	all, err := b.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("read events: list %s: %w", p, err)
	}
	var keys []string
	for _, k := range all {
		switch {
		case strings.Contains(k, "/CloudTrail-Digest/"):
			// Digest files hold no event: counted, not fetched.
			if err := fn(Item{Pos: "s3://" + name + "/" + k, Skip: SkipDigest}); err != nil {
				return err
			}
		case hasEventExtension(path.Base(k)) && opts.Filter.KeepFile(k):
			keys = append(keys, k)
		}
	}
	SortTrailFiles(keys)
	n := opts.Fetchers
	if n <= 0 {
		n = defaultFetchers
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, which runs first
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		data []byte
		err  error
	}
	results := make([]chan fetched, len(keys))
	for i := range results {
		results[i] = make(chan fetched, 1)
	}
	// Fetch ahead of the reader, n at a time; each result waits in its own
	// channel so the objects are read in order.
	sem := make(chan struct{}, n)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, k := range keys {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				data, err := b.Get(ctx, k)
				results[i] <- fetched{data, err}
			}()
		}
	}()
	for i, k := range keys {
		var r fetched
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		pos := "s3://" + name + "/" + k
		if err := order.file(k); err != nil {
			return err
		}
		if opts.Files != nil {
			opts.Files(pos, i+1, len(keys))
		}
		if r.err != nil {
			if err := fn(Item{Pos: pos, Err: fmt.Errorf("cannot read: %w", r.err)}); err != nil {
				return err
			}
			continue
		}
		if err := readStream(ctx, pos, bytes.NewReader(r.data), fn); err != nil {
			return err
		}
	}
	return order.flush()
}
