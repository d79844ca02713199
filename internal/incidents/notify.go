package incidents

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/inert"
)

// Notification is a chat message in the custom notification format of
// Amazon Q Developer in chat applications (AWS Chatbot): "Incident Opened"
// and "Incident Escalated" carry one, which the deployment's chat rule
// sends to the chat topic as it is. It is short, links the OpsItem, and
// names the plan's first step; text from events is Markdown-escaped.
type Notification struct {
	Version  string               `json:"version"` // "1.0"
	Source   string               `json:"source"`  // "custom"
	ID       string               `json:"id,omitempty"`
	Content  NotificationContent  `json:"content"`
	Metadata NotificationMetadata `json:"metadata"`
}

// NotificationContent is what the chat shows.
type NotificationContent struct {
	TextType    string   `json:"textType"` // "client-markdown"
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// NotificationMetadata threads an incident's messages under its OpsItem.
type NotificationMetadata struct {
	ThreadID  string `json:"threadId,omitempty"`
	Summary   string `json:"summary,omitempty"`
	EventType string `json:"eventType,omitempty"`
}

// maxChatTitle bounds the event text of a notification's title, before
// escaping: a chat line, not the OpsItem.
const maxChatTitle = 200

// WithConsoleRegion names the Region of the OpsItems, for the console
// links of notifications.
func WithConsoleRegion(region string) Option { return func(m *Manager) { m.region = region } }

// OpsItemURL is the console page of OpsItem id in region ("" for the
// console's default Region). Another account's OpsItem (id is its ARN)
// opens when the console is signed in to that account.
func OpsItemURL(region, id string) string {
	if strings.HasPrefix(id, "arn:") {
		id = id[strings.LastIndex(id, "/")+1:]
	}
	u := "https://console.aws.amazon.com/systems-manager/opsitems/" + url.PathEscape(id)
	if region != "" {
		u += "?region=" + url.QueryEscape(region)
	}
	return u
}

// notification is the chat message of rec's opening (step 0) or of its
// escalation step, with contact notified.
func (m *Manager) notification(rec *Record, eventType string, step int, contact string) *Notification {
	title := inert.Markdown(truncateRunes(oneLine(rec.Title), maxChatTitle, Ellipsis))
	head := "Incident"
	if step > 0 {
		head = fmt.Sprintf("Escalated, step %d", step)
	}
	desc := fmt.Sprintf("*%s* %s · %s", rec.Severity, orUnknown(rec.Category), rec.Rule)
	if rec.Plan.Owner != "" {
		desc += " · owner " + rec.Plan.Owner
	}
	if rt := rec.Plan.ResponseTime; rt > 0 {
		if step > 0 {
			desc += fmt.Sprintf(" · not acknowledged within %s, priority now %d", rt.Round(time.Second), rec.Priority)
		} else {
			desc += fmt.Sprintf(" · acknowledge within %s", rt.Round(time.Second))
		}
	}
	if contact != "" {
		desc += " · " + contact + " notified"
	}
	desc += "\nOpsItem " + rec.OpsItemID + ": " + OpsItemURL(m.region, rec.OpsItemID)
	n := &Notification{
		Version: "1.0", Source: "custom", ID: rec.OpsItemID + "/" + eventType + fmt.Sprintf("/%d", step),
		Content: NotificationContent{
			TextType: "client-markdown", Title: head + ": " + title, Description: desc,
			Keywords: []string{rec.Severity, orUnknown(rec.Category), rec.Rule},
		},
		Metadata: NotificationMetadata{ThreadID: rec.OpsItemID, Summary: head + ": " + title, EventType: eventType},
	}
	if len(rec.Plan.Steps) > 0 {
		n.Content.NextSteps = []string{rec.Plan.Steps[0]}
	}
	return n
}
