// Package redact keeps secrets out of what opsloop copies from an event:
// signal excerpts, OpsItem descriptions, titles, the change log, the bus
// archive and the review. CloudTrail logs some requests' secrets in clear
// (an ECS task definition's environment, a Lambda function's variables,
// CodeBuild environment variables, an RDS master password in some calls);
// a denied call logs whatever its caller sent.
package redact

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Mask replaces a redacted value.
const Mask = "[redacted]"

// Hidden is how CloudTrail itself marks a value it withheld.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// markers are the parts of a key, lower-cased without punctuation, that name
// a secret.
var markers = []string{"password", "passwd", "passphrase", "secret", "token", "credential", "privatekey", "apikey", "authorization", "cookie", "signature"}

// names are key endings that name or describe a secret without holding it
// (secretId, secretArn, tokenType, passwordLength): kept, since they say
// which resource an incident concerns.
var names = []string{"id", "ids", "arn", "arns", "name", "names", "type", "length", "version", "versionid", "policy", "rotationenabled", "lastchangeddate", "expiration", "expiry"}

// holders are keys whose every value is configuration a user may have put a
// secret in: ECS and Batch container environments, Lambda variables,
// CodeBuild environment variables, Glue and EMR arguments.
var holders = []string{"environment", "variables", "environmentvariables", "defaultarguments", "arguments", "userdata", "parameteroverrides"}

func normalize(key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SecretKey reports whether a value under key is a secret.
func SecretKey(key string) bool {
	k := normalize(key)
	for _, n := range names {
		if strings.HasSuffix(k, n) {
			return false
		}
	}
	for _, m := range markers {
		if strings.Contains(k, m) {
			return true
		}
	}
	return false
}

func holder(key string) bool {
	k := normalize(key)
	for _, h := range holders {
		if k == h {
			return true
		}
	}
	return false
}

// Redactor masks secrets: values under secret keys, everything under the
// holders of configuration, values of SecureString parameters, and the
// operator's own paths (dot-joined, as in rules).
type Redactor struct {
	paths map[string]bool
}

// New returns a Redactor that also masks the values at paths.
func New(paths []string) *Redactor {
	r := &Redactor{paths: map[string]bool{}}
	for _, p := range paths {
		r.paths[p] = true
	}
	return r
}

// Path reports whether the value at the dot-joined path is masked.
func (r *Redactor) Path(path string) bool {
	segs := strings.Split(path, ".")
	for i, s := range segs {
		if SecretKey(s) || (holder(s) && i < len(segs)-1) || r.paths[strings.Join(segs[:i+1], ".")] {
			return true
		}
	}
	return false
}

// Values masks vals when path is a secret's, for templates.
func (r *Redactor) Values(path string, vals []string) []string {
	if len(vals) == 0 || !r.Path(path) {
		return vals
	}
	out := make([]string, len(vals))
	for i := range out {
		out[i] = Mask
	}
	return out
}

// JSON returns raw with every secret masked, as compact JSON (keys in the
// order of encoding/json: sorted). Input that is not JSON is returned
// masked whole: what it holds cannot be told.
func (r *Redactor) JSON(raw []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []byte(`"` + Mask + ` (not JSON)"`)
	}
	v = r.walk(v, "", false)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`"` + Mask + `"`)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func (r *Redactor) walk(v any, path string, masked bool) any {
	switch t := v.(type) {
	case map[string]any:
		secure := false
		if typ, ok := t["type"].(string); ok && strings.EqualFold(typ, "SecureString") {
			secure = true // an SSM parameter: its value is the secret
		}
		for k, child := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			m := masked || SecretKey(k) || r.paths[p] || (secure && strings.EqualFold(k, "value"))
			if holder(k) {
				t[k] = r.maskAll(child)
				continue
			}
			t[k] = r.walk(child, p, m)
		}
		return t
	case []any:
		for i, child := range t {
			t[i] = r.walk(child, path, masked)
		}
		return t
	case string:
		if masked && t != Hidden && t != "" {
			return Mask
		}
		return t
	case json.Number, bool:
		if masked {
			return Mask
		}
		return t
	}
	return v
}

// maskAll masks every value below a holder of configuration, keeping the
// names of environment variables ({"name": ..., "value": ...} pairs), which
// say what was configured.
func (r *Redactor) maskAll(v any) any {
	switch t := v.(type) {
	case map[string]any:
		_, pair := t["value"]
		if _, from := t["valueFrom"]; from {
			pair = true
		}
		for k, child := range t {
			if _, isStr := child.(string); isStr && pair && strings.EqualFold(k, "name") {
				continue
			}
			t[k] = r.maskAll(child)
		}
		return t
	case []any:
		for i, child := range t {
			t[i] = r.maskAll(child)
		}
		return t
	case nil:
		return nil
	case string:
		if t == "" || t == Hidden {
			return t
		}
	}
	return Mask
}
