package incidents

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/inert"
	"github.com/opsloop/opsloop/internal/signal"
)

// KeyConsole holds the console links of the incident's resources, each
// opening the resource in its own account.
const KeyConsole = "opsloop:console"

// maxConsoleLinks bounds the resources given a console link.
const maxConsoleLinks = 5

// ConsoleLink is a console page of one resource.
type ConsoleLink struct {
	Resource string `json:"resource"`
	URL      string `json:"url"`
}

// ConsoleLinks are the console pages of the ARNs among resources. With an
// IAM Identity Center access portal, each link signs the responder in to
// the resource's own account, in the portal's role, and opens the page
// there; without one the page opens in whatever account the console is
// signed in to.
func ConsoleLinks(portal *signal.Portal, resources []string) []ConsoleLink {
	var out []ConsoleLink
	for _, r := range resources {
		if len(out) == maxConsoleLinks {
			break
		}
		a, ok := parseARN(r)
		if !ok {
			continue
		}
		page := a.consolePage()
		if portal != nil && portal.URL != "" && a.account != "" {
			page = strings.TrimSuffix(portal.URL, "/") + "/#/console?account_id=" + url.QueryEscape(a.account) +
				"&role_name=" + url.QueryEscape(portal.Role) + "&destination=" + url.QueryEscape(page)
		}
		out = append(out, ConsoleLink{Resource: r, URL: linkSafe(page)})
	}
	return out
}

// linkSafe percent-encodes what would end a Markdown link early.
func linkSafe(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "[", "%5B", "]", "%5D").Replace(u)
}

type arnParts struct {
	partition, service, region, account, resource string
}

func parseARN(s string) (arnParts, bool) {
	if !event.IsARN(s) {
		return arnParts{}, false
	}
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 {
		return arnParts{}, false
	}
	return arnParts{partition: p[1], service: p[2], region: p[3], account: p[4], resource: p[5]}, true
}

// consolePage is the console page of the resource: its own page for the
// kinds responders open most, else the CloudTrail event history of its
// name (what was done to it), in its Region. Every part from the ARN is
// escaped for where it goes in the URL.
func (a arnParts) consolePage() string {
	region := a.region
	if region == "" {
		region = "us-east-1"
	}
	host := "https://" + url.PathEscape(region) + ".console.aws.amazon.com"
	q := "?region=" + url.QueryEscape(region)
	kind, name, _ := strings.Cut(a.resource, "/")
	if k, n, ok := strings.Cut(a.resource, ":"); ok && !strings.Contains(k, "/") {
		kind, name = k, n
	}
	frag := url.PathEscape(name)
	switch a.service + " " + kind {
	case "ec2 instance":
		return host + "/ec2/home" + q + "#InstanceDetails:instanceId=" + frag
	case "ec2 security-group":
		return host + "/ec2/home" + q + "#SecurityGroup:groupId=" + frag
	case "ec2 volume":
		return host + "/ec2/home" + q + "#VolumeDetails:volumeId=" + frag
	case "lambda function":
		return host + "/lambda/home" + q + "#/functions/" + frag
	case "cloudwatch alarm":
		return host + "/cloudwatch/home" + q + "#alarmsV2:alarm/" + frag
	case "kms key":
		return host + "/kms/home" + q + "#/kms/keys/" + frag
	case "iam role":
		return "https://console.aws.amazon.com/iam/home#/roles/details/" + url.PathEscape(lastSegment(name))
	case "iam user":
		return "https://console.aws.amazon.com/iam/home#/users/details/" + url.PathEscape(lastSegment(name))
	case "rds db":
		return host + "/rds/home" + q + "#database:id=" + frag
	}
	if a.service == "s3" && !strings.Contains(a.resource, "/") {
		return "https://s3.console.aws.amazon.com/s3/buckets/" + url.PathEscape(a.resource) + q
	}
	return host + "/cloudtrail/home" + q + "#/events?ResourceName=" + url.QueryEscape(lastSegment(a.resource))
}

func lastSegment(s string) string {
	if i := strings.LastIndexAny(s, "/:"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// consoleValue is KeyConsole's value.
func consoleValue(links []ConsoleLink) string {
	if len(links) == 0 {
		return ""
	}
	b, _ := json.Marshal(links)
	return string(b)
}

// consoleLine is the description's line of console links: each resource
// named by its escaped last segment, its URL made of escaped parts.
func consoleLine(links []ConsoleLink) string {
	parts := make([]string, len(links))
	for i, l := range links {
		parts[i] = fmt.Sprintf("[%s](%s)", inert.Markdown(lastSegment(l.Resource)), l.URL)
	}
	return "- **Console:** " + strings.Join(parts, ", ") + "\n"
}
