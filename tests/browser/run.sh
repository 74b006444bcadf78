#!/usr/bin/env bash
# Browser tests: tests/browser/run.sh [RENDORIX_BINARY] (default target/debug/rendorix).
# Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM=path) and Node; installs
# playwright-core from the lock file (it never downloads a browser). Screenshots go to
# target/browser-test/.
set -euo pipefail
cd "$(dirname "$0")"
export RENDORIX_BIN="$(realpath "${1:-../../target/debug/rendorix}")"
npm ci --no-audit --no-fund --silent
node --test --test-concurrency=1 --test-timeout=120000 preview.test.mjs
