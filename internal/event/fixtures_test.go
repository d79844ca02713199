package event_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/repotest"
)

// TrailsDir holds CloudTrail data in the shapes users hold (JSON lines,
// lookup-events output, Lake results, digests), not one event per file.
const TrailsDir = "trails"

// sampleFiles lists events-samples/*/*.json, relative to events-samples.
func sampleFiles(t testing.TB) (root string, files []string) {
	t.Helper()
	root = filepath.Join(repotest.Root(t), "events-samples")
	matches, err := filepath.Glob(filepath.Join(root, "*", "*.json"))
	if err != nil {
		t.Fatalf("glob samples: %v", err)
	}
	if len(matches) == 0 {
		t.Fatalf("no samples under %s", root)
	}
	for _, m := range matches {
		rel, err := filepath.Rel(root, m)
		if err != nil {
			t.Fatalf("rel %s: %v", m, err)
		}
		if strings.HasPrefix(filepath.ToSlash(rel), TrailsDir+"/") {
			continue // files of many events, in the shapes users hold
		}
		files = append(files, rel)
	}
	return root, files
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}
