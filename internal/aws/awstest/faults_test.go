package awstest_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

// outcomes makes n calls of op and returns each one's error code: "" for
// an answer of the operation itself (OpsItemNotFoundException included),
// "http" for an error response that is not the service's JSON.
func outcomes(t *testing.T, client *ssm.Client, op string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		var err error
		switch op {
		case "GetOpsItem":
			_, err = client.GetOpsItem(context.Background(), &ssm.GetOpsItemInput{OpsItemId: aws.String("oi-000000000001")})
		default:
			_, err = client.DescribeOpsItems(context.Background(), &ssm.DescribeOpsItemsInput{})
		}
		switch code := errorCode(err); {
		case err == nil || code == "OpsItemNotFoundException":
			out = append(out, "")
		case code == "": // a body that is not the service's JSON
			out = append(out, "http")
		default:
			out = append(out, code)
		}
	}
	return out
}

func TestFaultScripts(t *testing.T) {
	srv, client := newSSM(t)
	srv.Faults.Script("", awstest.HTTP503)
	srv.Faults.Script("GetOpsItem", awstest.Throttling, awstest.InternalServerError)
	if n := srv.Faults.Pending(); n != 3 {
		t.Fatalf("Pending() = %d, want 3", n)
	}
	// The operation's own script goes first, then the one for any operation.
	got := outcomes(t, client, "GetOpsItem", 4)
	want := []string{"ThrottlingException", "InternalServerError", "http", ""}
	if !slices.Equal(got, want) {
		t.Errorf("GetOpsItem outcomes = %v, want %v", got, want)
	}
	if n := srv.Calls("GetOpsItem"); n != 4 {
		t.Errorf("Calls(GetOpsItem) = %d, want 4", n)
	}
	srv.Faults.Script("", awstest.HTTP500)
	srv.Faults.Reset()
	if got := outcomes(t, client, "DescribeOpsItems", 1); got[0] != "" {
		t.Errorf("after Reset: DescribeOpsItems = %q, want success", got[0])
	}
}

func TestFaultRate(t *testing.T) {
	run := func(seed uint64) []string {
		srv, client := newSSM(t)
		srv.Faults.SetRate(0.5, seed, []awstest.Fault{awstest.Throttling}, "GetOpsItem")
		got := outcomes(t, client, "GetOpsItem", 200)
		if other := outcomes(t, client, "DescribeOpsItems", 20); slices.Contains(other, "ThrottlingException") {
			t.Errorf("SetRate for GetOpsItem failed DescribeOpsItems: %v", other)
		}
		return got
	}
	a, b := run(3), run(3)
	if !slices.Equal(a, b) {
		t.Errorf("SetRate with one seed gave different sequences")
	}
	faults := 0
	for _, c := range a {
		if c == "ThrottlingException" {
			faults++
		}
	}
	if faults < 70 || faults > 130 {
		t.Errorf("SetRate(0.5): %d of 200 calls failed, want about 100", faults)
	}
}
