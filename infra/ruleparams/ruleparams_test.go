package ruleparams

import (
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/opsloop/opsloop"
	"github.com/opsloop/opsloop/internal/rules"
)

func defaultFiles(t *testing.T) []rules.File {
	t.Helper()
	var files []rules.File
	err := fs.WalkDir(opsloop.DefaultRules, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".schema.json") {
			return err
		}
		data, err := fs.ReadFile(opsloop.DefaultRules, name)
		files = append(files, rules.File{Name: "rules/" + name, Data: data})
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("read default rules: %v (%d files)", err, len(files))
	}
	return files
}

func TestSplitDefaultRules(t *testing.T) {
	files := defaultFiles(t)
	want, err := rules.Build(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{StandardTierMax, 2048, 8192} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			params, err := Split("/opsloop/rules", files, limit)
			if err != nil {
				t.Fatalf("Split() error = %v", err)
			}
			var names, ruleNames []string
			var loaded []rules.File
			for _, p := range params {
				if len(p.Value) > limit {
					t.Errorf("%s holds %d bytes, more than %d", p.Name, len(p.Value), limit)
				}
				if strings.Contains(p.Value, "{{") {
					t.Errorf("%s holds \"{{\", which Parameter Store refuses", p.Name)
				}
				if !strings.HasPrefix(p.Name, "/opsloop/rules/") {
					t.Errorf("parameter %s is not under the path", p.Name)
				}
				names = append(names, p.Name)
				ruleNames = append(ruleNames, p.Rules...)
				loaded = append(loaded, rules.File{Name: p.Name, Data: []byte(p.Value)})
			}
			if !sort.StringsAreSorted(names) {
				t.Errorf("parameter names %v do not sort in file order, as GetParametersByPath's loader reads them", names)
			}
			got, err := rules.Build(loaded)
			if err != nil {
				t.Fatalf("Build(parameters) error = %v", err)
			}
			if len(got.Rules) != len(want.Rules) || len(ruleNames) != len(want.Rules) {
				t.Fatalf("parameters hold %d rules (listed %d), want %d", len(got.Rules), len(ruleNames), len(want.Rules))
			}
			for i, r := range want.Rules {
				g := got.Rules[i]
				if g.Name != r.Name || ruleNames[i] != r.Name || title(g) != title(r) || g.Description != r.Description {
					t.Errorf("rule %d = %q (title %q), want %q (title %q)", i, g.Name, title(g), r.Name, title(r))
				}
			}
			// What the deployment sets once comes along: the response plans.
			if len(got.Plans) == 0 || len(got.Plans) != len(want.Plans) || got.Plans["Security"].Owner != want.Plans["Security"].Owner {
				t.Errorf("parameters hold %d plans, want %d", len(got.Plans), len(want.Plans))
			}
			if limit == StandardTierMax {
				t.Logf("%d parameters of at most %d bytes", len(params), limit)
			}
		})
	}
}

func title(r *rules.Rule) string {
	if r.Title == nil {
		return ""
	}
	return r.Title.String()
}

func TestSplitSeveralFiles(t *testing.T) {
	a := `{"rules":[{"name":"b-rule","pattern":{"source":["aws.ec2"]},"action":"incident","severity":"high","category":"Availability","title":"{{detail.x}} broke"}]}`
	b := `{"severities":{"high":{"opsItemSeverity":"2","priority":2}},"silences":[{"name":"s","pattern":{"source":["aws.ec2"]},"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"}],
	      "rules":[{"name":"a-rule","pattern":{"source":["aws.kms"]},"action":"record"}]}`
	files := []rules.File{{Name: "rules/a.json", Data: []byte(a)}, {Name: "rules/b.json", Data: []byte(b)}}
	params, err := Split("/x/rules", files, StandardTierMax)
	if err != nil {
		t.Fatalf("Split() error = %v", err)
	}
	var got []string
	for _, p := range params {
		got = append(got, p.Name+" "+strings.Join(p.Rules, ","))
	}
	want := []string{"/x/rules/00-a-00 b-rule", "/x/rules/01-b-00 a-rule"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Split() = %v, want %v", got, want)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(params[1].Value), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"severities", "silences", "rules"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("%s lacks %s: %s", params[1].Name, k, params[1].Value)
		}
	}
}

func TestSplitRejects(t *testing.T) {
	sev := `"severities":{"high":{"opsItemSeverity":"2","priority":2}}`
	huge := `{` + sev + `,"rules":[` + "\n" + `{"name":"huge","description":"` + strings.Repeat("d", 5000) + `","pattern":{"source":["aws.ec2"]},"action":"record"}]}`
	tests := []struct {
		name  string
		dir   string
		files []rules.File
		want  []string
		isErr func(error) bool
	}{
		{
			name:  "invalid rules keep the validator's errors",
			dir:   "/opsloop/rules",
			files: []rules.File{{Name: "rules/bad.json", Data: []byte("{\n" + sev + `,"rules":[{"name":"x","pattern":{"source":"aws.ec2"},"action":"record"}]}`)}},
			want:  []string{"rules/bad.json:2:"},
			isErr: func(err error) bool { var es rules.Errors; return errors.As(err, &es) },
		},
		{
			name:  "a rule larger than a parameter",
			dir:   "/opsloop/rules",
			files: []rules.File{{Name: "rules/big.json", Data: []byte(huge)}},
			want:  []string{"rules/big.json:2", `rule "huge"`, "4096"},
		},
		{name: "relative path", dir: "opsloop/rules", files: defaultFiles(t), want: []string{"absolute path"}},
		{name: "reserved path", dir: "/aws/rules", files: defaultFiles(t), want: []string{"reserved"}},
		{name: "trailing slash", dir: "/opsloop/rules/", files: defaultFiles(t), want: []string{"trailing slash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, err := Split(tt.dir, tt.files, StandardTierMax)
			if err == nil {
				t.Fatalf("Split() = %d parameters, want an error", len(params))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Split() error = %q, want it to contain %q", err, w)
				}
			}
			if tt.isErr != nil && !tt.isErr(err) {
				t.Errorf("Split() error = %T, want the validator's rules.Errors", err)
			}
		})
	}
}

func TestEscapeBraces(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"t":"{{a}}"}`, `{"t":"\u007b{a}}"}`},
		{`{"t":"{{{a}}}"}`, `{"t":"\u007b\u007b{a}}}"}`},
		{`{"t":"q\"{{x"}`, `{"t":"q\"\u007b{x"}`},
		{`{"t":"a\\","u":"{"}`, `{"t":"a\\","u":"{"}`},
		{`{"a":{"b":["{"]}}`, `{"a":{"b":["{"]}}`},
	}
	for _, tt := range tests {
		got := string(escapeBraces([]byte(tt.in)))
		if got != tt.want {
			t.Errorf("escapeBraces(%s) = %s, want %s", tt.in, got, tt.want)
		}
		var before, after any
		if err := json.Unmarshal([]byte(tt.in), &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(got), &after); err != nil {
			t.Fatalf("escapeBraces(%s) = %s, not JSON: %v", tt.in, got, err)
		}
		if b1, _ := json.Marshal(before); string(b1) != func() string { b2, _ := json.Marshal(after); return string(b2) }() {
			t.Errorf("escapeBraces(%s) = %s reads back differently", tt.in, got)
		}
	}
}

func FuzzEscapeBraces(f *testing.F) {
	for _, s := range []string{`{"t":"{{a}}"}`, `{"t":"q\"{{x"}`, `["{{{","\\{{"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var before any
		if json.Unmarshal([]byte(s), &before) != nil {
			return
		}
		var c strings.Builder
		enc := json.NewEncoder(&c)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(before); err != nil {
			return
		}
		compact := strings.TrimSpace(c.String())
		got := escapeBraces([]byte(compact))
		if strings.Contains(string(got), "{{") {
			t.Errorf("escapeBraces(%s) = %s still holds {{", compact, got)
		}
		var after any
		if err := json.Unmarshal(got, &after); err != nil {
			t.Fatalf("escapeBraces(%s) = %s, not JSON: %v", compact, got, err)
		}
		b1, _ := json.Marshal(before)
		b2, _ := json.Marshal(after)
		if string(b1) != string(b2) {
			t.Errorf("escapeBraces(%s) = %s reads back as %s, want %s", compact, got, b2, b1)
		}
	})
}

func TestSplitKeepsDeploymentSettings(t *testing.T) {
	// GIVEN a file setting everything a deployment sets once
	file := rules.File{Name: "org.json", Data: []byte(`{
  "severities": {"high": {"opsItemSeverity": "2", "priority": 2}},
  "plans": {"Security": {"owner": {"name": "security on-call"}}},
  "organization": {"opsItemAccount": "member", "units": {"ou-ab12-34567890": ["111122223333"]}, "accessPortal": {"url": "https://d-1234567890.awsapps.com/start", "role": "ReadOnly"}},
  "redact": ["detail.requestParameters.secretToken"],
  "budget": {"ruleHour": 7},
  "problems": {"recurrence": {"count": 4, "window": "2d"}},
  "rules": [{"name": "r", "pattern": {"source": ["aws.ec2"]}, "action": "incident", "severity": "high", "category": "Security", "scope": {"ous": ["ou-ab12-34567890"]}}]
}`)}
	want, err := rules.Build([]rules.File{file})
	if err != nil {
		t.Fatal(err)
	}
	// WHEN split into parameters as small as still hold each setting
	for _, limit := range []int{StandardTierMax, 256} {
		params, err := Split("/opsloop/rules", []rules.File{file}, limit)
		if err != nil {
			t.Fatalf("Split(%d) error = %v", limit, err)
		}
		var loaded []rules.File
		for _, p := range params {
			loaded = append(loaded, rules.File{Name: p.Name, Data: []byte(p.Value)})
		}
		got, err := rules.Build(loaded)
		if err != nil {
			t.Fatalf("Build(parameters of %d) error = %v", limit, err)
		}
		// THEN the functions load every one of them
		if got.OpsItemAccount != "member" || len(got.Units) != 1 || got.AccessPortal == nil || *got.AccessPortal != *want.AccessPortal || !slices.Equal(got.Redact, want.Redact) || got.Budget != want.Budget ||
			got.Plans["Security"] == nil || got.Problems != want.Problems {
			t.Errorf("limit %d: parameters load %+v", limit, got)
		}
		if limit == 256 && len(params) < 3 {
			t.Errorf("limit 256: %d parameters, want the settings spread over several", len(params))
		}
	}
}
