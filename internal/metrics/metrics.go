// Package metrics names the CloudWatch metrics opsloop's functions publish
// and writes them as CloudWatch Embedded Metric Format (EMF) log lines, which
// CloudWatch Logs turns into metrics without any API call from the function.
// The CDK app's alarms and dashboard read the same names.
package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Namespace is the CloudWatch namespace of every opsloop metric.
const Namespace = "opsloop"

// Metric names. Decisions carries the DimensionAction dimension; the others
// are published without dimensions.
const (
	// Decisions counts classified events, by the decision's action
	// (ignore, record, incident, recover).
	Decisions = "Decisions"
	// IncidentsOpened counts OpsItems opened.
	IncidentsOpened = "IncidentsOpened"
	// IncidentsResolved counts OpsItems resolved.
	IncidentsResolved = "IncidentsResolved"
	// ProblemsOpened counts problems recorded.
	ProblemsOpened = "ProblemsOpened"
	// TimeToResolve is an incident's time from opening to resolution, in seconds.
	TimeToResolve = "TimeToResolve"
	// OpsItemLimitExceeded counts OpsItems that could not be opened because
	// an OpsCenter quota was reached.
	OpsItemLimitExceeded = "OpsItemLimitExceeded"
	// IncidentsHeldBack counts incidents the OpsItem budget held back into
	// their rule's roll-up OpsItem.
	IncidentsHeldBack = "IncidentsHeldBack"
	// OpsItemsRetried counts OpsItems a scheduled retry opened after
	// OpsCenter had refused them for its quota.
	OpsItemsRetried = "OpsItemsRetried"
	// IncidentsEscalated counts escalations of OpsItems left Open past
	// their response time.
	IncidentsEscalated = "IncidentsEscalated"
	// RulesReloadFailed counts failed reloads of the rules (the last good
	// rules stay in use).
	RulesReloadFailed = "RulesReloadFailed"
	// EventsRejected counts invocations of the classifier with an event it
	// cannot parse. The function fails them, so the count includes the
	// platform's retries of one event.
	EventsRejected = "EventsRejected"
	// SignalsRejected counts messages the incidents function drops as
	// malformed: not an opsloop signal, or one the lifecycle refuses.
	SignalsRejected = "SignalsRejected"
)

// DimensionAction is the dimension of Decisions: the decision's action.
const DimensionAction = "Action"

// Unit is a CloudWatch metric unit.
type Unit string

// The units opsloop's metrics use.
const (
	Count   Unit = "Count"
	Seconds Unit = "Seconds"
)

// Sample is one value of one metric.
type Sample struct {
	Name  string
	Unit  Unit
	Value float64
}

// EMF's limits on one log line.
const (
	maxSamples    = 100
	maxDimensions = 30
)

// Write writes one EMF line to w holding samples, with the dimensions dims
// (nil for none), stamped at. A line is a single JSON object followed by a
// newline, so concurrent writers to one stdout must each write whole lines.
func Write(w io.Writer, at time.Time, dims map[string]string, samples ...Sample) error {
	line, err := Line(at, dims, samples...)
	if err != nil {
		return err
	}
	if _, err := w.Write(line); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

// Line returns the EMF line Write writes, newline included.
func Line(at time.Time, dims map[string]string, samples ...Sample) ([]byte, error) {
	if len(samples) == 0 || len(samples) > maxSamples {
		return nil, fmt.Errorf("metrics line: %d samples, want 1 to %d", len(samples), maxSamples)
	}
	if len(dims) > maxDimensions {
		return nil, fmt.Errorf("metrics line: %d dimensions, more than %d", len(dims), maxDimensions)
	}
	keys := make([]string, 0, len(dims))
	for k := range dims {
		if k == "" || k == "_aws" {
			return nil, fmt.Errorf("metrics line: bad dimension name %q", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	doc := map[string]any{}
	for _, k := range keys {
		doc[k] = dims[k]
	}
	defs := make([]map[string]string, 0, len(samples))
	for _, s := range samples {
		switch {
		case s.Name == "" || s.Name == "_aws":
			return nil, fmt.Errorf("metrics line: bad metric name %q", s.Name)
		case math.IsNaN(s.Value) || math.IsInf(s.Value, 0):
			return nil, fmt.Errorf("metrics line: %s = %v is not a number CloudWatch accepts", s.Name, s.Value)
		}
		if _, dup := doc[s.Name]; dup {
			return nil, fmt.Errorf("metrics line: %s named twice (as a metric or a dimension)", s.Name)
		}
		doc[s.Name] = s.Value
		def := map[string]string{"Name": s.Name}
		if s.Unit != "" {
			def["Unit"] = string(s.Unit)
		}
		defs = append(defs, def)
	}
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{keys},
			"Metrics":    defs,
		}},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode metrics line: %w", err)
	}
	return b.Bytes(), nil
}
