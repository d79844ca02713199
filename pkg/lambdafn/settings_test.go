package lambdafn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/pkg/config"
	"github.com/opsloop/opsloop/pkg/lambdafn"
)

func TestReadClassifierSettings(t *testing.T) {
	full := map[string]string{config.EnvTable: "t", config.EnvBus: "b", config.EnvRulesPath: "/opsloop/rules"}
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
		{"defaults", full, lambdafn.DefaultRulesTTL, nil},
		{"ttl", with(config.EnvRulesTTL, "90s"), 90 * time.Second, nil},
		{"bad ttl", with(config.EnvRulesTTL, "soon"), lambdafn.DefaultRulesTTL, []string{config.EnvRulesTTL, "soon"}},
		{"negative ttl", with(config.EnvRulesTTL, "-1m"), lambdafn.DefaultRulesTTL, []string{config.EnvRulesTTL}},
		{"nothing set", map[string]string{config.EnvRulesTTL: "x"}, lambdafn.DefaultRulesTTL,
			[]string{config.EnvTable, config.EnvBus, config.EnvRulesPath, config.EnvRulesTTL}},
		{"blank table", with(config.EnvTable, " "), lambdafn.DefaultRulesTTL, []string{config.EnvTable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := lambdafn.ReadClassifierSettings(config.FromMap(tt.env))
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
		want    lambdafn.IncidentsSettings
		wantErr bool
	}{
		{"all", map[string]string{config.EnvTable: "t", config.EnvBus: "b", config.EnvTopic: "arn:aws:sns:us-east-1:1:x"},
			lambdafn.IncidentsSettings{Table: "t", Bus: "b", Topic: "arn:aws:sns:us-east-1:1:x"}, false},
		{"no topic", map[string]string{config.EnvTable: "t", config.EnvBus: "b"}, lambdafn.IncidentsSettings{Table: "t", Bus: "b"}, false},
		{"no bus", map[string]string{config.EnvTable: "t"}, lambdafn.IncidentsSettings{Table: "t"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lambdafn.ReadIncidentsSettings(config.FromMap(tt.env))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ReadIncidentsSettings(%s) = %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
