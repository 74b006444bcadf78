//! Signing one reference: the message of spec §3 and its HMAC.
//!
//! The message is computed from the text that will be written back, resolved by the WHATWG URL
//! parser exactly as the browser will resolve it. The bytes signed are therefore the bytes the
//! browser sends, whatever the reference's form (relative, with tabs, with non-ASCII).

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use encoding_rs::{Encoding, UTF_8};
use hmac::Mac;
use url::Url;

use crate::core::expiry::{Lifetimes, PerRule};
use crate::core::keys::Key;
use crate::core::policy::{Outcome, Refusal, SignedUrl, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::triple::{Reference, reserved_parameter};
use crate::core::urls::resolve;
use crate::core::verify::MAX_TARGET_LEN;

/// `&sig=` and 43 base64url characters.
const SIG_PARAM_LEN: usize = 5 + 43;

/// `sig` for `message`: HMAC-SHA256 with `key`, base64url without padding (43 characters).
pub fn signature(key: &Key, message: &[u8]) -> String {
    let mut mac = key.mac();
    mac.update(message);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Signs references for one run: one key, one `exp` per expiry rule, one set of protected
/// prefixes.
#[derive(Debug, Clone)]
pub struct Signer {
    key: Key,
    /// Per expiry rule: the `exp` written, and how long before it a run must re-sign.
    exps: PerRule<(u64, u64)>,
    protection: Protection,
}

impl Signer {
    /// A signer that writes `exp` on every URL and signs with `key` the references that
    /// `protection` protects.
    pub fn new(key: Key, exp: u64, protection: impl Into<Protection>) -> Signer {
        Signer {
            key,
            exps: (exp, 0).into(),
            protection: protection.into(),
        }
    }

    /// The signer of a run at `now`: each URL's `exp` follows its expiry rule (spec §4, §17).
    pub fn for_run(
        key: Key,
        lifetimes: &Lifetimes,
        now: u64,
        protection: impl Into<Protection>,
    ) -> Signer {
        Signer {
            key,
            exps: lifetimes.map(|e| (e.exp_for(now), e.needed())),
            protection: protection.into(),
        }
    }

    /// The `exp` this signer writes on URLs under no expiry rule.
    pub fn exp(&self) -> u64 {
        self.exps.default_value().0
    }

    /// The id of the signing key.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The protection rules.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// Signs `text` (an attribute's URL, character references already decoded) as found in a
    /// page whose base URL is `base` and whose encoding is `encoding`.
    pub fn sign(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        let r = Reference::split(text);
        if r.head.is_empty() && r.query.is_none() {
            // "" or "#x": the page itself, never an image fetch.
            return Outcome::LeftAlone;
        }
        let mut unsigned = String::with_capacity(text.len() + 80);
        unsigned.push_str(r.head);
        unsigned.push('?');
        if let Some(q) = r.query {
            unsigned.push_str(q);
            unsigned.push('&');
        }
        let triple_at = unsigned.len();
        let (mut exp, _) = *self.exps.default_value();
        write!(unsigned, "exp={exp}&kid={}", self.key.kid()).expect("String write");

        let Ok(mut url) = resolve(&unsigned, base, encoding) else {
            return Outcome::LeftAlone;
        };
        if !self.protection.protects(&url) {
            return Outcome::LeftAlone;
        }
        let (rule_exp, needed) = *self.exps.get(&url);
        if rule_exp != exp {
            // Under an expiry rule: the same path, with that rule's `exp`.
            exp = rule_exp;
            unsigned.truncate(triple_at);
            write!(unsigned, "exp={exp}&kid={}", self.key.kid()).expect("String write");
            let Ok(again) = resolve(&unsigned, base, encoding) else {
                return Outcome::LeftAlone;
            };
            url = again;
        }
        // Judged on the query the browser sends, not on the text: the URL parser drops tabs and
        // newlines anywhere, so "k\nid=" is requested as "kid=", which every verifier refuses.
        let triple_len = unsigned.len() - triple_at;
        let query = url.query().unwrap_or("");
        let own_query = &query[..query.len().saturating_sub(triple_len)];
        if let Some(name) = reserved_parameter(own_query) {
            return Outcome::Failed(Refusal::ReservedParameter { name });
        }
        if text.contains('\0') {
            // The browser's tokenizer turns it into U+FFFD, so it would request other bytes.
            return Outcome::Failed(Refusal::Nul);
        }
        if text.contains('\u{FFFD}') {
            return Outcome::Failed(Refusal::Undecodable {
                encoding: encoding.name(),
            });
        }
        if encoding != UTF_8
            && let Some(q) = r.query
            && encoding.encode(q).2
        {
            // The browser would send "%26%23…%3B" for each such character; refuse rather than
            // sign bytes that no browser requests.
            return Outcome::Failed(Refusal::Unencodable {
                encoding: encoding.name(),
            });
        }

        let path = url.path();
        let mut message = String::with_capacity(path.len() + query.len() + 1);
        message.push_str(path);
        message.push('?');
        message.push_str(query);
        if message.len() + SIG_PARAM_LEN > MAX_TARGET_LEN {
            return Outcome::Failed(Refusal::TooLong {
                len: message.len() + SIG_PARAM_LEN,
            });
        }
        let sig = signature(&self.key, message.as_bytes());

        let target = message[..message.len() - triple_len - 1].to_owned();
        let mut out = String::with_capacity(
            r.lead.len() + unsigned.len() + 48 + r.fragment.len() + r.trail.len(),
        );
        out.push_str(r.lead);
        out.push_str(&unsigned);
        out.push_str("&sig=");
        out.push_str(&sig);
        out.push_str(r.fragment);
        out.push_str(r.trail);
        Outcome::Signed(SignedUrl {
            text: out,
            original: r.unsigned(),
            target,
            exp,
            due: exp.saturating_sub(needed),
            kid: self.key.kid().to_owned(),
        })
    }
}

impl UrlPolicy for Signer {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        &self.protection
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{SHIFT_JIS, WINDOWS_1252};

    use crate::core::testing::{self, PROTECTED};

    fn key() -> Key {
        testing::key("k2026a")
    }

    fn signer() -> Signer {
        testing::signer("k2026a", 1_715_004_000, &PROTECTED)
    }

    fn page() -> Url {
        Url::parse("https://www.example.com/blog/post/").unwrap()
    }

    fn signed(text: &str) -> SignedUrl {
        match signer().sign(text, &page(), UTF_8) {
            Outcome::Signed(s) => s,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn message_of(s: &SignedUrl) -> String {
        let url = page().join(&s.text).unwrap();
        let q = url.query().unwrap();
        format!("{}?{}", url.path(), &q[..q.rfind("&sig=").unwrap()])
    }

    #[test]
    fn spec_example_message() {
        let s = signed("https://img.example.com/media/cat.jpg?w=640");
        assert_eq!(
            message_of(&s),
            "/media/cat.jpg?w=640&exp=1715004000&kid=k2026a"
        );
        let sig = signature(&key(), b"/media/cat.jpg?w=640&exp=1715004000&kid=k2026a");
        assert_eq!(sig.len(), 43);
        assert_eq!(
            s.text,
            format!(
                "https://img.example.com/media/cat.jpg?w=640&exp=1715004000&kid=k2026a&sig={sig}"
            )
        );
        assert_eq!(s.target, "/media/cat.jpg?w=640");
        assert_eq!(s.original, "https://img.example.com/media/cat.jpg?w=640");
    }

    #[test]
    fn keeps_the_reference_form() {
        assert!(signed("/media/a.jpg").text.starts_with("/media/a.jpg?exp="));
        assert!(
            signed("../../media/a.jpg")
                .text
                .starts_with("../../media/a.jpg?exp=")
        );
        assert!(
            signed("//img.example.com/a.jpg")
                .text
                .starts_with("//img.example.com/a.jpg?exp=")
        );
        assert_eq!(signed("../../media/a.jpg").target, "/media/a.jpg");
    }

    #[test]
    fn signs_what_the_browser_requests() {
        let s = signed("/media/a b/é.jpg?q=a b&x=é");
        assert_eq!(s.target, "/media/a%20b/%C3%A9.jpg?q=a%20b&x=%C3%A9");
        let s = signed("/media\\x/./y.jpg?\ta=1");
        assert_eq!(s.target, "/media/x/y.jpg?a=1");
        assert_eq!(
            message_of(&s),
            format!("{}&exp=1715004000&kid=k2026a", s.target)
        );
    }

    #[test]
    fn fragment_stays_after_the_signature_and_spaces_stay_outside() {
        let s = signed("  /media/a.jpg?w=1#part \n");
        assert!(
            s.text
                .starts_with("  /media/a.jpg?w=1&exp=1715004000&kid=k2026a&sig=")
        );
        assert!(s.text.ends_with("#part \n"));
        assert_eq!(s.original, "/media/a.jpg?w=1#part");
    }

    #[test]
    fn resigning_replaces_the_triple() {
        let once = signed("/media/a.jpg?w=1");
        let other = Signer::new(
            Key::from_secret("old", &[1u8; 32]).unwrap(),
            99,
            signer().protection.clone(),
        );
        let Outcome::Signed(stale) = other.sign("/media/a.jpg?w=1", &page(), UTF_8) else {
            panic!()
        };
        let again = signed(&stale.text);
        assert_eq!(again, once);
        assert_eq!(signed(&once.text), once);
    }

    #[test]
    fn empty_query_is_dropped() {
        assert!(
            signed("/media/a.jpg?")
                .text
                .starts_with("/media/a.jpg?exp=")
        );
    }

    #[test]
    fn unprotected_references_are_left_alone() {
        let s = signer();
        for text in [
            "https://other.org/media/a.jpg",
            "/mediafile.jpg",
            "https://img.example.com.evil.org/a.jpg",
            "data:image/png;base64,AAAA",
            "blob:https://www.example.com/1",
            "",
            "#top",
            "http://[::1/a.jpg",
            "https://cdn.other.org/a.jpg?sig=foreign",
        ] {
            assert_eq!(s.sign(text, &page(), UTF_8), Outcome::LeftAlone, "{text}");
        }
    }

    #[test]
    fn reserved_parameters_fail() {
        let Outcome::Failed(why) = signer().sign("/media/a.jpg?sig=1&w=2", &page(), UTF_8) else {
            panic!()
        };
        assert!(why.to_string().contains("\"sig\""), "{why}");
        // The URL parser drops tabs and newlines: these are requested as "?kid=1" and "?w=1&exp=2".
        for text in ["/media/a.jpg?k\nid=1", "/media/a.jpg?w=1&e\txp=2"] {
            let out = signer().sign(text, &page(), UTF_8);
            assert!(matches!(out, Outcome::Failed(_)), "{text:?}: {out:?}");
        }
    }

    #[test]
    fn legacy_encodings_encode_the_query_like_the_browser() {
        let Outcome::Signed(s) = signer().sign("/media/é.jpg?t=é", &page(), WINDOWS_1252) else {
            panic!()
        };
        // Path is always UTF-8; the query uses the page's encoding.
        assert_eq!(s.target, "/media/%C3%A9.jpg?t=%E9");
        let Outcome::Signed(s) = signer().sign("/media/a.jpg?t=日本", &page(), SHIFT_JIS) else {
            panic!()
        };
        assert_eq!(
            s.target, "/media/a.jpg?t=%93%FA%96{",
            "`{{` is not in the query percent-encode set"
        );
        let out = signer().sign("/media/a.jpg?t=日本", &page(), WINDOWS_1252);
        assert!(
            matches!(out, Outcome::Failed(ref why) if why.to_string().contains("cannot encode")),
            "{out:?}"
        );
    }

    #[test]
    fn undecodable_bytes_fail() {
        let out = signer().sign("/media/\u{FFFD}.jpg", &page(), UTF_8);
        assert!(
            matches!(out, Outcome::Failed(ref why) if why.to_string().contains("not valid UTF-8")),
            "{out:?}"
        );
    }

    #[test]
    fn never_signs_a_target_the_edge_would_refuse_for_its_length() {
        // "/media/" + name + "?exp=1715004000&kid=k2026a&sig=" + 43 characters.
        let fixed = "/media/".len() + "?exp=1715004000&kid=k2026a&sig=".len() + 43;
        let fits = format!("/media/{}", "a".repeat(MAX_TARGET_LEN - fixed));
        let url = page().join(&signed(&fits).text).unwrap();
        assert_eq!(
            url.path().len() + 1 + url.query().unwrap().len(),
            MAX_TARGET_LEN
        );
        let over = format!("{fits}a");
        let out = signer().sign(&over, &page(), UTF_8);
        assert!(
            matches!(out, Outcome::Failed(ref why) if why.to_string().contains("8193 bytes")),
            "{out:?}"
        );
    }

    #[test]
    fn a_nul_character_is_refused_wherever_it_is() {
        for text in [
            "/media/a\0b.jpg",
            "/media/a.jpg\0",
            "/media/a.jpg?q=\0",
            "\0/media/a.jpg",
        ] {
            let out = signer().sign(text, &page(), UTF_8);
            assert!(
                matches!(out, Outcome::Failed(ref why) if why.to_string().contains("NUL")),
                "{text:?}: {out:?}"
            );
        }
    }
}
