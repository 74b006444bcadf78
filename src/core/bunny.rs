//! The `bunny` signing scheme (spec §16): Bunny CDN token authentication, query-parameter form,
//! which the pull zone verifies itself.
//!
//! A URL carries `token` and `expires` (and `token_path` for a directory token). The token signs
//! the signature path (the URL's path, or `token_path`), `expires`, and the query parameters
//! other than `token` and `expires`, decoded, sorted by name and joined as `name=value` with `&`
//! (which includes `token_path` and the URL's own parameters). Two token forms, both accepted by
//! every pull zone: `algorithm = "sha256"`, Bunny's documented "advanced" token, URL-safe base64
//! of SHA-256 over the key followed by that text; and `algorithm = "hmac-sha256"`, the form of
//! Bunny's current libraries, `HS256-` and URL-safe base64 of HMAC-SHA256 under the key. No
//! start time, so every run inside one `exp_granularity` window writes the same bytes; a re-sign
//! replaces the three parameters.
//!
//! Bunny's libraries disagree on a path with percent-escapes (signed decoded by some, as written
//! by others) and on repeated or empty query parameters, so a URL token for such a URL is
//! refused with a finding rather than written for the edge to refuse. Published vectors of
//! Bunny's libraries are in the tests; CI re-implements both forms in Python.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use encoding_rs::Encoding;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use url::Url;

use crate::core::expiry::Lifetimes;
use crate::core::policy::{Outcome, Refusal, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::schemes::{NativeRejection, Run, at_most_once, signature_verdict};

/// The parameters a signature writes.
const PARAMETERS: [&str; 3] = ["token", "token_path", "expires"];

/// The prefix of an HMAC-SHA256 token.
const HMAC_PREFIX: &str = "HS256-";

/// Whether a query parameter (`name=value`) is one of the signature's.
pub fn is_signing_parameter(param: &str) -> bool {
    let name = param.split('=').next().unwrap_or("");
    PARAMETERS.contains(&name)
}

/// Which URLs a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A token per URL path.
    Url,
    /// One token per `sign.match` prefix (`token_path`): Bunny's directory token.
    Directory,
}

/// How the token is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256 over the key and the signed text (Bunny's documented advanced token).
    Sha256,
    /// HMAC-SHA256 under the key, written with the `HS256-` prefix.
    HmacSha256,
}

/// A pull zone's URL token authentication key.
#[derive(Clone)]
pub struct BunnyKey {
    secret: String,
}

impl fmt::Debug for BunnyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BunnyKey(secret hidden)")
    }
}

/// Why a key value cannot sign tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BunnyKeyProblem {
    /// Fewer than 16 characters: a placeholder, not the zone's key.
    Short(usize),
    /// Spaces or control characters inside.
    Whitespace,
}

impl fmt::Display for BunnyKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BunnyKeyProblem::Short(n) => write!(f, "the key is {n} characters; give the pull zone's URL Token Authentication Key (Security, Token Authentication), 36 characters"),
            BunnyKeyProblem::Whitespace => f.write_str("the key holds spaces or control characters; give the pull zone's URL Token Authentication Key as the dashboard shows it"),
        }
    }
}

impl BunnyKey {
    /// The key `text` (surrounding whitespace ignored).
    pub fn new(text: &str) -> Result<BunnyKey, BunnyKeyProblem> {
        let secret = text.trim();
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BunnyKeyProblem::Whitespace);
        }
        if secret.chars().count() < 16 {
            return Err(BunnyKeyProblem::Short(secret.chars().count()));
        }
        Ok(BunnyKey {
            secret: secret.to_owned(),
        })
    }

    /// The token over `signed` (the signature path, `expires` and the sorted parameters).
    fn token(&self, algorithm: Algorithm, signed: &str) -> String {
        match algorithm {
            Algorithm::Sha256 => {
                let mut hash = Sha256::new();
                hash.update(self.secret.as_bytes());
                hash.update(signed.as_bytes());
                URL_SAFE_NO_PAD.encode(hash.finalize())
            }
            Algorithm::HmacSha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes())
                    .expect("HMAC takes any key");
                mac.update(signed.as_bytes());
                format!(
                    "{HMAC_PREFIX}{}",
                    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
                )
            }
        }
    }
}

/// The text a token signs: `path`, `exp`, then `params` sorted by name as `name=value&…`.
fn signed_text(path: &str, exp: u64, mut params: Vec<(String, String)>) -> String {
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let joined: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    format!("{path}{exp}{}", joined.join("&"))
}

/// The URL's own query parameters, decoded as Bunny's libraries decode them (`+` a space);
/// `Err` for what they read differently: a repeated name or an empty value.
fn own_params(query: Option<&str>) -> Result<Vec<(String, String)>, &'static str> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if value.is_empty() {
            return Err(
                "a query parameter without a value, which Bunny's token libraries sign differently (some skip it); give it a value or drop it",
            );
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(
                "a query parameter given twice, which Bunny's token libraries sign differently; keep one",
            );
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}

/// Signs references with Bunny tokens for one run.
#[derive(Debug, Clone)]
pub struct BunnySigner {
    key: BunnyKey,
    kind: TokenKind,
    algorithm: Algorithm,
    run: Run,
}

impl BunnySigner {
    /// The signer of a run at `now`.
    pub fn for_run(
        key: BunnyKey,
        kind: TokenKind,
        algorithm: Algorithm,
        lifetimes: &Lifetimes,
        now: u64,
        protection: impl Into<Protection>,
    ) -> BunnySigner {
        BunnySigner {
            key,
            kind,
            algorithm,
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
        let mut params = match own_params(u.url.query()) {
            Ok(params) => params,
            Err(why) => return Outcome::Failed(Refusal::Unsignable { why }),
        };
        let params = match self.kind {
            TokenKind::Url => {
                if u.url.path().contains('%') {
                    return Outcome::Failed(Refusal::Unsignable {
                        why: "the path holds percent-escapes (spaces or non-ASCII characters), which Bunny's token libraries sign differently (decoded or as written); rename the file to letters, digits, '-', '_' and '.', or use sign.bunny.token = \"directory\"",
                    });
                }
                let token = self
                    .key
                    .token(self.algorithm, &signed_text(u.url.path(), exp, params));
                format!("token={token}&expires={exp}")
            }
            TokenKind::Directory => {
                let Some(prefix) = self.run.prefix_of(&u.url) else {
                    return Outcome::LeftAlone;
                };
                let path = prefix.path();
                params.push(("token_path".to_owned(), path.to_owned()));
                let token = self
                    .key
                    .token(self.algorithm, &signed_text(path, exp, params));
                let encoded = utf8_percent_encode(path, NON_ALPHANUMERIC);
                format!("token={token}&token_path={encoded}&expires={exp}")
            }
        };
        Outcome::Signed(u.signed(&params, "bunny"))
    }
}

impl UrlPolicy for BunnySigner {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        self.run.protection()
    }
}

/// Verifies the token of `url` at `now` as the pull zone does, in either form; `Ok(exp)`.
pub fn verify(key: &BunnyKey, url: &Url, now: u64) -> Result<u64, NativeRejection> {
    let query = url.query().unwrap_or("");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let one = |name| at_most_once(&pairs, name, "token, expires or token_path appears twice");
    let (token, expires) = match (one("token")?, one("expires")?) {
        (None, None) => return Err(NativeRejection::Unsigned),
        (Some(t), Some(e)) => (t, e),
        _ => {
            return Err(NativeRejection::Malformed("token and expires go together"));
        }
    };
    let exp: u64 = expires
        .parse()
        .map_err(|_| NativeRejection::Malformed("expires is not Unix seconds"))?;
    let path = percent_decode_str(url.path()).decode_utf8_lossy();
    let signed_path = match one("token_path")? {
        Some(prefix) if !path.starts_with(prefix) => return Err(NativeRejection::BadSignature),
        Some(prefix) => prefix.to_owned(),
        None => path.into_owned(),
    };
    let params: Vec<(String, String)> = pairs
        .iter()
        .filter(|(n, v)| n != "token" && n != "expires" && !v.is_empty())
        .cloned()
        .collect();
    let algorithm = if token.starts_with(HMAC_PREFIX) {
        Algorithm::HmacSha256
    } else {
        Algorithm::Sha256
    };
    let expected = key.token(algorithm, &signed_text(&signed_path, exp, params));
    if now >= exp {
        return Err(NativeRejection::Expired { exp });
    }
    signature_verdict(&expected, token, exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::SignedUrl;
    use crate::core::testing;
    use encoding_rs::UTF_8;

    const KEY: &str = "229248f0-f007-4bf9-ba1f-bbf1b4ad9d40";

    fn sign(kind: TokenKind, algorithm: Algorithm, text: &str) -> Outcome {
        BunnySigner::for_run(
            BunnyKey::new(KEY).unwrap(),
            kind,
            algorithm,
            &Lifetimes::default(),
            1_715_000_000,
            testing::prefixes(&["/media/"]),
        )
        .sign(
            text,
            &Url::parse("https://www.example.com/").unwrap(),
            UTF_8,
        )
    }

    fn signed(kind: TokenKind, algorithm: Algorithm, text: &str) -> SignedUrl {
        match sign(kind, algorithm, text) {
            Outcome::Signed(s) => s,
            other => panic!("{other:?}"),
        }
    }

    /// Vectors published with Bunny's token libraries (BunnyWay/BunnyCDN.TokenAuthentication,
    /// `e2e/vectors.json`): key `SecurityKey`, expires 1598024587.
    #[test]
    fn hmac_tokens_match_bunnys_published_vectors() {
        // Shorter than `new` accepts: the vectors' key is a placeholder.
        let key = BunnyKey {
            secret: "SecurityKey".into(),
        };
        let exp = 1_598_024_587;
        let hmac = |path: &str, params: &[(&str, &str)]| {
            let params = params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            key.token(Algorithm::HmacSha256, &signed_text(path, exp, params))
        };
        assert_eq!(
            hmac("/300kb.jpg", &[]),
            "HS256-o10JRWlsAItyAsdKS6jJKjabHN4FrFsplDHPV1idcX4"
        );
        assert_eq!(
            hmac("/abc", &[("token_path", "/abc")]),
            "HS256-uVZvT3SbEoVKYJyDJgbcsDmSFf73cv-uNUVaJiKWpbQ"
        );
        assert_eq!(
            hmac("/300kb.jpg", &[("token_countries", "CA,US")]),
            "HS256-i5s3Uv7mnrFfN5nznwU2BxhILpnipYeE18TapV0WNFM"
        );
        assert_eq!(
            hmac("/300kb.jpg", &[("limit", "1000")]),
            "HS256-DAVapqNNED3Z7JkjRTYX0UOIHNtbHEuuhRNEc4A7mMQ"
        );
        // And the pull zone's verification of the published URL.
        let url = Url::parse("https://token-tester.b-cdn.net/abc/300kb.jpg?token=HS256-uVZvT3SbEoVKYJyDJgbcsDmSFf73cv-uNUVaJiKWpbQ&token_path=%2Fabc&expires=1598024587").unwrap();
        assert_eq!(verify(&key, &url, exp - 1), Ok(exp));
    }

    #[test]
    fn both_kinds_and_algorithms_sign_verify_and_stay_stable() {
        let key = BunnyKey::new(KEY).unwrap();
        for kind in [TokenKind::Url, TokenKind::Directory] {
            for algorithm in [Algorithm::Sha256, Algorithm::HmacSha256] {
                let s = signed(kind, algorithm, "/media/a.jpg?w=300&h=2%202");
                assert!(
                    s.text.starts_with("/media/a.jpg?w=300&h=2%202&token="),
                    "{}",
                    s.text
                );
                assert!(s.text.ends_with("&expires=1715133600"), "{}", s.text);
                assert_eq!(
                    s.text.contains("&token_path=%2Fmedia%2F&"),
                    kind == TokenKind::Directory
                );
                assert_eq!(
                    s.text.contains("token=HS256-"),
                    algorithm == Algorithm::HmacSha256
                );
                assert_eq!(
                    signed(kind, algorithm, &s.text).text,
                    s.text,
                    "a fixed point"
                );
                let url = Url::parse(&format!("https://www.example.com{}", s.text)).unwrap();
                assert_eq!(verify(&key, &url, 1_715_000_000), Ok(1_715_133_600));
                assert_eq!(
                    verify(&key, &url, 1_715_133_600),
                    Err(NativeRejection::Expired { exp: 1_715_133_600 })
                );
                for tampered in [
                    s.text.replace("w=300", "w=301"),
                    s.text.replace("/media/a", "/other/a"),
                    s.text.replace("1715133600", "1715137200"),
                ] {
                    let url = Url::parse(&format!("https://www.example.com{tampered}")).unwrap();
                    assert_eq!(
                        verify(&key, &url, 1_715_000_000),
                        Err(NativeRejection::BadSignature),
                        "{tampered}"
                    );
                }
            }
        }
        let plain = Url::parse("https://www.example.com/media/a.jpg").unwrap();
        assert_eq!(verify(&key, &plain, 0), Err(NativeRejection::Unsigned));
    }

    #[test]
    fn what_bunnys_libraries_read_differently_is_refused() {
        for text in ["/media/caf%C3%A9.jpg", "/media/a b.jpg"] {
            assert!(
                matches!(
                    sign(TokenKind::Url, Algorithm::Sha256, text),
                    Outcome::Failed(Refusal::Unsignable { .. })
                ),
                "{text}"
            );
        }
        // A directory token signs the prefix, not the file's path.
        assert!(matches!(
            sign(
                TokenKind::Directory,
                Algorithm::Sha256,
                "/media/caf%C3%A9.jpg"
            ),
            Outcome::Signed(_)
        ));
        for text in ["/media/a.jpg?w=1&w=2", "/media/a.jpg?v="] {
            assert!(
                matches!(
                    sign(TokenKind::Directory, Algorithm::Sha256, text),
                    Outcome::Failed(Refusal::Unsignable { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn placeholder_keys_are_refused() {
        assert_eq!(
            BunnyKey::new("TODO").unwrap_err(),
            BunnyKeyProblem::Short(4)
        );
        assert_eq!(
            BunnyKey::new("229248f0 f007 4bf9 ba1f bbf1b4ad9d40").unwrap_err(),
            BunnyKeyProblem::Whitespace
        );
        assert!(format!("{:?}", BunnyKey::new(KEY).unwrap()).contains("secret hidden"));
    }
}
