// Command infra is opsloop's CDK app: `cdk synth` and `cdk deploy` run it
// (see cdk.json). It reads the deployment's settings from the CDK context,
// defines the pipeline stack and applies cdk-nag's AwsSolutions checks.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/infra/stack"
)

func main() { os.Exit(run()) }

func run() int {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := stack.ConfigFromContext(app.Node())
	if err != nil {
		fmt.Fprintf(os.Stderr, "opsloop: %v\n", err)
		return 1
	}
	if _, err := stack.NewPipelineStack(app, cfg.Prefix, &stack.PipelineStackProps{Config: cfg}); err != nil {
		fmt.Fprintf(os.Stderr, "opsloop: %v\n", err)
		return 1
	}
	stack.Check(app)
	app.Synth(nil)
	return 0
}
