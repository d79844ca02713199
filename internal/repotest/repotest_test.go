package repotest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	root := Root(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("Root() = %s, which holds no go.mod", root)
	}
	if filepath.Base(filepath.Dir(mustWd(t))) != "internal" || filepath.Dir(filepath.Dir(mustWd(t))) != root {
		t.Errorf("Root() = %s, want the parent of internal/", root)
	}
}

func TestSharedFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPSLOOP_SHARED", dir)
	if got := Shared(t); got != dir {
		t.Errorf("Shared() = %s, want $OPSLOOP_SHARED %s", got, dir)
	}
}

func mustWd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
