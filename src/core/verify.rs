//! Verifying a signed URL (spec §8), in the order every verifier must follow:
//!
//! 0. the query has a parameter named `exp`, `kid` or `sig` (also percent-encoded), else
//!    `unsigned`;
//! 1. the query ends with `&sig=` and 43 base64url characters, else `malformed`;
//! 2. the two parameters before it are `exp` then `kid`, well formed, and no other parameter is
//!    named `exp`, `kid` or `sig`, else `malformed`;
//! 3. `kid` is a known key, else `unknown_key`;
//! 4. `exp` has at most 10 digits (more means milliseconds), and is no later than
//!    `now + max_link_lifetime + grace`, else `malformed`;
//! 5. `now <= exp + grace`, else `expired` — the expiry is checked before the MAC, so an expired
//!    link costs no HMAC and reveals nothing about the key;
//! 6. HMAC-SHA256(key, message) equals `sig`, compared in constant time, else `bad_signature`.
//!
//! Before step 0, the request target must be at most [`MAX_TARGET_LEN`] bytes, else
//! `malformed`. That check and step 4's lifetime cap go beyond spec §8; both refuse only what
//! rendorix never signs: the signer refuses targets over the length limit, and a config whose
//! links could outlive `max_link_lifetime` is refused. So a link with a far-future `exp` (a
//! signer bug, a leaked key used to mint long-lived links) is turned away by every verifier,
//! however valid its MAC. Spec §8's step 7 (`revoked`) is not implemented yet: there is no
//! revocation list.
//!
//! The edge verifiers in `edge/` implement the same steps, and `fixtures/vectors.json` holds the
//! cases all of them must agree on.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use url::Url;

use crate::core::expiry::Expiry;
use crate::core::keys::{Keys, valid_kid};
use crate::core::triple::{reserved_parameter, valid_sig};

/// The longest request target (path, `?` and query, in bytes) a verifier accepts and the signer
/// produces: CloudFront's limit on a request URL, so no signed link is one the edge cannot take.
pub const MAX_TARGET_LEN: usize = 8192;

/// The time limits a verifier applies to `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Seconds of clock skew allowed after `exp` (and before a far-future `exp`): `expiry.grace`.
    pub grace: u64,
    /// The furthest ahead of `now` an `exp` may lie: `expiry.max_link_lifetime`.
    pub max_lifetime: u64,
}

impl Limits {
    /// The limits a config sets.
    pub fn of(expiry: &Expiry) -> Limits {
        Limits {
            grace: expiry.grace.secs(),
            max_lifetime: expiry.max_link_lifetime.secs(),
        }
    }
}

impl Default for Limits {
    /// The config defaults: 30 s of grace, 7 days of lifetime.
    fn default() -> Limits {
        Limits::of(&Expiry::default())
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// None of `exp`, `kid` and `sig` is in the query: the URL was never signed.
    Unsigned,
    /// The signature parameters are missing, out of place or badly formed; the text says which.
    Malformed(&'static str),
    /// No key has this id.
    UnknownKey(String),
    /// `now` is past `exp + grace`.
    Expired {
        /// The link's expiry.
        exp: u64,
    },
    /// The MAC does not match: the URL was altered or signed with another secret.
    BadSignature,
}

impl Rejection {
    /// The verdict's name, as in the test vectors and the edge's 403 reason.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Unsigned => "unsigned",
            Rejection::Malformed(_) => "malformed",
            Rejection::UnknownKey(_) => "unknown_key",
            Rejection::Expired { .. } => "expired",
            Rejection::BadSignature => "bad_signature",
        }
    }
}

impl Rejection {
    /// What exactly was wrong, in words.
    pub fn reason(&self) -> String {
        match self {
            Rejection::Unsigned => {
                "the URL carries no signature (no exp, kid or sig parameter)".to_owned()
            }
            Rejection::Malformed(why) => (*why).to_owned(),
            Rejection::UnknownKey(kid) => format!("no key \"{kid}\" is configured"),
            Rejection::Expired { exp } => format!("exp {exp} has passed"),
            Rejection::BadSignature => "the URL was altered or signed with another key".to_owned(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.reason())
    }
}

impl std::error::Error for Rejection {}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed it.
    pub kid: String,
    /// Its expiry, Unix seconds.
    pub exp: u64,
    /// The request target without the `exp`/`kid`/`sig` triple: what an edge forwards.
    pub unsigned_target: String,
}

/// Verifies `input` at time `now` (Unix seconds) against `keys` within `limits`.
///
/// `input` is either a raw request target as an edge receives it (`/path?query`), checked byte
/// for byte (a `#` in it is malformed), or an absolute `http(s)` URL, which is first serialized
/// as a browser would send it (WHATWG URL): its `#fragment` is never sent and is dropped.
pub fn verify(input: &str, now: u64, keys: &Keys, limits: Limits) -> Result<Verified, Rejection> {
    let (path, query) = request_target(input)?;
    verify_target(&path, query.as_deref(), now, keys, limits)
}

/// Splits `input` into the path and the raw query (without `?`) that the edge sees.
fn request_target(input: &str) -> Result<(String, Option<String>), Rejection> {
    // Anything starting with '/' is an origin-form target, "//x/y" included: its path may begin
    // with an empty segment, and a scheme-relative URL is not an absolute URL.
    if input.starts_with('/') {
        let target = input;
        return Ok(match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (target.to_owned(), None),
        });
    }
    let url = Url::parse(input).map_err(|_| {
        Rejection::Malformed("not an absolute URL or a request target starting with '/'")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Rejection::Malformed("only http and https URLs are signed"));
    }
    Ok((url.path().to_owned(), url.query().map(str::to_owned)))
}

/// Verifies a request given as its path and raw query (no `?`; `None` when there was no `?`),
/// exactly as an edge receives them.
pub fn verify_target(
    path: &str,
    query: Option<&str>,
    now: u64,
    keys: &Keys,
    limits: Limits,
) -> Result<Verified, Rejection> {
    // 0. Bounded length, before any work.
    if path.len() + 1 + query.map_or(0, str::len) > MAX_TARGET_LEN {
        return Err(Rejection::Malformed(
            "the request target is longer than 8192 bytes",
        ));
    }
    // No browser sends a '#', and an origin may read what follows it as part of the path.
    if path.contains('#') || query.is_some_and(|q| q.contains('#')) {
        return Err(Rejection::Malformed(
            "a request target holds no '#': browsers never send the fragment",
        ));
    }
    // 0. Not signed at all.
    let query = query.ok_or(Rejection::Unsigned)?;
    if reserved_parameter(query).is_none() {
        return Err(Rejection::Unsigned);
    }

    // 1. "&sig=" and 43 base64url characters end the query.
    let at = query
        .rfind("&sig=")
        .ok_or(Rejection::Malformed("the query does not end with &sig=…"))?;
    let sig = &query[at + 5..];
    if !valid_sig(sig) {
        return Err(Rejection::Malformed(
            "sig is not 43 base64url characters at the end of the query",
        ));
    }
    let signed = &query[..at]; // the message's query part

    // 2. exp then kid right before it, well formed, and no other exp/kid/sig.
    let (before_kid, kid) = signed.rsplit_once('&').ok_or(Rejection::Malformed(
        "exp and kid must come right before sig",
    ))?;
    let kid = kid
        .strip_prefix("kid=")
        .ok_or(Rejection::Malformed("kid must come right before sig"))?;
    let (rest, exp) = match before_kid.rsplit_once('&') {
        Some((rest, exp)) => (Some(rest), exp),
        None => (None, before_kid),
    };
    let exp = exp
        .strip_prefix("exp=")
        .ok_or(Rejection::Malformed("exp must come right before kid"))?;
    if !valid_kid(kid) {
        return Err(Rejection::Malformed(
            "kid must be 1 to 32 characters of A-Z a-z 0-9 _ -",
        ));
    }
    if exp.is_empty()
        || !exp.bytes().all(|b| b.is_ascii_digit())
        || (exp.len() > 1 && exp.starts_with('0'))
    {
        return Err(Rejection::Malformed(
            "exp must be decimal digits without sign or leading zero",
        ));
    }
    if rest.and_then(reserved_parameter).is_some() {
        return Err(Rejection::Malformed(
            "exp, kid or sig appears more than once",
        ));
    }

    // 3. A known key.
    let key = keys
        .get(kid)
        .ok_or_else(|| Rejection::UnknownKey(kid.to_owned()))?;

    // 4. Seconds, not milliseconds, and no further ahead than any link rendorix signs.
    if exp.len() > 10 {
        return Err(Rejection::Malformed(
            "exp has more than 10 digits (milliseconds instead of seconds?)",
        ));
    }
    let exp_secs: u64 = exp.parse().expect("at most 10 digits");
    if exp_secs > now + limits.max_lifetime + limits.grace {
        return Err(Rejection::Malformed(
            "exp is further ahead than max_link_lifetime allows",
        ));
    }

    // 5. Expiry before the MAC.
    if now > exp_secs + limits.grace {
        return Err(Rejection::Expired { exp: exp_secs });
    }

    // 6. The MAC, compared in constant time by the hmac crate. The last of the 43 characters has
    // two spare bits: only the canonical encoding (spare bits zero) is accepted, so that every
    // verifier, whatever its base64 decoder, gives the same verdict.
    let expected = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| Rejection::BadSignature)?;
    let mut mac = key.mac();
    mac.update(path.as_bytes());
    mac.update(b"?");
    mac.update(signed.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| Rejection::BadSignature)?;

    let unsigned_query = rest.unwrap_or("");
    let unsigned_target = if unsigned_query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{unsigned_query}")
    };
    Ok(Verified {
        kid: kid.to_owned(),
        exp: exp_secs,
        unsigned_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::Key;
    use crate::core::sign::signature;
    use crate::core::testing;

    const NOW: u64 = 1_715_000_000;
    const LIMITS: Limits = Limits {
        grace: 30,
        max_lifetime: 7 * 86400,
    };

    fn keys() -> Keys {
        Keys::from_keys(vec![
            testing::key("k1"),
            Key::from_secret("k2", &[9u8; 32]).unwrap(),
        ])
    }

    fn signed(target_with_triple: &str, kid: &str) -> String {
        let sig = signature(keys().get(kid).unwrap(), target_with_triple.as_bytes());
        format!("{target_with_triple}&sig={sig}")
    }

    fn verdict(input: &str) -> &'static str {
        match verify(input, NOW, &keys(), LIMITS) {
            Ok(_) => "ok",
            Err(r) => r.code(),
        }
    }

    #[test]
    fn accepts_targets_and_urls() {
        let t = signed("/media/a.jpg?w=1&exp=1715003600&kid=k1", "k1");
        let v = verify(&t, NOW, &keys(), LIMITS).unwrap();
        assert_eq!(
            v,
            Verified {
                kid: "k1".into(),
                exp: 1_715_003_600,
                unsigned_target: "/media/a.jpg?w=1".into()
            }
        );
        assert_eq!(verdict(&format!("https://img.example.com{t}")), "ok");
        assert_eq!(
            verdict(&format!("http://other.host{t}#frag")),
            "ok",
            "host, scheme and fragment are not signed"
        );
        let t = signed("/a.jpg?exp=1715003600&kid=k2", "k2");
        assert_eq!(
            verify(&t, NOW, &keys(), LIMITS).unwrap().unsigned_target,
            "/a.jpg"
        );
    }

    #[test]
    fn a_full_url_is_checked_as_the_browser_sends_it() {
        let t = signed("/media/a%20b.jpg?exp=1715003600&kid=k1", "k1");
        let (path, query) = t.split_once('?').unwrap();
        assert_eq!(
            verdict(&format!(
                "https://x.org{}?{query}",
                path.replace("%20", " ")
            )),
            "ok"
        );
        assert_eq!(
            verdict(&format!("{}?{query}", path.replace("%20", " "))),
            "bad_signature",
            "a raw target is taken as is"
        );
    }

    #[test]
    fn the_order_of_checks_decides_the_verdict() {
        // Unknown kid wins over milliseconds (step 3 before 4); expired wins over a bad MAC.
        let sig = "A".repeat(43);
        assert_eq!(
            verdict(&format!("/a.jpg?exp=1715003600000&kid=nope&sig={sig}")),
            "unknown_key"
        );
        assert_eq!(
            verdict(&format!("/a.jpg?exp=1715003600000&kid=k1&sig={sig}")),
            "malformed"
        );
        assert_eq!(
            verdict(&format!("/a.jpg?exp=1&kid=k1&sig={sig}")),
            "expired"
        );
        assert_eq!(
            verdict(&format!("/a.jpg?exp=1715003600&kid=k1&sig={sig}")),
            "bad_signature"
        );
    }

    #[test]
    fn grace_boundary() {
        let t = signed("/a.jpg?exp=1715000000&kid=k1", "k1");
        assert!(verify(&t, 1_715_000_030, &keys(), LIMITS).is_ok());
        assert_eq!(
            verify(&t, 1_715_000_031, &keys(), LIMITS).unwrap_err(),
            Rejection::Expired { exp: 1_715_000_000 }
        );
    }

    #[test]
    fn malformed_shapes() {
        let good = signed("/a.jpg?w=1&exp=1715003600&kid=k1", "k1");
        let sig = &good[good.len() - 43..];
        for bad in [
            format!("/a.jpg?sig={sig}"),
            format!("/a.jpg?exp=1715003600&kid=k1&sig={}", &sig[1..]),
            format!("/a.jpg?exp=1715003600&kid=k1&sig={sig}="),
            format!("/a.jpg?exp=1715003600&kid=k1&sig={sig}&x=1"),
            format!("/a.jpg?kid=k1&exp=1715003600&sig={sig}"),
            format!("/a.jpg?exp=01715003600&kid=k1&sig={sig}"),
            format!("/a.jpg?exp=-1&kid=k1&sig={sig}"),
            format!("/a.jpg?exp=&kid=k1&sig={sig}"),
            format!("/a.jpg?exp=1715003600&kid=&sig={sig}"),
            format!("/a.jpg?exp=1715003600&kid=k.1&sig={sig}"),
            format!("/a.jpg?exp=1&w=1&exp=1715003600&kid=k1&sig={sig}"),
            format!("/a.jpg?%6Bid=x&exp=1715003600&kid=k1&sig={sig}"),
            format!("/a.jpg?exp=1715003600&amp;kid=k1&amp;sig={sig}"),
            "relative.jpg?exp=1&kid=k1&sig=x".to_owned(),
            format!("ftp://x.org/a.jpg?exp=1715003600&kid=k1&sig={sig}"),
        ] {
            assert_eq!(verdict(&bad), "malformed", "{bad}");
        }
    }

    #[test]
    fn a_target_without_exp_kid_or_sig_is_unsigned() {
        for target in [
            "/a.jpg",
            "/a.jpg?",
            "/a.jpg?w=1&h=2",
            "/a.jpg?EXP=1&expiry=2&skid=3",
        ] {
            assert_eq!(verdict(target), "unsigned", "{target}");
        }
        assert_eq!(verdict("https://img.example.com/a.jpg?w=1"), "unsigned");
        // One of them, even percent-encoded, makes it a malformed signature instead.
        assert_eq!(verdict("/a.jpg?w=1&%6Bid=k1"), "malformed");
    }

    #[test]
    fn tampering_is_a_bad_signature() {
        let good = signed("/media/a.jpg?w=1&h=2&exp=1715003600&kid=k1", "k1");
        for bad in [
            good.replace("/media/a", "/media/b"),
            good.replace("/media/a", "/Media/a"),
            good.replace("w=1&h=2", "h=2&w=1"),
            good.replace("w=1&h=2", "w=1"),
            good.replace("exp=1715003600", "exp=1715003601"),
            good.replace("kid=k1", "kid=k2"),
        ] {
            assert_eq!(verdict(&bad), "bad_signature", "{bad}");
        }
    }

    #[test]
    fn exp_beyond_the_lifetime_cap_is_refused_whatever_the_mac() {
        let last = NOW + 7 * 86400 + 30;
        let t = signed(&format!("/a.jpg?exp={last}&kid=k1"), "k1");
        assert_eq!(verdict(&t), "ok");
        let t = signed(&format!("/a.jpg?exp={}&kid=k1", last + 1), "k1");
        assert_eq!(
            verify(&t, NOW, &keys(), LIMITS).unwrap_err(),
            Rejection::Malformed("exp is further ahead than max_link_lifetime allows")
        );
        let t = signed("/a.jpg?exp=9999999999&kid=k1", "k1");
        assert_eq!(verdict(&t), "malformed");
    }

    #[test]
    fn targets_over_the_length_limit_are_refused() {
        let fits = format!(
            "/{}",
            "a".repeat(MAX_TARGET_LEN - 1 - "?exp=1715003600&kid=k1".len() - 48)
        );
        let t = signed(&format!("{fits}?exp=1715003600&kid=k1"), "k1");
        assert_eq!(t.len(), MAX_TARGET_LEN);
        assert_eq!(verdict(&t), "ok");
        let t = signed(&format!("{fits}a?exp=1715003600&kid=k1"), "k1");
        assert_eq!(verdict(&t), "malformed");
    }

    #[test]
    fn a_target_whose_path_starts_with_two_slashes_is_a_target() {
        // Found by `cargo fuzz run sign_verify`: "/\\img.example.com//x" requests "//x".
        let t = signed("//sss%7Bs/a.jpg?exp=1715003600&kid=k1", "k1");
        assert_eq!(verdict(&t), "ok");
        assert_eq!(verdict(&format!("https://img.example.com{t}")), "ok");
    }
}
