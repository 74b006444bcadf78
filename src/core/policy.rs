//! What a pass over a page does with each URL it finds: the [`UrlPolicy`] that the page layer
//! calls, and the [`Outcome`] it gets back. The signer ([`crate::core::sign::Signer`]) and the
//! auditor ([`crate::core::audit::Checker`]) are its two implementations, so the page layer
//! knows neither.

use std::fmt;

use encoding_rs::Encoding;
use url::Url;

use crate::core::rules::Protection;
use crate::core::time::utc;
use crate::core::verify::{MAX_TARGET_LEN, Rejection};

/// Decides, for one reference found in a page, whether it is protected and what to write.
pub trait UrlPolicy: fmt::Debug + Send + Sync {
    /// Judges `text` (an attribute's URL, character references decoded) found in a page whose
    /// base URL is `base` and whose encoding is `encoding`.
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome;

    /// The rules that decide which URLs are protected.
    fn protection(&self) -> &Protection;
}

/// A reference after signing (or, when auditing, after it verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    /// The text to write back (before HTML escaping): the reference with the triple appended.
    pub text: String,
    /// The reference as found, without signature, surrounding spaces or empty query.
    pub original: String,
    /// The unsigned request target the browser sends: path and query, no triple.
    pub target: String,
    /// The URL's `exp`.
    pub exp: u64,
    /// From when a run must re-sign it: `exp` less its expiry rule's `resign_interval +
    /// page_cache_ttl + open_page_allowance` (spec §4). When auditing: `exp`.
    pub due: u64,
    /// The id of the key that signed it.
    pub kid: String,
}

/// What became of one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not under a `match` prefix (or not a URL at all): left byte-identical.
    LeftAlone,
    /// Signed (auditing: validly signed, and long-lived enough).
    Signed(SignedUrl),
    /// Protected but cannot be signed safely (auditing: not validly signed); left
    /// byte-identical.
    Failed(Refusal),
}

/// Why a protected URL was left unsigned, or (auditing) why its signature is not good enough.
/// Each text says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The query already has a parameter with a reserved name.
    ReservedParameter {
        /// `exp`, `kid` or `sig`.
        name: String,
    },
    /// A NUL character, which browsers replace with U+FFFD.
    Nul,
    /// Bytes the page's encoding cannot decode.
    Undecodable {
        /// The page's encoding.
        encoding: &'static str,
    },
    /// Query characters the page's (legacy) encoding cannot encode.
    Unencodable {
        /// The page's encoding.
        encoding: &'static str,
    },
    /// The signed request target would exceed [`MAX_TARGET_LEN`].
    TooLong {
        /// Its length once signed.
        len: usize,
    },
    /// The value starts with a byte order mark, which browsers keep as part of the URL.
    ByteOrderMark,
    /// Auditing: no signature.
    NotSigned,
    /// Auditing: the link has expired.
    Expired {
        /// Its `exp`.
        exp: u64,
    },
    /// Auditing: the link expires before every copy of the page is gone.
    ExpiresTooSoon {
        /// Its `exp`.
        exp: u64,
        /// `now + page_cache_ttl + open_page_allowance`.
        must_outlive: u64,
    },
    /// Auditing: signed with a key that is not configured.
    UnknownKey {
        /// The key's id.
        kid: String,
    },
    /// Auditing: any other verdict of the verifier.
    Rejected(Rejection),
    /// A protected URL where rendorix does not sign (a script, JSON data, an attribute it does
    /// not rewrite): the edge will refuse it.
    UnsignedReference {
        /// The request target it resolves to (path and query), as [`SignedUrl::target`].
        target: String,
    },
    /// A native scheme cannot sign the URL so that its CDN surely accepts it; `why` says what
    /// to change.
    Unsignable {
        /// The reason and the fix.
        why: &'static str,
    },
    /// S3 scheme: a `+` in the query, which S3 and the browser may read differently (a space or
    /// a plus).
    AmbiguousPlus,
    /// Signing: a URL whose path is revoked (spec §17); signed all the same, so that removing
    /// the revocation serves it again, but every edge refuses it.
    Revoked {
        /// The revocation list's entry that covers it.
        entry: String,
        /// The entry's end.
        until: u64,
    },
}

impl Refusal {
    /// The finding's stable code, as JSON summaries give it and text output groups by.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ReservedParameter { .. } => "reserved_parameter",
            Refusal::Nul => "nul_character",
            Refusal::Undecodable { .. } => "undecodable",
            Refusal::Unencodable { .. } => "unencodable",
            Refusal::TooLong { .. } => "too_long",
            Refusal::ByteOrderMark => "byte_order_mark",
            Refusal::NotSigned => "not_signed",
            Refusal::Expired { .. } => "expired",
            Refusal::ExpiresTooSoon { .. } => "expires_too_soon",
            Refusal::UnknownKey { .. } => "unknown_key",
            Refusal::Rejected(rejection) => rejection.code(),
            Refusal::Unsignable { .. } => "unsignable",
            Refusal::AmbiguousPlus => "ambiguous_plus",
            Refusal::Revoked { .. } => "revoked",
            Refusal::UnsignedReference { .. } => "unsigned_reference",
        }
    }

    /// The request target of an unsigned protected reference; `None` for any other refusal.
    pub fn unsigned_target(&self) -> Option<&str> {
        match self {
            Refusal::UnsignedReference { target } => Some(target),
            _ => None,
        }
    }
}

const RESIGN: &str = "run `rendorix resign` (or `rendorix sign`)";

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ReservedParameter { name } => write!(
                f,
                "the query already has a parameter named \"{name}\", which rendorix reserves for the signature; rename that parameter"
            ),
            Refusal::Nul => f.write_str(
                "the URL holds a NUL character, which browsers replace with U+FFFD; remove it",
            ),
            Refusal::Undecodable { encoding } => write!(
                f,
                "the URL has bytes that are not valid {encoding}; declare the page's real encoding with <meta charset>"
            ),
            Refusal::Unencodable { encoding } => write!(
                f,
                "the query has characters that {encoding} cannot encode; percent-encode them as UTF-8 in the page"
            ),
            Refusal::TooLong { len } => write!(
                f,
                "once signed, the request would be {len} bytes, over the {MAX_TARGET_LEN} that CloudFront and the verifiers accept; shorten the URL"
            ),
            Refusal::ByteOrderMark => f.write_str(
                "the value starts with a byte order mark (U+FEFF), which browsers keep as part of the URL; remove it",
            ),
            Refusal::NotSigned => write!(f, "not signed; {RESIGN}"),
            Refusal::Expired { exp } => write!(f, "expired at {}; {RESIGN}", utc(*exp)),
            Refusal::ExpiresTooSoon { exp, must_outlive } => write!(
                f,
                "expires at {}, before the page stops being served or open (now + page_cache_ttl + open_page_allowance = {}); {RESIGN}",
                utc(*exp),
                utc(*must_outlive)
            ),
            Refusal::UnknownKey { kid } => write!(
                f,
                "signed with key \"{kid}\", which is not in the keys; {RESIGN} with the current key, or add \"{kid}\" back while its links live"
            ),
            Refusal::Rejected(rejection) => write!(f, "{rejection}; {RESIGN}"),
            Refusal::Unsignable { why } => f.write_str(why),
            Refusal::AmbiguousPlus => f.write_str(
                "the query holds a '+', which S3 may read as a space: the signature would not match; write it as %2B (a plus) or %20 (a space)",
            ),
            Refusal::Revoked { entry, until } => write!(
                f,
                "the image is revoked ({entry}) until {}, so every edge refuses it; remove the reference, or run `rendorix revoke --remove {entry}` to serve it again",
                utc(*until)
            ),
            Refusal::UnsignedReference { .. } => f.write_str(
                "unsigned protected reference: rendorix does not sign URLs in scripts, data or this attribute, so the edge will refuse it; keep the image out of the protected prefixes (sign.exclude), or pass --allow-unsigned if nothing fetches it",
            ),
        }
    }
}
