package awstest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

func TestDynaliteStopRestart(t *testing.T) {
	ctx := context.Background()
	d := awstest.DynaliteForTest(t)
	client := d.Client(func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	steps := []struct {
		name   string
		action func() error
		wantOK bool
	}{
		{"running", func() error { return nil }, true},
		{"stopped", d.Stop, false},
		{"stopped twice", d.Stop, false},
		{"restarted", func() error { return d.Restart(ctx) }, true},
	}
	for _, s := range steps {
		if err := s.action(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
		if (err == nil) != s.wantOK {
			t.Errorf("%s: ListTables = %v, want success %v (logs: %s)", s.name, err, s.wantOK, d.Logs())
		}
	}
}

func TestDynaliteMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := awstest.StartDynalite(context.Background())
	if !errors.Is(err, awstest.ErrNoDynalite) {
		t.Fatalf("StartDynalite without node_modules = %v, want ErrNoDynalite", err)
	}
}
