//! The `s3` signing scheme (spec §16): Amazon S3 presigned URLs (`SigV4` query authentication),
//! which S3 verifies itself.
//!
//! `X-Amz-Date` is `now` rounded down to `exp_granularity` and `X-Amz-Expires` runs to the `exp`
//! of spec §4, so every run inside one window writes byte-identical URLs, as the default scheme
//! does. A re-sign drops the URL's `X-Amz-*` parameters and appends fresh ones after the URL's
//! own query, in the order botocore's presigner writes them (its URLs are reproduced byte for
//! byte in CI). Written by hand on `hmac` and `sha2`: the canonical request is a few lines, and an
//! SDK would bring an async runtime for no gain.
//!
//! The canonical request follows S3, which signs the object key, not the spelling of the path:
//! the path is percent-decoded and each byte outside `A-Z a-z 0-9 - . _ ~ /` encoded again. The
//! query's own parameters are signed decoded and re-encoded the same way; a `+` in them is
//! refused, since servers disagree on whether it is a space.

use std::fmt;
use std::fmt::Write as _;

use encoding_rs::Encoding;
use hmac::{KeyInit, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use url::Url;

use crate::core::expiry::Lifetimes;
use crate::core::policy::{Outcome, Refusal, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::schemes::{NativeRejection, Run, at_most_once, signature_verdict};
use crate::core::time::{unix_days, utc};

/// S3 refuses a presigned URL whose `X-Amz-Expires` is over seven days.
pub const MAX_EXPIRES: u64 = 604_800;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key: its id, which goes into every URL, and its secret, which never leaves here.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, secret hidden)", self.access_key_id)
    }
}

impl Credentials {
    /// An access key id and its secret access key.
    pub fn new(access_key_id: &str, secret: &str) -> Credentials {
        Credentials {
            access_key_id: access_key_id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

/// The `X-Amz-*` parameters of a presigned URL (without the signature) and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// `X-Amz-Date`, Unix seconds.
    pub date: u64,
    /// `X-Amz-Expires`, seconds.
    pub expires: u64,
    /// `X-Amz-Signature`, lower-case hex.
    pub signature: String,
}

/// `20130524T000000Z`.
fn amz_date(secs: u64) -> String {
    utc(secs).replace(['-', ':'], "")
}

/// Percent-encodes every byte outside `A-Z a-z 0-9 - . _ ~` (and `/` when `keep_slash`), as
/// `SigV4` does.
fn aws_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A name or value of the query, decoded and encoded again for the canonical query.
fn canonical_part(raw: &str) -> String {
    aws_encode(&percent_decode_str(raw).collect::<Vec<u8>>(), false)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Whether `param` (`name=value`) is one of the presigned URL's own parameters.
pub fn is_amz(param: &str) -> bool {
    param.len() >= 6 && param.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-")
}

/// The signature of a GET of `host` + `path` with its own `query` (without `X-Amz-*`), signed
/// at `date` for `expires` seconds in `region`.
pub fn signature(
    credentials: &Credentials,
    region: &str,
    host: &str,
    path: &str,
    query: Option<&str>,
    date: u64,
    expires: u64,
) -> String {
    let stamp = amz_date(date);
    let day = &stamp[..8];
    let scope = format!("{day}/{region}/s3/aws4_request");
    let credential = format!("{}/{scope}", credentials.access_key_id);
    let mut params: Vec<(String, String)> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (canonical_part(name), canonical_part(value))
        })
        .collect();
    for (name, value) in [
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", stamp.clone()),
        ("X-Amz-Expires", expires.to_string()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
    ] {
        params.push((name.to_owned(), aws_encode(value.as_bytes(), false)));
    }
    params.sort();
    let canonical_query: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let key_path: Vec<u8> = percent_decode_str(path).collect();
    let canonical = format!(
        "GET\n{}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        aws_encode(&key_path, true),
        canonical_query.join("&")
    );
    let to_sign = format!(
        "{ALGORITHM}\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret).as_bytes(),
        day.as_bytes(),
    );
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, to_sign.as_bytes()))
}

/// The query to append (after the URL's own query and `&`, or after `?`) for a presigned URL.
pub fn auth_query(
    credentials: &Credentials,
    region: &str,
    date: u64,
    expires: u64,
    sig: &str,
) -> String {
    let stamp = amz_date(date);
    format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}%2F{}%2F{region}%2Fs3%2Faws4_request&X-Amz-Date={stamp}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}",
        aws_encode(credentials.access_key_id.as_bytes(), false),
        &stamp[..8],
    )
}

/// The host as the browser sends it in `Host`: with the port when it is not the default.
pub(crate) fn host_of(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Signs references as S3 presigned URLs for one run.
#[derive(Debug, Clone)]
pub struct S3Signer {
    credentials: Credentials,
    region: String,
    /// `X-Amz-Date`: `now` rounded down to the granularity.
    date: u64,
    run: Run,
}

impl S3Signer {
    /// The signer of a run at `now`.
    pub fn for_run(
        credentials: Credentials,
        region: &str,
        lifetimes: &Lifetimes,
        now: u64,
        protection: impl Into<Protection>,
    ) -> S3Signer {
        let g = lifetimes.default.exp_granularity.secs();
        S3Signer {
            credentials,
            region: region.to_owned(),
            date: now / g * g,
            run: Run::new(lifetimes, now, protection),
        }
    }

    /// Signs `text` found in a page whose base URL is `base`.
    pub fn sign(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        let u = match self.run.prepare(text, base, encoding, is_amz) {
            Ok(u) => u,
            Err(outcome) => return outcome,
        };
        let query = u.url.query();
        if query.is_some_and(|q| q.contains('+')) {
            return Outcome::Failed(Refusal::AmbiguousPlus);
        }
        let Some(host) = host_of(&u.url) else {
            return Outcome::LeftAlone;
        };
        let expires = u.exp - self.date;
        let sig = signature(
            &self.credentials,
            &self.region,
            &host,
            u.url.path(),
            query,
            self.date,
            expires,
        );
        let auth = auth_query(&self.credentials, &self.region, self.date, expires, &sig);
        let kid = self.credentials.access_key_id.clone();
        Outcome::Signed(u.signed(&auth, &kid))
    }
}

impl UrlPolicy for S3Signer {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        self.run.protection()
    }
}

/// Verifies a presigned GET of `host` + `path` + `query` at `now`, as S3 does; `Ok(exp)`.
pub fn verify(
    credentials: &Credentials,
    region: &str,
    host: &str,
    path: &str,
    query: Option<&str>,
    now: u64,
) -> Result<u64, NativeRejection> {
    let params: Vec<&str> = query.into_iter().flat_map(|q| q.split('&')).collect();
    let amz: Vec<(&str, &str)> = (params.iter().copied())
        .filter(|p| is_amz(p))
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    if amz.is_empty() {
        return Err(NativeRejection::Unsigned);
    }
    let one = |name: &str| -> Result<&str, NativeRejection> {
        let why = "each X-Amz parameter must appear exactly once";
        at_most_once(&amz, name, why)?.ok_or(NativeRejection::Malformed(why))
    };
    if one("X-Amz-Algorithm")? != ALGORITHM || one("X-Amz-SignedHeaders")? != "host" {
        return Err(NativeRejection::Malformed(
            "not AWS4-HMAC-SHA256 signing the host header",
        ));
    }
    let date = parse_amz_date(one("X-Amz-Date")?).ok_or(NativeRejection::Malformed(
        "X-Amz-Date is not YYYYMMDDTHHMMSSZ",
    ))?;
    let expires: u64 = (one("X-Amz-Expires")?.parse().ok())
        .filter(|&e| e <= MAX_EXPIRES)
        .ok_or(NativeRejection::Malformed(
            "X-Amz-Expires is not 1 to 604800 seconds",
        ))?;
    let credential = percent_decode_str(one("X-Amz-Credential")?).decode_utf8_lossy();
    let stamp = amz_date(date);
    let expected = format!(
        "{}/{}/{region}/s3/aws4_request",
        credentials.access_key_id,
        &stamp[..8]
    );
    if credential != expected {
        let kid = credential.split('/').next().unwrap_or("").to_owned();
        return Err(if kid == credentials.access_key_id {
            NativeRejection::Malformed("the credential scope is not this date, region and s3")
        } else {
            NativeRejection::UnknownKey(kid)
        });
    }
    let exp = date + expires;
    if now > exp {
        return Err(NativeRejection::Expired { exp });
    }
    let own: Vec<&str> = (params.iter().copied())
        .filter(|p| !p.is_empty() && !is_amz(p))
        .collect();
    let own = own.join("&");
    let own = (!own.is_empty()).then_some(own.as_str());
    let sig = signature(credentials, region, host, path, own, date, expires);
    let given = one("X-Amz-Signature")?;
    signature_verdict(&sig, given, exp)
}

/// Verifies the absolute presigned `url` at `now`, as S3 does; `Ok(exp)`.
pub fn verify_url(
    credentials: &Credentials,
    region: &str,
    url: &Url,
    now: u64,
) -> Result<u64, NativeRejection> {
    let host = host_of(url).ok_or(NativeRejection::Malformed("the URL has no host"))?;
    verify(credentials, region, &host, url.path(), url.query(), now)
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds.
fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    u64::try_from(unix_days(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::SignedUrl;
    use crate::core::testing;
    use encoding_rs::UTF_8;

    /// AWS's published example: "Example: Presigned URL" in the S3 API reference
    /// (sigv4-query-string-auth), GET examplebucket/test.txt on 2013-05-24 for 86400 s.
    #[test]
    fn the_published_example_signature() {
        let c = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let date = parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(date, 1_369_353_600);
        let sig = signature(
            &c,
            "us-east-1",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            None,
            date,
            86400,
        );
        assert_eq!(
            sig,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        assert!(format!("{c:?}").contains("secret hidden"));
    }

    fn signer() -> S3Signer {
        let lifetimes = Lifetimes::default();
        S3Signer::for_run(
            Credentials::new("AKIAEXAMPLE", "secret"),
            "us-east-1",
            &lifetimes,
            1_715_000_000,
            testing::prefixes(&["https://b.s3.us-east-1.amazonaws.com/"]),
        )
    }

    fn signed(text: &str) -> SignedUrl {
        let base = Url::parse("https://www.example.com/").unwrap();
        match signer().sign(text, &base, UTF_8) {
            Outcome::Signed(s) => s,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn urls_are_stable_in_a_window_and_re_signing_replaces_the_parameters() {
        let s = signed("https://b.s3.us-east-1.amazonaws.com/p/a%20b.jpg?w=640#x");
        assert!(s.text.starts_with("https://b.s3.us-east-1.amazonaws.com/p/a%20b.jpg?w=640&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240506%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240506T120000Z&X-Amz-Expires=136800&X-Amz-SignedHeaders=host&X-Amz-Signature="), "{}", s.text);
        assert!(s.text.ends_with("#x"));
        assert_eq!(s.exp, 1_715_133_600);
        assert_eq!(
            (s.target.as_str(), s.original.as_str()),
            (
                "/p/a%20b.jpg?w=640",
                "https://b.s3.us-east-1.amazonaws.com/p/a%20b.jpg?w=640#x"
            )
        );
        assert_eq!(signed(&s.text).text, s.text, "a fixed point");
        let url = Url::parse(&s.text).unwrap();
        let ok = verify(
            &Credentials::new("AKIAEXAMPLE", "secret"),
            "us-east-1",
            "b.s3.us-east-1.amazonaws.com",
            url.path(),
            url.query(),
            1_715_000_000,
        );
        assert_eq!(ok, Ok(1_715_133_600));
    }

    #[test]
    fn verification_refuses_what_s3_refuses() {
        let c = Credentials::new("AKIAEXAMPLE", "secret");
        let s = signed("https://b.s3.us-east-1.amazonaws.com/p/a.jpg");
        let url = Url::parse(&s.text).unwrap();
        let v = |host: &str, path: &str, query: &str, now| {
            verify(&c, "us-east-1", host, path, Some(query), now)
        };
        let (host, q) = ("b.s3.us-east-1.amazonaws.com", url.query().unwrap());
        assert_eq!(
            v(host, "/p/a.jpg", q, 1_715_133_601),
            Err(NativeRejection::Expired { exp: 1_715_133_600 })
        );
        assert_eq!(
            v(host, "/p/b.jpg", q, 1_715_000_000),
            Err(NativeRejection::BadSignature)
        );
        assert_eq!(
            v("c.s3.us-east-1.amazonaws.com", "/p/a.jpg", q, 1_715_000_000),
            Err(NativeRejection::BadSignature)
        );
        assert_eq!(
            v(host, "/p/a.jpg", "w=1", 1_715_000_000),
            Err(NativeRejection::Unsigned)
        );
        let other = verify(
            &Credentials::new("AKIAOTHER", "secret"),
            "us-east-1",
            host,
            "/p/a.jpg",
            Some(q),
            1_715_000_000,
        );
        assert_eq!(
            other,
            Err(NativeRejection::UnknownKey("AKIAEXAMPLE".into()))
        );
        let twice = format!("{q}&X-Amz-Date=20240506T120000Z");
        assert!(matches!(
            v(host, "/p/a.jpg", &twice, 1_715_000_000),
            Err(NativeRejection::Malformed(_))
        ));
        // The key is signed, not its spelling.
        assert_eq!(v(host, "/p/%61.jpg", q, 1_715_000_000), Ok(1_715_133_600));
    }

    #[test]
    fn a_plus_in_the_query_is_refused() {
        let base = Url::parse("https://www.example.com/").unwrap();
        let out = signer().sign(
            "https://b.s3.us-east-1.amazonaws.com/a.jpg?q=a+b",
            &base,
            UTF_8,
        );
        assert_eq!(out, Outcome::Failed(Refusal::AmbiguousPlus));
    }
}
