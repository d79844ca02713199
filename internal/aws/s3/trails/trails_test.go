package trails_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/s3/trails"
)

// TestBucket: against the local S3 endpoint, List pages through every key
// under a prefix in key order, and Get reads an object whole, retrying
// what S3 throttles.
func TestBucket(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("trails")
	var want []string
	for i := range 2500 { // more than one page of 1,000
		k := fmt.Sprintf("AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/03/04/f%04d.json.gz", i)
		srv.PutObject("trails", k, []byte(k), time.Now())
		want = append(want, k)
	}
	srv.PutObject("trails", "other/x.json", []byte("{}"), time.Now())
	b := trails.New(srv.Client(), "trails")
	keys, err := b.List(ctx, "AWSLogs/")
	if err != nil || !slices.Equal(keys, want) {
		t.Fatalf("List = %d keys, %v; want %d in order", len(keys), err, len(want))
	}
	srv.Faults.Script("GetObject", awstest.Throttling)
	data, err := b.Get(ctx, want[7])
	if err != nil || string(data) != want[7] {
		t.Errorf("Get = %q, %v", data, err)
	}
	if _, err := b.Get(ctx, "missing.json"); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("Get of no object = %v, want NoSuchKey", err)
	}
}
