#!/usr/bin/env bash
# Cross-checks the native CDN schemes against the vendors' own SDKs or published algorithms:
# tests/vendors/run.sh BIN. Installs the pinned SDKs (pip, into a virtual environment under
# target/), signs the scheme fixtures (S3 with AWS's documentation example key, the others with
# the fixtures' test keys), and has each reproduce every URL byte for byte (Bunny's: as path and
# parameter multiset; CloudFront's ECDSA signatures: verified with the public key).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="$(realpath "${1:-target/debug/rendorix}")"
venv=target/vendors-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check botocore==1.43.11 cryptography==48.0.0 akamai-edgeauth==0.3.2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
cp -r fixtures/s3 "$work/s3"
# Two instants: in the middle of a window, and at a window's first second.
for now in 1715000000 1715040000; do
  "$bin" sign --config "$work/s3/rendorix.toml" --now "$now" >/dev/null
  "$venv/bin/python" tests/vendors/s3_botocore.py "$work/s3/public" eu-west-1 "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
done

# CloudFront: canned policy with SHA-1 and with SHA-256, and one policy per prefix (without the
# fixture's expiry rule, which a prefix policy cannot honour); with the RSA key, then the ECDSA one.
for variant in canned sha256 prefix ec-canned ec-sha256 ec-prefix; do
  key=fixtures/cloudfront/test-key.pem
  case $variant in ec-*) key=fixtures/cloudfront/test-key-ec.pem ;; esac
  export RENDORIX_CLOUDFRONT_KEY="$(cat "$key")"
  rm -rf "$work/cf" && cp -r fixtures/cloudfront "$work/cf"
  case $variant in
    *sha256) sed -i 's/^key_pair_id = .*/&\nhash_algorithm = "SHA256"/' "$work/cf/rendorix.toml" ;;
    *prefix) sed -i -e '/^\[\[expiry.rule\]\]/,$d' -e 's/^key_pair_id = .*/&\npolicy = "prefix"/' "$work/cf/rendorix.toml" ;;
  esac
  "$bin" sign --config "$work/cf/rendorix.toml" --now 1715000000 >/dev/null
  echo "cloudfront, $variant:"
  "$venv/bin/python" tests/vendors/cloudfront_botocore.py "$work/cf/public" https://www.example.com/ \
    K2JCJMDEHXQW5F "$key" https://www.example.com/media/ https://d111111abcdef8.cloudfront.net/private/
done

# Cloud CDN: Google's published algorithm (its Python sample), written independently.
rm -rf "$work/google" && cp -r fixtures/google "$work/google"
export RENDORIX_GOOGLE_KEY=nZtRohdNF9m3cKM24IcK4w==
"$bin" sign --config "$work/google/rendorix.toml" --now 1715000000 >/dev/null
"$venv/bin/python" tests/vendors/google_cdn.py "$work/google/public" https://www.example.com/ rendorix-2026 "$RENDORIX_GOOGLE_KEY"

# Akamai: the akamai-edgeauth package, URL tokens and ACL tokens per prefix.
export RENDORIX_AKAMAI_KEY=52a152a152a152a152a152a152a152a1
for kind in url acl; do
  rm -rf "$work/akamai" && cp -r fixtures/akamai "$work/akamai"
  sed -i "s/^token = .*/token = \"$kind\"/" "$work/akamai/rendorix.toml"
  "$bin" sign --config "$work/akamai/rendorix.toml" --now 1715000000 >/dev/null
  "$venv/bin/python" tests/vendors/akamai_edgeauth.py "$work/akamai/public" https://www.example.com/ \
    "$RENDORIX_AKAMAI_KEY" "$kind" /media/ /photos/
done

# Bunny: its documented algorithm (no SDK on PyPI), both token forms and both algorithms.
export RENDORIX_BUNNY_KEY=229248f0-f007-4bf9-ba1f-bbf1b4ad9d40
for kind in url directory; do
  for algorithm in sha256 hmac-sha256; do
    rm -rf "$work/bunny" && cp -r fixtures/bunny "$work/bunny"
    sed -i -e "s/^token = .*/token = \"$kind\"/" -e "s/^algorithm = .*/algorithm = \"$algorithm\"/" "$work/bunny/rendorix.toml"
    "$bin" sign --config "$work/bunny/rendorix.toml" --now 1715000000 >/dev/null
    "$venv/bin/python" tests/vendors/bunny_token.py "$work/bunny/public" https://www.example.com/ \
      "$RENDORIX_BUNNY_KEY" "$kind" "$algorithm" /media/ /photos/
  done
done
