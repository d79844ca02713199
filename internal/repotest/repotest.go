// Package repotest finds the repository's own files and the shared fixtures
// beside it, for tests run from any package directory.
package repotest

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root: the nearest directory above the working
// directory that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
}

// Shared returns the shared fixtures directory: $OPSLOOP_SHARED, or
// ../shared beside the repository. A missing directory fails the test: the
// fixtures are part of what is tested, never optional.
func Shared(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("OPSLOOP_SHARED")
	if dir == "" {
		dir = filepath.Join(Root(t), "..", "shared")
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Fatalf("shared fixtures not found at %s (set OPSLOOP_SHARED to the shared directory): %v", dir, err)
	}
	return dir
}
