// Package lambdaenv is what every opsloop function takes from its Lambda
// environment: settings from environment variables (read once at init; the
// CDK app sets the same variables by these names), the JSON logger, and
// metrics as CloudWatch Embedded Metric Format lines.
package lambdaenv

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
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
	// EnvIncidentsRole is the name of the incidents function's role: the
	// problems function knows the OpsItems that role resolved by opsloop's
	// own "Incident Resolved".
	EnvIncidentsRole = "OPSLOOP_INCIDENTS_ROLE"
)

// Env reads variables, collecting every missing one into a single error.
type Env struct {
	lookup    func(string) (string, bool)
	missing   []string
	malformed []string
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

// Duration returns the variable as a positive Go duration, or def when unset
// or empty; a malformed value is remembered and def returned.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v := e.Optional(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.malformed = append(e.malformed, fmt.Sprintf("%s: %q is not a positive Go duration such as \"5m\"", name, v))
		return def
	}
	return d
}

// Err names every required variable that was missing and every malformed one.
func (e *Env) Err() error {
	var problems []string
	if len(e.missing) > 0 {
		problems = append(problems, "missing environment variables: "+strings.Join(e.missing, ", "))
	}
	problems = append(problems, e.malformed...)
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
