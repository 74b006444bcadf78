#!/usr/bin/env bash
# The npm distribution as a user gets it, without the network: npm/test.sh BINARY. Packs the
# packages for this platform, installs both tarballs into a fresh project offline, then runs
# `npx rendorix --version` and signs a copy of the fixture blog through it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "$1")"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=linux-x64 ;;
  Linux-aarch64) target=linux-arm64 ;;
  Darwin-x86_64) target=darwin-x64 ;;
  Darwin-arm64) target=darwin-arm64 ;;
  *) echo "npm/test.sh: no npm package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$root/npm/pack.sh" "$bin" "$target" "$work/dist" >/dev/null
mkdir "$work/project"
cd "$work/project"
echo '{ "name": "site", "private": true }' > package.json
# The other platforms' optional packages cannot be fetched offline: npm skips them, as it skips
# them online for not matching os/cpu.
npm install --offline --no-audit --no-fund --loglevel=error "$work"/dist/*.tgz >/dev/null
version="$(npx --no-install rendorix --version)"
echo "npx rendorix --version: $version"
[ "$version" = "rendorix $(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)" ]
cp -r "$root/fixtures/blog" site
RENDORIX_KEYS="$(cat "$root/fixtures/test-key")" npx --no-install rendorix sign --config site/rendorix.toml --now 1715000000 -q
grep -q 'exp=1715133600&amp;kid=k2026a&amp;sig=' site/public/index.html
echo "npx rendorix sign: the fixture blog is signed"
# The exit status comes through: a check at a later time fails.
status=0
RENDORIX_KEYS="$(cat "$root/fixtures/test-key")" npx --no-install rendorix check --config site/rendorix.toml --now 1815000000 -q 2>/dev/null || status=$?
[ "$status" = 1 ] || { echo "npx rendorix check: exit status $status, expected 1" >&2; exit 1; }
echo "npx rendorix check: exit status 1 passed through"
