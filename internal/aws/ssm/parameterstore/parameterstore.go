// Package parameterstore loads the operator's rules files from SSM Parameter
// Store: every parameter under a path is one file. It returns names and
// bytes only; the caller parses and validates them, so a bad file never
// replaces good rules.
package parameterstore

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// API is the part of the SSM client the package uses.
type API interface {
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// File is one parameter: a rules file.
type File struct {
	// Name is the parameter's full name, e.g. /opsloop/rules/alarms.
	Name    string
	Data    []byte
	Version int64
}

// Options tune a Loader; zero values take the defaults.
type Options struct {
	// TTL is how long loaded files are used before they are loaded again
	// (default 5m).
	TTL time.Duration
	// RetryAfter is how long a failed reload waits before the next try, the
	// last good files being used meanwhile (default 30s, at most TTL).
	RetryAfter time.Duration
	// MaxAttempts and MaxBackoff bound the SDK's retries of throttling and
	// 5xx within one reload (defaults 5 and 5s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Loader loads the files under a path, caches them for a TTL and keeps the
// last good files when a reload fails. It is safe for concurrent use.
type Loader struct {
	api     API
	path    string
	opts    Options
	retryer aws.Retryer

	mu       sync.Mutex
	files    []File
	loaded   bool
	loadedAt time.Time
	fresh    time.Time // files are used without reloading until then
	lastErr  error
}

// NewLoader returns a Loader of the parameters under path.
func NewLoader(api API, path string, opts Options) *Loader {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 30 * time.Second
	}
	opts.RetryAfter = min(opts.RetryAfter, opts.TTL)
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts, o.MaxBackoff = opts.MaxAttempts, opts.MaxBackoff
	})
	return &Loader{api: api, path: path, opts: opts, retryer: r}
}

// Load returns the files, reloading them once the TTL has passed; changed
// reports whether they differ from those the previous Load returned. When
// a reload fails, Load returns the last good files with the error, for
// logging and metrics, and tries again after RetryAfter; before any load
// has succeeded it returns no files and the error on every call.
func (l *Loader) Load(ctx context.Context) (files []File, changed bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	if l.loaded && now.Before(l.fresh) {
		return l.files, false, nil
	}
	got, err := Fetch(ctx, l.api, l.path, func(o *ssm.Options) { o.Retryer = l.retryer })
	if err != nil {
		l.lastErr = err
		if !l.loaded {
			return nil, false, err
		}
		l.fresh = now.Add(l.opts.RetryAfter)
		return l.files, false, fmt.Errorf("reload, keeping the files loaded at %s: %w", l.loadedAt.UTC().Format(time.RFC3339), err)
	}
	changed = !l.loaded || !equal(l.files, got)
	l.files, l.loaded, l.loadedAt, l.lastErr = got, true, now, nil
	l.fresh = now.Add(l.opts.TTL)
	return got, changed, nil
}

// Err is the error of the last reload, nil when it succeeded.
func (l *Loader) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}

// Fetch reads every parameter under path, recursively and decrypted,
// following every page, sorted by name.
func Fetch(ctx context.Context, api API, path string, optFns ...func(*ssm.Options)) ([]File, error) {
	in := &ssm.GetParametersByPathInput{
		Path: aws.String(path), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true),
	}
	var files []File
	pages := ssm.NewGetParametersByPathPaginator(api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, optFns...)
		if err != nil {
			return nil, fmt.Errorf("load parameters under %s: %w", path, err)
		}
		for _, p := range page.Parameters {
			if p.Name == nil || p.Value == nil {
				return nil, fmt.Errorf("load parameters under %s: a parameter has no name or value", path)
			}
			files = append(files, File{Name: *p.Name, Data: []byte(*p.Value), Version: p.Version})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

func equal(a, b []File) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}
