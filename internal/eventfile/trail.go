package eventfile

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/lazyregexp"
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

var trailPathRE = lazyregexp.New(`(?:^|/)AWSLogs/(?:(o-[a-z0-9]{10,32})/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/([0-9]{4})/([0-9]{2})/([0-9]{2})/([^/]+)$`)

var trailStampRE = lazyregexp.New(`_([0-9]{8}T[0-9]{4}Z)_`)

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
	// Workers bounds the files read (fetched, decompressed, converted and
	// parsed) at once, ahead of fn, which still sees every item in order
	// (default: GOMAXPROCS, and 8 at least for S3).
	Workers int
	// Files is called with each file or object about to be handed to fn
	// and how many there are of its path.
	Files func(name string, n, of int)
}

// readBucket reads the event files under an s3://bucket/prefix path: the
// keys the filter may keep, in trail time order.
func readBucket(ctx context.Context, p string, opts Options, fn func(Item) error) error {
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
	if opts.Workers <= 0 {
		// Fetching waits on the network more than on the processor.
		opts.Workers = max(runtime.GOMAXPROCS(0), minFetchers)
	}
	return readFiles(ctx, keys, opts, func(ctx context.Context, k string, emit func(Item) error) error {
		pos := "s3://" + name + "/" + k
		data, err := b.Get(ctx, k)
		if err != nil {
			return emit(Item{Pos: pos, Err: fmt.Errorf("cannot read: %w", err)})
		}
		return readStream(ctx, pos, bytes.NewReader(data), emit)
	}, fn)
}

// minFetchers is how many S3 objects are fetched at once at least.
const minFetchers = 8

// readAhead is how many items of a file wait for fn while its worker
// goes on: the memory a worker may hold, with its file's buffers.
const readAhead = 256

// readFiles reads names, opts.Workers at once, each with read, and hands
// their items to fn in names' order, as one reader would: files in the
// CloudTrail layout in trail time order (timeOrder), opts.Files told of
// each. An error of read or fn stops the reading.
func readFiles(ctx context.Context, names []string, opts Options, read func(ctx context.Context, name string, emit func(Item) error) error, fn func(Item) error) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the Wait: workers blocked on a send give up
	type file struct {
		items chan Item
		err   error // read's, set before items is closed
	}
	files := make([]*file, len(names))
	for i := range files {
		files[i] = &file{items: make(chan Item, readAhead)}
	}
	// A file's worker starts once the file workers places ahead of it is
	// done being consumed, so at most workers files are read at once.
	slots := make(chan struct{}, workers)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, name := range names {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			f := files[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.err = read(ctx, name, func(it Item) error {
					select {
					case f.items <- it:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
				close(f.items)
			}()
		}
	}()
	order := &timeOrder{fn: fn}
	for i, name := range names {
		if err := order.file(name); err != nil {
			return err
		}
		if opts.Files != nil {
			opts.Files(name, i+1, len(names))
		}
		f := files[i]
		for it := range f.items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := order.add(it); err != nil {
				return err
			}
		}
		<-slots
		if f.err != nil {
			return f.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return order.flush()
}
