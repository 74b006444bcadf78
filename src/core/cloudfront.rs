//! The `cloudfront` signing scheme (spec §16): CloudFront signed URLs, which CloudFront verifies
//! with the public key of a trusted key group.
//!
//! Canned policy (`policy = "canned"`): each URL carries `Expires`, `Signature` and
//! `Key-Pair-Id`, the signature being RSA PKCS#1 v1.5 over the policy
//! `{"Statement":[{"Resource":URL,"Condition":{"DateLessThan":{"AWS:EpochTime":EXP}}}]}`.
//! Prefix policy (`policy = "prefix"`): one custom policy per `sign.match` prefix, with the
//! wildcard resource `PREFIX*`, carried as `Policy`; it is signed once per run and `exp`, which
//! matters because an RSA signature costs about a millisecond. Canned signatures are cached per
//! policy for the run, since pages share their images. `Hash-Algorithm=SHA256` is added when the
//! key signs with SHA-256. The URL's own query stays before the parameters, as in AWS's examples;
//! botocore's `CloudFrontSigner` reproduces every RSA URL byte for byte in CI.
//!
//! Keys are RSA 2048 (PKCS#1 v1.5) or ECDSA P-256, the two CloudFront trusts. An ECDSA signature
//! is DER-encoded over the same hash as RSA's (SHA-1 unless `Hash-Algorithm=SHA256`), with the
//! nonce derived from the key and the message (RFC 6979), so a policy always gets the same
//! signature and URLs stay stable within a window; CI verifies them with the public key through
//! the `cryptography` package, since an independent signer picks random nonces.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use encoding_rs::Encoding;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use serde::Deserialize;
use sha1::Digest;
use url::Url;

use crate::core::expiry::Lifetimes;
use crate::core::policy::{Outcome, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::schemes::{NativeRejection, Run, at_most_once, own_query, wildcard};

/// The query parameters of a CloudFront signature.
const PARAMETERS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Whether a query parameter (`name=value`) is one of CloudFront's signing parameters.
pub fn is_signing_parameter(param: &str) -> bool {
    let name = param.split('=').next().unwrap_or("");
    PARAMETERS.contains(&name)
}

/// The hash the key signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-1, CloudFront's default.
    Sha1,
    /// SHA-256, announced with `Hash-Algorithm=SHA256`.
    Sha256,
}

/// Which policy the URLs carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A canned policy per URL.
    Canned,
    /// One custom policy per `sign.match` prefix, with a wildcard resource.
    Prefix,
}

/// Why a private key cannot sign for CloudFront.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// A PEM protected by a passphrase.
    Encrypted,
    /// An elliptic-curve key on another curve than P-256.
    Curve,
    /// Not an RSA private key in PEM.
    NotPem,
    /// An RSA key of another size than CloudFront accepts.
    Size(usize),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::Encrypted => f.write_str("the private key is protected by a passphrase; give rendorix the unencrypted PEM (openssl pkey -in key.pem -out plain.pem) through the environment only"),
            KeyProblem::Curve => f.write_str("the private key is an elliptic-curve key on another curve than P-256, which CloudFront does not trust; create one with openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out private_key.pem"),
            KeyProblem::NotPem => f.write_str("the value is not an RSA or ECDSA P-256 private key in PEM (-----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)"),
            KeyProblem::Size(bits) => write!(f, "the RSA key has {bits} bits; CloudFront trusts RSA keys of 2048 bits"),
        }
    }
}

/// The two kinds of key CloudFront trusts.
#[derive(Clone)]
enum Signing {
    Rsa(Box<PrivateKey>, PublicKey),
    Ecdsa(SigningKey, VerifyingKey),
}

/// A CloudFront key pair: its id in the key group, its private key, and the hash it signs with.
#[derive(Clone)]
pub struct CloudFrontKey {
    key_pair_id: String,
    signing: Signing,
    hash: Hash,
}

impl fmt::Debug for CloudFrontKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloudFrontKey({}, private key hidden)", self.key_pair_id)
    }
}

/// The object identifier that marks a PKCS#8 key as elliptic-curve (id-ecPublicKey), and the
/// starts of the named curves' (1.2.840.10045.3.1.x and 1.3.132.0.x), DER-encoded with their tag
/// and length.
const EC_PUBLIC_KEY: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const NAMED_CURVES: [&[u8]; 2] = [
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00],
];

/// Why an elliptic-curve PEM block that P-256 cannot read was refused: a named curve that is not
/// P-256, or no key at all.
fn other_curve(block: &str) -> KeyProblem {
    let named = STANDARD
        .decode(pem_body(block))
        .is_ok_and(|der| NAMED_CURVES.iter().any(|oid| contains(&der, oid)));
    if named {
        KeyProblem::Curve
    } else {
        KeyProblem::NotPem
    }
}

impl CloudFrontKey {
    /// The key `key_pair_id` from `pem`: RSA in PKCS#8 or PKCS#1, or ECDSA P-256 in PKCS#8 or
    /// SEC1 (what `openssl ecparam -genkey` writes), signing with `hash`.
    pub fn from_pem(key_pair_id: &str, pem: &str, hash: Hash) -> Result<CloudFrontKey, KeyProblem> {
        if pem.contains("ENCRYPTED") {
            return Err(KeyProblem::Encrypted);
        }
        let signing = if let Some(block) = pem_block(pem, "EC PRIVATE KEY") {
            let secret = p256::SecretKey::from_sec1_pem(block).map_err(|_| other_curve(block))?;
            ecdsa(SigningKey::from(secret))
        } else if let Some(block) = pem_block(pem, "PRIVATE KEY")
            && STANDARD
                .decode(pem_body(block))
                .is_ok_and(|der| contains(&der, &EC_PUBLIC_KEY))
        {
            ecdsa(SigningKey::from_pkcs8_pem(block).map_err(|_| other_curve(block))?)
        } else {
            let private = PrivateKey::from_pkcs8_pem(pem.trim())
                .or_else(|_| PrivateKey::from_pkcs1_pem(pem.trim()))
                .map_err(|_| KeyProblem::NotPem)?;
            let bits = private.n().bit_width() as usize;
            if bits != 2048 {
                return Err(KeyProblem::Size(bits));
            }
            let public = private.to_public_key();
            Signing::Rsa(Box::new(private), public)
        };
        Ok(CloudFrontKey {
            key_pair_id: key_pair_id.to_owned(),
            signing,
            hash,
        })
    }

    /// The key pair id.
    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    fn sign(&self, policy: &[u8]) -> Vec<u8> {
        const SIGNS: &str = "a key that loaded signs any message";
        match (&self.signing, self.hash) {
            (Signing::Rsa(private, _), Hash::Sha1) => {
                private.pkcs1v15_sign::<sha1::Sha1>(policy).expect(SIGNS)
            }
            (Signing::Rsa(private, _), Hash::Sha256) => {
                private.pkcs1v15_sign::<sha2::Sha256>(policy).expect(SIGNS)
            }
            (Signing::Ecdsa(private, _), hash) => {
                let signature: DerSignature =
                    private.sign_prehash(&digest(policy, hash)).expect(SIGNS);
                signature.as_bytes().to_vec()
            }
        }
    }

    fn verifies(&self, policy: &[u8], signature: &[u8], hash: Hash) -> bool {
        match &self.signing {
            Signing::Rsa(_, public) => match hash {
                Hash::Sha1 => public.pkcs1v15_verify::<sha1::Sha1>(policy, signature),
                Hash::Sha256 => public.pkcs1v15_verify::<sha2::Sha256>(policy, signature),
            }
            .is_ok(),
            Signing::Ecdsa(_, public) => DerSignature::from_bytes(signature)
                .is_ok_and(|s| public.verify_prehash(&digest(policy, hash), &s).is_ok()),
        }
    }
}

fn ecdsa(private: SigningKey) -> Signing {
    let public = *private.verifying_key();
    Signing::Ecdsa(private, public)
}

fn digest(message: &[u8], hash: Hash) -> Vec<u8> {
    match hash {
        Hash::Sha1 => sha1::Sha1::digest(message).to_vec(),
        Hash::Sha256 => sha2::Sha256::digest(message).to_vec(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The PEM block labelled `label` (from its BEGIN line to its END line), if there is one:
/// `openssl ecparam -genkey` writes an EC PARAMETERS block before the key.
fn pem_block<'a>(pem: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let from = pem.find(&begin)?;
    let to = from + pem[from..].find(&end)? + end.len();
    Some(&pem[from..to])
}

fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

/// CloudFront's URL-safe base64: `+` `=` `/` as `-` `_` `~`.
fn url_b64(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .replace('+', "-")
        .replace('=', "_")
        .replace('/', "~")
}

fn from_url_b64(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text.replace('-', "+").replace('_', "=").replace('~', "/"))
        .ok()
}

/// The policy JSON for `resource` until `exp`, compact, in the order CloudFront documents.
fn policy(resource: &str, exp: u64) -> String {
    let resource = serde_json::to_string(resource).expect("a string serializes");
    format!(
        "{{\"Statement\":[{{\"Resource\":{resource},\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{exp}}}}}}}]}}"
    )
}

/// Signs references as CloudFront signed URLs for one run.
#[derive(Debug)]
pub struct CloudFrontSigner {
    key: CloudFrontKey,
    kind: PolicyKind,
    run: Run,
    /// Signatures made this run, by policy.
    signed: Mutex<HashMap<String, String>>,
}

impl CloudFrontSigner {
    /// The signer of a run at `now`.
    pub fn for_run(
        key: CloudFrontKey,
        kind: PolicyKind,
        lifetimes: &Lifetimes,
        now: u64,
        protection: impl Into<Protection>,
    ) -> CloudFrontSigner {
        CloudFrontSigner {
            key,
            kind,
            run: Run::new(lifetimes, now, protection),
            signed: Mutex::new(HashMap::new()),
        }
    }

    /// The signature of `policy`, made once per run.
    fn signature(&self, policy: &str) -> String {
        if let Some(sig) = self
            .signed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(policy)
        {
            return sig.clone();
        }
        let sig = url_b64(&self.key.sign(policy.as_bytes()));
        self.signed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(policy.to_owned(), sig.clone());
        sig
    }

    /// Signs `text` found in a page whose base URL is `base`.
    pub fn sign(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        let u = match self.run.prepare(text, base, encoding, is_signing_parameter) {
            Ok(u) => u,
            Err(outcome) => return outcome,
        };
        let exp = u.exp;
        let mut params = match self.kind {
            PolicyKind::Canned => {
                let sig = self.signature(&policy(u.url.as_str(), exp));
                format!("Expires={exp}&Signature={sig}")
            }
            PolicyKind::Prefix => {
                let Some(prefix) = self.run.prefix_of(&u.url) else {
                    return Outcome::LeftAlone;
                };
                let mut resource = u.url.clone();
                resource.set_query(None);
                resource.set_path(prefix.path());
                let policy = policy(&format!("{resource}*"), exp);
                let sig = self.signature(&policy);
                format!("Policy={}&Signature={sig}", url_b64(policy.as_bytes()))
            }
        };
        params.push_str("&Key-Pair-Id=");
        params.push_str(&self.key.key_pair_id);
        if self.key.hash == Hash::Sha256 {
            params.push_str("&Hash-Algorithm=SHA256");
        }
        let kid = self.key.key_pair_id.clone();
        Outcome::Signed(u.signed(&params, &kid))
    }
}

impl UrlPolicy for CloudFrontSigner {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        self.run.protection()
    }
}

#[derive(Deserialize)]
struct PolicyDoc {
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "Resource")]
    resource: String,
    #[serde(rename = "Condition")]
    condition: Condition,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "DateLessThan")]
    date_less_than: Epoch,
}

#[derive(Deserialize)]
struct Epoch {
    #[serde(rename = "AWS:EpochTime")]
    epoch: u64,
}

/// Verifies the signed `url` at `now` as CloudFront does; `Ok(exp)`.
pub fn verify(key: &CloudFrontKey, url: &Url, now: u64) -> Result<u64, NativeRejection> {
    let params: Vec<(&str, &str)> = (url.query().into_iter())
        .flat_map(|q| q.split('&'))
        .filter(|p| is_signing_parameter(p))
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    if params.is_empty() {
        return Err(NativeRejection::Unsigned);
    }
    let one = |name| at_most_once(&params, name, "a signing parameter appears twice");
    let missing =
        NativeRejection::Malformed("Signature, Key-Pair-Id and Expires or Policy are needed");
    let id = one("Key-Pair-Id")?.ok_or(missing.clone())?;
    if id != key.key_pair_id {
        return Err(NativeRejection::UnknownKey(id.to_owned()));
    }
    let hash = match one("Hash-Algorithm")? {
        None | Some("SHA1") => Hash::Sha1,
        Some("SHA256") => Hash::Sha256,
        Some(_) => {
            return Err(NativeRejection::Malformed(
                "Hash-Algorithm is SHA1 or SHA256",
            ));
        }
    };
    let signature = from_url_b64(one("Signature")?.ok_or(missing.clone())?).ok_or(
        NativeRejection::Malformed("Signature is not CloudFront's base64"),
    )?;
    let mut unsigned = url.clone();
    unsigned.set_fragment(None);
    let own = own_query(url.query(), is_signing_parameter);
    unsigned.set_query((!own.is_empty()).then_some(own.as_str()));
    let (policy_text, exp) = match (one("Expires")?, one("Policy")?) {
        (Some(expires), None) => {
            let exp: u64 = expires
                .parse()
                .map_err(|_| NativeRejection::Malformed("Expires is not Unix seconds"))?;
            (policy(unsigned.as_str(), exp), exp)
        }
        (None, Some(encoded)) => {
            let bytes = from_url_b64(encoded).ok_or(NativeRejection::Malformed(
                "Policy is not CloudFront's base64",
            ))?;
            let doc: PolicyDoc = serde_json::from_slice(&bytes)
                .map_err(|_| NativeRejection::Malformed("Policy is not a CloudFront policy"))?;
            let [statement] = doc.statement.as_slice() else {
                return Err(NativeRejection::Malformed(
                    "Policy has more than one statement",
                ));
            };
            if !wildcard(
                statement.resource.as_bytes(),
                unsigned.as_str().as_bytes(),
                true,
            ) {
                return Err(NativeRejection::BadSignature);
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| NativeRejection::Malformed("Policy is not UTF-8"))?;
            (text, statement.condition.date_less_than.epoch)
        }
        _ => return Err(missing),
    };
    if now >= exp {
        return Err(NativeRejection::Expired { exp });
    }
    if key.verifies(policy_text.as_bytes(), &signature, hash) {
        Ok(exp)
    } else {
        Err(NativeRejection::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_match_as_cloudfront_matches_them() {
        let glob = |p: &[u8], t: &[u8]| wildcard(p, t, true);
        assert!(glob(
            b"https://d.net/media/*",
            b"https://d.net/media/a.jpg?w=1"
        ));
        assert!(!glob(
            b"https://d.net/media/*",
            b"https://d.net/mediax/a.jpg"
        ));
        assert!(glob(b"https://d.net/a?.jpg", b"https://d.net/ab.jpg"));
        assert!(!glob(b"https://d.net/a.jpg", b"https://d.net/a.jpgx"));
    }

    #[test]
    fn cloudfront_base64_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = url_b64(&bytes);
        assert!(!text.contains(['+', '=', '/']));
        assert_eq!(from_url_b64(&text).unwrap(), bytes);
    }

    #[test]
    fn keys_that_cloudfront_would_refuse_are_named() {
        let h = Hash::Sha1;
        assert_eq!(
            CloudFrontKey::from_pem(
                "K",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
                h
            )
            .unwrap_err(),
            KeyProblem::Encrypted
        );
        assert_eq!(
            CloudFrontKey::from_pem(
                "K",
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
                h
            )
            .unwrap_err(),
            KeyProblem::NotPem
        );
        assert_eq!(
            CloudFrontKey::from_pem("K", "TODO", h).unwrap_err(),
            KeyProblem::NotPem
        );
        assert!(format!("{:?}", KeyProblem::NotPem).contains("NotPem"));
    }

    /// `openssl ecparam -name prime256v1 -genkey`: parameters, then the SEC1 key.
    const SEC1_P256: &str = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEICzsrCUXsHUIrgrg7lseM8P3iic2Qe2wYC6exCxDTSx7oAoGCCqGSM49\nAwEHoUQDQgAEt1LWkO1jfVKPvoPf8iQ8ckpgUlNlniF+UuW6RGsNiA4Q9DoK5TyE\nG88CTdJw1g983A6cmBCdvlOW+wQ133bVYA==\n-----END EC PRIVATE KEY-----\n";
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` (the CloudFront fixture's
    /// test key).
    const PKCS8_P256: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUf7+Pp2p+lzjOXa2\nRhqNqBewzk8xU24+hjIPvREwBi+hRANCAAQb2SaDPvZsz5enSCnVRffnNd75xZjH\nRARQOxETgmBQofAS4CiQPamP8vVC3GJQ2USW1KWhZ1VOD0L2yEYW7C7G\n-----END PRIVATE KEY-----\n";
    /// `openssl ecparam -name secp384r1 -genkey -noout`.
    const SEC1_P384: &str = "-----BEGIN EC PRIVATE KEY-----\nMIGkAgEBBDAqQ9e13s/l0brDmA9h1jLfzYfEizTdXVFbNzsk3Gj7cvTR/BUYCcs9\ny3DTW0Z/c/agBwYFK4EEACKhZANiAARqmtyy1XBk0KmwjS6XXAnaXiRohK9w0ABe\n6uS6LZxMHqg+pAQl/zmTg+Yy77DF2PXZvoJAc3M1p1OSsKRWITCxTuMp4UblvXEA\nr6IJ2pY7BGrM4N8IPErpWElQAc8IKlk=\n-----END EC PRIVATE KEY-----\n";

    #[test]
    fn ecdsa_p256_keys_sign_deterministically_and_verify() {
        for (pem, hash) in [(SEC1_P256, Hash::Sha1), (PKCS8_P256, Hash::Sha256)] {
            let key = CloudFrontKey::from_pem("K", pem, hash).unwrap();
            let policy = policy("https://d.net/media/a.jpg", 1_715_000_000);
            let signature = key.sign(policy.as_bytes());
            // DER: a SEQUENCE of two INTEGERs, at most 72 bytes for P-256.
            assert_eq!(signature[0], 0x30);
            assert!(signature.len() <= 72);
            assert_eq!(
                key.sign(policy.as_bytes()),
                signature,
                "RFC 6979: no random nonce"
            );
            assert!(key.verifies(policy.as_bytes(), &signature, hash));
            let other = if hash == Hash::Sha1 {
                Hash::Sha256
            } else {
                Hash::Sha1
            };
            assert!(!key.verifies(policy.as_bytes(), &signature, other));
            assert!(!key.verifies(b"{}", &signature, hash));
            assert!(!key.verifies(policy.as_bytes(), &signature[1..], hash));
        }
        assert_eq!(
            CloudFrontKey::from_pem("K", SEC1_P384, Hash::Sha1).unwrap_err(),
            KeyProblem::Curve
        );
    }
}
