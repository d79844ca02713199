package lambdafn

import (
	"time"

	"github.com/opsloop/opsloop/pkg/config"
)

// DefaultRulesTTL is how long the classifier uses loaded rules before it
// loads them again, when OPSLOOP_RULES_TTL is not set.
const DefaultRulesTTL = 5 * time.Minute

// ClassifierSettings configure the classifier function.
type ClassifierSettings struct {
	Table     string
	Bus       string
	RulesPath string
	RulesTTL  time.Duration
}

// ReadClassifierSettings reads the classifier's settings from env, naming
// every missing or malformed variable in one error.
func ReadClassifierSettings(env *config.Env) (ClassifierSettings, error) {
	s := ClassifierSettings{
		Table:     env.Required(config.EnvTable),
		Bus:       env.Required(config.EnvBus),
		RulesPath: env.Required(config.EnvRulesPath),
		RulesTTL:  env.Duration(config.EnvRulesTTL, DefaultRulesTTL),
	}
	return s, env.Err()
}

// IncidentsSettings configure the incidents function.
type IncidentsSettings struct {
	Table string
	Bus   string
	// Topic replaces "default" in response plans' notify lists; empty
	// drops it.
	Topic string
}

// ReadIncidentsSettings reads the incidents function's settings from env,
// naming every missing variable in one error.
func ReadIncidentsSettings(env *config.Env) (IncidentsSettings, error) {
	s := IncidentsSettings{
		Table: env.Required(config.EnvTable),
		Bus:   env.Required(config.EnvBus),
		Topic: env.Optional(config.EnvTopic, ""),
	}
	return s, env.Err()
}
