//! The `akamai` signing scheme (spec §16): Akamai Auth Token 2.0 (`EdgeAuth`) query tokens,
//! which the Akamai edge verifies itself.
//!
//! The token is `exp=EXP~acl=ACL~hmac=HEX` (`token = "acl"`: one token per `sign.match` prefix,
//! `ACL` its path and `*`) or `exp=EXP~hmac=HEX` with `url=PATH` in the signed fields
//! (`token = "url"`: a token per URL path), HMAC-SHA256 under the hex key over the fields joined
//! by `~`, carried in the query parameter `__token__`. No start time, so every run inside one
//! `exp_granularity` window writes the same bytes; a re-sign replaces the parameter. The
//! `akamai-edgeauth` package reproduces the tokens in CI.

use std::fmt;

use encoding_rs::Encoding;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use url::Url;

use crate::core::expiry::Lifetimes;
use crate::core::policy::{Outcome, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::schemes::{NativeRejection, Run, signature_verdict, wildcard};

/// The token's query parameter.
pub const TOKEN_NAME: &str = "__token__";

/// Whether a query parameter (`name=value`) is the token.
pub fn is_signing_parameter(param: &str) -> bool {
    param.split('=').next() == Some(TOKEN_NAME)
}

/// Which form the tokens take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// One token per `sign.match` prefix: `acl=PREFIX*`.
    Acl,
    /// One token per URL path.
    Url,
}

/// An Auth Token 2.0 key.
#[derive(Clone)]
pub struct AkamaiKey {
    secret: Vec<u8>,
}

impl fmt::Debug for AkamaiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AkamaiKey(secret hidden)")
    }
}

/// Why a key value cannot sign tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AkamaiKeyProblem {
    /// Not hexadecimal digits in pairs.
    NotHex,
    /// Fewer than 16 bytes.
    Short(usize),
}

impl fmt::Display for AkamaiKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AkamaiKeyProblem::NotHex => f.write_str("the key is not hexadecimal; give the token authentication key of the property as Akamai shows it"),
            AkamaiKeyProblem::Short(n) => write!(f, "the key is {n} bytes; use at least 16 (32 hexadecimal digits), as Akamai generates them"),
        }
    }
}

impl AkamaiKey {
    /// The key with hexadecimal value `hex`.
    pub fn new(hex: &str) -> Result<AkamaiKey, AkamaiKeyProblem> {
        let secret = hex::decode(hex.trim()).map_err(|_| AkamaiKeyProblem::NotHex)?;
        if secret.len() < 16 {
            return Err(AkamaiKeyProblem::Short(secret.len()));
        }
        Ok(AkamaiKey { secret })
    }

    fn hmac(&self, fields: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(fields.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The token for `path` (a URL token) or `acl` until `exp`.
fn token(key: &AkamaiKey, kind: TokenKind, path_or_acl: &str, exp: u64) -> String {
    match kind {
        TokenKind::Acl => {
            let fields = format!("exp={exp}~acl={path_or_acl}");
            format!("{fields}~hmac={}", key.hmac(&fields))
        }
        TokenKind::Url => {
            let hmac = key.hmac(&format!("exp={exp}~url={path_or_acl}"));
            format!("exp={exp}~hmac={hmac}")
        }
    }
}

/// Signs references with Auth Token 2.0 query tokens for one run.
#[derive(Debug, Clone)]
pub struct AkamaiSigner {
    key: AkamaiKey,
    kind: TokenKind,
    run: Run,
}

impl AkamaiSigner {
    /// The signer of a run at `now`.
    pub fn for_run(
        key: AkamaiKey,
        kind: TokenKind,
        lifetimes: &Lifetimes,
        now: u64,
        protection: impl Into<Protection>,
    ) -> AkamaiSigner {
        AkamaiSigner {
            key,
            kind,
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
        let token = match self.kind {
            TokenKind::Url => token(&self.key, self.kind, u.url.path(), exp),
            TokenKind::Acl => {
                let Some(prefix) = self.run.prefix_of(&u.url) else {
                    return Outcome::LeftAlone;
                };
                token(&self.key, self.kind, &format!("{}*", prefix.path()), exp)
            }
        };
        let params = format!("{TOKEN_NAME}={token}");
        Outcome::Signed(u.signed(&params, "akamai"))
    }
}

impl UrlPolicy for AkamaiSigner {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        self.run.protection()
    }
}

/// Whether `path` matches the token's ACL (`!`-separated patterns, `*`: any characters).
fn acl_allows(acl: &str, path: &str) -> bool {
    acl.split('!')
        .any(|a| wildcard(a.as_bytes(), path.as_bytes(), false))
}

/// Verifies the token of `url` at `now` as the Akamai edge does; `Ok(exp)`.
pub fn verify(key: &AkamaiKey, url: &Url, now: u64) -> Result<u64, NativeRejection> {
    let tokens: Vec<&str> = (url.query().into_iter())
        .flat_map(|q| q.split('&'))
        .filter(|p| is_signing_parameter(p))
        .collect();
    let token = match tokens.as_slice() {
        [] => return Err(NativeRejection::Unsigned),
        [one] => &one[TOKEN_NAME.len() + 1..],
        _ => return Err(NativeRejection::Malformed("__token__ appears twice")),
    };
    let fields: Vec<(&str, &str)> = token
        .split('~')
        .map(|f| f.split_once('=').unwrap_or((f, "")))
        .collect();
    let field = |name: &str| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let malformed = NativeRejection::Malformed("the token is not exp=…[~acl=…]~hmac=…");
    let exp: u64 = field("exp")
        .and_then(|e| e.parse().ok())
        .ok_or(malformed.clone())?;
    let given = field("hmac").ok_or(malformed.clone())?;
    let expected = match field("acl") {
        Some(acl) if !acl_allows(acl, url.path()) => return Err(NativeRejection::BadSignature),
        Some(acl) => key.hmac(&format!("exp={exp}~acl={acl}")),
        None => key.hmac(&format!("exp={exp}~url={}", url.path())),
    };
    if now >= exp {
        return Err(NativeRejection::Expired { exp });
    }
    signature_verdict(&expected, given, exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::SignedUrl;
    use crate::core::testing;
    use encoding_rs::UTF_8;

    const KEY: &str = "52a152a152a152a152a152a152a152a1";

    fn sign(kind: TokenKind, text: &str) -> SignedUrl {
        let signer = AkamaiSigner::for_run(
            AkamaiKey::new(KEY).unwrap(),
            kind,
            &Lifetimes::default(),
            1_715_000_000,
            testing::prefixes(&["/media/"]),
        );
        match signer.sign(
            text,
            &Url::parse("https://www.example.com/").unwrap(),
            UTF_8,
        ) {
            Outcome::Signed(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_forms_sign_verify_and_stay_stable() {
        let key = AkamaiKey::new(KEY).unwrap();
        for kind in [TokenKind::Acl, TokenKind::Url] {
            let s = sign(kind, "/media/a.jpg?w=1");
            assert!(
                s.text
                    .starts_with("/media/a.jpg?w=1&__token__=exp=1715133600~"),
                "{}",
                s.text
            );
            assert_eq!(sign(kind, &s.text).text, s.text, "a fixed point");
            let url = Url::parse(&format!("https://www.example.com{}", s.text)).unwrap();
            assert_eq!(verify(&key, &url, 1_715_000_000), Ok(1_715_133_600));
            assert_eq!(
                verify(&key, &url, 1_715_133_600),
                Err(NativeRejection::Expired { exp: 1_715_133_600 })
            );
            let moved = Url::parse(&format!(
                "https://www.example.com{}",
                s.text.replace("/media/", "/other/")
            ))
            .unwrap();
            assert_eq!(
                verify(&key, &moved, 1_715_000_000),
                Err(NativeRejection::BadSignature)
            );
        }
        assert!(
            sign(TokenKind::Acl, "/media/a.jpg")
                .text
                .contains("~acl=/media/*~hmac=")
        );
    }

    #[test]
    fn keys_are_hex_of_16_bytes_or_more() {
        assert_eq!(AkamaiKey::new("xyz").unwrap_err(), AkamaiKeyProblem::NotHex);
        assert_eq!(
            AkamaiKey::new("abcd").unwrap_err(),
            AkamaiKeyProblem::Short(2)
        );
        assert!(format!("{:?}", AkamaiKey::new(KEY).unwrap()).contains("secret hidden"));
    }
}
