package config

import (
	"strings"
	"testing"
)

func TestEnv(t *testing.T) {
	e := FromMap(map[string]string{EnvTable: "t", EnvBus: " "})
	if got := e.Required(EnvTable); got != "t" {
		t.Errorf("Required(%s) = %q, want t", EnvTable, got)
	}
	e.Required(EnvBus)
	e.Required(EnvRulesPath)
	if got := e.Optional(EnvRulesTTL, "5m"); got != "5m" {
		t.Errorf("Optional = %q, want default 5m", got)
	}
	err := e.Err()
	if err == nil || !strings.Contains(err.Error(), EnvBus) || !strings.Contains(err.Error(), EnvRulesPath) || strings.Contains(err.Error(), EnvTable) {
		t.Errorf("Err() = %v, want both missing variables named and no others", err)
	}
	if err := FromMap(nil).Err(); err != nil {
		t.Errorf("Err() with nothing required = %v", err)
	}
}
