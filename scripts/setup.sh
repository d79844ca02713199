#!/usr/bin/env bash
# Installs what the tests and local runs need, from the repository's own
# files only. Idempotent: a step does nothing when its result is current.
#
# To add a step, write a function below and call it from main.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== setup: %s\n' "$*"; }

# npm_deps installs the Node packages pinned in package-lock.json (dynalite,
# the local DynamoDB of the adapter tests) with `npm ci`, when node_modules
# is missing, incomplete or older than package.json or the lock file.
npm_deps() {
	if ! command -v npm >/dev/null 2>&1; then
		log "npm not found: install Node.js 20 or later (Debian: apt-get install nodejs npm)" >&2
		return 1
	fi
	local stamp=node_modules/.package-lock.json
	if [[ -f $stamp && -x node_modules/.bin/dynalite && ! package-lock.json -nt $stamp && ! package.json -nt $stamp ]]; then
		log "node_modules is current"
	else
		log "npm ci"
		npm ci --no-audit --no-fund
		touch "$stamp"
	fi
	# A go.mod makes node_modules a module of its own, so `go vet ./...` and
	# `go test ./...` skip the Go files some packages ship (CDK templates).
	printf 'module ignore/node_modules\n' >node_modules/go.mod
}

# --- Lambda Runtime Interface Emulator (the end-to-end test, e2e/) ---------

# RIE_MODULE and RIE_VERSION pin the emulator the end-to-end test runs the
# functions' bootstrap binaries under. The module proxy serves it as a
# pseudo-version of the repository's commit.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

# lambda_rie installs aws-lambda-rie with `go install` into GOBIN (or
# GOPATH/bin), unless the binary there was built from the pinned version.
lambda_rie() {
	local dir bin
	dir=$(go env GOBIN)
	[[ -n $dir ]] || dir="$(go env GOPATH)/bin"
	bin="$dir/aws-lambda-rie"
	if [[ -x $bin ]] && go version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]\+$RIE_MODULE[[:space:]]\+$RIE_VERSION"; then
		log "aws-lambda-rie $RIE_VERSION is installed"
		return 0
	fi
	log "go install $RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION"
	go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION"
}

# --- end of the Lambda Runtime Interface Emulator block -------------------

# --- Chromium (the review report's browser tests, internal/review) ------------

# chromium_browser installs Debian's chromium, which the browser tests of
# the review report run headless, unless a Chromium or Chrome is on PATH.
# The tests fail without one unless OPSLOOP_SKIP_BROWSER=1.
chromium_browser() {
	local name
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$name" >/dev/null 2>&1; then
			log "$name is installed"
			return 0
		fi
	done
	if ! command -v apt-get >/dev/null 2>&1; then
		log "no chromium and no apt-get: install Chromium, or set OPSLOOP_SKIP_BROWSER=1 to skip the browser tests" >&2
		return 1
	fi
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		sudo=(sudo)
	fi
	log "apt-get install chromium"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y chromium || {
		"${sudo[@]}" apt-get update
		"${sudo[@]}" apt-get install -y chromium
	}
}

# --- end of the Chromium block ---------------------------------------------

main() {
	npm_deps
	lambda_rie
	chromium_browser
}

main "$@"
