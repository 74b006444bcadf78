//! `rendorix verify`: signed URLs or request targets checked as an edge checks them.

use std::io::Write;
use std::path::{Path, PathBuf};

use url::Url;

use crate::commands::{load_keys, native_verifier_of, system_now};
use crate::config::{Config, Scheme};
use crate::core::duration::Duration;
use crate::core::keys::Keys;
use crate::core::native::NativeVerifier;
use crate::core::schemes::NativeRejection;
use crate::core::time::utc;
use crate::core::verify::{Limits, Rejection, verify};
use crate::error::{Error, Status};

/// `rendorix verify`'s options.
#[derive(Debug)]
pub(crate) struct VerifyOptions {
    /// The URLs or request targets.
    pub(crate) urls: Vec<String>,
    /// `--now`.
    pub(crate) now: Option<u64>,
    /// `--config`; without it, `./rendorix.toml` when it exists.
    pub(crate) config: Option<PathBuf>,
    /// `-q`: print only the URLs that do not verify.
    pub(crate) quiet: bool,
}

/// The keys variable, the limits and the scheme: from the config when there is one, else the
/// defaults.
fn settings(config: Option<&Path>) -> Result<(String, Limits, Scheme), Error> {
    let default = Path::new("rendorix.toml");
    let path = config.or_else(|| default.is_file().then_some(default));
    Ok(match path {
        Some(path) => {
            let c = Config::load(path)?;
            let limits = c.limits();
            (c.keys_env, limits, c.scheme)
        }
        None => (
            "RENDORIX_KEYS".to_owned(),
            Limits::default(),
            Scheme::Rendorix,
        ),
    })
}

/// The verdict line of a URL of a native scheme (the host is part of what these schemes sign,
/// so a bare request target cannot be checked).
fn native_line(url: &str, shown: &str, verifier: &NativeVerifier, now: u64) -> (bool, String) {
    let verdict = Url::parse(url)
        .map_err(|_| {
            NativeRejection::Malformed(
                "a URL of this scheme is verified whole, with its host: pass the absolute URL",
            )
        })
        .and_then(|u| verifier.verify(&u, now));
    match verdict {
        Ok(exp) => (
            true,
            format!(
                "ok            {shown}\n              key {}, exp {} ({} left)",
                verifier.key_id(),
                utc(exp),
                Duration(exp.saturating_sub(now))
            ),
        ),
        Err(r) => (
            false,
            format!("{:<13} {shown}\n              {}", r.code(), r.reason()),
        ),
    }
}

/// `url` as printed: control characters (a terminal's escape sequences, a newline that would
/// start a line of its own, such as a fake `ok`) as `\u{..}` escapes, the rest as given.
fn shown(url: &str) -> String {
    url.chars()
        .map(|c| {
            if c.is_control() || c == '\\' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Prints one verdict per URL; fails unless every one verifies.
pub(crate) fn run(options: &VerifyOptions) -> Result<Status, Error> {
    let (keys_env, limits, scheme) = settings(options.config.as_deref())?;
    let native = native_verifier_of(&scheme)?;
    let keys = if native.is_some() {
        Keys::from_keys(Vec::new())
    } else {
        load_keys(&keys_env)?
    };
    let now = options.now.unwrap_or_else(system_now);
    let mut all_ok = true;
    let mut out = String::new();
    for url in &options.urls {
        let shown = shown(url);
        if let Some(verifier) = &native {
            let (ok, line) = native_line(url, &shown, verifier, now);
            all_ok &= ok;
            if !(ok && options.quiet) {
                out.push_str(&line);
                out.push('\n');
            }
            continue;
        }
        let line = match verify(url, now, &keys, limits) {
            Ok(_) if options.quiet => continue,
            Ok(v) => format!(
                "ok            {shown}\n              kid {}, exp {} ({} left)",
                v.kid,
                utc(v.exp),
                Duration(v.exp.saturating_sub(now))
            ),
            Err(rejection) => {
                all_ok = false;
                let detail = match &rejection {
                    Rejection::Expired { exp } => format!(
                        "exp {} (expired {} ago; grace {}s)",
                        utc(*exp),
                        Duration(now.saturating_sub(*exp)),
                        limits.grace
                    ),
                    other => other.reason(),
                };
                let hint = if url.contains("&amp;") {
                    "; the URL holds \"&amp;\": pass it as the browser requests it, with \"&\""
                } else {
                    ""
                };
                format!(
                    "{:<13} {shown}\n              {detail}{hint}",
                    rejection.code()
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(Status::of(!all_ok))
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn targets_are_printed_with_control_characters_escaped() {
        assert_eq!(shown("/media/a.jpg?w=1&x=é"), "/media/a.jpg?w=1&x=é");
        assert_eq!(
            shown("/a\n\u{1b}[32mok            /b\r\u{7f}\u{9b}\\x"),
            "/a\\n\\u{1b}[32mok            /b\\r\\u{7f}\\u{9b}\\\\x"
        );
    }
}
