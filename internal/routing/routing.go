// Package routing generates the EventBridge event patterns that route events
// from the default event bus to the classifier. Only events some rule can act
// on are routed: every pattern and recoverWhen pattern of the rules that
// record or open incidents. Events that only ignore rules match would be
// ignored anyway, so they never invoke Lambda.
//
// The patterns are packed into as few EventBridge rules as the event pattern
// size quota allows. Alternatives that one subsumes are dropped and
// alternatives that differ in one field are merged into one value list, so the
// routes match exactly the events the rules match. When one EventBridge rule
// is not enough, the routes are split by event source, so that no event
// matches two routes and invokes the classifier twice.
package routing

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/rules"
)

// EventBridge quotas the routes respect.
const (
	// DefaultMaxPatternSize is EventBridge's default event pattern size
	// quota, in characters; it can be raised to 4096 on request.
	DefaultMaxPatternSize = 2048
	// DefaultMaxRoutes leaves most of the 300 rules an event bus may hold to
	// the account's other uses of the default bus.
	DefaultMaxRoutes = 100
)

// maxClauses bounds the alternatives the patterns expand to, as pkg/pattern
// bounds one pattern's.
const maxClauses = 1024

// Options tune Patterns; zero values take the defaults.
type Options struct {
	// MaxPatternSize is the most characters (bytes, which are never fewer)
	// one event pattern may have; default DefaultMaxPatternSize.
	MaxPatternSize int
	// MaxRoutes is the most EventBridge rules the routes may take; default
	// DefaultMaxRoutes.
	MaxRoutes int
	// Sources, when set, routes only events from these sources (exact
	// names, such as aws.ec2), even where a rule would match others.
	Sources []string
}

// Input is one pattern to route, named for messages and descriptions.
type Input struct {
	Name    string
	Pattern *pattern.Pattern
}

// Route is the event pattern of one EventBridge rule.
type Route struct {
	// Pattern is the event pattern, compact JSON.
	Pattern string
	// Inputs names the inputs whose events the route carries (rule names for
	// Patterns), sorted.
	Inputs []string
}

// Patterns returns the routes of the rules in set that record or open
// incidents, with their recoverWhen patterns.
func Patterns(set *rules.Set, opts Options) ([]Route, error) {
	return Pack(Inputs(set), opts)
}

// Inputs lists the patterns Patterns routes: each non-ignore rule's pattern
// and recover pattern.
func Inputs(set *rules.Set) []Input {
	var in []Input
	for _, r := range set.Rules {
		if r.Action == rules.Ignore {
			continue
		}
		in = append(in, Input{Name: r.Name, Pattern: r.Pattern})
		if r.Recover != nil {
			in = append(in, Input{Name: r.Name, Pattern: r.Recover})
		}
	}
	return in
}

// Pack returns routes that together match the events some input matches,
// each within opts.MaxPatternSize; with Options.Sources set, only those
// sources' events. Every route admits AWS services' events only, or custom
// sources an input names exactly (awsOnly). When the inputs need more than
// one route, the inputs that name no exact source share the routes whose
// source condition is the AWS prefix.
func Pack(inputs []Input, opts Options) ([]Route, error) {
	if opts.MaxPatternSize <= 0 {
		opts.MaxPatternSize = DefaultMaxPatternSize
	}
	if opts.MaxRoutes <= 0 {
		opts.MaxRoutes = DefaultMaxRoutes
	}
	p := &packer{opts: opts, accepts: map[string]*pattern.Pattern{}}
	var all []*clause
	for _, in := range inputs {
		cs, err := expandPattern(in)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if len(all) > maxClauses*8 {
			return nil, fmt.Errorf("routing: the patterns expand to more than %d alternatives", maxClauses*8)
		}
	}
	all = awsOnly(all)
	if len(opts.Sources) > 0 {
		var err error
		if all, err = p.restrict(all); err != nil {
			return nil, err
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	all = simplify(all)
	if one, err := p.fits(all); err != nil {
		return nil, err
	} else if one {
		return p.routes([][]*clause{all})
	}
	units, err := p.units(all)
	if err != nil {
		return nil, err
	}
	bins, err := p.binPack(units)
	if err != nil {
		return nil, err
	}
	if len(bins) > opts.MaxRoutes {
		return nil, fmt.Errorf("routing: the rules need %d EventBridge rules, more than %d: raise the event pattern size quota (up to 4096) or make the rules' patterns share sources and detail-types", len(bins), opts.MaxRoutes)
	}
	return p.routes(bins)
}

type packer struct {
	opts    Options
	accepts map[string]*pattern.Pattern // {"field": list} -> compiled
}

// fits reports whether cs render into one pattern within the size limit.
func (p *packer) fits(cs []*clause) (bool, error) {
	b, err := render(cs)
	if err != nil {
		return false, err
	}
	return len(b) <= p.opts.MaxPatternSize, nil
}

func (p *packer) routes(bins [][]*clause) ([]Route, error) {
	out := make([]Route, 0, len(bins))
	for _, bin := range bins {
		b, err := render(bin)
		if err != nil {
			return nil, err
		}
		if len(b) > p.opts.MaxPatternSize {
			return nil, fmt.Errorf("routing: a pattern of %d characters exceeds the limit of %d", len(b), p.opts.MaxPatternSize)
		}
		if _, err := pattern.Compile(b); err != nil {
			return nil, fmt.Errorf("routing: generated pattern %s is invalid: %w", b, err)
		}
		names := map[string]bool{}
		for _, c := range bin {
			for n := range c.inputs {
				names[n] = true
			}
		}
		r := Route{Pattern: string(b)}
		for n := range names {
			r.Inputs = append(r.Inputs, n)
		}
		sort.Strings(r.Inputs)
		out = append(out, r)
	}
	return out, nil
}

// sourcePath is the key of the envelope's source field.
var sourcePath = pathKey([]string{"source"})

// accept reports whether the condition elems on an envelope field accepts
// the value s, by EventBridge's own semantics as pkg/pattern implements them.
func (p *packer) accept(field string, elems []string, s string) (bool, error) {
	list := "[" + strings.Join(elems, ",") + "]"
	src := `{` + quote(field) + `:` + list + `}`
	pt, ok := p.accepts[src]
	if !ok {
		var err error
		if pt, err = pattern.Compile([]byte(src)); err != nil {
			return false, fmt.Errorf("routing: condition %s: %w", src, err)
		}
		p.accepts[src] = pt
	}
	ev, err := json.Marshal(map[string]string{field: s})
	if err != nil {
		return false, err
	}
	return pt.Match(ev)
}

// restrict keeps the events of opts.Sources only: each clause's source
// condition becomes the list of those sources it accepts.
func (p *packer) restrict(cs []*clause) ([]*clause, error) {
	var out []*clause
	for _, c := range cs {
		var keep []string
		for _, s := range p.opts.Sources {
			ok := true
			if sl := c.slots[sourcePath]; sl != nil {
				var err error
				if ok, err = p.accept(sourcePath, sl.elems, s); err != nil {
					return nil, err
				}
			}
			if ok {
				keep = append(keep, quote(s))
			}
		}
		if len(keep) == 0 {
			continue
		}
		out = append(out, c.with(&slot{path: []string{"source"}, elems: normalize(keep)}))
	}
	return out, nil
}

// AWSSourcePrefix begins the source of every event an AWS service emits:
// EventBridge refuses PutEvents entries whose source begins with "aws.", so
// no principal of the account can forge one (docs/security.md).
const AWSSourcePrefix = "aws."

// awsSource is the condition that admits AWS services' events only.
var awsSource = `{"prefix":` + quote(AWSSourcePrefix) + `}`

// awsOnly makes every clause admit only AWS services' events, unless it names
// its sources exactly: a rule may act on a custom source only by naming it.
// A clause whose source condition is neither exact names nor the AWS prefix
// (or a longer prefix) has it replaced by the AWS prefix: the route may carry
// a little more than the rule matches, and the classifier decides exactly.
func awsOnly(cs []*clause) []*clause {
	out := make([]*clause, 0, len(cs))
	for _, c := range cs {
		sl := c.slots[sourcePath]
		if sl != nil && (allPlainStrings(sl.elems) || awsPrefixed(sl.elems)) {
			out = append(out, c)
			continue
		}
		out = append(out, c.with(&slot{path: []string{"source"}, elems: []string{awsSource}}))
	}
	return out
}

// awsPrefixed reports whether elems is one prefix condition that only AWS
// services' sources can meet.
func awsPrefixed(elems []string) bool {
	if len(elems) != 1 {
		return false
	}
	var c struct {
		Prefix *string `json:"prefix"`
	}
	if err := json.Unmarshal([]byte(elems[0]), &c); err != nil || c.Prefix == nil {
		return false
	}
	return strings.HasPrefix(*c.Prefix, AWSSourcePrefix)
}

// cellOther is the cell of the values no clause names exactly.
const cellOther = "\x00other"

// detailTypePath is the key of the envelope's detail-type field.
var detailTypePath = pathKey([]string{"detail-type"})

// partition splits clauses into cells by the value of one envelope field
// (source or detail-type), so that no event matches clauses of two cells:
// a clause accepting several exact values is split into one clause per
// value; a clause with any other condition on the field, or none, is
// copied into every cell whose value it accepts and, unless only is set,
// into the cell of the other values, whose condition is anything-but the
// named values (which may accept a little more than the clause did).
func (p *packer) partition(cs []*clause, field string, only []string) (map[string][]*clause, error) {
	known := map[string]bool{}
	for _, s := range only {
		known[s] = true
	}
	for _, c := range cs {
		if sl := c.slots[field]; sl != nil {
			for _, e := range sl.elems {
				if s, ok := plainString(e); ok {
					known[s] = true
				}
			}
		}
	}
	names := make([]string, 0, len(known))
	for s := range known {
		names = append(names, s)
	}
	sort.Strings(names)
	path := strings.Split(field, "\x00")
	// Only the AWS prefix can stand as a source condition that names no
	// source (awsOnly): an anything-but of the named sources would admit
	// forged ones. So when a clause has it, AWS sources are not split
	// apart: every clause naming AWS sources joins the prefix's cell, which
	// units splits by detail-type instead, and no event matches two routes.
	awsTogether := false
	if field == sourcePath && len(only) == 0 {
		for _, c := range cs {
			if sl := c.slots[field]; sl != nil && !allPlainStrings(sl.elems) {
				awsTogether = true
			}
		}
	}
	cells := map[string][]*clause{}
	for _, c := range cs {
		sl := c.slots[field]
		if sl != nil && allPlainStrings(sl.elems) {
			var aws []string
			for _, e := range sl.elems {
				s, _ := plainString(e)
				if awsTogether && strings.HasPrefix(s, AWSSourcePrefix) {
					aws = append(aws, e)
					continue
				}
				cells[s] = append(cells[s], c.with(&slot{path: path, elems: []string{e}}))
			}
			if len(aws) > 0 {
				cells[cellOther] = append(cells[cellOther], c.with(&slot{path: path, elems: aws}))
			}
			continue
		}
		if awsTogether {
			cells[cellOther] = append(cells[cellOther], c)
			continue
		}
		for _, s := range names {
			ok := true
			if sl != nil {
				var err error
				if ok, err = p.accept(field, sl.elems, s); err != nil {
					return nil, err
				}
			}
			if ok {
				cells[s] = append(cells[s], c.with(&slot{path: path, elems: []string{quote(s)}}))
			}
		}
		if len(only) > 0 {
			continue
		}
		other := c
		if len(names) > 0 {
			quoted := make([]string, len(names))
			for i, s := range names {
				quoted[i] = quote(s)
			}
			other = c.with(&slot{path: path, elems: []string{`{"anything-but":[` + strings.Join(quoted, ",") + `]}`}})
		}
		cells[cellOther] = append(cells[cellOther], other)
	}
	return cells, nil
}

func sortedKeys(m map[string][]*clause) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// units splits the clauses into cells that no event matches two of: by
// source, and a cell too large for one pattern again by detail-type. Each
// cell is simplified; a cell still too large is cut into parts.
func (p *packer) units(all []*clause) ([][]*clause, error) {
	bySource, err := p.partition(all, sourcePath, p.opts.Sources)
	if err != nil {
		return nil, err
	}
	var units [][]*clause
	for _, k := range sortedKeys(bySource) {
		cs := simplify(bySource[k])
		if ok, err := p.fits(cs); err != nil {
			return nil, err
		} else if ok {
			units = append(units, cs)
			continue
		}
		parts, err := p.split(cs, splitFields)
		if err != nil {
			return nil, err
		}
		units = append(units, parts...)
	}
	return units, nil
}

// splitFields are the fields a cell too large for one pattern is split by,
// in turn: each splits exactly (no event matches two of its cells), unlike
// cut.
var splitFields = []string{detailTypePath, pathKey([]string{"detail", "eventSource"}), pathKey([]string{"detail", "eventName"})}

// split partitions cs by the first of fields, each cell that is still too
// large by the next, and cuts what no field makes fit.
func (p *packer) split(cs []*clause, fields []string) ([][]*clause, error) {
	if ok, err := p.fits(cs); err != nil || ok {
		return [][]*clause{cs}, err
	}
	if len(fields) == 0 {
		return p.cut(cs)
	}
	cells, err := p.partition(cs, fields[0], nil)
	if err != nil {
		return nil, err
	}
	if len(cells) < 2 {
		return p.split(cs, fields[1:])
	}
	var out [][]*clause
	for _, k := range sortedKeys(cells) {
		parts, err := p.split(simplify(cells[k]), fields[1:])
		if err != nil {
			// The field's condition made a clause too large for one
			// pattern: cut without it.
			return p.cut(cs)
		}
		out = append(out, parts...)
	}
	return out, nil
}

// cut splits clauses into parts that each fit one pattern. Parts may
// overlap, so an event two of them match invokes the classifier twice (its
// delivery dedup makes that harmless); partitioning by source and
// detail-type first makes this the rare case of one source and detail-type
// needing more than one pattern.
func (p *packer) cut(cs []*clause) ([][]*clause, error) {
	tooLarge := func(c *clause) error {
		b, _ := render([]*clause{c})
		return fmt.Errorf("routing: the pattern of %s alone is %d characters, more than the limit of %d: shorten it", strings.Join(c.inputNames(), ", "), len(b), p.opts.MaxPatternSize)
	}
	var parts [][]*clause
	var part []*clause
	for _, c := range cs {
		next := append(slices.Clone(part), c)
		if ok, err := p.fits(next); err != nil {
			return nil, err
		} else if ok {
			part = next
			continue
		}
		if ok, err := p.fits([]*clause{c}); err != nil {
			return nil, err
		} else if !ok {
			return nil, tooLarge(c)
		}
		parts = append(parts, part)
		part = []*clause{c}
	}
	if len(part) > 0 {
		parts = append(parts, part)
	}
	return parts, nil
}

// binPack puts units into as few patterns as fit, first fit by decreasing
// size; clauses of one bin are simplified together, so units that differ
// only in their source share one alternative.
func (p *packer) binPack(units [][]*clause) ([][]*clause, error) {
	type sized struct {
		cs   []*clause
		size int
		key  string
	}
	us := make([]sized, len(units))
	for i, u := range units {
		b, err := render(u)
		if err != nil {
			return nil, err
		}
		us[i] = sized{cs: u, size: len(b), key: string(b)}
	}
	sort.SliceStable(us, func(i, j int) bool {
		if us[i].size != us[j].size {
			return us[i].size > us[j].size
		}
		return us[i].key < us[j].key
	})
	var bins [][]*clause
	for _, u := range us {
		placed := false
		for i, bin := range bins {
			merged := simplify(append(slices.Clone(bin), u.cs...))
			ok, err := p.fits(merged)
			if err != nil {
				return nil, err
			}
			if ok {
				bins[i] = merged
				placed = true
				break
			}
		}
		if !placed {
			bins = append(bins, u.cs)
		}
	}
	return bins, nil
}

func quote(s string) string {
	b, _ := marshal(s)
	return string(b)
}

// plainString returns the string an element matches exactly.
func plainString(elem string) (string, bool) {
	if !strings.HasPrefix(elem, `"`) {
		return "", false
	}
	var s string
	if err := json.Unmarshal([]byte(elem), &s); err != nil {
		return "", false
	}
	return s, true
}

func allPlainStrings(elems []string) bool {
	for _, e := range elems {
		if _, ok := plainString(e); !ok {
			return false
		}
	}
	return len(elems) > 0
}
