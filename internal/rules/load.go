package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/lazyregexp"
	"github.com/opsloop/opsloop/internal/pattern"
)

// Error is one mistake in a rules file, located by file, line, rule and field.
type Error struct {
	File  string
	Line  int
	Col   int
	Rule  string // empty outside a rule
	Field string // dotted path of the field, empty for the whole file
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "%s: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every mistake found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// File is one rules file's name and contents.
type File struct {
	Name string
	Data []byte
}

// Load reads rule files and directories (their *.json files, recursively,
// in name order, schema files excepted) and builds the Set.
func Load(paths ...string) (*Set, error) {
	var files []File
	for _, p := range paths {
		err := filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || (name != p && !isRulesFile(name)) {
				return nil
			}
			data, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			files = append(files, File{Name: name, Data: data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read rules %s: %w", p, err)
		}
	}
	return Build(files)
}

// LoadFS builds the Set from the rules files in fsys, such as the embedded defaults.
func LoadFS(fsys fs.FS) (*Set, error) {
	var files []File
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isRulesFile(name) {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		files = append(files, File{Name: path.Join("rules", name), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded rules: %w", err)
	}
	return Build(files)
}

func isRulesFile(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".schema.json")
}

// Build validates files together and returns the Set, or Errors listing every
// mistake found.
func Build(files []File) (*Set, error) {
	b := &builder{set: &Set{Severities: map[string]*Severity{}}}
	if len(files) == 0 {
		return nil, Errors{{File: "rules", Msg: "no rules files found"}}
	}
	for _, f := range files {
		b.file(f)
	}
	b.applyScopes()
	b.crossCheck()
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	return b.set, nil
}

type builder struct {
	set  *Set
	errs Errors
	// seen rule and silence names, for duplicates across files
	ruleAt, silenceAt map[string]string
	severityRefs      []severityRef
	severitiesFrom    string
	plansFrom         string
	organizationFrom  string
	scoped            []scopedRule
	problemsFrom      string
	defaultsFrom      string
	budgetFrom        string
	defaults          *Defaults
	recurrence        *Recurrence
	perRuleDefaults   []*ruleDefaults
}

// scopedRule is a rule whose scope is applied to its patterns once every
// file, and so every organizational unit, is read.
type scopedRule struct {
	rule        *Rule
	loc         location
	pattern, rw *node
}

type severityRef struct {
	loc  location
	name string
}

// ruleDefaults remembers which per-rule settings were left to the defaults.
type ruleDefaults struct {
	rule                           *Rule
	escalation, flapping, problems bool
}

type location struct {
	file  *File
	off   int
	rule  string
	field string
}

// warnAt notes what is valid but likely wrong; rules validate prints it.
func (b *builder) warnAt(loc location, format string, args ...any) {
	line, col := lineCol(loc.file.Data, loc.off)
	b.set.Warnings = append(b.set.Warnings, &Error{File: loc.file.Name, Line: line, Col: col, Rule: loc.rule, Field: loc.field, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) errAt(loc location, format string, args ...any) {
	line, col := lineCol(loc.file.Data, loc.off)
	b.errs = append(b.errs, &Error{File: loc.file.Name, Line: line, Col: col, Rule: loc.rule, Field: loc.field, Msg: fmt.Sprintf(format, args...)})
}

func (l location) at(n *node, field string) location {
	l.off = n.start
	if l.field != "" && strings.HasPrefix(field, "[") {
		field = l.field + field
	} else if l.field != "" && field != "" {
		field = l.field + "." + field
	} else if field == "" {
		field = l.field
	}
	l.field = field
	return l
}

// TopFields are the fields a rules file may have at its top level.
func TopFields() []string { return slices.Clone(topFields) }

var (
	topFields      = []string{"$schema", "rules", "severities", "plans", "organization", "problems", "silences", "defaults", "redact", "budget"}
	ruleFields     = Fields()
	severityFields = []string{"opsItemSeverity", "priority", "notify", "runbooks", "responseTime", "description", "steps", "owner", "escalateTo", "analysis"}
	planFields     = []string{"description", "steps", "owner", "escalateTo"}
	silenceFields  = []string{"name", "comment", "pattern", "start", "end", "schedule"}
	scheduleFields = []string{"days", "from", "to", "timezone"}
	nameRE         = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	runbookRE      = lazyregexp.New(`^[A-Za-z0-9_.:/-]{3,128}$`)
)

// AssumeRoleParameter is the parameter of Automation documents that names
// the IAM role they run as.
const AssumeRoleParameter = "AutomationAssumeRole"

var roleARN = lazyregexp.New(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// incidentOnly are rule fields that mean nothing unless the rule opens incidents.
var incidentOnly = []string{"severity", "category", "threshold", "recoverWhen", "escalation", "flapping", "problems", "runbooks", "opsItemAccount"}

func (b *builder) file(f File) {
	b.set.Files = append(b.set.Files, f.Name)
	root, err := parseTree(f.Data)
	loc := location{file: &f}
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			loc.off = se.offset
		}
		b.errAt(loc, "bad JSON: %v", err)
		return
	}
	if root.kind != kindObject {
		b.errAt(loc.at(root, ""), "want a JSON object with \"rules\", found %s", root.kind)
		return
	}
	b.fields(loc, root, topFields)
	if n := root.get("rules"); n != nil {
		if b.want(loc.at(n, "rules"), n, kindArray) {
			for i, rn := range n.elems {
				b.rule(loc.at(rn, fmt.Sprintf("rules[%d]", i)), rn)
			}
		}
	}
	if n := root.get("severities"); n != nil {
		b.severities(loc.at(n, "severities"), n)
	}
	if n := root.get("plans"); n != nil {
		b.plans(loc.at(n, "plans"), n)
	}
	if n := root.get("organization"); n != nil && b.once(loc.at(n, "organization"), &b.organizationFrom) {
		b.organization(loc.at(n, "organization"), n)
	}
	if n := root.get("problems"); n != nil && b.once(loc.at(n, "problems"), &b.problemsFrom) {
		b.recurrence = b.problemsSection(loc.at(n, "problems"), n)
	}
	if n := root.get("defaults"); n != nil && b.once(loc.at(n, "defaults"), &b.defaultsFrom) {
		b.defaults = b.defaultsSection(loc.at(n, "defaults"), n)
	}
	if n := root.get("budget"); n != nil && b.once(loc.at(n, "budget"), &b.budgetFrom) {
		b.budgetSection(loc.at(n, "budget"), n)
	}
	if n := root.get("redact"); n != nil {
		l := loc.at(n, "redact")
		paths, _ := b.strings(l, n)
		for i, p := range paths {
			if n.elems[i].kind != kindString {
				continue // reported by strings
			}
			if err := CheckPath(p); err != nil {
				b.errAt(l.at(n.elems[i], fmt.Sprintf("[%d]", i)), "%v", err)
				continue
			}
			b.set.Redact = append(b.set.Redact, p)
		}
	}
	if n := root.get("silences"); n != nil {
		if b.want(loc.at(n, "silences"), n, kindArray) {
			for i, sn := range n.elems {
				b.silence(loc.at(sn, fmt.Sprintf("silences[%d]", i)), sn)
			}
		}
	}
}

// once claims a section set once per deployment for loc's file, in from;
// it reports false, and the error, when another file set it already.
func (b *builder) once(loc location, from *string) bool {
	if *from != "" {
		b.errAt(loc, "already set in %s: set %s once per deployment", *from, loc.field)
		return false
	}
	*from = loc.file.Name
	return true
}

// fields reports unknown and repeated fields of an object.
func (b *builder) fields(loc location, n *node, known []string) {
	seen := map[string]bool{}
	for _, m := range n.members {
		ml := loc
		ml.off = m.keyStart
		if !contains(known, m.key) {
			ml.field = joinField(loc.field, m.key)
			if s := closest(m.key, known); s != "" {
				b.errAt(ml, "unknown field (did you mean %q?)", s)
			} else {
				b.errAt(ml, "unknown field (known: %s)", strings.Join(known, ", "))
			}
			continue
		}
		if seen[m.key] {
			ml.field = joinField(loc.field, m.key)
			b.errAt(ml, "given twice")
		}
		seen[m.key] = true
	}
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (b *builder) want(loc location, n *node, k kind) bool {
	if n.kind != k {
		b.errAt(loc, "want %s, found %s", article(k), n.kind)
		return false
	}
	return true
}

func article(k kind) string {
	if k == kindArray || k == kindObject {
		return "an " + k.String()
	}
	return "a " + k.String()
}

func (b *builder) str(loc location, n *node) (string, bool) {
	if !b.want(loc, n, kindString) {
		return "", false
	}
	return n.str, true
}

func (b *builder) bool(loc location, n *node) (bool, bool) {
	if !b.want(loc, n, kindBool) {
		return false, false
	}
	return n.boolean, true
}

func (b *builder) int(loc location, n *node, lo, hi int) (int, bool) {
	if !b.want(loc, n, kindNumber) {
		return 0, false
	}
	v, err := n.num.Int64()
	if err != nil || v < int64(lo) || v > int64(hi) {
		b.errAt(loc, "want a whole number from %d to %d, found %s", lo, hi, n.num)
		return 0, false
	}
	return int(v), true
}

func (b *builder) duration(loc location, n *node) (time.Duration, bool) {
	s, ok := b.str(loc, n)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		b.errAt(loc, "%v", err)
		return 0, false
	}
	return d, true
}

func (b *builder) strings(loc location, n *node) ([]string, bool) {
	if !b.want(loc, n, kindArray) {
		return nil, false
	}
	out := make([]string, 0, len(n.elems))
	ok := true
	for i, e := range n.elems {
		s, good := b.str(loc.at(e, fmt.Sprintf("[%d]", i)), e)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// pattern compiles the pattern at n, locating its errors inside the file.
func (b *builder) pattern(loc location, n *node, src []byte) *pattern.Pattern {
	if !b.want(loc, n, kindObject) {
		return nil
	}
	if src == nil {
		src = loc.file.Data[n.start:n.end]
	}
	p, err := pattern.Compile(src)
	if err != nil {
		var pe *pattern.Error
		if errors.As(err, &pe) {
			inner := locate(n, pe.Path)
			l := loc.at(inner, pe.Path)
			l.off = inner.start
			b.errAt(l, "invalid pattern: %s", pe.Reason)
		} else {
			b.errAt(loc, "invalid pattern: %v", err)
		}
		return nil
	}
	return p
}

// locate finds the node a dotted pattern path points at, as far as it exists.
func locate(n *node, p string) *node {
	for p != "" {
		if n.kind != kindObject {
			return n
		}
		var next *node
		var rest string
		// Keys may contain dots themselves: prefer the longest key that fits.
		for _, m := range n.members {
			if (p == m.key || strings.HasPrefix(p, m.key+".")) && (next == nil || len(m.key) > len(p)-len(rest)) {
				next, rest = m.value, strings.TrimPrefix(strings.TrimPrefix(p, m.key), ".")
			}
		}
		if next == nil {
			return n
		}
		n, p = next, rest
	}
	return n
}

func (b *builder) rule(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	r := &Rule{File: loc.file.Name}
	r.Line, _ = lineCol(loc.file.Data, n.start)
	if nn := n.get("name"); nn != nil {
		if s, ok := b.str(loc.at(nn, "name"), nn); ok {
			if !nameRE.MatchString(s) {
				b.errAt(loc.at(nn, "name"), "%q is not a valid name: letters, digits, '.', '_', '-', at most 64", s)
			}
			r.Name = s
		}
	} else {
		b.errAt(loc, "missing name")
	}
	loc.rule = r.Name
	loc.field = ""
	b.fields(loc, n, ruleFields)
	if r.Name != "" {
		if b.ruleAt == nil {
			b.ruleAt = map[string]string{}
		}
		if prev, dup := b.ruleAt[r.Name]; dup {
			b.errAt(loc, "duplicate rule name (first defined at %s)", prev)
		} else {
			b.ruleAt[r.Name] = fmt.Sprintf("%s:%d", r.File, r.Line)
		}
	}
	if d := n.get("description"); d != nil {
		r.Description, _ = b.str(loc.at(d, "description"), d)
	}
	if p := n.get("priority"); p != nil {
		r.Priority, _ = b.int(loc.at(p, "priority"), p, -1000, 1000)
	}
	pn := n.get("pattern")
	if pn == nil {
		b.errAt(loc, "missing pattern")
	} else {
		r.Pattern = b.pattern(loc.at(pn, "pattern"), pn, nil)
	}
	if sc := n.get("scope"); sc != nil {
		r.Scope = b.scope(loc.at(sc, "scope"), sc)
		if !r.Scope.IsZero() && pn != nil {
			b.scoped = append(b.scoped, scopedRule{rule: r, loc: loc, pattern: pn, rw: n.get("recoverWhen")})
		}
	}
	if a := n.get("action"); a != nil {
		if s, ok := b.str(loc.at(a, "action"), a); ok {
			switch Action(s) {
			case Ignore, Record, Incident:
				r.Action = Action(s)
			default:
				b.errAt(loc.at(a, "action"), "unknown action %q (want ignore, record or incident)", s)
			}
		}
	} else {
		b.errAt(loc, "missing action (ignore, record or incident)")
	}
	if r.Action != Incident && r.Action != "" {
		for _, f := range incidentOnly {
			if fn := n.get(f); fn != nil {
				b.errAt(loc.at(fn, f), "applies only to incident rules, and this rule's action is %q: it would never take effect", r.Action)
			}
		}
	}
	if g := n.get("groupBy"); g != nil {
		if paths, ok := b.strings(loc.at(g, "groupBy"), g); ok {
			for i, p := range paths {
				if err := CheckPath(p); err != nil {
					b.errAt(loc.at(g.elems[i], fmt.Sprintf("groupBy[%d]", i)), "%v", err)
				}
			}
			r.GroupBy = paths
		}
	}
	if t := n.get("title"); t != nil {
		if s, ok := b.str(loc.at(t, "title"), t); ok {
			tpl, err := ParseTemplate(s)
			if err != nil {
				b.errAt(loc.at(t, "title"), "%v", err)
			}
			r.Title = tpl
		}
	}
	if r.Action == Incident {
		b.incidentRule(loc, n, pn, r)
		if rb := n.get("runbooks"); rb != nil {
			r.Runbooks = b.runbooks(loc.at(rb, "runbooks"), rb)
		}
	}
	b.set.Rules = append(b.set.Rules, r)
}

// runbookName is what SSM accepts as a document name.
var runbookName = lazyregexp.New(`^[a-zA-Z0-9_.-]{3,128}$`)

// runbookParam is what SSM accepts as a parameter name.
var runbookParam = lazyregexp.New(`^[a-zA-Z0-9]{1,64}$`)

// runbooks reads a rule's runbooks: [{"document": ..., "parameters": {...}}].
func (b *builder) runbooks(loc location, n *node) []Runbook {
	if !b.want(loc, n, kindArray) {
		return nil
	}
	var out []Runbook
	for i, e := range n.elems {
		l := loc.at(e, fmt.Sprintf("[%d]", i))
		if !b.want(l, e, kindObject) {
			continue
		}
		b.fields(l, e, []string{"document", "parameters", "autoRun"})
		var rb Runbook
		if d := e.get("document"); d == nil {
			b.errAt(l, "missing document: an SSM Automation document's name, such as AWS-StartEC2Instance")
		} else if s, ok := b.str(l.at(d, "document"), d); ok {
			if !runbookName.MatchString(s) {
				b.errAt(l.at(d, "document"), "%q is not an SSM document name (3 to 128 letters, digits, '_', '-' or '.')", s)
			}
			rb.Document = s
		}
		if p := e.get("parameters"); p != nil && b.want(l.at(p, "parameters"), p, kindObject) {
			rb.Parameters = map[string]*Template{}
			for _, m := range p.members {
				k := m.key
				pl := l.at(m.value, "parameters."+k)
				if !runbookParam.MatchString(k) {
					b.errAt(pl, "%q is not an SSM parameter name (letters and digits)", k)
					continue
				}
				if s, ok := b.str(pl, m.value); ok {
					tpl, err := ParseTemplate(s)
					if err != nil {
						b.errAt(pl, "%v", err)
						continue
					}
					rb.Parameters[k] = tpl
				}
			}
		}
		if a := e.get("autoRun"); a != nil {
			rb.AutoRun, _ = b.bool(l.at(a, "autoRun"), a)
			role := rb.Parameters[AssumeRoleParameter]
			switch {
			case !rb.AutoRun:
			case role == nil:
				b.errAt(l.at(a, "autoRun"), "needs the parameter %s: the IAM role the automation runs as, so opsloop itself gets no rights over your resources", AssumeRoleParameter)
			case len(role.Paths()) > 0 || !roleARN.MatchString(role.String()):
				b.errAt(l.at(e.get("parameters"), "parameters."+AssumeRoleParameter), "%q: an automation that runs by itself needs a literal IAM role ARN, never one from the event", role.String())
			}
		}
		out = append(out, rb)
	}
	return out
}

func (b *builder) incidentRule(loc location, n, pn *node, r *Rule) {
	if s := n.get("severity"); s != nil {
		if name, ok := b.str(loc.at(s, "severity"), s); ok {
			r.Severity = name
			b.severityRefs = append(b.severityRefs, severityRef{loc: loc.at(s, "severity"), name: name})
		}
	} else {
		b.errAt(loc, "missing severity: an incident rule needs one of the deployment's severities")
	}
	if c := n.get("category"); c != nil {
		if s, ok := b.str(loc.at(c, "category"), c); ok {
			if !contains(Categories, s) {
				b.errAt(loc.at(c, "category"), "unknown category %q (want one of %s)", s, strings.Join(Categories, ", "))
			}
			r.Category = s
		}
	}
	if t := n.get("threshold"); t != nil {
		r.Threshold = b.threshold(loc.at(t, "threshold"), t, r.GroupBy)
	}
	if a := n.get("opsItemAccount"); a != nil {
		r.OpsItemAccount = b.opsItemAccount(loc.at(a, "opsItemAccount"), a)
	}
	if rw := n.get("recoverWhen"); rw != nil && pn != nil && b.want(loc.at(rw, "recoverWhen"), rw, kindObject) {
		merged, err := json.Marshal(mergePatterns(toValue(pn), toValue(rw)))
		if err == nil {
			r.Recover = b.pattern(loc.at(rw, "recoverWhen"), rw, merged)
		}
		if b.recoverIsFailure(r) {
			b.errAt(loc.at(rw, "recoverWhen"), "matches the same events as the rule's pattern, so an incident would recover as soon as it opened")
		}
	}
	rd := &ruleDefaults{rule: r, escalation: true, flapping: true, problems: true}
	if e := n.get("escalation"); e != nil {
		rd.escalation = false
		l := loc.at(e, "escalation")
		if b.want(l, e, kindObject) {
			b.fields(l, e, []string{"factor"})
			if f := e.get("factor"); f != nil {
				r.Escalation.Factor, _ = b.int(l.at(f, "factor"), f, 0, 1_000_000)
			}
		}
	}
	if f := n.get("flapping"); f != nil {
		rd.flapping = false
		r.Flapping = b.flapping(loc.at(f, "flapping"), f)
	}
	if p := n.get("problems"); p != nil {
		rd.problems = false
		if rec := b.problemsSection(loc.at(p, "problems"), p); rec != nil {
			r.Problems = *rec
		}
	}
	b.perRuleDefaults = append(b.perRuleDefaults, rd)
	if g := n.get("groupBy"); g != nil && r.Action == Incident && !requiresSuccess(r) {
		for i, p := range r.GroupBy {
			if why := callerChosen(p); why != "" && i < len(g.elems) {
				b.warnAt(loc.at(g.elems[i], fmt.Sprintf("groupBy[%d]", i)),
					"%q is %s: any caller, even one denied, can open an incident per value it picks; group by %q or require a successful call (\"errorCode\": [{\"exists\": false}])", p, why, "principal")
			}
		}
	}
}

// callerPaths are event fields whose values the caller of an API chooses,
// even when the call is denied: CloudTrail logs them as sent.
var callerPaths = []struct{ prefix, why string }{
	{"detail.requestParameters", "a request parameter"},
	{"detail.userAgent", "the caller's user agent"},
	{"detail.userIdentity.arn", "the caller's ARN, which holds the session name it picks"},
	{"detail.userIdentity.principalId", "the caller's principal id, which holds the session name it picks"},
	{"detail.userIdentity.sessionContext.sourceIdentity", "the caller's source identity"},
	{"detail.sourceIPAddress", "the caller's source address"},
	{"detail.additionalEventData", "data the caller sent"},
}

// callerChosen says why path is the caller's to choose, or "".
func callerChosen(path string) string {
	for _, c := range callerPaths {
		if path == c.prefix || strings.HasPrefix(path, c.prefix+".") {
			return c.why
		}
	}
	return ""
}

// requiresSuccess reports whether r matches only calls that succeeded: the
// caller then had the permission, and its parameters name real resources.
func requiresSuccess(r *Rule) bool {
	return r.Pattern != nil && strings.Contains(r.Pattern.String(), `"errorCode":[{"exists":false}]`)
}

// recoverIsFailure catches a recoverWhen that adds nothing to the pattern.
func (b *builder) recoverIsFailure(r *Rule) bool {
	return r.Recover != nil && r.Pattern != nil && r.Recover.String() == r.Pattern.String()
}

func (b *builder) threshold(loc location, n *node, groupBy []string) *Threshold {
	if !b.want(loc, n, kindObject) {
		return nil
	}
	b.fields(loc, n, []string{"count", "window"})
	t := &Threshold{}
	c, w := n.get("count"), n.get("window")
	if c == nil || w == nil {
		b.errAt(loc, "needs both count and window")
		return nil
	}
	var ok1, ok2 bool
	if t.Count, ok1 = b.int(loc.at(c, "count"), c, 1, 1_000_000); !ok1 {
		return nil
	}
	if t.Window, ok2 = b.duration(loc.at(w, "window"), w); !ok2 {
		return nil
	}
	if t.Window > maxWindow {
		b.errAt(loc.at(w, "window"), "%s is longer than the %s opsloop keeps counts for: it can never fire as meant", w.str, maxWindow)
	}
	if t.Count > 1 {
		for _, g := range groupBy {
			if g == "id" || g == "time" {
				b.errAt(loc.at(c, "count"), "can never fire: groupBy %q gives every event its own group, so no group reaches %d", g, t.Count)
			}
		}
	}
	return t
}

// maxWindow is how long window counters are kept.
const maxWindow = 31 * 24 * time.Hour

func (b *builder) flapping(loc location, n *node) Flapping {
	var f Flapping
	if !b.want(loc, n, kindObject) {
		return f
	}
	b.fields(loc, n, []string{"transitions", "window"})
	if t := n.get("transitions"); t != nil {
		f.Transitions, _ = b.int(loc.at(t, "transitions"), t, 0, 1000)
	}
	if w := n.get("window"); w != nil {
		f.Window, _ = b.duration(loc.at(w, "window"), w)
	} else if f.Transitions > 0 {
		b.errAt(loc, "needs a window")
	}
	return f
}

func (b *builder) problemsSection(loc location, n *node) *Recurrence {
	if !b.want(loc, n, kindObject) {
		return nil
	}
	b.fields(loc, n, []string{"recurrence"})
	rn := n.get("recurrence")
	if rn == nil {
		b.errAt(loc, "missing recurrence {\"count\", \"window\"}")
		return nil
	}
	l := loc.at(rn, "recurrence")
	if !b.want(l, rn, kindObject) {
		return nil
	}
	b.fields(l, rn, []string{"count", "window", "accounts"})
	c, w := rn.get("count"), rn.get("window")
	accounts := 0
	if a := rn.get("accounts"); a != nil {
		if n, ok := b.int(l.at(a, "accounts"), a, 2, 10_000); ok {
			accounts = n
		}
	}
	if c == nil || w == nil {
		b.errAt(l, "needs both count and window")
		return nil
	}
	cnt, ok1 := b.int(l.at(c, "count"), c, 2, 10_000)
	win, ok2 := b.duration(l.at(w, "window"), w)
	if !ok1 || !ok2 {
		return nil
	}
	return &Recurrence{Count: cnt, Window: win, Accounts: accounts}
}

func (b *builder) defaultsSection(loc location, n *node) *Defaults {
	if !b.want(loc, n, kindObject) {
		return nil
	}
	b.fields(loc, n, []string{"escalation", "flapping"})
	d := builtinDefaults
	if e := n.get("escalation"); e != nil {
		l := loc.at(e, "escalation")
		if b.want(l, e, kindObject) {
			b.fields(l, e, []string{"factor"})
			if f := e.get("factor"); f != nil {
				d.Escalation.Factor, _ = b.int(l.at(f, "factor"), f, 0, 1_000_000)
			}
		}
	}
	if f := n.get("flapping"); f != nil {
		d.Flapping = b.flapping(loc.at(f, "flapping"), f)
	}
	return &d
}

// budgetFields are the caps of "budget", as signal.Budget names them.
var budgetFields = []string{"ruleHour", "ruleDay", "hour", "day", "month", "reserve"}

// budgetSection reads the deployment's OpsItem budget into the set.
func (b *builder) budgetSection(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	b.fields(loc, n, budgetFields)
	bu := &b.set.Budget
	for i, ptr := range []*int{&bu.RuleHour, &bu.RuleDay, &bu.Hour, &bu.Day, &bu.Month, &bu.Reserve} {
		if v := n.get(budgetFields[i]); v != nil {
			// OpsCenter allows 10,000 new OpsItems a month: no cap above it binds.
			*ptr, _ = b.int(loc.at(v, budgetFields[i]), v, 1, opsItemQuota)
		}
	}
	eff := bu.OrDefault()
	if eff.Reserve >= eff.Month {
		b.errAt(loc, "reserve %d leaves nothing of month %d to severities 3 and 4: want a reserve below the month's cap", eff.Reserve, eff.Month)
	}
}

// opsItemQuota is OpsCenter's quota of new OpsItems per account, Region and month.
const opsItemQuota = 10000

func (b *builder) severities(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	if !b.once(loc, &b.severitiesFrom) {
		return
	}
	seen := map[string]bool{}
	for _, m := range n.members {
		l := loc.at(m.value, m.key)
		l.off = m.keyStart
		if seen[m.key] {
			b.errAt(l, "given twice")
			continue
		}
		seen[m.key] = true
		if !nameRE.MatchString(m.key) {
			b.errAt(l, "%q is not a valid severity name", m.key)
		}
		sev := b.severity(l, m.key, m.value)
		if sev != nil {
			b.set.Severities[m.key] = sev
		}
	}
}

var arnSNSRE = lazyregexp.New(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$`)

func (b *builder) severity(loc location, name string, n *node) *Severity {
	if !b.want(loc, n, kindObject) {
		return nil
	}
	b.fields(loc, n, severityFields)
	s := &Severity{Name: name}
	if o := n.get("opsItemSeverity"); o != nil {
		if v, ok := b.str(loc.at(o, "opsItemSeverity"), o); ok {
			if v < "1" || v > "4" || len(v) != 1 {
				b.errAt(loc.at(o, "opsItemSeverity"), "want \"1\" (most severe) to \"4\", found %q", v)
			}
			s.OpsItemSeverity = v
		}
	} else {
		b.errAt(loc, "missing opsItemSeverity (\"1\" to \"4\")")
	}
	if p := n.get("priority"); p != nil {
		s.Priority, _ = b.int(loc.at(p, "priority"), p, 1, 5)
	} else {
		b.errAt(loc, "missing priority (1 to 5)")
	}
	if nt := n.get("notify"); nt != nil {
		s.Notify = b.topics(loc, nt, "notify")
	}
	if rb := n.get("runbooks"); rb != nil {
		if docs, ok := b.strings(loc.at(rb, "runbooks"), rb); ok {
			for i, d := range docs {
				if !runbookRE.MatchString(d) {
					b.errAt(loc.at(rb.elems[i], fmt.Sprintf("runbooks[%d]", i)), "%q is not an SSM document name or ARN", d)
				}
			}
			s.Runbooks = docs
		}
	}
	if rt := n.get("responseTime"); rt != nil {
		s.ResponseTime, _ = b.duration(loc.at(rt, "responseTime"), rt)
	}
	s.Plan = b.plan(loc, n)
	if et := n.get("escalateTo"); et != nil && s.ResponseTime == 0 {
		b.errAt(loc.at(et, "escalateTo"), "needs a responseTime: escalation happens when it passes")
	}
	if a := n.get("analysis"); a != nil {
		s.Analysis, _ = b.bool(loc.at(a, "analysis"), a)
	}
	return s
}

// plan reads the response plan fields of a severity or a plan.
func (b *builder) plan(loc location, n *node) Plan {
	var p Plan
	if et := n.get("escalateTo"); et != nil {
		p.EscalateTo = b.topics(loc, et, "escalateTo")
	}
	if st := n.get("steps"); st != nil {
		if steps, ok := b.strings(loc.at(st, "steps"), st); ok {
			for i, step := range steps {
				if strings.TrimSpace(step) == "" || len(step) > maxStep {
					b.errAt(loc.at(st.elems[i], fmt.Sprintf("steps[%d]", i)), "want a step of 1 to %d characters", maxStep)
				}
			}
			if len(steps) > maxSteps {
				b.errAt(loc.at(st, "steps"), "%d steps: at most %d fit the OpsItem's description", len(steps), maxSteps)
			}
			p.Steps = steps
		}
	}
	if o := n.get("owner"); o != nil {
		l := loc.at(o, "owner")
		if b.want(l, o, kindObject) {
			b.fields(l, o, []string{"name", "notify"})
			if nm := o.get("name"); nm == nil {
				b.errAt(l, "missing name: the role responders know the owner by")
			} else if v, ok := b.str(l.at(nm, "name"), nm); ok {
				if strings.TrimSpace(v) == "" || len(v) > 64 {
					b.errAt(l.at(nm, "name"), "want 1 to 64 characters")
				}
				p.Owner.Name = v
			}
			if nt := o.get("notify"); nt != nil {
				if v, ok := b.str(l.at(nt, "notify"), nt); ok {
					if !isTopic(v) {
						b.errAt(l.at(nt, "notify"), "%q is not an SNS topic ARN nor %q (the deployment's topic)", v, DefaultTopic)
					}
					p.Owner.Notify = v
				}
			}
		}
	}
	return p
}

// plans reads "plans": response plans by category ("Security") and by a
// category's severity ("Security/critical").
func (b *builder) plans(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	if !b.once(loc, &b.plansFrom) {
		return
	}
	b.set.Plans = map[string]*Plan{}
	for _, m := range n.members {
		l := loc.at(m.value, m.key)
		l.off = m.keyStart
		if b.set.Plans[m.key] != nil {
			b.errAt(l, "given twice")
			continue
		}
		cat, sev, bySeverity := strings.Cut(m.key, "/")
		if !slices.Contains(Categories, cat) {
			b.errAt(l, "%q is not a category (want one of %s, or category/severity)", cat, strings.Join(Categories, ", "))
			continue
		}
		if bySeverity {
			b.severityRefs = append(b.severityRefs, severityRef{loc: l, name: sev})
		}
		if !b.want(l, m.value, kindObject) {
			continue
		}
		b.fields(l, m.value, planFields)
		p := b.plan(l, m.value)
		b.set.Plans[m.key] = &p
	}
}

// Bounds on a response plan's steps: what the OpsItem's description can
// show beside the facts.
const (
	maxSteps = 10
	maxStep  = 300
)

// topics reads the list of SNS topics n of a severity's field.
func (b *builder) topics(loc location, n *node, field string) []string {
	arns, ok := b.strings(loc.at(n, field), n)
	if !ok {
		return nil
	}
	for i, a := range arns {
		if !isTopic(a) {
			b.errAt(loc.at(n.elems[i], fmt.Sprintf("%s[%d]", field, i)), "%q is not an SNS topic ARN nor %q (the deployment's topic)", a, DefaultTopic)
		}
	}
	return arns
}

func isTopic(s string) bool { return s == DefaultTopic || arnSNSRE.MatchString(s) }

// DefaultTopic in a severity's notify list stands for the notification topic
// the deployment creates.
const DefaultTopic = "default"

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func (b *builder) silence(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	s := &Silence{File: loc.file.Name}
	s.Line, _ = lineCol(loc.file.Data, n.start)
	b.fields(loc, n, silenceFields)
	if nn := n.get("name"); nn != nil {
		if name, ok := b.str(loc.at(nn, "name"), nn); ok {
			s.Name = name
			if b.silenceAt == nil {
				b.silenceAt = map[string]string{}
			}
			if prev, dup := b.silenceAt[name]; dup {
				b.errAt(loc.at(nn, "name"), "duplicate silence name %q (first defined at %s)", name, prev)
			}
			b.silenceAt[name] = fmt.Sprintf("%s:%d", s.File, s.Line)
		}
	} else {
		b.errAt(loc, "missing name")
	}
	if c := n.get("comment"); c != nil {
		s.Comment, _ = b.str(loc.at(c, "comment"), c)
	}
	if p := n.get("pattern"); p != nil {
		s.Pattern = b.pattern(loc.at(p, "pattern"), p, nil)
	} else {
		b.errAt(loc, "missing pattern")
	}
	start, end, sched := n.get("start"), n.get("end"), n.get("schedule")
	switch {
	case sched != nil && (start != nil || end != nil):
		b.errAt(loc, "give either start and end (one-off) or schedule (recurring), not both")
	case sched != nil:
		s.Schedule = b.schedule(loc.at(sched, "schedule"), sched)
	case start != nil && end != nil:
		s.Start, _ = b.time(loc.at(start, "start"), start)
		s.End, _ = b.time(loc.at(end, "end"), end)
		if !s.End.After(s.Start) {
			b.errAt(loc.at(end, "end"), "must be after start")
		}
	default:
		b.errAt(loc, "needs start and end (one-off) or schedule (recurring)")
	}
	b.set.Silences = append(b.set.Silences, s)
}

func (b *builder) time(loc location, n *node) (time.Time, bool) {
	s, ok := b.str(loc, n)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		b.errAt(loc, "want an RFC 3339 time such as \"2026-12-01T22:00:00Z\", found %q", s)
		return time.Time{}, false
	}
	return t, true
}

func (b *builder) schedule(loc location, n *node) *Schedule {
	if !b.want(loc, n, kindObject) {
		return nil
	}
	b.fields(loc, n, scheduleFields)
	sc := &Schedule{Location: time.UTC}
	if d := n.get("days"); d != nil {
		if days, ok := b.strings(loc.at(d, "days"), d); ok {
			for i, day := range days {
				wd, known := weekdays[strings.ToLower(day)]
				if !known {
					b.errAt(loc.at(d.elems[i], fmt.Sprintf("days[%d]", i)), "unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)", day)
				}
				sc.Days = append(sc.Days, wd)
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *time.Duration
	}{{"from", &sc.From}, {"to", &sc.To}} {
		fn := n.get(f.key)
		if fn == nil {
			b.errAt(loc, "missing %s (\"HH:MM\")", f.key)
			continue
		}
		s, ok := b.str(loc.at(fn, f.key), fn)
		if !ok {
			continue
		}
		t, err := time.Parse("15:04", s)
		if err != nil {
			b.errAt(loc.at(fn, f.key), "want a time of day \"HH:MM\", found %q", s)
			continue
		}
		*f.dst = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	if tz := n.get("timezone"); tz != nil {
		if name, ok := b.str(loc.at(tz, "timezone"), tz); ok {
			l, err := time.LoadLocation(name)
			if err != nil {
				b.errAt(loc.at(tz, "timezone"), "unknown time zone %q", name)
			} else {
				sc.Location = l
			}
		}
	}
	return sc
}

// crossCheck resolves what only all files together can tell.
func (b *builder) crossCheck() {
	s := b.set
	for _, ref := range b.severityRefs {
		if _, ok := s.Severities[ref.name]; !ok {
			known := make([]string, 0, len(s.Severities))
			for k := range s.Severities {
				known = append(known, k)
			}
			sort.Strings(known)
			if len(known) == 0 {
				b.errAt(ref.loc, "unknown severity %q: no file defines \"severities\"", ref.name)
			} else {
				b.errAt(ref.loc, "unknown severity %q (defined: %s)", ref.name, strings.Join(known, ", "))
			}
		}
	}
	for name := range s.Severities {
		s.Order = append(s.Order, name)
	}
	sort.Slice(s.Order, func(i, j int) bool {
		a, c := s.Severities[s.Order[i]], s.Severities[s.Order[j]]
		if a.OpsItemSeverity != c.OpsItemSeverity {
			return a.OpsItemSeverity < c.OpsItemSeverity
		}
		if a.Priority != c.Priority {
			return a.Priority < c.Priority
		}
		return s.Order[i] < s.Order[j]
	})
	s.Defaults = builtinDefaults
	if b.defaults != nil {
		s.Defaults = *b.defaults
	}
	s.Problems = builtinRecurrence
	if b.recurrence != nil {
		s.Problems = *b.recurrence
	}
	for _, rd := range b.perRuleDefaults {
		if rd.escalation {
			rd.rule.Escalation = s.Defaults.Escalation
		}
		if rd.flapping {
			rd.rule.Flapping = s.Defaults.Flapping
		}
		if rd.problems {
			rd.rule.Problems = s.Problems
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closest suggests the known name a typo most likely meant.
func closest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// toValue converts a node back to plain Go values for merging.
func toValue(n *node) any {
	switch n.kind {
	case kindObject:
		m := make(map[string]any, len(n.members))
		for _, mem := range n.members {
			m[mem.key] = toValue(mem.value)
		}
		return m
	case kindArray:
		a := make([]any, len(n.elems))
		for i, e := range n.elems {
			a[i] = toValue(e)
		}
		return a
	case kindString:
		return n.str
	case kindNumber:
		return n.num
	case kindBool:
		return n.boolean
	}
	return nil
}

// The forms of the ids a scope names.
var (
	accountRE = lazyregexp.New(`^[0-9]{12}$`)
	ouRE      = lazyregexp.New(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	regionRE  = lazyregexp.New(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// scope reads a rule's "scope": {"accounts": [...], "ous": [...], "regions": [...]}.
func (b *builder) scope(loc location, n *node) Scope {
	var sc Scope
	if !b.want(loc, n, kindObject) {
		return sc
	}
	b.fields(loc, n, []string{"accounts", "ous", "regions"})
	for _, f := range []struct {
		name string
		re   *lazyregexp.Regexp
		what string
		dst  *[]string
	}{
		{"accounts", accountRE, "an AWS account id (12 digits)", &sc.Accounts},
		{"ous", ouRE, "an organizational unit id (ou-...)", &sc.OUs},
		{"regions", regionRE, "a Region name (eu-west-1)", &sc.Regions},
	} {
		v := n.get(f.name)
		if v == nil {
			continue
		}
		l := loc.at(v, f.name)
		list, ok := b.strings(l, v)
		if !ok {
			continue
		}
		if len(list) == 0 {
			b.errAt(l, "empty: leave it out to mean any")
		}
		for i, s := range list {
			if !f.re.MatchString(s) {
				b.errAt(l.at(v.elems[i], fmt.Sprintf("%s[%d]", f.name, i)), "%q is not %s", s, f.what)
			}
		}
		*f.dst = list
	}
	return sc
}

// The access portal's URL (its default or custom subdomain) and a
// permission set's name.
var (
	portalURLRE = lazyregexp.New(`^https://[a-z0-9][a-z0-9-]{0,62}\.awsapps\.com/start/?$`)
	permSetRE   = lazyregexp.New(`^[\w+=,.@-]{1,32}$`)
)

// accessPortal reads {"url": ..., "role": ...}.
func (b *builder) accessPortal(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	b.fields(loc, n, []string{"url", "role"})
	p := &AccessPortal{}
	for _, f := range []struct {
		name string
		re   *lazyregexp.Regexp
		what string
		dst  *string
	}{
		{"url", portalURLRE, "an IAM Identity Center access portal URL, https://SUBDOMAIN.awsapps.com/start", &p.URL},
		{"role", permSetRE, "a permission set name (up to 32 letters, digits and +=,.@_-)", &p.Role},
	} {
		v := n.get(f.name)
		if v == nil {
			b.errAt(loc, "missing %s: want %s", f.name, f.what)
			continue
		}
		if s, ok := b.str(loc.at(v, f.name), v); ok {
			if !f.re.MatchString(s) {
				b.errAt(loc.at(v, f.name), "%q: want %s", s, f.what)
				continue
			}
			*f.dst = s
		}
	}
	if p.URL != "" && p.Role != "" {
		b.set.AccessPortal = p
	}
}

// opsItemAccount reads where OpsItems are created.
func (b *builder) opsItemAccount(loc location, n *node) string {
	s, ok := b.str(loc, n)
	if !ok {
		return ""
	}
	if s != OpsItemsCentral && s != OpsItemsMember {
		b.errAt(loc, "%q: want %q (the deployment's account) or %q (the event's account, through OpsCenter's cross-account support)", s, OpsItemsCentral, OpsItemsMember)
		return ""
	}
	return s
}

// organization reads "organization": {"units": {"ou-...": ["<account id>", ...]}},
// the organizational units rules may scope themselves to.
func (b *builder) organization(loc location, n *node) {
	if !b.want(loc, n, kindObject) {
		return
	}
	b.fields(loc, n, []string{"units", "opsItemAccount", "accessPortal"})
	if a := n.get("opsItemAccount"); a != nil {
		b.set.OpsItemAccount = b.opsItemAccount(loc.at(a, "opsItemAccount"), a)
	}
	if p := n.get("accessPortal"); p != nil {
		b.accessPortal(loc.at(p, "accessPortal"), p)
	}
	u := n.get("units")
	if u == nil || !b.want(loc.at(u, "units"), u, kindObject) {
		return
	}
	b.set.Units = map[string][]string{}
	for _, m := range u.members {
		l := loc.at(m.value, "units."+m.key)
		l.off = m.keyStart
		if !ouRE.MatchString(m.key) {
			b.errAt(l, "%q is not an organizational unit id (ou-...)", m.key)
			continue
		}
		accounts, ok := b.strings(l, m.value)
		if !ok {
			continue
		}
		for i, a := range accounts {
			if !accountRE.MatchString(a) {
				b.errAt(l.at(m.value.elems[i], fmt.Sprintf("units.%s[%d]", m.key, i)), "%q is not an AWS account id (12 digits)", a)
			}
		}
		b.set.Units[m.key] = accounts
	}
}

// applyScopes narrows each scoped rule's pattern, and its recoverWhen, to
// the events of its accounts (those listed, and the members of its units)
// and Regions, so that routing and matching both honour it.
func (b *builder) applyScopes() {
	for _, s := range b.scoped {
		r, sc := s.rule, s.rule.Scope
		accounts := slices.Clone(sc.Accounts)
		for _, ou := range sc.OUs {
			members, ok := b.set.Units[ou]
			if !ok {
				b.errAt(s.loc, "scope names the organizational unit %s, which \"organization\" does not list", ou)
				continue
			}
			accounts = append(accounts, members...)
		}
		slices.Sort(accounts)
		accounts = slices.Compact(accounts)
		if len(sc.OUs) > 0 && len(sc.Accounts) == 0 && len(accounts) == 0 {
			b.errAt(s.loc, "scope's organizational units have no accounts: the rule would match nothing")
			continue
		}
		over := map[string]any{}
		if len(accounts) > 0 {
			over["account"] = toAny(accounts)
		}
		if len(sc.Regions) > 0 {
			over["region"] = toAny(sc.Regions)
		}
		base := toValue(s.pattern)
		if bm, ok := base.(map[string]any); ok {
			for k := range over {
				if _, clash := bm[k]; clash {
					b.errAt(s.loc, "pattern and scope both limit %q: say it in one place", k)
				}
			}
		}
		if merged, err := json.Marshal(mergePatterns(base, over)); err == nil {
			r.Pattern = b.pattern(s.loc.at(s.pattern, "pattern"), s.pattern, merged)
		}
		if s.rw != nil && r.Recover != nil {
			if merged, err := json.Marshal(mergePatterns(mergePatterns(base, toValue(s.rw)), over)); err == nil {
				r.Recover = b.pattern(s.loc.at(s.rw, "recoverWhen"), s.rw, merged)
			}
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// mergePatterns overlays over onto base: objects merge key by key, anything
// else in over replaces what base has at that path.
func mergePatterns(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		if bv, ok := out[k]; ok {
			out[k] = mergePatterns(bv, v)
		} else {
			out[k] = v
		}
	}
	return out
}
