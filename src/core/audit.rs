//! Auditing one reference for `rendorix check`: is a protected URL signed, does it verify with
//! the current keys, and will it outlive every copy of the page that may still be served or open?

use encoding_rs::Encoding;
use url::Url;

use crate::core::expiry::PerRule;
use crate::core::keys::Keys;
use crate::core::policy::{Outcome, Refusal, SignedUrl, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::triple::Reference;
use crate::core::urls::resolve;
use crate::core::verify::{Limits, Rejection, verify_target};

/// Checks references at one instant against the configured keys.
#[derive(Debug, Clone)]
pub struct Checker {
    keys: Keys,
    protection: Protection,
    now: u64,
    limits: Limits,
    /// A link must not expire before this: `now + page_cache_ttl + open_page_allowance` of its
    /// expiry rule.
    must_outlive: PerRule<u64>,
}

impl Checker {
    /// A checker for time `now`; links must stay valid until `must_outlive` (per expiry rule).
    pub fn new(
        keys: Keys,
        protection: impl Into<Protection>,
        now: u64,
        limits: Limits,
        must_outlive: impl Into<PerRule<u64>>,
    ) -> Checker {
        Checker {
            keys,
            protection: protection.into(),
            now,
            limits,
            must_outlive: must_outlive.into(),
        }
    }

    /// Checks `text` (an attribute's URL, character references decoded) found in a page whose
    /// base URL is `base`. A valid URL comes back as [`Outcome::Signed`] with its own text; every
    /// finding as [`Outcome::Failed`].
    pub fn check(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        let r = Reference::split(text);
        if r.head.is_empty() && r.query.is_none() && !r.was_signed {
            return Outcome::LeftAlone;
        }
        let Ok(url) = resolve(text.trim_matches(|c: char| c <= ' '), base, encoding) else {
            return Outcome::LeftAlone;
        };
        if !self.protection.protects(&url) {
            return Outcome::LeftAlone;
        }
        let must_outlive = *self.must_outlive.get(&url);
        match verify_target(url.path(), url.query(), self.now, &self.keys, self.limits) {
            Ok(v) if v.exp < must_outlive => Outcome::Failed(Refusal::ExpiresTooSoon {
                exp: v.exp,
                must_outlive,
            }),
            Ok(v) => Outcome::Signed(SignedUrl {
                text: text.to_owned(),
                original: r.unsigned(),
                target: v.unsigned_target,
                exp: v.exp,
                due: v.exp,
                kid: v.kid,
            }),
            Err(Rejection::Unsigned) => Outcome::Failed(Refusal::NotSigned),
            Err(Rejection::Malformed(_))
                if !r.was_signed && !url.query().is_some_and(|q| q.contains("sig=")) =>
            {
                Outcome::Failed(Refusal::NotSigned)
            }
            Err(Rejection::Expired { exp }) => Outcome::Failed(Refusal::Expired { exp }),
            Err(Rejection::UnknownKey(kid)) => Outcome::Failed(Refusal::UnknownKey { kid }),
            Err(other) => Outcome::Failed(Refusal::Rejected(other)),
        }
    }
}

impl UrlPolicy for Checker {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.check(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        &self.protection
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::Key;
    use crate::core::sign::Signer;
    use crate::core::testing;
    use crate::core::urls::MatchPrefix;
    use encoding_rs::UTF_8;

    const NOW: u64 = 1_715_000_000;

    fn prefixes() -> Vec<MatchPrefix> {
        testing::prefixes(&["/media/"])
    }

    fn key() -> Key {
        testing::key("k1")
    }

    fn checker(must_outlive: u64) -> Checker {
        Checker::new(
            Keys::from_keys(vec![key()]),
            prefixes(),
            NOW,
            Limits::default(),
            must_outlive,
        )
    }

    fn page() -> Url {
        Url::parse("https://www.example.com/blog/").unwrap()
    }

    fn signed(exp: u64) -> String {
        match Signer::new(key(), exp, prefixes()).sign("/media/a.jpg?w=1", &page(), UTF_8) {
            Outcome::Signed(s) => s.text,
            other => panic!("{other:?}"),
        }
    }

    fn finding(text: &str, must_outlive: u64) -> String {
        match checker(must_outlive).check(text, &page(), UTF_8) {
            Outcome::Failed(why) => why.to_string(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn a_valid_long_lived_url_passes() {
        let text = signed(NOW + 86400);
        let Outcome::Signed(s) = checker(NOW + 3600).check(&text, &page(), UTF_8) else {
            panic!()
        };
        assert_eq!(
            (
                s.exp,
                s.kid.as_str(),
                s.target.as_str(),
                s.original.as_str()
            ),
            (NOW + 86400, "k1", "/media/a.jpg?w=1", "/media/a.jpg?w=1")
        );
    }

    #[test]
    fn findings_say_what_is_wrong() {
        assert!(finding("/media/a.jpg", NOW).starts_with("not signed"));
        assert!(finding("/media/a.jpg?w=1", NOW).starts_with("not signed"));
        assert!(finding(&signed(NOW - 3600), NOW).starts_with("expired at 2024-05-06T11:53:20Z"));
        assert!(
            finding(&signed(NOW + 600), NOW + 3600)
                .starts_with("expires at 2024-05-06T13:03:20Z, before")
        );
        assert!(
            finding(&signed(NOW + 86400).replace("w=1", "w=2"), NOW).starts_with("bad_signature")
        );
        let other = Signer::new(
            Key::from_secret("old", &[1u8; 32]).unwrap(),
            NOW + 86400,
            prefixes(),
        );
        let Outcome::Signed(s) = other.sign("/media/a.jpg", &page(), UTF_8) else {
            panic!()
        };
        assert!(finding(&s.text, NOW).starts_with("signed with key \"old\""));
    }

    #[test]
    fn unprotected_urls_are_not_checked() {
        assert_eq!(
            checker(NOW).check("https://other.org/a.jpg", &page(), UTF_8),
            Outcome::LeftAlone
        );
        assert_eq!(
            checker(NOW).check("data:image/png,x", &page(), UTF_8),
            Outcome::LeftAlone
        );
    }
}
