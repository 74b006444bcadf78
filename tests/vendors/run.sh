#!/usr/bin/env bash
# Cross-checks the native CDN schemes against the vendors' own SDKs: tests/vendors/run.sh BIN.
# Installs the pinned SDKs (pip, into a virtual environment under target/), signs the scheme
# fixtures with AWS's documentation example key, and has each SDK reproduce every URL.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="$(realpath "${1:-target/debug/rendorix}")"
venv=target/vendors-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check botocore==1.43.11
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
cp -r fixtures/s3 "$work/s3"
# Two instants: in the middle of a window, and at a window's first second.
for now in 1715000000 1715040000; do
  "$bin" sign --config "$work/s3/rendorix.toml" --now "$now" >/dev/null
  "$venv/bin/python" tests/vendors/s3_botocore.py "$work/s3/public" eu-west-1 "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
done
