#!/usr/bin/env bash
# Checks the GitHub Action and the example workflows and runs the action's steps with a local
# binary: .github/action/test.sh BINARY. Installs PyYAML (pinned) into a virtual environment
# under target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="$(realpath "${1:-target/debug/rendorix}")"
venv=target/action-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check PyYAML==6.0.3
"$venv/bin/python" .github/action/test.py "$bin"
