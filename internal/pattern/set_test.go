package pattern

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func mustCompile(t testing.TB, src string) *Pattern {
	t.Helper()
	p, err := Compile([]byte(src))
	if err != nil {
		t.Fatalf("Compile(%s): %v", src, err)
	}
	return p
}

func mustParse(t testing.TB, src string) *Fields {
	t.Helper()
	f, err := ParseEvent([]byte(src))
	if err != nil {
		t.Fatalf("ParseEvent(%s): %v", src, err)
	}
	return f
}

func TestSetMatch(t *testing.T) {
	s := NewSet()
	s.Add("ec2", mustCompile(t, `{"source":["aws.ec2"]}`))
	s.Add("any-aws", mustCompile(t, `{"source":[{"prefix":"aws."}]}`))
	s.Add("not-ec2", mustCompile(t, `{"source":[{"anything-but":"aws.ec2"}]}`))
	s.Add("ec2", mustCompile(t, `{"detail-type":["x"]}`)) // same id again
	s.Add("no-region", mustCompile(t, `{"region":[{"exists":false}]}`))
	s.Add("or", mustCompile(t, `{"$or":[{"source":["aws.s3"]},{"detail":{"n":[{"numeric":[">",5]}]}}]}`))
	if s.Len() != 6 {
		t.Errorf("Len() = %d, want 6", s.Len())
	}
	tests := []struct {
		event string
		want  []string
	}{
		{`{"source":"aws.ec2"}`, []string{"ec2", "any-aws", "no-region"}},
		{`{"source":"aws.s3","region":"x"}`, []string{"any-aws", "not-ec2", "or"}},
		{`{"source":"custom","detail-type":"x","detail":{"n":6}}`, []string{"not-ec2", "ec2", "no-region", "or"}},
		{`{"region":"x"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			if got := s.Match(mustParse(t, tt.event)); !slices.Equal(got, tt.want) {
				t.Errorf("Match(%s) = %q, want %q", tt.event, got, tt.want)
			}
		})
	}
}

func TestSetEmpty(t *testing.T) {
	if got := NewSet().Match(mustParse(t, `{"a":1}`)); got != nil {
		t.Errorf("Match on an empty set = %q, want nil", got)
	}
}

// TestSetAgreesWithPatterns puts every conformance pattern in one Set and
// checks that each event yields exactly the patterns that match it alone.
func TestSetAgreesWithPatterns(t *testing.T) {
	cases := loadCases(t)
	s := NewSet()
	var ids []string
	var patterns []*Pattern
	for _, c := range cases {
		p, err := Compile(c.source())
		if err != nil {
			t.Fatalf("%s: Compile: %v", c.Name, err)
		}
		s.Add(c.Name, p)
		ids = append(ids, c.Name)
		patterns = append(patterns, p)
	}
	for _, c := range cases {
		f, err := ParseEvent(c.Event)
		if err != nil {
			t.Fatalf("%s: ParseEvent: %v", c.Name, err)
		}
		var want []string
		for i, p := range patterns {
			if p.MatchFields(f) {
				want = append(want, ids[i])
			}
		}
		if got := s.Match(f); !slices.Equal(got, want) {
			t.Errorf("%s: Set.Match = %q,\nwant %q", c.Name, got, want)
		}
	}
}

func TestSetConcurrent(t *testing.T) {
	s := NewSet()
	for i := range 200 {
		s.Add(fmt.Sprint(i), mustCompile(t, fmt.Sprintf(`{"n":[{"numeric":[">=",%d]}],"e":{"k":["v%d"]}}`, i, i%7)))
	}
	events := make([]*Fields, 7)
	want := make([][]string, 7)
	for k := range events {
		events[k] = mustParse(t, fmt.Sprintf(`{"n":100,"e":[{"k":"v%d"},{"k":"other"}]}`, k))
		for i := 0; i <= 100; i++ {
			if i%7 == k {
				want[k] = append(want[k], fmt.Sprint(i))
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				k := (g + i) % 7
				if got := s.Match(events[k]); !slices.Equal(got, want[k]) {
					errs <- fmt.Sprintf("Match(event %d) = %q, want %q", k, got, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
