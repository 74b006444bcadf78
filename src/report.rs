//! The summary a run prints, as text for people or JSON for pipelines, and the findings it
//! lists with their file, line and column.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use std::collections::BTreeMap;

use crate::core::duration::Duration;
use crate::core::time::utc;
use crate::site::discover::Discovery;
use crate::site::manifest::Manifest;
use crate::site::worker::{PageReport, SearchReport};

/// How a summary is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    // No doc comments here: clap would show them as long help.
    Text,
    Json,
}

/// One thing that went wrong (or, for `check`, one finding), with where.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Finding {
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

/// How much of a URL a text finding shows.
const SHOWN_URL_LEN: usize = 200;

impl Finding {
    /// `path:line:column: "url"`, without the message.
    fn place(&self) -> String {
        let mut place = self.path.clone();
        if let (Some(l), Some(c)) = (self.line, self.column) {
            let _ = write!(place, ":{l}:{c}");
        }
        match &self.url {
            // A megabyte-long URL would bury the message: show its start and its length.
            Some(url) if url.len() > SHOWN_URL_LEN => {
                let mut end = SHOWN_URL_LEN;
                while !url.is_char_boundary(end) {
                    end -= 1;
                }
                let _ = write!(place, ": {:?}… ({} bytes)", &url[..end], url.len());
            }
            Some(url) => {
                let _ = write!(place, ": {url:?}");
            }
            None => {}
        }
        place
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place(), self.message)
    }
}

/// How many examples a group of findings shows in text.
const EXAMPLES: usize = 3;

/// `findings` grouped by message, in order of first appearance, as text: a group of up to
/// [`EXAMPLES`] findings is listed as it is, a larger one as its message and count with the
/// first few places, so that a finding repeated on every page stays readable. `prefix` starts
/// every line (`"error: "`).
pub(crate) fn grouped(findings: &[Finding], prefix: &str) -> String {
    let mut groups: Vec<(&str, Vec<&Finding>)> = Vec::new();
    for f in findings {
        match groups.iter_mut().find(|(m, _)| *m == f.message) {
            Some((_, members)) => members.push(f),
            None => groups.push((&f.message, vec![f])),
        }
    }
    let mut t = String::new();
    for (message, members) in groups {
        if members.len() <= EXAMPLES {
            for f in members {
                let _ = writeln!(t, "{prefix}{f}");
            }
            continue;
        }
        let _ = writeln!(t, "{prefix}{} times: {message}", members.len());
        for f in members.iter().take(EXAMPLES) {
            let _ = writeln!(t, "  {}", f.place());
        }
        let _ = writeln!(
            t,
            "  and {} more (--format json lists every one)",
            members.len() - EXAMPLES
        );
    }
    t
}

/// Why `resign` processed a page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Resigned {
    /// The page, relative to the site folder.
    pub path: String,
    /// Why: `new`, `rebuilt`, `key rotated`, `due …`, or `full re-scan`.
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    /// `sign`, `resign` or `check`.
    pub command: &'static str,
    /// The site folder.
    pub site: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The run's `now`, Unix seconds.
    pub now: u64,
    /// The signing key's id (`null` for `check`).
    pub kid: Option<String>,
    /// HTML pages read and parsed.
    pub pages_scanned: usize,
    /// Pages rewritten (or that would be, in a dry run).
    pub pages_changed: usize,
    /// Pages left unchanged because of an error.
    pub pages_failed: usize,
    /// `resign`: pages neither new, rebuilt nor due, so not parsed.
    pub pages_skipped: usize,
    /// `resign`: pages in the manifest that are gone from the site.
    pub pages_removed: usize,
    /// Folders listed.
    pub folders_listed: usize,
    /// `resign`: folders not listed, because they still had the time the manifest recorded
    /// (their pages and subfolders were taken from it).
    pub folders_unchanged: usize,
    /// URLs signed (`check`: URLs that verified and will outlive the page).
    pub urls_signed: usize,
    /// Of those, URLs whose text changed (a new signature).
    pub urls_changed: usize,
    /// Of those, URLs that came out byte-identical (same `exp` window and key).
    pub urls_unchanged: usize,
    /// URLs in image attributes that are not under `sign.match`.
    pub urls_left_alone: usize,
    /// Protected URLs that could not be signed (`check`: findings).
    pub urls_failed: usize,
    /// Earliest `exp` of the site's signed URLs after the run.
    pub earliest_exp: Option<u64>,
    /// Latest `exp` of the site's signed URLs after the run.
    pub latest_exp: Option<u64>,
    /// `earliest_exp` as UTC time.
    pub earliest_exp_utc: Option<String>,
    /// `latest_exp` as UTC time.
    pub latest_exp_utc: Option<String>,
    /// `latest_exp - now`: the longest a link stays valid, and so the longest a removed image
    /// stays reachable through it (the revocation window).
    pub longest_link_lifetime_secs: Option<u64>,
    /// Each `[[expiry.rule]]` prefix with the longest a link under it stays valid (its
    /// revocation window); empty without rules.
    pub rule_windows: Vec<(String, u64)>,
    /// The earliest time from which a signed URL needs renewing (see
    /// [`crate::core::policy::SignedUrl::due`]).
    #[serde(skip)]
    pub earliest_due: Option<u64>,
    /// The next `resign` must run before this (Unix seconds): after it, a page could be served
    /// or kept open past its earliest link.
    pub next_run_before: Option<u64>,
    /// HTML files that are symbolic links, not followed.
    pub symlinks_skipped: usize,
    /// Temporary files of an earlier killed run, removed.
    pub leftovers_removed: usize,
    /// The manifest written, if any.
    pub manifest: Option<String>,
    /// Why `resign` could not use the manifest and processed every page.
    pub manifest_note: Option<String>,
    /// `resign`: every page processed, with why.
    pub resigned: Vec<Resigned>,
    /// Every error (`check`: every finding), page by page.
    pub errors: Vec<Finding>,
    /// What was found wrong and, with `--allow-unsigned` (or in `resign`), does not fail the run.
    pub warnings: Vec<Finding>,
    /// Protected URLs where rendorix does not sign: scripts, data, other attributes.
    pub unsigned_references: usize,
    /// Scripts, styles and data files searched for protected references.
    pub files_searched: usize,
    /// The prefixes of the most common URLs in image attributes that are not protected, with
    /// their counts.
    pub unprotected_prefixes: Vec<(String, usize)>,
    /// Of `unsigned_references`, those that the refresh worker loads signed: a page publishes
    /// the same request target signed (`[refresh]`, docs/client-navigation.md).
    pub unsigned_recovered: usize,
    /// The unsigned references found, with their request targets, before
    /// [`Summary::judge_coverage`] files them.
    #[serde(skip)]
    unsigned_found: Vec<(Finding, String)>,
}

impl Summary {
    /// The summary of processing `reports` found by `discovery` in `site`.
    pub(crate) fn new(
        command: &'static str,
        site: &Path,
        discovery: &Discovery,
        reports: &[PageReport],
        now: u64,
    ) -> Summary {
        let mut s = Summary {
            command,
            site: site.display().to_string(),
            dry_run: false,
            now,
            kid: None,
            pages_scanned: reports.len(),
            pages_changed: 0,
            pages_failed: 0,
            pages_skipped: 0,
            pages_removed: 0,
            folders_listed: 0,
            folders_unchanged: 0,
            urls_signed: 0,
            urls_changed: 0,
            urls_unchanged: 0,
            urls_left_alone: 0,
            urls_failed: 0,
            earliest_exp: None,
            latest_exp: None,
            earliest_exp_utc: None,
            latest_exp_utc: None,
            longest_link_lifetime_secs: None,
            rule_windows: Vec::new(),
            earliest_due: None,
            next_run_before: None,
            symlinks_skipped: discovery.symlinks.len(),
            leftovers_removed: discovery.removed_leftovers,
            manifest: None,
            manifest_note: None,
            resigned: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            unsigned_references: 0,
            unsigned_recovered: 0,
            files_searched: 0,
            unprotected_prefixes: Vec::new(),
            unsigned_found: Vec::new(),
        };
        s.add_discovery(discovery);
        let exps = s.add_reports(site, reports);
        s.urls_unchanged = s.urls_signed - s.urls_changed;
        s.set_exps(exps);
        s
    }

    /// Counts the folders listed or taken from the manifest, and lists what could not be read.
    fn add_discovery(&mut self, discovery: &Discovery) {
        for folder in &discovery.folders {
            match folder.unchanged_since {
                Some(_) => self.folders_unchanged += 1,
                None => self.folders_listed += 1,
            }
        }
        for (path, error) in &discovery.problems {
            self.errors.push(Finding {
                path: path.display().to_string(),
                line: None,
                column: None,
                url: None,
                message: error.to_string(),
            });
        }
    }

    /// Counts the pages and URLs of `reports` (pages of `site`) and lists their problems;
    /// returns the earliest and latest `exp` of each page.
    fn add_reports(&mut self, site: &Path, reports: &[PageReport]) -> Vec<u64> {
        let shown = |rel: &Path| site.join(rel).display().to_string();
        let mut exps = Vec::new();
        let mut unprotected: BTreeMap<&str, usize> = BTreeMap::new();
        for r in reports {
            let done = match &r.result {
                Ok(done) => done,
                Err(error) => {
                    self.pages_failed += 1;
                    self.errors.push(Finding {
                        path: shown(&r.page.rel),
                        line: None,
                        column: None,
                        url: None,
                        message: error.to_string(),
                    });
                    continue;
                }
            };
            self.pages_changed += usize::from(done.changed);
            self.urls_signed += done.urls.count;
            self.urls_changed += done.urls_changed;
            self.urls_left_alone += done.urls_left_alone;
            for (prefix, n) in &done.unprotected {
                *unprotected.entry(prefix).or_default() += n;
            }
            exps.extend(
                done.urls
                    .earliest_exp
                    .into_iter()
                    .chain(done.urls.latest_exp),
            );
            if let Some(due) = done.urls.earliest_due {
                self.earliest_due = Some(self.earliest_due.map_or(due, |d| d.min(due)));
            }
            for (p, line, column, _) in &done.revoked {
                self.warnings.push(Finding {
                    path: shown(&r.page.rel),
                    line: Some(*line),
                    column: Some(*column),
                    url: Some(p.url.clone()),
                    message: p.refusal.to_string(),
                });
            }
            for (p, line, column) in &done.located {
                let unsigned = p.refusal.unsigned_target();
                let message = if self.command == "check" || unsigned.is_some() {
                    p.refusal.to_string()
                } else {
                    format!("{}; the URL was left unsigned", p.refusal)
                };
                let finding = Finding {
                    path: shown(&r.page.rel),
                    line: Some(*line),
                    column: Some(*column),
                    url: Some(p.url.clone()),
                    message,
                };
                if let Some(target) = unsigned {
                    self.unsigned_references += 1;
                    self.unsigned_found.push((finding, target.to_owned()));
                } else {
                    self.urls_failed += 1;
                    self.errors.push(finding);
                }
            }
        }
        let mut unprotected: Vec<(String, usize)> = (unprotected.into_iter())
            .map(|(p, n)| (p.to_owned(), n))
            .collect();
        unprotected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        unprotected.truncate(5);
        self.unprotected_prefixes = unprotected;
        exps
    }

    /// Adds what the search of scripts, styles and data files found.
    pub(crate) fn add_searched(&mut self, site: &Path, reports: &[SearchReport]) {
        self.files_searched = reports.len();
        for r in reports {
            let path = site.join(&r.page.rel).display().to_string();
            match &r.result {
                Ok(searched) => {
                    for (p, line, column) in &searched.unsigned {
                        let target = p.refusal.unsigned_target().unwrap_or("").to_owned();
                        self.unsigned_references += 1;
                        let finding = Finding {
                            path: path.clone(),
                            line: Some(*line),
                            column: Some(*column),
                            url: Some(p.url.clone()),
                            message: p.refusal.to_string(),
                        };
                        self.unsigned_found.push((finding, target));
                    }
                }
                Err(error) => self.errors.push(Finding {
                    path,
                    line: None,
                    column: None,
                    url: None,
                    message: error.to_string(),
                }),
            }
        }
    }

    /// Drops the unsigned references whose request target one of the site's pages publishes
    /// signed (`published`): with `[refresh]`, the worker loads them with that signed URL.
    pub(crate) fn recover_by_refresh(&mut self, published: &std::collections::HashSet<&str>) {
        let before = self.unsigned_found.len();
        self.unsigned_found
            .retain(|(_, target)| !published.contains(target.as_str()));
        self.unsigned_recovered = before - self.unsigned_found.len();
    }

    /// Files the unsigned protected references as errors, or as warnings when `allow` (or in
    /// `resign`, which processes only some pages); and, for `sign` and `check`, adds an error
    /// (a warning when `allow`) when the site has pages and not a single URL was protected,
    /// which a `match` that names the wrong folder or host causes.
    pub(crate) fn judge_coverage(&mut self, allow: bool) {
        let warn = allow || self.command == "resign";
        let found = std::mem::take(&mut self.unsigned_found)
            .into_iter()
            .map(|(f, _)| f);
        let nothing = self.command != "resign"
            && self.pages_scanned > self.pages_failed
            && self.urls_signed == 0
            && self.urls_failed == 0;
        if warn {
            self.warnings.extend(found);
        } else {
            self.errors.extend(found);
        }
        if nothing {
            let finding = Finding {
                path: self.site.clone(),
                line: None,
                column: None,
                url: None,
                message: self.nothing_protected(),
            };
            if allow {
                self.warnings.push(finding);
            } else {
                self.errors.push(finding);
            }
        }
    }

    /// Why no URL was protected, and what to do.
    fn nothing_protected(&self) -> String {
        let what = if self.command == "check" {
            "no protected URL was found"
        } else {
            "no URL was signed"
        };
        if self.unprotected_prefixes.is_empty() {
            return format!(
                "{what}: the {} pages hold no image URL under sign.match; check sign.match and the site folder, or pass --allow-unsigned",
                self.pages_scanned
            );
        }
        let prefixes: Vec<String> = (self.unprotected_prefixes.iter())
            .map(|(p, n)| format!("{p} ({n})"))
            .collect();
        format!(
            "{what}: none of the {} image URLs of the {} pages is protected by sign.match; the most common prefixes they are under: {}; set sign.match to the folder or host of the protected images, or pass --allow-unsigned",
            self.urls_left_alone,
            self.pages_scanned,
            prefixes.join(", ")
        )
    }

    /// Sets the earliest and latest `exp` (and what follows from them) from `exps`.
    pub(crate) fn set_exps(&mut self, exps: impl IntoIterator<Item = u64>) {
        let (mut first, mut last) = (None::<u64>, None::<u64>);
        for e in exps {
            first = Some(first.map_or(e, |f| f.min(e)));
            last = Some(last.map_or(e, |l| l.max(e)));
        }
        self.earliest_exp = first;
        self.latest_exp = last;
        self.earliest_exp_utc = first.map(utc);
        self.latest_exp_utc = last.map(utc);
        self.longest_link_lifetime_secs = last.map(|l| l.saturating_sub(self.now));
    }

    /// Sets the earliest and latest `exp` from every page of `manifest`.
    pub(crate) fn set_exps_from(&mut self, manifest: &Manifest) {
        let (first, last) = manifest.exp_range();
        self.set_exps(first.into_iter().chain(last));
    }

    /// Whether anything failed (exit status 1).
    pub(crate) fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The text form.
    pub(crate) fn to_text(&self) -> String {
        let mut t = String::new();
        if let Some(note) = &self.manifest_note {
            let _ = writeln!(t, "note: {note}");
        }
        for r in &self.resigned {
            let _ = writeln!(t, "re-signed {} ({})", r.path, r.reason);
        }
        if self.command == "check" {
            self.write_check_counts(&mut t);
        } else {
            self.write_counts(&mut t);
        }
        self.write_unsigned(&mut t);
        self.write_exps(&mut t);
        self.write_notes(&mut t);
        t
    }

    /// `check`'s findings and counts.
    fn write_check_counts(&self, t: &mut String) {
        t.push_str(&grouped(&self.errors, ""));
        t.push_str(&grouped(&self.warnings, "warning: "));
        let _ = writeln!(
            t,
            "{}: {} pages checked, {} unreadable",
            self.site, self.pages_scanned, self.pages_failed
        );
        let _ = writeln!(
            t,
            "URLs: {} valid, {} findings, {} not protected (not under sign.match)",
            self.urls_signed, self.urls_failed, self.urls_left_alone
        );
    }

    /// `sign`'s and `resign`'s counts of pages and URLs.
    fn write_counts(&self, t: &mut String) {
        let verb = if self.dry_run {
            "would change"
        } else {
            "changed"
        };
        let skipped = if self.command == "resign" {
            format!(
                ", {} not due (skipped), {} removed from the manifest; {} folders listed, {} unchanged since the manifest",
                self.pages_skipped, self.pages_removed, self.folders_listed, self.folders_unchanged
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            t,
            "{}: {} pages scanned, {} {verb}, {} failed{skipped}",
            self.site, self.pages_scanned, self.pages_changed, self.pages_failed
        );
        let _ = writeln!(
            t,
            "URLs: {} signed with key {} ({} changed, {} unchanged), {} left alone (not under sign.match), {} failed",
            self.urls_signed,
            self.kid.as_deref().unwrap_or("-"),
            self.urls_changed,
            self.urls_unchanged,
            self.urls_left_alone,
            self.urls_failed
        );
    }

    /// The protected references that stay unsigned, when there are any.
    fn write_unsigned(&self, t: &mut String) {
        let refused = self.unsigned_references - self.unsigned_recovered;
        if refused > 0 {
            let _ = writeln!(
                t,
                "{refused} protected references left unsigned, which the edge will refuse (searched: the files above and {} scripts and data files)",
                self.files_searched
            );
        }
        if self.unsigned_recovered > 0 {
            let _ = writeln!(
                t,
                "{} protected references in scripts and data are not signed; the refresh worker loads each with the signed URL a page publishes for it",
                self.unsigned_recovered
            );
        }
    }

    /// The `exp` range, the revocation window and when the next run is due.
    fn write_exps(&self, t: &mut String) {
        match (
            &self.earliest_exp_utc,
            &self.latest_exp_utc,
            self.longest_link_lifetime_secs,
        ) {
            (Some(first), Some(last), Some(life)) => {
                if first == last {
                    let _ = writeln!(t, "exp: {first} for every signed URL");
                } else {
                    let _ = writeln!(t, "exp: earliest {first}, latest {last}");
                }
                let _ = writeln!(
                    t,
                    "links stay valid for at most {}; a removed image stays reachable that long (revocation window)",
                    Duration(life)
                );
            }
            _ => {
                let _ = writeln!(t, "exp: no signed URL");
            }
        }
        for (prefix, secs) in &self.rule_windows {
            let _ = writeln!(
                t,
                "links under {prefix} ([[expiry.rule]]) stay valid for at most {} (its revocation window)",
                Duration(*secs)
            );
        }
        if let Some(before) = self.next_run_before {
            let _ = writeln!(t, "run `rendorix resign` again before {}", utc(before));
        }
    }

    /// Symbolic links skipped, leftovers removed, and what was written.
    fn write_notes(&self, t: &mut String) {
        if self.symlinks_skipped > 0 {
            let _ = writeln!(
                t,
                "skipped {} HTML symlinks (not followed; their targets are processed under their own paths)",
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
    }

    /// The JSON form.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serializes") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
