"""What the cross-check scripts share: the signed URLs of a site's HTML, and the verdict line.

Not a vendor's code: the scripts import it to walk the pages the same way.
"""

import html
import pathlib
import re
import sys
from urllib.parse import urljoin


def signed_urls(site, base_url, marker, signed):
    """(page, absolute URL) for every signed URL in the site's HTML: the attribute values that
    hold `marker`, the URLs in them that the regular expression `signed` matches (after
    character references are decoded), each resolved against its page's URL under `base_url`."""
    attr = re.compile(r'(?:src|href|srcset|content)="([^"]*' + re.escape(marker) + r'[^"]*)"')
    for page in sorted(pathlib.Path(site).rglob("*.html")):
        page_url = urljoin(base_url, page.relative_to(site).as_posix())
        for value in attr.findall(page.read_text(encoding="utf-8")):
            for ours in signed.findall(html.unescape(value)):
                yield page, urljoin(page_url, ours)


def verdict(label, seen, bad):
    """Prints how many of `seen` matched, and exits 1 on any difference or when none was seen."""
    print(f"{label}: {seen - bad} of {seen} identical")
    if seen == 0 or bad:
        sys.exit(1)
