//! `rendorix resign`: re-sign, from the manifest, only the pages that need it.
//!
//! [`plan`] decides page by page from the manifest (a `stat`, or a read and a hash when size or
//! time changed), without parsing any page, reading the manifest's page lines one at a time in
//! step with the pages discovery found (both in the manifest's order), so that no page's entry
//! is held past its batch; the pages it picks are then processed like `sign` processes every
//! page, and the manifest is written again with the kept entries as they were.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};

use rayon::prelude::*;

use crate::commands::{
    BATCH, SiteOptions, finish, process_in_batches, refresh_worker, renders_from_scripts,
    revocations, rule_windows, setup, signing_rewriter, system_now, use_jobs, write_manifest,
};
use crate::core::duration::Duration;
use crate::error::{Error, Status};
use crate::report::{Reason, Resigned, Summary};
use crate::site::closer::Closer;
use crate::site::discover::{
    Folder, Page, Remembered, discover, partition_point_near, slash_text, split,
};
use crate::site::fingerprint::unchanged_since;
use crate::site::folders;
use crate::site::manifest::{
    ExpiryRecord, Manifest, ManifestError, PageEntry, PageLines, PageReader, Recorded,
    RecordedPages, Spool, signed_targets, slash_path, widen_exps,
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

/// When a page is due.
#[derive(Debug, Clone, Copy)]
enum DueTest {
    /// `--within`: its earliest link expires before this.
    Before(u64),
    /// By the expiry settings: its `due` is before `now`; `needed` is `[expiry]`'s.
    Settings { now: u64, needed: u64 },
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
    /// The pages to process, in the manifest's order, and why.
    work: Resigned,
    /// How many pages are kept as they were.
    kept: usize,
    /// Entries whose page is gone.
    removed: usize,
    /// The earliest and latest `exp` of the kept pages.
    exps: (Option<u64>, Option<u64>),
    /// The earliest `due` of the kept pages.
    earliest_due: Option<u64>,
}

/// A page found, and its entry in the manifest if it has one.
type Candidate = (Page, Option<Recorded>);

/// Decides on pages a batch at a time, in the manifest's order.
struct Planner<'a> {
    site: &'a Path,
    key_id: &'a str,
    due: DueTest,
    /// Whether there is a manifest: without one, every page is processed.
    have_manifest: bool,
    batch: Vec<Candidate>,
    plan: Plan,
    /// The lines of the kept pages, with their current size and time.
    kept: &'a mut PageLines,
}

impl Planner<'_> {
    /// Adds the pages found in listed folders (`listed`) and the manifest's entries
    /// (`recorded`), both in the manifest's order, as [`plan`] says.
    fn take(
        &mut self,
        listed: Vec<Page>,
        recorded: impl Iterator<Item = Result<Recorded, ManifestError>>,
        folders: &[Folder],
    ) -> Result<(), ManifestError> {
        let mut listed = (listed.into_iter())
            .map(|page| {
                let path = slash_path(&page.rel);
                (page, path)
            })
            .peekable();
        // The folder of the entry before, and whether it was taken from the manifest.
        let mut last_folder: Option<(String, bool)> = None;
        // Where in `folders` the last one was: the next is seldom far.
        let mut near = 0;
        for recorded in recorded {
            let recorded = recorded?;
            let path = recorded.entry().path.as_str();
            while let Some((page, _)) = listed.next_if(|(_, listed)| listed.as_str() < path) {
                self.add((page, None));
            }
            // Two names that are not UTF-8 can read the same: the first takes the entry, the
            // second is new.
            if let Some((page, _)) = listed.next_if(|(_, listed)| listed == path) {
                self.add((page, Some(recorded)));
                continue;
            }
            let folder = split(path).0;
            let taken = match &last_folder {
                Some((path, taken)) if path == folder => *taken,
                _ => {
                    let taken = taken_from_manifest(folders, folder, &mut near);
                    last_folder = Some((folder.to_owned(), taken));
                    taken
                }
            };
            if taken {
                let page = Page {
                    rel: Path::new(path).into(),
                };
                self.add((page, Some(recorded)));
            } else {
                self.plan.removed += 1;
            }
        }
        for (page, _) in listed {
            self.add((page, None));
        }
        Ok(())
    }

    fn add(&mut self, candidate: Candidate) {
        self.batch.push(candidate);
        if self.batch.len() == BATCH {
            self.decide();
        }
    }

    /// Decides on the batch, in parallel: each page costs a `stat`, or a read and a hash.
    fn decide(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let (site, key_id, due) = (self.site, self.key_id, self.due);
        let decisions: Vec<Result<(u64, u64), Reason>> = (batch.par_iter())
            .map(|(page, recorded)| match recorded {
                Some(recorded) => decide(&page.path(site), recorded.entry(), key_id, due),
                None if self.have_manifest => Err(Reason::New),
                None => Err(Reason::FullRescan),
            })
            .collect();
        let plan = &mut self.plan;
        for ((page, recorded), decision) in batch.into_iter().zip(decisions) {
            match (decision, recorded) {
                (Ok((size, mtime_ns)), Some(recorded)) => {
                    let entry = recorded.entry();
                    widen_exps(&mut plan.exps, entry.exp);
                    plan.earliest_due = plan.earliest_due.into_iter().chain(entry.due).min();
                    plan.kept += 1;
                    if (size, mtime_ns) == (entry.size, entry.mtime_ns) {
                        self.kept.push_recorded(recorded);
                    } else {
                        self.kept.push(PageEntry {
                            size,
                            mtime_ns,
                            ..recorded.into_entry()
                        });
                    }
                }
                (decision, _) => {
                    plan.work.push(page, decision.err().unwrap_or(Reason::New));
                }
            }
        }
    }
}

/// How many entries the manifest's reader hands over at a time. It reads on its own thread, up
/// to [`READ_AHEAD`] such chunks ahead, while the pages already read are looked up: reading,
/// hashing and parsing the lines took as long as the lookups, one after the other.
const CHUNK: usize = 1024;

/// How many chunks of entries the reader may have waiting (see [`CHUNK`]).
const READ_AHEAD: usize = BATCH / CHUNK;

/// Decides, for each page on disk, whether it needs work, reading the manifest's page lines
/// (`recorded`, sorted by path) in step with the pages found in listed folders (`listed`,
/// in the same order): a page in a folder taken from the manifest (`folders` says which) is
/// there as recorded; a listed page without an entry is new; a recorded page in neither is
/// gone. Pages whose content changed are rebuilt, pages signed with a key other than `key_id`
/// or due by `due` are due; the others are kept, their lines going to `kept`. Only the pages
/// `owns` accepts are looked at. An error when the page lines are not the ones the manifest's
/// checksum vouches for (checked as they are read): then nothing decided may be used.
fn plan(
    (site, listed, folders): (&Path, Vec<Page>, &[Folder]),
    recorded: Option<PageReader<'_>>,
    owns: impl Fn(&str) -> bool + Sync,
    (key_id, due): (&str, DueTest),
    kept: &mut PageLines,
) -> Result<Plan, ManifestError> {
    let mut planner = Planner {
        site,
        key_id,
        due,
        have_manifest: recorded.is_some(),
        batch: Vec::with_capacity(BATCH),
        plan: Plan::default(),
        kept,
    };
    std::thread::scope(|scope| {
        let (send, chunks) = sync_channel(READ_AHEAD);
        match recorded {
            Some(reader) => {
                let owns = &owns;
                // The sender goes with the thread: the plan's reading ends when it does.
                scope.spawn(move || read_ahead(reader, owns, &send));
            }
            // No entries: `chunks` ends at once.
            None => drop(send),
        }
        planner.take(listed, chunks.into_iter().flatten(), folders)
    })?;
    planner.decide();
    Ok(planner.plan)
}

/// Sends the entries of `reader` that `owns` accepts to `send`, [`CHUNK`] at a time, until
/// the last or until the receiver is gone.
fn read_ahead(
    reader: PageReader<'_>,
    owns: impl Fn(&str) -> bool,
    send: &SyncSender<Vec<Result<Recorded, ManifestError>>>,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    for entry in reader {
        if entry.as_ref().is_ok_and(|e| !owns(&e.entry().path)) {
            continue;
        }
        chunk.push(entry);
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            if send.send(full).is_err() {
                // The plan stopped reading.
                return;
            }
        }
    }
    let _ = send.send(chunk);
}

/// Whether the folder at `path` (with `/` separators) was taken from the manifest, of the
/// `folders` discovery found (in [`crate::site::discover::slash_order`]), looked for from
/// `near`, which is left where it was found.
fn taken_from_manifest(folders: &[Folder], path: &str, near: &mut usize) -> bool {
    let start = partition_point_near(folders, *near, |f| *slash_text(&f.rel) < *path);
    *near = start;
    (folders[start..].iter())
        .take_while(|f| slash_text(&f.rel) == path)
        .any(|f| f.unchanged_since.is_some())
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
                    from: other.as_str().into(),
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

/// Opens the manifest, if it can be used for this site: written for its `base_url`, with
/// `[refresh]` on or off as it is now (turning it on or off changes every page), with the same
/// expiry settings (other settings give other `exp`s and due times).
fn previous(
    path: &Path,
    base_url: &str,
    refresh: bool,
    expiry: &[ExpiryRecord],
    scheme: &str,
) -> Result<(Manifest, RecordedPages), Unusable> {
    match Manifest::open(path) {
        Ok(Some((
            Manifest {
                shard: Some(part), ..
            },
            _,
        ))) => Err(Unusable::Part(part.index, part.count)),
        Ok(Some((m, _))) if m.base_url != base_url => Err(Unusable::OtherSite(m.base_url)),
        Ok(Some((m, _))) if m.refresh.is_some() != refresh => {
            Err(Unusable::RefreshChanged(m.refresh.is_some()))
        }
        Ok(Some((m, _))) if m.expiry != expiry => Err(Unusable::ExpiryChanged),
        Ok(Some((m, _))) if m.scheme != scheme => Err(Unusable::SchemeChanged(m.scheme)),
        Ok(Some(opened)) => Ok(opened),
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
    // Which pages get the refresh tag: as recorded; without a manifest, every folder is
    // listed, so the scripts can be searched as `sign` does.
    let mut recorded_every_page =
        (previous.as_ref().ok()).map(|(m, _)| m.refresh.as_ref().is_some_and(|r| r.every_page));
    let (remembered, recorded, mut unusable) = match previous {
        Ok((m, pages)) => (Some(Remembered::of(m.folders)), Some(pages), None),
        Err(why) => (None, None, Some(why)),
    };
    let mut discovery = discover(site, setup.leftovers(true), remembered.as_ref());
    drop(remembered);
    setup.own_pages(&mut discovery);
    let owns = |path: &str| setup.shard.is_none_or(|s| s.owns(path));
    // The kept pages' lines wait in a file until the manifest is written, not in memory.
    let mut kept = PageLines::new(Spool::create(&config.manifest_path));
    // Kept pages' URL lists stay in the old URL file, to be copied from there (or the file
    // left as it is, when every page is kept).
    if let Some(file) = recorded.as_ref().and_then(RecordedPages::url_file) {
        kept.take_urls_from(file.clone());
    }
    let listed = std::mem::take(&mut discovery.pages);
    let planned = plan(
        (site, listed, &discovery.folders),
        recorded.as_ref().map(RecordedPages::read),
        owns,
        (&kid, due),
        &mut kept,
    );
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            // Edited by hand, or written over while read: every folder is listed and every
            // page processed, as without a manifest.
            unusable = Some(Unusable::Untrusted(e));
            recorded_every_page = None;
            discovery = discover(site, setup.leftovers(true), None);
            setup.own_pages(&mut discovery);
            kept = PageLines::new(Spool::create(&config.manifest_path));
            let listed = std::mem::take(&mut discovery.pages);
            let (folders, due) = (&discovery.folders, (&*kid, due));
            plan((site, listed, folders), None, owns, due, &mut kept)
                .expect("without a manifest nothing is read")
        }
    };
    drop(recorded);
    let every_page = match recorded_every_page {
        Some(every_page) => every_page,
        None if worker.is_some() => renders_from_scripts(
            &search_files(&rewriter, (site, &config.base_url), &discovery.searched).found,
        ),
        None => false,
    };
    let rewriter = rewriter.with_refresh(worker.as_ref().map(|w| w.refresh(every_page)));

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
        (plan.work.pages(), Some(entries)),
        (run, &closer),
        &mut summary,
    );
    progress.finish();

    summary.kid = Some(kid.clone());
    summary.pages_skipped = plan.kept;
    summary.pages_removed = plan.removed;
    summary.resigned = plan.work;
    summary.manifest_note = unusable.map(|why| {
        format!(
            "the manifest {} {why}; every page was processed",
            config.manifest_path.display()
        )
    });
    if worker.is_some() && summary.unsigned_references > 0 {
        // The pages not processed publish signed URLs too: the manifest lists them.
        let mut targets = HashSet::new();
        let _ = kept.for_each(|page| targets.extend(signed_targets([page])));
        let mut all = processed.published();
        all.extend(targets.iter().map(String::as_str));
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
    let lines = [&kept, entries];
    write_manifest(config, now, folders, &lines, (refresh, part), &mut summary);
    closer.finish();
    // The summary has the processed pages' times already; the plan has the kept ones'.
    summary.add_exps(plan.exps);
    summary.rule_windows = rule_windows(config);
    let earliest_due = (plan.earliest_due.into_iter())
        .chain(summary.earliest_due)
        .min();
    summary.next_run_before =
        earliest_due.map(|d| d + config.expiry.default.resign_interval.secs());
    summary.judge_coverage(true);
    Ok(finish(&summary, setup.format, setup.verbosity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(i: usize) -> String {
        format!("p{i:05}.html")
    }

    #[test]
    fn the_reader_hands_over_the_pages_in_order_and_stops_when_the_plan_does() {
        let dir = tempfile::tempdir().unwrap();
        let pages = CHUNK * (READ_AHEAD + 2) + 7;
        let entries = (0..pages)
            .map(|i| PageEntry::for_test(&path_of(i)))
            .collect();
        let path = dir.path().join("m.json");
        let m = Manifest::new(5, "k", "https://x.org/", Vec::new(), entries);
        m.write(&path).unwrap();
        let recorded = &Manifest::open(&path).unwrap().unwrap().1;
        let owns = |p: &str| !p.ends_with("3.html");
        std::thread::scope(|scope| {
            let (send, chunks) = sync_channel(READ_AHEAD);
            scope.spawn(move || read_ahead(recorded.read(), owns, &send));
            let read: Vec<String> = (chunks.into_iter().flatten())
                .map(|r| r.unwrap().into_entry().path)
                .collect();
            let owned: Vec<String> = (0..pages).map(path_of).filter(|p| owns(p)).collect();
            assert_eq!(read, owned);
        });
        // A plan that stops early (at a line that does not parse) leaves no reader waiting.
        std::thread::scope(|scope| {
            let (send, chunks) = sync_channel(READ_AHEAD);
            let reader = scope.spawn(move || read_ahead(recorded.read(), |_: &str| true, &send));
            assert_eq!(chunks.recv().unwrap().len(), CHUNK);
            drop(chunks);
            reader.join().unwrap();
        });
    }
}
