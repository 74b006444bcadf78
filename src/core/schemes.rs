//! What the native CDN schemes (spec §16) share: the verdicts of their verification, and the
//! split of a query into the URL's own parameters and the scheme's.

use crate::core::policy::Refusal;
use crate::core::time::utc;
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
