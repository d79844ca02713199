#!/usr/bin/env bash
# Synthesizes the CDK app with the project's own CDK CLI (pinned in
# package-lock.json, installed by scripts/setup.sh): builds the function
# bundles (cdk.json's build step), validates the rules, generates the
# routes and applies cdk-nag's AwsSolutions checks. Fails on invalid rules,
# on any cdk-nag finding left unsuppressed (--strict makes warnings fail
# too) and on a missing bundle. The template lands in cdk.out/.
#
#   scripts/synth.sh                      # as deployed by default
#   scripts/synth.sh -c sources=aws.ec2   # any `cdk synth` arguments
set -euo pipefail
cd "$(dirname "$0")/.."

cdk=node_modules/.bin/cdk
if [[ ! -x $cdk ]]; then
	echo "synth: $cdk is missing: run scripts/setup.sh" >&2
	exit 1
fi
export CDK_DISABLE_VERSION_CHECK=1
"$cdk" synth --quiet --strict --no-notices "$@"
echo "== synth: $(ls cdk.out/*.template.json | tr '\n' ' ')"
