//! `rendorix resign`: re-sign, from the manifest, only the pages that need it.
//!
//! [`plan`] decides page by page from the manifest (a `stat`, or a read and a hash when size or
//! time changed), without parsing any page; the pages it picks are then processed like `sign`
//! processes every page, and the manifest is written again with the kept entries as they were.

use std::fmt;
use std::path::Path;

use rayon::prelude::*;

use crate::commands::{
    SiteOptions, finish, process_in_batches, refresh_worker, renders_from_scripts, revocations,
    rule_windows, setup, signing_rewriter, system_now, use_jobs, write_manifest,
};
use crate::core::duration::Duration;
use crate::core::time::utc;
use crate::error::{Error, Status};
use crate::report::{Resigned, Summary};
use crate::site::closer::Closer;
use crate::site::discover::{Page, Remembered, discover};
use crate::site::fingerprint::unchanged_since;
use crate::site::folders;
use crate::site::manifest::{
    ExpiryRecord, Manifest, ManifestError, PageEntry, PageLines, Spool, signed_targets, slash_path,
};
use crate::site::worker::{RunOptions, search_files};

/// `rendorix resign`'s options.
#[derive(Debug)]
pub(crate) struct ResignOptions {
    pub(crate) site: SiteOptions,
    /// `--within`: re-sign pages whose links expire before now + this.
    pub(crate) within: Option<Duration>,
    /// `--jobs`.
    pub(crate) jobs: Option<usize>,
}

/// Why a page is processed.
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
        from: String,
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

/// When a page is due.
#[derive(Debug, Clone, Copy)]
enum DueTest {
    /// `--within`: its earliest link expires before this.
    Before(u64),
    /// By the expiry settings: its `due` is before `now`; `needed` is `[expiry]`'s.
    Settings { now: u64, needed: u64 },
}

impl Reason {
    /// The stable code of the reason, as the summary counts and JSON gives it.
    fn code(&self) -> &'static str {
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

/// Why the manifest could not be used, so every page was processed. The text completes
/// "the manifest PATH".
#[derive(Debug)]
enum Unusable {
    Missing,
    OtherSite(String),
    /// Written with `[refresh]` on when it is off now, or the other way round.
    RefreshChanged(bool),
    /// Written with other `[expiry]` settings or rules.
    ExpiryChanged,
    /// Written in another signing scheme.
    SchemeChanged(String),
    /// One shard's part, not a manifest.
    Part(u32, u32),
    Untrusted(ManifestError),
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::Missing => f.write_str("does not exist"),
            Unusable::OtherSite(base_url) => write!(f, "was written for base_url {base_url}"),
            Unusable::RefreshChanged(on) => write!(
                f,
                "was written with [refresh] {}",
                if *on { "on" } else { "off" }
            ),
            Unusable::SchemeChanged(s) => write!(f, "was written with sign.scheme \"{s}\""),
            Unusable::Part(k, n) => write!(
                f,
                "is the part of shard {k}/{n}, not a manifest: merge the parts with `rendorix manifest merge`"
            ),
            Unusable::ExpiryChanged => {
                f.write_str("was written with other [expiry] settings or rules")
            }
            Unusable::Untrusted(e) => e.fmt(f),
        }
    }
}

/// What the manifest says of the pages on disk.
#[derive(Debug, Default)]
struct Plan {
    /// The pages to process, in page order.
    work: Vec<Page>,
    /// Why each of them is processed.
    reasons: Vec<Resigned>,
    /// The entries of the others, with their current size and time.
    kept: Vec<PageEntry>,
    /// Entries whose page is gone.
    removed: usize,
}

/// The verdict on one page: the index of its entry, and kept (with its current size and
/// modification time) or why not.
type Decision = (Option<usize>, Result<(u64, u64), Reason>);

/// Decides, for each of `pages` of `site` (in the manifest's order), whether it needs work:
/// pages without an entry in `recorded` (sorted by path, as the manifest keeps them) are new,
/// pages whose content changed are rebuilt, pages signed with a key other than `key_id` or due
/// by `due` are due. Decided in parallel (each page costs a `stat`, or a read and a hash); the
/// kept entries are then taken out of `recorded` in its own order, in place (at a million pages
/// a second list of entries would be hundreds of MB).
fn plan(
    (site, pages): (&Path, &[Page]),
    recorded: Vec<PageEntry>,
    have_manifest: bool,
    key_id: &str,
    due: DueTest,
) -> Plan {
    let decisions: Vec<Decision> = pages
        .par_iter()
        .map(|page| {
            let path = slash_path(&page.rel);
            // An entry out of order is not found, and its page is processed as new.
            match recorded.binary_search_by(|e| e.path.as_str().cmp(&path)) {
                Ok(at) => (
                    Some(at),
                    decide(&page.path(site), &recorded[at], key_id, due),
                ),
                Err(_) if have_manifest => (None, Err(Reason::New)),
                Err(_) => (None, Err(Reason::FullRescan)),
            }
        })
        .collect();
    // For each entry: whether a page took it, and, if kept, its page's size and time.
    let mut taken = vec![false; recorded.len()];
    let mut keep: Vec<Option<(u64, u64)>> = vec![None; recorded.len()];
    let mut plan = Plan::default();
    for (page, (at, decision)) in pages.iter().zip(decisions) {
        // An entry is taken already only when two names that are not UTF-8 read the same: the
        // second page is processed as new.
        let first = at.filter(|&at| !std::mem::replace(&mut taken[at], true));
        match (decision, first) {
            (Ok(now), Some(at)) => keep[at] = Some(now),
            (decision, _) => {
                let reason = decision.err().unwrap_or(Reason::New);
                plan.reasons.push(Resigned {
                    path: slash_path(&page.rel),
                    code: reason.code(),
                    reason: reason.to_string(),
                });
                plan.work.push(page.clone());
            }
        }
    }
    // Entries not matched by a page on disk: pages gone.
    plan.removed = taken.iter().filter(|t| !**t).count();
    plan.kept = (recorded.into_iter().enumerate())
        .filter_map(|(at, entry)| {
            keep[at].map(|(size, mtime_ns)| PageEntry {
                size,
                mtime_ns,
                ..entry
            })
        })
        .collect();
    plan
}

/// Whether the page at `path`, recorded as `entry`, can be kept as it is.
fn decide(
    path: &Path,
    entry: &PageEntry,
    key_id: &str,
    due: DueTest,
) -> Result<(u64, u64), Reason> {
    match unchanged_since(path, &entry.sha256, entry.size, entry.mtime_ns) {
        Err(_) | Ok((false, _, _)) => Err(Reason::Rebuilt),
        Ok((true, size, mtime_ns)) => {
            if let Some(other) = entry.kid.as_ref().filter(|k| *k != key_id) {
                Err(Reason::KeyRotated {
                    from: other.clone(),
                })
            } else if let Some(reason) = due_reason(entry, due) {
                Err(reason)
            } else {
                Ok((size, mtime_ns))
            }
        }
    }
}

/// Why the page recorded as `entry` is due by `test`, if it is.
fn due_reason(entry: &PageEntry, test: DueTest) -> Option<Reason> {
    let exp = entry.exp?;
    match test {
        DueTest::Before(before) => (exp < before).then_some(Reason::Due { exp, before }),
        DueTest::Settings { now, needed } => match entry.due {
            Some(due) if due < now => Some(if exp < now + needed {
                Reason::Due {
                    exp,
                    before: now + needed,
                }
            } else {
                Reason::RuleDue { due }
            }),
            Some(_) => None,
            // Recorded without a due time: renew.
            None => Some(Reason::Due { exp, before: now }),
        },
    }
}

/// Loads the manifest, if it can be used for this site: written for its `base_url`, with
/// `[refresh]` on or off as it is now (turning it on or off changes every page), with the same
/// expiry settings (other settings give other `exp`s and due times).
fn previous(
    path: &Path,
    base_url: &str,
    refresh: bool,
    expiry: &[ExpiryRecord],
    scheme: &str,
) -> Result<Manifest, Unusable> {
    match Manifest::load(path) {
        Ok(Some(Manifest {
            shard: Some(part), ..
        })) => Err(Unusable::Part(part.index, part.count)),
        Ok(Some(m)) if m.base_url != base_url => Err(Unusable::OtherSite(m.base_url)),
        Ok(Some(m)) if m.refresh.is_some() != refresh => {
            Err(Unusable::RefreshChanged(m.refresh.is_some()))
        }
        Ok(Some(m)) if m.expiry != expiry => Err(Unusable::ExpiryChanged),
        Ok(Some(m)) if m.scheme != scheme => Err(Unusable::SchemeChanged(m.scheme)),
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(Unusable::Missing),
        Err(e) => Err(Unusable::Untrusted(e)),
    }
}

/// Re-signs the pages that need it, writes the manifest, and prints the summary.
pub(crate) fn run(options: ResignOptions) -> Result<Status, Error> {
    use_jobs(options.jobs)?;
    let setup = setup(options.site)?;
    let (config, site, now) = (&setup.config, &setup.site, setup.now);
    let worker = refresh_worker(config)?;
    let clock = system_now();
    let (rewriter, kid) = signing_rewriter(config, now)?;
    let revoked = revocations(config)?;
    let due = match options.within {
        Some(within) => DueTest::Before(now + within.secs()),
        None => DueTest::Settings {
            now,
            needed: config.expiry.default.needed(),
        },
    };
    let records = ExpiryRecord::of(&config.expiry);
    let previous = previous(
        &config.manifest_path,
        config.base_url.as_str(),
        config.refresh,
        &records,
        config.scheme.name(),
    );
    let mut discovery = {
        let remembered = previous.as_ref().map(Remembered::of).unwrap_or_default();
        discover(site, setup.leftovers(true), Some(&remembered))
    };
    // Which pages get the refresh tag: as recorded; without a manifest, every folder was
    // listed, so the scripts can be searched as `sign` does.
    let every_page = match &previous {
        Ok(m) => m.refresh.as_ref().is_some_and(|r| r.every_page),
        Err(_) if worker.is_some() => renders_from_scripts(
            &search_files(&rewriter, (site, &config.base_url), &discovery.searched).found,
        ),
        Err(_) => false,
    };
    let rewriter = rewriter.with_refresh(worker.as_ref().map(|w| w.refresh(every_page)));
    let (mut recorded, unusable) = match previous {
        Ok(m) => (m.pages, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    setup.own_pages(&mut discovery);
    recorded.retain(|e| setup.shard.is_none_or(|s| s.owns(&e.path)));
    let plan = plan(
        (site, &discovery.pages),
        recorded,
        unusable.is_none(),
        &kid,
        due,
    );

    let closer = Closer::start();
    let progress = setup.progress("re-signed", plan.work.len());
    // The manifest's page lines wait in a file until it is written, not in memory.
    let entries = PageLines::new(Spool::create(&config.manifest_path));
    let run = RunOptions {
        dry_run: false,
        now,
        publish: worker.is_some(),
        revoked: &revoked,
        done: Some(progress.counter()),
    };
    let mut summary = Summary::new("resign", site, &discovery, &[], now);
    let processed = process_in_batches(
        (&rewriter, config),
        (site, &discovery),
        (&plan.work, Some(entries)),
        (run, &closer),
        &mut summary,
    );
    progress.finish();

    summary.kid = Some(kid.clone());
    summary.pages_skipped = plan.kept.len();
    summary.pages_removed = plan.removed;
    summary.resigned = plan.reasons;
    summary.manifest_note = unusable.map(|why| {
        format!(
            "the manifest {} {why}; every page was processed",
            config.manifest_path.display()
        )
    });
    if worker.is_some() && summary.unsigned_references > 0 {
        // The pages not processed publish signed URLs too: the manifest lists them.
        let kept = signed_targets(&plan.kept);
        let mut all = processed.published();
        all.extend(kept.iter().map(String::as_str));
        summary.recover_by_refresh(&all, &processed.icons());
    }
    let worker = (worker.as_ref(), every_page);
    let (refresh, part) = setup.site_files("resign", &mut summary, &processed, revoked, worker);
    let touched = &processed.touched;
    let found = std::mem::take(&mut discovery.folders);
    let folders = folders::record(site, found, touched, (now, clock), setup.shard);
    let entries = processed
        .entries
        .as_ref()
        .expect("a resign writes the manifest");
    let pages = (plan.kept, entries);
    let manifest = write_manifest(config, now, folders, pages, (refresh, part), &mut summary);
    closer.finish();
    // The summary has the processed pages' times already; the manifest's own pages are the
    // kept ones.
    summary.add_exps_of(&manifest);
    summary.rule_windows = rule_windows(config);
    let earliest_due = (manifest.earliest_due().into_iter())
        .chain(summary.earliest_due)
        .min();
    summary.next_run_before =
        earliest_due.map(|d| d + config.expiry.default.resign_interval.secs());
    summary.judge_coverage(true);
    Ok(finish(&summary, setup.format, setup.verbosity))
}
