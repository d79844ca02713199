package classifierfn

import (
	"time"

	"github.com/opsloop/opsloop/internal/functions/liverules"

	"github.com/opsloop/opsloop/internal/lambdaenv"
)

// ClassifierSettings configure the classifier function.
type ClassifierSettings struct {
	Table     string
	Bus       string
	RulesPath string
	RulesTTL  time.Duration
}

// ReadClassifierSettings reads the classifier's settings from env, naming
// every missing or malformed variable in one error.
func ReadClassifierSettings(env *lambdaenv.Env) (ClassifierSettings, error) {
	s := ClassifierSettings{
		Table:     env.Required(lambdaenv.EnvTable),
		Bus:       env.Required(lambdaenv.EnvBus),
		RulesPath: env.Required(lambdaenv.EnvRulesPath),
		RulesTTL:  env.Duration(lambdaenv.EnvRulesTTL, liverules.DefaultTTL),
	}
	return s, env.Err()
}
