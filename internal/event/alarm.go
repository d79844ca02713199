package event

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DetailTypeAlarm is the detail type of CloudWatch alarm state changes.
const DetailTypeAlarm = "CloudWatch Alarm State Change"

// Alarm is the detail of a "CloudWatch Alarm State Change" event, for
// metric alarms and composite alarms alike.
type Alarm struct {
	Name          string
	ARN           string // from the event's resources
	State         AlarmState
	PreviousState AlarmState
	Description   string
	Metrics       []AlarmMetric
	// AlarmRule is the rule of a composite alarm; empty for metric alarms.
	AlarmRule string
}

// AlarmState is one state of an alarm: OK, ALARM or INSUFFICIENT_DATA.
type AlarmState struct {
	Value      string
	Reason     string
	ReasonData string
	Timestamp  time.Time
	// ActionsSuppressedBy is set when a composite alarm's actions were
	// suppressed (WaitPeriod, ExtensionPeriod, Alarm).
	ActionsSuppressedBy string
}

// AlarmMetric is one metric or expression the alarm evaluates.
type AlarmMetric struct {
	ID         string
	Expression string
	Label      string
	Namespace  string
	Name       string
	Dimensions map[string]string
	Stat       string
	Period     int
	ReturnData bool
}

// Composite reports whether the alarm is a composite alarm.
func (a *Alarm) Composite() bool { return a.AlarmRule != "" }

type alarmStateJSON struct {
	Value               string `json:"value"`
	Reason              string `json:"reason"`
	ReasonData          string `json:"reasonData"`
	Timestamp           string `json:"timestamp"`
	ActionsSuppressedBy string `json:"actionsSuppressedBy"`
}

func (s alarmStateJSON) state() AlarmState {
	return AlarmState{
		Value:               s.Value,
		Reason:              s.Reason,
		ReasonData:          s.ReasonData,
		Timestamp:           parseAWSTime(s.Timestamp),
		ActionsSuppressedBy: s.ActionsSuppressedBy,
	}
}

type alarmJSON struct {
	AlarmName     string         `json:"alarmName"`
	State         alarmStateJSON `json:"state"`
	PreviousState alarmStateJSON `json:"previousState"`
	Configuration struct {
		Description string `json:"description"`
		AlarmRule   string `json:"alarmRule"`
		Metrics     []struct {
			ID         string `json:"id"`
			Expression string `json:"expression"`
			Label      string `json:"label"`
			ReturnData bool   `json:"returnData"`
			Period     int    `json:"period"`
			MetricStat *struct {
				Metric struct {
					Namespace  string                `json:"namespace"`
					Name       string                `json:"name"`
					Dimensions map[string]flexString `json:"dimensions"`
				} `json:"metric"`
				Period int    `json:"period"`
				Stat   string `json:"stat"`
			} `json:"metricStat"`
		} `json:"metrics"`
	} `json:"configuration"`
}

// Alarm decodes the detail of a "CloudWatch Alarm State Change" event. It
// wraps ErrWrongKind for events of other detail types.
func (e *Event) Alarm() (*Alarm, error) {
	if e.DetailType != DetailTypeAlarm {
		return nil, fmt.Errorf("alarm view of %q: %w", e.DetailType, ErrWrongKind)
	}
	var r alarmJSON
	if err := json.Unmarshal(e.Detail, &r); err != nil {
		return nil, fmt.Errorf("decode alarm detail: %w", err)
	}
	a := &Alarm{
		Name:          r.AlarmName,
		State:         r.State.state(),
		PreviousState: r.PreviousState.state(),
		Description:   r.Configuration.Description,
		AlarmRule:     r.Configuration.AlarmRule,
	}
	for _, res := range e.Resources {
		if strings.HasPrefix(res, "arn:") && strings.Contains(res, ":alarm:") {
			a.ARN = res
			break
		}
	}
	for _, m := range r.Configuration.Metrics {
		am := AlarmMetric{
			ID:         m.ID,
			Expression: m.Expression,
			Label:      m.Label,
			ReturnData: m.ReturnData,
			Period:     m.Period,
		}
		if ms := m.MetricStat; ms != nil {
			am.Namespace = ms.Metric.Namespace
			am.Name = ms.Metric.Name
			am.Stat = ms.Stat
			if ms.Period != 0 {
				am.Period = ms.Period
			}
			if len(ms.Metric.Dimensions) > 0 {
				am.Dimensions = make(map[string]string, len(ms.Metric.Dimensions))
				for k, v := range ms.Metric.Dimensions {
					am.Dimensions[k] = string(v)
				}
			}
		}
		a.Metrics = append(a.Metrics, am)
	}
	return a, nil
}

// dimensionNames returns a metric's dimension names in a stable order.
func (m AlarmMetric) dimensionNames() []string {
	names := make([]string, 0, len(m.Dimensions))
	for k := range m.Dimensions {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// parseAWSTime reads the timestamp styles AWS services write: RFC 3339 and
// CloudWatch's "2019-10-02T17:04:40.989+0000". Unreadable times are zero.
func parseAWSTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
