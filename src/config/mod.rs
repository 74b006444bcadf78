//! `rendorix.toml`: parsing, defaults and validation (spec §10).
//!
//! Every problem is reported with the file, the line and column of the offending key or value,
//! and what to write instead. Validation that spans several keys (the expiry rule against
//! `max_link_lifetime`) happens here too, so that a bad config is refused before anything is read
//! or written.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use url::Url;

use crate::core::akamai::TokenKind;
use crate::core::bunny;
use crate::core::cloudfront::{Hash, PolicyKind};
use crate::core::duration::Duration;
use crate::core::expiry::{Expiry, ExpiryRule, Lifetimes};
use crate::core::keys::valid_kid;
use crate::core::rules::Protection;
use crate::core::urls::MatchPrefix;
use crate::core::verify::Limits;

mod raw;

use raw::{RawAkamai, RawBunny, RawConfig, RawExpiry, RawExpiryRule, RawSign};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it came from (for messages).
    pub path: PathBuf,
    /// SHA-256 (hex) of the config text: the shards of a run must all have read the same.
    pub digest: String,
    /// Where the pages are served; always ends in `/`.
    pub base_url: Url,
    /// The site folder used when the command line names none.
    pub site_dir: PathBuf,
    /// Which URLs are protected: `sign.match`, `sign.exclude`, `sign.extensions`.
    pub protection: Protection,
    /// The key that signs (`sign.key_id`; the rendorix scheme).
    pub key_id: String,
    /// The URL format (`sign.scheme`, spec §16).
    pub scheme: Scheme,
    /// The environment variable that holds the keys.
    pub keys_env: String,
    /// Expiry settings (spec §4) and the per-path rules that override them (spec §17).
    pub expiry: Lifetimes,
    /// Extra attributes to rewrite on any element, e.g. `data-src`.
    pub extra_attributes: Vec<String>,
    /// Also sign `og:image` / `twitter:image` meta content.
    pub social_meta: bool,
    /// Where the manifest is written.
    pub manifest_path: PathBuf,
    /// Inject the refresh script into pages with signed URLs (`[refresh] enabled`).
    pub refresh: bool,
    /// Where `rendorix revoke` keeps the revocation list and writes the edges' deny-lists
    /// (`revoke.dir`).
    pub revoked_dir: PathBuf,
}

/// A signing scheme (spec §16) and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `exp`, `kid` and `sig` (spec §2), verified by rendorix's verifiers.
    Rendorix,
    /// Amazon S3 presigned URLs, verified by S3.
    S3(S3Settings),
    /// CloudFront signed URLs, verified by CloudFront's trusted key groups.
    CloudFront(CloudFrontSettings),
    /// Cloud CDN signed URLs, verified by Cloud CDN with the backend's named key.
    Google(GoogleSettings),
    /// Bunny CDN token authentication, verified by the pull zone.
    Bunny(BunnySettings),
    /// Akamai Auth Token 2.0 query tokens, verified by the Akamai edge.
    Akamai(AkamaiSettings),
}

/// `[sign.bunny]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BunnySettings {
    /// The environment variable with the pull zone's URL token authentication key.
    pub key_env: String,
    /// A token per URL, or one per prefix (`token_path`).
    pub token: bunny::TokenKind,
    /// SHA-256 (Bunny's documented advanced token) or HMAC-SHA256 (`HS256-`).
    pub algorithm: bunny::Algorithm,
}

/// `[sign.akamai]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkamaiSettings {
    /// The environment variable with the key, hexadecimal.
    pub key_env: String,
    /// A token per prefix (`acl`) or per URL (`url`).
    pub token: TokenKind,
}

/// `[sign.google]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleSettings {
    /// The key's name on the backend (`KeyName`).
    pub key_name: String,
    /// The environment variable with the key, base64url.
    pub key_env: String,
}

/// `[sign.cloudfront]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFrontSettings {
    /// The public key's id in the key group (`Key-Pair-Id`).
    pub key_pair_id: String,
    /// The environment variable with the private key, PEM.
    pub private_key_env: String,
    /// Canned policy per URL, or one custom policy per prefix.
    pub policy: PolicyKind,
    /// The hash the key signs with.
    pub hash: Hash,
}

impl Scheme {
    /// Its name in `sign.scheme`.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Rendorix => "rendorix",
            Scheme::S3(_) => "s3",
            Scheme::CloudFront(_) => "cloudfront",
            Scheme::Google(_) => "google",
            Scheme::Bunny(_) => "bunny",
            Scheme::Akamai(_) => "akamai",
        }
    }
}

/// `[sign.s3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The buckets' region.
    pub region: String,
    /// The environment variable with the access key id.
    pub access_key_id_env: String,
    /// The environment variable with the secret access key.
    pub secret_access_key_env: String,
}

/// A config problem: which file, where in it, and what to do.
#[derive(Debug)]
pub struct ConfigError {
    /// The config file.
    pub path: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub location: Option<(usize, usize)>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.path.display(), self.message)
            }
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            location: None,
            message: if path.is_dir() {
                format!(
                    "is a folder; give the config file, e.g. --config {}",
                    path.join("rendorix.toml").display()
                )
            } else if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "no config file at {}; write one from the built site with `rendorix init SITE_DIR`, or name one with --config FILE",
                    shown.display()
                )
            } else {
                format!("cannot read the config file: {e}")
            },
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let at = Locator { text, path };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().to_owned();
            let message = match message.strip_prefix("unknown field") {
                Some(rest) => format!("unknown key{rest}; remove it or fix its spelling"),
                None => message,
            };
            at.error(e.span().unwrap_or(0..0), message)
        })?;
        let base_url = base_url(&raw.site.base_url, &at)?;
        let protection = protection(&raw.sign, &base_url, &at)?;
        let scheme = scheme(&raw.sign, &protection, &at)?;
        let (key_id, keys_env) = signing_key(&raw.sign, &scheme, &at)?;
        let default = expiry(&raw.expiry, &at)?;

        let rules = (raw.expiry.rule.iter())
            .map(|r| expiry_rule(r, &default, &protection, &base_url, &at))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, r) in rules.iter().enumerate() {
            if rules[..i].iter().any(|other| other.prefix == r.prefix) {
                return Err(at.error(
                    raw.expiry.rule[i].prefix.span(),
                    format!(
                        "a second [[expiry.rule]] for \"{}\"; merge the two rules",
                        r.text
                    ),
                ));
            }
        }
        let per_prefix = matches!(&scheme, Scheme::CloudFront(cf) if cf.policy == PolicyKind::Prefix)
            || matches!(&scheme, Scheme::Akamai(a) if a.token == TokenKind::Acl)
            || matches!(&scheme, Scheme::Bunny(b) if b.token == bunny::TokenKind::Directory);
        if per_prefix && let Some(rule) = raw.expiry.rule.first() {
            return Err(at.error(
                rule.prefix.span(),
                "an [[expiry.rule]] needs each URL signed on its own: with one signature per prefix (sign.cloudfront.policy = \"prefix\", sign.akamai.token = \"acl\", sign.bunny.token = \"directory\") the prefix's would give these URLs its lifetime; sign each URL (\"canned\", \"url\")".into(),
            ));
        }
        let expiry = Lifetimes::new(default, rules);
        if let Scheme::S3(_) = scheme {
            for (_, e) in expiry.all() {
                s3_lifetime(&e, &raw.expiry, &at)?;
            }
        }
        let extra_attributes = extra_attributes(&raw.rewrite.extra_attributes, &at)?;
        if raw.refresh.enabled && scheme != Scheme::Rendorix {
            return Err(at.error(
                0..0,
                format!(
                    "[refresh] works with sign.scheme = \"rendorix\" only: the refresh worker recognises rendorix's signatures, not {}'s; turn refresh off or use the rendorix scheme",
                    scheme.name()
                ),
            ));
        }
        let folder = path.parent().unwrap_or(Path::new(""));
        Ok(Config {
            path: path.to_owned(),
            digest: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
            base_url,
            site_dir: folder.join(raw.site.dir),
            protection,
            key_id,
            scheme,
            keys_env,
            expiry,
            extra_attributes,
            social_meta: raw.rewrite.social_meta,
            manifest_path: folder.join(raw.manifest.path),
            refresh: raw.refresh.enabled,
            revoked_dir: folder.join(raw.revoke.dir),
        })
    }

    /// The verifier's limits this config sets: its grace and link lifetime.
    pub fn limits(&self) -> Limits {
        Limits {
            max_lifetime: self.expiry.max_link_lifetime().secs(),
            ..Limits::of(&self.expiry.default)
        }
    }
}

/// Turns a span of the config text into a located [`ConfigError`].
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    /// An error at `span` (`0..0`: a default value, which has no place in the file).
    fn error(&self, span: Range<usize>, message: String) -> ConfigError {
        ConfigError {
            path: self.path.to_owned(),
            location: (span != (0..0)).then(|| line_col(self.text, span.start)),
            message,
        }
    }
}

/// `site.base_url`: an absolute http(s) URL without query or fragment, ending in `/`.
fn base_url(raw: &Spanned<String>, at: &Locator<'_>) -> Result<Url, ConfigError> {
    let span = raw.span();
    let mut base_url = Url::parse(raw.get_ref()).map_err(|e| {
        at.error(
            span.clone(),
            format!(
                "site.base_url \"{}\" is not an absolute URL ({e}); write the site's address, e.g. \"https://www.example.com/\"",
                raw.get_ref()
            ),
        )
    })?;
    if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
        return Err(at.error(
            span,
            format!("site.base_url \"{base_url}\" must be an http:// or https:// address"),
        ));
    }
    if base_url.query().is_some() || base_url.fragment().is_some() {
        return Err(at.error(
            span,
            "site.base_url must not have a query or #fragment".into(),
        ));
    }
    // A base_url without a trailing slash names the site's folder all the same.
    if !base_url.path().ends_with('/') {
        base_url.set_path(&format!("{}/", base_url.path()));
    }
    Ok(base_url)
}

/// `sign.match` (at least one prefix), `sign.exclude` and `sign.extensions`.
fn protection(raw: &RawSign, base_url: &Url, at: &Locator<'_>) -> Result<Protection, ConfigError> {
    let matches = prefixes("sign.match", raw.matches.get_ref(), base_url, at)?;
    if matches.is_empty() {
        return Err(at.error(
            raw.matches.span(),
            "sign.match is empty, so nothing would be signed; list the image prefixes, e.g. [\"https://img.example.com/\", \"/media/\"]".into(),
        ));
    }
    let exclude = prefixes("sign.exclude", &raw.exclude, base_url, at)?;
    let mut extensions = Vec::new();
    for entry in &raw.extensions {
        let e = entry.get_ref();
        let bare = e.strip_prefix('.').unwrap_or(e);
        if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(at.error(
                entry.span(),
                format!(
                    "sign.extensions entry \"{e}\" is not a file extension; write letters and digits, e.g. \"webp\""
                ),
            ));
        }
        extensions.push(bare);
    }
    Ok(Protection::new(matches, exclude, &extensions))
}

/// The prefixes of `key`, each absolute or a path on `base_url`'s origin.
fn prefixes(
    key: &str,
    entries: &[Spanned<String>],
    base_url: &Url,
    at: &Locator<'_>,
) -> Result<Vec<MatchPrefix>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            MatchPrefix::parse(entry.get_ref(), base_url).map_err(|m| {
                at.error(
                    entry.span(),
                    format!("{key} entry \"{}\": {m}", entry.get_ref()),
                )
            })
        })
        .collect()
}

/// `sign.scheme` and its table: for `s3`, every `sign.match` prefix a bucket URL in its region.
fn scheme(raw: &RawSign, protection: &Protection, at: &Locator<'_>) -> Result<Scheme, ConfigError> {
    let Some(name) = &raw.scheme else {
        return Ok(Scheme::Rendorix);
    };
    match name.get_ref().as_str() {
        "rendorix" => Ok(Scheme::Rendorix),
        "s3" => {
            let Some(s3) = &raw.s3 else {
                return Err(at.error(
                    name.span(),
                    "sign.scheme = \"s3\" needs a [sign.s3] table with the buckets' region, e.g. region = \"eu-west-1\"".into(),
                ));
            };
            let region = s3.region.get_ref();
            if region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(at.error(
                    s3.region.span(),
                    format!("sign.s3.region \"{region}\" is not an AWS region such as \"eu-west-1\""),
                ));
            }
            for (m, entry) in protection.matches().iter().zip(raw.matches.get_ref()) {
                if let Err(why) = s3_bucket_prefix(m, region) {
                    return Err(at.error(
                        entry.span(),
                        format!("sign.match entry \"{}\": {why}", entry.get_ref()),
                    ));
                }
            }
            Ok(Scheme::S3(S3Settings {
                region: region.clone(),
                access_key_id_env: s3.access_key_id_env.clone(),
                secret_access_key_env: s3.secret_access_key_env.clone(),
            }))
        }
        "cloudfront" => cloudfront_settings(raw, name, protection, at).map(Scheme::CloudFront),
        "google" => google_settings(raw, name, at).map(Scheme::Google),
        "akamai" => akamai_settings(raw, protection, at).map(Scheme::Akamai),
        "bunny" => bunny_settings(raw, protection, at).map(Scheme::Bunny),
        other => Err(at.error(
            name.span(),
            format!("sign.scheme \"{other}\" is not a scheme; write \"rendorix\", \"s3\", \"cloudfront\", \"google\", \"bunny\" or \"akamai\""),
        )),
    }
}

/// `[sign.cloudfront]`: a key pair id, and for a prefix policy, prefixes that end in `/` and
/// hold no expiry rule (the one policy of a prefix would give its URLs the prefix's lifetime).
fn cloudfront_settings(
    raw: &RawSign,
    name: &Spanned<String>,
    protection: &Protection,
    at: &Locator<'_>,
) -> Result<CloudFrontSettings, ConfigError> {
    let Some(cf) = &raw.cloudfront else {
        return Err(at.error(
            name.span(),
            "sign.scheme = \"cloudfront\" needs a [sign.cloudfront] table with the key_pair_id of the key group's public key".into(),
        ));
    };
    let id = cf.key_pair_id.get_ref();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(at.error(
            cf.key_pair_id.span(),
            format!("sign.cloudfront.key_pair_id \"{id}\" is not a CloudFront public key id such as \"K2JCJMDEHXQW5F\""),
        ));
    }
    let (policy, span) = choice(
        cf.policy.as_ref(),
        "sign.cloudfront.policy",
        &[
            ("canned", PolicyKind::Canned),
            ("prefix", PolicyKind::Prefix),
        ],
        "\"canned\" (a policy per URL) or \"prefix\" (one per sign.match prefix)",
        at,
    )?;
    if let (PolicyKind::Prefix, Some(span)) = (policy, span) {
        per_prefix_wildcards(protection, "policy = \"prefix\"", span, at)?;
    }
    let (hash, _) = choice(
        cf.hash_algorithm.as_ref(),
        "sign.cloudfront.hash_algorithm",
        &[("SHA1", Hash::Sha1), ("SHA256", Hash::Sha256)],
        "\"SHA1\" or \"SHA256\"",
        at,
    )?;
    Ok(CloudFrontSettings {
        key_pair_id: id.clone(),
        private_key_env: cf.private_key_env.clone(),
        policy,
        hash,
    })
}

/// `[sign.google]`: a key name as Cloud CDN writes them (RFC 1035: a lower-case letter, then
/// lower-case letters, digits and hyphens, 63 at most, not ending in a hyphen).
fn google_settings(
    raw: &RawSign,
    name: &Spanned<String>,
    at: &Locator<'_>,
) -> Result<GoogleSettings, ConfigError> {
    let Some(g) = &raw.google else {
        return Err(at.error(
            name.span(),
            "sign.scheme = \"google\" needs a [sign.google] table with the key_name of the backend's signed URL key".into(),
        ));
    };
    let key_name = g.key_name.get_ref();
    let b = key_name.as_bytes();
    let valid = (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    if !valid {
        return Err(at.error(
            g.key_name.span(),
            format!("sign.google.key_name \"{key_name}\" is not a Cloud CDN key name such as \"key1\" (lower-case letters, digits and hyphens, starting with a letter)"),
        ));
    }
    Ok(GoogleSettings {
        key_name: key_name.clone(),
        key_env: g.key_env.clone(),
    })
}

/// A signature per prefix grants `PREFIX*`: every `sign.match` prefix must end in `/`, or it
/// would also grant paths that only start like it.
fn per_prefix_wildcards(
    protection: &Protection,
    setting: &str,
    span: Range<usize>,
    at: &Locator<'_>,
) -> Result<(), ConfigError> {
    match protection.matches().iter().find(|m| !m.path().ends_with('/')) {
        Some(m) => Err(at.error(
            span,
            format!(
                "{setting} grants \"{}*\", which also covers paths that only start like it; end every sign.match prefix with '/'",
                m.path()
            ),
        )),
        None => Ok(()),
    }
}

/// The value that setting `key` names among `choices` (the first when it is absent), with where
/// it was written; an error there saying it `is` one of them otherwise.
fn choice<T: Copy>(
    setting: Option<&Spanned<String>>,
    key: &str,
    choices: &[(&str, T)],
    is: &str,
    at: &Locator<'_>,
) -> Result<(T, Option<Range<usize>>), ConfigError> {
    let Some(setting) = setting else {
        return Ok((choices[0].1, None));
    };
    match choices.iter().find(|(name, _)| name == setting.get_ref()) {
        Some((_, value)) => Ok((*value, Some(setting.span()))),
        None => Err(at.error(
            setting.span(),
            format!("{key} \"{}\" is {is}", setting.get_ref()),
        )),
    }
}

/// `[sign.akamai]` (optional): the key variable, and the token form; an `acl` token per prefix
/// needs prefixes that end in `/`.
fn akamai_settings(
    raw: &RawSign,
    protection: &Protection,
    at: &Locator<'_>,
) -> Result<AkamaiSettings, ConfigError> {
    let default = RawAkamai::default();
    let a = raw.akamai.as_ref().unwrap_or(&default);
    let (token, span) = choice(
        a.token.as_ref(),
        "sign.akamai.token",
        &[("url", TokenKind::Url), ("acl", TokenKind::Acl)],
        "\"url\" (a token per URL) or \"acl\" (one per sign.match prefix)",
        at,
    )?;
    if let (TokenKind::Acl, Some(span)) = (token, span) {
        per_prefix_wildcards(protection, "token = \"acl\"", span, at)?;
    }
    Ok(AkamaiSettings {
        key_env: if a.key_env.is_empty() {
            "RENDORIX_AKAMAI_KEY".into()
        } else {
            a.key_env.clone()
        },
        token,
    })
}

/// `[sign.bunny]` (optional): the key variable, the token form (a `directory` token per prefix
/// needs prefixes that end in `/`) and the algorithm.
fn bunny_settings(
    raw: &RawSign,
    protection: &Protection,
    at: &Locator<'_>,
) -> Result<BunnySettings, ConfigError> {
    let default = RawBunny::default();
    let b = raw.bunny.as_ref().unwrap_or(&default);
    let (token, span) = choice(
        b.token.as_ref(),
        "sign.bunny.token",
        &[
            ("url", bunny::TokenKind::Url),
            ("directory", bunny::TokenKind::Directory),
        ],
        "\"url\" (a token per URL) or \"directory\" (one per sign.match prefix, with token_path)",
        at,
    )?;
    if let (bunny::TokenKind::Directory, Some(span)) = (token, span) {
        per_prefix_wildcards(protection, "token = \"directory\"", span, at)?;
    }
    let (algorithm, _) = choice(
        b.algorithm.as_ref(),
        "sign.bunny.algorithm",
        &[
            ("sha256", bunny::Algorithm::Sha256),
            ("hmac-sha256", bunny::Algorithm::HmacSha256),
        ],
        "\"sha256\" (Bunny's documented advanced token) or \"hmac-sha256\" (the HS256- tokens of its current libraries)",
        at,
    )?;
    Ok(BunnySettings {
        key_env: if b.key_env.is_empty() {
            "RENDORIX_BUNNY_KEY".into()
        } else {
            b.key_env.clone()
        },
        token,
        algorithm,
    })
}

/// Whether `m` names objects of an S3 bucket in `region`, by its virtual-hosted
/// (`BUCKET.s3.REGION.amazonaws.com`) or path-style (`s3.REGION.amazonaws.com/BUCKET/`) URL.
fn s3_bucket_prefix(m: &MatchPrefix, region: &str) -> Result<(), String> {
    let host = m.host();
    let fix = format!(
        "with sign.scheme = \"s3\" each prefix is a bucket URL, e.g. \"https://BUCKET.s3.{region}.amazonaws.com/\" or \"https://s3.{region}.amazonaws.com/BUCKET/\""
    );
    let Some(rest) = host.strip_suffix(".amazonaws.com") else {
        return Err(format!("{host} is not an S3 endpoint; {fix}"));
    };
    let (bucket, endpoint) = match rest.split_once(".s3") {
        Some((bucket, endpoint)) => (Some(bucket), format!("s3{endpoint}")),
        None => (None, rest.to_owned()),
    };
    let host_region = match endpoint.as_str() {
        "s3" => "us-east-1".to_owned(),
        e => match e.strip_prefix("s3.").or_else(|| e.strip_prefix("s3-")) {
            Some(r) if !r.starts_with("website") => r.to_owned(),
            _ => {
                return Err(format!(
                    "{host} is not an S3 REST endpoint (website endpoints take no signature); {fix}"
                ));
            }
        },
    };
    if host_region != region {
        return Err(format!(
            "{host} is in region {host_region}, but sign.s3.region is \"{region}\": a URL signed for one region is refused by the other"
        ));
    }
    if bucket.is_none() && m.path().trim_matches('/').is_empty() {
        return Err(format!("a path-style prefix names its bucket: {fix}"));
    }
    Ok(())
}

/// S3 refuses `X-Amz-Expires` over 7 days: the longest a URL can carry (`exp` rounded up,
/// `X-Amz-Date` rounded down) must fit.
fn s3_lifetime(e: &Expiry, raw: &RawExpiry, at: &Locator<'_>) -> Result<(), ConfigError> {
    let longest = e.needed() + 2 * e.exp_granularity.secs() - 2;
    if longest > crate::core::s3::MAX_EXPIRES {
        return Err(at.error(
            raw.exp_granularity.span(),
            format!(
                "with sign.scheme = \"s3\", X-Amz-Expires could reach {} (resign_interval + page_cache_ttl + open_page_allowance + up to two exp_granularity), more than the 7 days S3 accepts; shorten those durations",
                Duration(longest)
            ),
        ));
    }
    Ok(())
}

/// `sign.key_id` (required with the rendorix scheme) and `sign.keys_env`.
fn signing_key(
    raw: &RawSign,
    scheme: &Scheme,
    at: &Locator<'_>,
) -> Result<(String, String), ConfigError> {
    let Some(raw_kid) = &raw.key_id else {
        if *scheme != Scheme::Rendorix {
            return Ok((String::new(), raw.keys_env.get_ref().clone()));
        }
        return Err(at.error(
            0..0,
            "sign.key_id is missing; name the key that signs, e.g. key_id = \"k2026a\" (`rendorix keygen` makes one)".into(),
        ));
    };
    let key_id = raw_kid.get_ref().clone();
    if !valid_kid(&key_id) {
        return Err(at.error(
            raw_kid.span(),
            format!(
                "sign.key_id \"{key_id}\" must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'"
            ),
        ));
    }
    let keys_env = raw.keys_env.get_ref().clone();
    if keys_env.is_empty() || keys_env.contains(['=', '\0']) {
        return Err(at.error(
            raw.keys_env.span(),
            "sign.keys_env must name an environment variable".into(),
        ));
    }
    Ok((key_id, keys_env))
}

/// `[expiry]`: a granularity of at least a second, and links that cannot outlive
/// `max_link_lifetime`.
fn expiry(e: &RawExpiry, at: &Locator<'_>) -> Result<Expiry, ConfigError> {
    if e.exp_granularity.get_ref().0 == 0 {
        return Err(at.error(
            e.exp_granularity.span(),
            "expiry.exp_granularity must be at least \"1s\"".into(),
        ));
    }
    let expiry = Expiry {
        resign_interval: e.resign_interval,
        page_cache_ttl: e.page_cache_ttl,
        open_page_allowance: e.open_page_allowance,
        exp_granularity: *e.exp_granularity.get_ref(),
        max_link_lifetime: *e.max_link_lifetime.get_ref(),
        grace: e.grace,
    };
    if expiry.longest_lifetime() > expiry.max_link_lifetime.0 {
        return Err(at.error(
            e.max_link_lifetime.span(),
            format!(
                "links could live {} (resign_interval + page_cache_ttl + open_page_allowance, rounded up to exp_granularity), more than max_link_lifetime = {}; shorten those durations or raise max_link_lifetime",
                Duration(expiry.longest_lifetime()),
                expiry.max_link_lifetime
            ),
        ));
    }
    Ok(expiry)
}

/// One `[[expiry.rule]]`: a prefix that some protected URL lies under, and links that cannot
/// outlive its `max_link_lifetime`.
fn expiry_rule(
    r: &RawExpiryRule,
    default: &Expiry,
    protection: &Protection,
    base_url: &Url,
    at: &Locator<'_>,
) -> Result<ExpiryRule, ConfigError> {
    let text = r.prefix.get_ref();
    let prefix = MatchPrefix::parse(text, base_url).map_err(|m| {
        at.error(
            r.prefix.span(),
            format!("expiry.rule prefix \"{text}\": {m}"),
        )
    })?;
    if !protection.matches().iter().any(|m| m.overlaps(&prefix)) {
        return Err(at.error(
            r.prefix.span(),
            format!(
                "expiry.rule prefix \"{text}\" lies under no sign.match prefix, so it would decide no link; write a prefix of the protected images, e.g. \"/media/profiles/\""
            ),
        ));
    }
    let expiry = Expiry {
        open_page_allowance: r.open_page_allowance.unwrap_or(default.open_page_allowance),
        max_link_lifetime: r
            .max_link_lifetime
            .as_ref()
            .map_or(default.max_link_lifetime, |m| *m.get_ref()),
        ..*default
    };
    if expiry.longest_lifetime() > expiry.max_link_lifetime.0 {
        let span = r
            .max_link_lifetime
            .as_ref()
            .map_or(r.prefix.span(), Spanned::span);
        return Err(at.error(
            span,
            format!(
                "links under \"{text}\" could live {} (resign_interval + page_cache_ttl + its open_page_allowance, rounded up to exp_granularity), more than its max_link_lifetime = {}; shorten those durations or raise max_link_lifetime",
                Duration(expiry.longest_lifetime()),
                expiry.max_link_lifetime
            ),
        ));
    }
    Ok(ExpiryRule {
        text: text.clone(),
        prefix,
        open_page_allowance: expiry.open_page_allowance,
        max_link_lifetime: expiry.max_link_lifetime,
    })
}

/// `rewrite.extra_attributes`: attribute names, lowercased as HTML does.
fn extra_attributes(raw: &[Spanned<String>], at: &Locator<'_>) -> Result<Vec<String>, ConfigError> {
    raw.iter()
        .map(|name| {
            let n = name.get_ref();
            let ok = !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
            if ok {
                Ok(n.to_ascii_lowercase())
            } else {
                Err(at.error(
                    name.span(),
                    format!(
                        "rewrite.extra_attributes entry \"{n}\" is not an attribute name, e.g. \"data-src\""
                    ),
                ))
            }
        })
        .collect()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[site]
base_url = "https://www.example.com/"

[sign]
match = ["https://img.example.com/", "/media/"]
key_id = "k2026a"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("conf/rendorix.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_takes_spec_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.keys_env, "RENDORIX_KEYS");
        assert_eq!(c.expiry.default.needed(), 37 * 3600);
        assert_eq!(c.expiry.default.exp_granularity, Duration(3600));
        assert_eq!(c.expiry.default.grace, Duration(30));
        assert_eq!(c.manifest_path, Path::new("conf/rendorix-manifest.json"));
        assert_eq!(c.site_dir, Path::new("conf/public"));
        assert!(!c.social_meta);
    }

    #[test]
    fn base_url_without_trailing_slash_is_a_folder() {
        let c = parse(&MINIMAL.replace("https://www.example.com/", "https://example.com/docs"))
            .unwrap();
        assert_eq!(c.base_url.as_str(), "https://example.com/docs/");
    }

    #[test]
    fn unknown_key_names_the_key_and_its_line() {
        let e = error(&format!("{MINIMAL}\n[expiry]\nresign_intervall = \"1h\"\n"));
        assert!(
            e.starts_with("conf/rendorix.toml:10:1: unknown key `resign_intervall`"),
            "{e}"
        );
    }

    #[test]
    fn bad_duration_names_its_line() {
        let e = error(&format!("{MINIMAL}[expiry]\npage_cache_ttl = \"1 hour\"\n"));
        assert!(
            e.starts_with("conf/rendorix.toml:9:18: invalid duration \"1 hour\""),
            "{e}"
        );
    }

    #[test]
    fn relative_base_url_is_refused() {
        let e = error(&MINIMAL.replace("https://www.example.com/", "/blog/"));
        assert!(
            e.starts_with(
                "conf/rendorix.toml:3:12: site.base_url \"/blog/\" is not an absolute URL"
            ),
            "{e}"
        );
        let e = error(&MINIMAL.replace("https://www.example.com/", "ftp://example.com/"));
        assert!(e.contains("must be an http:// or https:// address"), "{e}");
    }

    #[test]
    fn lifetime_beyond_the_guard_is_refused() {
        let e = error(&format!(
            "{MINIMAL}[expiry]\nresign_interval = \"7d\"\nmax_link_lifetime = \"7d\"\n"
        ));
        assert!(
            e.starts_with("conf/rendorix.toml:10:21: links could live 7d 13h 59m 59s"),
            "{e}"
        );
    }

    #[test]
    fn zero_granularity_is_refused() {
        let e = error(&format!("{MINIMAL}[expiry]\nexp_granularity = \"0s\"\n"));
        assert!(e.contains("exp_granularity must be at least"), "{e}");
    }

    #[test]
    fn bad_key_id_and_match_are_refused_with_their_line() {
        let e = error(&MINIMAL.replace("\"k2026a\"", "\"k 2026\""));
        assert!(
            e.starts_with("conf/rendorix.toml:7:10: sign.key_id \"k 2026\""),
            "{e}"
        );
        let e = error(&MINIMAL.replace("\"/media/\"", "\"media/\""));
        assert!(
            e.starts_with("conf/rendorix.toml:6:38: sign.match entry \"media/\""),
            "{e}"
        );
        let e = error(&MINIMAL.replace("[\"https://img.example.com/\", \"/media/\"]", "[]"));
        assert!(e.contains("sign.match is empty"), "{e}");
    }

    #[test]
    fn missing_section_is_reported() {
        let e = error("[site]\nbase_url = \"https://x.org/\"\n");
        assert!(e.contains("missing field `sign`"), "{e}");
    }

    #[test]
    fn extensions_and_exclude_make_the_protection_rules() {
        let c = parse(&MINIMAL.replace(
            "key_id",
            "extensions = [\"WebP\", \".png\"]\nexclude = [\"/media/public/\"]\nkey_id",
        ))
        .unwrap();
        let url = |u: &str| Url::parse(u).unwrap();
        assert_eq!(c.protection.extensions(), ["webp", "png"]);
        assert!(
            c.protection
                .protects(&url("https://www.example.com/media/a.webp"))
        );
        assert!(
            !c.protection
                .protects(&url("https://www.example.com/media/a.css"))
        );
        assert!(
            !c.protection
                .protects(&url("https://www.example.com/media/public/a.png"))
        );
        let d = parse(MINIMAL).unwrap();
        assert!(d.protection.extensions().is_empty() && d.protection.exclude().is_empty());
    }

    #[test]
    fn bad_extensions_and_excludes_name_their_line() {
        let e = error(&MINIMAL.replace("key_id", "extensions = [\"png\", \"*.jpg\"]\nkey_id"));
        assert!(
            e.starts_with(
                "conf/rendorix.toml:7:22: sign.extensions entry \"*.jpg\" is not a file extension"
            ),
            "{e}"
        );
        let e = error(&MINIMAL.replace("key_id", "exclude = [\"public/\"]\nkey_id"));
        assert!(
            e.starts_with("conf/rendorix.toml:7:12: sign.exclude entry \"public/\""),
            "{e}"
        );
    }

    #[test]
    fn extra_attributes_are_validated_and_lowercased() {
        let c = parse(&format!(
            "{MINIMAL}[rewrite]\nextra_attributes = [\"Data-Src\"]\n"
        ))
        .unwrap();
        assert_eq!(c.extra_attributes, ["data-src"]);
        let e = error(&format!(
            "{MINIMAL}[rewrite]\nextra_attributes = [\"data src\"]\n"
        ));
        assert!(e.contains("is not an attribute name"), "{e}");
    }

    #[test]
    fn example_file_parses_to_the_defaults_and_lists_every_key() {
        let example = include_str!("../../rendorix.toml.example");
        let c = parse(example).unwrap();
        let d = parse(MINIMAL).unwrap();
        assert_eq!(
            (
                c.keys_env,
                c.expiry.default.needed(),
                c.expiry.default.grace,
                c.expiry.default.max_link_lifetime,
                c.manifest_path,
                c.site_dir
            ),
            (
                d.keys_env,
                d.expiry.default.needed(),
                d.expiry.default.grace,
                d.expiry.default.max_link_lifetime,
                d.manifest_path,
                d.site_dir
            )
        );
        for key in [
            "base_url",
            "dir",
            "match",
            "extensions",
            "exclude",
            "key_id",
            "keys_env",
            "resign_interval",
            "page_cache_ttl",
            "open_page_allowance",
            "exp_granularity",
            "max_link_lifetime",
            "grace",
            "extra_attributes",
            "social_meta",
            "path",
            "enabled",
        ] {
            assert!(
                example.lines().any(|l| l.starts_with(&format!("{key} = "))),
                "{key} missing from the example"
            );
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
