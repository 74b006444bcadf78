//! The summary a run prints, as text for people or JSON for pipelines, and the findings it
//! lists with their file, line and column.

use std::fmt::{self, Write as _};
use std::path::Path;

use serde::Serialize;

use std::collections::BTreeMap;

use crate::core::duration::Duration;
use crate::core::time::utc;
use crate::site::discover::{Discovery, Page};
use crate::site::manifest::{PendingReference, ShardTotals, slash_path};
use crate::site::worker::{PageReport, Searches};

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
    /// What went wrong, as a stable code (`expired`, `not_signed`, …; docs/json.md lists them).
    pub code: &'static str,
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

/// How much a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Verbosity {
    /// `-q`: errors only, no summary.
    Quiet,
    /// Findings grouped by code with a few examples each, and the summary.
    #[default]
    Normal,
    /// `-v`: every finding and every re-signed page.
    Verbose,
}

/// Whether findings on stderr are coloured (`--color`, `NO_COLOR`); set once by the command line.
static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    // No doc comments here: clap would show them as long help.
    Auto,
    Always,
    Never,
}

/// Colours findings on stderr: always, never, or (`auto`) when stderr is a terminal, `NO_COLOR`
/// is unset or empty (no-color.org) and `TERM` is not `dumb`.
pub(crate) fn use_color(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    };
    let _ = COLOR.set(on);
}

/// `prefix` ("error: ", "warning: ") in bold red or yellow when colour is on.
fn paint(prefix: &str) -> String {
    if !COLOR.get().copied().unwrap_or(false) || prefix.is_empty() {
        return prefix.to_owned();
    }
    let (word, rest) = prefix.split_at(prefix.trim_end().len());
    let code = if word.starts_with("error") {
        "1;31"
    } else {
        "1;33"
    };
    format!("\x1b[{code}m{word}\x1b[0m{rest}")
}

/// A line on stderr counting the pages done while a run works, redrawn a few times a second
/// and cleared at the end; drawn only when `show` (stderr is a terminal and `-q` was not
/// given) and only after half a second, so short runs and logs get the summary alone.
#[derive(Debug)]
pub(crate) struct Progress {
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    drawer: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts counting `total` pages, shown as "`verb` N of TOTAL pages".
    pub(crate) fn start(verb: &'static str, total: usize, show: bool) -> Progress {
        use std::sync::atomic::Ordering;
        use std::time::{Duration, Instant};
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        if !show || total == 0 {
            return Progress {
                done,
                stop: None,
                drawer: None,
            };
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let counter = done.clone();
        let drawer = std::thread::spawn(move || {
            let start = Instant::now();
            let mut drawn = false;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(200))
            {
                let elapsed = start.elapsed().as_secs_f64();
                if elapsed < 0.5 {
                    continue;
                }
                let n = counter.load(Ordering::Relaxed);
                eprint!("\r\x1b[2K{}", progress_line(verb, n, total, elapsed));
                drawn = true;
            }
            if drawn {
                eprint!("\r\x1b[2K");
            }
        });
        Progress {
            done,
            stop: Some(stop),
            drawer: Some(drawer),
        }
    }

    /// The counter the page workers advance.
    pub(crate) fn counter(&self) -> &std::sync::atomic::AtomicUsize {
        &self.done
    }

    /// Stops drawing and clears the line.
    pub(crate) fn finish(mut self) {
        self.stop_drawing();
    }

    fn stop_drawing(&mut self) {
        drop(self.stop.take());
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_drawing();
    }
}

/// "signed 1,200 of 20,000 pages, 2,400/s, about 8s left": `n` of `total` done in `elapsed`
/// seconds.
fn progress_line(verb: &str, n: usize, total: usize, elapsed: f64) -> String {
    let n = n.min(total);
    let rate = n as f64 / elapsed.max(0.001);
    let left = if n > 0 && n < total {
        let secs = ((total - n) as f64 / rate).ceil() as u64;
        format!(", about {} left", Duration(secs.max(1)))
    } else {
        String::new()
    };
    format!(
        "{verb} {} of {}, {}/s{left}",
        num(n),
        count(total, "page", "pages"),
        num(rate as usize)
    )
}

/// The five prefixes with the most unprotected URLs (ties in prefix order), with their counts.
fn most_common(counts: BTreeMap<&str, usize>) -> Vec<(String, usize)> {
    let mut prefixes: Vec<(String, usize)> = (counts.into_iter())
        .map(|(p, n)| (p.to_owned(), n))
        .collect();
    prefixes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    prefixes.truncate(5);
    prefixes
}

/// How many examples a group shows in text.
const EXAMPLES: usize = 3;

/// `n` with its thousands separated by commas.
pub(crate) fn num(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `n` and the noun, singular or plural: "1 page", "20,006 pages".
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", num(n), if n == 1 { one } else { many })
}

/// `findings` grouped by code, in order of first appearance, as text: a group of up to
/// [`EXAMPLES`] findings (or any group, when `verbose`) is listed whole, a larger one as its
/// code and count with its first few findings, so that a finding repeated on every page stays
/// readable. `prefix` starts every line (`"error: "`).
pub(crate) fn grouped(findings: &[Finding], prefix: &str, verbose: bool) -> String {
    let mut groups: Vec<(&str, Vec<&Finding>)> = Vec::new();
    for f in findings {
        match groups.iter_mut().find(|(c, _)| *c == f.code) {
            Some((_, members)) => members.push(f),
            None => groups.push((f.code, vec![f])),
        }
    }
    let mut t = String::new();
    for (code, members) in groups {
        let prefix = paint(prefix);
        if verbose || members.len() <= EXAMPLES {
            for f in members {
                let _ = writeln!(t, "{prefix}{f}");
            }
            continue;
        }
        let _ = writeln!(
            t,
            "{prefix}{} ({code}), the first {EXAMPLES}:",
            count(members.len(), "finding", "findings")
        );
        for f in members.iter().take(EXAMPLES) {
            let _ = writeln!(t, "  {f}");
        }
        let _ = writeln!(
            t,
            "  and {} more (-v or --format json lists every one)",
            num(members.len() - EXAMPLES)
        );
    }
    t
}

/// Why `resign` processes a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// There is no usable manifest: every page is.
    FullRescan,
    /// The manifest does not list the page.
    New,
    /// The page's content differs from the recorded one.
    Rebuilt,
    /// Its URLs were signed with another key than `sign.key_id`.
    KeyRotated {
        /// The key that signed them.
        from: Box<str>,
    },
    /// Its earliest link expires before the due time.
    Due {
        /// The page's `exp`.
        exp: u64,
        /// `now + within`.
        before: u64,
    },
    /// A link under an expiry rule must be renewed (its `exp` less the rule's
    /// `resign_interval + page_cache_ttl + open_page_allowance` has passed).
    RuleDue {
        /// When it became due.
        due: u64,
    },
}

impl Reason {
    /// The stable code of the reason, as the summary counts and JSON gives it.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Reason::FullRescan => "full_rescan",
            Reason::New => "new",
            Reason::Rebuilt => "rebuilt",
            Reason::KeyRotated { .. } => "key_rotated",
            Reason::Due { .. } => "due",
            Reason::RuleDue { .. } => "rule_due",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::FullRescan => f.write_str("full re-scan"),
            Reason::New => f.write_str("new"),
            Reason::Rebuilt => f.write_str("rebuilt"),
            Reason::KeyRotated { from } => write!(f, "key rotated: signed with {from}"),
            Reason::Due { exp, before } => write!(
                f,
                "due: earliest exp {} is before {}",
                utc(*exp),
                utc(*before)
            ),
            Reason::RuleDue { due } => write!(
                f,
                "due: a link under an expiry rule needs renewing since {}",
                utc(*due)
            ),
        }
    }
}

/// The pages `resign` processes, in the manifest's order, and why each: two lists rather than
/// an entry with its path and words each, which at a million due pages would be ~200 MB.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resigned {
    pages: Vec<Page>,
    reasons: Vec<Reason>,
}

impl Resigned {
    /// Adds `page`, processed for `reason`.
    pub(crate) fn push(&mut self, page: Page, reason: Reason) {
        self.pages.push(page);
        self.reasons.push(reason);
    }

    /// The pages.
    pub(crate) fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// How many.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Each page's path (relative to the site folder, with `/` separators) and reason.
    fn iter(&self) -> impl Iterator<Item = (String, &Reason)> {
        (self.pages.iter().map(|p| slash_path(&p.rel))).zip(&self.reasons)
    }
}

impl Serialize for Resigned {
    /// Each page as `{"path", "code", "reason"}`: the reason as a stable code (`new`,
    /// `rebuilt`, `key_rotated`, `due`, `rule_due` or `full_rescan`) and in words, with the
    /// times or keys concerned.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry {
            path: String,
            code: &'static str,
            reason: String,
        }
        s.collect_seq(self.iter().map(|(path, reason)| Entry {
            path,
            code: reason.code(),
            reason: reason.to_string(),
        }))
    }
}

/// The version of the JSON summaries' shape (docs/json.md); raised when a field changes meaning
/// or goes away, not when one is added.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// What a run did.
#[derive(Debug, Clone)]
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
    pub resigned: Resigned,
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
    unsigned_found: Vec<(Finding, String)>,
    /// Whether the run is a shard's, whose coverage the merge judges.
    coverage_deferred: bool,
    /// Unprotected URLs per prefix, over the batches so far.
    unprotected_counts: BTreeMap<String, usize>,
    /// The earliest and latest `exp` of each batch so far.
    exp_bounds: Vec<u64>,
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
            pages_scanned: 0,
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
            resigned: Resigned::default(),
            errors: Vec::new(),
            warnings: Vec::new(),
            unsigned_references: 0,
            unsigned_recovered: 0,
            files_searched: 0,
            unprotected_prefixes: Vec::new(),
            unsigned_found: Vec::new(),
            coverage_deferred: false,
            unprotected_counts: BTreeMap::new(),
            exp_bounds: Vec::new(),
        };
        s.add_discovery(discovery);
        s.add_batch(site, reports);
        s.finish_batches();
        s
    }

    /// Adds a batch of `reports` (pages of `site`) to a summary made with none: a run that
    /// processes its pages in batches keeps no report past its batch. Call
    /// [`Summary::finish_batches`] after the last.
    pub(crate) fn add_batch(&mut self, site: &Path, reports: &[PageReport]) {
        self.pages_scanned += reports.len();
        let exps = self.add_reports(site, reports);
        self.exp_bounds
            .extend(exps.iter().min().into_iter().chain(exps.iter().max()));
    }

    /// Sets what depends on every batch: the unchanged URLs, the `exp` range, the most common
    /// unprotected prefixes.
    pub(crate) fn finish_batches(&mut self) {
        self.urls_unchanged = self.urls_signed - self.urls_changed;
        let bounds = std::mem::take(&mut self.exp_bounds);
        self.set_exps(bounds);
        let counts = std::mem::take(&mut self.unprotected_counts);
        self.unprotected_prefixes =
            most_common(counts.iter().map(|(p, n)| (p.as_str(), *n)).collect());
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
                code: error.code(),
                message: error.to_string(),
            });
        }
    }

    /// Counts the pages and URLs of `reports` (pages of `site`) and lists their problems;
    /// returns the earliest and latest `exp` of each page.
    fn add_reports(&mut self, site: &Path, reports: &[PageReport]) -> Vec<u64> {
        let shown = |rel: &Path| site.join(rel).display().to_string();
        let mut exps = Vec::new();
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
                        code: error.code(),
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
                match self.unprotected_counts.get_mut(prefix) {
                    Some(count) => *count += n,
                    None => {
                        self.unprotected_counts.insert(prefix.clone(), *n);
                    }
                }
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
                    code: p.refusal.code(),
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
                    code: p.refusal.code(),
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
        exps
    }

    /// Adds what the search of scripts, styles and data files found.
    pub(crate) fn add_searched(&mut self, site: &Path, searches: &Searches) {
        self.files_searched = searches.files;
        for r in &searches.found {
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
                            code: p.refusal.code(),
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
                    code: error.code(),
                    message: error.to_string(),
                }),
            }
        }
    }

    /// Drops the unsigned references whose request target one of the site's pages publishes
    /// signed (`published`): with `[refresh]`, the worker loads them with that signed URL. Those
    /// that are also a page's icon (`icons`) become warnings: a router that renders the icon
    /// link again from them gets it fetched past the worker, unsigned.
    pub(crate) fn recover_by_refresh(
        &mut self,
        published: &std::collections::HashSet<&str>,
        icons: &std::collections::HashSet<&str>,
    ) {
        let before = self.unsigned_found.len();
        let mut icon_warnings = Vec::new();
        self.unsigned_found.retain(|(finding, target)| {
            if !published.contains(target.as_str()) {
                return true;
            }
            if icons.contains(target.as_str()) {
                icon_warnings.push(Finding {
                    code: "icon_in_scripts",
                    message: "an icon that scripts or data name unsigned: browsers fetch icons past the refresh worker, so if the router renders the icon link again from them (Next.js and Docusaurus do), the edge refuses it; keep the icon public with sign.exclude".to_owned(),
                    ..finding.clone()
                });
            }
            false
        });
        self.unsigned_recovered = before - self.unsigned_found.len();
        self.warnings.extend(icon_warnings);
    }

    /// The request targets of the unsigned protected references found (and not recovered by
    /// refresh), before [`Summary::judge_coverage`] files them.
    pub(crate) fn unsigned_targets(&self) -> Vec<String> {
        self.unsigned_found.iter().map(|(_, t)| t.clone()).collect()
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
            && !self.coverage_deferred
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
                code: "nothing_protected",
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

    /// For a shard of a run: moves out the unsigned references found, which the merge judges
    /// over the whole site, with their paths relative to `site`.
    pub(crate) fn take_pending(&mut self, site: &Path) -> Vec<PendingReference> {
        std::mem::take(&mut self.unsigned_found)
            .into_iter()
            .map(|(f, target)| PendingReference {
                path: Path::new(&f.path)
                    .strip_prefix(site)
                    .map_or_else(|_| f.path.clone(), slash_path),
                line: f.line,
                column: f.column,
                url: f.url,
                target,
            })
            .collect()
    }

    /// For the merge of a sharded run: an unsigned reference a shard found, with its request
    /// target.
    pub(crate) fn add_unsigned(&mut self, finding: Finding, target: String) {
        self.unsigned_references += 1;
        self.unsigned_found.push((finding, target));
    }

    /// For the merge of a sharded run: the most common unprotected prefixes over the shards'.
    pub(crate) fn merge_unprotected<'a>(
        &mut self,
        shards: impl Iterator<Item = &'a [(String, usize)]>,
    ) {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (prefix, n) in shards.flatten() {
            *counts.entry(prefix).or_default() += n;
        }
        self.unprotected_prefixes = most_common(counts);
    }

    /// For a shard of a run: leaves whether anything was signed to the merge.
    pub(crate) fn defer_coverage(&mut self) {
        self.coverage_deferred = true;
    }

    /// For a shard of a run: what it counted, which the merge sums.
    pub(crate) fn totals(&self) -> ShardTotals {
        ShardTotals {
            pages_scanned: self.pages_scanned,
            pages_failed: self.pages_failed,
            urls_signed: self.urls_signed,
            urls_failed: self.urls_failed,
            urls_left_alone: self.urls_left_alone,
            unprotected: self.unprotected_prefixes.clone(),
        }
    }

    /// Widens the earliest and latest `exp` to take in `first` and `last`.
    pub(crate) fn add_exps(&mut self, (first, last): (Option<u64>, Option<u64>)) {
        let known = self.earliest_exp.into_iter().chain(self.latest_exp);
        self.set_exps(known.chain(first).chain(last));
    }

    /// Whether anything failed (exit status 1).
    pub(crate) fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The text form: the counts, the `exp` range and what was written; findings are printed
    /// apart ([`grouped`]). With `verbose`, every re-signed page is listed.
    pub(crate) fn to_text(&self, verbose: bool) -> String {
        let mut t = String::new();
        if let Some(note) = &self.manifest_note {
            let _ = writeln!(t, "note: {note}");
        }
        self.write_resigned(&mut t, verbose);
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

    /// `resign`'s pages and why, counted by reason with a few examples of each.
    fn write_resigned(&self, t: &mut String, verbose: bool) {
        if self.resigned.is_empty() {
            return;
        }
        // Each reason's code, how many pages, and the pages to show (their places).
        let mut groups: Vec<(&str, usize, Vec<usize>)> = Vec::new();
        let shown = if verbose { usize::MAX } else { EXAMPLES };
        for (at, reason) in self.resigned.reasons.iter().enumerate() {
            let code = reason.code();
            let at_group = (groups.iter().position(|(c, ..)| *c == code)).unwrap_or_else(|| {
                groups.push((code, 0, Vec::new()));
                groups.len() - 1
            });
            let group = &mut groups[at_group];
            group.1 += 1;
            if group.2.len() < shown {
                group.2.push(at);
            }
        }
        let counts: Vec<String> = (groups.iter())
            .map(|(code, n, _)| format!("{} {code}", num(*n)))
            .collect();
        let verb = if self.dry_run {
            "would re-sign"
        } else {
            "re-signed"
        };
        let _ = writeln!(
            t,
            "{verb} {}: {}",
            count(self.resigned.len(), "page", "pages"),
            counts.join(", ")
        );
        for (_, n, examples) in &groups {
            for &at in examples {
                let (page, reason) = (&self.resigned.pages[at], &self.resigned.reasons[at]);
                let _ = writeln!(t, "  {} ({reason})", slash_path(&page.rel));
            }
            if *n > examples.len() {
                let _ = writeln!(t, "  and {} more", num(n - examples.len()));
            }
        }
    }

    /// `check`'s counts.
    fn write_check_counts(&self, t: &mut String) {
        let _ = writeln!(
            t,
            "{}: {} checked, {} unreadable",
            self.site,
            count(self.pages_scanned, "page", "pages"),
            num(self.pages_failed)
        );
        let _ = writeln!(
            t,
            "URLs: {} valid, {} with findings, {} not protected (not under sign.match)",
            num(self.urls_signed),
            num(self.urls_failed),
            num(self.urls_left_alone)
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
                ", {} not due (skipped), {} removed from the manifest; {} listed, {} unchanged since the manifest",
                num(self.pages_skipped),
                num(self.pages_removed),
                count(self.folders_listed, "folder", "folders"),
                num(self.folders_unchanged)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            t,
            "{}: {} scanned, {} {verb}, {} failed{skipped}",
            self.site,
            count(self.pages_scanned, "page", "pages"),
            num(self.pages_changed),
            num(self.pages_failed)
        );
        let _ = writeln!(
            t,
            "URLs: {} signed with key {} ({} changed, {} unchanged), {} left alone (not under sign.match), {} failed",
            num(self.urls_signed),
            self.kid.as_deref().unwrap_or("-"),
            num(self.urls_changed),
            num(self.urls_unchanged),
            num(self.urls_left_alone),
            num(self.urls_failed)
        );
    }

    /// The protected references that stay unsigned, when there are any.
    fn write_unsigned(&self, t: &mut String) {
        let refused = self.unsigned_references - self.unsigned_recovered;
        if refused > 0 && self.coverage_deferred {
            let _ = writeln!(
                t,
                "{} left unsigned, for `rendorix manifest merge` to judge: a page of another shard may publish them signed",
                count(refused, "protected reference", "protected references"),
            );
        } else if refused > 0 {
            let _ = writeln!(
                t,
                "{} left unsigned, which the edge will refuse (searched: the pages and {} scripts and data files)",
                count(refused, "protected reference", "protected references"),
                num(self.files_searched)
            );
        }
        if self.unsigned_recovered > 0 {
            let _ = writeln!(
                t,
                "{} in scripts and data {} not signed; the refresh worker loads each with the signed URL a page publishes for it",
                count(
                    self.unsigned_recovered,
                    "protected reference",
                    "protected references"
                ),
                if self.unsigned_recovered == 1 {
                    "is"
                } else {
                    "are"
                }
            );
        }
    }

    /// The `exp` range, the revocation window and when the next run is due.
    fn write_exps(&self, t: &mut String) {
        let expired = self.errors.iter().filter(|f| f.code == "expired").count();
        if let (Some(first), Some(last), Some(life)) = (
            &self.earliest_exp_utc,
            &self.latest_exp_utc,
            self.longest_link_lifetime_secs,
        ) {
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
        } else if expired > 0 {
            let _ = writeln!(
                t,
                "exp: no valid signed URL; {} expired",
                count(expired, "signed URL has", "signed URLs have")
            );
        } else {
            let _ = writeln!(t, "exp: no signed URL");
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
                "skipped {} (not followed; their targets are processed under their own paths)",
                count(self.symlinks_skipped, "HTML symlink", "HTML symlinks")
            );
        }
        if self.leftovers_removed > 0 {
            let _ = writeln!(
                t,
                "removed {} left by an interrupted run",
                count(self.leftovers_removed, "temporary file", "temporary files")
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

    /// The JSON form, in the shape of its command (docs/json.md).
    pub(crate) fn to_json(&self) -> String {
        let text = if self.command == "check" {
            serde_json::to_string_pretty(&CheckJson::of(self))
        } else {
            serde_json::to_string_pretty(&SignJson::of(self))
        };
        text.expect("a summary serializes") + "\n"
    }
}

/// What both JSON shapes say of unsigned references, unprotected prefixes and the `exp` range.
#[derive(Serialize)]
struct Coverage<'a> {
    unsigned_references: usize,
    unsigned_recovered: usize,
    files_searched: usize,
    unprotected_prefixes: &'a [(String, usize)],
    earliest_exp: Option<u64>,
    latest_exp: Option<u64>,
    earliest_exp_utc: Option<&'a str>,
    latest_exp_utc: Option<&'a str>,
    longest_link_lifetime_secs: Option<u64>,
    rule_windows: &'a [(String, u64)],
}

impl<'a> Coverage<'a> {
    fn of(s: &'a Summary) -> Coverage<'a> {
        Coverage {
            unsigned_references: s.unsigned_references,
            unsigned_recovered: s.unsigned_recovered,
            files_searched: s.files_searched,
            unprotected_prefixes: &s.unprotected_prefixes,
            earliest_exp: s.earliest_exp,
            latest_exp: s.latest_exp,
            earliest_exp_utc: s.earliest_exp_utc.as_deref(),
            latest_exp_utc: s.latest_exp_utc.as_deref(),
            longest_link_lifetime_secs: s.longest_link_lifetime_secs,
            rule_windows: &s.rule_windows,
        }
    }
}

/// What `rendorix check --format json` prints.
#[derive(Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    command: &'static str,
    site: &'a str,
    now: u64,
    pages_checked: usize,
    pages_unreadable: usize,
    urls_valid: usize,
    urls_with_findings: usize,
    urls_left_alone: usize,
    #[serde(flatten)]
    coverage: Coverage<'a>,
    symlinks_skipped: usize,
    findings: &'a [Finding],
    warnings: &'a [Finding],
}

impl<'a> CheckJson<'a> {
    fn of(s: &'a Summary) -> CheckJson<'a> {
        CheckJson {
            schema_version: SCHEMA_VERSION,
            command: s.command,
            site: &s.site,
            now: s.now,
            pages_checked: s.pages_scanned,
            pages_unreadable: s.pages_failed,
            urls_valid: s.urls_signed,
            urls_with_findings: s.urls_failed,
            urls_left_alone: s.urls_left_alone,
            coverage: Coverage::of(s),
            symlinks_skipped: s.symlinks_skipped,
            findings: &s.errors,
            warnings: &s.warnings,
        }
    }
}

/// What `rendorix sign` and `resign --format json` print; the `resign` fields are absent from
/// `sign`'s.
#[derive(Serialize)]
struct SignJson<'a> {
    schema_version: u32,
    command: &'static str,
    site: &'a str,
    dry_run: bool,
    now: u64,
    kid: Option<&'a str>,
    pages_scanned: usize,
    pages_changed: usize,
    pages_failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages_skipped: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages_removed: Option<usize>,
    folders_listed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    folders_unchanged: Option<usize>,
    urls_signed: usize,
    urls_changed: usize,
    urls_unchanged: usize,
    urls_left_alone: usize,
    urls_failed: usize,
    #[serde(flatten)]
    coverage: Coverage<'a>,
    next_run_before: Option<u64>,
    symlinks_skipped: usize,
    leftovers_removed: usize,
    manifest: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest_note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resigned: Option<&'a Resigned>,
    errors: &'a [Finding],
    warnings: &'a [Finding],
}

impl<'a> SignJson<'a> {
    fn of(s: &'a Summary) -> SignJson<'a> {
        let resign = s.command == "resign";
        SignJson {
            schema_version: SCHEMA_VERSION,
            command: s.command,
            site: &s.site,
            dry_run: s.dry_run,
            now: s.now,
            kid: s.kid.as_deref(),
            pages_scanned: s.pages_scanned,
            pages_changed: s.pages_changed,
            pages_failed: s.pages_failed,
            pages_skipped: resign.then_some(s.pages_skipped),
            pages_removed: resign.then_some(s.pages_removed),
            folders_listed: s.folders_listed,
            folders_unchanged: resign.then_some(s.folders_unchanged),
            urls_signed: s.urls_signed,
            urls_changed: s.urls_changed,
            urls_unchanged: s.urls_unchanged,
            urls_left_alone: s.urls_left_alone,
            urls_failed: s.urls_failed,
            coverage: Coverage::of(s),
            next_run_before: s.next_run_before,
            symlinks_skipped: s.symlinks_skipped,
            leftovers_removed: s.leftovers_removed,
            manifest: s.manifest.as_deref(),
            manifest_note: s.manifest_note.as_deref(),
            resigned: resign.then_some(&s.resigned),
            errors: &s.errors,
            warnings: &s.warnings,
        }
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
            code: "expired",
            message: "why".into(),
        };
        assert_eq!(f.to_string(), "public/a.html:3:9: \"/m/a.jpg?sig=1\": why");
    }

    #[test]
    fn the_progress_line_counts_rate_and_time_left() {
        assert_eq!(
            progress_line("signed", 1200, 20_000, 0.5),
            "signed 1,200 of 20,000 pages, 2,400/s, about 8s left"
        );
        assert_eq!(
            progress_line("checked", 0, 1, 0.7),
            "checked 0 of 1 page, 0/s"
        );
        assert_eq!(
            progress_line("signed", 30, 20, 1.0),
            "signed 20 of 20 pages, 20/s"
        );
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(num(0), "0");
        assert_eq!(num(999), "999");
        assert_eq!(num(1000), "1,000");
        assert_eq!(num(459_824), "459,824");
        assert_eq!(num(20_006_000), "20,006,000");
        assert_eq!(count(1, "page", "pages"), "1 page");
        assert_eq!(count(20_006, "page", "pages"), "20,006 pages");
    }
}
