// Package changelog is the one model of a recorded change to resources:
// the classifier writes it, the incident lifecycle and the problems
// tracker read it ("what changed before this incident?").
package changelog

import "time"

// Change is a recorded change to resources.
type Change struct {
	EventID   string    `json:"eventId"`
	Time      time.Time `json:"time"`
	Rule      string    `json:"rule"`
	Title     string    `json:"title"`
	EventName string    `json:"eventName,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	Resources []string  `json:"resources"`
}

// Organization is the key shared changes are also recorded under: changes
// made once for many accounts, which a failure spread over accounts is to
// be compared with.
const Organization = "aws:organization"

// sharedChanges are the CloudTrail calls that change many accounts at
// once: service control and other organization policies, and StackSets.
var sharedChanges = map[string][]string{
	"organizations.amazonaws.com": {"AttachPolicy", "DetachPolicy", "UpdatePolicy", "CreatePolicy", "DeletePolicy", "EnablePolicyType", "DisablePolicyType"},
	"cloudformation.amazonaws.com": {"CreateStackSet", "UpdateStackSet", "DeleteStackSet", "CreateStackInstances", "UpdateStackInstances",
		"DeleteStackInstances", "ImportStacksToStackSet"},
}

// Shared reports whether a call (by its CloudTrail eventSource and
// eventName) is a shared change.
func Shared(eventSource, eventName string) bool {
	for _, name := range sharedChanges[eventSource] {
		if name == eventName {
			return true
		}
	}
	return false
}
