package redact_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/redact"
)

// TestSecretsOfRealShapes: the secrets of every fixture are masked and what
// names the resource stays.
func TestSecretsOfRealShapes(t *testing.T) {
	var expect map[string]struct{ Secrets, Kept []string }
	data, err := os.ReadFile("testdata/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &expect); err != nil {
		t.Fatal(err)
	}
	r := redact.New(nil)
	for name, want := range expect {
		raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got := string(r.JSON(raw))
		for _, s := range want.Secrets {
			if strings.Contains(got, s) {
				t.Errorf("%s: JSON keeps secret %q:\n%s", name, s, got)
			}
		}
		for _, k := range append(want.Kept, "123456789012", "arn:aws:iam::123456789012:role/deployer") {
			if !strings.Contains(got, k) {
				t.Errorf("%s: JSON lost %q, which names what happened:\n%s", name, k, got)
			}
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: redacted JSON is not valid", name)
		}
	}
}

func TestPath(t *testing.T) {
	r := redact.New([]string{"detail.requestParameters.note"})
	for path, want := range map[string]bool{
		"detail.requestParameters.masterUserPassword":           true,
		"detail.requestParameters.secretId":                     false,
		"detail.requestParameters.secretString":                 true,
		"detail.responseElements.credentials.sessionToken":      true,
		"detail.requestParameters.environment.variables.X":      true,
		"detail.requestParameters.note":                         true,
		"detail.requestParameters.note.inner":                   true,
		"detail.requestParameters.name":                         false,
		"detail.requestParameters.passwordPolicy.minimumLength": false,
		"detail.userIdentity.arn":                               false,
	} {
		if got := r.Path(path); got != want {
			t.Errorf("Path(%q) = %v, want %v", path, got, want)
		}
	}
	if got := r.Values("detail.requestParameters.password", []string{"p"}); got[0] != redact.Mask {
		t.Errorf("Values(password) = %v, want masked", got)
	}
}

func TestOperatorPaths(t *testing.T) {
	raw := []byte(`{"detail":{"requestParameters":{"note":"internal-only","other":"shown"}}}`)
	got := string(redact.New([]string{"detail.requestParameters.note"}).JSON(raw))
	if strings.Contains(got, "internal-only") || !strings.Contains(got, "shown") {
		t.Errorf("JSON with an operator path = %s, want note masked and other kept", got)
	}
	if got := string(redact.New(nil).JSON([]byte(`not json {"password":"x"}`))); strings.Contains(got, "x\"") {
		t.Errorf("JSON(not JSON) = %s, want it masked whole", got)
	}
}

func FuzzJSON(f *testing.F) {
	f.Add(`{"password":"p","a":[{"name":"n","value":"v"}],"environment":{"variables":{"K":"v"}}}`)
	r := redact.New(nil)
	f.Fuzz(func(t *testing.T, in string) {
		out := r.JSON([]byte(in))
		if !json.Valid(out) {
			t.Fatalf("JSON(%q) = %q, not valid JSON", in, out)
		}
	})
}
