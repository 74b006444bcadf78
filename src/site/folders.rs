//! Folder times: how `resign` lists only the folders that changed since the manifest.
//!
//! Listing a folder takes five system calls; on a site with a folder per page, that is most of
//! what a `resign` does when few pages are due. Adding, removing or renaming an entry changes
//! its folder's modification time, so a folder whose time is still the one the manifest recorded
//! holds the entries the manifest recorded, and one `stat` replaces the listing (git's untracked
//! cache rests on the same rule). A page rebuilt in place leaves its folder's time alone; the
//! page's own size and time catch that (see [`crate::site::fingerprint::unchanged_since`]).
//!
//! To keep the manifest deterministic, rendorix gives every folder it listed or wrote into the
//! time [`folder_time`] (`now` − 2 s), after writing the manifest that records it (a crash in
//! between leaves times the manifest does not know: those folders are listed). No later change
//! can be given that time as long as:
//! - `now` is not in the future: a change comes after the run started, at or after `now`, and
//!   2 s covers file systems that keep times to the second or two (FAT). With a future `--now`,
//!   no time is recorded.
//! - the file system updates folder times: every run checks that a file created in the site
//!   folder changes the folder's time, and records no time where it does not.
//! - nobody sets a folder's time back (`touch -d`, or `tar` / `cp -a` of an older tree with a
//!   manifest of a newer one). `rendorix sign` lists every folder whatever the manifest says.
//!
//! A folder whose listing was not clean (an entry that could not be read, a page that is a
//! symbolic link or whose name is not UTF-8, a page that failed) is recorded without a time, so
//! every run lists it and reports it again.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::core::shard::Shard;
use crate::site::atomic::temp_path;
use crate::site::discover::{Discovery, Folder, partition_point_near, slash_order};
use crate::site::manifest::FolderEntry;
use crate::site::worker::PageReport;

/// How far before `now` recorded folder times are: more than the coarsest common file-system
/// time step (FAT's 2 s) below any time a later change can get.
const BEFORE_NOW: u64 = 2;

/// The time rendorix gives the folders of a run at `now`.
pub(crate) fn folder_time(now: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(now.saturating_sub(BEFORE_NOW))
}

/// The folders of a run's pages that failed or were written, gathered batch by batch.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    failed: HashSet<PathBuf>,
    /// Whether a page was written into each folder discovery found (by its place in the list).
    /// `None` when no folder was taken from the manifest: then a folder's time is the run's
    /// whether or not a page was written into it.
    written: Option<Vec<bool>>,
    /// The place of the last folder written into: the next is seldom far.
    near: usize,
}

impl Touched {
    /// Nothing yet, for a run over `discovery`.
    pub(crate) fn new(discovery: &Discovery) -> Touched {
        let remembered = discovery
            .folders
            .iter()
            .any(|f| f.unchanged_since.is_some());
        Touched {
            failed: HashSet::new(),
            written: remembered.then(|| vec![false; discovery.folders.len()]),
            near: 0,
        }
    }

    /// Adds the folders of a batch of `reports`, of pages in the `folders` discovery found.
    pub(crate) fn add(&mut self, reports: &[PageReport], folders: &[Folder]) {
        for r in reports {
            let parent = r.page.rel.parent().unwrap_or(Path::new(""));
            match &r.result {
                Err(_) => {
                    self.failed.insert(parent.to_owned());
                }
                Ok(done) if done.changed => {
                    if let Some(written) = &mut self.written {
                        let at = partition_point_near(folders, self.near, |f| {
                            slash_order(&f.rel, parent).is_lt()
                        });
                        self.near = at;
                        if folders.get(at).is_some_and(|f| *f.rel == *parent) {
                            written[at] = true;
                        }
                    }
                }
                Ok(_) => {}
            }
        }
    }
}

/// Folders to give a run's [`folder_time`] once the manifest recording it is written: those
/// it records with that time (one whose recorded time it is already gets it again, which
/// changes nothing), so that a site's million folders are not listed a second time.
#[derive(Debug)]
pub(crate) struct PendingTimes {
    site: PathBuf,
    time: SystemTime,
    /// The time, as the manifest records it.
    since: u64,
}

/// What the manifest records of the `folders` discovery found in `site` (every folder whose path
/// is UTF-8), after a run at `now` whose pages failed or were written in the folders `touched`
/// names, and the folder times to set once it is written;
/// `clock` is the system clock when the run started. Checks, in the site folder, that the file
/// system updates folder times.
///
/// The shards of a run (`shard`) may run at once on one folder: each records the folders it
/// listed or wrote into, and gives them the run's time after its own writes, so the last
/// change to any folder is followed by that time. Each shard probes with a time of its own, so
/// that another shard setting the run's time meanwhile cannot pass for the file system
/// ignoring the probe's change.
pub(crate) fn record(
    site: &Path,
    folders: Vec<Folder>,
    touched: &Touched,
    (now, clock): (u64, u64),
    shard: Option<Shard>,
) -> (Vec<FolderEntry>, PendingTimes) {
    let time = folder_time(now);
    let offset = Duration::from_secs(shard.map_or(0, |s| u64::from(s.index())));
    let probe = time.checked_sub(offset).unwrap_or(time);
    let recordable = now <= clock && updates_folder_times(site, probe);
    let (failed, written) = (&touched.failed, &touched.written);
    let since = now.saturating_sub(BEFORE_NOW).saturating_mul(1_000_000_000);
    // Each entry takes its folder's place in the list (the two are the same size).
    let entries = (folders.into_iter().enumerate())
        .filter_map(|(at, folder)| {
            let mtime_ns = if !recordable || !folder.clean || failed.contains(&*folder.rel) {
                None
            } else if let Some(kept) = folder.unchanged_since.filter(|_| {
                // The probe changed the site folder's time; a rename, any other's.
                !folder.rel.as_os_str().is_empty() && !written.as_ref().is_some_and(|w| w[at])
            }) {
                Some(kept.get())
            } else {
                Some(since)
            };
            let path = (folder.rel.into_path_buf().into_os_string())
                .into_string()
                .ok()?;
            Some(FolderEntry {
                path: path.into(),
                mtime_ns,
            })
        })
        .collect();
    let pending = PendingTimes {
        site: site.to_owned(),
        time,
        since,
    };
    (entries, pending)
}

impl PendingTimes {
    /// Gives the folders the time the manifest records (`recorded`: its folders, as [`record`]
    /// gave them). Call after the manifest is written: a folder whose time could not be set
    /// keeps one the manifest does not know, so the next run lists it.
    pub(crate) fn set(self, recorded: &[FolderEntry]) {
        (recorded.par_iter())
            .filter(|f| f.mtime_ns == Some(self.since))
            .for_each(|f| {
                let path = self.site.join(&*f.path);
                let _ = File::open(path).and_then(|folder| folder.set_modified(self.time));
            });
    }
}

/// Whether creating a file in `site` changes the folder's modification time (it does on every
/// local POSIX file system; a network or FUSE file system may not), checked after setting the
/// time to `time`.
fn updates_folder_times(site: &Path, time: SystemTime) -> bool {
    // Named like a temporary file, so that a run killed here leaves nothing a later run keeps.
    let probe = temp_path(&site.join("rendorix-probe"));
    let changed = (|| {
        File::open(site)?.set_modified(time)?;
        File::create(&probe)?;
        std::io::Result::Ok(fs::metadata(site)?.modified()? != time)
    })();
    let _ = fs::remove_file(&probe);
    changed.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_sees_a_folder_time_change() {
        let dir = tempfile::tempdir().unwrap();
        assert!(updates_folder_times(dir.path(), folder_time(1_715_000_000)));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(!updates_folder_times(
            &dir.path().join("gone"),
            folder_time(1)
        ));
    }
}
