#!/usr/bin/env bash
# The action's install step: a rendorix of RENDORIX_VERSION (default: the action's own version,
# from its Cargo.toml) on PATH. Uses RENDORIX_BINARY when set (a binary you built), else one
# already installed at that version, else the npm package (a prebuilt binary), else cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
want="${RENDORIX_VERSION:-}"
[ -n "$want" ] || want=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -1)
if [ -n "${RENDORIX_BINARY:-}" ]; then
  "$RENDORIX_BINARY" --version
  exit 0
fi
if command -v rendorix >/dev/null && [ "$(rendorix --version)" = "rendorix $want" ]; then
  echo "rendorix $want is installed"
  exit 0
fi
if command -v npm >/dev/null; then
  npm install --global --no-audit --no-fund --loglevel=error "rendorix@$want"
else
  cargo install --locked --quiet rendorix --version "$want"
fi
rendorix --version
