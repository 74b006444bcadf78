#!/usr/bin/env bash
# Signs each fixture site with rendorix and re-verifies it with tests/independent/check-site.mjs,
# which shares no code with rendorix. Needs node and npm; installs parse5 from package-lock.json.
# Usage: tests/independent/run.sh [path/to/rendorix]   (default: target/debug/rendorix)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/debug/rendorix}
here=$root/tests/independent
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
key=$(cat "$root/fixtures/test-key")
now=1715000000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() { # fixture site-dir status-expected check-args...   (SIGN_ARGS: more for rendorix sign)
  local name=$1 dir=$2 want=$3; shift 3
  mkdir -p "$(dirname "$work/$name")"
  cp -r "$root/fixtures/$name" "$work/$name"
  local status=0
  # shellcheck disable=SC2086
  RENDORIX_KEYS=$key "$bin" sign --config "$work/$name/rendorix.toml" --now "$now" ${SIGN_ARGS:-} >/dev/null 2>&1 ||
    status=$?
  if [ "$status" != "$want" ]; then echo "rendorix sign $name exited $status, expected $want"; exit 1; fi
  node "$here/check-site.mjs" --site "$work/$name/$dir" --keys "$key" --now "$now" "$@"
}

check blog public 0 --base https://www.example.com/ --match https://img.example.com/ --match /media/ \
  --ext avif --ext webp --ext png --ext jpg --ext jpeg --ext gif --ext svg \
  --extra data-src --social
check gallery dist 0 --base https://photos.example.org/ --match https://img.example.org/ --match /media/
check edge-cases site 1 --base https://www.example.com/docs/ --match https://img.example.com/ --match /media/ \
  --match http://legacy.example.com:8080/pics --extra data-src --extra data-srcset --social \
  --expect-unsigned "$root/fixtures/edge-cases/expected-unsigned.tsv"

# The built output of real generators, with the protection rules of their rendorix.toml.
images=(--ext avif --ext webp --ext png --ext jpg --ext jpeg --ext gif --ext svg --ext ico)
check generators/hugo site 0 --base https://www.example.com/ --match /images/ --match /posts/ "${images[@]}"
check generators/mkdocs site 0 --base https://docs.example.com/ --match /images/ "${images[@]}"
check generators/sphinx site 0 --base https://docs.example.org/ --match /_images/ --match /_static/ "${images[@]}"
check generators/eleventy site 0 --base https://www.example.net/ --match /img/ --match /icons/ "${images[@]}"
check generators/astro site 0 --base https://www.example.org/ --match /_astro/ --match /images/ "${images[@]}"
check generators/vitepress site 0 --base https://docs.example.dev/ --match /assets/ --match /images/ \
  "${images[@]}"
check generators/docusaurus site 0 --base https://docs.example.io/ --match /assets/images/ --match /img/ \
  --exclude /img/favicon.png "${images[@]}"
check generators/nextjs site 0 --base https://www.example.app/ --match /_next/static/media/ \
  --match /icons/ --exclude /icons/favicon.png "${images[@]}"
