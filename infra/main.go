// Command infra is opsloop's CDK app: `cdk synth` and `cdk deploy` run it
// (see cdk.json). It reads the deployment's settings from the CDK context,
// defines the stack it chooses and applies cdk-nag's AwsSolutions checks.
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
	if err := define(app, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "opsloop: %v\n", err)
		return 1
	}
	stack.Check(app)
	app.Synth(nil)
	return 0
}

// define adds the stack the context chooses: the pipeline (with, in an
// organization, the StackSet of the member stack) or the member stack alone.
func define(app awscdk.App, cfg stack.Config) error {
	if cfg.Stack == stack.StackMember {
		_, err := stack.NewMemberStack(app, cfg.Prefix+"-member", &stack.MemberStackProps{Config: cfg})
		return err
	}
	props := &stack.PipelineStackProps{Config: cfg}
	if cfg.Organization.ID != "" {
		body, err := stack.MemberTemplate(cfg, nil)
		if err != nil {
			return err
		}
		props.MemberTemplate = body
	}
	_, err := stack.NewPipelineStack(app, cfg.Prefix, props)
	return err
}
