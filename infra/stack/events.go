package stack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/routing"
)

// OpsCenter's own events on the default bus when an OpsItem is created or
// changed, by anyone.
const (
	opsCenterSource     = "aws.ssm"
	opsItemCreate       = "OpsItem Create"
	opsItemUpdate       = "OpsItem Update"
	eventBridgeMaxDescr = 512
)

func (s *PipelineStack) lambdaTarget(fn string) *awseventstargets.LambdaFunctionProps {
	return &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: s.DeadLetterQueues[fn],
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(targetMaxEventAgeHours)),
		RetryAttempts:   jsii.Number(targetRetryAttempts),
	}
}

// routing defines one EventBridge rule on the default bus per generated
// route, each invoking the classifier.
func (s *PipelineStack) routing(patterns []map[string]any) {
	for i, r := range s.Routes {
		desc := fmt.Sprintf("%s %d of %d: %s", routing.DescriptionPrefix, i+1, len(s.Routes), joinInputs(r))
		rule := routeRule(s.Stack, fmt.Sprintf("Route%d", i+1), desc, nil, patterns[i])
		rule.AddTarget(awseventstargets.NewLambdaFunction(s.Classifier, s.lambdaTarget(ClassifierName)))
		s.RouteRules = append(s.RouteRules, rule)
	}
}

// routeRule defines an EventBridge rule with a generated pattern, on bus
// (nil: the default bus).
func routeRule(scope constructs.Construct, id, description string, bus awsevents.IEventBus, pattern map[string]any) awsevents.Rule {
	rule := awsevents.NewRule(scope, jsii.String(id), &awsevents.RuleProps{
		EventBus:    bus,
		Description: jsii.String(truncate(description, eventBridgeMaxDescr)),
		// Replaced below: the typed pattern cannot express "$or".
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings("opsloop.placeholder")},
	})
	// Overrides merge into what the typed pattern rendered, so the
	// placeholder's source must go when the route has none of its own.
	cfn := rule.Node().DefaultChild().(awsevents.CfnRule)
	cfn.AddPropertyOverride(jsii.String("EventPattern"), pattern)
	if _, ok := pattern["source"]; !ok {
		cfn.AddPropertyDeletionOverride(jsii.String("EventPattern.source"))
	}
	return rule
}

// joinInputs names the rules a route carries events for.
func joinInputs(r routing.Route) string { return strings.Join(r.Inputs, ", ") }

// decodePatterns turns the routes' patterns into the values the template
// holds.
func decodePatterns(routes []routing.Route) ([]map[string]any, error) {
	out := make([]map[string]any, len(routes))
	for i, r := range routes {
		if err := json.Unmarshal([]byte(r.Pattern), &out[i]); err != nil {
			return nil, fmt.Errorf("route %d: generated pattern is not JSON: %w", i+1, err)
		}
	}
	return out, nil
}

// busRules route opsloop's own events: signals to the incidents queue,
// the incident lifecycle and OpsCenter's OpsItem events to the problems
// function, and the weekly review schedule.
func (s *PipelineStack) busRules(cfg Config) {
	st := s.Stack
	signals := awsevents.NewRule(st, jsii.String("IncidentSignals"), &awsevents.RuleProps{
		EventBus:    s.Bus,
		Description: jsii.String("opsloop: incidents detected and recovered, to the incidents queue"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(eventSource),
			DetailType: jsii.Strings(signal.DetailDetected, signal.DetailRecovered),
		},
	})
	signals.AddTarget(awseventstargets.NewSqsQueue(s.IncidentsQueue, &awseventstargets.SqsQueueProps{
		DeadLetterQueue: s.DeadLetterQueues[IncidentsName],
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(targetMaxEventAgeHours)),
		RetryAttempts:   jsii.Number(targetRetryAttempts),
	}))

	lifecycle := awsevents.NewRule(st, jsii.String("IncidentLifecycle"), &awsevents.RuleProps{
		EventBus:    s.Bus,
		Description: jsii.String("opsloop: incidents opened, escalated and resolved, to the problems function"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(eventSource),
			DetailType: jsii.Strings(incidents.DetailOpened, incidents.DetailResolved, incidents.DetailEscalated),
		},
	})
	lifecycle.AddTarget(awseventstargets.NewLambdaFunction(s.Problems, s.lambdaTarget(ProblemsName)))

	// OpsItem events carry no reliable field naming the OpsItem's source,
	// so all of them go to the problems function, which keeps opsloop's
	// own; OpsItems are few (OpsCenter allows 10,000 a month).
	opsItems := awsevents.NewRule(st, jsii.String("OpsItemEvents"), &awsevents.RuleProps{
		Description: jsii.String("opsloop: OpsCenter OpsItems created and updated, to the problems function"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(opsCenterSource),
			DetailType: jsii.Strings(opsItemCreate, opsItemUpdate),
		},
	})
	opsItems.AddTarget(awseventstargets.NewLambdaFunction(s.Problems, s.lambdaTarget(ProblemsName)))

	// Every 5 minutes the incidents function escalates the OpsItems left
	// Open past their response time and retries those OpsCenter refused
	// for its quota (not only when their failure repeats); the schedule's
	// event goes through the incidents queue like the signals.
	retry := awsevents.NewRule(st, jsii.String("OpsItemRetry"), &awsevents.RuleProps{
		Description: jsii.String("opsloop: every 5 minutes, escalation of unacknowledged OpsItems and retry of those OpsCenter refused"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(5))),
	})
	retry.AddTarget(awseventstargets.NewSqsQueue(s.IncidentsQueue, &awseventstargets.SqsQueueProps{
		DeadLetterQueue: s.DeadLetterQueues[IncidentsName],
		RetryAttempts:   jsii.Number(targetRetryAttempts),
		MaxEventAge:     awscdk.Duration_Minutes(jsii.Number(10)), // the next run supersedes it
	}))

	review := awsevents.NewRule(st, jsii.String("WeeklyReview"), &awsevents.RuleProps{
		Description: jsii.String("opsloop: the scheduled review of rules, problems and resolution times"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.ReportSchedule)),
	})
	review.AddTarget(awseventstargets.NewLambdaFunction(s.Problems, s.lambdaTarget(ProblemsName)))
}
