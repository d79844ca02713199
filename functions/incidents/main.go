// Command incidents is the Lambda function that owns the OpsItem lifecycle:
// SQS delivers it batches of the classifier's signals from the opsloop bus,
// and it opens, updates and resolves OpsItems in OpsCenter, reporting the
// messages worth retrying as partial batch failures.
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
	"github.com/opsloop/opsloop/pkg/incidents"
	"github.com/opsloop/opsloop/pkg/lambdafn"
	"github.com/opsloop/opsloop/pkg/opscenter"
	"github.com/opsloop/opsloop/pkg/pipeline"
)

func main() {
	out := lambdafn.Locked(os.Stdout)
	log := lambdafn.NewLogger(out, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	h, err := setup(context.Background(), out, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// setup reads the settings and builds the clients once per execution
// environment.
func setup(ctx context.Context, out io.Writer, log *slog.Logger) (*lambdafn.Incidents, error) {
	s, err := lambdafn.ReadIncidentsSettings(opsconfig.FromOS())
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	table := dynamo.New(dynamodb.NewFromConfig(cfg), s.Table, dynamo.Options{})
	ops := opscenter.New(ssm.NewFromConfig(cfg), opscenter.Options{})
	publisher := bus.New(eventbridge.NewFromConfig(cfg), s.Bus, bus.Options{})
	manager := incidents.New(ops, table,
		incidents.WithPublisher(lambdafn.Publisher(publisher)),
		incidents.WithChanges(pipeline.ChangesFrom(table), 0),
		incidents.WithDefaultTopic(s.Topic),
		incidents.WithLogger(log))
	return lambdafn.NewIncidents(manager, log, lambdafn.NewMetrics(out, log)), nil
}
