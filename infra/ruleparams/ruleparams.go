// Package ruleparams splits the operator's rules files into SSM Parameter
// Store parameters under one path, each a valid rules file on its own, so
// that the functions load them with GetParametersByPath and build them
// together exactly as the files in the repository.
package ruleparams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/opsloop/opsloop/internal/rules"
)

// StandardTierMax is the most bytes a Standard-tier parameter holds (4 KB).
// Standard parameters cost nothing; Advanced ones (8 KB) cost per parameter
// and month, which buys nothing here since the rules split cleanly.
const StandardTierMax = 4096

// Parameter is one rules file as a parameter.
type Parameter struct {
	// Name is the parameter's full name.
	Name string
	// Value is a compact rules file.
	Value string
	// File is the rules file it comes from.
	File string
	// Rules names the rules it holds, in order.
	Rules []string
}

// listFields are split across parameters, entry by entry.
var listFields = []string{"rules", "silences"}

// headerFields are every other top-level field of a rules file (set once
// per deployment: severities, plans, organization, redact, ...); they
// travel together in the first parameter of the file that sets them.
var headerFields = slices.DeleteFunc(rules.TopFields(), func(f string) bool { return f == "$schema" || slices.Contains(listFields, f) })

var nameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// ValidatePath checks that dir can hold parameters: an absolute
// Parameter Store path, not reserved by AWS.
func ValidatePath(dir string) error {
	switch {
	case !strings.HasPrefix(dir, "/") || strings.HasSuffix(dir, "/") || strings.Contains(dir, "//"):
		return fmt.Errorf("rules parameter path %q: want an absolute path such as /opsloop/rules, without a trailing slash", dir)
	case regexp.MustCompile(`[^A-Za-z0-9_./-]`).MatchString(dir):
		return fmt.Errorf("rules parameter path %q: only letters, digits and _ . - / are allowed", dir)
	case strings.HasPrefix(strings.ToLower(dir), "/aws") || strings.HasPrefix(strings.ToLower(dir), "/ssm"):
		return fmt.Errorf("rules parameter path %q: paths starting with /aws or /ssm are reserved", dir)
	case strings.Count(dir, "/") > 14:
		return fmt.Errorf("rules parameter path %q: more than 14 levels leaves no room for the parameters", dir)
	}
	return nil
}

// Split validates files and splits them into parameters under dir, each at
// most limit bytes. Invalid rules fail with the validator's rules.Errors;
// an entry too large for one parameter fails naming it and its file:line.
func Split(dir string, files []rules.File, limit int) ([]Parameter, error) {
	if err := ValidatePath(dir); err != nil {
		return nil, err
	}
	set, err := rules.Build(files)
	if err != nil {
		return nil, err
	}
	width := max(2, len(fmt.Sprint(len(files)-1)))
	var params []Parameter
	for i, f := range files {
		base := nameChars.ReplaceAllString(strings.TrimSuffix(path.Base(filepathSlash(f.Name)), ".json"), "-")
		parts, err := splitFile(f, set, limit)
		if err != nil {
			return nil, err
		}
		pw := max(2, len(fmt.Sprint(len(parts)-1)))
		for j, p := range parts {
			p.Name = fmt.Sprintf("%s/%0*d-%s-%0*d", dir, width, i, base, pw, j)
			params = append(params, p)
		}
	}
	if err := verify(set, params); err != nil {
		return nil, err
	}
	return params, nil
}

func filepathSlash(name string) string { return strings.ReplaceAll(name, `\`, "/") }

// part is a parameter under construction.
type part struct {
	header map[string]json.RawMessage
	lists  map[string][]json.RawMessage
	rules  []string
}

func (p *part) empty() bool { return len(p.header) == 0 && len(p.lists) == 0 }

// value renders the part as a compact rules file whose strings never hold
// "{{", which Parameter Store refuses in values (rule titles use it for
// placeholders): JSON's \u007b escape reads back as the same text.
func (p *part) value() ([]byte, error) {
	obj := map[string]any{}
	for k, v := range p.header {
		obj[k] = v
	}
	for k, v := range p.lists {
		obj[k] = v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return escapeBraces(bytes.TrimSpace(b.Bytes())), nil
}

func splitFile(f rules.File, set *rules.Set, limit int) ([]Parameter, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(f.Data, &top); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	cur := &part{header: map[string]json.RawMessage{}, lists: map[string][]json.RawMessage{}}
	var out []Parameter
	flush := func() error {
		v, err := cur.value()
		if err != nil {
			return err
		}
		out = append(out, Parameter{Value: string(v), File: f.Name, Rules: cur.rules})
		cur = &part{header: map[string]json.RawMessage{}, lists: map[string][]json.RawMessage{}}
		return nil
	}
	// Each field set once per deployment goes whole into a parameter,
	// with the others as long as they fit.
	for _, k := range headerFields {
		v, ok := top[k]
		if !ok {
			continue
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.Name, k, err)
		}
		try := &part{header: maps.Clone(cur.header), lists: cur.lists}
		try.header[k] = c.Bytes()
		if tv, err := try.value(); err != nil {
			return nil, err
		} else if len(tv) <= limit {
			cur = try
			continue
		}
		alone := &part{header: map[string]json.RawMessage{k: c.Bytes()}}
		if av, err := alone.value(); err != nil {
			return nil, err
		} else if len(av) > limit {
			return nil, fmt.Errorf("%s: %q takes %d bytes as a parameter, more than the %d one parameter holds", f.Name, k, len(av), limit)
		}
		if err := flush(); err != nil {
			return nil, err
		}
		cur.header[k] = c.Bytes()
	}
	for _, field := range listFields {
		raw, ok := top[field]
		if !ok {
			continue
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.Name, field, err)
		}
		for _, e := range entries {
			var c bytes.Buffer
			if err := json.Compact(&c, e); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", f.Name, field, err)
			}
			var named struct{ Name string }
			_ = json.Unmarshal(e, &named)
			try := &part{header: cur.header, lists: map[string][]json.RawMessage{}, rules: cur.rules}
			for k, v := range cur.lists {
				try.lists[k] = v
			}
			try.lists[field] = append(slices.Clone(cur.lists[field]), c.Bytes())
			if field == "rules" {
				try.rules = append(slices.Clone(cur.rules), named.Name)
			}
			v, err := try.value()
			if err != nil {
				return nil, err
			}
			if len(v) <= limit {
				cur = try
				continue
			}
			if !cur.empty() {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			alone := &part{lists: map[string][]json.RawMessage{field: {c.Bytes()}}}
			if v, err := alone.value(); err != nil {
				return nil, err
			} else if len(v) > limit {
				return nil, tooLarge(f, set, field, named.Name, len(v), limit)
			}
			cur.lists[field] = []json.RawMessage{c.Bytes()}
			if field == "rules" {
				cur.rules = []string{named.Name}
			}
		}
	}
	if !cur.empty() || len(out) == 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func tooLarge(f rules.File, set *rules.Set, field, name string, size, limit int) error {
	where := f.Name
	if r := set.Rule(name); field == "rules" && r != nil {
		where = fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	kind := strings.TrimSuffix(field, "s")
	return fmt.Errorf("%s: %s %q takes %d bytes as a parameter, more than the %d an SSM Standard parameter holds: shorten its description, title or pattern, or split it in two", where, kind, name, size, limit)
}

// verify builds the parameters as the functions will and checks that they
// hold the same rules, in the same order, as the files.
func verify(set *rules.Set, params []Parameter) error {
	files := make([]rules.File, len(params))
	for i, p := range params {
		files[i] = rules.File{Name: p.Name, Data: []byte(p.Value)}
	}
	got, err := rules.Build(files)
	if err != nil {
		return fmt.Errorf("the rules split into parameters do not build: %w", err)
	}
	if len(got.Rules) != len(set.Rules) || len(got.Silences) != len(set.Silences) || len(got.Severities) != len(set.Severities) {
		return fmt.Errorf("the rules split into parameters hold %d rules, %d silences and %d severities, want %d, %d and %d",
			len(got.Rules), len(got.Silences), len(got.Severities), len(set.Rules), len(set.Silences), len(set.Severities))
	}
	for i, r := range set.Rules {
		g := got.Rules[i]
		if g.Name != r.Name || !reflect.DeepEqual(g.Digest(), r.Digest()) {
			return fmt.Errorf("the rules split into parameters differ at rule %d: %q, want %q", i, g.Name, r.Name)
		}
	}
	// What is set once per deployment must survive the split as well.
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"plans", got.Plans, set.Plans}, {"organization", []any{got.Units, got.OpsItemAccount, got.AccessPortal}, []any{set.Units, set.OpsItemAccount, set.AccessPortal}},
		{"problems", got.Problems, set.Problems}, {"defaults", got.Defaults, set.Defaults}, {"redact", got.Redact, set.Redact},
		{"budget", got.Budget, set.Budget}, {"severities", got.Severities, set.Severities},
	} {
		a, _ := json.Marshal(f.got)
		b, _ := json.Marshal(f.want)
		if !bytes.Equal(a, b) {
			return fmt.Errorf("the rules split into parameters differ in %s", f.name)
		}
	}
	return nil
}

// escapeBraces rewrites "{" inside JSON strings as \u007b wherever another
// "{" follows it, so the text holds no "{{". Compact JSON has none outside
// strings.
func escapeBraces(b []byte) []byte {
	var out bytes.Buffer
	inString, escaped := false, false
	for i, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString && c == '{' && i+1 < len(b) && b[i+1] == '{':
			out.WriteString(`\u007b`)
			continue
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}
