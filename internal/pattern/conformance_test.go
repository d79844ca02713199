package pattern

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/repotest"
)

// conformanceCase is one line of cases.jsonl.
type conformanceCase struct {
	Name       string          `json:"name"`
	Pattern    json.RawMessage `json:"pattern"`
	PatternRaw string          `json:"pattern_raw"`
	Event      json.RawMessage `json:"event"`
	Match      bool            `json:"match"`
	Extension  string          `json:"extension"`
}

// invalidCase is one line of invalid_patterns.jsonl.
type invalidCase struct {
	Name       string          `json:"name"`
	Pattern    json.RawMessage `json:"pattern"`
	PatternRaw string          `json:"pattern_raw"`
	Why        string          `json:"why"`
}

func (c conformanceCase) source() []byte {
	if c.PatternRaw != "" {
		return []byte(c.PatternRaw)
	}
	return c.Pattern
}

func (c invalidCase) source() []byte {
	if len(c.Pattern) == 0 || string(c.Pattern) == "null" {
		return []byte(c.PatternRaw)
	}
	return c.Pattern
}

// localConformance holds opsloop's own cases, where EventBridge is stricter
// than the shared suite shows (numeric range and precision, per-character
// case); each names the event-ruler source it follows.
const localConformance = "testdata/conformance"

// readJSONL reads the shared suite's file name, or with dir set the file of
// that directory.
func readJSONL[T any](t testing.TB, dir, name string) []T {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(repotest.Shared(t), "conformance")
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("conformance fixtures missing: %v (set OPSLOOP_SHARED to the shared directory)", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s:%d: %v", name, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(out) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return out
}

func loadCases(t testing.TB) []conformanceCase {
	var out []conformanceCase
	for _, c := range readJSONL[conformanceCase](t, "", "cases.jsonl") {
		if c.Extension == "quamina" {
			continue // operators EventBridge does not have
		}
		out = append(out, c)
	}
	return out
}

func TestConformanceMatch(t *testing.T) {
	cases := loadCases(t)
	if len(cases) != 584 {
		t.Errorf("loaded %d EventBridge cases, want 584", len(cases))
	}
	cases = append(cases, readJSONL[conformanceCase](t, localConformance, "cases.jsonl")...)
	var failed []string
	for _, c := range cases {
		p, err := Compile(c.source())
		if err != nil {
			failed = append(failed, c.Name+": Compile: "+err.Error())
			continue
		}
		got, err := p.Match(c.Event)
		if err != nil {
			failed = append(failed, c.Name+": Match: "+err.Error())
			continue
		}
		if got != c.Match {
			failed = append(failed, c.Name+": Match = "+boolText(got)+", want "+boolText(c.Match))
			continue
		}
		// The same answer must come from the canonical form and from a Set.
		again, err := Compile([]byte(p.String()))
		if err != nil {
			failed = append(failed, c.Name+": recompile String(): "+err.Error())
			continue
		}
		f, err := ParseEvent(c.Event)
		if err != nil {
			failed = append(failed, c.Name+": ParseEvent: "+err.Error())
			continue
		}
		if again.MatchFields(f) != c.Match {
			failed = append(failed, c.Name+": canonical "+p.String()+" gives a different result")
		}
		s := NewSet()
		s.Add("p", p)
		if got := len(s.Match(f)) == 1; got != c.Match {
			failed = append(failed, c.Name+": Set.Match = "+boolText(got)+", want "+boolText(c.Match))
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d conformance cases fail:\n%s", len(failed), len(cases), strings.Join(failed, "\n"))
	}
}

func TestConformanceInvalid(t *testing.T) {
	cases := readJSONL[invalidCase](t, "", "invalid_patterns.jsonl")
	if len(cases) != 153 {
		t.Errorf("loaded %d invalid patterns, want 153", len(cases))
	}
	cases = append(cases, readJSONL[invalidCase](t, localConformance, "invalid_patterns.jsonl")...)
	var accepted []string
	for _, c := range cases {
		p, err := Compile(c.source())
		if err == nil {
			accepted = append(accepted, c.Name+": Compile("+string(c.source())+") = "+p.String()+", want an error ("+c.Why+")")
			continue
		}
		if _, ok := err.(*Error); !ok {
			accepted = append(accepted, c.Name+": error is not *Error: "+err.Error())
		}
	}
	if len(accepted) > 0 {
		t.Errorf("%d of %d invalid patterns are not rejected properly:\n%s", len(accepted), len(cases), strings.Join(accepted, "\n"))
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
