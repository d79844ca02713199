package event_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the samples")

// golden is what a sample is expected to yield.
type golden struct {
	Kind      string           `json:"kind"`
	Summary   string           `json:"summary"`
	Actor     string           `json:"actor"`
	Resources []goldenResource `json:"resources"`
	View      map[string]any   `json:"view,omitempty"`
}

type goldenResource struct {
	ARN  string `json:"arn,omitempty"`
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

func describe(t *testing.T, e *event.Event) golden {
	t.Helper()
	g := golden{Kind: "other", Summary: e.Summary(), Actor: e.Actor(), Resources: []goldenResource{}}
	for _, r := range e.ResourceRefs() {
		g.Resources = append(g.Resources, goldenResource(r))
	}
	if c, err := e.CloudTrail(); err == nil {
		g.Kind = "cloudtrail"
		g.View = map[string]any{
			"eventName": c.EventName, "service": c.Service(), "identityType": c.UserIdentity.Type,
			"errorCode": c.ErrorCode, "readOnly": c.ReadOnly, "failed": c.Failed(),
			"consoleLogin": c.ConsoleLogin, "mfaUsed": c.MFAUsed,
		}
	}
	if a, err := e.Alarm(); err == nil {
		g.Kind = "alarm"
		g.View = map[string]any{
			"name": a.Name, "state": a.State.Value, "previousState": a.PreviousState.Value,
			"composite": a.Composite(), "metrics": len(a.Metrics), "stateTime": a.State.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"),
		}
	}
	if c, err := e.ConfigChange(); err == nil {
		g.Kind = "config-change"
		g.View = map[string]any{
			"resourceType": c.ResourceType, "resourceId": c.ResourceID, "status": c.Status,
			"changeType": c.ChangeType, "diff": c.DiffSummary(),
		}
	}
	if c, err := e.ConfigCompliance(); err == nil {
		g.Kind = "config-compliance"
		old := ""
		if c.Old != nil {
			old = c.Old.ComplianceType
		}
		g.View = map[string]any{"rule": c.RuleName, "resourceType": c.ResourceType, "resourceId": c.ResourceID,
			"compliance": c.New.ComplianceType, "previous": old}
	}
	return g
}

// TestSamples parses every file under events-samples and compares its
// summary, actor, resources and typed view with testdata/golden. Run with
// -update to rewrite the golden files after a deliberate change.
func TestSamples(t *testing.T) {
	root, files := sampleFiles(t)
	wantFiles := map[string]bool{}
	for _, rel := range files {
		wantFiles[filepath.ToSlash(rel)] = true
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			e, err := event.Parse(readFile(t, filepath.Join(root, rel)))
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", rel, err)
			}
			if e.Account != "123456789012" || e.Time.Year() != 2026 {
				t.Errorf("sample %s: account %s, time %v, want 123456789012 in 2026", rel, e.Account, e.Time)
			}
			if want := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]; e.Source != "aws."+want {
				t.Errorf("sample %s: source %s, want aws.%s from its directory", rel, e.Source, want)
			}
			got, err := json.MarshalIndent(describe(t, e), "", "  ")
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", rel)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden %s: %v (run go test -update to create it)", path, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("sample %s yields\n%s\nwant (%s)\n%s", rel, got, path, want)
			}
		})
	}
	if *update {
		return
	}
	// A golden file without its sample is a sample that went missing.
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.json"))
	for _, g := range goldens {
		rel, _ := filepath.Rel(filepath.Join("testdata", "golden"), g)
		if !wantFiles[filepath.ToSlash(rel)] {
			t.Errorf("golden %s has no sample events-samples/%s", g, rel)
		}
	}
}

// TestSampleUniqueness checks what the samples promise: distinct ids, and
// global services (IAM, sign-in) seen through us-east-1.
func TestSampleUniqueness(t *testing.T) {
	root, files := sampleFiles(t)
	ids := map[string]string{}
	for _, rel := range files {
		e, err := event.Parse(readFile(t, filepath.Join(root, rel)))
		if err != nil {
			t.Fatalf("Parse(%s): %v", rel, err)
		}
		if prev, dup := ids[e.ID]; dup {
			t.Errorf("samples %s and %s share id %s", prev, rel, e.ID)
		}
		ids[e.ID] = rel
		if (e.Source == "aws.iam" || e.Source == "aws.signin") && e.Region != "us-east-1" {
			t.Errorf("sample %s: global service event in %s, want us-east-1", rel, e.Region)
		}
	}
	if len(files) < 36 {
		t.Errorf("%d samples, want at least 36", len(files))
	}
}

// TestSampleCloudTrailEnvelopes checks that every CloudTrail sample has the
// envelope FromCloudTrailRecord gives for its record, apart from the id
// EventBridge assigns.
func TestSampleCloudTrailEnvelopes(t *testing.T) {
	root, files := sampleFiles(t)
	n := 0
	for _, rel := range files {
		e, err := event.Parse(readFile(t, filepath.Join(root, rel)))
		if err != nil {
			t.Fatalf("Parse(%s): %v", rel, err)
		}
		if !strings.HasSuffix(e.DetailType, "via CloudTrail") {
			continue
		}
		n++
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			out, err := event.FromCloudTrailRecord(e.Detail)
			if err != nil {
				t.Fatalf("FromCloudTrailRecord(%s detail) error = %v", rel, err)
			}
			conv, err := event.Parse(out)
			if err != nil {
				t.Fatalf("Parse(converted %s): %v", rel, err)
			}
			got := []string{conv.Version, conv.DetailType, conv.Source, conv.Account, conv.Region, conv.Time.String(), strings.Join(conv.Resources, ",")}
			want := []string{e.Version, e.DetailType, e.Source, e.Account, e.Region, e.Time.String(), strings.Join(e.Resources, ",")}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("FromCloudTrailRecord(%s detail) envelope = %q, want the sample's %q", rel, got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no CloudTrail samples")
	}
}

// TestSamplesREADME checks that events-samples/README.md lists every
// sample, and no file that is not there.
func TestSamplesREADME(t *testing.T) {
	root, files := sampleFiles(t)
	readme := string(readFile(t, filepath.Join(root, "README.md")))
	listed := map[string]bool{}
	for _, line := range strings.Split(readme, "\n") {
		if rest, ok := strings.CutPrefix(line, "- `"); ok {
			if name, _, ok := strings.Cut(rest, "`"); ok {
				listed[name] = true
			}
		}
	}
	for _, rel := range files {
		rel = filepath.ToSlash(rel)
		if !listed[rel] {
			t.Errorf("README.md does not list %s", rel)
		}
		delete(listed, rel)
	}
	for name := range listed {
		t.Errorf("README.md lists %s, which is not a sample", name)
	}
}
