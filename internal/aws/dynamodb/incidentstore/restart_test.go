package incidentstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/incidentstore"
	"github.com/opsloop/opsloop/internal/incidents"
)

// TestRestart stops dynalite under the adapter: every call fails with an
// error the SDK classifies as retryable (and none is a conflict), and once
// it is back the next calls work.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	d := awstest.DynaliteForTest(t)
	client := d.Client(func(o *awsdynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts, so.MaxBackoff = 2, 10*time.Millisecond
		})
	})
	const name = "opsloop-restart"
	dynamotest.Create(t, client, name)
	table := incidentstore.New(dynamodb.New(client, name, dynamodb.Options{}))

	calls := []struct {
		name string
		call func(i int) error
	}{
		{"Count", func(i int) error {
			_, _, err := table.Count(ctx, "k", base, time.Minute, fmt.Sprintf("e-%d", i))
			return err
		}},
		{"Get", func(int) error {
			_, err := table.Get(ctx, "fp")
			return err
		}},
		{"Put", func(i int) error {
			return table.Put(ctx, sampleRecord(fmt.Sprintf("fp:%d", i)))
		}},
		{"Changes", func(int) error {
			_, err := table.Changes(ctx, "arn:aws:s3:::b", base, time.Hour)
			return err
		}},
	}
	isRetryable := retry.IsErrorRetryables(retry.DefaultRetryables)
	for phase, running := range []bool{true, false, true} {
		if phase == 1 {
			if err := d.Stop(); err != nil {
				t.Fatalf("Stop = %v", err)
			}
		}
		if phase == 2 {
			if err := d.Restart(ctx); err != nil {
				t.Fatalf("Restart = %v", err)
			}
			// The restarted dynalite is empty, as a fresh deployment would be.
			dynamotest.Create(t, client, name)
		}
		for _, c := range calls {
			err := c.call(phase)
			if err != nil {
				t.Logf("phase %d: %s: %v", phase, c.name, err)
			}
			switch {
			case running && err != nil:
				t.Errorf("phase %d: %s = %v, want success", phase, c.name, err)
			case !running && err == nil:
				t.Errorf("phase %d: %s with dynalite stopped succeeded", phase, c.name)
			case !running && (isRetryable.IsErrorRetryable(err) != aws.TrueTernary || errors.Is(err, incidents.ErrConflict)):
				t.Errorf("phase %d: %s = %v, want a retryable error", phase, c.name, err)
			}
		}
	}
}
