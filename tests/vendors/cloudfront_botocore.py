"""Cross-checks rendorix's CloudFront signed URLs against botocore's CloudFrontSigner.

Usage: cloudfront_botocore.py SITE_DIR BASE_URL KEY_PAIR_ID PRIVATE_KEY_PEM [PREFIX...]

Every signed URL in the site's HTML is resolved against its page, stripped of its signing
parameters, and signed again by botocore's CloudFrontSigner (AWS's SDK core) with the `rsa`
package as its RSA signer, as the AWS CLI's `cloudfront sign` does: for the same Expires, a
canned policy; for a URL with a Policy, the custom policy botocore builds for the wildcard
resource of the PREFIX the URL lies under. The RSA signer is the `cryptography` package's (the
AWS documentation's example uses it too); Hash-Algorithm=SHA256 switches its hash.
RSA PKCS#1 v1.5 signatures are deterministic, so the URLs must be identical byte for byte.
With an ECDSA P-256 key, botocore's signer callback is handed rendorix's signature after
`cryptography` has verified it with the public key over the very policy bytes botocore asks to
sign (an independent ECDSA signer picks random nonces, so its signature would differ); the URL
botocore then writes must be identical too. Exits 1 on any difference, and when no URL was found.
"""

import base64
import datetime
import json
import pathlib
import re
import sys

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding

from pages import signed_urls, verdict

SIGNED = re.compile(r"[^\s,]+?Key-Pair-Id=[A-Z0-9]+(?:&Hash-Algorithm=SHA256)?")
PARAMS = ("Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm")


def main():
    site, base_url, key_id, pem_path = sys.argv[1:5]
    prefixes = sys.argv[5:]
    key = serialization.load_pem_private_key(pathlib.Path(pem_path).read_bytes(), password=None)
    seen, bad = 0, 0
    for page, ours in signed_urls(site, base_url, "Key-Pair-Id=", SIGNED):
        seen += 1
        theirs = sign_again(ours, key_id, key, prefixes)
        if theirs != ours:
            bad += 1
            print(f"{page}: differs\n  rendorix: {ours}\n  botocore: {theirs}")
    verdict("botocore CloudFrontSigner, signed URLs", seen, bad)


def sign_again(url, key_id, key, prefixes):
    base, _, query = url.partition("?")
    params = [p for p in query.split("&") if p]
    own = [p for p in params if p.split("=")[0] not in PARAMS]
    signing = dict(p.split("=", 1) for p in params if p.split("=")[0] in PARAMS)
    unsigned = base + ("?" + "&".join(own) if own else "")
    sha256 = signing.get("Hash-Algorithm") == "SHA256"
    digest = hashes.SHA256() if sha256 else hashes.SHA1()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        ours = base64.b64decode(signing["Signature"].replace("-", "+").replace("_", "=").replace("~", "/"))

        def sign(message):
            try:
                key.public_key().verify(ours, message, ec.ECDSA(digest))
            except InvalidSignature:
                return b"rendorix's ECDSA signature does not verify"
            return ours
    else:

        def sign(message):
            return key.sign(message, padding.PKCS1v15(), digest)

    signer = CloudFrontSigner(key_id, sign)
    if "Policy" in signing:
        policy = json.loads(base64.b64decode(signing["Policy"].replace("-", "+").replace("_", "=").replace("~", "/")))
        expires = policy["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"]
        prefix = next(p for p in prefixes if unsigned.startswith(p))
        when = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
        theirs = signer.generate_presigned_url(unsigned, policy=signer.build_policy(prefix + "*", when))
    else:
        when = datetime.datetime.fromtimestamp(int(signing["Expires"]), datetime.timezone.utc)
        theirs = signer.generate_presigned_url(unsigned, date_less_than=when)
    if sha256:
        theirs += "&Hash-Algorithm=SHA256"
    return theirs


if __name__ == "__main__":
    main()
