#!/usr/bin/env bash
# Installs what the tests need (from the repo's own files) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Listed, not ./..., because node_modules holds Go template files of its own.
pkgs=(. ./cmd/... ./internal/... ./rules/... ./scripts/...)
for d in functions infra e2e; do
	[[ -n $(find "$d" -name '*.go' -print -quit 2>/dev/null) ]] && pkgs+=("./$d/...")
done

# Synth first: the end-to-end test routes events with the patterns of the
# synthesized template, so what is tested is what is deployed.
echo "== cdk synth (the project's CDK CLI, cdk-nag, --strict)"
scripts/synth.sh
# and the central stack of an organization, which the organization's
# end-to-end run deploys
scripts/synth.sh -o cdk.out.org -c organizationId=o-e2eorg00001 -c memberOrganizationalUnits=ou-e2e0-members1

echo "== go vet"
go vet "${pkgs[@]}"

echo "== go test"
go test -count=1 "${pkgs[@]}"

echo "== fuzz (each target ${FUZZTIME:-10s})"
scripts/fuzz.sh
