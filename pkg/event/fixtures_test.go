package event_test

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot finds the repository root: the nearest directory above the
// test's working directory that holds go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// sharedDir is the shared fixtures directory: $OPSLOOP_SHARED, or ../shared
// beside the repository. A missing directory fails the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("OPSLOOP_SHARED")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "..", "shared")
	}
	if info, err := os.Stat(filepath.Join(dir, "events")); err != nil || !info.IsDir() {
		t.Fatalf("shared fixtures not found at %s (set OPSLOOP_SHARED to the directory holding events/): %v", dir, err)
	}
	return dir
}

// sampleFiles lists events-samples/*/*.json, relative to events-samples.
func sampleFiles(t testing.TB) (root string, files []string) {
	t.Helper()
	root = filepath.Join(repoRoot(t), "events-samples")
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
