#!/usr/bin/env bash
# Packs the npm distribution: npm/pack.sh BINARY OS-CPU OUT_DIR, e.g.
#   npm/pack.sh target/release/rendorix linux-x64 dist/npm
# writes OUT_DIR/rendorix-VERSION.tgz (the `rendorix` package: a small bin script) and
# OUT_DIR/rendorix-OS-CPU-VERSION.tgz (@rendorix/OS-CPU: the binary, with npm's os and cpu
# fields so that npm installs only the one that fits). The version is Cargo.toml's; the main
# package's own version and optionalDependencies must match it. A release runs this once per
# platform, each on its own build (docs/install.md), and publishes the platform packages first.
set -euo pipefail
bin=$1 target=$2 out=$3
root="$(cd "$(dirname "$0")/.." && pwd)"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
main="$root/npm/rendorix"
node -e '
  const p = require(process.argv[1]), v = process.argv[2];
  const bad = [p.version, ...Object.values(p.optionalDependencies)].filter((x) => x !== v);
  if (bad.length) { console.error(`npm/rendorix/package.json: versions ${bad} differ from Cargo.toml ${v}`); process.exit(1); }
' "$main/package.json" "$version"
os=${target%-*} cpu=${target#*-}
exe=rendorix; [ "$os" = win32 ] && exe=rendorix.exe
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/platform/bin"
cp "$bin" "$work/platform/bin/$exe"
chmod +x "$work/platform/bin/$exe"
cat > "$work/platform/package.json" <<JSON
{
  "name": "@rendorix/$target",
  "version": "$version",
  "description": "The rendorix binary for $target (installed by the rendorix package)",
  "repository": { "type": "git", "url": "git+https://github.com/rendorix/rendorix.git" },
  "license": "MIT",
  "os": ["$os"],
  "cpu": ["$cpu"],
  "files": ["bin/$exe"],
  "preferUnplugged": true
}
JSON
mkdir -p "$work/main/bin"
cp "$main/package.json" "$work/main/"
cp "$main/bin/rendorix.js" "$work/main/bin/"
cp "$main/run.mjs" "$work/main/"
cp "$root/README.md" "$root/LICENSE" "$work/main/"
(cd "$work/platform" && npm pack --silent --pack-destination "$out" >/dev/null)
(cd "$work/main" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"
