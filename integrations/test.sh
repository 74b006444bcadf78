#!/usr/bin/env bash
# The Astro integration and the Eleventy plugin on real builds: integrations/test.sh BINARY.
# Packs rendorix's npm packages (with BINARY) and the two integrations, installs each generator
# at its pinned version from the npm registry with those tarballs into a copy of its fixture
# source (fixtures/generators/NAME/src), builds, and checks that the build signed the pages
# (`rendorix check` passes) and that a failing sign fails the build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$root/npm/pack.sh" "$bin" linux-x64 "$work/dist" >/dev/null
for name in astro eleventy; do
  (cd "$root/integrations/$name" && npm pack --silent --pack-destination "$work/dist" >/dev/null)
done
images="$root/fixtures/generators/images"
export RENDORIX_KEYS="$(cat "$root/fixtures/test-key")" ASTRO_TELEMETRY_DISABLED=1
NOW=1715000000

# install DIR PACKAGE@VERSION...: the generator from the registry, rendorix from the tarballs.
install() {
  local dir=$1
  shift
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --save-exact "$@" "$work"/dist/*.tgz >/dev/null)
}

# signed DIR OUT: the build in DIR/OUT was signed by the integration, and check passes.
signed() {
  grep -rq 'kid=k2026a&amp;sig=' "$1/$2" || { echo "$1: the build's pages are not signed" >&2; exit 1; }
  "$bin" check "$1/$2" --config "$1/rendorix.toml" --now "$NOW" -q
}

# Astro: the fixture's source with the integration added to its config.
a="$work/astro"
cp -r "$root/fixtures/generators/astro/src" "$a"
mkdir -p "$a/src/assets" "$a/public/images"
cp "$images"/{photo.jpg,sunset.jpg,diagram.png,paper.png} "$a/src/assets/"
cp "$images"/{favicon.png,logo.png} "$a/public/images/"
cp "$root/fixtures/generators/astro/rendorix.toml" "$a/"
cat > "$a/astro.config.mjs" <<JS
import { defineConfig } from "astro/config";
import rendorix from "@rendorix/astro";
export default defineConfig({
  site: "https://www.example.org",
  build: { inlineStylesheets: "never" },
  integrations: [rendorix({ args: ["--now", "$NOW"] })],
});
JS
install "$a" astro@5.9.4 sharp@0.34.5
(cd "$a" && npx astro build --silent)
signed "$a" dist
echo "astro build with @rendorix/astro: every page signed, check passes"
# Without the key, the sign fails and so does the build.
if (cd "$a" && RENDORIX_KEYS= npx astro build --silent >/dev/null 2>&1); then
  echo "astro build passed although rendorix sign failed" >&2; exit 1
fi
echo "astro build fails when rendorix sign fails"

# Eleventy: the fixture's source with the plugin added.
e="$work/eleventy"
cp -r "$root/fixtures/generators/eleventy/src" "$e"
mkdir -p "$e/content/images" "$e/public"
cp "$images"/{photo.jpg,sunset.jpg,diagram.png} "$e/content/images/"
cp "$images"/{favicon.png,logo.png} "$e/public/"
cp "$root/fixtures/generators/eleventy/rendorix.toml" "$e/"
sed -i -e '1a import rendorix from "@rendorix/eleventy";' \
  -e "s|  eleventyConfig.addPassthroughCopy({ public: \"icons\" });|&\n  eleventyConfig.addPlugin(rendorix, { args: [\"--now\", \"$NOW\"] });|" "$e/eleventy.config.js"
grep -q 'addPlugin(rendorix' "$e/eleventy.config.js"
echo '{ "name": "eleventy-site", "private": true, "type": "module" }' > "$e/package.json"
install "$e" @11ty/eleventy@3.1.8 @11ty/eleventy-img@7.0.0
(cd "$e" && npx @11ty/eleventy --quiet)
signed "$e" _site
echo "eleventy with @rendorix/eleventy: every page signed, check passes"
if (cd "$e" && RENDORIX_KEYS= npx @11ty/eleventy --quiet >/dev/null 2>&1); then
  echo "eleventy passed although rendorix sign failed" >&2; exit 1
fi
echo "eleventy fails when rendorix sign fails"
