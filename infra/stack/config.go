// Package stack is opsloop's CDK stack: the three functions, the routing of
// events to them, the opsloop event bus, the rules as parameters, state,
// notifications, alarms and a dashboard, with least-privilege IAM and
// cdk-nag's AwsSolutions checks applied.
package stack

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/opsloop/opsloop/infra/ruleparams"
	"github.com/opsloop/opsloop/internal/routing"
)

// Context keys an account owner sets in cdk.json or with `cdk deploy -c key=value`.
const (
	KeyPrefix            = "prefix"
	KeyNotificationEmail = "notificationEmail"
	KeySources           = "sources"
	KeyRulesDir          = "rulesDir"
	KeyRulesPath         = "rulesParameterPath"
	KeyRulesTTL          = "rulesTTL"
	KeyLogRetentionDays  = "logRetentionDays"
	KeyReportSchedule    = "reportSchedule"
	KeyMaxPatternSize    = "maxPatternSize"
	KeyArchitecture      = "architecture"
	KeyAssetDir          = "assetDir"
	KeyRetainData        = "retainData"
	KeyArchiveDays       = "archiveRetentionDays"
	KeyIncidentsWorkers  = "incidentsConcurrency"
	KeyBusPublishers     = "busPublishers"
	// Chat: a Slack channel (workspace and channel ids) or a Microsoft
	// Teams channel (tenant, team and channel ids).
	KeyChatSlackWorkspace = "chatSlackWorkspaceId"
	KeyChatSlackChannel   = "chatSlackChannelId"
	KeyChatTeamsTenant    = "chatTeamsTenantId"
	KeyChatTeamsTeam      = "chatTeamsTeamId"
	KeyChatTeamsChannel   = "chatTeamsChannelId"
	// An AWS Organization: the organization, the units and Regions the
	// member stack is deployed to, and how the StackSet is administered.
	KeyOrganizationID = "organizationId"
	KeyMemberUnits    = "memberOrganizationalUnits"
	KeyMemberRegions  = "memberRegions"
	KeyStackSetCallAs = "stackSetCallAs"
	// KeyStack chooses the stack to synthesize: "central" (the pipeline)
	// or "member" (the forwarding rules alone, for an account the
	// StackSet does not reach, such as the management account), which
	// needs KeyCentralBus.
	KeyStack      = "stack"
	KeyCentralBus = "centralBusArn"
)

// Config is what an account owner may choose, read once from the CDK context.
type Config struct {
	// Prefix names the stack and prefixes the names of the resources that
	// need one (the bus, the rules path); default "opsloop".
	Prefix string
	// NotificationEmail, when set, subscribes that address to the topic.
	NotificationEmail string
	// Sources, when set, limits routing to these event sources.
	Sources []string
	// RulesDir holds the rules files to deploy; default "rules".
	RulesDir string
	// RulesPath is the Parameter Store path of the rules; default
	// "/<prefix>/rules".
	RulesPath string
	// RulesTTL is how long the functions use loaded rules before reloading.
	RulesTTL time.Duration
	// LogRetention is how long the functions' logs are kept.
	LogRetention awslogs.RetentionDays
	// LogRetentionDays is LogRetention in days, for messages.
	LogRetentionDays int
	// ReportSchedule is the EventBridge schedule of the weekly review.
	ReportSchedule string
	// MaxPatternSize is the event pattern size quota of the account.
	MaxPatternSize int
	// Architecture is "arm64" or "x86_64", as the bundles were built.
	Architecture string
	// AssetDir holds the built bundles, <AssetDir>/<function>/bootstrap.
	AssetDir string
	// RetainData keeps the table and the reports bucket when the stack is
	// deleted; default true.
	RetainData bool
	// ArchiveDays is how long the opsloop bus archive keeps events.
	ArchiveDays int
	// IncidentsConcurrency bounds the incidents function's concurrent
	// executions, which bounds opsloop's rate of OpsCenter calls; 0 leaves
	// it unreserved (for accounts whose concurrency quota is too small to
	// reserve any), the queue's consumer still running at most 2.
	IncidentsConcurrency int
	// BusPublishers are IAM role ARNs allowed to put events on the opsloop
	// bus besides the deployment's own functions (an organization's
	// forwarders); nobody else may.
	BusPublishers []string
	// Chat is the chat channel incidents are sent to, if any.
	Chat Chat
	// Organization, when its ID is set, makes this the central stack of
	// an AWS Organization.
	Organization Organization
	// Stack is StackCentral or StackMember.
	Stack string
	// CentralBus is the central ingest bus's ARN a member stack
	// synthesized alone forwards to.
	CentralBus string
}

// The stacks the app synthesizes.
const (
	StackCentral = "central"
	StackMember  = "member"
)

// Organization configures the central stack of an AWS Organization.
type Organization struct {
	// ID is the organization's id (o-...): only its principals may put
	// events on the ingest bus.
	ID string
	// MemberUnits are the organizational units (or the root) whose
	// accounts get the member stack, now and when they join.
	MemberUnits []string
	// MemberRegions are the Regions the member stack runs in; empty means
	// the central stack's own Region.
	MemberRegions []string
	// CallAs is how the StackSet is administered: DELEGATED_ADMIN (from
	// a delegated administrator account, the default) or SELF (from the
	// management account).
	CallAs string
}

// Defaults of the context keys.
const (
	DefaultPrefix           = "opsloop"
	DefaultRulesDir         = "rules"
	DefaultRulesTTL         = 5 * time.Minute
	DefaultLogRetentionDays = 30
	// DefaultReportSchedule runs the review on Mondays at 08:00 UTC.
	DefaultReportSchedule = "cron(0 8 ? * MON *)"
	DefaultArchitecture   = "arm64"
	DefaultAssetDir       = "dist"
	DefaultArchiveDays    = 90
	// DefaultIncidentsConcurrency: see the incidents function in functions.go.
	DefaultIncidentsConcurrency = 2
)

// retentionDays maps the retention periods CloudWatch Logs accepts.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

var (
	prefixRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,29}$`)
	sourceRE   = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,256}$`)
	scheduleRE = regexp.MustCompile(`^(rate|cron)\(.+\)$`)
)

// ConfigFromContext reads the context of node (the app), applies the
// defaults and checks every value, naming each bad key in one error.
func ConfigFromContext(node constructs.Node) (Config, error) {
	get := func(key string) (any, bool) {
		v := node.TryGetContext(jsii.String(key))
		return v, v != nil
	}
	return ConfigFrom(get)
}

// ConfigFrom is ConfigFromContext over any source of context values: strings
// (as `-c key=value` gives them) or JSON values (as cdk.json gives them).
func ConfigFrom(get func(key string) (any, bool)) (Config, error) {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("context %q: %s", key, fmt.Sprintf(format, args...)))
	}
	str := func(key, def string) string {
		v, ok := get(key)
		if !ok {
			return def
		}
		s, isStr := v.(string)
		if !isStr {
			bad(key, "want a string, found %v", v)
			return def
		}
		if strings.TrimSpace(s) == "" {
			return def
		}
		return strings.TrimSpace(s)
	}
	num := func(key string, def int) int {
		v, ok := get(key)
		if !ok {
			return def
		}
		switch n := v.(type) {
		case float64:
			if n == float64(int(n)) {
				return int(n)
			}
		case string:
			if strings.TrimSpace(n) == "" {
				return def
			}
			if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
				return i
			}
		}
		bad(key, "want a whole number, found %v", v)
		return def
	}
	boolean := func(key string, def bool) bool {
		v, ok := get(key)
		if !ok {
			return def
		}
		switch b := v.(type) {
		case bool:
			return b
		case string:
			if strings.TrimSpace(b) == "" {
				return def
			}
			if p, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return p
			}
		}
		bad(key, "want true or false, found %v", v)
		return def
	}

	c := Config{
		Prefix:               str(KeyPrefix, DefaultPrefix),
		NotificationEmail:    str(KeyNotificationEmail, ""),
		RulesDir:             str(KeyRulesDir, DefaultRulesDir),
		ReportSchedule:       str(KeyReportSchedule, DefaultReportSchedule),
		MaxPatternSize:       num(KeyMaxPatternSize, routing.DefaultMaxPatternSize),
		Architecture:         str(KeyArchitecture, DefaultArchitecture),
		AssetDir:             str(KeyAssetDir, DefaultAssetDir),
		RetainData:           boolean(KeyRetainData, true),
		LogRetentionDays:     num(KeyLogRetentionDays, DefaultLogRetentionDays),
		ArchiveDays:          num(KeyArchiveDays, DefaultArchiveDays),
		IncidentsConcurrency: num(KeyIncidentsWorkers, DefaultIncidentsConcurrency),
	}
	if !prefixRE.MatchString(c.Prefix) {
		bad(KeyPrefix, "%q: want a letter, then up to 29 letters, digits or hyphens", c.Prefix)
	}
	c.RulesPath = str(KeyRulesPath, "/"+c.Prefix+"/rules")
	if err := ruleparams.ValidatePath(c.RulesPath); err != nil {
		bad(KeyRulesPath, "%v", err)
	}
	if c.NotificationEmail != "" {
		if a, err := mail.ParseAddress(c.NotificationEmail); err != nil || a.Address != c.NotificationEmail {
			bad(KeyNotificationEmail, "%q is not an email address", c.NotificationEmail)
		}
	}
	c.Sources = sources(get, bad)
	for _, arn := range stringList(get, KeyBusPublishers, bad) {
		if !roleARNRE.MatchString(arn) {
			bad(KeyBusPublishers, "%q is not an IAM role ARN", arn)
			continue
		}
		c.BusPublishers = append(c.BusPublishers, arn)
	}
	c.Chat = Chat{
		SlackWorkspaceID: str(KeyChatSlackWorkspace, ""), SlackChannelID: str(KeyChatSlackChannel, ""),
		TeamsTenantID: str(KeyChatTeamsTenant, ""), TeamsTeamID: str(KeyChatTeamsTeam, ""), TeamsChannelID: str(KeyChatTeamsChannel, ""),
	}
	chatIDs := []struct {
		key, value string
		re         *regexp.Regexp
		what       string
		with       []string
	}{
		{KeyChatSlackWorkspace, c.Chat.SlackWorkspaceID, slackWorkspaceRE, "a Slack workspace id (T...)", []string{c.Chat.SlackChannelID}},
		{KeyChatSlackChannel, c.Chat.SlackChannelID, slackChannelRE, "a Slack channel id (C... or G...)", []string{c.Chat.SlackWorkspaceID}},
		{KeyChatTeamsTenant, c.Chat.TeamsTenantID, uuidRE, "a Microsoft Entra tenant id (a UUID)", []string{c.Chat.TeamsTeamID, c.Chat.TeamsChannelID}},
		{KeyChatTeamsTeam, c.Chat.TeamsTeamID, uuidRE, "a Microsoft Teams team id (a UUID)", []string{c.Chat.TeamsTenantID, c.Chat.TeamsChannelID}},
		{KeyChatTeamsChannel, c.Chat.TeamsChannelID, teamsChannelRE, "a Microsoft Teams channel id, URL-encoded as in the channel's link (19%3A...%40thread.tacv2)", []string{c.Chat.TeamsTenantID, c.Chat.TeamsTeamID}},
	}
	for _, id := range chatIDs {
		if id.value == "" {
			continue
		}
		if !id.re.MatchString(id.value) {
			bad(id.key, "%q: want %s", id.value, id.what)
		}
		for _, other := range id.with {
			if other == "" {
				bad(id.key, "needs the other ids of its channel as well: Slack needs %s and %s, Teams %s, %s and %s",
					KeyChatSlackWorkspace, KeyChatSlackChannel, KeyChatTeamsTenant, KeyChatTeamsTeam, KeyChatTeamsChannel)
				break
			}
		}
	}
	c.Organization, c.Stack, c.CentralBus = organization(get, str, bad)
	ttl := str(KeyRulesTTL, DefaultRulesTTL.String())
	if d, err := time.ParseDuration(ttl); err != nil || d < 10*time.Second || d > 24*time.Hour {
		bad(KeyRulesTTL, "%q: want a Go duration from 10s to 24h", ttl)
	} else {
		c.RulesTTL = d
	}
	if r, ok := retentionDays[c.LogRetentionDays]; ok {
		c.LogRetention = r
	} else {
		bad(KeyLogRetentionDays, "%d: want one of %s", c.LogRetentionDays, retentionChoices())
	}
	if !scheduleRE.MatchString(c.ReportSchedule) {
		bad(KeyReportSchedule, "%q: want an EventBridge schedule such as %q or rate(7 days)", c.ReportSchedule, DefaultReportSchedule)
	}
	if c.MaxPatternSize < 512 || c.MaxPatternSize > 4096 {
		bad(KeyMaxPatternSize, "%d: want the account's event pattern size quota, 2048 by default and at most 4096", c.MaxPatternSize)
	}
	if c.Architecture != "arm64" && c.Architecture != "x86_64" {
		bad(KeyArchitecture, "%q: want arm64 or x86_64", c.Architecture)
	}
	if c.ArchiveDays < 0 {
		bad(KeyArchiveDays, "%d: want 0 (keep forever) or more days", c.ArchiveDays)
	}
	if c.IncidentsConcurrency != 0 && (c.IncidentsConcurrency < 2 || c.IncidentsConcurrency > 1000) {
		bad(KeyIncidentsWorkers, "%d: want 0 (unreserved) or 2 to 1000", c.IncidentsConcurrency)
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("bad configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return c, nil
}

// The ids of chat channels, as Amazon Q Developer in chat applications
// takes them.
var (
	slackWorkspaceRE = regexp.MustCompile(`^[0-9A-Z]{1,255}$`)
	slackChannelRE   = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	uuidRE           = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	// A Teams channel id is URL-encoded, as the channel's link has it.
	teamsChannelRE = regexp.MustCompile(`^[A-Za-z0-9_=+/.,-]*%3[aA][A-Za-z0-9_=+/.,-]*%40[A-Za-z0-9_=+/.,-]*$`)
)

// The ids an organization's settings take.
var (
	orgIDRE  = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	unitRE   = regexp.MustCompile(`^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$`)
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	busARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:events:([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):event-bus/[A-Za-z0-9._-]{1,256}$`)
)

// organization reads the organization's settings and the stack to
// synthesize.
func organization(get func(string) (any, bool), str func(key, def string) string, bad func(key, format string, args ...any)) (Organization, string, string) {
	o := Organization{ID: str(KeyOrganizationID, ""), CallAs: str(KeyStackSetCallAs, "DELEGATED_ADMIN")}
	if o.ID != "" && !orgIDRE.MatchString(o.ID) {
		bad(KeyOrganizationID, "%q: want an organization id, o- and 10 to 32 lowercase letters or digits", o.ID)
	}
	for _, u := range stringList(get, KeyMemberUnits, bad) {
		if !unitRE.MatchString(u) {
			bad(KeyMemberUnits, "%q: want an organizational unit id (ou-...) or the root's (r-...)", u)
			continue
		}
		o.MemberUnits = append(o.MemberUnits, u)
	}
	for _, r := range stringList(get, KeyMemberRegions, bad) {
		if !regionRE.MatchString(r) {
			bad(KeyMemberRegions, "%q is not a Region name", r)
			continue
		}
		o.MemberRegions = append(o.MemberRegions, r)
	}
	if o.CallAs != "DELEGATED_ADMIN" && o.CallAs != "SELF" {
		bad(KeyStackSetCallAs, "%q: want DELEGATED_ADMIN (from a delegated administrator account) or SELF (from the management account)", o.CallAs)
	}
	if o.ID == "" && (len(o.MemberUnits) > 0 || len(o.MemberRegions) > 0) {
		bad(KeyOrganizationID, "is needed by %s and %s", KeyMemberUnits, KeyMemberRegions)
	}
	if o.ID != "" && len(o.MemberUnits) == 0 {
		bad(KeyMemberUnits, "name at least one organizational unit (or the root) for the member stack")
	}
	which := str(KeyStack, StackCentral)
	bus := str(KeyCentralBus, "")
	switch which {
	case StackCentral:
		if bus != "" {
			bad(KeyCentralBus, "is for %s=%s only", KeyStack, StackMember)
		}
	case StackMember:
		if !busARNRE.MatchString(bus) {
			bad(KeyCentralBus, "%q: want the central stack's ingest bus ARN (its IngestBusArn output)", bus)
		}
	default:
		bad(KeyStack, "%q: want %s or %s", which, StackCentral, StackMember)
	}
	return o, which, bus
}

// roleARNRE matches an IAM role's ARN, with or without a path.
var roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)

// stringList reads a list setting: a JSON list, or values separated by
// commas or spaces.
func stringList(get func(string) (any, bool), key string, bad func(key, format string, args ...any)) []string {
	v, ok := get(key)
	if !ok {
		return nil
	}
	var list []string
	switch s := v.(type) {
	case []any:
		for _, e := range s {
			name, isStr := e.(string)
			if !isStr {
				bad(key, "want a list of strings, found %v", e)
				return nil
			}
			list = append(list, strings.TrimSpace(name))
		}
	case string:
		text := strings.TrimSpace(s)
		if strings.HasPrefix(text, "[") {
			if err := json.Unmarshal([]byte(text), &list); err != nil {
				bad(key, "%q: %v", text, err)
				return nil
			}
			break
		}
		list = strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' })
	default:
		bad(key, "want a list, found %v", v)
		return nil
	}
	return list
}

// sources reads the enabled sources: a JSON list, or names separated by
// commas or spaces.
func sources(get func(string) (any, bool), bad func(key, format string, args ...any)) []string {
	list := stringList(get, KeySources, bad)
	seen := map[string]bool{}
	var out []string
	for _, name := range list {
		name = strings.TrimSpace(name)
		if !sourceRE.MatchString(name) {
			bad(KeySources, "%q is not an event source name", name)
			continue
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func retentionChoices() string {
	days := make([]int, 0, len(retentionDays))
	for d := range retentionDays {
		days = append(days, d)
	}
	sort.Ints(days)
	parts := make([]string, len(days))
	for i, d := range days {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ", ")
}
