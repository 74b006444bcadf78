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
use crate::core::shard::Shard;
use crate::core::sign::Signer;
use crate::error::{Error, Status, UsageError};
use crate::page::{Options, Rewriter};
use crate::report::{Finding, Format, Progress, Summary, Verbosity, grouped};
use crate::site::closer::Closer;
use crate::site::discover::{Discovery, Leftovers, Page, PathList};
use crate::site::folders::{PendingTimes, Touched};
use crate::site::manifest::{
    ExpiryRecord, FolderEntry, Manifest, PageLines, RefreshEntry, ShardRecord, slash_path,
};
use crate::site::refresh::{self, WORKER, Worker};
use crate::site::revoked;
use crate::site::worker::{
    self, PageDone, PageReport, RunOptions, SearchReport, Searched, Searches,
};

pub(crate) mod check;
pub(crate) mod edge;
pub(crate) mod init;
pub(crate) mod keygen;
pub(crate) mod merge;
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
    /// `--shard K/N`: only this shard's pages and files.
    pub(crate) shard: Option<Shard>,
}

/// What every site command needs, checked before anything is read or written.
struct Setup {
    config: Config,
    site: PathBuf,
    now: u64,
    format: Format,
    allow_unsigned: bool,
    verbosity: Verbosity,
    shard: Option<Shard>,
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
        shard: options.shard,
    })
}

impl Setup {
    /// Which leftover temporary files discovery removes: none in a run that writes nothing,
    /// only its own in a shard.
    fn leftovers(&self, writes: bool) -> Leftovers {
        match self.shard {
            _ if !writes => Leftovers::Keep,
            Some(shard) => Leftovers::OfShard(shard),
            None => Leftovers::Remove,
        }
    }

    /// Whether the file at `rel` (relative to the site) is this run's: every file, or the
    /// shard's.
    fn owns(&self, rel: &Path) -> bool {
        self.shard.is_none_or(|s| s.owns(&slash_path(rel)))
    }

    /// Keeps the pages of `discovery` that are this run's.
    fn own_pages(&self, discovery: &mut Discovery) {
        discovery.pages.retain(|p| self.owns(&p.rel));
    }

    /// Of the search of `files`, what is this run's to report.
    fn own_searched(&self, searches: Searches, files: &PathList) -> Searches {
        Searches {
            files: files.iter().filter(|f| self.owns(f)).count(),
            found: (searches.found.into_iter())
                .filter(|r| self.owns(&r.page.rel))
                .collect(),
        }
    }

    /// After processing the pages (`processed`): the site-wide files of a `command` run. A run
    /// that is not sharded settles the revocation list (`revoked`) itself; a shard records what
    /// it would extend in its part, which it returns. The refresh worker (`worker`, and whether
    /// every page gets its tag) is written by the run or by shard 1, not in a dry run; its
    /// manifest entry is returned by every shard alike.
    fn site_files(
        &self,
        command: &str,
        summary: &mut Summary,
        processed: &Processed,
        revoked: Revocations,
        (worker, every_page): (Option<&Worker>, bool),
    ) -> (Option<RefreshEntry>, Option<ShardRecord>) {
        let dry_run = summary.dry_run;
        let extensions = &processed.extensions;
        let part = self.part(command, summary, processed);
        if part.is_none() {
            settle_revocations(
                &self.config,
                revoked,
                extensions,
                self.now,
                dry_run,
                summary,
            );
        }
        let skip = dry_run || !self.writes_site_files();
        let refresh = install_worker(worker, &self.site, every_page, skip, summary);
        (refresh, part)
    }

    /// For a shard of a `command` run, its part's record: the unsigned references and totals of
    /// `summary` move into it, with the icons and revocation extensions of its pages
    /// (`processed`), for `rendorix manifest merge` to judge over the whole site.
    /// `None` for a run that is not sharded, and for a dry run, which judges its shard as if it
    /// were the site.
    fn part(
        &self,
        command: &str,
        summary: &mut Summary,
        processed: &Processed,
    ) -> Option<ShardRecord> {
        let shard = self.shard.filter(|_| !summary.dry_run)?;
        let mut icons: Vec<String> = processed.icons.iter().cloned().collect();
        icons.sort_unstable();
        let note = format!(
            "shard {shard}: unsigned references and whether anything was signed are judged over the whole site by `rendorix manifest merge`"
        );
        summary.manifest_note = Some(match summary.manifest_note.take() {
            Some(earlier) => format!("{earlier}; {note}"),
            None => note,
        });
        let record = ShardRecord {
            index: shard.index(),
            count: shard.count(),
            command: command.to_owned(),
            rendorix: env!("CARGO_PKG_VERSION").to_owned(),
            config_sha256: self.config.digest.clone(),
            totals: summary.totals(),
            pending: summary.take_pending(&self.site),
            icons,
            revoked: processed.extensions.clone(),
        };
        // What the merge will judge is not this shard's verdict.
        summary.defer_coverage();
        Some(record)
    }

    /// Whether this run writes the files of the whole site (the refresh worker): a run that is
    /// not sharded, or shard 1.
    fn writes_site_files(&self) -> bool {
        self.shard.is_none_or(|s| s.index() == 1)
    }

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

/// How many pages a signing run processes at once: their reports are folded into the summary
/// and the manifest's entries after each batch, so that memory holds a batch of reports, not one
/// for every page of the site.
pub(crate) const BATCH: usize = 4096;

/// What a signing run keeps of its pages' reports, gathered batch by batch.
#[derive(Debug, Default)]
struct Processed {
    /// The manifest's entries of the pages processed; `None` when the run writes no manifest.
    entries: Option<PageLines>,
    /// The request targets they sign ([`PageDone::published`]).
    published: HashSet<String>,
    /// Of those, their icon links' ([`PageDone::icons`]).
    icons: HashSet<String>,
    /// The revocations to extend ([`revocation_extensions`]).
    extensions: Vec<(String, u64)>,
    /// The folders of pages that failed or were written.
    touched: Touched,
}

/// Processes `pages` (in the manifest's order) with `rewriter` in batches, folding each batch's
/// reports into `summary` (pages of `site`) and what the run keeps of them, their entries into
/// `entries` when the run writes a manifest. `config` gives the revocations' grace.
fn process_in_batches(
    (rewriter, config): (&Rewriter, &Config),
    (site, discovery): (&Path, &Discovery),
    (pages, entries): (&[Page], Option<PageLines>),
    (run, closer): (RunOptions, &Closer),
    summary: &mut Summary,
) -> Processed {
    let mut kept = Processed {
        touched: Touched::new(discovery),
        entries,
        ..Processed::default()
    };
    for batch in pages.chunks(BATCH) {
        let reports = worker::process_pages(rewriter, (site, &config.base_url), batch, run, closer);
        summary.add_batch(site, &reports);
        kept.touched.add(&reports, &discovery.folders);
        kept.extensions
            .extend(revocation_extensions(config, &reports));
        for done in reports.iter().filter_map(|r| r.result.as_ref().ok()) {
            kept.published.extend(done.published.iter().cloned());
            kept.icons.extend(done.icons.iter().cloned());
        }
        if let Some(entries) = &mut kept.entries {
            for entry in reports.into_iter().filter_map(PageReport::entry) {
                entries.push(entry);
            }
        }
    }
    summary.finish_batches();
    kept.extensions.sort();
    kept.extensions.dedup();
    kept
}

impl Processed {
    /// [`Processed::published`] as the summary takes it.
    fn published(&self) -> HashSet<&str> {
        self.published.iter().map(String::as_str).collect()
    }

    /// [`Processed::icons`] as the summary takes it.
    fn icons(&self) -> HashSet<&str> {
        self.icons.iter().map(String::as_str).collect()
    }
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

/// How long each revocation must at least last after a signing run: as long as the links to its
/// paths that the run refused would have lived, grace included. `[path, until]`.
fn revocation_extensions(config: &Config, reports: &[PageReport]) -> Vec<(String, u64)> {
    let grace = config.expiry.default.grace.secs();
    let mut extensions = Vec::new();
    for done in reports.iter().filter_map(|r| r.result.as_ref().ok()) {
        for (p, _, _, exp) in &done.revoked {
            if let Refusal::Revoked { entry, .. } = &p.refusal {
                extensions.push((entry.clone(), exp + grace));
            }
        }
    }
    extensions.sort();
    extensions.dedup();
    extensions
}

/// After a signing run: keeps each revocation at least as long as `extensions` say, drops the
/// ended ones, and writes the list and deny-lists again if that changed anything (not in a dry
/// run).
fn settle_revocations(
    config: &Config,
    mut list: Revocations,
    extensions: &[(String, u64)],
    now: u64,
    dry_run: bool,
    summary: &mut Summary,
) {
    let mut changed = list.drop_ended(now) > 0;
    for (entry, until) in extensions {
        changed |= list.extend(entry, *until);
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

/// Where shard `shard` of a run writes its part of the manifest at `manifest`:
/// `NAME.shard-K-of-N` beside it.
fn part_path(manifest: &Path, shard: Shard) -> PathBuf {
    let mut name = manifest.file_name().unwrap_or_default().to_owned();
    name.push(format!(".shard-{}-of-{}", shard.index(), shard.count()));
    manifest.with_file_name(name)
}

/// Writes the run's manifest of `folders`, pages (the page lines of `lines`, merged: those
/// processed and, in a `resign`, those kept as they were) and `refresh` worker and notes
/// where, then gives the folders the times it records; or records why it could not be written.
/// A shard (`part`) writes its part instead ([`part_path`]).
fn write_manifest(
    config: &Config,
    now: u64,
    (folders, folder_times): (Vec<FolderEntry>, PendingTimes),
    lines: &[&PageLines],
    (refresh, part): (Option<RefreshEntry>, Option<ShardRecord>),
    summary: &mut Summary,
) {
    let mut manifest = Manifest::new(
        now,
        summary.kid.as_deref().unwrap_or(&config.key_id),
        config.base_url.as_str(),
        folders,
        Vec::new(),
    );
    manifest.refresh = refresh;
    manifest.expiry = ExpiryRecord::of(&config.expiry);
    manifest.scheme = config.scheme.name().to_owned();
    let path = match &part {
        Some(part) => {
            let shard = Shard::new(part.index, part.count).expect("a shard of the run");
            part_path(&config.manifest_path, shard)
        }
        None => config.manifest_path.clone(),
    };
    manifest.shard = part;
    match manifest.write_with(&path, lines) {
        Ok(()) => {
            summary.manifest = Some(path.display().to_string());
            folder_times.set(&manifest.folders);
        }
        Err(e) => summary.errors.push(Finding {
            path: path.display().to_string(),
            line: None,
            column: None,
            url: None,
            code: "manifest_unwritable",
            message: match e.kind() {
                // The old URL file, which the kept pages' lists come from, was edited.
                std::io::ErrorKind::InvalidData => format!(
                    "cannot write the manifest ({e}); the pages were signed, run `rendorix sign` to sign every page and write both again"
                ),
                _ => format!(
                    "cannot write the manifest ({e}); the pages were signed, run again to record them"
                ),
            },
        }),
    }
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
