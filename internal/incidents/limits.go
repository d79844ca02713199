package incidents

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits OpsCenter enforces on an OpsItem. The Systems Manager API reference
// (CreateOpsItem, UpdateOpsItem, OpsItemDataValue and the service model
// behind them) gives lengths as "Minimum length of 1. Maximum length of N"
// for strings that must not be blank; the OpsCenter user guide gives the
// counts. Lengths are counted in characters (Unicode code points).
const (
	// MaxTitle: Title, "Maximum length of 1024".
	MaxTitle = 1024
	// MaxDescription: Description, "Maximum length of 2048".
	MaxDescription = 2048
	// MaxSource: Source, "Maximum length of 128"; the name "can't contain
	// the following strings: aws, amazon, and amzn".
	MaxSource = 128
	// MaxCategory: Category, "Maximum length of 64".
	MaxCategory = 64
	// MaxSeverity: Severity, "Maximum length of 64".
	MaxSeverity = 64
	// MaxDataKey: "The key has a maximum length of 128 characters."
	MaxDataKey = 128
	// MaxDataValue: "The value has a maximum size of 20 KB." Counted in
	// bytes, and as 20,000 so that either reading of "KB" holds.
	MaxDataValue = 20000
	// MaxResources: "Each OpsItem can list a maximum of 100 related
	// resource ARNs."
	MaxResources = 100
	// MaxRelated: "You can specify a maximum of 10 IDs for other OpsItems
	// that are related to the current OpsItem."
	MaxRelated = 10
	// MinPriority and MaxPriority: Priority, "Minimum value of 1. Maximum
	// value of 5".
	MinPriority, MaxPriority = 1, 5
	// MaxDedup bounds the dedup string. The API reference states no length
	// for it; opsloop keeps it within 512 characters all the same.
	MaxDedup = 512
)

// OperationalData keys OpsCenter itself reads. Other keys "can't begin with
// the following: amazon, aws, amzn, ssm, /amazon, /aws, /amzn, /ssm".
const (
	KeyResources   = "/aws/resources"
	KeyDedup       = "/aws/dedup"
	KeyAutomations = "/aws/automations"
)

var systemKeys = map[string]bool{KeyResources: true, KeyDedup: true, KeyAutomations: true}

var reservedPrefixes = []string{"amazon", "aws", "amzn", "ssm", "/amazon", "/aws", "/amzn", "/ssm"}

// ReservedKey reports whether OpsCenter refuses key as an OperationalData
// key: a reserved prefix, in any case, other than the system keys opsloop sets.
func ReservedKey(key string) bool {
	if systemKeys[key] {
		return false
	}
	lower := strings.ToLower(key)
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}

// Ellipsis marks text shortened to fit a limit.
const Ellipsis = "…"

// truncateRunes shortens s to at most max characters, ending with marker
// when it had to cut. It cuts between characters, never inside one.
func truncateRunes(s string, max int, marker string) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	keep := max - utf8.RuneCountInString(marker)
	if keep < 0 {
		keep, marker = max, ""
	}
	n := 0
	for i := range s {
		if n == keep {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace) + marker
		}
		n++
	}
	return s
}

// truncateBytes shortens s to at most max bytes, ending with marker when it
// had to cut, on a character boundary.
func truncateBytes(s string, max int, marker string) string {
	if len(s) <= max {
		return s
	}
	keep := max - len(marker)
	if keep < 0 {
		keep, marker = max, ""
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + marker
}

// oneLine makes s a single line of printable text: OpsCenter's patterns for
// titles, sources, categories and severities ("^(?!\s*$).+$") take no line
// breaks.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// text makes s valid UTF-8 without NUL characters, keeping line breaks.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// blank reports whether s has no visible character: OpsCenter refuses blank
// descriptions and OperationalData values ("^[\s\S]*\S[\s\S]*$").
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// DedupString is the OpsCenter dedup string for fingerprint. OpsCenter
// compares dedup strings ignoring case ("Deduplication strings aren't case
// sensitive"), so a fingerprint with upper-case letters, or one too long,
// is replaced by its SHA-256: two fingerprints differing only in case must
// not share one OpsItem.
func DedupString(fingerprint string) string {
	if fingerprint != "" && strings.ToLower(fingerprint) == fingerprint &&
		utf8.RuneCountInString(fingerprint) <= MaxDedup && !strings.HasPrefix(fingerprint, "sha256:") &&
		utf8.ValidString(fingerprint) {
		return fingerprint
	}
	sum := sha256.Sum256([]byte(fingerprint))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// cleanData returns data within OpsCenter's OperationalData limits: keys
// made single-line and at most MaxDataKey characters, reserved keys moved
// under "opsloop:", blank values dropped and long ones shortened. Values
// that are JSON are built within MaxDataValue by their makers, so they are
// never cut here.
func cleanData(data map[string]Data) map[string]Data {
	out := make(map[string]Data, len(data))
	for k, v := range data {
		k = oneLine(k)
		v.Value = text(v.Value)
		if k == "" || blank(v.Value) {
			continue
		}
		if ReservedKey(k) {
			k = "opsloop:" + k
		}
		k = truncateRunes(k, MaxDataKey, "")
		v.Value = truncateBytes(v.Value, MaxDataValue, Ellipsis)
		out[k] = v
	}
	return out
}

// jsonList marshals the first items of list that fit in MaxDataValue bytes,
// at most max of them: a JSON value is cut between elements, never inside.
func jsonList[T any](list []T, max int) (string, int) {
	if len(list) > max {
		list = list[:max]
	}
	for n := len(list); n > 0; n-- {
		b, err := json.Marshal(list[:n])
		if err == nil && len(b) <= MaxDataValue {
			return string(b), n
		}
		if err == nil && n > 1 {
			// Skip ahead in proportion: a long list of big items would
			// otherwise be marshalled once per dropped item.
			if fit := n * MaxDataValue / len(b); fit < n-1 {
				n = fit + 1
			}
		}
	}
	return "", 0
}
