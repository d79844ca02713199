package rules

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "../../rules/opsloop-rules.schema.json"

// TestSchemaAgreesWithValidator keeps the editors' schema and the validator
// in step: the same fields, and the default rules valid under both.
func TestSchemaAgreesWithValidator(t *testing.T) {
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]any `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		what   string
		schema map[string]any
		fields []string
	}{
		{"top level", doc.Properties, topFields},
		{"rule", doc.Defs["rule"].Properties, ruleFields},
		{"severity", doc.Defs["severity"].Properties, severityFields},
		{"plan", doc.Defs["plan"].Properties, planFields},
		{"silence", doc.Defs["silence"].Properties, silenceFields},
	} {
		var keys []string
		for k := range tt.schema {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.Clone(tt.fields)
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("%s: schema fields %v, validator fields %v", tt.what, keys, want)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("opsloop-rules.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("opsloop-rules.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

func TestSchemaValidates(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name, file string
		valid      bool
	}{
		{"default rules", readFile(t, "../../rules/default.json"), true},
		{"typo in a rule", `{"rules": [{"name": "r", "pattern": {}, "action": "record", "titel": "x"}]}`, false},
		{"bad action", `{"rules": [{"name": "r", "pattern": {}, "action": "page"}]}`, false},
		{"bad duration", `{"rules": [{"name": "r", "pattern": {}, "action": "incident", "threshold": {"count": 2, "window": "5mins"}}]}`, false},
		{"silence", `{"silences": [{"name": "s", "pattern": {}, "schedule": {"days": ["Sat"], "from": "22:00", "to": "02:00"}}]}`, true},
	}
	for _, tt := range tests {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(doc); (err == nil) != tt.valid {
			t.Errorf("schema on %s: %v, want valid=%v", tt.name, err, tt.valid)
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
