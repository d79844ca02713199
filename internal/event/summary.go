package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSummary bounds Summary's length in bytes, so a long error message or
// alarm reason cannot crowd out the rest of an OpsItem description.
const maxSummary = 400

// Summary is a one-line description of the event — what happened, who or
// what caused it, and where — for OpsItem descriptions and reports. It uses
// the typed view when the event has one and works for any event.
func (e *Event) Summary() string {
	var s string
	switch {
	case isCloudTrailType(e.DetailType):
		s = e.cloudTrailSummary()
	case e.DetailType == DetailTypeAlarm:
		s = e.alarmSummary()
	case isConfigChange(e):
		s = e.configChangeSummary()
	case e.DetailType == DetailTypeConfigCompliance:
		s = e.complianceSummary()
	case e.Source == "aws.ec2" && e.DetailType == "EC2 Instance State-change Notification":
		s = fmt.Sprintf("EC2 instance %s is %s in %s", first(e.Values("detail.instance-id")), first(e.Values("detail.state")), e.Region)
	case e.Source == "aws.health":
		s = e.healthSummary()
	case e.Source == "aws.guardduty" && e.DetailType == "GuardDuty Finding":
		s = e.guardDutySummary()
	}
	if s == "" {
		s = e.genericSummary()
	}
	return oneLine(s, maxSummary)
}

func (e *Event) cloudTrailSummary() string {
	c, err := e.CloudTrail()
	if err != nil {
		return ""
	}
	actor := e.Actor()
	where := c.AWSRegion
	if where == "" {
		where = e.Region
	}
	from := ""
	if c.SourceIPAddress != "" {
		from = " from " + c.SourceIPAddress
	}
	if c.ConsoleLogin != "" || c.EventName == "ConsoleLogin" {
		mfa := "without MFA"
		if c.MFAUsed {
			mfa = "with MFA"
		}
		result := c.ConsoleLogin
		if result == "" {
			result = "attempt"
		}
		s := fmt.Sprintf("Console sign-in %s for %s%s %s in %s", strings.ToLower(result), actor, from, mfa, where)
		if c.ErrorMessage != "" {
			s += ": " + c.ErrorMessage
		}
		return s
	}
	s := fmt.Sprintf("%s:%s by %s%s in %s", c.Service(), c.EventName, actor, from, where)
	if c.ErrorCode != "" {
		s += " failed with " + c.ErrorCode
		if c.ErrorMessage != "" {
			s += ": " + c.ErrorMessage
		}
	} else if c.ErrorMessage != "" {
		s += " failed: " + c.ErrorMessage
	}
	return s
}

func (e *Event) alarmSummary() string {
	a, err := e.Alarm()
	if err != nil {
		return ""
	}
	kind := "CloudWatch alarm"
	if a.Composite() {
		kind = "CloudWatch composite alarm"
	}
	s := fmt.Sprintf("%s %q %s -> %s in %s", kind, a.Name, orUnknown(a.PreviousState.Value), orUnknown(a.State.Value), e.Region)
	if m := primaryMetric(a.Metrics); m != "" {
		s += " (" + m + ")"
	}
	if a.State.Reason != "" {
		s += ": " + a.State.Reason
	}
	return s
}

// primaryMetric names the first metric with a namespace, with its
// dimensions, as "AWS/EC2 CPUUtilization InstanceId=i-0abc".
func primaryMetric(metrics []AlarmMetric) string {
	for _, m := range metrics {
		if m.Namespace == "" {
			continue
		}
		parts := []string{m.Namespace, m.Name}
		for _, k := range m.dimensionNames() {
			parts = append(parts, k+"="+m.Dimensions[k])
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func (e *Event) configChangeSummary() string {
	c, err := e.ConfigChange()
	if err != nil {
		return ""
	}
	name := c.ResourceID
	if c.ResourceName != "" && c.ResourceName != c.ResourceID {
		name += " (" + c.ResourceName + ")"
	}
	return fmt.Sprintf("Config recorded %s %s in %s: %s", c.ResourceType, name, firstNonEmpty(c.AWSRegion, e.Region), c.DiffSummary())
}

func (e *Event) complianceSummary() string {
	c, err := e.ConfigCompliance()
	if err != nil {
		return ""
	}
	s := fmt.Sprintf("Config rule %s: %s %s is %s", c.RuleName, c.ResourceType, c.ResourceID, orUnknown(c.New.ComplianceType))
	if c.Old != nil {
		s += " (was " + c.Old.ComplianceType + ")"
	}
	s += " in " + firstNonEmpty(c.AWSRegion, e.Region)
	if c.New.Annotation != "" {
		s += ": " + c.New.Annotation
	}
	return s
}

func (e *Event) healthSummary() string {
	var d struct {
		Service           string `json:"service"`
		EventTypeCode     string `json:"eventTypeCode"`
		EventTypeCategory string `json:"eventTypeCategory"`
		StatusCode        string `json:"statusCode"`
		EventRegion       string `json:"eventRegion"`
	}
	if json.Unmarshal(e.Detail, &d) != nil || d.EventTypeCode == "" {
		return ""
	}
	s := fmt.Sprintf("AWS Health %s %s %s", d.Service, d.EventTypeCategory, d.EventTypeCode)
	if d.StatusCode != "" {
		s += " (" + d.StatusCode + ")"
	}
	s += " in " + firstNonEmpty(d.EventRegion, e.Region)
	if ents := e.Values("detail.affectedEntities.entityValue"); len(ents) > 0 {
		s += " affecting " + joinFew(ents, 3)
	}
	return s
}

func (e *Event) guardDutySummary() string {
	var d struct {
		Type     string          `json:"type"`
		Title    string          `json:"title"`
		Severity json.RawMessage `json:"severity"`
		Region   string          `json:"region"`
		Resource struct {
			ResourceType string `json:"resourceType"`
		} `json:"resource"`
	}
	if json.Unmarshal(e.Detail, &d) != nil || d.Type == "" {
		return ""
	}
	s := fmt.Sprintf("GuardDuty finding %s (severity %s)", d.Type, strings.TrimSpace(string(d.Severity)))
	if refs := e.ResourceRefs(); len(refs) > 0 {
		s += " on " + refs[0].String()
	} else if d.Resource.ResourceType != "" {
		s += " on " + d.Resource.ResourceType
	}
	s += " in " + firstNonEmpty(d.Region, e.Region)
	if d.Title != "" {
		s += ": " + d.Title
	}
	return s
}

func (e *Event) genericSummary() string {
	s := fmt.Sprintf("%s from %s in %s", orUnknown(e.DetailType), orUnknown(e.Source), orUnknown(e.Region))
	if len(e.Resources) > 0 {
		s += " for " + joinFew(e.Resources, 3)
	}
	return s
}

// Actor tells who or what caused the event: the CloudTrail identity's ARN
// (or "root", a user name, or the invoking service), else the emitting
// service, such as "cloudwatch" for alarms.
func (e *Event) Actor() string {
	if isCloudTrailType(e.DetailType) {
		if c, err := e.CloudTrail(); err == nil {
			if a := c.UserIdentity.actor(); a != "" {
				return a
			}
		}
	}
	if s, ok := strings.CutPrefix(e.Source, "aws."); ok && s != "" {
		return s
	}
	return orUnknown(e.Source)
}

// PrincipalPath is the path of Principal in rules' groupBy and templates:
// not a field of the event, but derived from it.
const PrincipalPath = "principal"

// Principal is the IAM identity that acted, without what the caller chose:
// for a role session the role (the session name is the caller's to pick, so
// grouping by it would let one caller open an incident per name), for a user
// the user, for the root user the account's root. Events of other sources
// have their service as principal, as Actor.
func (e *Event) Principal() string {
	if isCloudTrailType(e.DetailType) {
		if c, err := e.CloudTrail(); err == nil {
			u := c.UserIdentity
			switch {
			case u.SessionIssuer != nil && u.SessionIssuer.ARN != "":
				return u.SessionIssuer.ARN
			case u.Type == "Root" && u.AccountID != "":
				return "arn:aws:iam::" + u.AccountID + ":root"
			case u.Type == "AssumedRole" && u.ARN != "":
				return roleOfSession(u.ARN)
			}
		}
	}
	return e.Actor()
}

// roleOfSession turns arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION into
// the role's ARN, arn:aws:iam::ACCOUNT:role/ROLE (the role's path is not in
// a session ARN; sessionIssuer has it when CloudTrail logs it).
func roleOfSession(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}

func (u UserIdentity) actor() string {
	switch {
	case u.ARN != "":
		return u.ARN
	case u.Type == "Root":
		return "root"
	case u.SessionIssuer != nil && u.SessionIssuer.ARN != "":
		return u.SessionIssuer.ARN
	case u.UserName != "":
		return u.UserName
	case u.InvokedBy != "":
		return u.InvokedBy
	case u.PrincipalID != "":
		return u.PrincipalID
	}
	return ""
}

func first(vs []string) string {
	if len(vs) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(vs[0])
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func joinFew(vs []string, n int) string {
	if len(vs) <= n {
		return strings.Join(vs, ", ")
	}
	return strings.Join(vs[:n], ", ") + fmt.Sprintf(" and %d more", len(vs)-n)
}

// oneLine folds whitespace runs (newlines included) into single spaces and
// cuts the result to max bytes on a rune boundary.
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	cut := max - len("...")
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "..."
}
