#!/usr/bin/env bash
# Installs what the tests need (from the repo's own files) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 ./...
