package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DescriptionPrefix starts the description of every EventBridge rule that
// routes events to the classifier, so the routes can be found in a
// synthesized template.
const DescriptionPrefix = "opsloop route"

// IngestDescriptionPrefix starts the descriptions of an organization's
// ingest bus routes, so FromTemplate does not read them as the default
// bus's.
const IngestDescriptionPrefix = "opsloop organization route"

// FromTemplate returns the event patterns of the routes in a synthesized
// CloudFormation template (JSON), as compact JSON sorted by logical id: what
// is deployed, for tools that route events as the account will.
func FromTemplate(template []byte) ([]string, error) {
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Description  string
				EventPattern json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	ids := make([]string, 0, len(doc.Resources))
	for id, r := range doc.Resources {
		if r.Type == "AWS::Events::Rule" && strings.HasPrefix(r.Properties.Description, DescriptionPrefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("read template: no EventBridge rule described %q", DescriptionPrefix+" ...")
	}
	sort.Strings(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		raw := doc.Resources[id].Properties.EventPattern
		if len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf("read template: route %s has no event pattern object", id)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("read template: route %s: %w", id, err)
		}
		out[i] = b.String()
	}
	return out, nil
}
