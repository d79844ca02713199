package rules

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/pattern"
)

// TestRuleFieldsDerived: every field of Rule that a rules file sets is
// tagged, so the validator accepts it (Fields) and the review's digest
// tells its changes (Digest, DigestKind); a field added without a tag, or
// of a type Digest does not know, fails here.
func TestRuleFieldsDerived(t *testing.T) {
	notInFiles := map[string]bool{"File": true, "Line": true}
	typ := reflect.TypeFor[Rule]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("rule") == "" && !notInFiles[f.Name] {
			t.Errorf("Rule.%s has no `rule` tag: the validator would refuse it and the review would not see it change", f.Name)
		}
	}
	if got := Fields(); !slices.Equal(got, ruleFields) || len(got) != typ.NumField()-len(notInFiles) {
		t.Errorf("Fields() = %v, validator uses %v", got, ruleFields)
	}

	p, err := pattern.Compile([]byte(`{"source": ["aws.ec2"]}`))
	if err != nil {
		t.Fatal(err)
	}
	title, err := ParseTemplate("x {{detail.a}}")
	if err != nil {
		t.Fatal(err)
	}
	full := &Rule{Name: "r", Description: "d", Priority: 2, Pattern: p, Action: Incident, Severity: "high", Category: "Security",
		Threshold: &Threshold{Count: 3, Window: 5 * time.Minute}, GroupBy: []string{"account"}, Title: title, Recover: p,
		Escalation: Escalation{Factor: 10}, Flapping: Flapping{Transitions: 3, Window: time.Hour}, Problems: Recurrence{Count: 3, Window: 7 * 24 * time.Hour},
		Runbooks: []Runbook{{Document: "AWS-StartEC2Instance", Parameters: map[string]*Template{"InstanceId": title}}},
		Scope:    Scope{Accounts: []string{"111122223333"}, Regions: []string{"eu-west-1"}}, OpsItemAccount: OpsItemsMember}
	d := full.Digest()
	for _, name := range Fields() {
		v, ok := d[name]
		if undigested[name] {
			if ok {
				t.Errorf("Digest has %s, which changes no behaviour", name)
			}
			continue
		}
		if !ok {
			t.Errorf("Digest of a rule setting every field lacks %s", name)
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Errorf("Digest[%s] = %v does not encode: %v", name, v, err)
			continue
		}
		kind := "number"
		switch raw[0] {
		case '"':
			kind = "string"
		case '[':
			kind = "array"
		}
		if want := DigestKind(name); kind != want {
			t.Errorf("Digest[%s] = %s, a %s; DigestKind says %q", name, raw, kind, want)
		}
	}
	// A changed field shows in the digest.
	changed := *full
	changed.Flapping.Transitions = 4
	if reflect.DeepEqual(changed.Digest(), d) {
		t.Error("Digest does not change with the flapping transitions")
	}
}
