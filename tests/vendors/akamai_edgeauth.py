"""Cross-checks rendorix's Akamai tokens against the akamai-edgeauth package (Akamai's own).

Usage: akamai_edgeauth.py SITE_DIR BASE_URL HEX_KEY url|acl [PREFIX_PATH...]

Every token in the site's HTML is generated again by EdgeAuth for the same end time: a URL token
for the URL's path, or an ACL token for `PREFIX_PATH*` of the prefix the path lies under. The
`__token__` values must be identical. Exits 1 on any difference, and when no token was found.
"""

import re
import sys
from urllib.parse import urlsplit

from akamai.edgeauth import EdgeAuth

from pages import signed_urls, verdict

SIGNED = re.compile(r"[^\s,]+?__token__=[^\s,&#]+")


def main():
    site, base_url, key, kind = sys.argv[1:5]
    prefixes = sys.argv[5:]
    seen, bad = 0, 0
    for page, url in signed_urls(site, base_url, "__token__=", SIGNED):
        seen += 1
        token = url.split("__token__=", 1)[1]
        end = int(token.split("~")[0][len("exp="):])
        auth = EdgeAuth(key=key, end_time=end, algorithm="sha256")
        path = urlsplit(url).path
        if kind == "acl":
            theirs = auth.generate_acl_token(next(p for p in prefixes if path.startswith(p)) + "*")
        else:
            theirs = auth.generate_url_token(path)
        if theirs != token:
            bad += 1
            print(f"{page}: differs for {path}\n  rendorix: {token}\n  EdgeAuth: {theirs}")
    verdict(f"akamai-edgeauth, {kind} tokens", seen, bad)


if __name__ == "__main__":
    main()
