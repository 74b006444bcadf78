//! What the native CDN schemes (spec §16) share: the verdicts of their verification, the split
//! of a query into the URL's own parameters and the scheme's, the preparation of a reference
//! and the writing of its signed form, and the comparisons their verifiers make.

use encoding_rs::Encoding;
use url::Url;

use crate::core::expiry::{Lifetimes, PerRule};
use crate::core::policy::{Outcome, Refusal, SignedUrl};
use crate::core::rules::Protection;
use crate::core::time::utc;
use crate::core::triple::Reference;
use crate::core::urls::MatchPrefix;
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

/// What every native signer holds for a run: each expiry rule's `exp` with how long before it a
/// run must re-sign, and the protection rules.
#[derive(Debug, Clone)]
pub struct Run {
    exps: PerRule<(u64, u64)>,
    protection: Protection,
}

impl Run {
    /// The run at `now` under `lifetimes` and `protection`.
    pub fn new(lifetimes: &Lifetimes, now: u64, protection: impl Into<Protection>) -> Run {
        Run {
            exps: lifetimes.map(|e| (e.exp_for(now), e.needed())),
            protection: protection.into(),
        }
    }

    /// The protection rules.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// Prepares `text` found in a page at `base` for signing, with its expiry rule's `exp` and
    /// due time: `Err` holds the outcome when there is nothing to sign (not protected) or it
    /// cannot be signed. `is_signature` picks the scheme's parameters, which an earlier run
    /// wrote.
    pub fn prepare<'a>(
        &self,
        text: &'a str,
        base: &Url,
        encoding: &'static Encoding,
        is_signature: impl Fn(&str) -> bool,
    ) -> Result<Unsigned<'a>, Outcome> {
        let mut u = Unsigned::prepare(text, base, encoding, &self.protection, is_signature)?;
        let (exp, needed) = *self.exps.get(&u.url);
        u.exp = exp;
        u.due = exp.saturating_sub(needed);
        Ok(u)
    }

    /// The `sign.match` prefix that `url` lies under, whose path a per-prefix signature grants.
    pub fn prefix_of(&self, url: &Url) -> Option<&MatchPrefix> {
        self.protection.matches().iter().find(|m| m.matches(url))
    }
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
    /// Its `exp`.
    pub exp: u64,
    /// From when a run must re-sign it.
    pub due: u64,
}

impl<'a> Unsigned<'a> {
    /// `text` split, resolved and judged ([`Run::prepare`] gives it its `exp`).
    fn prepare(
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
            exp: 0,
            due: 0,
        })
    }

    /// The signed URL, by key `kid`: the reference with `params` appended to its query,
    /// fragment and surrounding spaces as they were.
    pub fn signed(self, params: &str, kid: &str) -> SignedUrl {
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
            exp: self.exp,
            due: self.due,
            kid: kid.to_owned(),
        }
    }
}

/// The value of parameter `name` among `params`, `None` when absent; `why` when it appears more
/// than once (which the CDN refuses rather than pick one).
pub fn at_most_once<'p, N, V>(
    params: &'p [(N, V)],
    name: &str,
    why: &'static str,
) -> Result<Option<&'p str>, NativeRejection>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut found = params.iter().filter(|(n, _)| n.as_ref() == name);
    match (found.next(), found.next()) {
        (first, None) => Ok(first.map(|(_, v)| v.as_ref())),
        _ => Err(NativeRejection::Malformed(why)),
    }
}

/// The verdict on a URL whose signature is `given` where `expected` was due: valid until `exp`,
/// or a bad signature. Every byte is compared.
pub fn signature_verdict(expected: &str, given: &str, exp: u64) -> Result<u64, NativeRejection> {
    if same_signature(expected, given) {
        Ok(exp)
    } else {
        Err(NativeRejection::BadSignature)
    }
}

/// Whether `a` and `b` are equal, comparing every byte (no early exit on a signature).
fn same_signature(a: &str, b: &str) -> bool {
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
