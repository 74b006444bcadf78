//! The command line (spec §9): clap's definitions of the commands and their arguments, turned
//! into each command's options. [`run`] prints an error once, where it returns, and maps the
//! outcome to the exit status ([`crate::error`] has the table).
//!
//! The doc comments of the argument structs are the `--help` texts users read, written as
//! plain text, hence no Markdown lints here.
#![allow(clippy::doc_markdown, rustdoc::invalid_html_tags)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands::edge::{EdgeOptions, Target};
use crate::commands::init::InitOptions;
use crate::commands::merge::MergeOptions;
use crate::commands::resign::ResignOptions;
use crate::commands::revoke::{Action, RevokeOptions};
use crate::commands::serve::ServeOptions;
use crate::commands::sign::SignOptions;
use crate::commands::verify::VerifyOptions;
use crate::commands::{self, SiteOptions};
use crate::core::duration::{Duration, DurationError};
use crate::core::shard::Shard;
use crate::core::time::When;
use crate::error::{Error, Status, UsageError};
use crate::report::{ColorChoice, Format, Verbosity, use_color};

/// Signs the image URLs of a static site at build time.
#[derive(Debug, Parser)]
#[command(
    name = "rendorix",
    version,
    about = "Signs the image URLs of a static site at build time",
    after_help = "Run `rendorix sign public/` after your site generator."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print errors only.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print every finding and every re-signed page, not a few of each.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    /// Colour errors and warnings: auto (when stderr is a terminal and NO_COLOR is not set),
    /// always or never.
    #[arg(long, value_enum, global = true, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a first rendorix.toml from the built site: its image folders, base_url and
    /// generator, checked by a dry run so that `rendorix sign` signs it with no finding.
    Init(InitArgs),
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
    /// Write a verifier for a CDN edge or nginx, built from the config's protection rules,
    /// grace and link lifetime; it holds no secret.
    Edge(EdgeArgs),
    /// Refuse paths at every edge from now on, whatever their links' exp: write the revocation
    /// list and each edge's deny-list (--remove to serve them again, --list to show them).
    Revoke(RevokeArgs),
    /// Work on manifests: `rendorix manifest merge` joins the parts of a sharded run.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Print a shell completion script: rendorix completions bash > /etc/bash_completion.d/rendorix
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): rendorix man > /usr/local/share/man/man1/rendorix.1
    Man,
    /// Print a fresh key ("kid:secret") from the operating system's random source.
    Keygen {
        /// Key id (default: "k" and today's date, e.g. k20261123).
        #[arg(long, value_name = "ID")]
        kid: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ManifestCommand {
    /// Join the parts that `sign --shard K/N` or `resign --shard K/N` wrote into the manifest one
    /// run would have written, byte for byte; judge the whole run (unsigned references, whether
    /// anything was signed) and settle the revocation list. Refuses parts of different runs,
    /// configs or keys, and a missing or repeated shard.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The parts [default: every NAME.shard-K-of-N beside the config's manifest].
    #[arg(value_name = "PART")]
    parts: Vec<PathBuf>,
    /// Where to write the manifest [default: the config's manifest path].
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// The config file: the one every shard read.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    #[command(flatten)]
    coverage: CoverageArgs,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct SiteArgs {
    /// The generator's output folder [default: site.dir from the config].
    #[arg(value_name = "SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// The config file.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// The current time, for reproducible runs: Unix seconds, RFC 3339
    /// (2026-12-05T00:00:00Z) or an offset from the clock (+3d, -1h) [default: the system clock].
    #[arg(long, value_name = "TIME", value_parser = When::parse, allow_hyphen_values = true)]
    now: Option<When>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Process only shard K of N: the pages whose path hashes to it (docs/scale.md). sign and
    /// resign write their part of the manifest beside it, for `rendorix manifest merge`; their
    /// shards need the same --now, as an instant.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// The generator's output folder [default: the first of public, dist, build, _site, out,
    /// site, build/html, _build/html, docs/.vitepress/dist that holds an index.html].
    #[arg(value_name = "SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// The config file to write.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// Where the site is served [default: from the home page's canonical link or og:url].
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The id of the signing key [default: "k" and today's date].
    #[arg(long, value_name = "ID")]
    kid: Option<String>,
    /// Overwrite an existing config file.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
struct CoverageArgs {
    /// Report unsigned protected references, and a run that signs nothing, as warnings instead
    /// of failing (exit 0).
    #[arg(long)]
    allow_unsigned: bool,
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    #[command(flatten)]
    site: SiteArgs,
    #[command(flatten)]
    coverage: CoverageArgs,
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
    #[command(flatten)]
    coverage: CoverageArgs,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Absolute URLs (checked as a browser sends them) or request targets such as
    /// "/media/a.jpg?exp=…&kid=…&sig=…" (checked byte for byte, as an edge receives them).
    #[arg(value_name = "URL", required = true)]
    urls: Vec<String>,
    /// The current time, for reproducible runs: Unix seconds, RFC 3339
    /// (2026-12-05T00:00:00Z) or an offset from the clock (+3d, -1h) [default: the system clock].
    #[arg(long, value_name = "TIME", value_parser = When::parse, allow_hyphen_values = true)]
    now: Option<When>,
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
    /// Move the server's clock, e.g. "2d" to preview expiry, "-1h" to go back (the same as
    /// --now +2d).
    #[arg(long, value_name = "DURATION", value_parser = parse_offset, allow_hyphen_values = true)]
    clock_offset: Option<i64>,
    /// The current time: Unix seconds or RFC 3339 (a fixed clock), or an offset from the
    /// system clock (+2d: a running clock moved forward) [default: the system clock].
    #[arg(long, value_name = "TIME", value_parser = When::parse, allow_hyphen_values = true)]
    now: Option<When>,
}

#[derive(Debug, clap::Args)]
struct EdgeArgs {
    /// Where the verifier runs.
    #[arg(value_enum, value_name = "TARGET")]
    target: Target,
    /// The config file.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// The folder to write the files to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// Image paths ("/media/profiles/42.jpg"), prefixes ending in '/' ("/media/profiles/42/"),
    /// or absolute URLs of protected images.
    #[arg(value_name = "PATH_OR_PREFIX", required_unless_present = "list")]
    paths: Vec<String>,
    /// Until when to refuse them: Unix seconds, RFC 3339, or an offset from now (+30d)
    /// [default: the end of the longest link signed for them, grace included].
    #[arg(long, value_name = "TIME", value_parser = When::parse, allow_hyphen_values = true, conflicts_with_all = ["remove", "list"])]
    until: Option<When>,
    /// Remove these paths from the list: the edges serve them again.
    #[arg(long, conflicts_with = "list")]
    remove: bool,
    /// Print the list.
    #[arg(long)]
    list: bool,
    /// The config file.
    #[arg(long, value_name = "FILE", default_value = "rendorix.toml")]
    config: PathBuf,
    /// The current time, for reproducible runs: Unix seconds, RFC 3339
    /// (2026-12-05T00:00:00Z) or an offset from the clock (+3d, -1h) [default: the system clock].
    #[arg(long, value_name = "TIME", value_parser = When::parse, allow_hyphen_values = true)]
    now: Option<When>,
}

/// A duration with an optional leading '-', in seconds.
fn parse_offset(text: &str) -> Result<i64, DurationError> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let secs = Duration::parse(rest)?.secs();
    // Durations are at most ten years, far inside i64.
    Ok(sign * i64::try_from(secs).expect("at most ten years"))
}

/// The instant `when` names, offsets taken from the system clock.
fn instant(when: When) -> u64 {
    when.resolve(commands::system_now())
}

/// Parses `args` (the program name first, as in `std::env::args_os`) and runs the command.
/// Errors are printed here, once, on stderr; help and version go to stdout.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    use_color(cli.color);
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    match execute(cli.command, verbosity) {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn execute(command: Command, verbosity: Verbosity) -> Result<Status, Error> {
    match command {
        Command::Init(args) => commands::init::run(&InitOptions {
            site_dir: args.site_dir,
            config: args.config,
            base_url: args.base_url,
            kid: args.kid,
            force: args.force,
            quiet: verbosity == Verbosity::Quiet,
        }),
        Command::Sign(args) => commands::sign::run(SignOptions {
            site: args
                .site
                .options(args.coverage.allow_unsigned, verbosity, true)?,
            dry_run: args.dry_run,
            jobs: args.jobs,
        }),
        Command::Resign(args) => commands::resign::run(ResignOptions {
            site: args.site.options(false, verbosity, true)?,
            within: args.within,
            jobs: args.jobs,
        }),
        Command::Check(args) => {
            // Shards of an audit need not share an instant: each writes nothing.
            let allow = args.coverage.allow_unsigned;
            commands::check::run(args.site.options(allow, verbosity, false)?)
        }
        Command::Manifest(ManifestCommand::Merge(args)) => commands::merge::run(MergeOptions {
            parts: args.parts,
            out: args.out,
            config: args.config,
            allow_unsigned: args.coverage.allow_unsigned,
            format: args.format,
            verbosity,
        }),
        Command::Verify(args) => commands::verify::run(&VerifyOptions {
            urls: args.urls,
            now: args.now.map(instant),
            config: args.config,
            quiet: verbosity == Verbosity::Quiet,
        }),
        Command::Serve(args) => {
            let (now, moved) = match args.now {
                Some(When::At(secs)) => (Some(secs), 0),
                Some(When::Offset(offset)) => (None, offset),
                None => (None, 0),
            };
            commands::serve::run(ServeOptions {
                site_dir: args.site_dir,
                config: args.config,
                port: args.port,
                bind: args.bind,
                origin: args.origin,
                clock_offset: args.clock_offset.unwrap_or(0) + moved,
                now,
                quiet: verbosity == Verbosity::Quiet,
            })
        }
        Command::Edge(args) => commands::edge::run(&EdgeOptions {
            target: args.target,
            config: args.config,
            out: args.out,
            quiet: verbosity == Verbosity::Quiet,
        }),
        Command::Revoke(args) => {
            let now = args.now.map(instant);
            let until = args
                .until
                .map(|u| u.resolve(now.unwrap_or_else(commands::system_now)));
            commands::revoke::run(RevokeOptions {
                action: if args.list {
                    Action::List
                } else if args.remove {
                    Action::Remove(args.paths)
                } else {
                    Action::Add {
                        paths: args.paths,
                        until,
                    }
                },
                config: args.config,
                now,
                quiet: verbosity == Verbosity::Quiet,
            })
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "rendorix", &mut std::io::stdout());
            Ok(Status::Clean)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &out))
                .map_err(|e| crate::error::UsageError::CannotWrite("stdout".into(), e))?;
            Ok(Status::Clean)
        }
        Command::Keygen { kid } => commands::keygen::run(kid, verbosity == Verbosity::Quiet),
    }
}

impl SiteArgs {
    /// The options of a site command; `signs`: one whose shards must sign for one instant,
    /// which a clock read by each does not give.
    fn options(
        self,
        allow_unsigned: bool,
        verbosity: Verbosity,
        signs: bool,
    ) -> Result<SiteOptions, Error> {
        if let Some(shard) = self.shard
            && signs
            && !matches!(self.now, Some(When::At(_)))
        {
            return Err(UsageError::ShardNeedsNow(shard.to_string()).into());
        }
        Ok(SiteOptions {
            site_dir: self.site_dir,
            config: self.config,
            now: self.now.map(instant),
            format: self.format,
            allow_unsigned,
            verbosity,
            shard: self.shard,
        })
    }
}
