//! `rendorix serve`: a local preview of a signed site that behaves like the edge.
//!
//! `preview` decides the answer to each request (verified like an edge, paths confined to the
//! site and origin folders); `http` holds the HTTP/1.1 connections. This module is the command
//! and the access log between them.

use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::commands::{load_keys, native_verifier, system_now};
use crate::config::Config;
use crate::core::keys::Keys;
use crate::core::time::utc;
use crate::error::{Error, Status, UsageError};

mod http;
mod preview;

use preview::{Answer, Preview, RevocationFile, content_type};

/// `rendorix serve`'s options.
#[derive(Debug)]
pub(crate) struct ServeOptions {
    /// The signed site folder, when the command line names one.
    pub(crate) site_dir: Option<PathBuf>,
    /// The config file.
    pub(crate) config: PathBuf,
    /// The port (0: any free one).
    pub(crate) port: u16,
    /// The address to listen on.
    pub(crate) bind: IpAddr,
    /// Where protected images come from.
    pub(crate) origin: Option<PathBuf>,
    /// Seconds added to the clock.
    pub(crate) clock_offset: i64,
    /// A fixed clock.
    pub(crate) now: Option<u64>,
    /// `-q`: log only the requests refused or failed.
    pub(crate) quiet: bool,
}

/// Serves the site until the process is stopped.
pub(crate) fn run(options: ServeOptions) -> Result<Status, Error> {
    let config = Config::load(&options.config)?;
    let native = native_verifier(&config)?;
    let keys = match native {
        None => load_keys(&config.keys_env)?,
        Some(_) => Keys::from_keys(Vec::new()),
    };
    let folder = |path: &Path, what: &'static str| {
        fs::canonicalize(path)
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| UsageError::NoServeFolder {
                path: path.to_owned(),
                what,
            })
    };
    let site = options.site_dir.unwrap_or_else(|| config.site_dir.clone());
    let site = folder(&site, "site")?;
    let origin = match &options.origin {
        Some(o) => folder(o, "origin")?,
        None => site.clone(),
    };
    let preview = Preview {
        site: site.clone(),
        origin: origin.clone(),
        base_url: config.base_url.clone(),
        protection: config.protection.clone(),
        keys,
        limits: config.limits(),
        revoked: Arc::new(RevocationFile::new(config.revoked_dir.clone())),
        native,
    };
    let address = SocketAddr::new(options.bind, options.port);
    let listener =
        TcpListener::bind(address).map_err(|error| UsageError::Listen { address, error })?;
    let bound = listener
        .local_addr()
        .map_or_else(|_| address.to_string(), |a| a.to_string());
    let (offset, fixed) = (options.clock_offset, options.now);
    let now = move || {
        fixed
            .unwrap_or_else(system_now)
            .saturating_add_signed(offset)
    };
    // A closed stdout (the caller read the address and left) must not stop the server.
    let _ = write!(
        io::stdout(),
        "serving {} at http://{bound}{}\nprotected images from {}; clock {} (offset {offset:+}s); Ctrl-C stops\nlog on stderr: status verdict method target\n",
        site.display(),
        config.base_url.path(),
        origin.display(),
        utc(now())
    );
    let _ = io::stdout().flush();
    serve(&listener, preview, now, options.quiet).map_err(UsageError::ServerStopped)?;
    Ok(Status::Clean)
}

/// Serves `preview` on `listener` until the process ends. `now` gives the (possibly offset)
/// clock; each request (each refused one, when `quiet`) writes one access-log line to stderr.
pub(crate) fn serve(
    listener: &TcpListener,
    preview: Preview,
    now: impl Fn() -> u64 + Send + Sync + 'static,
    quiet: bool,
) -> io::Result<()> {
    http::run(listener, move |request| {
        respond(request, &preview, now(), quiet)
    })
}

fn respond(request: &http::Request, preview: &Preview, now: u64, quiet: bool) -> http::Response {
    let (method, target) = (request.method, request.target);
    let answer = if matches!(method, "GET" | "HEAD") {
        preview.answer(request.host, target, now)
    } else {
        Answer::BadRequest("only GET and HEAD are served")
    };
    if !quiet || answer.status() >= 400 {
        // A closed stderr must not stop the server.
        let _ = writeln!(
            io::stderr(),
            "{} {:<13} {method} {target}",
            answer.status(),
            answer.verdict()
        );
    }
    // Pages must be fetched again (the refresh script relies on it); nothing here is cached.
    let no_cache = ("Cache-Control", "no-cache".to_owned());
    match answer {
        Answer::File { path, .. } => match fs::File::open(&path) {
            Ok(file) => http::Response {
                status: 200,
                headers: vec![("Content-Type", content_type(&path).into()), no_cache],
                body: http::Body::File(file),
            },
            Err(_) => http::Response::text(404, "not found\n"),
        },
        Answer::Redirect(to) => http::Response {
            status: 301,
            headers: vec![("Location", to), no_cache],
            body: http::Body::Text(String::new()),
        },
        Answer::Forbidden { code, reason } => {
            let mut forbidden = http::Response::text(403, format!("{code}: {reason}\n"));
            forbidden.headers.extend([
                ("X-Rendorix-Reason", code.to_owned()),
                ("Cache-Control", "no-store".to_owned()),
            ]);
            forbidden
        }
        Answer::BadRequest(why) => http::Response::text(400, format!("{why}\n")),
        Answer::NotFound => http::Response::text(404, "not found\n"),
    }
}
