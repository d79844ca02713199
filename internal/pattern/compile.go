package pattern

import (
	"errors"
	"fmt"
	"slices"
)

// Error says why a pattern is invalid and where.
type Error struct {
	Path   string // dot-joined path of the offending field; "" for the pattern as a whole
	Reason string
}

// Error formats the error as "<path>: <reason>", or "pattern: <reason>" when
// it concerns the pattern as a whole.
func (e *Error) Error() string {
	if e.Path == "" {
		return "pattern: " + e.Reason
	}
	return e.Path + ": " + e.Reason
}

const (
	// maxFields is the most fields one alternative of a rule may name
	// (EventBridge's matching engine refuses larger rules).
	maxFields = 256
	// maxClauses bounds the alternatives "$or" may expand to, so a short
	// pattern cannot take unbounded time and memory to compile.
	maxClauses = 1024
)

// reservedInOr are names that cannot be field names inside "$or", because
// EventBridge reserves them for operators.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true, "anything-but": true,
	"exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
	"regex": true, "not-wildcard": true, "not-equals-ignore-case": true,
	"date-after": true, "date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

// Pattern is a compiled EventBridge event pattern.
type Pattern struct {
	clauses   []clause // alternatives: the pattern matches if any clause does
	canonical string
}

// clause is one alternative of a pattern: every slot must be satisfied,
// checked in slot order (see MatchFields).
type clause struct {
	slots []*slot
}

// slot is one field of a clause: its path and the values it accepts.
type slot struct {
	path   string
	conds  []*cond // positive conditions, in pattern order
	absent bool    // the list holds {"exists": false}
	canon  string  // canonical JSON of the whole value list
}

// Compile parses and validates one EventBridge event pattern (JSON text).
// Errors are *Error.
func Compile(src []byte) (*Pattern, error) {
	doc, err := parseJSON(string(src))
	if err != nil {
		return nil, &Error{Reason: err.Error()}
	}
	if doc.kind != jsonObject {
		return nil, &Error{Reason: "must be a JSON object"}
	}
	var c compiler
	if err := c.object(doc, "", true, false); err != nil {
		return nil, err
	}
	p := &Pattern{}
	for _, fields := range c.clauses {
		if len(fields.order) > maxFields {
			return nil, &Error{Reason: fmt.Sprintf("more than %d fields", maxFields)}
		}
		cl := clause{}
		for _, path := range fields.order {
			cl.slots = append(cl.slots, fields.byPath[path])
		}
		slices.SortStableFunc(cl.slots, func(a, b *slot) int { return compareUTF16(a.path, b.path) })
		p.clauses = append(p.clauses, cl)
	}
	p.clauses = dedupeClauses(p.clauses)
	p.canonical = canonical(p.clauses)
	return p, nil
}

// fieldSet is a clause under construction: path -> slot, where a later
// definition of a path replaces an earlier one, as in EventBridge.
type fieldSet struct {
	order  []string
	byPath map[string]*slot
}

func (f fieldSet) clone() fieldSet {
	c := fieldSet{order: slices.Clone(f.order), byPath: make(map[string]*slot, len(f.byPath))}
	for k, v := range f.byPath {
		c.byPath[k] = v
	}
	return c
}

func (f *fieldSet) put(s *slot) {
	if f.byPath == nil {
		f.byPath = map[string]*slot{}
	}
	if _, ok := f.byPath[s.path]; !ok {
		f.order = append(f.order, s.path)
	}
	f.byPath[s.path] = s
}

type compiler struct {
	clauses []fieldSet
}

func join(parent string, root bool, key string) string {
	if root {
		return key
	}
	return parent + "." + key
}

// object walks a pattern object in document order, the way EventBridge reads
// it: nested objects extend the path, arrays are value lists, and "$or"
// forks every alternative built so far.
func (c *compiler) object(v jsonValue, path string, root, inOr bool) error {
	if len(v.members) == 0 {
		return &Error{Path: path, Reason: "empty object"}
	}
	for _, m := range v.members {
		if m.key == "$or" {
			if err := c.or(m.value, path, root); err != nil {
				return err
			}
			continue
		}
		field := join(path, root, m.key)
		if inOr && reservedInOr[m.key] {
			return &Error{Path: field, Reason: fmt.Sprintf("%q is reserved for an operator and cannot be a field name inside $or", m.key)}
		}
		switch m.value.kind {
		case jsonObject:
			if err := c.object(m.value, field, false, inOr); err != nil {
				return err
			}
		case jsonArray:
			s, err := compileSlot(m.value, field)
			if err != nil {
				return err
			}
			if len(c.clauses) == 0 {
				c.clauses = []fieldSet{{}}
			}
			for i := range c.clauses {
				c.clauses[i].put(s)
			}
		default:
			return &Error{Path: field, Reason: "must be an object or an array of values"}
		}
	}
	return nil
}

func (c *compiler) or(v jsonValue, path string, root bool) error {
	orPath := join(path, root, "$or")
	if v.kind != jsonArray {
		return &Error{Path: orPath, Reason: "must be an array of objects"}
	}
	if len(v.items) < 2 {
		return &Error{Path: orPath, Reason: "must hold at least 2 objects"}
	}
	before := c.clauses
	var after []fieldSet
	for i, item := range v.items {
		if item.kind != jsonObject {
			return &Error{Path: orPath, Reason: fmt.Sprintf("element %d is not an object", i)}
		}
		branch := compiler{}
		for _, f := range before {
			branch.clauses = append(branch.clauses, f.clone())
		}
		if err := branch.object(item, path, root, true); err != nil {
			return err
		}
		if len(branch.clauses) == 0 {
			branch.clauses = []fieldSet{{}}
		}
		after = append(after, branch.clauses...)
		if len(after) > maxClauses {
			return &Error{Path: orPath, Reason: fmt.Sprintf("expands to more than %d alternatives", maxClauses)}
		}
	}
	c.clauses = after
	return nil
}

// compileSlot compiles a field's value list.
func compileSlot(list jsonValue, path string) (*slot, error) {
	if len(list.items) == 0 {
		return nil, &Error{Path: path, Reason: "empty array"}
	}
	if len(path) > MaxPathLength {
		return nil, &Error{Path: path[:64] + "…", Reason: fmt.Sprintf("field path of %d bytes, longer than the %d opsloop reads", len(path), MaxPathLength)}
	}
	s := &slot{path: path, canon: string(appendJSON(nil, list))}
	var globs []*glob
	for _, item := range list.items {
		c, err := compileValue(item)
		if err != nil {
			return nil, &Error{Path: path, Reason: err.Error()}
		}
		if c.kind == condAbsent {
			s.absent = true
		} else {
			s.conds = append(s.conds, c)
		}
		if c.glob != nil {
			globs = append(globs, c.glob)
		}
		globs = append(globs, c.globs...)
	}
	if len(globs) > 0 && wildcardComplexity(globs) > maxWildcardComplexity {
		return nil, &Error{Path: path, Reason: "wildcard: rule is too complex; use fewer '*' or fewer repeated character sequences after a '*'"}
	}
	return s, nil
}

func compileValue(v jsonValue) (*cond, error) {
	c := &cond{canon: string(appendJSON(nil, v))}
	switch v.kind {
	case jsonString:
		c.kind, c.str = condString, v.text
		if a, ok := parseIP(v.text); ok {
			c.kind, c.addr = condIP, a
		}
	case jsonNumber:
		c.kind, c.text = condNumber, v.text
		c.num, c.fin = parseFinite(v.text)
	case jsonTrue:
		c.kind = condTrue
	case jsonFalse:
		c.kind = condFalse
	case jsonNull:
		c.kind = condNull
	case jsonArray:
		return nil, errors.New("a value list cannot contain an array")
	case jsonObject:
		return compileOperator(v, c)
	}
	return c, nil
}

// onlyKey checks an operator object has exactly one member.
func onlyKey(v jsonValue, op string) error {
	if len(v.members) > 1 {
		return fmt.Errorf("%s: unexpected extra key %q (an operator object has exactly one key)", op, v.members[1].key)
	}
	return nil
}

func compileOperator(v jsonValue, c *cond) (*cond, error) {
	if len(v.members) == 0 {
		return nil, errors.New("empty operator object")
	}
	op, arg := v.members[0].key, v.members[0].value
	var err error
	switch op {
	case "exactly":
		if arg.kind != jsonString {
			return nil, errors.New("exactly: must be a string")
		}
		c.kind, c.str = condString, arg.text
	case "prefix", "suffix":
		err = compileAffix(c, op, arg)
	case "equals-ignore-case":
		if arg.kind != jsonString {
			return nil, errors.New("equals-ignore-case: must be a string")
		}
		c.kind, c.str, c.fold = condEqualsIgnoreCase, arg.text, fold(arg.text)
	case "wildcard":
		if arg.kind != jsonString {
			return nil, errors.New("wildcard: must be a string")
		}
		g, gerr := parseGlob(arg.text)
		if gerr != nil {
			return nil, fmt.Errorf("wildcard: %w", gerr)
		}
		c.kind, c.str, c.glob = condWildcard, arg.text, g
	case "numeric":
		err = compileNumeric(c, arg)
	case "anything-but":
		err = compileAnythingBut(c, arg)
	case "exists":
		switch arg.kind {
		case jsonTrue:
			c.kind = condExists
		case jsonFalse:
			c.kind = condAbsent
		default:
			return nil, errors.New("exists: must be true or false")
		}
	case "cidr":
		if arg.kind != jsonString {
			return nil, errors.New("cidr: must be a string")
		}
		r, cerr := parseCIDR(arg.text)
		if cerr != nil {
			return nil, fmt.Errorf("cidr: %w", cerr)
		}
		c.kind, c.str, c.ips = condCIDR, arg.text, r
	default:
		return nil, fmt.Errorf("unknown operator %q", op)
	}
	if err != nil {
		return nil, err
	}
	if err := onlyKey(v, op); err != nil {
		return nil, err
	}
	return c, nil
}

// compileAffix handles prefix and suffix, plain or {"equals-ignore-case": s}.
func compileAffix(c *cond, op string, arg jsonValue) error {
	switch arg.kind {
	case jsonString:
		c.str = arg.text
		c.kind = condPrefix
		if op == "suffix" {
			c.kind = condSuffix
		}
		return nil
	case jsonObject:
		if len(arg.members) == 0 {
			return fmt.Errorf("%s: empty object", op)
		}
		inner := arg.members[0]
		if inner.key != "equals-ignore-case" {
			return fmt.Errorf("%s: unsupported option %q (only equals-ignore-case)", op, inner.key)
		}
		if inner.value.kind != jsonString {
			return fmt.Errorf("%s: equals-ignore-case: must be a string", op)
		}
		if err := onlyKey(arg, op); err != nil {
			return err
		}
		c.str, c.fold = inner.value.text, fold(inner.value.text)
		c.kind = condPrefixIgnoreCase
		if op == "suffix" {
			c.kind = condSuffixIgnoreCase
		}
		return nil
	default:
		return fmt.Errorf("%s: must be a string or {\"equals-ignore-case\": string}", op)
	}
}

func numericOperand(op string, v jsonValue) (float64, error) {
	if v.kind != jsonNumber {
		return 0, fmt.Errorf("numeric: value after %q must be a number", op)
	}
	n, ok := parseFinite(v.text)
	if !ok {
		return 0, fmt.Errorf("numeric: %s is out of range", v.text)
	}
	if _, ok := comparableNumber(n); !ok {
		return 0, fmt.Errorf("numeric: %s is out of range: EventBridge compares numbers from -5e9 to 5e9", v.text)
	}
	return n, nil
}

// compileNumeric accepts ["=", n], [">"|">=", n], ["<"|"<=", n] and
// [">"|">=", low, "<"|"<=", high] with low < high.
func compileNumeric(c *cond, arg jsonValue) error {
	if arg.kind != jsonArray {
		return errors.New("numeric: must be an array such as [\">\", 0, \"<=\", 5]")
	}
	items := arg.items
	if len(items) == 0 || items[0].kind != jsonString {
		return errors.New("numeric: must start with an operator: =, <, <=, > or >=")
	}
	c.kind = condNumeric
	op := items[0].text
	if op != "=" && op != "<" && op != "<=" && op != ">" && op != ">=" {
		return fmt.Errorf("numeric: unknown operator %q", op)
	}
	if len(items) < 2 {
		return fmt.Errorf("numeric: value after %q must be a number", op)
	}
	n, err := numericOperand(op, items[1])
	if err != nil {
		return err
	}
	rest := items[2:]
	switch op {
	case "=":
		c.lo, c.hi, c.hasLo, c.hasHi = n, n, true, true
	case "<", "<=":
		c.hi, c.hasHi, c.hiOpen = n, true, op == "<"
	default:
		c.lo, c.hasLo, c.loOpen = n, true, op == ">"
	}
	if len(rest) == 0 {
		return nil
	}
	if op == "=" || op == "<" || op == "<=" {
		if rest[0].kind == jsonString && (rest[0].text == ">" || rest[0].text == ">=") {
			return errors.New("numeric: operators out of order (the lower bound > or >= comes first)")
		}
		return fmt.Errorf("numeric: too many elements after %q", op)
	}
	if rest[0].kind != jsonString {
		return errors.New("numeric: expected \"<\" or \"<=\" after the lower bound")
	}
	op2 := rest[0].text
	switch op2 {
	case "<", "<=":
	case ">", ">=", "=":
		return errors.New("numeric: operators out of order (a lower bound must be followed by < or <=)")
	default:
		return fmt.Errorf("numeric: unknown operator %q", op2)
	}
	if len(rest) < 2 {
		return fmt.Errorf("numeric: value after %q must be a number", op2)
	}
	top, err := numericOperand(op2, rest[1])
	if err != nil {
		return err
	}
	if len(rest) > 2 {
		return errors.New("numeric: too many elements in the range")
	}
	if n >= top {
		return errors.New("numeric: lower bound must be less than upper bound")
	}
	c.hi, c.hasHi, c.hiOpen = top, true, op2 == "<"
	return nil
}

// compileAnythingBut accepts a string, a number, a list of strings, a list of
// numbers, or an object {prefix|suffix|equals-ignore-case|wildcard: string or
// list of strings}.
func compileAnythingBut(c *cond, arg jsonValue) error {
	switch arg.kind {
	case jsonString:
		c.kind, c.strs = condNotStrings, []string{arg.text}
	case jsonNumber:
		n, ok := parseFinite(arg.text)
		if !ok {
			return fmt.Errorf("anything-but: %s is out of range", arg.text)
		}
		c.kind, c.nums = condNotNumbers, []float64{n}
	case jsonArray:
		strs, nums := 0, 0
		for _, it := range arg.items {
			switch it.kind {
			case jsonString:
				strs++
				c.strs = append(c.strs, it.text)
			case jsonNumber:
				nums++
				n, ok := parseFinite(it.text)
				if !ok {
					return fmt.Errorf("anything-but: %s is out of range", it.text)
				}
				c.nums = append(c.nums, n)
			default:
				return errors.New("anything-but: a list may hold only strings or only numbers (no null, booleans, objects or arrays)")
			}
		}
		if strs > 0 && nums > 0 || strs+nums == 0 {
			return errors.New("anything-but: a list must be non-empty and hold only strings or only numbers")
		}
		c.kind = condNotStrings
		if nums > 0 {
			c.kind = condNotNumbers
		}
	case jsonObject:
		return compileAnythingButObject(c, arg)
	default:
		return errors.New("anything-but: must be a string, a number, a list, or an object with prefix, suffix, equals-ignore-case or wildcard")
	}
	return nil
}

func compileAnythingButObject(c *cond, arg jsonValue) error {
	if len(arg.members) == 0 {
		return errors.New("anything-but: empty object")
	}
	op, val := arg.members[0].key, arg.members[0].value
	switch op {
	case "prefix":
		c.kind = condNotPrefixes
	case "suffix":
		c.kind = condNotSuffixes
	case "equals-ignore-case":
		c.kind = condNotIgnoreCase
	case "wildcard":
		c.kind = condNotWildcards
	default:
		return fmt.Errorf("anything-but: unsupported operator %q (use prefix, suffix, equals-ignore-case or wildcard)", op)
	}
	var operands []jsonValue
	switch val.kind {
	case jsonString:
		operands = []jsonValue{val}
	case jsonArray:
		operands = val.items
	default:
		return fmt.Errorf("anything-but: %s: must be a string or a list of strings", op)
	}
	for _, it := range operands {
		if it.kind != jsonString {
			return fmt.Errorf("anything-but: %s: must be a string or a list of strings", op)
		}
		switch c.kind {
		case condNotPrefixes, condNotSuffixes:
			if it.text == "" {
				return fmt.Errorf("anything-but: %s: must not be empty", op)
			}
			c.strs = append(c.strs, it.text)
		case condNotIgnoreCase:
			c.strs = append(c.strs, it.text)
		case condNotWildcards:
			g, err := parseGlob(it.text)
			if err != nil {
				return fmt.Errorf("anything-but: wildcard: %w", err)
			}
			c.globs = append(c.globs, g)
		}
	}
	if err := onlyKey(arg, "anything-but"); err != nil {
		return err
	}
	return nil
}

// compareUTF16 orders strings as Java does (by UTF-16 code units), which is
// the order EventBridge visits a rule's fields in.
func compareUTF16(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	// Back up to the start of the differing characters.
	for i > 0 && (a[i]&0xC0 == 0x80 || b[i]&0xC0 == 0x80) {
		i--
	}
	ra, rb := decodeAt(a, i), decodeAt(b, i)
	if ua, ub := utf16Unit(ra), utf16Unit(rb); ua != ub {
		return int(ua - ub)
	}
	return int(ra - rb)
}

func decodeAt(s string, i int) rune {
	for _, r := range s[i:] {
		return r
	}
	return 0
}

// utf16Unit is the first UTF-16 code unit of r. Supplementary characters
// sharing it compare in code point order, which is also their UTF-16 order.
func utf16Unit(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}
