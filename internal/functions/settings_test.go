package functions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/functions/classifierfn"
	"github.com/opsloop/opsloop/internal/functions/incidentsfn"
	"github.com/opsloop/opsloop/internal/functions/liverules"

	"github.com/opsloop/opsloop/internal/lambdaenv"
)

func TestReadClassifierSettings(t *testing.T) {
	full := map[string]string{lambdaenv.EnvTable: "t", lambdaenv.EnvBus: "b", lambdaenv.EnvRulesPath: "/opsloop/rules"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for key, val := range full {
			m[key] = val
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		ttl     time.Duration
		wantErr []string // substrings of the error; none means no error
	}{
		{"defaults", full, liverules.DefaultTTL, nil},
		{"ttl", with(lambdaenv.EnvRulesTTL, "90s"), 90 * time.Second, nil},
		{"bad ttl", with(lambdaenv.EnvRulesTTL, "soon"), liverules.DefaultTTL, []string{lambdaenv.EnvRulesTTL, "soon"}},
		{"negative ttl", with(lambdaenv.EnvRulesTTL, "-1m"), liverules.DefaultTTL, []string{lambdaenv.EnvRulesTTL}},
		{"nothing set", map[string]string{lambdaenv.EnvRulesTTL: "x"}, liverules.DefaultTTL,
			[]string{lambdaenv.EnvTable, lambdaenv.EnvBus, lambdaenv.EnvRulesPath, lambdaenv.EnvRulesTTL}},
		{"blank table", with(lambdaenv.EnvTable, " "), liverules.DefaultTTL, []string{lambdaenv.EnvTable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := classifierfn.ReadClassifierSettings(lambdaenv.FromMap(tt.env))
			if len(tt.wantErr) == 0 {
				if err != nil || s.Table != "t" || s.Bus != "b" || s.RulesPath != "/opsloop/rules" || s.RulesTTL != tt.ttl {
					t.Errorf("ReadClassifierSettings(%s) = %+v, %v; want t, b, /opsloop/rules, %s", tt.name, s, err, tt.ttl)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadClassifierSettings(%s) error = nil, want one naming %v", tt.name, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ReadClassifierSettings(%s) error = %q, want it to name %s", tt.name, err, w)
				}
			}
		})
	}
}

func TestReadIncidentsSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    incidentsfn.IncidentsSettings
		wantErr bool
	}{
		{"all", map[string]string{lambdaenv.EnvTable: "t", lambdaenv.EnvBus: "b", lambdaenv.EnvTopic: "arn:aws:sns:us-east-1:1:x"},
			incidentsfn.IncidentsSettings{Table: "t", Bus: "b", Topic: "arn:aws:sns:us-east-1:1:x"}, false},
		{"no topic", map[string]string{lambdaenv.EnvTable: "t", lambdaenv.EnvBus: "b"}, incidentsfn.IncidentsSettings{Table: "t", Bus: "b"}, false},
		{"no bus", map[string]string{lambdaenv.EnvTable: "t"}, incidentsfn.IncidentsSettings{Table: "t"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := incidentsfn.ReadIncidentsSettings(lambdaenv.FromMap(tt.env))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ReadIncidentsSettings(%s) = %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
