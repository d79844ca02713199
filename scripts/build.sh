#!/usr/bin/env bash
# Builds every Lambda function in functions/<name>/ (those with a main.go)
# as dist/<name>/bootstrap for the provided.al2023 runtime: static, without
# the RPC shim (-tags lambda.norpc), trimmed and stripped.
#
#   scripts/build.sh            # arm64 (Graviton), what the CDK app deploys by default
#   scripts/build.sh amd64      # x86_64; deploy with `cdk deploy -c architecture=x86_64`
#   GOARCH=amd64 scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."

arch="${1:-${GOARCH:-arm64}}"
case "$arch" in
	arm64 | amd64) ;;
	x86_64) arch=amd64 ;;
	*)
		echo "build: unknown architecture $arch (want arm64 or amd64)" >&2
		exit 2
		;;
esac

out=dist
mkdir -p "$out"
built=0
for dir in functions/*/; do
	[[ -f "$dir/main.go" ]] || continue
	name="$(basename "$dir")"
	rm -rf "${out:?}/$name"
	mkdir -p "$out/$name"
	echo "== build: $name ($arch)"
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
		go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o "$out/$name/bootstrap" "./$dir"
	built=$((built + 1))
done
echo "== build: $built function(s) in $out/"
