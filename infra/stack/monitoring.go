package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/metrics"
)

// incidentsQueueMaxAge is how old the oldest waiting signal may grow before
// the pipeline is behind: a quarter hour of OpsItems not yet opened.
const incidentsQueueMaxAgeSeconds = 900

// metric is one of opsloop's own EMF metrics; label names it on graphs
// (alarms take metrics without one).
func metric(name, statistic, label string, dims map[string]*string) awscloudwatch.Metric {
	props := &awscloudwatch.MetricProps{
		Namespace:     jsii.String(metrics.Namespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &dims,
		Statistic:     jsii.String(statistic),
		Period:        awscdk.Duration_Minutes(jsii.Number(5)),
	}
	if label != "" {
		props.Label = jsii.String(label)
	}
	return awscloudwatch.NewMetric(props)
}

// monitoring alarms on the pipeline itself, to the topic, and draws the
// dashboard.
func (s *PipelineStack) monitoring(cfg Config) {
	st := s.Stack
	notify := awscloudwatchactions.NewSnsAction(s.Topic)
	var alarms []interfacesawscloudwatch.IAlarmRef
	alarm := func(id, description string, m awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(st, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             m,
			AlarmDescription:   jsii.String(description),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
		a.AddOkAction(notify)
		alarms = append(alarms, a)
	}
	five := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	fns := []struct {
		id string
		fn awslambda.Function
	}{{"Classifier", s.Classifier}, {"Incidents", s.Incidents}, {"Problems", s.Problems}}
	for _, f := range fns {
		alarm(f.id+"Errors", "opsloop: the "+f.id+" function failed; its events are retried, then kept in its dead-letter queue", f.fn.MetricErrors(five), 1)
		alarm(f.id+"Throttles", "opsloop: the "+f.id+" function was throttled", f.fn.MetricThrottles(five), 1)
	}
	maxFive := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}
	for _, name := range []string{ClassifierName, IncidentsName, ProblemsName} {
		q := s.DeadLetterQueues[name]
		id := upperFirst(name) + "DeadLetterDepth"
		alarm(id, "opsloop: events the "+name+" function could not handle wait in its dead-letter queue; `opsloop redrive` replays them", q.MetricApproximateNumberOfMessagesVisible(maxFive), 1)
	}
	alarm("IncidentsQueueAge", "opsloop: incident signals have waited over 15 minutes for the incidents function", s.IncidentsQueue.MetricApproximateAgeOfOldestMessage(maxFive), incidentsQueueMaxAgeSeconds)
	alarm("OpsItemLimitExceeded", "opsloop: OpsCenter refused to open an OpsItem because a quota is reached", metric(metrics.OpsItemLimitExceeded, "Sum", "", nil), 1)
	alarm("IncidentsHeldBack", "opsloop: the OpsItem budget held incidents back into their rule's roll-up OpsItem (a flood, or caps too low: see the budget in docs/rules.md)", metric(metrics.IncidentsHeldBack, "Sum", "", nil), 1)
	alarm("RulesReloadFailed", "opsloop: a function could not reload the rules and keeps the last good ones", metric(metrics.RulesReloadFailed, "Sum", "", nil), 1)

	var decisions []awscloudwatch.IMetric
	for _, a := range classify.Actions {
		decisions = append(decisions, metric(metrics.Decisions, "Sum", string(a), map[string]*string{metrics.DimensionAction: jsii.String(string(a))}))
	}
	graph := func(title string, width float64, stacked bool, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Stacked: jsii.Bool(stacked), Left: &left,
		})
	}
	var errs, queues []awscloudwatch.IMetric
	for _, f := range fns {
		errs = append(errs, f.fn.MetricErrors(five).With(&awscloudwatch.MetricOptions{Label: jsii.String(f.id + " errors")}),
			f.fn.MetricThrottles(five).With(&awscloudwatch.MetricOptions{Label: jsii.String(f.id + " throttles")}))
	}
	for _, name := range []string{ClassifierName, IncidentsName, ProblemsName} {
		queues = append(queues, s.DeadLetterQueues[name].MetricApproximateNumberOfMessagesVisible(maxFive).With(&awscloudwatch.MetricOptions{Label: jsii.String(name + " dead letters")}))
	}
	queues = append(queues, s.IncidentsQueue.MetricApproximateNumberOfMessagesVisible(maxFive).With(&awscloudwatch.MetricOptions{Label: jsii.String("incident signals waiting")}))
	awscloudwatch.NewDashboard(st, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(cfg.Prefix),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				graph("Events classified, by decision", 12, true, decisions...),
				graph("Incidents opened and resolved", 6, false,
					metric(metrics.IncidentsOpened, "Sum", "opened", nil), metric(metrics.IncidentsResolved, "Sum", "resolved", nil)),
				graph("Problems recorded", 6, false, metric(metrics.ProblemsOpened, "Sum", "problems", nil)),
			},
			{
				graph("Time to resolve (seconds)", 12, false,
					metric(metrics.TimeToResolve, "p50", "median", nil), metric(metrics.TimeToResolve, "p90", "p90", nil), metric(metrics.TimeToResolve, "Maximum", "longest", nil)),
				graph("OpsItem quota, rules reloads, rejected input", 12, false,
					metric(metrics.OpsItemLimitExceeded, "Sum", "OpsItem quota reached", nil), metric(metrics.IncidentsHeldBack, "Sum", "incidents held back", nil),
					metric(metrics.OpsItemsRetried, "Sum", "refused OpsItems opened later", nil), metric(metrics.RulesReloadFailed, "Sum", "rules reload failed", nil),
					metric(metrics.EventsRejected, "Sum", "events rejected", nil), metric(metrics.SignalsRejected, "Sum", "signals rejected", nil)),
			},
			{
				graph("Function errors and throttles", 12, false, errs...),
				graph("Queues", 12, false, append(queues, s.IncidentsQueue.MetricApproximateAgeOfOldestMessage(maxFive).With(&awscloudwatch.MetricOptions{Label: jsii.String("oldest signal (s)")}))...),
			},
			{
				awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{Title: jsii.String("Pipeline alarms"), Alarms: &alarms, Width: jsii.Number(24)}),
			},
		},
	})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
