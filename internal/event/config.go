package event

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Detail types AWS Config delivers to EventBridge.
const (
	DetailTypeConfigChange     = "Config Configuration Item Change"
	DetailTypeConfigCompliance = "Config Rules Compliance Change"
)

// ConfigChange is the detail of a "Config Configuration Item Change" event:
// AWS Config recorded a new state of one resource.
type ConfigChange struct {
	MessageType  string
	ResourceType string
	ResourceID   string
	ResourceName string
	ARN          string
	AWSRegion    string
	AccountID    string
	// Status is the configuration item status: OK, ResourceDiscovered,
	// ResourceDeleted, ResourceNotRecorded, ResourceDeletedNotRecorded.
	Status      string
	CaptureTime time.Time
	// ChangeType is the diff's change type: CREATE, UPDATE or DELETE.
	ChangeType    string
	Changes       []PropertyChange // sorted by Path
	Relationships []ConfigRelationship
}

// PropertyChange is one changed property of a configuration item diff.
type PropertyChange struct {
	Path       string // e.g. "Configuration.IpPermissions.0"
	ChangeType string // CREATE, UPDATE or DELETE
	Previous   json.RawMessage
	Updated    json.RawMessage
}

// ConfigRelationship is a resource related to the changed one.
type ConfigRelationship struct {
	Name         string
	ResourceType string
	ResourceID   string
	ResourceName string
}

// DiffSummary is a one-line summary of the diff: the change type, how many
// properties changed and the first few of them.
func (c *ConfigChange) DiffSummary() string {
	const shown = 3
	if len(c.Changes) == 0 {
		if c.ChangeType == "" {
			return "no diff"
		}
		return c.ChangeType
	}
	parts := make([]string, 0, shown)
	for i, ch := range c.Changes {
		if i == shown {
			break
		}
		parts = append(parts, ch.Path+" "+ch.ChangeType)
	}
	more := ""
	if len(c.Changes) > shown {
		more = fmt.Sprintf(", and %d more", len(c.Changes)-shown)
	}
	noun := "properties"
	if len(c.Changes) == 1 {
		noun = "property"
	}
	kind := c.ChangeType
	if kind == "" {
		kind = "CHANGE"
	}
	return fmt.Sprintf("%s: %d %s changed (%s%s)", kind, len(c.Changes), noun, strings.Join(parts, ", "), more)
}

type configItemJSON struct {
	ResourceType  string `json:"resourceType"`
	ResourceID    string `json:"resourceId"`
	ResourceName  string `json:"resourceName"`
	ARN           string `json:"ARN"`
	LowerARN      string `json:"arn"`
	AWSRegion     string `json:"awsRegion"`
	AWSAccountID  string `json:"awsAccountId"`
	Status        string `json:"configurationItemStatus"`
	CaptureTime   string `json:"configurationItemCaptureTime"`
	ChangeType    string `json:"changeType"`
	Relationships []struct {
		Name         string `json:"name"`
		ResourceType string `json:"resourceType"`
		ResourceID   string `json:"resourceId"`
		ResourceName string `json:"resourceName"`
	} `json:"relationships"`
}

type configChangeJSON struct {
	MessageType       string          `json:"messageType"`
	ConfigurationItem *configItemJSON `json:"configurationItem"`
	// Oversized notifications carry a summary instead of the item.
	ConfigurationItemSummary *configItemJSON `json:"configurationItemSummary"`
	ConfigurationItemDiff    *struct {
		ChangeType        string `json:"changeType"`
		ChangedProperties map[string]struct {
			PreviousValue json.RawMessage `json:"previousValue"`
			UpdatedValue  json.RawMessage `json:"updatedValue"`
			ChangeType    string          `json:"changeType"`
		} `json:"changedProperties"`
	} `json:"configurationItemDiff"`
}

// ConfigChange decodes the detail of a "Config Configuration Item Change"
// event. It wraps ErrWrongKind for other events.
func (e *Event) ConfigChange() (*ConfigChange, error) {
	if !isConfigChange(e) {
		return nil, fmt.Errorf("config change view of %q: %w", e.DetailType, ErrWrongKind)
	}
	var r configChangeJSON
	if err := json.Unmarshal(e.Detail, &r); err != nil {
		return nil, fmt.Errorf("decode config change detail: %w", err)
	}
	item := r.ConfigurationItem
	if item == nil {
		item = r.ConfigurationItemSummary
	}
	if item == nil {
		return nil, fmt.Errorf("decode config change detail: no configurationItem")
	}
	c := &ConfigChange{
		MessageType:  r.MessageType,
		ResourceType: item.ResourceType,
		ResourceID:   item.ResourceID,
		ResourceName: item.ResourceName,
		ARN:          firstNonEmpty(item.ARN, item.LowerARN),
		AWSRegion:    item.AWSRegion,
		AccountID:    item.AWSAccountID,
		Status:       item.Status,
		CaptureTime:  parseAWSTime(item.CaptureTime),
		ChangeType:   item.ChangeType,
	}
	for _, rel := range item.Relationships {
		c.Relationships = append(c.Relationships, ConfigRelationship(rel))
	}
	if d := r.ConfigurationItemDiff; d != nil {
		if d.ChangeType != "" {
			c.ChangeType = d.ChangeType
		}
		for path, p := range d.ChangedProperties {
			c.Changes = append(c.Changes, PropertyChange{
				Path:       path,
				ChangeType: p.ChangeType,
				Previous:   nullToNil(p.PreviousValue),
				Updated:    nullToNil(p.UpdatedValue),
			})
		}
		sort.Slice(c.Changes, func(i, j int) bool { return c.Changes[i].Path < c.Changes[j].Path })
	}
	return c, nil
}

func isConfigChange(e *Event) bool {
	switch e.DetailType {
	case DetailTypeConfigChange, "Config Configuration Item Change Notification":
		return true
	}
	return false
}

// ConfigCompliance is the detail of a "Config Rules Compliance Change"
// event: a Config rule evaluated a resource differently than before.
type ConfigCompliance struct {
	RuleName     string
	RuleARN      string
	ResourceType string
	ResourceID   string
	AWSRegion    string
	AccountID    string
	New          EvaluationResult
	Old          *EvaluationResult // nil on a resource's first evaluation
}

// EvaluationResult is one evaluation of a resource by a Config rule.
type EvaluationResult struct {
	// ComplianceType is COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or
	// INSUFFICIENT_DATA.
	ComplianceType string
	Annotation     string
	RecordedTime   time.Time
	InvokedTime    time.Time
}

type evaluationJSON struct {
	ComplianceType string `json:"complianceType"`
	Annotation     string `json:"annotation"`
	RecordedTime   string `json:"resultRecordedTime"`
	InvokedTime    string `json:"configRuleInvokedTime"`
}

func (j *evaluationJSON) result() EvaluationResult {
	return EvaluationResult{
		ComplianceType: j.ComplianceType,
		Annotation:     j.Annotation,
		RecordedTime:   parseAWSTime(j.RecordedTime),
		InvokedTime:    parseAWSTime(j.InvokedTime),
	}
}

// ConfigCompliance decodes the detail of a "Config Rules Compliance Change"
// event. It wraps ErrWrongKind for other events.
func (e *Event) ConfigCompliance() (*ConfigCompliance, error) {
	if e.DetailType != DetailTypeConfigCompliance {
		return nil, fmt.Errorf("config compliance view of %q: %w", e.DetailType, ErrWrongKind)
	}
	var r struct {
		ConfigRuleName string          `json:"configRuleName"`
		ConfigRuleARN  string          `json:"configRuleARN"`
		ResourceType   string          `json:"resourceType"`
		ResourceID     string          `json:"resourceId"`
		AWSRegion      string          `json:"awsRegion"`
		AWSAccountID   string          `json:"awsAccountId"`
		New            *evaluationJSON `json:"newEvaluationResult"`
		Old            *evaluationJSON `json:"oldEvaluationResult"`
	}
	if err := json.Unmarshal(e.Detail, &r); err != nil {
		return nil, fmt.Errorf("decode config compliance detail: %w", err)
	}
	c := &ConfigCompliance{
		RuleName:     r.ConfigRuleName,
		RuleARN:      r.ConfigRuleARN,
		ResourceType: r.ResourceType,
		ResourceID:   r.ResourceID,
		AWSRegion:    r.AWSRegion,
		AccountID:    r.AWSAccountID,
	}
	if r.New != nil {
		c.New = r.New.result()
	}
	if r.Old != nil && r.Old.ComplianceType != "" {
		old := r.Old.result()
		c.Old = &old
	}
	return c, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
