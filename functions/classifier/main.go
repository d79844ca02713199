// Command classifier is the Lambda function that classifies the account's
// events: EventBridge invokes it with one event, which it decides on under
// the operator's rules and, for incidents and recoveries, signals on the
// opsloop eventbridge.
package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awseventbridge "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
	"github.com/opsloop/opsloop/internal/functions/classifierfn"
	"github.com/opsloop/opsloop/internal/lambdaenv"
)

func main() {
	out := lambdaenv.Locked(os.Stdout)
	log := lambdaenv.NewLogger(out, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	h, err := setup(out, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// setup reads the settings and builds the clients once per execution
// environment; the rules are loaded by the first invocation.
func setup(out io.Writer, log *slog.Logger) (*classifierfn.Classifier, error) {
	env := lambdaenv.FromOS()
	cfg := env.AWSConfig()
	s, err := classifierfn.ReadClassifierSettings(env)
	if err != nil {
		return nil, err
	}
	m := lambdaenv.NewMetrics(out, log)
	table := dynamodb.New(awsdynamodb.NewFromConfig(env.For(cfg, "DynamoDB")), s.Table, dynamodb.Options{})
	loader := parameterstore.NewLoader(ssm.NewFromConfig(env.For(cfg, "SSM")), s.RulesPath, parameterstore.Options{TTL: s.RulesTTL})
	rules := classifierfn.LiveRules(loader, table, log, m)
	publisher := eventbridge.New(awseventbridge.NewFromConfig(env.For(cfg, "EventBridge")), s.Bus, eventbridge.Options{})
	return classifierfn.NewClassifier(rules, publisher, log, m), nil
}
