//! A verifier over any native CDN scheme (spec §16), and the auditor that `rendorix check` runs
//! with it. Each scheme's format is in its own module (`s3`, `cloudfront`, …); what they share
//! underneath is in `schemes`.

use encoding_rs::Encoding;
use url::Url;

use crate::core::akamai::{self, AkamaiKey};
use crate::core::bunny::{self, BunnyKey};
use crate::core::cloudfront::{self, CloudFrontKey};
use crate::core::expiry::PerRule;
use crate::core::google::{self, GoogleKey};
use crate::core::policy::{Outcome, Refusal, SignedUrl, UrlPolicy};
use crate::core::rules::Protection;
use crate::core::s3::{self, Credentials};
use crate::core::schemes::{NativeRejection, own_query};
use crate::core::triple::Reference;
use crate::core::urls::resolve;

/// Verifies URLs of one native scheme with its key material.
#[derive(Debug, Clone)]
pub enum NativeVerifier {
    /// S3 presigned URLs.
    S3 {
        /// The access key.
        credentials: Credentials,
        /// The buckets' region.
        region: String,
    },
    /// CloudFront signed URLs.
    CloudFront(Box<CloudFrontKey>),
    /// Cloud CDN signed URLs.
    Google(GoogleKey),
    /// Bunny token authentication.
    Bunny(BunnyKey),
    /// Akamai Auth Token 2.0 query tokens.
    Akamai(AkamaiKey),
}

impl NativeVerifier {
    /// Verifies the absolute `url` at `now`, as the CDN does; `Ok(exp)`.
    pub fn verify(&self, url: &Url, now: u64) -> Result<u64, NativeRejection> {
        match self {
            NativeVerifier::S3 {
                credentials,
                region,
            } => s3::verify_url(credentials, region, url, now),
            NativeVerifier::CloudFront(key) => cloudfront::verify(key, url, now),
            NativeVerifier::Google(key) => google::verify(key, url, now),
            NativeVerifier::Bunny(key) => bunny::verify(key, url, now),
            NativeVerifier::Akamai(key) => akamai::verify(key, url, now),
        }
    }

    /// The id of the key: the S3 access key id, the CloudFront key pair id, the Cloud CDN key
    /// name; `bunny` and `akamai` (their keys have no id).
    pub fn key_id(&self) -> &str {
        match self {
            NativeVerifier::S3 { credentials, .. } => credentials.access_key_id(),
            NativeVerifier::CloudFront(key) => key.key_pair_id(),
            NativeVerifier::Google(key) => key.name(),
            NativeVerifier::Bunny(_) => "bunny",
            NativeVerifier::Akamai(_) => "akamai",
        }
    }

    /// Whether a query parameter (`name=value`) belongs to the scheme's signature.
    pub fn is_own_parameter(&self, param: &str) -> bool {
        match self {
            NativeVerifier::S3 { .. } => s3::is_amz(param),
            NativeVerifier::CloudFront(_) => cloudfront::is_signing_parameter(param),
            NativeVerifier::Google(_) => google::is_signing_parameter(param),
            NativeVerifier::Bunny(_) => bunny::is_signing_parameter(param),
            NativeVerifier::Akamai(_) => akamai::is_signing_parameter(param),
        }
    }
}

/// Audits references as the CDN would verify them, for `rendorix check`.
#[derive(Debug, Clone)]
pub struct NativeChecker {
    verifier: NativeVerifier,
    now: u64,
    /// A link must not expire before this, per expiry rule.
    must_outlive: PerRule<u64>,
    protection: Protection,
}

impl NativeChecker {
    /// A checker for time `now`; links must stay valid until `must_outlive` (per expiry rule).
    pub fn new(
        verifier: NativeVerifier,
        now: u64,
        must_outlive: impl Into<PerRule<u64>>,
        protection: impl Into<Protection>,
    ) -> NativeChecker {
        NativeChecker {
            verifier,
            now,
            must_outlive: must_outlive.into(),
            protection: protection.into(),
        }
    }

    /// Checks `text` found in a page whose base URL is `base`.
    pub fn check(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        let r = Reference::split(text);
        if r.head.is_empty() && r.query.is_none() {
            return Outcome::LeftAlone;
        }
        let Ok(url) = resolve(text.trim_matches(|c: char| c <= ' '), base, encoding) else {
            return Outcome::LeftAlone;
        };
        if !self.protection.protects(&url) {
            return Outcome::LeftAlone;
        }
        let must_outlive = *self.must_outlive.get(&url);
        match self.verifier.verify(&url, self.now) {
            Ok(exp) if exp < must_outlive => {
                Outcome::Failed(Refusal::ExpiresTooSoon { exp, must_outlive })
            }
            Ok(exp) => {
                let own = own_query(url.query(), |p| self.verifier.is_own_parameter(p));
                let target = if own.is_empty() {
                    url.path().to_owned()
                } else {
                    format!("{}?{own}", url.path())
                };
                Outcome::Signed(SignedUrl {
                    text: text.to_owned(),
                    original: r.unsigned(),
                    target,
                    exp,
                    due: exp,
                    kid: self.verifier.key_id().to_owned(),
                })
            }
            Err(rejection) => Outcome::Failed(rejection.refusal()),
        }
    }
}

impl UrlPolicy for NativeChecker {
    fn judge(&self, text: &str, base: &Url, encoding: &'static Encoding) -> Outcome {
        self.check(text, base, encoding)
    }

    fn protection(&self) -> &Protection {
        &self.protection
    }
}
