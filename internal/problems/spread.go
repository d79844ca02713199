package problems

import (
	"slices"
	"strings"

	"github.com/opsloop/opsloop/internal/lazyregexp"
)

var (
	accountPart = lazyregexp.New(`^[0-9]{12}$`)
	regionPart  = lazyregexp.New(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// SpreadFingerprint is fp with the account and Region parts of its group
// key replaced by "*": the same failure anywhere in the organization. It
// is "" when fp names no account (a rule that does not group by account,
// or a hashed long fingerprint).
func SpreadFingerprint(fp string) string {
	rule, group, ok := strings.Cut(fp, ":")
	if !ok || strings.HasPrefix(group, "sha256:") {
		return ""
	}
	parts := strings.Split(group, "/")
	found := false
	for i, p := range parts {
		switch {
		case accountPart.MatchString(p):
			parts[i], found = "*", true
		case regionPart.MatchString(p):
			parts[i] = "*"
		}
	}
	if !found {
		return ""
	}
	return rule + ":" + strings.Join(parts, "/")
}

// accounts counts the distinct accounts of p's incidents.
func (p *Problem) accounts() int { return len(p.Accounts()) }

// Accounts are the distinct accounts of the incidents History keeps, in
// the order they first appear.
func (p *Problem) Accounts() []string {
	var out []string
	for _, o := range p.History {
		if o.Account != "" && !slices.Contains(out, o.Account) {
			out = append(out, o.Account)
		}
	}
	return out
}
