//! The config file as written: the TOML schema, its defaults, and spans on the values that
//! validation may reject (so an error can name their line and column). Unknown keys are
//! refused by serde; everything else is checked in the parent module.

use serde::Deserialize;
use toml::Spanned;

use crate::core::duration::Duration;
use crate::core::expiry::Expiry;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) site: RawSite,
    pub(super) sign: RawSign,
    #[serde(default)]
    pub(super) expiry: RawExpiry,
    #[serde(default)]
    pub(super) rewrite: RawRewrite,
    #[serde(default)]
    pub(super) manifest: RawManifest,
    #[serde(default)]
    pub(super) refresh: RawRefresh,
    #[serde(default)]
    pub(super) revoke: RawRevoke,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRevoke {
    pub(super) dir: String,
}

impl Default for RawRevoke {
    fn default() -> Self {
        RawRevoke {
            dir: "rendorix-revoked".into(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRefresh {
    pub(super) enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub(super) base_url: Spanned<String>,
    #[serde(default = "default_site_dir")]
    pub(super) dir: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(super) struct RawSign {
    #[serde(rename = "match")]
    pub(super) matches: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) extensions: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) key_id: Option<Spanned<String>>,
    #[serde(default = "default_keys_env")]
    pub(super) keys_env: Spanned<String>,
    #[serde(default)]
    pub(super) scheme: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) s3: Option<RawS3>,
    #[serde(default)]
    pub(super) cloudfront: Option<RawCloudFront>,
    #[serde(default)]
    pub(super) google: Option<RawGoogle>,
    #[serde(default)]
    pub(super) bunny: Option<RawBunny>,
    #[serde(default)]
    pub(super) akamai: Option<RawAkamai>,
}

/// `[sign.bunny]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBunny {
    #[serde(default = "default_bunny_key_env")]
    pub(super) key_env: String,
    #[serde(default)]
    pub(super) token: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) algorithm: Option<Spanned<String>>,
}

fn default_bunny_key_env() -> String {
    "RENDORIX_BUNNY_KEY".into()
}

/// `[sign.akamai]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAkamai {
    #[serde(default = "default_akamai_key_env")]
    pub(super) key_env: String,
    #[serde(default)]
    pub(super) token: Option<Spanned<String>>,
}

fn default_akamai_key_env() -> String {
    "RENDORIX_AKAMAI_KEY".into()
}

/// `[sign.google]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoogle {
    pub(super) key_name: Spanned<String>,
    #[serde(default = "default_google_key_env")]
    pub(super) key_env: String,
}

fn default_google_key_env() -> String {
    "RENDORIX_GOOGLE_KEY".into()
}

/// `[sign.cloudfront]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCloudFront {
    pub(super) key_pair_id: Spanned<String>,
    #[serde(default = "default_cloudfront_key_env")]
    pub(super) private_key_env: String,
    #[serde(default)]
    pub(super) policy: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) hash_algorithm: Option<Spanned<String>>,
}

fn default_cloudfront_key_env() -> String {
    "RENDORIX_CLOUDFRONT_KEY".into()
}

/// `[sign.s3]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawS3 {
    pub(super) region: Spanned<String>,
    #[serde(default = "default_access_key_id_env")]
    pub(super) access_key_id_env: String,
    #[serde(default = "default_secret_access_key_env")]
    pub(super) secret_access_key_env: String,
}

fn default_access_key_id_env() -> String {
    "AWS_ACCESS_KEY_ID".into()
}

fn default_secret_access_key_env() -> String {
    "AWS_SECRET_ACCESS_KEY".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawExpiry {
    pub(super) resign_interval: Duration,
    pub(super) page_cache_ttl: Duration,
    pub(super) open_page_allowance: Duration,
    pub(super) exp_granularity: Spanned<Duration>,
    pub(super) max_link_lifetime: Spanned<Duration>,
    pub(super) grace: Duration,
    /// `[[expiry.rule]]`.
    pub(super) rule: Vec<RawExpiryRule>,
}

/// One `[[expiry.rule]]`; an omitted duration is `[expiry]`'s.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpiryRule {
    pub(super) prefix: Spanned<String>,
    pub(super) open_page_allowance: Option<Duration>,
    pub(super) max_link_lifetime: Option<Spanned<Duration>>,
}

impl Default for RawExpiry {
    fn default() -> Self {
        let d = Expiry::default();
        RawExpiry {
            resign_interval: d.resign_interval,
            page_cache_ttl: d.page_cache_ttl,
            open_page_allowance: d.open_page_allowance,
            exp_granularity: Spanned::new(0..0, d.exp_granularity),
            max_link_lifetime: Spanned::new(0..0, d.max_link_lifetime),
            grace: d.grace,
            rule: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRewrite {
    pub(super) extra_attributes: Vec<Spanned<String>>,
    pub(super) social_meta: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawManifest {
    pub(super) path: String,
}

impl Default for RawManifest {
    fn default() -> Self {
        RawManifest {
            path: "rendorix-manifest.json".into(),
        }
    }
}

fn default_site_dir() -> String {
    "public".into()
}

fn default_keys_env() -> Spanned<String> {
    Spanned::new(0..0, "RENDORIX_KEYS".into())
}
