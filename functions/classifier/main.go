// Command classifier is the Lambda function that classifies the account's
// events: EventBridge invokes it with one event, which it decides on under
// the operator's rules and, for incidents and recoveries, signals on the
// opsloop bus.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/opsloop/opsloop/pkg/bus"
	opsconfig "github.com/opsloop/opsloop/pkg/config"
	"github.com/opsloop/opsloop/pkg/dynamo"
	"github.com/opsloop/opsloop/pkg/lambdafn"
	"github.com/opsloop/opsloop/pkg/params"
)

func main() {
	out := lambdafn.Locked(os.Stdout)
	log := lambdafn.NewLogger(out, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	h, err := setup(context.Background(), out, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// setup reads the settings and builds the clients once per execution
// environment; the rules are loaded by the first invocation.
func setup(ctx context.Context, out io.Writer, log *slog.Logger) (*lambdafn.Classifier, error) {
	s, err := lambdafn.ReadClassifierSettings(opsconfig.FromOS())
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	m := lambdafn.NewMetrics(out, log)
	table := dynamo.New(dynamodb.NewFromConfig(cfg), s.Table, dynamo.Options{})
	loader := params.NewLoader(ssm.NewFromConfig(cfg), s.RulesPath, params.Options{TTL: s.RulesTTL})
	rules := lambdafn.NewRules(loader, table, log, m)
	publisher := bus.New(eventbridge.NewFromConfig(cfg), s.Bus, bus.Options{})
	return lambdafn.NewClassifier(rules, publisher, log, m), nil
}
