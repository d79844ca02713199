// Package opsloop holds what the binaries embed from the repository: the
// default rules and their JSON Schema, so that opsloop runs without any rules
// file of the operator's.
package opsloop

import (
	"embed"
	"io/fs"
)

//go:embed rules/*.json
var embedded embed.FS

// DefaultRules is the rules/ directory: default.json and the JSON Schema
// opsloop-rules.schema.json.
var DefaultRules = func() fs.FS {
	sub, err := fs.Sub(embedded, "rules")
	if err != nil {
		panic(err) // a constant path into an embedded tree cannot fail
	}
	return sub
}()
