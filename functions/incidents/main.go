// Command incidents is the Lambda function that owns the OpsItem lifecycle:
// SQS delivers it batches of the classifier's signals from the opsloop bus,
// and it opens, updates and resolves OpsItems in OpsCenter, reporting the
// messages worth retrying as partial batch failures.
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
	"github.com/opsloop/opsloop/internal/aws/dynamodb/incidentstore"
	"github.com/opsloop/opsloop/internal/aws/eventbridge"
	"github.com/opsloop/opsloop/internal/aws/ssm/automation"
	"github.com/opsloop/opsloop/internal/aws/ssm/opscenter"
	"github.com/opsloop/opsloop/internal/functions/incidentsfn"
	"github.com/opsloop/opsloop/internal/incidents"
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
	lambda.Start(h.Handle)
}

// setup reads the settings and builds the clients once per execution
// environment.
func setup(out io.Writer, log *slog.Logger) (*incidentsfn.Incidents, error) {
	env := lambdaenv.FromOS()
	cfg := env.AWSConfig()
	s, err := incidentsfn.ReadIncidentsSettings(env)
	if err != nil {
		return nil, err
	}
	table := incidentstore.New(dynamodb.New(awsdynamodb.NewFromConfig(env.For(cfg, "DynamoDB")), s.Table, dynamodb.Options{}))
	ssmClient := ssm.NewFromConfig(env.For(cfg, "SSM"))
	ops := opscenter.New(ssmClient, opscenter.Options{Region: cfg.Region})
	publisher := eventbridge.New(awseventbridge.NewFromConfig(env.For(cfg, "EventBridge")), s.Bus, eventbridge.Options{})
	manager := incidents.New(ops, table,
		incidents.WithPublisher(incidentsfn.Publisher(publisher)),
		incidents.WithChanges(table, 0),
		incidents.WithDefaultTopic(s.Topic),
		incidents.WithBudget(table),
		incidents.WithWaitlist(table),
		incidents.WithEscalation(table, ops),
		incidents.WithConsoleRegion(cfg.Region),
		incidents.WithAutomations(automation.New(ssmClient)),
		incidents.WithLogger(log))
	return incidentsfn.NewIncidents(manager, log, lambdaenv.NewMetrics(out, log)), nil
}
