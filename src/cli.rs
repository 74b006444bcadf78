//! The command line (SPEC §9): argument parsing, and the mapping of outcomes to exit statuses.
//!
//! Exit status: 0 success; 1 some pages or URLs failed (the others were processed, nothing was
//! lost); 2 usage, config or key error (nothing was written).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::check::Checker;
use crate::config::{Config, Duration};
use crate::folders::{self, Remembered};
use crate::keys::{self, Key, Keys};
use crate::manifest::{FolderEntry, Manifest, PageEntry, slash_path};
use crate::report::{Finding, Resigned, Summary, utc};
use crate::rewrite::{Options, Rewriter};
use crate::sign::Signer;
use crate::verify::Limits;
use crate::walk::{self, Closer, Page, RunOptions};

/// Signs the image URLs of a static site at build time.
#[derive(Debug, Parser)]
#[command(
    name = "rendorix",
    version,
    about,
    after_help = "Run `rendorix sign public/` after your site generator."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign every protected image URL in the site's HTML pages, in place.
    Sign(SignArgs),
    /// Re-sign, from the manifest, only the pages that are new, rebuilt, signed with another key,
    /// or whose links expire before now + DURATION.
    Resign(ResignArgs),
    /// Audit a signed site without writing: every protected URL signed, valid, and long-lived
    /// enough (exit 1 on any finding).
    Check(CheckArgs),
    /// Check signed URLs or request targets as an edge would (exit 0 only if all verify).
    Verify(VerifyArgs),
    /// Preview the signed site locally, verifying every protected request as the edge does.
    Serve(ServeArgs),
    /// Print a fresh key ("kid:secret") from the operating system's random source.
    Keygen {
        /// Key id (default: "k" and today's date, e.g. k20261123).
        #[arg(long, value_name = "ID")]
        kid: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct SiteArgs {
    /// The generator's output folder [default: site.dir from the config].
    #[arg(value_name = "SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// The config file.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// Unix seconds to use as the current time, for reproducible runs [default: the system clock].
    #[arg(long, value_name = "SECS")]
    now: Option<u64>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// Report what would change without writing any file.
    #[arg(long)]
    dry_run: bool,
    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct ResignArgs {
    #[command(flatten)]
    site: SiteArgs,
    /// Re-sign pages whose earliest exp is before now + DURATION, e.g. "36h" [default:
    /// resign_interval + page_cache_ttl + open_page_allowance].
    #[arg(long, value_name = "DURATION", value_parser = Duration::parse)]
    within: Option<Duration>,
    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    site: SiteArgs,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Absolute URLs (checked as a browser sends them) or request targets such as
    /// "/media/a.jpg?exp=…&kid=…&sig=…" (checked byte for byte, as an edge receives them).
    #[arg(value_name = "URL", required = true)]
    urls: Vec<String>,
    /// Unix seconds to use as the current time [default: the system clock].
    #[arg(long, value_name = "SECS")]
    now: Option<u64>,
    /// The config file, for keys_env, grace and max_link_lifetime [default: rendorix.toml if
    /// present, else RENDORIX_KEYS, a 30s grace and 7d].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The signed site folder [default: site.dir from the config].
    #[arg(value_name = "SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// The config file.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(long, value_name = "N", default_value_t = 8080)]
    port: u16,
    /// Address to listen on; the preview is meant for this machine only.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Where protected images come from: ORIGIN/<path> for paths on base_url's origin,
    /// ORIGIN/<host>/<path> for an image host [default: the site folder].
    #[arg(long, value_name = "DIR")]
    origin: Option<PathBuf>,
    /// Move the server's clock, e.g. "2d" to preview expiry, "-1h" to go back.
    #[arg(long, value_name = "DURATION", value_parser = parse_offset, allow_hyphen_values = true)]
    clock_offset: Option<i64>,
    /// Unix seconds to use as the current time (fixed) [default: the system clock].
    #[arg(long, value_name = "SECS")]
    now: Option<u64>,
}

/// A duration with an optional leading '-', in seconds.
fn parse_offset(text: &str) -> Result<i64, String> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let secs = Duration::parse(rest)?.secs();
    i64::try_from(secs)
        .map(|s| sign * s)
        .map_err(|_| "too large".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Largest `exp` that fits the format's 10 digits.
const MAX_EXP: u64 = 9_999_999_999;

/// Parses the process arguments and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sign(args) => sign(args),
        Command::Resign(args) => resign(args),
        Command::Check(args) => check(args),
        Command::Verify(args) => verify(args),
        Command::Serve(args) => serve(args),
        Command::Keygen { kid } => keygen(kid),
    };
    outcome.unwrap_or_else(|usage| usage)
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What every site command needs, checked before anything is read or written.
struct Setup {
    config: Config,
    site: PathBuf,
    now: u64,
    format: Format,
}

fn setup(args: SiteArgs) -> Result<Setup, ExitCode> {
    let config = Config::load(&args.config).map_err(usage_error)?;
    let now = args.now.unwrap_or_else(system_now);
    let exp = config.expiry.exp_for(now);
    if exp > MAX_EXP {
        return Err(usage_error(format!(
            "--now {now} gives exp {exp}, more than 10 digits; pass Unix seconds, not milliseconds"
        )));
    }
    let site = args.site_dir.unwrap_or_else(|| config.site_dir.clone());
    if !site.is_dir() {
        return Err(usage_error(format!(
            "{}: no such folder; name the generator's output folder, e.g. `rendorix sign public/`",
            site.display()
        )));
    }
    Ok(Setup {
        config,
        site,
        now,
        format: args.format,
    })
}

fn serve(args: ServeArgs) -> Result<ExitCode, ExitCode> {
    let config = Config::load(&args.config).map_err(usage_error)?;
    let keys = Keys::from_env(&config.keys_env).map_err(usage_error)?;
    let site = args.site_dir.unwrap_or_else(|| config.site_dir.clone());
    let folder = |p: &PathBuf, what: &str| {
        std::fs::canonicalize(p)
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| usage_error(format!("{}: no such {what} folder", p.display())))
    };
    let site = folder(&site, "site")?;
    let origin = match &args.origin {
        Some(o) => folder(o, "origin")?,
        None => site.clone(),
    };
    let preview = crate::serve::Preview {
        site: site.clone(),
        origin: origin.clone(),
        base_url: config.base_url.clone(),
        matches: config.matches.clone(),
        keys,
        limits: Limits::of(&config.expiry),
    };
    let address = std::net::SocketAddr::new(args.bind, args.port);
    let listener = std::net::TcpListener::bind(address).map_err(|e| {
        usage_error(format!(
            "cannot listen on {address}: {e}; pick another --port"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_or_else(|_| address.to_string(), |a| a.to_string());
    let offset = args.clock_offset.unwrap_or(0);
    let fixed = args.now;
    let now = move || {
        fixed
            .unwrap_or_else(system_now)
            .saturating_add_signed(offset)
    };
    // A closed stdout (the caller read the address and left) must not stop the server.
    let _ = write!(
        std::io::stdout(),
        "serving {} at http://{bound}/\nprotected images from {}; clock {} (offset {offset:+}s); Ctrl-C stops\nlog on stderr: status verdict method target\n",
        site.display(),
        origin.display(),
        utc(now())
    );
    let _ = std::io::stdout().flush();
    crate::serve::run(listener, preview, now)
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| usage_error(format!("the server stopped: {e}")))
}

/// The rewriter that signs with the configured key, writing the `exp` of a run at `now`.
fn signing_rewriter(config: &Config, now: u64) -> Result<Rewriter, ExitCode> {
    let signer = Signer::new(
        signing_key(config)?,
        config.expiry.exp_for(now),
        config.matches.clone(),
    );
    Ok(Rewriter::new(signer, rewrite_options(config)))
}

fn signing_key(config: &Config) -> Result<Key, ExitCode> {
    Keys::from_env(&config.keys_env)
        .and_then(|k| k.signing_key(&config.keys_env, &config.key_id))
        .map_err(usage_error)
}

/// Validates --jobs and sizes the thread pool with it.
fn jobs(jobs: Option<usize>) -> Result<(), ExitCode> {
    match jobs {
        Some(0) => Err(usage_error("--jobs must be at least 1")),
        n => {
            walk::use_threads(n.unwrap_or(0));
            Ok(())
        }
    }
}

fn rewrite_options(config: &Config) -> Options {
    Options {
        refresh: config.refresh,
        extra_attributes: config.extra_attributes.clone(),
        social_meta: config.social_meta,
    }
}

/// Writes the run's manifest of `folders` and `pages` and notes where, then gives the folders
/// the times it records; or records why it could not be written.
fn write_manifest(
    config: &Config,
    now: u64,
    (folders, folder_times): (Vec<FolderEntry>, folders::PendingTimes),
    pages: Vec<PageEntry>,
    summary: &mut Summary,
) -> Manifest {
    let manifest = Manifest::new(
        now,
        &config.key_id,
        config.base_url.as_str(),
        folders,
        pages,
    );
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
            message: format!(
                "cannot write the manifest ({e}); the pages were signed, run again to record them"
            ),
        }),
    }
    manifest
}

/// Prints the summary (errors on stderr for sign and resign) and maps it to the exit status.
fn finish(summary: &Summary, format: Format) -> ExitCode {
    if summary.command != "check" || format == Format::Json {
        for finding in &summary.errors {
            eprintln!("error: {finding}");
        }
    }
    let out = match format {
        Format::Text => summary.to_text(),
        Format::Json => summary.to_json(),
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    ExitCode::from(if summary.failed() { 1 } else { 0 })
}

/// The time before which the next run must happen: after it, a page served from a cache or kept
/// open could outlive its earliest link.
fn next_run_before(config: &Config, earliest_exp: Option<u64>) -> Option<u64> {
    let serving = config.expiry.page_cache_ttl.secs() + config.expiry.open_page_allowance.secs();
    earliest_exp.map(|e| e.saturating_sub(serving))
}

fn sign(args: SignArgs) -> Result<ExitCode, ExitCode> {
    jobs(args.jobs)?;
    let Setup {
        config,
        site,
        now,
        format,
    } = setup(args.site)?;
    let clock = system_now();
    let rewriter = signing_rewriter(&config, now)?;
    let discovery = walk::discover(&site, args.dry_run, None);
    let run = RunOptions {
        dry_run: args.dry_run,
        now,
    };
    let closer = Closer::start();
    let reports = walk::process_pages(&rewriter, &config.base_url, &discovery.pages, run, &closer);

    let mut summary = Summary::new("sign", &site, &discovery, &reports, now);
    summary.dry_run = args.dry_run;
    summary.kid = Some(config.key_id.clone());
    summary.next_run_before = next_run_before(&config, summary.earliest_exp);
    if !args.dry_run {
        let folders = folders::record(&site, &discovery, &reports, now, clock);
        let pages = reports
            .into_iter()
            .filter_map(PageEntry::from_report)
            .collect();
        write_manifest(&config, now, folders, pages, &mut summary);
    }
    closer.finish();
    Ok(finish(&summary, format))
}

fn resign(args: ResignArgs) -> Result<ExitCode, ExitCode> {
    jobs(args.jobs)?;
    let Setup {
        config,
        site,
        now,
        format,
    } = setup(args.site)?;
    let clock = system_now();
    let rewriter = signing_rewriter(&config, now)?;
    let within = args.within.map_or(config.expiry.needed(), Duration::secs);
    let due_before = now + within;

    let (previous, note) = match Manifest::load(&config.manifest_path) {
        Ok(Some(m)) if m.base_url == config.base_url.as_str() => (Some(m), None),
        Ok(Some(m)) => (
            None,
            Some(format!("was written for base_url {}", m.base_url)),
        ),
        Ok(None) => (None, Some("does not exist".to_owned())),
        Err(why) => (None, Some(why)),
    };
    let have_manifest = previous.is_some();
    let remembered = previous.as_ref().map(Remembered::of).unwrap_or_default();
    let discovery = walk::discover(&site, false, Some(&remembered));
    drop(remembered);
    // Sorted by path, as the manifest keeps them, so that a page's entry is found by binary
    // search (an entry out of order is not found, and its page is processed as new).
    let recorded: Vec<PageEntry> = previous.map(|m| m.pages).unwrap_or_default();

    // Decide in parallel (each undecided page costs a stat, or a read and a hash), then move
    // the kept entries out of the old manifest in page order.
    // Per page: its path, the index of its entry, and kept (with its size and time) or why not.
    type Verdict = Result<(u64, u64), String>;
    let decisions: Vec<(String, Option<usize>, Verdict)> = discovery
        .pages
        .par_iter()
        .map(|page| {
            let path = slash_path(&page.rel);
            let Ok(at) = recorded.binary_search_by(|e| e.path.as_str().cmp(&path)) else {
                let reason = if have_manifest { "new" } else { "full re-scan" };
                return (path, None, Err(reason.to_owned()));
            };
            let entry = &recorded[at];
            let decision = match walk::unchanged_since(
                &page.path,
                &entry.sha256,
                entry.size,
                entry.mtime_ns,
            ) {
                Err(_) | Ok((false, _, _)) => Err("rebuilt".to_owned()),
                Ok((true, size, mtime_ns)) => {
                    if let Some(other) = entry.kid.as_ref().filter(|k| **k != config.key_id) {
                        Err(format!("key rotated: signed with {other}"))
                    } else if let Some(exp) = entry.exp.filter(|&e| e < due_before) {
                        Err(format!(
                            "due: earliest exp {} is before {}",
                            utc(exp),
                            utc(due_before)
                        ))
                    } else {
                        Ok((size, mtime_ns))
                    }
                }
            };
            (path, Some(at), decision)
        })
        .collect();
    let mut recorded: Vec<Option<PageEntry>> = recorded.into_iter().map(Some).collect();
    let mut work: Vec<Page> = Vec::new();
    let mut reasons = Vec::new();
    let mut kept: Vec<PageEntry> = Vec::new();
    for (page, (path, at, decision)) in discovery.pages.iter().zip(decisions) {
        // An entry is taken already only when two names that are not UTF-8 read the same: the
        // second page is processed as new.
        match (decision, at.and_then(|at| recorded[at].take())) {
            (Ok((size, mtime_ns)), Some(entry)) => kept.push(PageEntry {
                size,
                mtime_ns,
                ..entry
            }),
            (decision, _) => {
                let reason = decision.err().unwrap_or_else(|| "new".to_owned());
                reasons.push(Resigned { path, reason });
                work.push(page.clone());
            }
        }
    }
    // Entries not matched by a page on disk: pages gone.
    let removed = recorded.iter().filter(|e| e.is_some()).count();

    let closer = Closer::start();
    let reports = walk::process_pages(
        &rewriter,
        &config.base_url,
        &work,
        RunOptions {
            dry_run: false,
            now,
        },
        &closer,
    );

    let mut summary = Summary::new("resign", &site, &discovery, &reports, now);
    summary.kid = Some(config.key_id.clone());
    summary.pages_skipped = kept.len();
    summary.pages_removed = removed;
    summary.resigned = reasons;
    summary.manifest_note = note.map(|why| {
        format!(
            "the manifest {} {why}; every page was processed",
            config.manifest_path.display()
        )
    });
    let folders = folders::record(&site, &discovery, &reports, now, clock);
    let pages = kept
        .into_iter()
        .chain(reports.into_iter().filter_map(PageEntry::from_report))
        .collect();
    let manifest = write_manifest(&config, now, folders, pages, &mut summary);
    closer.finish();
    summary.set_exps_from(&manifest);
    summary.next_run_before = next_run_before(&config, summary.earliest_exp);
    Ok(finish(&summary, format))
}

fn check(args: CheckArgs) -> Result<ExitCode, ExitCode> {
    let Setup {
        config,
        site,
        now,
        format,
    } = setup(args.site)?;
    let keys = Keys::from_env(&config.keys_env).map_err(usage_error)?;
    let must_outlive =
        now + config.expiry.page_cache_ttl.secs() + config.expiry.open_page_allowance.secs();
    let checker = Checker::new(
        keys,
        config.matches.clone(),
        now,
        Limits::of(&config.expiry),
        must_outlive,
    );
    let rewriter = Rewriter::checking(checker, rewrite_options(&config));
    let discovery = walk::discover(&site, true, None);
    let reports = walk::process_pages(
        &rewriter,
        &config.base_url,
        &discovery.pages,
        RunOptions { dry_run: true, now },
        &Closer::start(),
    );
    let mut summary = Summary::new("check", &site, &discovery, &reports, now);
    summary.dry_run = false;
    Ok(finish(&summary, format))
}

fn verify(args: VerifyArgs) -> Result<ExitCode, ExitCode> {
    let default_config = PathBuf::from("rendorix.toml");
    let config = match &args.config {
        Some(path) => Some(Config::load(path).map_err(usage_error)?),
        None if default_config.is_file() => {
            Some(Config::load(&default_config).map_err(usage_error)?)
        }
        None => None,
    };
    let (keys_env, limits) = match config {
        Some(c) => (c.keys_env, Limits::of(&c.expiry)),
        None => ("RENDORIX_KEYS".to_owned(), Limits::default()),
    };
    let grace = limits.grace;
    let keys = Keys::from_env(&keys_env).map_err(usage_error)?;
    let now = args.now.unwrap_or_else(system_now);
    let mut all_ok = true;
    let mut out = String::new();
    for url in &args.urls {
        let line = match crate::verify::verify(url, now, &keys, limits) {
            Ok(v) => format!(
                "ok            {url}\n              kid {}, exp {} ({} left)",
                v.kid,
                utc(v.exp),
                Duration(v.exp.saturating_sub(now))
            ),
            Err(rejection) => {
                all_ok = false;
                let detail = match &rejection {
                    crate::verify::Rejection::Expired { exp } => format!(
                        "exp {} (expired {} ago; grace {grace}s)",
                        utc(*exp),
                        Duration(now.saturating_sub(*exp))
                    ),
                    other => other.reason(),
                };
                let hint = if url.contains("&amp;") {
                    "; the URL holds \"&amp;\": pass it as the browser requests it, with \"&\""
                } else {
                    ""
                };
                format!(
                    "{:<13} {url}\n              {detail}{hint}",
                    rejection.code()
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(ExitCode::from(if all_ok { 0 } else { 1 }))
}

fn keygen(kid: Option<String>) -> Result<ExitCode, ExitCode> {
    let kid = kid.unwrap_or_else(|| format!("k{}", utc(system_now())[..10].replace('-', "")));
    let line = keys::generate(&kid).map_err(usage_error)?;
    println!("{line}");
    eprintln!(
        "Add this line to the keys environment variable (RENDORIX_KEYS by default) and to your edge; keep it secret."
    );
    Ok(ExitCode::SUCCESS)
}
