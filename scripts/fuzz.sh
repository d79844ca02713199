#!/usr/bin/env bash
# Runs every fuzz target of the repository for a bounded time each
# (FUZZTIME, default 10s). An input that fails is written to the package's
# testdata/fuzz and fails the run.
#
# Go 1.26's fuzz coordinator can end a run at the -fuzztime boundary with a
# bare "context deadline exceeded" and no failing input (golang/go#75804,
# fixed in Go 1.27). Such a run is tried again, at most twice; anything else
# that fails, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}

dirs=()
for d in cmd internal rules functions e2e; do [[ -d $d ]] && dirs+=("$d"); done

# fuzz runs one target; returns 0 on success, 75 on the boundary flake, 1 otherwise.
fuzz() {
	local dir=$1 target=$2 out
	if out=$(go test "$dir" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" 2>&1); then
		grep -v '^fuzz: elapsed' <<<"$out"
		return 0
	fi
	grep -v '^fuzz: elapsed' <<<"$out"
	if grep -q 'context deadline exceeded' <<<"$out" &&
		! grep -qE 'Failing input written|seed corpus|panic:|_test\.go:[0-9]+:' <<<"$out"; then
		return 75
	fi
	return 1
}

grep -rl --include='*_test.go' '^func Fuzz' "${dirs[@]}" |
	while read -r file; do
		dir=./$(dirname "$file")
		for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
			for try in 1 2 3; do
				echo "== fuzz $dir $target ($fuzztime)"
				rc=0
				fuzz "$dir" "$target" || rc=$?
				[[ $rc -eq 0 ]] && break
				if [[ $rc -ne 75 || $try -eq 3 ]]; then
					echo "fuzz: $dir $target failed" >&2
					exit 1
				fi
				echo "== fuzz $dir $target: deadline flake of the Go fuzz coordinator with no failing input; trying again"
			done
		done
	done
