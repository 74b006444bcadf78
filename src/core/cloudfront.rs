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
//! botocore's `CloudFrontSigner` reproduces every URL byte for byte in CI.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use encoding_rs::Encoding;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use serde::Deserialize;
use url::Url;

use crate::core::expiry::{Lifetimes, PerRule};
use crate::core::policy::{Outcome, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::schemes::{NativeRejection, Unsigned, own_query, wildcard};

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
    /// An elliptic-curve key.
    Ecdsa,
    /// Not an RSA private key in PEM.
    NotPem,
    /// An RSA key of another size than CloudFront accepts.
    Size(usize),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::Encrypted => f.write_str("the private key is protected by a passphrase; give rendorix the unencrypted PEM (openssl pkey -in key.pem -out plain.pem) through the environment only"),
            KeyProblem::Ecdsa => f.write_str("the private key is an ECDSA key, which this release does not sign with yet; create an RSA 2048 key (openssl genrsa -out private_key.pem 2048) and add its public key to the key group"),
            KeyProblem::NotPem => f.write_str("the value is not an RSA private key in PEM (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"),
            KeyProblem::Size(bits) => write!(f, "the RSA key has {bits} bits; CloudFront trusts RSA keys of 2048 bits"),
        }
    }
}

/// A CloudFront key pair: its id in the key group, its private key, and the hash it signs with.
#[derive(Clone)]
pub struct CloudFrontKey {
    key_pair_id: String,
    private: PrivateKey,
    public: PublicKey,
    hash: Hash,
}

impl fmt::Debug for CloudFrontKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloudFrontKey({}, private key hidden)", self.key_pair_id)
    }
}

impl CloudFrontKey {
    /// The key `key_pair_id` from `pem` (PKCS#8 or PKCS#1), signing with `hash`.
    pub fn from_pem(key_pair_id: &str, pem: &str, hash: Hash) -> Result<CloudFrontKey, KeyProblem> {
        if pem.contains("ENCRYPTED") {
            return Err(KeyProblem::Encrypted);
        }
        if pem.contains("BEGIN EC PRIVATE KEY") {
            return Err(KeyProblem::Ecdsa);
        }
        let private = PrivateKey::from_pkcs8_pem(pem.trim())
            .or_else(|_| PrivateKey::from_pkcs1_pem(pem.trim()))
            .map_err(|_| {
                // A PKCS#8 key of another algorithm: most likely P-256.
                if pem.contains("BEGIN PRIVATE KEY")
                    && STANDARD.decode(pem_body(pem)).is_ok_and(|der| {
                        der.windows(7).any(|w| {
                            w == [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]
                                || w == [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d]
                        })
                    })
                {
                    KeyProblem::Ecdsa
                } else {
                    KeyProblem::NotPem
                }
            })?;
        let bits = private.n().bit_width() as usize;
        if bits != 2048 {
            return Err(KeyProblem::Size(bits));
        }
        let public = private.to_public_key();
        Ok(CloudFrontKey {
            key_pair_id: key_pair_id.to_owned(),
            private,
            public,
            hash,
        })
    }

    /// The key pair id.
    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    fn sign(&self, policy: &[u8]) -> Vec<u8> {
        let signed = match self.hash {
            Hash::Sha1 => self.private.pkcs1v15_sign::<sha1::Sha1>(policy),
            Hash::Sha256 => self.private.pkcs1v15_sign::<sha2::Sha256>(policy),
        };
        signed.expect("a 2048-bit key signs any message")
    }

    fn verifies(&self, policy: &[u8], signature: &[u8], hash: Hash) -> bool {
        match hash {
            Hash::Sha1 => self.public.pkcs1v15_verify::<sha1::Sha1>(policy, signature),
            Hash::Sha256 => self
                .public
                .pkcs1v15_verify::<sha2::Sha256>(policy, signature),
        }
        .is_ok()
    }
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
    exps: PerRule<(u64, u64)>,
    protection: Protection,
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
            exps: lifetimes.map(|e| (e.exp_for(now), e.needed())),
            protection: protection.into(),
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
        let u =
            match Unsigned::prepare(text, base, encoding, &self.protection, is_signing_parameter) {
                Ok(u) => u,
                Err(outcome) => return outcome,
            };
        let (exp, needed) = *self.exps.get(&u.url);
        let mut params = match self.kind {
            PolicyKind::Canned => {
                let sig = self.signature(&policy(u.url.as_str(), exp));
                format!("Expires={exp}&Signature={sig}")
            }
            PolicyKind::Prefix => {
                let Some(prefix) = self.protection.matches().iter().find(|m| m.matches(&u.url))
                else {
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
        Outcome::Signed(u.signed(&params, exp, exp.saturating_sub(needed), &kid))
    }
}

impl UrlPolicy for CloudFrontSigner {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.sign(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        &self.protection
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
    let one = |name: &str| -> Result<Option<&str>, NativeRejection> {
        let mut found = params.iter().filter(|(n, _)| *n == name);
        match (found.next(), found.next()) {
            (first, None) => Ok(first.map(|(_, v)| *v)),
            _ => Err(NativeRejection::Malformed(
                "a signing parameter appears twice",
            )),
        }
    };
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
            KeyProblem::Ecdsa
        );
        assert_eq!(
            CloudFrontKey::from_pem("K", "TODO", h).unwrap_err(),
            KeyProblem::NotPem
        );
        assert!(format!("{:?}", KeyProblem::NotPem).contains("NotPem"));
    }
}
