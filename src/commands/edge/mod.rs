//! `rendorix edge TARGET`: a verifier for a CDN edge or nginx, built from the site's config
//! (spec §15): its protection rules, grace and link lifetime, and the key source of the target.
//! No secret is written into it.
//!
//! Every target shares `core.js` (the path decoding, the rules and the checks of spec §8);
//! each one's file around it adapts the request, the key source and the answer. The output is
//! JavaScript because each of these runtimes runs it (CloudFront Functions, Lambda@Edge,
//! Workers, njs).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, Scheme};
use crate::core::revocation::Revocations;
use crate::core::urls::MatchPrefix;
use crate::core::verify::MAX_TARGET_LEN;
use crate::error::{Error, Status, UsageError};
use crate::site::revoked;

const CORE: &str = include_str!("core.js");

/// CloudFront Functions refuse code over 10 KB.
pub(crate) const CLOUDFRONT_FUNCTION_LIMIT: usize = 10 * 1024;

/// Where a verifier runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    CloudfrontFunction,
    LambdaEdge,
    CloudflareWorker,
    Nginx,
}

impl Target {
    /// The files written for this target: name and template.
    fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Target::CloudfrontFunction => &[(
                "rendorix-cloudfront-function.js",
                include_str!("cloudfront-function.js"),
            )],
            Target::LambdaEdge => &[("rendorix-lambda-edge.mjs", include_str!("lambda-edge.mjs"))],
            Target::CloudflareWorker => {
                &[("rendorix-worker.js", include_str!("cloudflare-worker.js"))]
            }
            Target::Nginx => &[
                ("rendorix.js", include_str!("nginx.js")),
                ("rendorix-http.conf", include_str!("nginx-http.conf")),
                (
                    "rendorix-location.conf",
                    include_str!("nginx-location.conf"),
                ),
                ("rendorix-revoked.map", "{{REVOKED_MAP}}"),
            ],
        }
    }
}

/// `rendorix edge`'s options.
#[derive(Debug)]
pub(crate) struct EdgeOptions {
    /// What to generate.
    pub(crate) target: Target,
    /// The config file.
    pub(crate) config: PathBuf,
    /// Where to write the files.
    pub(crate) out: PathBuf,
    /// `-q`: print nothing but errors.
    pub(crate) quiet: bool,
}

/// The rules and limits a verifier is built with (`RX` in `core.js`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rules {
    #[serde(rename = "match")]
    matches: Vec<Prefix>,
    exclude: Vec<Prefix>,
    extensions: Vec<String>,
    grace: u64,
    max_lifetime: u64,
    max_target: usize,
}

/// A prefix as the edge matches it: host (with a port other than the default), and the path
/// percent-decoded, since the edge matches the decoded path the origin resolves.
#[derive(Serialize)]
struct Prefix {
    host: String,
    path: String,
    site: bool,
}

impl Prefix {
    fn of(m: &MatchPrefix, config: &Config) -> Prefix {
        let base = &config.base_url;
        Prefix {
            host: match m.port() {
                Some(port) => format!("{}:{port}", m.host()),
                None => m.host().to_owned(),
            },
            path: percent_encoding::percent_decode_str(m.path())
                .decode_utf8_lossy()
                .into_owned(),
            site: Some(m.host()) == base.host_str() && m.port() == base.port(),
        }
    }
}

/// The files of `target` for the site of `config` (read from `config_path`), with `dir` the
/// folder they are written to: name and content.
pub(crate) fn render(
    target: Target,
    config: &Config,
    config_path: &Path,
    dir: &Path,
    revoked: &Revocations,
) -> Vec<(&'static str, String)> {
    let protection = &config.protection;
    let limits = config.limits();
    let rules = Rules {
        matches: (protection.matches().iter())
            .map(|m| Prefix::of(m, config))
            .collect(),
        exclude: (protection.exclude().iter())
            .map(|m| Prefix::of(m, config))
            .collect(),
        extensions: protection.extensions().to_vec(),
        grace: limits.grace,
        max_lifetime: limits.max_lifetime,
        max_target: MAX_TARGET_LEN,
    };
    let rules = serde_json::to_string(&rules).expect("the rules serialize");
    let core = format!("var RX = {rules};\n\n{}", CORE.trim_end());
    // CloudFront Functions count every byte against 10 KB: the shared code goes in without its
    // comment lines (the other targets keep them; core.js is the commented source).
    let core = if target == Target::CloudfrontFunction {
        (core.lines())
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        core
    };
    let config_path = config_path.display().to_string();
    let ends: serde_json::Map<String, serde_json::Value> = (revoked.entries())
        .map(|e| (e.path.clone(), e.until.into()))
        .collect();
    let ends = serde_json::to_string(&ends).expect("the revocations serialize");
    target
        .files()
        .iter()
        .map(|(name, template)| {
            let text = template
                .replace("{{CONFIG_PATH}}", &config_path)
                .replace("{{DIR}}", &dir.display().to_string())
                .replace("{{REVOKED_MAP}}", &revoked::nginx_map(revoked))
                .replace("{{REVOKED}}", &ends)
                .replace("{{CORE}}", &core);
            (*name, text)
        })
        .collect()
}

/// Writes the verifier for `options.target` and lists what it wrote.
pub(crate) fn run(options: &EdgeOptions) -> Result<Status, Error> {
    let config = Config::load(&options.config)?;
    if config.scheme != Scheme::Rendorix {
        return Err(UsageError::NativeScheme(config.scheme.name()).into());
    }
    fs::create_dir_all(&options.out)
        .map_err(|e| UsageError::CannotWrite(options.out.clone(), e))?;
    // nginx reads its module from the folder the include names: an absolute path.
    let dir = fs::canonicalize(&options.out).unwrap_or_else(|_| options.out.clone());
    let list = revoked::load(&config.revoked_dir).map_err(|e| {
        UsageError::RevocationList(config.revoked_dir.join(revoked::LIST), e.to_string())
    })?;
    let files = render(options.target, &config, &options.config, &dir, &list);
    if options.target == Target::CloudfrontFunction && files[0].1.len() > CLOUDFRONT_FUNCTION_LIMIT
    {
        let bytes = files[0].1.len();
        return Err(UsageError::FunctionTooLarge {
            bytes,
            limit: CLOUDFRONT_FUNCTION_LIMIT,
        }
        .into());
    }
    for (name, text) in &files {
        let path = options.out.join(name);
        crate::site::atomic::write_atomically_with(&path, |file| {
            io::Write::write_all(file, text.as_bytes())
        })
        .map_err(|e| UsageError::CannotWrite(path.clone(), e))?;
        if !options.quiet {
            println!("wrote {} ({} bytes)", path.display(), text.len());
        }
    }
    Ok(Status::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rendorix.toml");
        fs::create_dir(dir.path().join("public")).unwrap();
        fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        (dir, config)
    }

    const SITE: &str = r#"
[site]
base_url = "https://www.example.com/"
[sign]
match = ["/m%C3%A9dia/", "https://img.example.com:8443/p/"]
exclude = ["/média/public/"]
extensions = ["png", "JPG"]
key_id = "k2026a"
[expiry]
grace = "45s"
max_link_lifetime = "3d"
"#;

    #[test]
    fn every_target_carries_the_rules_and_limits_and_no_secret() {
        let (dir, config) = config(SITE);
        let rules = r#"var RX = {"match":[{"host":"www.example.com","path":"/média/","site":true},{"host":"img.example.com:8443","path":"/p/","site":false}],"exclude":[{"host":"www.example.com","path":"/média/public/","site":true}],"extensions":["png","jpg"],"grace":45,"maxLifetime":259200,"maxTarget":8192};"#;
        for target in [
            Target::CloudfrontFunction,
            Target::LambdaEdge,
            Target::CloudflareWorker,
            Target::Nginx,
        ] {
            let files = render(
                target,
                &config,
                Path::new("rendorix.toml"),
                dir.path(),
                &Revocations::default(),
            );
            let js = &files[0].1;
            assert!(js.contains(rules), "{target:?}: {js}");
            assert!(js.contains("function rxCheck("), "{target:?}");
            assert!(!js.contains("{{"), "{target:?}: a placeholder is left");
            for (name, text) in &files {
                assert!(!text.contains("Xg8oy"), "{name}");
            }
        }
    }

    #[test]
    fn the_cloudfront_function_stays_under_its_limit() {
        let (dir, config) = config(SITE);
        let files = render(
            Target::CloudfrontFunction,
            &config,
            Path::new("rendorix.toml"),
            dir.path(),
            &Revocations::default(),
        );
        assert!(
            files[0].1.len() < CLOUDFRONT_FUNCTION_LIMIT,
            "{} bytes",
            files[0].1.len()
        );
    }
}
