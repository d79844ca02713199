package lambdaenv

import (
	"strings"
	"testing"
	"time"
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

func TestDuration(t *testing.T) {
	e := FromMap(map[string]string{"A": "90s", "B": "soon", "C": "-1m"})
	if got := e.Duration("A", time.Minute); got != 90*time.Second {
		t.Errorf("Duration(A) = %v, want 90s", got)
	}
	if got := e.Duration("UNSET", time.Minute); got != time.Minute {
		t.Errorf("Duration(UNSET) = %v, want the default", got)
	}
	for _, name := range []string{"B", "C"} {
		if got := e.Duration(name, time.Minute); got != time.Minute {
			t.Errorf("Duration(%s) = %v, want the default for a malformed value", name, got)
		}
	}
	err := e.Err()
	if err == nil || !strings.Contains(err.Error(), `B: "soon"`) || !strings.Contains(err.Error(), `C: "-1m"`) || strings.Contains(err.Error(), "A:") {
		t.Errorf("Err() = %v, want B and C named as malformed, A not", err)
	}
}
