"""Cross-checks rendorix's S3 presigned URLs against botocore, AWS's own SDK core.

Usage: s3_botocore.py SITE_DIR REGION ACCESS_KEY_ID SECRET_ACCESS_KEY

Every presigned URL in the site's HTML is taken apart (bucket and key from a virtual-hosted or
path-style host, X-Amz-Date and X-Amz-Expires, the URL's own response-* parameters) and
presigned again by botocore's S3 client at that same instant, for the same duration, with the
same addressing style. The two URLs must be identical byte for byte. Exits 1 on any difference,
and when no URL was found (a check that compared nothing proves nothing).
"""

import datetime
import html
import pathlib
import re
import sys
from unittest import mock
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.auth
import botocore.session
from botocore.config import Config

URL = re.compile(r"https://[^\s\"'<>,]+?X-Amz-Signature=[0-9a-f]{64}")
# The GetObject parameters that presigning carries in the query.
RESPONSE_PARAMS = {
    "response-cache-control": "ResponseCacheControl",
    "response-content-disposition": "ResponseContentDisposition",
    "response-content-type": "ResponseContentType",
}


def presign_again(url, region, key_id, secret):
    parts = urlsplit(url)
    host = parts.hostname
    query = parse_qsl(parts.query, keep_blank_values=True)
    amz = {k: v for k, v in query if k.startswith("X-Amz-")}
    own = [(k, v) for k, v in query if not k.startswith("X-Amz-")]
    if host.startswith("s3.") or host.startswith("s3-"):
        style = "path"
        bucket, _, key = parts.path.lstrip("/").partition("/")
    else:
        style = "virtual"
        bucket = host.split(".s3", 1)[0]
        key = parts.path.lstrip("/")
    when = datetime.datetime.strptime(amz["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    client = botocore.session.get_session().create_client(
        "s3",
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        endpoint_url=f"https://s3.{region}.amazonaws.com",
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )
    params = {"Bucket": bucket, "Key": unquote(key)}
    for name, value in own:
        params[RESPONSE_PARAMS[name]] = value
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        return client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=int(amz["X-Amz-Expires"])
        )


def main():
    site, region, key_id, secret = sys.argv[1:5]
    seen, bad = 0, 0
    for page in sorted(pathlib.Path(site).rglob("*.html")):
        for url in URL.findall(html.unescape(page.read_text(encoding="utf-8"))):
            seen += 1
            theirs = presign_again(url, region, key_id, secret)
            if theirs != url:
                bad += 1
                print(f"{page}: differs\n  rendorix: {url}\n  botocore: {theirs}")
    print(f"botocore {botocore.__version__}: {seen - bad} of {seen} presigned URLs identical")
    if seen == 0 or bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
