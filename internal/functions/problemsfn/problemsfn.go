// Package problemsfn is the problems function's logic: the lifecycle's and
// OpsCenter's events turned into problems, resolution times and related
// OpsItems, and the scheduled review written to S3 and sent to the topic.
package problemsfn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/functions/liverules"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/lambdaenv"
	"github.com/opsloop/opsloop/internal/metrics"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/review"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/wait"
)

// ProblemsRejected counts events the problems function drops as malformed
// (problems.ErrInvalid): retrying them cannot help.
const ProblemsRejected = "ProblemsRejected"

// DimensionSource is the dimension of the problems function's
// TimeToResolve: the source of the event that brought the resolution
// first, "opsloop" (the incidents function resolved it) or "aws.ssm" (a
// responder resolved the OpsItem in OpsCenter). Each resolution is
// counted once, under one of them.
const DimensionSource = "Source"

// DefaultReviewPeriod is the span a scheduled review covers, up to the
// schedule's time.
const DefaultReviewPeriod = 7 * 24 * time.Hour

// Detail type and source of EventBridge's scheduled events.
const (
	scheduledSource     = "aws.events"
	scheduledDetailType = "Scheduled Event"
)

// IncidentLog keeps the incidents of each period for the review, as
// dynamo.Problems does.
type IncidentLog interface {
	LogOpened(ctx context.Context, inc review.Incident) error
	// LogResolved returns the incident as logged and whether this was the
	// first resolution logged for it.
	LogResolved(ctx context.Context, r problems.Resolution) (review.Incident, bool, error)
	Incidents(ctx context.Context, from, to time.Time) ([]review.Incident, error)
}

// ReviewMarks keep a review from being sent twice, as dynamo.Problems
// does: a redelivered schedule, or copies of it handled at once. The
// sending is claimed first and marked once done.
type ReviewMarks interface {
	// ReviewSent reports whether review id was sent.
	ReviewSent(ctx context.Context, id string) (bool, error)
	// ClaimReview claims the sending of review id from at until until (when
	// the claimer's invocation ends for sure); false when the review was
	// sent or another claim lasts beyond at.
	ClaimReview(ctx context.Context, id string, at, until time.Time) (bool, error)
	// MarkReviewSent records that review id was sent at at.
	MarkReviewSent(ctx context.Context, id string, at time.Time) error
	// ReleaseReview gives a claim up after a failed step.
	ReleaseReview(ctx context.Context, id string) error
}

// Claims on sending a review last until the claiming invocation's
// deadline (reviewLease without one): a claim left by an invocation that
// died is taken over after it. An invocation that finds the review claimed
// polls, every reviewPoll, until it is sent or the claim has lapsed, while
// reviewMargin of its own time is left (reviewLease without a deadline);
// then it fails, for Lambda to try it again later.
const (
	reviewLease  = 6 * time.Minute
	reviewMargin = 30 * time.Second
	reviewPoll   = 200 * time.Millisecond
)

// Reports stores review reports, as reports.Store does.
type Reports interface {
	Key(end time.Time) string
	Put(ctx context.Context, key string, html []byte) error
	PreviousSnapshot(ctx context.Context, key string) (*review.RulesSnapshot, error)
	Link(key string) string
}

// Notifier publishes a notification, as notify.Topic does.
type Notifier interface {
	Publish(ctx context.Context, subject, message string) (string, error)
}

// OpsItemUpdater updates OpsItems, as opscenter.Client does.
type OpsItemUpdater interface {
	Update(ctx context.Context, id string, u incidents.Update) error
}

// update changes an OpsItem. OpsCenter refusing it (the OpsItem gone,
// say) is logged and does not stop the problem or analysis from being
// recorded; throttling and 5xx are returned, for the event to be retried.
func (p *Problems) update(ctx context.Context, id string, u incidents.Update, what string) error {
	err := p.cfg.OpsItems.Update(ctx, id, u)
	if err != nil && !incidents.Retryable(err) {
		p.log.WarnContext(ctx, what, "opsitem_id", id, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		return nil
	}
	return err
}

// DataAnalysis is the OpsItem's operational data key that links its
// post-incident analysis once the incident resolved.
const DataAnalysis = "opsloop:analysis"

// linkAnalysis names the analysis an incident's resolution opened on its
// OpsItem, with the command that shows it.
func (p *Problems) linkAnalysis(ctx context.Context, id string) error {
	text := fmt.Sprintf("Post-incident analysis open: opsloop analysis show %s --table %s", id, p.cfg.Table)
	return p.update(ctx, id, incidents.Update{OperationalData: map[string]incidents.Data{
		DataAnalysis: {Value: text, Searchable: true},
	}}, "analysis not linked from its OpsItem")
}

// ProblemsConfig is what the problems function works with.
type ProblemsConfig struct {
	// Rules give each rule's recurrence and the review's rules; the
	// function fails (to be retried) while none were ever loaded.
	Rules     *liverules.Rules[*rules.Set]
	Store     problems.Store
	Relations problems.Relations
	Changes   problems.Changes
	// OpsItems relate a problem's OpsItems and link analyses from them.
	OpsItems OpsItemUpdater
	// Describe tells the incident of an OpsItem that OpsCenter's events
	// name only by id (see problems.Complete); none: links written
	// before only.
	Describe problems.OpsItems
	// IncidentsRole names the incidents function's role: OpsCenter's
	// events of the resolutions it made are not described (a paid
	// GetOpsItem each), since its own "Incident Resolved" applies them.
	IncidentsRole string
	// Analyses keep post-incident analyses (none when nil).
	Analyses analysis.Store
	// Table names the deployment's table in the command an OpsItem shows
	// for its analysis.
	Table    string
	Log      IncidentLog
	Marks    ReviewMarks
	Reports  Reports
	Notifier Notifier
	// ReviewPeriod is the span of a scheduled review (default
	// DefaultReviewPeriod).
	ReviewPeriod time.Duration
	Logger       *slog.Logger
	Metrics      *lambdaenv.Metrics
	// Now is the clock of the review's generation time (default time.Now).
	Now func() time.Time
}

// Problems is the problems function: EventBridge invokes it with opsloop's
// "Incident Opened" and "Incident Resolved", OpsCenter's "OpsItem Update",
// and the scheduled event of the review.
type Problems struct {
	cfg ProblemsConfig
	log *slog.Logger

	mu      sync.Mutex
	set     *rules.Set
	tracker *problems.Tracker
}

// NewProblems returns the problems function's handler.
func NewProblems(cfg ProblemsConfig) *Problems {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReviewPeriod <= 0 {
		cfg.ReviewPeriod = DefaultReviewPeriod
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Problems{cfg: cfg, log: cfg.Logger}
}

// ProblemsResult is the answer to one invocation, for synchronous callers
// and tests; EventBridge discards it.
type ProblemsResult struct {
	Outcome  *problems.Outcome `json:"outcome,omitempty"`
	Rejected string            `json:"rejected,omitempty"`
	Review   *ReviewResult     `json:"review,omitempty"`
}

// ReviewResult is what a scheduled review did.
type ReviewResult struct {
	Key       string    `json:"key"`
	Link      string    `json:"link"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Incidents int       `json:"incidents"`
	Problems  int       `json:"problems"`
	// AlreadySent is true when the review had been sent before: nothing
	// was done again.
	AlreadySent bool   `json:"alreadySent,omitempty"`
	MessageID   string `json:"messageId,omitempty"`
}

// Invoke implements the aws-lambda-go Handler interface. Malformed events
// are logged and counted (ProblemsRejected) and end the invocation
// successfully, since retrying cannot fix them; any other error fails it,
// for Lambda to retry and, in the end, keep the event in the function's
// dead-letter queue.
func (p *Problems) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	res, err := p.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return out, nil
}

// Handle handles one event; see Invoke.
func (p *Problems) Handle(ctx context.Context, payload []byte) (ProblemsResult, error) {
	var env struct {
		Source     string    `json:"source"`
		DetailType string    `json:"detail-type"`
		Time       time.Time `json:"time"`
	}
	if json.Unmarshal(payload, &env) == nil && env.Source == scheduledSource && env.DetailType == scheduledDetailType {
		if env.Time.IsZero() {
			return p.reject(ctx, payload, fmt.Errorf("scheduled event without time: %w", problems.ErrInvalid))
		}
		rv, err := p.Review(ctx, env.Time)
		if err != nil {
			p.log.ErrorContext(ctx, "review failed", "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
			return ProblemsResult{}, err
		}
		return ProblemsResult{Review: &rv}, nil
	}
	in, err := problems.ParseEvent(payload)
	if err != nil {
		return p.reject(ctx, payload, err)
	}
	switch {
	case in.Incident != nil:
		return p.opened(ctx, payload, *in.Incident)
	case in.Resolution != nil:
		return p.resolved(ctx, payload, *in.Resolution, env.Source)
	case in.Acknowledgement != nil || in.Escalation != nil:
		tracker, _, err := p.trackerFor(ctx)
		if err != nil {
			return ProblemsResult{}, err
		}
		var out problems.Outcome
		if in.Acknowledgement != nil {
			out, err = tracker.Acknowledged(ctx, *in.Acknowledgement)
		} else {
			out, err = tracker.Escalated(ctx, *in.Escalation)
		}
		if err != nil {
			return ProblemsResult{}, err
		}
		return ProblemsResult{Outcome: &out}, nil
	}
	p.log.DebugContext(ctx, "event ignored", "source", env.Source, "detail_type", env.DetailType, "request_id", lambdaenv.RequestID(ctx))
	return ProblemsResult{Outcome: &problems.Outcome{Action: problems.Ignored}}, nil
}

func (p *Problems) reject(ctx context.Context, payload []byte, err error) (ProblemsResult, error) {
	p.log.ErrorContext(ctx, "event rejected", "reason", err.Error(), "size", len(payload),
		"excerpt", lambdaenv.Excerpt(payload), "request_id", lambdaenv.RequestID(ctx))
	p.cfg.Metrics.Count(ProblemsRejected, nil, 1)
	return ProblemsResult{Rejected: err.Error()}, nil
}

// LiveRules keeps the current rules, as the problems function uses them.
func LiveRules(loader liverules.Loader, log *slog.Logger, m *lambdaenv.Metrics) *liverules.Rules[*rules.Set] {
	return liverules.New(loader, func(set *rules.Set) *rules.Set { return set }, log, m)
}

// trackerFor returns the tracker of the current rules, built anew when
// they change.
func (p *Problems) trackerFor(ctx context.Context) (*problems.Tracker, *rules.Set, error) {
	set, err := p.cfg.Rules.Current(ctx)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tracker == nil || p.set != set {
		opts := []problems.Option{problems.WithRules(set), problems.WithLogger(p.log)}
		if p.cfg.Changes != nil {
			opts = append(opts, problems.WithChanges(p.cfg.Changes, 0))
		}
		if p.cfg.Relations != nil {
			opts = append(opts, problems.WithRelations(p.cfg.Relations))
		}
		if p.cfg.OpsItems != nil {
			opts = append(opts, problems.WithRelater(problems.RelaterFunc(func(ctx context.Context, id string, related []string) error {
				return p.update(ctx, id, incidents.Update{RelatedOpsItems: related}, "OpsItems not related")
			})))
		}
		if p.cfg.Analyses != nil {
			opts = append(opts, problems.WithAnalyses(p.cfg.Analyses, p.cfg.Now))
		}
		p.tracker, p.set = problems.New(p.cfg.Store, opts...), set
	}
	return p.tracker, set, nil
}

func (p *Problems) opened(ctx context.Context, payload []byte, inc problems.Incident) (ProblemsResult, error) {
	tracker, _, err := p.trackerFor(ctx)
	if err != nil {
		p.log.ErrorContext(ctx, "incident not applied: no rules", "opsitem_id", inc.OpsItemID, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		return ProblemsResult{}, err
	}
	out, err := tracker.Opened(ctx, inc)
	if errors.Is(err, problems.ErrInvalid) {
		return p.reject(ctx, payload, err)
	}
	if err != nil {
		return ProblemsResult{}, fmt.Errorf("apply incident %s: %w", inc.OpsItemID, err)
	}
	logged := review.Incident{
		OpsItemID: inc.OpsItemID, Fingerprint: inc.Fingerprint, Rule: inc.Rule, Title: inc.Title,
		Severity: inc.Severity, Category: inc.Category, Account: inc.Account, Region: inc.Region, Opened: inc.Opened,
	}
	if err := p.cfg.Log.LogOpened(ctx, logged); err != nil {
		return ProblemsResult{}, fmt.Errorf("apply incident %s: %w", inc.OpsItemID, err)
	}
	level := slog.LevelDebug
	switch out.Action {
	case problems.Recorded:
		p.cfg.Metrics.Count(metrics.ProblemsOpened, nil, 1)
		level = slog.LevelInfo
	case problems.Reopened:
		level = slog.LevelInfo
	}
	p.log.Log(ctx, level, "incident applied", "opsitem_id", inc.OpsItemID, "rule", inc.Rule, "fingerprint", inc.Fingerprint,
		"action", string(out.Action), "problem", out.Key, "status", string(out.Status), "incidents", out.Incidents,
		"related", out.Related, "request_id", lambdaenv.RequestID(ctx))
	return ProblemsResult{Outcome: &out}, nil
}

func (p *Problems) resolved(ctx context.Context, payload []byte, r problems.Resolution, source string) (ProblemsResult, error) {
	tracker, _, err := p.trackerFor(ctx)
	if err != nil {
		p.log.ErrorContext(ctx, "resolution not applied: no rules", "opsitem_id", r.OpsItemID, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		return ProblemsResult{}, err
	}
	if p.byIncidents(r) {
		p.log.DebugContext(ctx, "resolution by the incidents function: its Incident Resolved applies it", "opsitem_id", r.OpsItemID,
			"request_id", lambdaenv.RequestID(ctx))
		return ProblemsResult{Outcome: &problems.Outcome{Action: problems.Duplicate}}, nil
	}
	// Completed here, not only in the tracker: the incident log needs the
	// opening too.
	r, err = problems.Complete(ctx, r, p.cfg.Describe)
	if err != nil {
		return ProblemsResult{}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
	}
	out, err := tracker.Resolved(ctx, r)
	if errors.Is(err, problems.ErrInvalid) {
		return p.reject(ctx, payload, err)
	}
	if err != nil {
		return ProblemsResult{}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
	}
	if out.Action == problems.Unknown && r.Fingerprint == "" {
		// Neither described nor linked: not an incident of opsloop's,
		// nothing to log.
		p.log.DebugContext(ctx, "resolution of an unknown OpsItem", "opsitem_id", r.OpsItemID, "source", source, "request_id", lambdaenv.RequestID(ctx))
		return ProblemsResult{Outcome: &out}, nil
	}
	if out.AnalysisOpened && p.cfg.OpsItems != nil {
		if err := p.linkAnalysis(ctx, r.OpsItemID); err != nil {
			return ProblemsResult{}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
		}
	}
	inc, first, err := p.cfg.Log.LogResolved(ctx, r)
	if err != nil {
		return ProblemsResult{}, fmt.Errorf("apply resolution of %s: %w", r.OpsItemID, err)
	}
	if ttr, ok := inc.TimeToResolve(); first && ok {
		p.cfg.Metrics.Put(map[string]string{DimensionSource: source},
			metrics.Sample{Name: metrics.TimeToResolve, Unit: metrics.Seconds, Value: ttr.Seconds()})
	}
	p.log.DebugContext(ctx, "resolution applied", "opsitem_id", r.OpsItemID, "source", source, "action", string(out.Action),
		"problem", out.Key, "first", first, "request_id", lambdaenv.RequestID(ctx))
	return ProblemsResult{Outcome: &out}, nil
}

// byIncidents reports whether OpsCenter's event tells of a resolution the
// incidents function made: by a session of its role.
func (p *Problems) byIncidents(r problems.Resolution) bool {
	return p.cfg.IncidentsRole != "" && strings.Contains(r.ResolvedBy, ":assumed-role/"+p.cfg.IncidentsRole+"/")
}

// Review builds the review of the period ending at end from the incident
// log and the problems, writes its HTML report and publishes its text with
// a link to the report. A review sent before is not sent again.
func (p *Problems) Review(ctx context.Context, end time.Time) (ReviewResult, error) {
	end = end.UTC()
	from := end.Add(-p.cfg.ReviewPeriod)
	key := p.cfg.Reports.Key(end)
	res := ReviewResult{Key: key, Link: p.cfg.Reports.Link(key), From: from, To: end}
	sent, err := p.claimReview(ctx, key)
	if err != nil {
		return res, fmt.Errorf("review %s: %w", key, err)
	}
	if sent {
		res.AlreadySent = true
		p.log.InfoContext(ctx, "review sent before", "report", key, "request_id", lambdaenv.RequestID(ctx))
		return res, nil
	}
	res, err = p.sendReview(ctx, res)
	if err != nil {
		if rerr := p.cfg.Marks.ReleaseReview(context.WithoutCancel(ctx), key); rerr != nil {
			p.log.WarnContext(ctx, "review claim left", "report", key, "error", rerr.Error(), "request_id", lambdaenv.RequestID(ctx))
		}
		return res, fmt.Errorf("review %s: %w", key, err)
	}
	return res, nil
}

// claimReview claims the sending of review key, or reports that it was
// sent. Claimed by another invocation, it polls until that one has sent
// it or its claim has lapsed, as long as its own time allows.
func (p *Problems) claimReview(ctx context.Context, key string) (sent bool, err error) {
	until, ok := ctx.Deadline()
	if !ok {
		until = p.cfg.Now().Add(reviewLease)
	}
	giveUp := time.Now().Add(reviewLease)
	if ok {
		giveUp = until.Add(-reviewMargin)
	}
	for {
		if sent, err := p.cfg.Marks.ReviewSent(ctx, key); err != nil || sent {
			return sent, err
		}
		claimed, err := p.cfg.Marks.ClaimReview(ctx, key, p.cfg.Now(), until)
		if err != nil || claimed {
			return false, err
		}
		if time.Now().After(giveUp) {
			return false, errors.New("another invocation is sending it")
		}
		if err := wait.For(ctx, reviewPoll); err != nil {
			return false, err
		}
	}
}

// sendReview builds the review res names, writes its report and publishes
// its summary, then marks it sent.
func (p *Problems) sendReview(ctx context.Context, res ReviewResult) (ReviewResult, error) {
	from, end, key := res.From, res.To, res.Key
	_, set, err := p.trackerFor(ctx)
	if err != nil {
		return res, err
	}
	incs, err := p.cfg.Log.Incidents(ctx, from, end)
	if err != nil {
		return res, err
	}
	var ps []problems.Problem
	for _, s := range problems.Statuses {
		got, err := p.cfg.Store.List(ctx, s)
		if err != nil {
			return res, err
		}
		ps = append(ps, got...)
	}
	var as []analysis.Analysis
	if p.cfg.Analyses != nil {
		for _, s := range []analysis.Status{analysis.Open, analysis.Done} {
			got, err := p.cfg.Analyses.ListAnalyses(ctx, s)
			if err != nil {
				return res, err
			}
			as = append(as, got...)
		}
	}
	prev, err := p.cfg.Reports.PreviousSnapshot(ctx, key)
	if err != nil {
		// A previous report that cannot be read costs the rules changes,
		// not the review.
		p.log.WarnContext(ctx, "previous review not read", "report", key, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
		prev = nil
	}
	rv := review.Build(review.Input{
		From: from, To: end, Generated: p.cfg.Now(), Rules: set, Previous: prev, Incidents: incs, Problems: ps, Analyses: as,
	})
	var html bytes.Buffer
	if err := rv.WriteHTML(&html); err != nil {
		return res, err
	}
	if err := p.cfg.Reports.Put(ctx, key, html.Bytes()); err != nil {
		return res, err
	}
	subject := fmt.Sprintf("%s %s to %s", rv.Title, from.Format("2006-01-02"), end.Format("2006-01-02"))
	id, err := p.cfg.Notifier.Publish(ctx, subject, rv.Text(res.Link))
	if err != nil {
		return res, err
	}
	if err := p.cfg.Marks.MarkReviewSent(ctx, key, p.cfg.Now()); err != nil {
		// Sent already: a retry would send it twice, so the mark is only logged.
		p.log.WarnContext(ctx, "review not marked as sent", "report", key, "error", err.Error(), "request_id", lambdaenv.RequestID(ctx))
	}
	res.Incidents, res.Problems, res.MessageID = len(incs), len(ps), id
	p.log.InfoContext(ctx, "review sent", "report", key, "incidents", len(incs), "problems", len(ps),
		"noisy", len(rv.Noisy), "silent", len(rv.Silent), "message_id", id, "request_id", lambdaenv.RequestID(ctx))
	return res, nil
}

// ProblemsSettings configure the problems function.
type ProblemsSettings struct {
	Table        string
	RulesPath    string
	RulesTTL     time.Duration
	Topic        string
	ReportBucket string
	// IncidentsRole is the incidents function's role name (optional).
	IncidentsRole string
}

// ReadProblemsSettings reads the problems function's settings from env,
// naming every missing or malformed variable in one error.
func ReadProblemsSettings(env *lambdaenv.Env) (ProblemsSettings, error) {
	s := ProblemsSettings{
		Table:         env.Required(lambdaenv.EnvTable),
		RulesPath:     env.Required(lambdaenv.EnvRulesPath),
		Topic:         env.Required(lambdaenv.EnvTopic),
		ReportBucket:  env.Required(lambdaenv.EnvReportBucket),
		RulesTTL:      env.Duration(lambdaenv.EnvRulesTTL, liverules.DefaultTTL),
		IncidentsRole: env.Optional(lambdaenv.EnvIncidentsRole, ""),
	}
	return s, env.Err()
}
