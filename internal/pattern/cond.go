package pattern

import (
	"net/netip"
	"strconv"
	"strings"
)

type condKind uint8

const (
	condString           condKind = iota // exact string (also {"exactly": s})
	condIP                               // exact string that is an IP literal: any spelling of that address
	condNumber                           // exact number
	condTrue                             // true
	condFalse                            // false
	condNull                             // null
	condPrefix                           // prefix
	condSuffix                           // suffix
	condEqualsIgnoreCase                 // equals-ignore-case
	condPrefixIgnoreCase                 // prefix: {equals-ignore-case}
	condSuffixIgnoreCase                 // suffix: {equals-ignore-case}
	condWildcard                         // wildcard
	condNumeric                          // numeric range
	condCIDR                             // cidr
	condExists                           // exists: true
	condAbsent                           // exists: false
	condNotStrings                       // anything-but string(s)
	condNotNumbers                       // anything-but number(s)
	condNotPrefixes                      // anything-but prefix
	condNotSuffixes                      // anything-but suffix
	condNotIgnoreCase                    // anything-but equals-ignore-case
	condNotWildcards                     // anything-but wildcard
)

// cond is one compiled element of a field's value list.
type cond struct {
	kind  condKind
	canon string // canonical JSON of the element, for String and Explain

	str  string // operand string
	fold string // folded operand, for the ignore-case kinds
	num  float64
	fin  bool   // num holds the operand (condNumber: it fits a float64)
	text string // condNumber: the number as written

	strs  []string  // anything-but strings, prefixes, suffixes
	nums  []float64 // anything-but numbers
	glob  *glob
	globs []*glob
	addr  netip.Addr
	ips   ipRange

	// numeric: lo/hi bounds, present if hasLo/hasHi, exclusive if loOpen/hiOpen
	lo, hi         float64
	hasLo, hasHi   bool
	loOpen, hiOpen bool
}

// matches reports whether the scalar l satisfies c. Absence and existence are
// decided by the caller; condExists accepts any scalar here.
func (c *cond) matches(l *leaf) bool {
	switch c.kind {
	case condString:
		return l.kind == leafString && l.str == c.str
	case condIP:
		if l.kind != leafString {
			return false
		}
		a, ok := parseIP(l.str)
		return ok && a == c.addr
	case condNumber:
		if l.kind != leafNumber {
			return false
		}
		return (l.numOK && c.fin && l.num == c.num) || l.str == c.text
	case condTrue:
		return l.kind == leafTrue
	case condFalse:
		return l.kind == leafFalse
	case condNull:
		return l.kind == leafNull
	case condPrefix:
		return l.kind == leafString && strings.HasPrefix(l.str, c.str)
	case condSuffix:
		return l.kind == leafString && strings.HasSuffix(l.str, c.str)
	case condEqualsIgnoreCase:
		return l.kind == leafString && caseEqual(c.str, l.str)
	case condPrefixIgnoreCase:
		return l.kind == leafString && casePrefix(c.str, l.str)
	case condSuffixIgnoreCase:
		return l.kind == leafString && caseSuffix(c.str, l.str)
	case condWildcard:
		return l.kind == leafString && c.glob.match(l.str)
	case condNumeric:
		return l.kind == leafNumber && l.numOK && c.inRange(l.num)
	case condCIDR:
		if l.kind != leafString {
			return false
		}
		a, ok := parseIP(l.str)
		return ok && c.ips.contains(a)
	case condExists:
		return true
	case condAbsent:
		return false
	case condNotStrings:
		return l.kind != leafString || !contains(c.strs, l.str)
	case condNotNumbers:
		if l.kind != leafNumber || !l.numOK {
			return true
		}
		for _, n := range c.nums {
			if n == l.num {
				return false
			}
		}
		return true
	case condNotPrefixes:
		if l.kind != leafString {
			return true
		}
		for _, p := range c.strs {
			if strings.HasPrefix(l.str, p) {
				return false
			}
		}
		return true
	case condNotSuffixes:
		if l.kind != leafString {
			return true
		}
		for _, p := range c.strs {
			if strings.HasSuffix(l.str, p) {
				return false
			}
		}
		return true
	case condNotIgnoreCase:
		if l.kind != leafString {
			return true
		}
		for _, p := range c.strs {
			if caseEqual(p, l.str) {
				return false
			}
		}
		return true
	case condNotWildcards:
		if l.kind != leafString {
			return true
		}
		for _, g := range c.globs {
			if g.match(l.str) {
				return false
			}
		}
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *cond) inRange(n float64) bool {
	v, ok := comparableNumber(n)
	if !ok {
		return false // EventBridge compares no number outside its range
	}
	if c.hasLo {
		lo, _ := comparableNumber(c.lo)
		if v < lo || (c.loOpen && v == lo) {
			return false
		}
	}
	if c.hasHi {
		hi, _ := comparableNumber(c.hi)
		if v > hi || (c.hiOpen && v == hi) {
			return false
		}
	}
	return true
}

// NumericLimit bounds the numbers numeric conditions compare: EventBridge
// refuses patterns beyond it and compares no event value beyond it.
const NumericLimit = 5e9

// comparableNumber is n as EventBridge compares it in numeric conditions: to six
// decimal places, the digits after them cut off (event-ruler's
// ComparableNumber), so 1.0000001 equals 1. It is false outside
// ±NumericLimit.
func comparableNumber(n float64) (int64, bool) {
	if n < -NumericLimit || n > NumericLimit || n != n {
		return 0, false
	}
	return int64(1e6 * (NumericLimit + n)), true
}

// describe summarises c for people, e.g. `prefix "aws."`.
func (c *cond) describe() string {
	q := func(s string) string { return string(appendJSONString(nil, s)) }
	switch c.kind {
	case condString, condIP:
		return q(c.str)
	case condNumber:
		return c.text
	case condTrue:
		return "true"
	case condFalse:
		return "false"
	case condNull:
		return "null"
	case condPrefix:
		return "prefix " + q(c.str)
	case condSuffix:
		return "suffix " + q(c.str)
	case condEqualsIgnoreCase:
		return "equals-ignore-case " + q(c.str)
	case condPrefixIgnoreCase:
		return "prefix (ignoring case) " + q(c.str)
	case condSuffixIgnoreCase:
		return "suffix (ignoring case) " + q(c.str)
	case condWildcard:
		return "wildcard " + q(c.str)
	case condNumeric:
		var parts []string
		if c.hasLo && c.hasHi && c.lo == c.hi && !c.loOpen && !c.hiOpen {
			return "numeric = " + strconv.FormatFloat(c.lo, 'g', -1, 64)
		}
		if c.hasLo {
			op := ">="
			if c.loOpen {
				op = ">"
			}
			parts = append(parts, op+" "+strconv.FormatFloat(c.lo, 'g', -1, 64))
		}
		if c.hasHi {
			op := "<="
			if c.hiOpen {
				op = "<"
			}
			parts = append(parts, op+" "+strconv.FormatFloat(c.hi, 'g', -1, 64))
		}
		return "numeric " + strings.Join(parts, " and ")
	case condCIDR:
		return "cidr " + q(c.str)
	case condExists:
		return "exists"
	case condAbsent:
		return "does not exist"
	default:
		return c.canon
	}
}
