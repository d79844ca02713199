package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/trailgen"
)

// TestReplayOrgTrail: replay reads an organization trail from a local copy
// and straight from S3 (the SDK's client against the local S3 endpoint),
// filtered by accounts, Regions and days, and reports per account.
func TestReplayOrgTrail(t *testing.T) {
	dir := t.TempDir()
	accounts := []string{"111122223333", "444455556666", "777788889999"}
	days := []time.Time{time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)}
	files, err := trailgen.WriteOrgTrail(dir, accounts, []string{"us-east-1", "eu-west-1"}, days)
	if err != nil {
		t.Fatal(err)
	}
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("org-trail")
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		srv.PutObject("org-trail", "logs/"+filepath.ToSlash(f), data, time.Now())
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL())
	t.Setenv("AWS_REGION", awstest.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIATESTEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	filter := []string{"--accounts", "111122223333,444455556666", "--regions", "eu-west-1", "--from", "2026-03-04", "--to", "2026-03-05"}
	for _, src := range []string{dir, "s3://org-trail/logs/"} {
		code, out, errOut := runCLI(append([]string{"replay", "--json", src}, filter...)...)
		if code != 0 {
			t.Fatalf("replay %s exit %d: %s", src, code, errOut)
		}
		var rep struct {
			Events   int                       `json:"events"`
			Skipped  map[string]int            `json:"skipped"`
			Accounts map[string]map[string]int `json:"accounts"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		// Two accounts, one Region, two days of two records each; the day
		// before's files are read (they may hold the first minutes of the
		// next) and their events skipped.
		if rep.Events != 8 || len(rep.Accounts) != 2 || rep.Accounts["111122223333"]["events"] != 4 || rep.Accounts["444455556666"]["events"] != 4 {
			t.Errorf("replay %s: %d events, accounts %v; want 8, 4 in each of the two", src, rep.Events, rep.Accounts)
		}
	}
	if n := srv.Calls("GetObject"); n != 6 {
		t.Errorf("GetObject calls = %d, want 6: the files of two accounts in one Region for three days, the others pruned by their keys", n)
	}
	for _, bad := range [][]string{{"--accounts", "12"}, {"--regions", "Europe"}, {"--from", "yesterday"}, {"--from", "2026-03-05", "--to", "2026-03-04"}} {
		if code, _, _ := runCLI(append([]string{"replay", dir}, bad...)...); code != 2 {
			t.Errorf("replay %v exit %d, want 2", bad, code)
		}
	}
}
