//! The command line (SPEC §9): argument parsing, and the mapping of outcomes to exit statuses.
//!
//! Exit status: 0 success; 1 some pages or URLs failed (the others were processed, nothing was
//! lost); 2 usage, config or key error (nothing was written).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::keys::{self, Keys};
use crate::manifest::Manifest;
use crate::report::{Summary, utc};
use crate::rewrite::{Options, Rewriter};
use crate::sign::Signer;
use crate::walk;

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
    /// Check signed URLs or request targets as an edge would (exit 0 only if all verify).
    Verify(VerifyArgs),
    /// Print a fresh key ("kid:secret") from the operating system's random source.
    Keygen {
        /// Key id (default: "k" and today's date, e.g. k20261123).
        #[arg(long, value_name = "ID")]
        kid: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    /// The generator's output folder [default: site.dir from the config].
    #[arg(value_name = "SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// The config file.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// Unix seconds to use as the current time, for reproducible runs [default: the system clock].
    #[arg(long, value_name = "SECS")]
    now: Option<u64>,
    /// Report what would change without writing any file.
    #[arg(long)]
    dry_run: bool,
    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
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
    /// The config file, for keys_env and grace [default: rendorix.toml if present, else
    /// RENDORIX_KEYS and a 30s grace].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
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
    match cli.command {
        Command::Sign(args) => sign(args),
        Command::Verify(args) => verify(args),
        Command::Keygen { kid } => keygen(kid),
    }
}

fn fail(message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn sign(args: SignArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let key = match Keys::from_env(&config.keys_env)
        .and_then(|k| k.signing_key(&config.keys_env, &config.key_id))
    {
        Ok(k) => k,
        Err(e) => return fail(e, 2),
    };
    let now = args.now.unwrap_or_else(system_now);
    let exp = config.expiry.exp_for(now);
    if exp > MAX_EXP {
        return fail(
            format!(
                "--now {now} gives exp {exp}, more than 10 digits; pass Unix seconds, not milliseconds"
            ),
            2,
        );
    }
    let site = args.site_dir.unwrap_or_else(|| config.site_dir.clone());
    if !site.is_dir() {
        return fail(
            format!(
                "{}: no such folder; name the generator's output folder, e.g. `rendorix sign public/`",
                site.display()
            ),
            2,
        );
    }
    if args.jobs == Some(0) {
        return fail("--jobs must be at least 1", 2);
    }

    let discovery = walk::discover(&site, args.dry_run);
    let options = Options {
        extra_attributes: config.extra_attributes.clone(),
        social_meta: config.social_meta,
    };
    let rewriter = Rewriter::new(Signer::new(key, exp, config.matches.clone()), options);
    let reports = walk::sign_pages(
        &rewriter,
        &config.base_url,
        &discovery.pages,
        args.jobs.unwrap_or(0),
        args.dry_run,
    );
    let mut summary = Summary::of_sign(
        &site,
        &discovery,
        &reports,
        now,
        exp,
        &config.key_id,
        args.dry_run,
    );

    if !args.dry_run {
        let manifest =
            Manifest::from_reports(&reports, now, &config.key_id, exp, config.base_url.as_str());
        match manifest.write(&config.manifest_path) {
            Ok(()) => summary.manifest = Some(config.manifest_path.display().to_string()),
            Err(e) => summary.errors.push(crate::report::Finding {
                path: config.manifest_path.display().to_string(),
                line: None,
                column: None,
                url: None,
                message: format!("cannot write the manifest ({e}); the pages were signed, run again to record them"),
            }),
        }
    }

    for finding in &summary.errors {
        eprintln!("error: {finding}");
    }
    let out = match args.format {
        Format::Text => summary.to_text(),
        Format::Json => summary.to_json(),
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    ExitCode::from(if summary.failed() { 1 } else { 0 })
}

fn verify(args: VerifyArgs) -> ExitCode {
    let default_config = PathBuf::from("rendorix.toml");
    let config = match &args.config {
        Some(path) => Some(Config::load(path)),
        None if default_config.is_file() => Some(Config::load(&default_config)),
        None => None,
    };
    let (keys_env, grace) = match config {
        Some(Ok(c)) => (c.keys_env, c.expiry.grace.secs()),
        Some(Err(e)) => return fail(e, 2),
        None => ("RENDORIX_KEYS".to_owned(), 30),
    };
    let keys = match Keys::from_env(&keys_env) {
        Ok(k) => k,
        Err(e) => return fail(e, 2),
    };
    let now = args.now.unwrap_or_else(system_now);
    let mut all_ok = true;
    let mut out = String::new();
    for url in &args.urls {
        let line = match crate::verify::verify(url, now, &keys, grace) {
            Ok(v) => format!(
                "ok            {url}\n              kid {}, exp {} ({} left)",
                v.kid,
                utc(v.exp),
                crate::config::Duration(v.exp.saturating_sub(now))
            ),
            Err(rejection) => {
                all_ok = false;
                let detail = match &rejection {
                    crate::verify::Rejection::Expired { exp } => format!(
                        "exp {} (expired {} ago; grace {grace}s)",
                        utc(*exp),
                        crate::config::Duration(now.saturating_sub(*exp))
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
    ExitCode::from(if all_ok { 0 } else { 1 })
}

fn keygen(kid: Option<String>) -> ExitCode {
    let kid = kid.unwrap_or_else(|| format!("k{}", utc(system_now())[..10].replace('-', "")));
    match keys::generate(&kid) {
        Ok(line) => {
            println!("{line}");
            eprintln!(
                "Add this line to the keys environment variable (RENDORIX_KEYS by default) and to your edge; keep it secret."
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 2),
    }
}
