//! The errors that stop a command before it writes anything, and the one place where outcomes
//! become exit statuses:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | [`Status::Clean`]: every page processed, every protected URL signed (`check`: no finding; `verify`: every URL verified) |
//! | 1 | [`Status::Failures`]: some pages or URLs failed; the others were processed and nothing was lost |
//! | 2 | an [`Error`]: usage, config or key error; nothing was written |

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::core::keys::KeyError;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing failed.
    Clean,
    /// Something failed and was reported; the rest was done.
    Failures,
}

impl Status {
    /// The process exit status.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Clean => 0,
            Status::Failures => 1,
        }
    }

    /// [`Status::Failures`] when `failed`.
    pub fn of(failed: bool) -> Status {
        if failed {
            Status::Failures
        } else {
            Status::Clean
        }
    }
}

/// Why a command did not run. Nothing was written.
#[derive(Debug)]
pub enum Error {
    /// The config file is missing or wrong.
    Config(ConfigError),
    /// The keys in the environment are missing or wrong.
    Keys(KeyError),
    /// The command line asks for something that cannot be done.
    Usage(UsageError),
}

impl Error {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Keys(_) | Error::Usage(_) => 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => e.fmt(f),
            Error::Keys(e) => e.fmt(f),
            Error::Usage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        Error::Keys(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Error {
        Error::Usage(e)
    }
}

/// A command line that cannot be carried out.
#[derive(Debug)]
pub enum UsageError {
    /// The site folder does not exist.
    NoSiteFolder(PathBuf),
    /// `init` found no built site in the usual output folders under this folder.
    NoBuiltSite(PathBuf),
    /// `init` would overwrite this config.
    ConfigExists(PathBuf),
    /// `init --base-url` is not an http(s) URL.
    BadBaseUrl(String),
    /// `init` found no image on the site's own origin in these pages.
    NoImages(PathBuf),
    /// A folder that `serve` needs does not exist.
    NoServeFolder {
        /// The folder.
        path: PathBuf,
        /// `site` or `origin`.
        what: &'static str,
    },
    /// `--jobs 0`.
    NoJobs,
    /// `--shard` without an instant for `--now` (the shard named).
    ShardNeedsNow(String),
    /// A manifest part that cannot be read, and why.
    Part(PathBuf, String),
    /// Parts that cannot be merged, and why.
    Merge(String),
    /// `--now` gives an `exp` of more than 10 digits: milliseconds were passed.
    NowInMilliseconds {
        /// The `--now` given.
        now: u64,
        /// The `exp` it gives.
        exp: u64,
    },
    /// `serve` cannot listen on its address.
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        error: io::Error,
    },
    /// `serve` stopped accepting connections.
    ServerStopped(io::Error),
    /// The operating system's random source failed (`keygen`).
    NoRandomness(getrandom::Error),
    /// A file or folder that `edge` writes could not be.
    CannotWrite(PathBuf, io::Error),
    /// The CloudFront Function `edge` generates would be over CloudFront's size limit.
    FunctionTooLarge {
        /// Its size.
        bytes: usize,
        /// CloudFront's limit.
        limit: usize,
    },
    /// `[refresh]` is on, and the refresh worker's own URL is protected: the edge would refuse
    /// the script every page loads.
    WorkerProtected(String),
    /// A `revoke` argument that names nothing a verifier could refuse.
    NotRevocable {
        /// The argument.
        text: String,
        /// Why, and what to write instead.
        why: String,
    },
    /// `rendorix edge` for a scheme that the CDN verifies itself.
    NativeScheme(&'static str),
    /// `rendorix revoke` for a scheme whose verifier has no revocation list.
    NoRevocation(&'static str),
    /// The private key in an environment variable cannot sign; the text says why.
    BadPrivateKey(String, String),
    /// An environment variable that holds a signing credential is not set.
    MissingCredential(String),
    /// The revocation list cannot be read or written; the text says why.
    RevocationList(PathBuf, String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoSiteFolder(path) => write!(
                f,
                "{}: no such folder; name the generator's output folder, e.g. `rendorix sign public/` (site.dir in the config is relative to the config file's folder)",
                path.display()
            ),
            UsageError::NoBuiltSite(dir) => write!(
                f,
                "no built site (a folder with index.html) in public, dist, build, _site, out, site, build/html, _build/html or docs/.vitepress/dist under {}; build the site first, or name its output folder: `rendorix init public/`",
                dir.display()
            ),
            UsageError::ConfigExists(path) => write!(
                f,
                "{} exists; edit it, or pass --force to write it again",
                path.display()
            ),
            UsageError::BadBaseUrl(text) => write!(
                f,
                "--base-url {text:?} is not an http(s) URL; give where the site is served, e.g. https://www.example.com/"
            ),
            UsageError::NoImages(dir) => write!(
                f,
                "{}: the pages hold no image on the site's own origin, so there is nothing to protect; images on other hosts need sign.match written by hand",
                dir.display()
            ),
            UsageError::NoServeFolder { path, what } => {
                write!(f, "{}: no such {what} folder", path.display())
            }
            UsageError::NoJobs => f.write_str("--jobs must be at least 1"),
            UsageError::Part(path, why) => write!(
                f,
                "the manifest part {} {why}; run its shard again",
                path.display()
            ),
            UsageError::Merge(why) => f.write_str(why),
            UsageError::ShardNeedsNow(shard) => write!(
                f,
                "--shard {shard} needs --now as an instant (Unix seconds or RFC 3339), the same for every shard, so that they sign for one time: e.g. --now \"$(date -u +%s)\" taken once and handed to each job"
            ),
            UsageError::NowInMilliseconds { now, exp } => write!(
                f,
                "--now {now} gives exp {exp}, more than 10 digits; pass Unix seconds, not milliseconds"
            ),
            UsageError::Listen { address, error } => {
                write!(
                    f,
                    "cannot listen on {address}: {error}; pick another --port"
                )
            }
            UsageError::ServerStopped(e) => write!(f, "the server stopped: {e}"),
            UsageError::NoRandomness(e) => {
                write!(f, "the operating system's random source failed: {e}")
            }
            UsageError::CannotWrite(path, e) => {
                write!(f, "{}: cannot write: {e}", path.display())
            }
            UsageError::FunctionTooLarge { bytes, limit } => write!(
                f,
                "the CloudFront Function would be {bytes} bytes, over CloudFront's limit of {limit}; shorten sign.match, sign.exclude or sign.extensions, or use lambda-edge"
            ),
            UsageError::NativeScheme(name) => write!(
                f,
                "sign.scheme is \"{name}\": the CDN verifies these URLs itself, so there is no edge to generate (docs/deploy-{name}.md says what to configure there)"
            ),
            UsageError::NoRevocation(name) => write!(
                f,
                "sign.scheme is \"{name}\": the CDN verifies these URLs with no revocation list; to withdraw an image now, delete the object or make it private, or retire the signing key (docs/deploy-{name}.md)"
            ),
            UsageError::BadPrivateKey(var, why) => write!(f, "{var}: {why}"),
            UsageError::MissingCredential(var) => write!(
                f,
                "{var} is not set; set it to the signing credential (the S3 scheme: an IAM user's long-term access key, since temporary credentials would end the links with them; CloudFront: the private key's PEM), or name another variable in the scheme's [sign.*] table"
            ),
            UsageError::NotRevocable { text, why } => write!(f, "cannot revoke {text:?}: {why}"),
            UsageError::RevocationList(path, e) => {
                write!(f, "the revocation list {} {e}", path.display())
            }
            UsageError::WorkerProtected(url) => write!(
                f,
                "[refresh] is on, but the refresh worker's URL {url} is protected by sign.match, so the edge would refuse the script every page loads; add it to sign.exclude or set sign.extensions"
            ),
        }
    }
}

impl std::error::Error for UsageError {}
