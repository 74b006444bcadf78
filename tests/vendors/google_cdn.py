"""Cross-checks rendorix's Cloud CDN signed URLs against Google's published algorithm.

Usage: google_cdn.py SITE_DIR BASE_URL KEY_NAME BASE64_KEY

Google publishes no SDK call for Cloud CDN signed URLs, but documents the algorithm with a Python
sample (python-docs-samples, cdn/snippets.py, `sign_url`); `sign_url` below follows it, written
independently of rendorix. Every signed URL in the site's HTML is resolved against its page,
stripped of its signing parameters and signed again for the same Expires: the URLs must be
identical byte for byte. Exits 1 on any difference, and when no URL was found.
"""

import base64
import datetime
import hashlib
import hmac
import re
import sys
from urllib.parse import parse_qs, urlsplit

from pages import signed_urls, verdict

SIGNED = re.compile(r"[^\s,]+?&Signature=[A-Za-z0-9_=-]+")
PARAMS = ("Expires", "KeyName", "Signature", "URLPrefix")


def sign_url(url, key_name, base64_key, expiration_time):
    """Google's sample: {url}{separator}Expires={expiration}&KeyName={key_name}&Signature=..."""
    stripped_url = url.strip()
    query_params = parse_qs(urlsplit(stripped_url).query, keep_blank_values=True)
    epoch = datetime.datetime.fromtimestamp(0, datetime.timezone.utc)
    expiration_timestamp = int((expiration_time - epoch).total_seconds())
    decoded_key = base64.urlsafe_b64decode(base64_key)
    url_to_sign = "{url}{separator}Expires={expires}&KeyName={key_name}".format(
        url=stripped_url,
        separator="&" if query_params else "?",
        expires=expiration_timestamp,
        key_name=key_name,
    )
    digest = hmac.new(decoded_key, url_to_sign.encode("utf-8"), hashlib.sha1).digest()
    signature = base64.urlsafe_b64encode(digest).decode("utf-8")
    return "{url}&Signature={signature}".format(url=url_to_sign, signature=signature)


def main():
    site, base_url, key_name, key = sys.argv[1:5]
    seen, bad = 0, 0
    for page, ours in signed_urls(site, base_url, "Signature=", SIGNED):
        seen += 1
        base, _, query = ours.partition("?")
        params = query.split("&")
        own = [p for p in params if p.split("=")[0] not in PARAMS]
        expires = int(next(p for p in params if p.startswith("Expires="))[8:])
        unsigned = base + ("?" + "&".join(own) if own else "")
        when = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
        theirs = sign_url(unsigned, key_name, key, when)
        if theirs != ours:
            bad += 1
            print(f"{page}: differs\n  rendorix: {ours}\n  Google's: {theirs}")
    verdict("Google's sign_url, signed URLs", seen, bad)


if __name__ == "__main__":
    main()
