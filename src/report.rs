//! The summary a run prints, as text for people or JSON for pipelines.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::config::Duration;
use crate::walk::{Discovery, PageReport};

/// One thing that went wrong, with where.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// The file, as given on the command line plus its relative path.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The URL concerned, when there is one.
    pub url: Option<String>,
    /// What went wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        match &self.url {
            Some(url) => write!(f, ": {url:?}: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

/// What a sign run did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The site folder.
    pub site: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The run's `now`, Unix seconds.
    pub now: u64,
    /// The signing key's id.
    pub kid: String,
    /// HTML pages read.
    pub pages_scanned: usize,
    /// Pages rewritten (or that would be, in a dry run).
    pub pages_changed: usize,
    /// Pages left unchanged because of an error.
    pub pages_failed: usize,
    /// URLs signed.
    pub urls_signed: usize,
    /// URLs in image attributes that are not under `sign.match`.
    pub urls_left_alone: usize,
    /// Protected URLs that could not be signed.
    pub urls_failed: usize,
    /// Earliest `exp` written.
    pub earliest_exp: Option<u64>,
    /// Latest `exp` written.
    pub latest_exp: Option<u64>,
    /// `earliest_exp` as UTC time.
    pub earliest_exp_utc: Option<String>,
    /// `latest_exp` as UTC time.
    pub latest_exp_utc: Option<String>,
    /// `latest_exp - now`: the longest a link written by this run stays valid, and so the
    /// longest a removed image stays reachable through it (the revocation window).
    pub longest_link_lifetime_secs: Option<u64>,
    /// HTML files that are symbolic links, not followed.
    pub symlinks_skipped: usize,
    /// Temporary files of an earlier killed run, removed.
    pub leftovers_removed: usize,
    /// The manifest written, if any.
    pub manifest: Option<String>,
    /// Every error, page by page.
    pub errors: Vec<Finding>,
}

impl Summary {
    /// Builds the summary of a sign run.
    pub fn of_sign(
        site: &Path,
        discovery: &Discovery,
        reports: &[PageReport],
        now: u64,
        exp: u64,
        kid: &str,
        dry_run: bool,
    ) -> Summary {
        let shown = |rel: &Path| site.join(rel).display().to_string();
        let mut s = Summary {
            site: site.display().to_string(),
            dry_run,
            now,
            kid: kid.to_owned(),
            pages_scanned: reports.len(),
            pages_changed: 0,
            pages_failed: 0,
            urls_signed: 0,
            urls_left_alone: 0,
            urls_failed: 0,
            earliest_exp: None,
            latest_exp: None,
            earliest_exp_utc: None,
            latest_exp_utc: None,
            longest_link_lifetime_secs: None,
            symlinks_skipped: discovery.symlinks.len(),
            leftovers_removed: discovery.removed_leftovers,
            manifest: None,
            errors: Vec::new(),
        };
        for (path, message) in &discovery.problems {
            s.errors.push(Finding {
                path: path.display().to_string(),
                line: None,
                column: None,
                url: None,
                message: message.clone(),
            });
        }
        for r in reports {
            match &r.result {
                Ok(done) => {
                    s.pages_changed += usize::from(done.changed);
                    s.urls_signed += done.scan.signed.len();
                    s.urls_left_alone += done.scan.left_alone;
                    s.urls_failed += done.located.len();
                    for (p, line, column) in &done.located {
                        s.errors.push(Finding {
                            path: shown(&r.page.rel),
                            line: Some(*line),
                            column: Some(*column),
                            url: Some(p.url.clone()),
                            message: format!("{}; the URL was left unsigned", p.message),
                        });
                    }
                }
                Err(message) => {
                    s.pages_failed += 1;
                    s.errors.push(Finding {
                        path: shown(&r.page.rel),
                        line: None,
                        column: None,
                        url: None,
                        message: message.clone(),
                    });
                }
            }
        }
        if s.urls_signed > 0 {
            // One run writes one exp; earliest and latest differ only across runs (resign).
            s.earliest_exp = Some(exp);
            s.latest_exp = Some(exp);
            s.earliest_exp_utc = Some(utc(exp));
            s.latest_exp_utc = Some(utc(exp));
            s.longest_link_lifetime_secs = Some(exp.saturating_sub(now));
        }
        s
    }

    /// Whether anything failed (exit status 1).
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let verb = if self.dry_run {
            "would change"
        } else {
            "changed"
        };
        let _ = writeln!(
            t,
            "{}: {} pages scanned, {} {verb}, {} failed",
            self.site, self.pages_scanned, self.pages_changed, self.pages_failed
        );
        let _ = writeln!(
            t,
            "URLs: {} signed with key {}, {} left alone (not under sign.match), {} failed",
            self.urls_signed, self.kid, self.urls_left_alone, self.urls_failed
        );
        match (
            &self.earliest_exp_utc,
            &self.latest_exp_utc,
            self.longest_link_lifetime_secs,
        ) {
            (Some(first), Some(last), Some(life)) => {
                if first == last {
                    let _ = writeln!(t, "exp: {first} for every URL signed");
                } else {
                    let _ = writeln!(t, "exp: earliest {first}, latest {last}");
                }
                let _ = writeln!(
                    t,
                    "links stay valid for at most {} after this run; a removed image stays reachable that long (revocation window)",
                    Duration(life)
                );
            }
            _ => {
                let _ = writeln!(t, "exp: no URL signed");
            }
        }
        if self.symlinks_skipped > 0 {
            let _ = writeln!(
                t,
                "skipped {} HTML symlinks (not followed; their targets are signed under their own paths)",
                self.symlinks_skipped
            );
        }
        if self.leftovers_removed > 0 {
            let _ = writeln!(
                t,
                "removed {} temporary files left by an interrupted run",
                self.leftovers_removed
            );
        }
        match (&self.manifest, self.dry_run) {
            (_, true) => t.push_str("dry run: no file written\n"),
            (Some(m), false) => {
                let _ = writeln!(t, "manifest: {m}");
            }
            (None, false) => {}
        }
        t
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serializes") + "\n"
    }
}

/// `secs` (Unix time) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(secs: u64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_715_004_000), "2024-05-06T14:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(9_999_999_999), "2286-11-20T17:46:39Z");
    }

    #[test]
    fn findings_read_like_compiler_errors() {
        let f = Finding {
            path: "public/a.html".into(),
            line: Some(3),
            column: Some(9),
            url: Some("/m/a.jpg?sig=1".into()),
            message: "why".into(),
        };
        assert_eq!(f.to_string(), "public/a.html:3:9: \"/m/a.jpg?sig=1\": why");
    }
}
