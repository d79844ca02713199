#!/usr/bin/env bash
# Runs every fuzz target of the repository for a bounded time each
# (FUZZTIME, default 10s). New corpus entries that fail are written to the
# package's testdata/fuzz and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}

dirs=()
for d in cmd pkg rules functions e2e; do [[ -d $d ]] && dirs+=("$d"); done

grep -rl --include='*_test.go' '^func Fuzz' "${dirs[@]}" |
	while read -r file; do
		dir=./$(dirname "$file")
		for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
			echo "== fuzz $dir $target ($fuzztime)"
			go test "$dir" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" 2>&1 | grep -v '^fuzz: elapsed'
		done
	done
