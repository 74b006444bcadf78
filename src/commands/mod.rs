//! The commands, one file each: what `rendorix sign`, `resign`, `check`, `verify`, `serve` and
//! `keygen` do, given options the command line has parsed. Each returns a [`Status`] or an
//! [`Error`]; [`crate::cli`] prints the error and maps both to the exit status.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{
    AkamaiSettings, BunnySettings, CloudFrontSettings, Config, GoogleSettings, S3Settings, Scheme,
};
use crate::core::akamai::{AkamaiKey, AkamaiSigner};
use crate::core::bunny::{BunnyKey, BunnySigner};
use crate::core::cloudfront::{CloudFrontKey, CloudFrontSigner};
use crate::core::expiry::MAX_EXP;
use crate::core::google::{GoogleKey, GoogleSigner};
use crate::core::keys::{Key, KeyError, Keys};
use crate::core::native::NativeVerifier;
use crate::core::policy::Refusal;
use crate::core::revocation::Revocations;
use crate::core::s3::{Credentials, S3Signer};
use crate::core::sign::Signer;
use crate::error::{Error, Status, UsageError};
use crate::page::{Options, Rewriter};
use crate::report::{Finding, Format, Progress, Summary, Verbosity, grouped};
use crate::site::folders::PendingTimes;
use crate::site::manifest::{ExpiryRecord, FolderEntry, Manifest, PageEntry, RefreshEntry};
use crate::site::refresh::{self, WORKER, Worker};
use crate::site::revoked;
use crate::site::worker::{self, PageDone, PageReport, SearchReport, Searched};

pub(crate) mod check;
pub(crate) mod edge;
pub(crate) mod init;
pub(crate) mod keygen;
pub(crate) mod resign;
pub(crate) mod revoke;
pub(crate) mod serve;
pub(crate) mod sign;
pub(crate) mod verify;

/// The options every site command takes.
#[derive(Debug)]
pub(crate) struct SiteOptions {
    /// The site folder, when the command line names one.
    pub(crate) site_dir: Option<PathBuf>,
    /// The config file.
    pub(crate) config: PathBuf,
    /// `--now`.
    pub(crate) now: Option<u64>,
    /// The summary's format.
    pub(crate) format: Format,
    /// `--allow-unsigned`: unsigned protected references, and a run that signs nothing, are
    /// warnings, not failures.
    pub(crate) allow_unsigned: bool,
    /// `-q` / `-v`.
    pub(crate) verbosity: Verbosity,
}

/// What every site command needs, checked before anything is read or written.
struct Setup {
    config: Config,
    site: PathBuf,
    now: u64,
    format: Format,
    allow_unsigned: bool,
    verbosity: Verbosity,
}

fn setup(options: SiteOptions) -> Result<Setup, Error> {
    let config = Config::load(&options.config)?;
    let now = options.now.unwrap_or_else(system_now);
    let exp = (config.expiry.all())
        .map(|(_, e)| e.exp_for(now))
        .max()
        .unwrap_or(0);
    if exp > MAX_EXP {
        return Err(UsageError::NowInMilliseconds { now, exp }.into());
    }
    let site = options.site_dir.unwrap_or_else(|| config.site_dir.clone());
    if !site.is_dir() {
        return Err(UsageError::NoSiteFolder(site).into());
    }
    Ok(Setup {
        config,
        site,
        now,
        format: options.format,
        allow_unsigned: options.allow_unsigned,
        verbosity: options.verbosity,
    })
}

impl Setup {
    /// The progress line of a run over `total` pages: drawn when stderr is a terminal and
    /// `-q` was not given.
    fn progress(&self, verb: &'static str, total: usize) -> Progress {
        let show = self.verbosity != Verbosity::Quiet
            && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress::start(verb, total, show)
    }
}

/// The system clock, Unix seconds.
pub(crate) fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The keys in environment variable `var` (an unset variable holds none).
fn load_keys(var: &str) -> Result<Keys, KeyError> {
    Keys::parse(var, &std::env::var(var).unwrap_or_default())
}

/// The configured signing key.
fn signing_key(config: &Config) -> Result<Key, KeyError> {
    load_keys(&config.keys_env)?.signing_key(&config.keys_env, &config.key_id)
}

/// The S3 access key of `settings`, from the environment.
fn s3_credentials(settings: &S3Settings) -> Result<Credentials, UsageError> {
    Ok(Credentials::new(
        &env_secret(&settings.access_key_id_env)?,
        &env_secret(&settings.secret_access_key_env)?,
    ))
}

/// The value of environment variable `var`, trimmed; an error naming it when unset or empty.
fn env_secret(var: &str) -> Result<String, UsageError> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| UsageError::MissingCredential(var.to_owned()))
}

/// The CloudFront key of `settings`, from the environment.
fn cloudfront_key(settings: &CloudFrontSettings) -> Result<CloudFrontKey, UsageError> {
    let var = &settings.private_key_env;
    let pem = env_secret(var)?;
    CloudFrontKey::from_pem(&settings.key_pair_id, &pem, settings.hash)
        .map_err(|problem| UsageError::BadPrivateKey(var.clone(), problem.to_string()))
}

/// The Cloud CDN key of `settings`, from the environment.
fn google_key(settings: &GoogleSettings) -> Result<GoogleKey, UsageError> {
    let var = &settings.key_env;
    let value = env_secret(var)?;
    GoogleKey::new(&settings.key_name, &value)
        .map_err(|problem| UsageError::BadPrivateKey(var.clone(), problem.to_string()))
}

/// The Akamai key of `settings`, from the environment.
fn akamai_key(settings: &AkamaiSettings) -> Result<AkamaiKey, UsageError> {
    let var = &settings.key_env;
    let value = env_secret(var)?;
    AkamaiKey::new(&value)
        .map_err(|problem| UsageError::BadPrivateKey(var.clone(), problem.to_string()))
}

/// The Bunny key of `settings`, from the environment.
fn bunny_key(settings: &BunnySettings) -> Result<BunnyKey, UsageError> {
    let var = &settings.key_env;
    let value = env_secret(var)?;
    BunnyKey::new(&value)
        .map_err(|problem| UsageError::BadPrivateKey(var.clone(), problem.to_string()))
}

/// The verifier of the configured native scheme with its key material; `None` for the
/// rendorix scheme.
fn native_verifier(config: &Config) -> Result<Option<NativeVerifier>, UsageError> {
    native_verifier_of(&config.scheme)
}

/// The verifier of native `scheme` with its key material; `None` for the rendorix scheme.
fn native_verifier_of(scheme: &Scheme) -> Result<Option<NativeVerifier>, UsageError> {
    Ok(match scheme {
        Scheme::Rendorix => None,
        Scheme::S3(s3) => Some(NativeVerifier::S3 {
            credentials: s3_credentials(s3)?,
            region: s3.region.clone(),
        }),
        Scheme::CloudFront(cf) => Some(NativeVerifier::CloudFront(Box::new(cloudfront_key(cf)?))),
        Scheme::Google(g) => Some(NativeVerifier::Google(google_key(g)?)),
        Scheme::Bunny(b) => Some(NativeVerifier::Bunny(bunny_key(b)?)),
        Scheme::Akamai(a) => Some(NativeVerifier::Akamai(akamai_key(a)?)),
    })
}

/// The rewriter that signs in the configured scheme with its key, writing the `exp`s of a run
/// at `now`; and the id of that key (the kid, or the S3 access key id).
fn signing_rewriter(config: &Config, now: u64) -> Result<(Rewriter, String), Error> {
    let options = rewrite_options(config);
    let protection = config.protection.clone();
    Ok(match &config.scheme {
        Scheme::Rendorix => {
            let signer = Signer::for_run(signing_key(config)?, &config.expiry, now, protection);
            (Rewriter::new(signer, options), config.key_id.clone())
        }
        Scheme::S3(s3) => {
            let credentials = s3_credentials(s3)?;
            let kid = credentials.access_key_id().to_owned();
            let signer =
                S3Signer::for_run(credentials, &s3.region, &config.expiry, now, protection);
            (Rewriter::new(signer, options), kid)
        }
        Scheme::CloudFront(cf) => {
            let key = cloudfront_key(cf)?;
            let kid = key.key_pair_id().to_owned();
            let signer = CloudFrontSigner::for_run(key, cf.policy, &config.expiry, now, protection);
            (Rewriter::new(signer, options), kid)
        }
        Scheme::Google(g) => {
            let key = google_key(g)?;
            let kid = key.name().to_owned();
            let signer = GoogleSigner::for_run(key, &config.expiry, now, protection);
            (Rewriter::new(signer, options), kid)
        }
        Scheme::Bunny(b) => {
            let key = bunny_key(b)?;
            let signer =
                BunnySigner::for_run(key, b.token, b.algorithm, &config.expiry, now, protection);
            (Rewriter::new(signer, options), "bunny".to_owned())
        }
        Scheme::Akamai(a) => {
            let key = akamai_key(a)?;
            let signer = AkamaiSigner::for_run(key, a.token, &config.expiry, now, protection);
            (Rewriter::new(signer, options), "akamai".to_owned())
        }
    })
}

/// What the config asks to rewrite; the refresh tag is added once the run knows which pages
/// get it ([`Rewriter::with_refresh`]).
fn rewrite_options(config: &Config) -> Options {
    Options {
        refresh: None,
        extra_attributes: config.extra_attributes.clone(),
        social_meta: config.social_meta,
    }
}

/// The refresh worker of the site, when `[refresh]` is on; an error when its own URL is
/// protected.
fn refresh_worker(config: &Config) -> Result<Option<Worker>, UsageError> {
    if !config.refresh {
        return Ok(None);
    }
    if let Ok(url) = config.base_url.join(WORKER)
        && config.protection.protects(&url)
    {
        return Err(UsageError::WorkerProtected(url.to_string()));
    }
    Ok(Some(Worker::new(&config.protection, &config.base_url)))
}

/// Whether the site's scripts or data hold protected references: a client-side router renders
/// protected images from them, on whatever page a visitor arrived, so every page gets the
/// refresh tag.
fn renders_from_scripts(searched: &[SearchReport]) -> bool {
    searched.iter().any(|r| {
        r.result
            .as_ref()
            .is_ok_and(|found| !found.unsigned.is_empty())
    })
}

/// The request targets that `reports` sign ([`PageDone::published`]).
fn published(reports: &[PageReport]) -> HashSet<&str> {
    targets(reports, |done| &done.published)
}

/// The request targets of the icon links of `reports`' pages ([`PageDone::icons`]).
fn icons(reports: &[PageReport]) -> HashSet<&str> {
    targets(reports, |done| &done.icons)
}

/// The request targets that `of` picks from each processed page of `reports`.
fn targets<'r>(
    reports: &'r [PageReport],
    of: impl Fn(&'r PageDone) -> &'r [String],
) -> HashSet<&'r str> {
    reports
        .iter()
        .filter_map(|r| r.result.as_ref().ok())
        .flat_map(|done| of(done).iter().map(String::as_str))
        .collect()
}

/// Warns, when refresh is on, about the site's scripts that register a service worker of their
/// own, which the refresh worker does not replace.
fn warn_of_own_workers(
    worker: Option<&Worker>,
    site: &Path,
    searched: &[SearchReport],
    summary: &mut Summary,
) {
    if worker.is_none() {
        return;
    }
    for r in searched {
        if let Ok(Searched {
            registers_worker: Some((line, column)),
            ..
        }) = &r.result
        {
            summary.warnings.push(Finding {
                path: site.join(&r.page.rel).display().to_string(),
                line: Some(*line),
                column: Some(*column),
                url: None,
                code: "own_service_worker",
                message: "the site registers a service worker of its own, which the refresh worker does not replace: visitors who have it get no refresh (docs/client-navigation.md)".to_owned(),
            });
        }
    }
}

/// Writes `worker` into `site` (unless `dry_run`) and returns its manifest entry; without a
/// worker (`[refresh]` off), retires one that an earlier run wrote. A failure is an error of the
/// run, and no entry.
fn install_worker(
    worker: Option<&Worker>,
    site: &Path,
    every_page: bool,
    dry_run: bool,
    summary: &mut Summary,
) -> Option<RefreshEntry> {
    let written = match worker {
        _ if dry_run => Ok(()),
        Some(worker) => worker.write(site).map(drop),
        None => refresh::retire(site).map(drop),
    };
    if let Err(e) = written {
        summary.errors.push(Finding {
            path: site.join(WORKER).display().to_string(),
            line: None,
            column: None,
            url: None,
            code: "refresh_worker_unwritable",
            message: format!("cannot write the refresh worker ({e}); pages load it, so run again"),
        });
        return None;
    }
    worker.map(|worker| worker.entry(every_page))
}

/// The revocation list of the site (`revoke.dir`); one that cannot be read stops the run, so
/// that no revoked path is signed without a warning.
fn revocations(config: &Config) -> Result<Revocations, UsageError> {
    revoked::load(&config.revoked_dir).map_err(|e| {
        UsageError::RevocationList(config.revoked_dir.join(revoked::LIST), e.to_string())
    })
}

/// After a signing run: keeps each revocation at least as long as the links to it the run
/// signed (grace included), drops the ended ones, and writes the list and deny-lists again if
/// that changed anything (not in a dry run).
fn settle_revocations(
    config: &Config,
    mut list: Revocations,
    reports: &[PageReport],
    now: u64,
    dry_run: bool,
    summary: &mut Summary,
) {
    let grace = config.expiry.default.grace.secs();
    let mut changed = list.drop_ended(now) > 0;
    for done in reports.iter().filter_map(|r| r.result.as_ref().ok()) {
        for (p, _, _, exp) in &done.revoked {
            if let Refusal::Revoked { entry, .. } = &p.refusal {
                changed |= list.extend(entry, exp + grace);
            }
        }
    }
    if !changed || dry_run {
        return;
    }
    if let Err(e) = revoked::write(&config.revoked_dir, &list, now) {
        summary.errors.push(Finding {
            path: config.revoked_dir.join(revoked::LIST).display().to_string(),
            line: None,
            column: None,
            url: None,
            code: "revocation_list_unwritable",
            message: format!(
                "cannot write the revocation list ({e}); run `rendorix revoke --list` to check it"
            ),
        });
    }
}

/// The revocation window of each expiry rule, for the summary.
fn rule_windows(config: &Config) -> Vec<(String, u64)> {
    (config.expiry.all())
        .filter_map(|(rule, e)| Some((rule?.text.clone(), e.longest_lifetime())))
        .collect()
}

/// Validates `--jobs` and sizes the thread pool with it.
fn use_jobs(jobs: Option<usize>) -> Result<(), Error> {
    match jobs {
        Some(0) => Err(UsageError::NoJobs.into()),
        n => {
            worker::use_threads(n.unwrap_or(0));
            Ok(())
        }
    }
}

/// Writes the run's manifest of `folders`, `pages` and `refresh` worker and notes where, then
/// gives the folders the times it records; or records why it could not be written.
fn write_manifest(
    config: &Config,
    now: u64,
    (folders, folder_times): (Vec<FolderEntry>, PendingTimes),
    pages: Vec<PageEntry>,
    refresh: Option<RefreshEntry>,
    summary: &mut Summary,
) -> Manifest {
    let mut manifest = Manifest::new(
        now,
        summary.kid.as_deref().unwrap_or(&config.key_id),
        config.base_url.as_str(),
        folders,
        pages,
    );
    manifest.refresh = refresh;
    manifest.expiry = ExpiryRecord::of(&config.expiry);
    manifest.scheme = config.scheme.name().to_owned();
    match manifest.write(&config.manifest_path) {
        Ok(()) => {
            summary.manifest = Some(config.manifest_path.display().to_string());
            folder_times.set();
        }
        Err(e) => summary.errors.push(Finding {
            path: config.manifest_path.display().to_string(),
            line: None,
            column: None,
            url: None,
            code: "manifest_unwritable",
            message: format!(
                "cannot write the manifest ({e}); the pages were signed, run again to record them"
            ),
        }),
    }
    manifest
}

/// Prints the findings on stderr, grouped by code (every one with `-v`; warnings not with
/// `-q`), and the summary on stdout (text, not with `-q`; JSON always), and says how the run
/// went.
fn finish(summary: &Summary, format: Format, verbosity: Verbosity) -> Status {
    let verbose = verbosity == Verbosity::Verbose;
    eprint!("{}", grouped(&summary.errors, "error: ", verbose));
    if verbosity != Verbosity::Quiet {
        eprint!("{}", grouped(&summary.warnings, "warning: ", verbose));
    }
    let out = match (format, verbosity) {
        (Format::Json, _) => summary.to_json(),
        (Format::Text, Verbosity::Quiet) => String::new(),
        (Format::Text, _) => summary.to_text(verbose),
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Status::of(summary.failed())
}
