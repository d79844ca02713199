package pattern

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func FuzzCompile(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.source())
	}
	for _, c := range readJSONL[invalidCase](f, "", "invalid_patterns.jsonl") {
		f.Add(c.source())
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile(src)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Compile(%q) error %T %v, want *Error", src, err, err)
			}
			return
		}
		canon := p.String()
		again, err := Compile([]byte(canon))
		if err != nil {
			t.Fatalf("Compile(%q).String() = %s, which does not compile: %v", src, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("Compile(%s).String() = %s, want %s", canon, again.String(), canon)
		}
	})
}

// fuzzNeighbours share paths with typical fuzz inputs, so the Set index holds
// more than the pattern under test.
var fuzzNeighbours = []string{
	`{"a":["x"]}`,
	`{"a":[{"prefix":""}],"b":[{"exists":false}]}`,
	`{"detail":{"state":[{"anything-but":"x"}]}}`,
	`{"$or":[{"a":[{"numeric":[">",0]}]},{"b":[{"wildcard":"*x*"}]}]}`,
}

func FuzzMatch(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.source(), []byte(c.Event))
	}
	f.Fuzz(func(t *testing.T, src, event []byte) {
		p, err := Compile(src)
		if err != nil {
			return
		}
		fields, err := ParseEvent(event)
		if err != nil {
			return
		}
		want := p.MatchFields(fields)

		s := NewSet()
		for _, n := range fuzzNeighbours {
			np, err := Compile([]byte(n))
			if err != nil {
				t.Fatalf("Compile(%s): %v", n, err)
			}
			s.Add(n, np)
		}
		s.Add("under-test", p)
		got := false
		for _, id := range s.Match(fields) {
			got = got || id == "under-test"
		}
		if got != want {
			t.Fatalf("Set.Match(%s) on %s = %v, Pattern.MatchFields = %v", event, src, got, want)
		}
		canon, err := Compile([]byte(p.String()))
		if err != nil {
			t.Fatalf("Compile(%s): %v", p.String(), err)
		}
		if canon.MatchFields(fields) != want {
			t.Fatalf("canonical %s on %s = %v, source %s = %v", p.String(), event, !want, src, want)
		}
		if misses := p.Explain(fields); (len(misses) == 0) != want {
			t.Fatalf("Explain(%s, %s) = %v, but match = %v", src, event, misses, want)
		}
	})
}

// FuzzParseEventFiltered: a filtered parse keeping a pattern's paths
// accepts exactly the events a full parse accepts (up to the full parse's
// memory bound, which the filtered one need not reach), and the pattern
// matches both the same.
func FuzzParseEventFiltered(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.source(), []byte(c.Event))
	}
	f.Add([]byte(`{"detail":{"a":["x"]}}`), []byte(`{"detail":{"b":[1,{"c":"\u00e9\n"}],"a":["x","y"]},"id":"1","x":[[],{}]}`))
	f.Fuzz(func(t *testing.T, src, event []byte) {
		p, err := Compile(src)
		if err != nil {
			return
		}
		full, ferr := ParseEvent(event)
		// The filter also keeps a path of another pattern, as a
		// classifier's keeps every rule's; a set pairs paths by rank.
		other, err := Compile([]byte(`{"detail":{"a":[{"exists":true}]},"id":[{"prefix":"1"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		filter := NewFilter(append(p.Paths(), other.Paths()...), []string{"id", "detail"}, maxDepth+1)
		set := NewSet()
		set.Add("p", p)
		set.Add("other", other)
		filt, qerr := ParseEventFiltered(event, filter)
		if ferr != nil && qerr == nil && !isMemoryBound(ferr) {
			t.Fatalf("%s: full parse refuses (%v), filtered accepts", event, ferr)
		}
		if ferr == nil && qerr != nil {
			t.Fatalf("%s: full parse accepts, filtered refuses: %v", event, qerr)
		}
		if ferr != nil || qerr != nil {
			return
		}
		defer filt.Release()
		if got, want := p.MatchFields(filt), p.MatchFields(full); got != want {
			t.Fatalf("%s on %s: filtered %v, full %v", src, event, got, want)
		}
		if got, want := set.Match(filt), set.Match(full); !slices.Equal(got, want) {
			t.Fatalf("set of %s on %s: filtered %v, full %v", src, event, got, want)
		}
		for _, path := range p.Paths() {
			if a, b := filt.Values(path), full.Values(path); !slicesEqual(a, b) {
				t.Fatalf("%s at %s: filtered %q, full %q", event, path, a, b)
			}
		}
	})
}

func isMemoryBound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "MiB to index")
}

func slicesEqual(a, b []string) bool { return slices.Equal(a, b) }
