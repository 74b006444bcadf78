//! Joining the parts of a sharded run (spec §18) into the manifest one run would have written.
//!
//! Every shard lists the whole site and processes its own pages, so the parts agree on
//! everything but the pages and the folder times: the pages are the union (each part holding
//! only its shard's), and a folder's time is the run's when any shard wrote into it, none when
//! any shard recorded none, and the kept one otherwise. The run-wide fields must be equal,
//! which is what refuses parts of different runs.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::core::shard::Shard;
use crate::site::manifest::{
    FolderEntry, Manifest, PageLines, RecordedPages, ShardRecord, Spool, signed_targets, widen_exps,
};

/// Why parts cannot be merged. Each text names the part and says what to do.
#[derive(Debug, PartialEq, Eq)]
pub enum MergeError {
    /// No part was given or found.
    NoParts,
    /// A file is a manifest, not a shard's part.
    NotAPart(PathBuf),
    /// Parts of runs split in different numbers of shards.
    Count {
        /// The part.
        path: PathBuf,
        /// Its `N`.
        count: u32,
        /// The first part's `N`.
        expected: u32,
    },
    /// Two parts of the same shard.
    Repeated {
        /// The shard.
        shard: String,
        /// One part.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Shards with no part.
    Missing {
        /// Their numbers.
        shards: Vec<u32>,
        /// `N`.
        count: u32,
    },
    /// A part of another run than the first part: `what` differs.
    Differs {
        /// The part.
        path: PathBuf,
        /// The first part.
        first: PathBuf,
        /// What differs, in the user's terms.
        what: &'static str,
    },
    /// A part holds a page of another shard: the parts overlap.
    ForeignPage {
        /// The part.
        path: PathBuf,
        /// The page.
        page: String,
    },
    /// A part's page lines cannot be read or are not the ones its checksum vouches for.
    Pages {
        /// The part.
        path: PathBuf,
        /// Why, completing "the part PATH …".
        why: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoParts => f.write_str(
                "no manifest part to merge: give the files that `sign --shard K/N` or `resign --shard K/N` wrote (NAME.shard-K-of-N beside the manifest)",
            ),
            MergeError::NotAPart(path) => write!(
                f,
                "{} is a manifest, not the part of a shard; give the parts that `--shard K/N` runs wrote",
                path.display()
            ),
            MergeError::Count {
                path,
                count,
                expected,
            } => write!(
                f,
                "{} is a part of a run split in {count} shards, and the first part of one split in {expected}; give the parts of one run",
                path.display()
            ),
            MergeError::Repeated {
                shard,
                first,
                second,
            } => write!(
                f,
                "shard {shard} is given twice ({} and {}); give each shard's part once",
                first.display(),
                second.display()
            ),
            MergeError::Missing { shards, count } => {
                let list: Vec<String> = shards.iter().map(|k| format!("{k}/{count}")).collect();
                write!(
                    f,
                    "no part for shard {}: run `rendorix sign --shard K/N` (or resign) for it with the same --now, or give its part",
                    list.join(", ")
                )
            }
            MergeError::Differs { path, first, what } => write!(
                f,
                "{} comes from another run than {}: {what}; run every shard again with the same config, key and --now",
                path.display(),
                first.display()
            ),
            MergeError::ForeignPage { path, page } => write!(
                f,
                "{} holds the page {page:?}, which belongs to another shard: the parts overlap; run every shard again with the same rendorix",
                path.display()
            ),
            MergeError::Pages { path, why } => write!(
                f,
                "the manifest part {} {why}; run its shard again",
                path.display()
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// The manifest of the run whose shards wrote `parts` (path and part), and each part's shard
/// record, in shard order. Parts opened with [`Manifest::open`] bring no pages: theirs are
/// read from their files by [`merge_pages`]. Each part is folded in as it comes and dropped,
/// so only the merged folder list and one part's are held at a time (a million folders each
/// at a million pages).
pub fn merge(
    parts: impl IntoIterator<Item = (PathBuf, Manifest)>,
) -> Result<(Manifest, Vec<ShardRecord>), MergeError> {
    // The first part, into which the others are folded, its path and its record.
    let mut first: Option<(PathBuf, Manifest, ShardRecord)> = None;
    let mut seen: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut records = Vec::new();
    for (path, mut part) in parts {
        let Some(record) = part.shard.take() else {
            return Err(MergeError::NotAPart(path));
        };
        let expected = first.as_ref().map_or(record.count, |(_, _, r)| r.count);
        if record.count != expected {
            return Err(MergeError::Count {
                path,
                count: record.count,
                expected,
            });
        }
        let index = record.index;
        if let Some(earlier) = seen.get(&index) {
            return Err(MergeError::Repeated {
                shard: format!("{index}/{expected}"),
                first: earlier.clone(),
                second: path,
            });
        }
        own_pages(&path, &part, index, expected)?;
        seen.insert(index, path.clone());
        let Some((first_path, merged, first_record)) = &mut first else {
            first = Some((path, part, record));
            continue;
        };
        let differs = |what| MergeError::Differs {
            path: path.clone(),
            first: first_path.clone(),
            what,
        };
        if let Some(what) = run_difference(first_record, &record, merged, &part) {
            return Err(differs(what));
        }
        merge_folders(&mut merged.folders, &part.folders)
            .ok_or_else(|| differs("the site's folders differ (another build of the site)"))?;
        merged.pages.append(&mut part.pages);
        records.push(record);
    }
    let (_, mut merged, first_record) = first.ok_or(MergeError::NoParts)?;
    let count = first_record.count;
    let missing: Vec<u32> = (1..=count).filter(|k| !seen.contains_key(k)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            shards: missing,
            count,
        });
    }
    records.push(first_record);
    records.sort_by_key(|r| r.index);
    merged.pages.sort_by(|a, b| a.path.cmp(&b.path));
    merged.checksum = String::new();
    Ok((merged, records))
}

/// The pages of merged parts, read from the parts' files: their lines, one source per part,
/// for [`Manifest::write_with`], and what the merge reports of them.
#[derive(Debug)]
pub struct MergedPages {
    /// Each part's page lines, in its order (by path), waiting in a file.
    pub lines: Vec<PageLines>,
    /// The earliest and latest `exp`.
    pub exps: (Option<u64>, Option<u64>),
    /// Every page's signed targets, when `targets` was asked for.
    pub targets: HashSet<String>,
}

impl MergedPages {
    /// How many pages.
    pub fn count(&self) -> usize {
        self.lines.iter().map(PageLines::len).sum()
    }
}

/// Reads the page lines of each part of a merged run (its path, its shard, and its lines as
/// [`Manifest::open`] left them), checking that each page is its shard's and that the lines
/// are the ones the part's checksum vouches for. Only a part's own lines and a spool beside
/// `spool_beside` are in play at a time, so a million pages are never in memory; each page's
/// signed targets are gathered when `targets`.
pub fn merge_pages(
    parts: &[(&Path, Shard, &RecordedPages)],
    spool_beside: &Path,
    targets: bool,
) -> Result<MergedPages, MergeError> {
    let mut merged = MergedPages {
        lines: Vec::with_capacity(parts.len()),
        exps: (None, None),
        targets: HashSet::new(),
    };
    for &(path, shard, recorded) in parts {
        let mut lines = PageLines::new(Spool::create(spool_beside));
        // The part's URL lists are read in step, so that a part whose URL file is not the one
        // it records is refused before anything is written.
        for page in recorded.read_with_urls() {
            let page = page.map_err(|e| MergeError::Pages {
                path: path.to_owned(),
                why: e.to_string(),
            })?;
            let entry = page.entry();
            if !shard.owns(&entry.path) {
                return Err(MergeError::ForeignPage {
                    path: path.to_owned(),
                    page: entry.path.clone(),
                });
            }
            widen_exps(&mut merged.exps, entry.exp);
            if targets {
                merged.targets.extend(signed_targets([entry]));
            }
            lines.push_recorded(page);
        }
        merged.lines.push(lines);
    }
    Ok(merged)
}

/// What makes `part` (with `record`) a part of another run than the first one, if anything.
fn run_difference(
    first_record: &ShardRecord,
    record: &ShardRecord,
    first: &Manifest,
    part: &Manifest,
) -> Option<&'static str> {
    Some(if record.command != first_record.command {
        "one is a part of `sign`, the other of `resign`"
    } else if record.rendorix != first_record.rendorix {
        "another version of rendorix wrote it"
    } else if record.config_sha256 != first_record.config_sha256 {
        "another config file (rendorix.toml) was read"
    } else if part.generated_at != first.generated_at {
        "another --now"
    } else if part.kid != first.kid || part.scheme != first.scheme {
        "another key or signing scheme"
    } else if part.base_url != first.base_url || part.expiry != first.expiry {
        "other settings"
    } else if part.refresh != first.refresh {
        "another refresh worker (shard 1 could not write it, or the site's scripts differ)"
    } else {
        return None;
    })
}

/// Checks that every page of `part` (at `path`) is shard `index`'s.
fn own_pages(path: &Path, part: &Manifest, index: u32, count: u32) -> Result<(), MergeError> {
    let shard = Shard::new(index, count).ok_or(MergeError::Count {
        path: path.to_owned(),
        count,
        expected: count,
    })?;
    match part.pages.iter().find(|p| !shard.owns(&p.path)) {
        Some(page) => Err(MergeError::ForeignPage {
            path: path.to_owned(),
            page: page.path.clone(),
        }),
        None => Ok(()),
    }
}

/// Folds the folder entries of another part into `merged`: none if either has none, else the
/// later time (the run's, when either shard wrote into the folder). `None` when the two parts
/// list other folders.
fn merge_folders(merged: &mut [FolderEntry], other: &[FolderEntry]) -> Option<()> {
    if merged.len() != other.len() {
        return None;
    }
    for (m, o) in merged.iter_mut().zip(other) {
        if m.path != o.path {
            return None;
        }
        m.mtime_ns = m.mtime_ns.zip(o.mtime_ns).map(|(a, b)| a.max(b));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::shard::shard_of;
    use crate::site::manifest::{PageEntry, ShardTotals};

    fn page(path: &str) -> PageEntry {
        PageEntry::for_test(path)
    }

    fn folders(times: [Option<u64>; 2]) -> Vec<FolderEntry> {
        vec![
            FolderEntry {
                path: "".into(),
                mtime_ns: times[0],
            },
            FolderEntry {
                path: "a".into(),
                mtime_ns: times[1],
            },
        ]
    }

    /// The pages `a/0.html` .. `a/19.html`, as one run and as shards of `count`.
    fn run(count: u32) -> (Manifest, Vec<(PathBuf, Manifest)>) {
        let pages: Vec<PageEntry> = (0..20).map(|i| page(&format!("a/{i}.html"))).collect();
        let whole = Manifest::new(7, "k", "https://x.org/", folders([Some(5), Some(5)]), pages);
        let parts = (1..=count)
            .map(|k| {
                let own = (whole.pages.iter())
                    .filter(|p| shard_of(&p.path, count) == k)
                    .cloned()
                    .collect();
                // Only shard 1 wrote into `a`; the others kept its older time.
                let times = [Some(5), Some(if k == 1 { 5 } else { 3 })];
                let mut part = Manifest::new(7, "k", "https://x.org/", folders(times), own);
                part.shard = Some(ShardRecord {
                    index: k,
                    count,
                    command: "sign".into(),
                    rendorix: "1".into(),
                    config_sha256: "c".into(),
                    totals: ShardTotals::default(),
                    pending: Vec::new(),
                    icons: Vec::new(),
                    revoked: Vec::new(),
                });
                (PathBuf::from(format!("m.shard-{k}-of-{count}")), part)
            })
            .collect();
        (whole, parts)
    }

    #[test]
    fn parts_merge_into_the_bytes_of_one_run() {
        for count in [1, 2, 3, 7] {
            let (whole, mut parts) = run(count);
            parts.reverse();
            let (merged, records) = merge(parts).unwrap();
            assert!(merged.to_bytes() == whole.to_bytes(), "{count} shards");
            assert_eq!(
                records.iter().map(|r| r.index).collect::<Vec<_>>(),
                (1..=count).collect::<Vec<_>>()
            );
        }
    }

    type Edit = fn(&mut Manifest);

    #[test]
    fn parts_of_other_runs_are_refused() {
        let error = |parts: Vec<(PathBuf, Manifest)>| merge(parts).unwrap_err().to_string();
        assert!(error(Vec::new()).starts_with("no manifest part to merge"));
        let (whole, parts) = run(3);
        assert!(error(vec![("m".into(), whole)]).contains("is a manifest, not the part"));
        let missing = error(parts[..2].to_vec());
        assert!(missing.starts_with("no part for shard 3/3"), "{missing}");
        let mut twice = parts.clone();
        twice.push(("copy".into(), parts[1].1.clone()));
        assert!(error(twice).starts_with("shard 2/3 is given twice (m.shard-2-of-3 and copy)"));
        let (_, four) = run(4);
        let mixed = vec![parts[0].clone(), four[1].clone()];
        assert!(error(mixed).contains("split in 4 shards, and the first part of one split in 3"));
        let edits: [(Edit, &str); 6] = [
            (|m| m.generated_at = 8, "another --now"),
            (|m| m.kid = "j".into(), "another key"),
            (
                |m| m.shard.as_mut().unwrap().config_sha256 = "d".into(),
                "another config file",
            ),
            (
                |m| m.shard.as_mut().unwrap().command = "resign".into(),
                "`resign`",
            ),
            (|m| m.folders.truncate(1), "the site's folders differ"),
            (|m| m.pages.push(page("c.html")), "the parts overlap"), // shard 2 of 3's
        ];
        for (edit, why) in edits {
            let mut other = parts.clone();
            edit(&mut other[2].1);
            let text = error(other);
            assert!(text.contains(why), "{why}: {text}");
        }
    }

    #[test]
    fn parts_read_from_their_files_merge_into_the_bytes_of_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        for count in [1, 2, 3, 7] {
            let (whole, parts) = run(count);
            let mut opened = Vec::new();
            for (name, part) in &parts {
                let path = dir.path().join(name);
                part.write(&path).unwrap();
                opened.push((path.clone(), Manifest::open(&path).unwrap().unwrap()));
            }
            let heads = (opened.iter()).map(|(path, (m, _))| (path.clone(), m.clone()));
            let (merged, records) = merge(heads).unwrap();
            let lines: Vec<(&Path, Shard, &RecordedPages)> = (opened.iter().zip(&records))
                .map(|((path, (_, recorded)), r)| {
                    (
                        path.as_path(),
                        Shard::new(r.index, count).unwrap(),
                        recorded,
                    )
                })
                .collect();
            let pages = merge_pages(&lines, &out, true).unwrap();
            assert_eq!(pages.count(), 20);
            assert_eq!(pages.exps, whole.exp_range());
            assert_eq!(pages.targets.len(), 20, "{:?}", pages.targets);
            let sources: Vec<&PageLines> = pages.lines.iter().collect();
            merged.write_with(&out, &sources).unwrap();
            assert!(
                std::fs::read(&out).unwrap() == whole.to_bytes(),
                "{count} shards"
            );
        }
    }

    #[test]
    fn part_pages_of_another_shard_or_edited_by_hand_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, parts) = run(3);
        let (name, mut part) = parts[2].clone();
        let path = dir.path().join(name);
        let error = |part: &Manifest| {
            part.write(&path).unwrap();
            let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
            let lines = [(path.as_path(), Shard::new(3, 3).unwrap(), &recorded)];
            merge_pages(&lines, &path, false).unwrap_err().to_string()
        };
        part.pages.push(page("c.html")); // shard 2 of 3's
        part.pages.sort_by(|a, b| a.path.cmp(&b.path));
        assert!(error(&part).contains("\"c.html\", which belongs to another shard"));
        part.pages.retain(|p| p.path != "c.html");
        part.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"exp\":9", "\"exp\":8", 1)).unwrap();
        let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
        let lines = [(path.as_path(), Shard::new(3, 3).unwrap(), &recorded)];
        let edited = merge_pages(&lines, &path, false).unwrap_err().to_string();
        assert!(edited.starts_with("the manifest part "), "{edited}");
        assert!(edited.contains("run its shard again"), "{edited}");
    }

    #[test]
    fn a_folder_time_is_the_latest_unless_a_shard_recorded_none() {
        let mut merged = folders([Some(5), Some(3)]);
        merge_folders(&mut merged, &folders([Some(5), Some(5)])).unwrap();
        assert_eq!(merged, folders([Some(5), Some(5)]));
        merge_folders(&mut merged, &folders([None, Some(5)])).unwrap();
        assert_eq!(merged, folders([None, Some(5)]));
        assert!(merge_folders(&mut merged, &folders([None, None])[..1]).is_none());
    }
}
