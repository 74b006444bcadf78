//! `rendorix revoke`: adds paths to the revocation list (spec §17), or removes them, or lists
//! it; and writes every edge's deny-list from it, saying how to apply each.
//!
//! An entry's end is the longest `exp` a link to it can carry, grace included: the latest `exp`
//! the manifest records for it, and at least `now` plus the longest lifetime its expiry rule
//! allows (a page signed before the last run may hold an older link, never a longer one). After
//! that no signed link to it verifies anyway, and the entry is dropped.

use std::fmt::Write as _;
use std::path::PathBuf;

use url::Url;

use crate::commands::system_now;
use crate::config::{Config, Scheme};
use crate::core::duration::Duration;
use crate::core::expiry::Expiry;
use crate::core::revocation::{Revocation, Revocations, decoded_path, lookup_keys};
use crate::core::time::utc;
use crate::core::urls::MatchPrefix;
use crate::error::{Error, Status, UsageError};
use crate::site::manifest::Manifest;
use crate::site::revoked::{self, CLOUDFRONT_KEY_PREFIX, MAX_PATH_LEN};

/// What `rendorix revoke` does.
#[derive(Debug)]
pub(crate) enum Action {
    /// Revoke these paths, until the given time or their longest link.
    Add {
        /// The paths or prefixes, as typed.
        paths: Vec<String>,
        /// `--until`.
        until: Option<u64>,
    },
    /// `--remove`: serve these paths again.
    Remove(Vec<String>),
    /// `--list`.
    List,
}

/// `rendorix revoke`'s options.
#[derive(Debug)]
pub(crate) struct RevokeOptions {
    pub(crate) action: Action,
    /// The config file.
    pub(crate) config: PathBuf,
    /// `--now`.
    pub(crate) now: Option<u64>,
    /// `-q`: print nothing but errors (and the list, when asked for).
    pub(crate) quiet: bool,
}

/// Runs `rendorix revoke`.
pub(crate) fn run(options: RevokeOptions) -> Result<Status, Error> {
    let config = Config::load(&options.config)?;
    if config.scheme != Scheme::Rendorix {
        return Err(UsageError::NoRevocation(config.scheme.name()).into());
    }
    let now = options.now.unwrap_or_else(system_now);
    let dir = &config.revoked_dir;
    let list_error = |e: String| UsageError::RevocationList(dir.join(revoked::LIST), e);
    let mut list = revoked::load(dir).map_err(|e| list_error(e.to_string()))?;
    let mut out = String::new();
    match options.action {
        Action::List => {
            write_list(&list, now, &mut out);
            print!("{out}");
            return Ok(Status::Clean);
        }
        Action::Add { paths, until } => {
            let parsed = paths
                .iter()
                .map(|p| revocable(&config, p))
                .collect::<Result<Vec<_>, _>>()?;
            let signed = signed_exps(&config);
            for path in parsed {
                let until = until.unwrap_or_else(|| longest_link(&config, &path, now, &signed));
                list.add(Revocation {
                    path: path.clone(),
                    revoked_at: now,
                    until,
                });
                let entry = (list.entries())
                    .find(|e| e.path == path)
                    .expect("just added");
                let _ = writeln!(out, "revoked {} until {}", entry.path, utc(entry.until));
            }
        }
        Action::Remove(paths) => {
            for text in &paths {
                let path = revocable(&config, text)?;
                if list.remove(&path) {
                    let _ = writeln!(out, "removed {path}; delete it from the edges' stores:");
                    let _ = writeln!(
                        out,
                        "  CloudFront Function: aws cloudfront-keyvaluestore update-keys --kvs-arn ARN --if-match ETAG --deletes '[{{\"Key\":{}}}]'",
                        serde_json::json!(format!("{CLOUDFRONT_KEY_PREFIX}{path}"))
                    );
                    let _ = writeln!(
                        out,
                        "  Cloudflare Worker: wrangler kv key delete --binding RENDORIX_REVOKED {}",
                        serde_json::json!(path)
                    );
                } else {
                    let _ = writeln!(out, "{path} was not revoked");
                }
            }
        }
    }
    let dropped = list.drop_ended(now);
    if dropped > 0 {
        let _ = writeln!(
            out,
            "{dropped} ended revocations dropped (no link to them verifies any more)"
        );
    }
    let written = revoked::write(dir, &list, now).map_err(|e| list_error(e.to_string()))?;
    let _ = writeln!(
        out,
        "{} revocations in {}; apply them at the edge:",
        list.entries().len(),
        written[0].display()
    );
    let file = |name: &str| dir.join(name).display().to_string();
    let _ = writeln!(
        out,
        "  CloudFront Function: aws cloudfront-keyvaluestore update-keys --kvs-arn ARN --if-match ETAG --puts file://{}",
        file(revoked::CLOUDFRONT_PUTS)
    );
    let _ = writeln!(
        out,
        "  Lambda@Edge: rendorix edge lambda-edge --out DIR, then publish and deploy the new version"
    );
    let _ = writeln!(
        out,
        "  Cloudflare Worker: wrangler kv bulk put {} --binding RENDORIX_REVOKED",
        file(revoked::WORKERS_KV)
    );
    let _ = writeln!(
        out,
        "  nginx: copy {} to the map's include and run `nginx -s reload`",
        file(revoked::NGINX_MAP)
    );
    let purge: Vec<String> = list
        .entries()
        .filter(|e| e.revoked_at == now)
        .map(|e| purge_path(&config.base_url, &e.path))
        .collect();
    if !purge.is_empty() {
        let _ = writeln!(
            out,
            "then purge the copies a CDN already caches: aws cloudfront create-invalidation --distribution-id ID --paths {}",
            purge.join(" ")
        );
    }
    if !options.quiet {
        print!("{out}");
    }
    Ok(Status::Clean)
}

/// The decoded path that `text` (a path, a prefix ending in `/`, or an absolute URL) names, if
/// it is one that the site protects and every store can hold.
fn revocable(config: &Config, text: &str) -> Result<String, UsageError> {
    let refuse = |why: String| UsageError::NotRevocable {
        text: text.to_owned(),
        why,
    };
    let prefix = MatchPrefix::parse(text, &config.base_url).map_err(|e| refuse(e.to_string()))?;
    if !config
        .protection
        .matches()
        .iter()
        .any(|m| m.overlaps(&prefix))
    {
        return Err(refuse(
            "it lies under no sign.match prefix, so no verifier checks it; name a protected image path, e.g. \"/media/profiles/42.jpg\"".into(),
        ));
    }
    if !prefix.path().ends_with('/')
        && let Ok(url) = Url::parse(&format!("https://{}{}", prefix.host(), prefix.path()))
        && !config.protection.protects(&url)
    {
        return Err(refuse(
            "the protection rules (sign.exclude, sign.extensions) leave it public, so no verifier checks it".into(),
        ));
    }
    let path = decoded_path(prefix.path())
        .ok_or_else(|| refuse("its path does not decode to UTF-8".into()))?;
    if path.chars().any(char::is_control) {
        return Err(refuse("its path holds a control character".into()));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(refuse(format!(
            "its path is {} bytes, more than the {MAX_PATH_LEN} the edges' stores can hold",
            path.len()
        )));
    }
    Ok(path)
}

/// For each decoded path the manifest records a signed URL of, the latest `exp`.
fn signed_exps(config: &Config) -> Vec<(String, u64)> {
    let Ok(Some(manifest)) = Manifest::load(&config.manifest_path) else {
        return Vec::new();
    };
    let mut exps = Vec::new();
    for page in &manifest.pages {
        for url in page.url_entries().unwrap_or_default() {
            let path = url.target.split('?').next().unwrap_or("");
            if let Some(path) = decoded_path(path) {
                exps.push((path, url.exp));
            }
        }
    }
    exps
}

/// The end of a revocation of `path` made at `now`: the longest link to it, grace included.
fn longest_link(config: &Config, path: &str, now: u64, signed: &[(String, u64)]) -> u64 {
    let lifetimes = config.expiry.map(Expiry::longest_lifetime);
    let longest = match path.ends_with('/') {
        // A prefix may hold paths under any rule.
        true => (config.expiry.all())
            .map(|(_, e)| e.longest_lifetime())
            .max()
            .unwrap_or(0),
        false => config
            .base_url
            .join(path)
            .map_or(*lifetimes.default_value(), |u| *lifetimes.get(&u)),
    };
    let recorded = (signed.iter())
        .filter(|(p, _)| lookup_keys(p).any(|k| k == path))
        .map(|&(_, exp)| exp)
        .max()
        .unwrap_or(0);
    (now + longest).max(recorded) + config.expiry.default.grace.secs()
}

/// The path as CloudFront's invalidation takes it: percent-encoded, a prefix as `prefix*`.
fn purge_path(base_url: &Url, path: &str) -> String {
    let encoded = base_url
        .join(path)
        .map_or_else(|_| path.to_owned(), |u| u.path().to_owned());
    if encoded.ends_with('/') {
        format!("\"{encoded}*\"")
    } else {
        format!("\"{encoded}\"")
    }
}

/// `--list`: every entry, with its end.
fn write_list(list: &Revocations, now: u64, out: &mut String) {
    if list.is_empty() {
        out.push_str("no revocations\n");
        return;
    }
    for e in list.entries() {
        let state = if now < e.until {
            format!("until {} ({} left)", utc(e.until), Duration(e.until - now))
        } else {
            format!("ended {}", utc(e.until))
        };
        let _ = writeln!(out, "{}  revoked {}, {state}", e.path, utc(e.revoked_at));
    }
}
