// Package lazyregexp is a regular expression compiled when first used, not
// at package initialization: a counted repetition such as [a-z]{1,512}
// compiles into hundreds of instructions, and a function's init would pay
// for every validator it links before its first event, used or not.
package lazyregexp

import (
	"regexp"
	"sync"
)

// Regexp is an expression compiled on first use; safe for concurrent use.
type Regexp struct {
	compiled func() *regexp.Regexp
}

// New returns expr to be compiled when first used; a malformed expr panics
// then, as regexp.MustCompile does (the tests use every one).
func New(expr string) *Regexp {
	return &Regexp{compiled: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
}

// MatchString reports whether s contains a match.
func (r *Regexp) MatchString(s string) bool { return r.compiled().MatchString(s) }

// FindStringSubmatch is regexp.Regexp's.
func (r *Regexp) FindStringSubmatch(s string) []string { return r.compiled().FindStringSubmatch(s) }

// String is the expression.
func (r *Regexp) String() string { return r.compiled().String() }
