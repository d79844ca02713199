// Package rules holds the default rule set as data, embedded so that opsloop
// runs without any rules file of the operator's.
package rules

import "embed"

// FS holds the default rules files and their JSON Schema.
//
//go:embed *.json
var FS embed.FS
