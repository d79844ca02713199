package parameterstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
)

func names(files []parameterstore.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func TestFetch(t *testing.T) {
	srv := awstest.NewSSM()
	t.Cleanup(srv.Close)
	var want []string
	for i := range 23 { // three pages of at most ten
		name := fmt.Sprintf("/opsloop/rules/file-%02d", i)
		if err := srv.SetParameter(name, "String", fmt.Sprintf(`{"rules":[%d]}`, i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	setup := []struct{ name, typ, value string }{
		{"/opsloop/rules/nested/deep", "SecureString", `{"secret":true}`},
		{"/opsloop/rulesets/other", "String", "not under the path"},
		{"/opsloop/other", "String", "not under the path"},
	}
	for _, p := range setup {
		if err := srv.SetParameter(p.name, p.typ, p.value); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, "/opsloop/rules/nested/deep")
	slices.Sort(want)

	for _, path := range []string{"/opsloop/rules", "/opsloop/rules/"} {
		got, err := parameterstore.Fetch(context.Background(), srv.Client(), path)
		if err != nil {
			t.Fatalf("Fetch(%s) = %v", path, err)
		}
		if !slices.Equal(names(got), want) {
			t.Errorf("Fetch(%s) = %v, want %v", path, names(got), want)
		}
		for _, f := range got {
			if f.Name == "/opsloop/rules/nested/deep" && string(f.Data) != `{"secret":true}` {
				t.Errorf("Fetch(%s) SecureString %s = %q, want it decrypted", path, f.Name, f.Data)
			}
			if f.Version != 1 {
				t.Errorf("Fetch(%s) %s version = %d, want 1", path, f.Name, f.Version)
			}
		}
	}
	if got := srv.Calls("GetParametersByPath"); got != 6 {
		t.Errorf("GetParametersByPath calls = %d, want 6 (3 pages, twice)", got)
	}
	empty, err := parameterstore.Fetch(context.Background(), srv.Client(), "/nothing/here")
	if err != nil || len(empty) != 0 {
		t.Errorf("Fetch(/nothing/here) = %v, %v, want no files", names(empty), err)
	}
}

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func TestLoaderKeepsLastGood(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewSSM()
	t.Cleanup(srv.Close)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l := parameterstore.NewLoader(srv.Client(), "/opsloop/rules", parameterstore.Options{
		TTL: time.Minute, RetryAfter: 10 * time.Second, MaxAttempts: 3, MaxBackoff: time.Millisecond, Now: clk.Now,
	})
	set := func(value string) {
		t.Helper()
		if err := srv.SetParameter("/opsloop/rules/a", "String", value); err != nil {
			t.Fatal(err)
		}
	}
	outage := []awstest.Fault{awstest.Throttling, awstest.HTTP503, awstest.InternalServerError}

	// No good files yet: every call tries, and fails.
	srv.Faults.Script("GetParametersByPath", outage...)
	if files, _, err := l.Load(ctx); err == nil || files != nil {
		t.Fatalf("Load during an outage before any success = %v, %v, want no files and an error", names(files), err)
	}
	set("v1")
	steps := []struct {
		name        string
		advance     time.Duration
		value       string // parameter value before the step ("" keeps it)
		faults      bool
		wantData    string
		wantChanged bool
		wantErr     bool
		wantCalls   int // GetParametersByPath calls made by the step
	}{
		{"first load", 0, "", false, "v1", true, false, 1},
		{"cached within TTL", 30 * time.Second, "v2", false, "v1", false, false, 0},
		{"reload after TTL", 31 * time.Second, "", false, "v2", true, false, 1},
		{"reload unchanged", time.Minute, "", false, "v2", false, false, 1},
		{"reload fails: last good kept", time.Minute, "v3", true, "v2", false, true, 3},
		{"waits RetryAfter before trying again", 5 * time.Second, "", false, "v2", false, false, 0},
		{"tries again after RetryAfter", 5 * time.Second, "", false, "v3", true, false, 1},
		{"retries absorb a short fault", time.Minute, "v4", false, "v4", true, false, 2},
	}
	for _, s := range steps {
		clk.now = clk.now.Add(s.advance)
		if s.value != "" {
			set(s.value)
		}
		if s.faults {
			srv.Faults.Script("GetParametersByPath", outage...)
		}
		if s.name == "retries absorb a short fault" {
			srv.Faults.Script("GetParametersByPath", awstest.Throttling)
		}
		before := srv.Calls("GetParametersByPath")
		files, changed, err := l.Load(ctx)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: Load error = %v, want error %v", s.name, err, s.wantErr)
		}
		if len(files) != 1 || string(files[0].Data) != s.wantData || changed != s.wantChanged {
			t.Errorf("%s: Load = %v changed %v, want %q changed %v", s.name, files, changed, s.wantData, s.wantChanged)
		}
		if got := srv.Calls("GetParametersByPath") - before; got != s.wantCalls {
			t.Errorf("%s: GetParametersByPath calls = %d, want %d", s.name, got, s.wantCalls)
		}
		// Err reports the last reload, also while the files are cached.
		wantLastErr := s.wantErr || s.name == "waits RetryAfter before trying again"
		if (l.Err() != nil) != wantLastErr {
			t.Errorf("%s: Err() = %v, want error %v", s.name, l.Err(), wantLastErr)
		}
	}
}
