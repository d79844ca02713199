package awstest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

// An SSM endpoint runs in-process; SDK clients reach it through its
// Client method (or BaseEndpoint set to URL, with Credentials).
func Example() {
	srv := awstest.NewSSM()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	in := &ssm.CreateOpsItemInput{
		Title: aws.String("Alarm cpu-high is in ALARM"), Description: aws.String("The alarm fired."), Source: aws.String("opsloop"),
		OperationalData: map[string]types.OpsItemDataValue{
			"/aws/dedup": {Type: types.OpsItemDataTypeSearchableString, Value: aws.String(`{"dedupString":"alarm:cpu-high"}`)},
		},
	}
	out, _ := client.CreateOpsItem(ctx, in)
	fmt.Println("created", aws.ToString(out.OpsItemId))

	// One injected throttle: the SDK's retryer absorbs it.
	srv.Faults.Script("CreateOpsItem", awstest.Throttling)
	_, err := client.CreateOpsItem(ctx, in)
	var exists *types.OpsItemAlreadyExistsException
	if errors.As(err, &exists) {
		fmt.Println("duplicate of", aws.ToString(exists.OpsItemId))
	}
	fmt.Println("CreateOpsItem calls:", srv.Calls("CreateOpsItem"))
	// Output:
	// created oi-000000000001
	// duplicate of oi-000000000001
	// CreateOpsItem calls: 3
}
