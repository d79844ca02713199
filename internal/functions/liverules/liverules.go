// Package liverules keeps a running function's rules current: loaded from
// Parameter Store on first use, reloaded as the cache expires, the last good
// rules kept when a reload fails or does not validate.
package liverules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/metrics"
	"github.com/opsloop/opsloop/internal/rules"
)

// DefaultTTL is how long loaded rules are used before they are loaded
// again, when OPSLOOP_RULES_TTL is not set.
const DefaultTTL = 5 * time.Minute

// Loader supplies the rules files, cached, as parameterstore.Loader does: changed
// says whether the files differ from those of the previous call, and a failed
// reload returns the last good files with the error.
type Loader interface {
	Load(ctx context.Context) (files []parameterstore.File, changed bool, err error)
}

// Rules keeps what a function builds from the current rules (the
// classifier's classify.Classifier, the problems function's rules.Set
// itself), built once per change: the function links only what it builds.
// The rules are loaded on first use, not at init, so that a cold start costs
// no Parameter Store call before the first event; they are reloaded as the
// Loader's cache expires. When a reload fails, or brings rules that do not
// validate, the last good rules stay in use, the reason is logged and
// RulesReloadFailed is counted. Rules is safe for concurrent use.
type Rules[T any] struct {
	loader  Loader
	build   func(*rules.Set) T
	log     *slog.Logger
	metrics *lambdaenv.Metrics

	mu      sync.Mutex
	current T
	have    bool
	// err is why there is nothing current: the last files loaded did not
	// validate and nothing valid came before them.
	err error
}

// New returns the rules loaded by loader, each valid set made into a T by
// build.
func New[T any](loader Loader, build func(*rules.Set) T, log *slog.Logger, m *lambdaenv.Metrics) *Rules[T] {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rules[T]{loader: loader, build: build, log: log, metrics: m}
}

// Current returns what was built from the current rules. It fails only
// while no valid rules have ever been loaded; the error is then worth
// retrying, once Parameter Store answers or the rules are fixed.
func (r *Rules[T]) Current(ctx context.Context) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var none T
	files, changed, err := r.loader.Load(ctx)
	if err != nil {
		r.failed(ctx, "rules reload failed", err)
		if !r.have {
			return none, fmt.Errorf("load rules: %w", err)
		}
		return r.current, nil
	}
	if !changed {
		if !r.have && r.err != nil {
			return none, r.err
		}
		if r.have {
			return r.current, nil
		}
	}
	set, err := buildSet(files)
	if err != nil {
		r.failed(ctx, "rules invalid", err)
		if !r.have {
			r.err = fmt.Errorf("load rules: %w", err)
			return none, r.err
		}
		return r.current, nil
	}
	r.current, r.have, r.err = r.build(set), true, nil
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = fmt.Sprintf("%s@%d", f.Name, f.Version)
	}
	r.log.InfoContext(ctx, "rules loaded", "files", names, "rules", len(set.Rules), "request_id", lambdaenv.RequestID(ctx))
	return r.current, nil
}

// Loaded is Current once rules have been loaded, and nothing before: a
// caller that can do without the rules triggers no first load (a rejected
// event costs no Parameter Store call), while loaded rules are reloaded
// as usual.
func (r *Rules[T]) Loaded(ctx context.Context) (T, bool) {
	r.mu.Lock()
	have := r.have
	r.mu.Unlock()
	if !have {
		var none T
		return none, false
	}
	v, err := r.Current(ctx)
	return v, err == nil
}

// failed logs why the rules could not be (re)loaded, each validation error
// on its own record, and counts it.
func (r *Rules[T]) failed(ctx context.Context, msg string, err error) {
	keeping := r.have
	var es rules.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			r.log.ErrorContext(ctx, msg, "file", e.File, "line", e.Line, "rule", e.Rule, "field", e.Field,
				"error", e.Msg, "keeping_last_good", keeping, "request_id", lambdaenv.RequestID(ctx))
		}
	} else {
		r.log.ErrorContext(ctx, msg, "error", err.Error(), "keeping_last_good", keeping, "request_id", lambdaenv.RequestID(ctx))
	}
	r.metrics.Count(metrics.RulesReloadFailed, nil, 1)
}

// buildSet validates the parameters as rules files. rules.Build refuses an
// empty list too: an empty path is a mistake, not a wish to ignore everything.
func buildSet(files []parameterstore.File) (*rules.Set, error) {
	in := make([]rules.File, len(files))
	for i, f := range files {
		in[i] = rules.File{Name: f.Name, Data: f.Data}
	}
	return rules.Build(in)
}
