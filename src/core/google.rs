//! The `google` signing scheme (spec §16): Cloud CDN signed URLs, which Cloud CDN verifies with
//! the named key of the backend.
//!
//! The signed string is the whole URL with `Expires` and `KeyName` appended; `Signature` is its
//! HMAC-SHA1 under the 16-byte key, URL-safe base64 with padding, appended last, as Google's own
//! samples write it. `Expires` is the `exp` of spec §4, so URLs are stable per window; a re-sign
//! drops `Expires`, `KeyName`, `Signature` and `URLPrefix` and appends fresh ones.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use encoding_rs::Encoding;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use url::Url;

use crate::core::expiry::Lifetimes;
use crate::core::policy::{Outcome, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::schemes::{NativeRejection, Run, signature_verdict};

const PARAMETERS: [&str; 4] = ["Expires", "KeyName", "Signature", "URLPrefix"];

/// Whether a query parameter (`name=value`) is one of Cloud CDN's signing parameters.
pub fn is_signing_parameter(param: &str) -> bool {
    PARAMETERS.contains(&param.split('=').next().unwrap_or(""))
}

/// A Cloud CDN signing key: its name on the backend and its 16 bytes.
#[derive(Clone)]
pub struct GoogleKey {
    name: String,
    secret: [u8; 16],
}

impl fmt::Debug for GoogleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoogleKey({}, secret hidden)", self.name)
    }
}

/// Why a key value cannot sign for Cloud CDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoogleKeyProblem {
    /// Not base64url.
    NotBase64,
    /// Not 16 bytes once decoded.
    Length(usize),
}

impl fmt::Display for GoogleKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoogleKeyProblem::NotBase64 => f.write_str("the key is not base64url; Cloud CDN keys are written as `head -c 16 /dev/urandom | base64 | tr +/ -_`"),
            GoogleKeyProblem::Length(n) => write!(f, "the key decodes to {n} bytes; Cloud CDN keys are 16 bytes (128 bits)"),
        }
    }
}

impl GoogleKey {
    /// The key `name` with base64url value `value` (padding optional).
    pub fn new(name: &str, value: &str) -> Result<GoogleKey, GoogleKeyProblem> {
        let value = value.trim();
        let bytes = URL_SAFE
            .decode(value)
            .or_else(|_| URL_SAFE_NO_PAD.decode(value))
            .map_err(|_| GoogleKeyProblem::NotBase64)?;
        let secret: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| GoogleKeyProblem::Length(bytes.len()))?;
        Ok(GoogleKey {
            name: name.to_owned(),
            secret,
        })
    }

    /// The key's name (`KeyName`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self, signed: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(signed.as_bytes());
        URL_SAFE.encode(mac.finalize().into_bytes())
    }
}

/// Signs references as Cloud CDN signed URLs for one run.
#[derive(Debug, Clone)]
pub struct GoogleSigner {
    key: GoogleKey,
    run: Run,
}

impl GoogleSigner {
    /// The signer of a run at `now`.
    pub fn for_run(
        key: GoogleKey,
        lifetimes: &Lifetimes,
        now: u64,
        protection: impl Into<Protection>,
    ) -> GoogleSigner {
        GoogleSigner {
            key,
            run: Run::new(lifetimes, now, protection),
        }
    }

    /// Signs `text` found in a page whose base URL is `base`.
    pub fn sign(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        let u = match self.run.prepare(text, base, encoding, is_signing_parameter) {
            Ok(u) => u,
            Err(outcome) => return outcome,
        };
        let exp = u.exp;
        let params = format!("Expires={exp}&KeyName={}", self.key.name);
        let sep = if u.url.query().is_some() { '&' } else { '?' };
        let sig = self.key.signature(&format!("{}{sep}{params}", u.url));
        let params = format!("{params}&Signature={sig}");
        let kid = self.key.name.clone();
        Outcome::Signed(u.signed(&params, &kid))
    }
}

impl UrlPolicy for GoogleSigner {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        self.run.protection()
    }
}

/// Verifies the signed `url` at `now` as Cloud CDN does: `Expires`, `KeyName` and `Signature`
/// last, in that order; `Ok(exp)`.
pub fn verify(key: &GoogleKey, url: &Url, now: u64) -> Result<u64, NativeRejection> {
    let Some(query) = url
        .query()
        .filter(|q| q.split('&').any(is_signing_parameter))
    else {
        return Err(NativeRejection::Unsigned);
    };
    let order = NativeRejection::Malformed(
        "Expires, KeyName and Signature must end the query, in that order",
    );
    let mut url = url.clone();
    url.set_fragment(None);
    let text = url.as_str();
    let at = text.rfind("&Signature=").ok_or(order.clone())?;
    let (signed, sig) = (&text[..at], &text[at + "&Signature=".len()..]);
    let mut tail = signed.rsplitn(3, ['&', '?']);
    let (Some(name), Some(expires)) = (tail.next(), tail.next()) else {
        return Err(order);
    };
    let (Some(name), Some(expires)) = (
        name.strip_prefix("KeyName="),
        expires.strip_prefix("Expires="),
    ) else {
        return Err(order);
    };
    if query.split('&').filter(|p| is_signing_parameter(p)).count() != 3 {
        return Err(NativeRejection::Malformed(
            "a signing parameter appears twice",
        ));
    }
    if name != key.name {
        return Err(NativeRejection::UnknownKey(name.to_owned()));
    }
    let exp: u64 = expires
        .parse()
        .map_err(|_| NativeRejection::Malformed("Expires is not Unix seconds"))?;
    if now > exp {
        return Err(NativeRejection::Expired { exp });
    }
    let expected = key.signature(signed);
    signature_verdict(&expected, sig, exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing;
    use encoding_rs::UTF_8;

    const KEY: &str = "nZtRohdNF9m3cKM24IcK4w==";

    fn signer() -> GoogleSigner {
        GoogleSigner::for_run(
            GoogleKey::new("key1", KEY).unwrap(),
            &Lifetimes::default(),
            1_715_000_000,
            testing::prefixes(&["https://cdn.example.com/media/"]),
        )
    }

    #[test]
    fn urls_are_signed_stable_and_verified() {
        let base = Url::parse("https://www.example.com/").unwrap();
        let Outcome::Signed(s) =
            signer().sign("https://cdn.example.com/media/a.jpg?w=1", &base, UTF_8)
        else {
            panic!()
        };
        assert!(
            s.text.starts_with(
                "https://cdn.example.com/media/a.jpg?w=1&Expires=1715133600&KeyName=key1&Signature="
            ),
            "{}",
            s.text
        );
        assert!(
            s.text.ends_with('='),
            "padded, as Google's samples write it: {}",
            s.text
        );
        let Outcome::Signed(again) = signer().sign(&s.text, &base, UTF_8) else {
            panic!()
        };
        assert_eq!(again.text, s.text);
        let key = GoogleKey::new("key1", KEY).unwrap();
        let url = Url::parse(&s.text).unwrap();
        assert_eq!(verify(&key, &url, 1_715_000_000), Ok(1_715_133_600));
        assert_eq!(
            verify(&key, &url, 1_715_133_601),
            Err(NativeRejection::Expired { exp: 1_715_133_600 })
        );
        let other = Url::parse(&s.text.replace("a.jpg", "b.jpg")).unwrap();
        assert_eq!(
            verify(&key, &other, 1_715_000_000),
            Err(NativeRejection::BadSignature)
        );
    }

    #[test]
    fn keys_must_be_16_bytes_of_base64url() {
        assert_eq!(
            GoogleKey::new("k", "TODO!").unwrap_err(),
            GoogleKeyProblem::NotBase64
        );
        assert_eq!(
            GoogleKey::new("k", "AAAA").unwrap_err(),
            GoogleKeyProblem::Length(3)
        );
        assert!(GoogleKey::new("k", "nZtRohdNF9m3cKM24IcK4w").is_ok());
        assert!(format!("{:?}", GoogleKey::new("k", KEY).unwrap()).contains("secret hidden"));
    }
}
