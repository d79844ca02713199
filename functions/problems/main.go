// Command problems is the Lambda function that learns from incidents:
// EventBridge invokes it with the incident lifecycle's events and
// OpsCenter's OpsItem events, which it turns into problems, resolution
// times and OpsItems related to one another, and with the weekly schedule,
// for which it writes the review to S3 and sends its summary to the topic.
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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	opsconfig "github.com/opsloop/opsloop/pkg/config"
	"github.com/opsloop/opsloop/pkg/dynamo"
	"github.com/opsloop/opsloop/pkg/lambdafn"
	"github.com/opsloop/opsloop/pkg/notify"
	"github.com/opsloop/opsloop/pkg/opscenter"
	"github.com/opsloop/opsloop/pkg/params"
	"github.com/opsloop/opsloop/pkg/reports"
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
func setup(ctx context.Context, out io.Writer, log *slog.Logger) (*lambdafn.Problems, error) {
	s, err := lambdafn.ReadProblemsSettings(opsconfig.FromOS())
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	m := lambdafn.NewMetrics(out, log)
	db := dynamodb.NewFromConfig(cfg)
	table := dynamo.New(db, s.Table, dynamo.Options{})
	state := dynamo.NewProblems(db, s.Table, dynamo.ProblemsOptions{})
	ssmClient := ssm.NewFromConfig(cfg)
	loader := params.NewLoader(ssmClient, s.RulesPath, params.Options{TTL: s.RulesTTL})
	return lambdafn.NewProblems(lambdafn.ProblemsConfig{
		Rules:     lambdafn.NewRules(loader, table, log, m),
		Store:     state,
		Relations: state,
		Changes:   table,
		Relater:   lambdafn.Relater(opscenter.New(ssmClient, opscenter.Options{}), log),
		Log:       state,
		Marks:     state,
		Reports:   reports.New(s3.NewFromConfig(cfg), s.ReportBucket, reports.Options{Region: cfg.Region}),
		Notifier:  notify.New(sns.NewFromConfig(cfg), s.Topic),
		Logger:    log,
		Metrics:   m,
	}), nil
}
