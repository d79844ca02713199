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
