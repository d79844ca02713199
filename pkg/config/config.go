// Package config reads the functions' settings from environment variables,
// once at init. The CDK app sets the same variables by these names.
package config

import (
	"fmt"
	"os"
	"strings"
)

// Environment variable names shared by the functions and the CDK app.
const (
	// EnvTable is the DynamoDB table holding all of opsloop's state.
	EnvTable = "OPSLOOP_TABLE"
	// EnvBus is the name of the opsloop event bus.
	EnvBus = "OPSLOOP_BUS"
	// EnvRulesPath is the SSM Parameter Store path under which the rules files are kept.
	EnvRulesPath = "OPSLOOP_RULES_PATH"
	// EnvTopic is the ARN of the notification topic that "default" in a severity's notify stands for.
	EnvTopic = "OPSLOOP_TOPIC_ARN"
	// EnvReportBucket is the S3 bucket the review reports are written to.
	EnvReportBucket = "OPSLOOP_REPORT_BUCKET"
	// EnvRulesTTL is how long loaded rules are used before they are reloaded (a Go duration).
	EnvRulesTTL = "OPSLOOP_RULES_TTL"
)

// Env reads variables, collecting every missing one into a single error.
type Env struct {
	lookup  func(string) (string, bool)
	missing []string
}

// FromOS reads the process environment.
func FromOS() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads m, for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// Required returns the variable's value and remembers it as missing when unset or empty.
func (e *Env) Required(name string) string {
	v, ok := e.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		e.missing = append(e.missing, name)
	}
	return v
}

// Optional returns the variable's value, or def when unset or empty.
func (e *Env) Optional(name, def string) string {
	if v, ok := e.lookup(name); ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}

// Err names every required variable that was missing.
func (e *Env) Err() error {
	if len(e.missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing environment variables: %s", strings.Join(e.missing, ", "))
}
