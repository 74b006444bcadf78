"""Cross-checks rendorix's Bunny tokens against Bunny's documented algorithm, written here
independently of rendorix (no PyPI package of Bunny's exists).

Usage: bunny_token.py SITE_DIR BASE_URL KEY url|directory sha256|hmac-sha256 [PREFIX_PATH...]

Every signed URL in the site's HTML is resolved against its page, stripped of `token`,
`token_path` and `expires`, and signed again for the same `expires` the way Bunny's token
documentation and libraries do it (BunnyWay/BunnyCDN.TokenAuthentication): the signature path
is the URL's path, or for a directory token the PREFIX_PATH it lies under (sent as
`token_path`); the query parameters other than `token` and `expires` are decoded, sorted by
name and joined as `name=value&...`; the token is URL-safe base64 without padding of
SHA-256(key + path + expires + parameters), or `HS256-` and that of HMAC-SHA256 under the key
of path + expires + parameters. Bunny's libraries write the parameters in another order, so the
two URLs must be equal as a path and a multiset of query parameters. Exits 1 on any difference,
and when no URL was found.
"""

import base64
import hashlib
import hmac
import re
import sys
from urllib.parse import parse_qsl, quote, urlsplit

from pages import signed_urls, verdict

SIGNED = re.compile(r"[^\s,]+?[?&]expires=\d+")
OURS = ("token", "token_path", "expires")


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def bunny_sign(url, key, expires, algorithm, token_path=None):
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if token_path is not None:
        params["token_path"] = token_path
    path = token_path if token_path is not None else parts.path
    signing = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    message = f"{path}{expires}{signing}"
    if algorithm == "hmac-sha256":
        token = "HS256-" + b64(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest())
    else:
        token = b64(hashlib.sha256((key + message).encode()).digest())
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(params.items()))
    query = f"token={token}" + (f"&{query}" if query else "") + f"&expires={expires}"
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"


def normal(url):
    parts = urlsplit(url)
    return parts.path, sorted(parse_qsl(parts.query, keep_blank_values=True))


def main():
    site, base_url, key, kind, algorithm = sys.argv[1:6]
    prefixes = sys.argv[6:]
    seen, bad = 0, 0
    for page, ours in signed_urls(site, base_url, "expires=", SIGNED):
        seen += 1
        parts = urlsplit(ours)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        expires = dict(pairs)["expires"]
        own = "&".join(p for p in parts.query.split("&") if p.split("=")[0] not in OURS)
        unsigned = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{own}" if own else "")
        token_path = None
        if kind == "directory":
            token_path = next(p for p in prefixes if parts.path.startswith(p))
        theirs = bunny_sign(unsigned, key, expires, algorithm, token_path)
        if normal(theirs) != normal(ours):
            bad += 1
            print(f"{page}: differs\n  rendorix: {ours}\n  Bunny:    {theirs}")
    verdict(f"Bunny token authentication, {kind}, {algorithm}", seen, bad)


if __name__ == "__main__":
    main()
