package routing_test

import (
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/routing"
)

func TestFromTemplate(t *testing.T) {
	tpl := `{"Resources":{
	  "Route2":{"Type":"AWS::Events::Rule","Properties":{"Description":"opsloop route 2 of 2: b","EventPattern":{"source":["aws.kms"]}}},
	  "Route1":{"Type":"AWS::Events::Rule","Properties":{"Description":"opsloop route 1 of 2: a","EventPattern":{"source": ["aws.ec2"], "detail": {"x": [1]}}}},
	  "Other":{"Type":"AWS::Events::Rule","Properties":{"Description":"opsloop: signals","EventPattern":{"source":["opsloop"]}}},
	  "Fn":{"Type":"AWS::Lambda::Function","Properties":{"Description":"opsloop route lookalike"}}}}`
	got, err := routing.FromTemplate([]byte(tpl))
	if err != nil {
		t.Fatalf("FromTemplate() error = %v", err)
	}
	want := []string{`{"source":["aws.ec2"],"detail":{"x":[1]}}`, `{"source":["aws.kms"]}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("FromTemplate() = %v, want %v", got, want)
	}
	bads := []string{
		`not json`,
		`{"Resources":{}}`,
		`{"Resources":{"R":{"Type":"AWS::Events::Rule","Properties":{"Description":"opsloop route 1","ScheduleExpression":"rate(1 day)"}}}}`,
		`{"Resources":{"R":{"Type":"AWS::Events::Rule","Properties":{"Description":"opsloop route 1","EventPattern":"{}"}}}}`,
	}
	for _, b := range bads {
		if got, err := routing.FromTemplate([]byte(b)); err == nil {
			t.Errorf("FromTemplate(%s) = %v, want an error", b, got)
		}
	}
}
