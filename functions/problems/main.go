// Command problems is the Lambda function that learns from incidents:
// EventBridge invokes it with the incident lifecycle's events and
// OpsCenter's OpsItem events, which it turns into problems, resolution
// times and OpsItems related to one another, and with the weekly schedule,
// for which it writes the review to S3 and sends its summary to the topic.
package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/problemstore"
	"github.com/opsloop/opsloop/internal/aws/s3"
	"github.com/opsloop/opsloop/internal/aws/sns"
	"github.com/opsloop/opsloop/internal/aws/ssm/opscenter"
	"github.com/opsloop/opsloop/internal/aws/ssm/parameterstore"
	"github.com/opsloop/opsloop/internal/functions/problemsfn"
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
func setup(out io.Writer, log *slog.Logger) (*problemsfn.Problems, error) {
	env := lambdaenv.FromOS()
	cfg := env.AWSConfig()
	s, err := problemsfn.ReadProblemsSettings(env)
	if err != nil {
		return nil, err
	}
	m := lambdaenv.NewMetrics(out, log)
	db := awsdynamodb.NewFromConfig(env.For(cfg, "DynamoDB"))
	table := dynamodb.New(db, s.Table, dynamodb.Options{})
	state := problemstore.New(db, s.Table, problemstore.Options{})
	ssmClient := ssm.NewFromConfig(env.For(cfg, "SSM"))
	loader := parameterstore.NewLoader(ssmClient, s.RulesPath, parameterstore.Options{TTL: s.RulesTTL})
	ops := opscenter.New(ssmClient, opscenter.Options{Region: cfg.Region})
	return problemsfn.NewProblems(problemsfn.ProblemsConfig{
		Rules:         problemsfn.LiveRules(loader, log, m),
		Store:         state,
		Relations:     state,
		Changes:       table,
		OpsItems:      ops,
		Describe:      ops,
		IncidentsRole: s.IncidentsRole,
		Analyses:      state,
		Table:         s.Table,
		Log:           state,
		Marks:         state,
		Reports:       s3.New(awss3.NewFromConfig(env.For(cfg, "S3")), s.ReportBucket, s3.Options{Region: cfg.Region}),
		Notifier:      sns.New(awssns.NewFromConfig(env.For(cfg, "SNS")), s.Topic),
		Logger:        log,
		Metrics:       m,
	}), nil
}
