//! What the native CDN schemes (spec §16) share: the verdicts of their verification, the split
//! of a query into the URL's own parameters and the scheme's, the preparation of a reference
//! and the writing of its signed form, and the comparisons their verifiers make.

use encoding_rs::Encoding;
use url::Url;

use crate::core::policy::{Outcome, Refusal, SignedUrl};
use crate::core::rules::Protection;
use crate::core::time::utc;
use crate::core::triple::Reference;
use crate::core::urls::resolve;
use crate::core::verify::Rejection;

/// Why a URL of a native scheme does not verify, as the CDN would refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeRejection {
    /// None of the scheme's parameters: never signed.
    Unsigned,
    /// The parameters are missing, repeated or badly formed; the text says which.
    Malformed(&'static str),
    /// Signed with another key (its id).
    UnknownKey(String),
    /// Past its expiry.
    Expired {
        /// That time.
        exp: u64,
    },
    /// The signature does not match.
    BadSignature,
}

impl NativeRejection {
    /// The verdict's code, as `rendorix verify` and `serve` print it.
    pub fn code(&self) -> &'static str {
        match self {
            NativeRejection::Unsigned => "unsigned",
            NativeRejection::Malformed(_) => "malformed",
            NativeRejection::UnknownKey(_) => "unknown_key",
            NativeRejection::Expired { .. } => "expired",
            NativeRejection::BadSignature => "bad_signature",
        }
    }

    /// The reason in words.
    pub fn reason(&self) -> String {
        match self {
            NativeRejection::Unsigned => "the URL carries no signature of its scheme".to_owned(),
            NativeRejection::Malformed(why) => (*why).to_owned(),
            NativeRejection::UnknownKey(id) => {
                format!("signed with key {id}, not the configured one")
            }
            NativeRejection::Expired { exp } => format!("expired at {}", utc(*exp)),
            NativeRejection::BadSignature => "the signature does not match".to_owned(),
        }
    }

    /// The finding `rendorix check` reports for it.
    pub fn refusal(self) -> Refusal {
        match self {
            NativeRejection::Unsigned => Refusal::NotSigned,
            NativeRejection::Expired { exp } => Refusal::Expired { exp },
            NativeRejection::UnknownKey(kid) => Refusal::UnknownKey { kid },
            NativeRejection::Malformed(why) => Refusal::Rejected(Rejection::Malformed(why)),
            NativeRejection::BadSignature => Refusal::Rejected(Rejection::BadSignature),
        }
    }
}

/// `query` without the parameters that `is_signature` picks, in their order.
pub fn own_query(query: Option<&str>, is_signature: impl Fn(&str) -> bool) -> String {
    let own: Vec<&str> = (query.into_iter())
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty() && !is_signature(p))
        .collect();
    own.join("&")
}

/// A reference that a native scheme is to sign: split, without the scheme's own parameters,
/// resolved as the browser will, protected and free of what no scheme can sign.
#[derive(Debug)]
pub struct Unsigned<'a> {
    reference: Reference<'a>,
    /// The reference's text without the scheme's parameters (its own query kept).
    text: String,
    /// Whether the URL has a query of its own.
    has_query: bool,
    /// The URL the browser requests, without fragment or empty query.
    pub url: Url,
}

impl<'a> Unsigned<'a> {
    /// Prepares `text` found in a page at `base`: `Err` holds the outcome when there is nothing
    /// to sign (not protected) or it cannot be signed. `is_signature` picks the scheme's
    /// parameters, which an earlier run wrote.
    pub fn prepare(
        text: &'a str,
        base: &Url,
        encoding: &'static Encoding,
        protection: &Protection,
        is_signature: impl Fn(&str) -> bool,
    ) -> Result<Unsigned<'a>, Outcome> {
        let reference = Reference::split(text);
        if reference.head.is_empty() && reference.query.is_none() {
            return Err(Outcome::LeftAlone);
        }
        let own = own_query(reference.query, is_signature);
        let unsigned = if own.is_empty() {
            reference.head.to_owned()
        } else {
            format!("{}?{own}", reference.head)
        };
        let Ok(mut url) = resolve(&unsigned, base, encoding) else {
            return Err(Outcome::LeftAlone);
        };
        if !protection.protects(&url) {
            return Err(Outcome::LeftAlone);
        }
        if text.contains('\0') {
            return Err(Outcome::Failed(Refusal::Nul));
        }
        if text.contains('\u{FFFD}') {
            return Err(Outcome::Failed(Refusal::Undecodable {
                encoding: encoding.name(),
            }));
        }
        url.set_fragment(None);
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(Unsigned {
            reference,
            text: unsigned,
            has_query: !own.is_empty(),
            url,
        })
    }

    /// The signed URL: the reference with `params` appended to its query, fragment and
    /// surrounding spaces as they were.
    pub fn signed(self, params: &str, exp: u64, due: u64, kid: &str) -> SignedUrl {
        let r = &self.reference;
        let sep = if self.has_query { '&' } else { '?' };
        let target = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        SignedUrl {
            text: format!(
                "{}{}{sep}{params}{}{}",
                r.lead, self.text, r.fragment, r.trail
            ),
            original: format!("{}{}", self.text, r.fragment),
            target,
            exp,
            due,
            kid: kid.to_owned(),
        }
    }
}

/// Whether `a` and `b` are equal, comparing every byte (no early exit on a signature).
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `text` matches a CDN resource `pattern`: `*` any characters, and `?` one character
/// when `question` (CloudFront) or itself otherwise (Akamai).
pub fn wildcard(pattern: &[u8], text: &[u8], question: bool) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| wildcard(rest, &text[i..], question)),
        Some((b'?', rest)) if question => !text.is_empty() && wildcard(rest, &text[1..], question),
        Some((c, rest)) => text.first() == Some(c) && wildcard(rest, &text[1..], question),
    }
}
