#!/usr/bin/env bash
# Browser tests: tests/browser/run.sh [RENDORIX_BINARY] (default target/debug/rendorix).
# Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM=path) and Node; installs
# playwright-core from the lock file (it never downloads a browser). Screenshots and the
# servers' access logs go to target/browser-test/; the logs are shown when a test fails.
set -euo pipefail
bin="${1:-$(dirname "$0")/../../target/debug/rendorix}"
[ -x "$bin" ] || { echo "no rendorix binary at $bin: run cargo build first" >&2; exit 1; }
RENDORIX_BIN="$(realpath "$bin")"
export RENDORIX_BIN
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
rm -f ../../target/browser-test/serve-*.log
node --test --test-concurrency=1 --test-timeout=120000 preview.test.mjs generators.test.mjs || {
  for log in ../../target/browser-test/serve-*.log; do
    [ -e "$log" ] && { echo "--- $log (status verdict method target)"; tail -n 40 "$log"; }
  done
  exit 1
}
