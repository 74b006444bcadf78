//! The manifest of a run (spec §7): every folder with its recorded time, every page with its
//! hash and earliest `exp`, and, in its URL file, every signed URL. It lets a later run find the
//! pages that need work without listing unchanged folders (see `folders`) or parsing the other
//! pages.
//!
//! Layout: the run's fields, one compact JSON line per folder, one per page (both sorted by
//! path, so a diff shows which pages changed), the record of the URL file, then a `checksum`:
//! the SHA-256 of every byte before it, which exposes hand edits that could otherwise make
//! `resign` skip a page that needs work. Two runs over the same input with the same `--now`
//! write the same bytes. It holds no secret.
//!
//! Each page records its size and modification time, so a later run can trust the recorded hash
//! without reading the page (git's index does the same); rendorix sets the modification time of
//! every page it rewrites to the run's `now`, so these fields are deterministic too.
//!
//! Most of the bytes are URL lists, which `resign` needs only for the pages it re-signs: they
//! are in the URL file beside the manifest (`urls`), one line per page in the same order, and a
//! `resign` that keeps every page leaves that file as it is. Loading reads the manifest line by
//! line, checks the checksum, and reads the URL file in step, leaving each list in it, unparsed,
//! until asked for. [`Manifest::open`] leaves the page lines in the file too, for `resign` to
//! read one at a time ([`RecordedPages`]). A run's own page lines, each with its list, wait in a
//! [`Spool`] file ([`PageLines`]) until the writer splits each into its manifest line and its
//! URL file line, so memory holds neither its pages' entries nor their URL lists. A manifest of
//! the previous version, whose page lines hold their lists, is read the same way.
//!
//! `format` holds the byte layout, `stream` the two-core writing, `spool` the file a run's page
//! lines wait in, `lines` those lines, `recorded` the reading of an opened manifest's page
//! lines, `urls` the URL file, `merge` the joining of a sharded run's parts.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::core::expiry::Lifetimes;
use crate::page::SignedOccurrence;
use crate::site::atomic::{remove_leftovers_of, write_atomically_with, write_pair_atomically};

mod format;
mod lines;
mod merge;
mod recorded;
mod spool;
mod stream;
mod urls;

pub use format::{FORMAT, PREVIOUS_VERSION, VERSION};
use format::{Head, Summed, read_lines, tail, why_unreadable};
pub use lines::PageLines;
pub use merge::{MergeError, MergedPages, merge, merge_pages};
pub use recorded::{PageReader, Recorded, RecordedPages};
pub use spool::Spool;
use stream::{write_hashed, write_piped};
pub use urls::{UrlFile, UrlFileRecord, urls_path};
use urls::{UrlsOut, read_url_lists};

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version, [`VERSION`].
    pub version: u32,
    /// `now` of the run, Unix seconds.
    pub generated_at: u64,
    /// The id of the key that signed.
    pub kid: String,
    /// The site's `base_url`.
    pub base_url: String,
    /// The refresh worker the run wrote (`[refresh]`); `null` when refresh is off.
    pub refresh: Option<RefreshEntry>,
    /// The signing scheme (spec §16): `rendorix` or `s3`.
    pub scheme: String,
    /// The expiry settings the run signed with: `[expiry]` first, then each rule. A run with
    /// other settings cannot trust the pages' `due`.
    pub expiry: Vec<ExpiryRecord>,
    /// Present only in one shard's part of a run (`--shard K/N`): which shard, and what
    /// `rendorix manifest merge` needs to judge the whole run. A manifest has none.
    #[serde(default)]
    pub shard: Option<ShardRecord>,
    /// Every folder of the site, sorted by path.
    pub folders: Vec<FolderEntry>,
    /// Every page processed, sorted by path.
    pub pages: Vec<PageEntry>,
    /// The URL file the pages' URL lists are in (version 6); `None` in a manifest of version 5,
    /// whose pages hold their lists, and in one not written yet.
    #[serde(default)]
    pub urls: Option<UrlFileRecord>,
    /// SHA-256 (hex) of the file's bytes before this field.
    #[serde(default)]
    pub checksum: String,
}

/// The refresh worker of a run (`[refresh]`, docs/client-navigation.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshEntry {
    /// Its path relative to the site folder.
    pub worker: String,
    /// SHA-256 of its content (hex).
    pub sha256: String,
    /// Whether every page got the refresh tag (the site's scripts render protected images),
    /// not only those with signed URLs.
    pub every_page: bool,
}

/// One shard's part of a run (spec §18): written by `sign --shard K/N` or `resign --shard K/N`
/// beside the manifest, merged into it by `rendorix manifest merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord {
    /// `K`, from 1.
    pub index: u32,
    /// `N`.
    pub count: u32,
    /// `sign` or `resign`.
    pub command: String,
    /// The version of rendorix that wrote it.
    pub rendorix: String,
    /// SHA-256 (hex) of the config file the run read.
    pub config_sha256: String,
    /// What the shard processed and signed, summed over the shards by the merge.
    pub totals: ShardTotals,
    /// Unsigned protected references the shard found that a page of another shard may publish
    /// signed (which the refresh worker then recovers): judged over the whole site by the merge.
    pub pending: Vec<PendingReference>,
    /// The request targets of the shard's icon links (only with `[refresh]`).
    pub icons: Vec<String>,
    /// Revocations to keep at least until the given time, because the shard refused links to
    /// their paths that would have lived that long: `[path, until]`.
    pub revoked: Vec<(String, u64)>,
}

/// What one shard processed and signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardTotals {
    /// Pages read and parsed.
    pub pages_scanned: usize,
    /// Pages that failed.
    pub pages_failed: usize,
    /// URLs signed.
    pub urls_signed: usize,
    /// URLs that could not be signed.
    pub urls_failed: usize,
    /// Image URLs outside the protection rules.
    pub urls_left_alone: usize,
    /// The most common prefixes of those, with their counts.
    pub unprotected: Vec<(String, usize)>,
}

/// An unsigned protected reference a shard found, for the merge to judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingReference {
    /// The file, relative to the site folder, with `/` separators.
    pub path: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// The reference as found.
    pub url: Option<String>,
    /// Its request target.
    pub target: String,
}

/// One expiry setting of a run: what decides the `exp` and `due` of the URLs it governs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryRecord {
    /// The rule's prefix as configured; `""` for `[expiry]` itself.
    pub prefix: String,
    /// `resign_interval + page_cache_ttl + open_page_allowance`, seconds.
    pub needed_secs: u64,
    /// `exp_granularity`, seconds.
    pub exp_granularity_secs: u64,
}

impl ExpiryRecord {
    /// The records of a site's expiry settings.
    pub fn of(lifetimes: &Lifetimes) -> Vec<ExpiryRecord> {
        (lifetimes.all())
            .map(|(rule, e)| ExpiryRecord {
                prefix: rule.map_or_else(String::new, |r| r.text.clone()),
                needed_secs: e.needed(),
                exp_granularity_secs: e.exp_granularity.secs(),
            })
            .collect()
    }
}

/// One folder of the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderEntry {
    /// Path relative to the site folder, with `/` separators; `""` for the site folder itself.
    pub path: Box<str>,
    /// The modification time rendorix gave it, nanoseconds since the Unix epoch; while the
    /// folder still has it, it holds the subfolders and pages recorded here. `null`: list it.
    pub mtime_ns: Option<u64>,
}

/// One page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageEntry {
    /// Path relative to the site folder, with `/` separators.
    pub path: String,
    /// SHA-256 of the file as written (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// The earliest `exp` of its signed URLs; `null` when it has none.
    pub exp: Option<u64>,
    /// From when it needs re-signing: the earliest, over its URLs, of `exp` less the
    /// `needed_secs` of the URL's expiry setting; `null` when it has no signed URL.
    pub due: Option<u64>,
    /// The id of the key that signed its URLs; `null` when it has none.
    pub kid: Option<String>,
    /// Its signed URLs, in page order, as JSON text: an array with, for each URL,
    /// `[original, target]`, or `[original]` when the target is the same text, or
    /// `[original, target, exp]` when its `exp` is not the page's (see
    /// [`PageEntry::url_entries`]). Read from the manifest's URL file, except for the pages
    /// of [`RecordedPages::read`], whose lists stay there.
    #[serde(default)]
    pub urls: UrlsJson,
}

#[cfg(test)]
impl PageEntry {
    /// An entry for tests: the page `path`, with one URL of its own, `exp` 9, due from 5.
    pub(crate) fn for_test(path: &str) -> PageEntry {
        PageEntry {
            path: path.into(),
            sha256: "00".into(),
            size: 1,
            mtime_ns: 2,
            exp: Some(9),
            due: Some(5),
            kid: Some("k".into()),
            urls: UrlsJson::of(format!(r#"[["/m/{path}.jpg"]]"#)),
        }
    }
}

/// A page's signed URLs as JSON text (see [`PageEntry::urls`]), parsed only when asked. Loaded
/// lists stay in the URL file until the manifest is written again: they are most of its bytes.
/// The default is a list left unread in the URL file ([`RecordedPages::read`]).
#[derive(Debug, Clone, Default)]
pub struct UrlsJson(Held);

#[derive(Debug, Clone, Default)]
enum Held {
    /// Not read: the list is the page's line of the URL file its manifest was read from.
    #[default]
    Unread,
    /// A range of a text in memory.
    Text { text: Arc<str>, range: Range<usize> },
    /// A range of a manifest file being read.
    Spooled {
        spool: Arc<Spool>,
        offset: u64,
        len: usize,
    },
}

impl UrlsJson {
    /// The JSON text (read back from the spool where it waits there).
    pub fn get(&self) -> io::Result<Cow<'_, str>> {
        match &self.0 {
            Held::Text { text, range } => Ok(Cow::Borrowed(&text[range.clone()])),
            Held::Spooled { spool, offset, len } => spool.read(*offset, *len).map(Cow::Owned),
            Held::Unread => Err(io::Error::other(
                "the page's URL list was left in the manifest's URL file unread",
            )),
        }
    }

    /// Whether the list was left unread in the URL file.
    pub(super) fn is_unread(&self) -> bool {
        matches!(self.0, Held::Unread)
    }

    pub(crate) fn of(json: String) -> UrlsJson {
        let range = 0..json.len();
        UrlsJson(Held::Text {
            text: json.into(),
            range,
        })
    }

    /// The part `range` of `text`, which it shares.
    fn part_of(text: &Arc<str>, range: Range<usize>) -> UrlsJson {
        UrlsJson(Held::Text {
            text: text.clone(),
            range,
        })
    }

    /// The `len` bytes at `offset` of a manifest file being read (`file`).
    fn in_file(file: &Arc<Spool>, offset: u64, len: usize) -> UrlsJson {
        UrlsJson(Held::Spooled {
            spool: file.clone(),
            offset,
            len,
        })
    }
}

impl<'de> Deserialize<'de> for UrlsJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UrlsJson, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(UrlsJson::of(raw.get().to_owned()))
    }
}

/// One signed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlEntry {
    /// The reference as found, character references decoded, without signature.
    pub original: String,
    /// The resolved request target that was signed, without the `exp`/`kid`/`sig` triple.
    pub target: String,
    /// Its `exp`.
    pub exp: u64,
    /// The key that signed it.
    pub kid: String,
}

/// A page's signed URLs as the manifest records them: the JSON list, its exp range and keys.
#[derive(Debug)]
pub struct SignedUrls {
    /// How many.
    pub count: usize,
    /// The earliest `exp`.
    pub earliest_exp: Option<u64>,
    /// The earliest `due`.
    pub earliest_due: Option<u64>,
    /// The latest `exp`.
    pub latest_exp: Option<u64>,
    /// The signing keys, sorted.
    pub kids: Vec<String>,
    /// The manifest's list of them (see [`PageEntry::urls`]).
    pub json: UrlsJson,
}

impl SignedUrls {
    /// The manifest form of a page's signed occurrences.
    pub fn of(signed: &[SignedOccurrence]) -> SignedUrls {
        let mut json = Vec::with_capacity(signed.len() * 64 + 2);
        let string = |json: &mut Vec<u8>, s: &str| {
            serde_json::to_writer(json, s).expect("writing to memory");
        };
        let earliest_exp = signed.iter().map(|s| s.exp).min();
        json.push(b'[');
        for (i, s) in signed.iter().enumerate() {
            json.extend_from_slice(if i == 0 { b"[" } else { b",[" });
            string(&mut json, &s.original);
            let own_exp = Some(s.exp) != earliest_exp;
            if s.target != s.original || own_exp {
                json.push(b',');
                string(&mut json, &s.target);
            }
            if own_exp {
                json.push(b',');
                json.extend_from_slice(s.exp.to_string().as_bytes());
            }
            json.push(b']');
        }
        json.push(b']');
        let mut kids: Vec<String> = Vec::new();
        for s in signed {
            if !kids.contains(&s.kid) {
                kids.push(s.kid.clone());
            }
        }
        kids.sort();
        let json = String::from_utf8(json).expect("serde_json writes UTF-8");
        SignedUrls {
            count: signed.len(),
            earliest_exp,
            earliest_due: signed.iter().map(|s| s.due).min(),
            latest_exp: signed.iter().map(|s| s.exp).max(),
            kids,
            json: UrlsJson::of(json),
        }
    }
}

impl PageEntry {
    /// The signed URLs, parsed, each with its `exp` and the page's `kid`.
    pub fn url_entries(&self) -> Result<Vec<UrlEntry>, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Item {
            Text(String),
            Exp(u64),
        }
        let invalid = |what: &str| <serde_json::Error as serde::de::Error>::custom(what);
        let text = self.urls.get().map_err(|e| invalid(&e.to_string()))?;
        let pairs: Vec<Vec<Item>> = serde_json::from_str(&text)?;
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let (Some(exp), Some(kid)) = (self.exp, &self.kid) else {
            return Err(invalid("a page with signed URLs has no exp or kid"));
        };
        pairs
            .into_iter()
            .map(|pair| {
                let mut pair = pair.into_iter();
                let (original, target, own_exp) = match (
                    pair.next(),
                    pair.next(),
                    pair.next(),
                    pair.next(),
                ) {
                    (Some(Item::Text(o)), None, None, None) => (o.clone(), o, None),
                    (Some(Item::Text(o)), Some(Item::Text(t)), None, None) => (o, t, None),
                    (Some(Item::Text(o)), Some(Item::Text(t)), Some(Item::Exp(e)), None) => {
                        (o, t, Some(e))
                    }
                    _ => {
                        return Err(invalid(
                            "a URL entry is not [original], [original, target] or [original, target, exp]",
                        ));
                    }
                };
                Ok(UrlEntry {
                    original,
                    target,
                    exp: own_exp.unwrap_or(exp),
                    kid: kid.clone(),
                })
            })
            .collect()
    }
}

/// The request targets that `pages` publish signed, each page's URL list read in turn (a page
/// whose list cannot be read publishes none).
pub fn signed_targets<P: Borrow<PageEntry>>(pages: impl IntoIterator<Item = P>) -> Vec<String> {
    (pages.into_iter())
        .filter_map(|p| p.borrow().url_entries().ok())
        .flatten()
        .map(|u| u.target)
        .collect()
}

/// Widens `exps`, an earliest and a latest `exp`, to take in `exp`.
pub(crate) fn widen_exps(exps: &mut (Option<u64>, Option<u64>), exp: Option<u64>) {
    let (first, last) = *exps;
    *exps = (
        first.into_iter().chain(exp).min(),
        last.into_iter().chain(exp).max(),
    );
}

impl Manifest {
    /// A manifest of `folders` and `pages` (sorted here) for a run at `now` signing with `kid`.
    pub fn new(
        now: u64,
        kid: &str,
        base_url: &str,
        mut folders: Vec<FolderEntry>,
        mut pages: Vec<PageEntry>,
    ) -> Manifest {
        // Runs give them sorted: then a sort's copy of half of each list is not needed.
        if !folders.is_sorted_by(|a, b| a.path <= b.path) {
            folders.sort_by(|a, b| a.path.cmp(&b.path));
        }
        if !pages.is_sorted_by(|a, b| a.path <= b.path) {
            pages.sort_by(|a, b| a.path.cmp(&b.path));
        }
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generated_at: now,
            kid: kid.to_owned(),
            base_url: base_url.to_owned(),
            refresh: None,
            scheme: "rendorix".into(),
            expiry: Vec::new(),
            shard: None,
            folders,
            pages,
            urls: None,
            checksum: String::new(),
        }
    }

    /// Writes the manifest and its URL file ([`urls_path`]) atomically, first removing
    /// temporary files that a killed run left beside them. The URL file is renamed into place
    /// first: a run killed between the two renames leaves a manifest whose URL file is not the
    /// one it records, which the next run finds by its size (or, should the sizes agree, by its
    /// checksum once it reads the file).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        self.write_with(path, &[])
    }

    /// [`Manifest::write`], with the page lines of each of `lines` merged into the manifest's
    /// own pages. When the lines are all the pages of the URL file beside `path`, each kept
    /// as it was (a `resign` with nothing to do), that file is left as it is, not written again.
    pub fn write_with(&self, path: &Path, lines: &[&PageLines]) -> io::Result<()> {
        let urls_path = urls_path(path);
        remove_leftovers_of(path);
        remove_leftovers_of(&urls_path);
        if let Some(kept) = self.unchanged_url_file(&urls_path, lines) {
            return write_atomically_with(path, |file| {
                let mut urls = UrlsOut::Kept(kept);
                let checksum = write_hashed(file, |out| self.write_body(out, lines, &mut urls))?;
                file.write_all(tail(&checksum).as_bytes())
            });
        }
        write_pair_atomically(&urls_path, path, |urls_file, file| {
            let mut checksum = String::new();
            write_piped(urls_file, |urls_out| {
                let mut urls = UrlsOut::writing(urls_out);
                checksum = write_hashed(file, |out| self.write_body(out, lines, &mut urls))?;
                Ok(())
            })?;
            file.write_all(tail(&checksum).as_bytes())
        })
    }

    /// The record of the URL file at `urls_path` when `lines` are all of its pages, each
    /// kept as read: the file then stays as it is.
    fn unchanged_url_file(&self, urls_path: &Path, lines: &[&PageLines]) -> Option<UrlFileRecord> {
        let mut live = lines.iter().filter(|l| !l.is_empty());
        let (Some(only), None) = (live.next(), live.next()) else {
            return None;
        };
        let from = only.url_file()?;
        let all_kept = self.pages.is_empty()
            && only.all_unread()
            && only.len() as u64 == from.record().lines
            && from.path() == urls_path;
        (all_kept && from.still_as_opened().is_ok()).then(|| from.record().clone())
    }

    /// Reads the manifest at `path`: `Ok(None)` when there is none; otherwise an error that says
    /// why it cannot be trusted (unreadable, not a manifest, another version, edited by hand, its
    /// URL file missing or not the one it records). Only the page heads are read into memory:
    /// each page's URL list is read from the URL file when asked for, from the file as it was
    /// opened here (a later run replaces it by renaming another file over it, which leaves this
    /// one readable).
    pub fn load(path: &Path) -> Result<Option<Manifest>, ManifestError> {
        Ok(Manifest::read(path, true)?.map(|(manifest, _)| manifest))
    }

    /// [`Manifest::load`] without the pages, which stay in the file, unread, to be read in turn
    /// ([`RecordedPages::read`]). Only the bytes before and after them are read here, so their
    /// part of the checksum is checked as they are read: whoever reads them must not act on
    /// them before the reading ends without an error. The URL file is opened and its size
    /// checked, not read.
    pub fn open(path: &Path) -> Result<Option<(Manifest, RecordedPages)>, ManifestError> {
        Manifest::read(path, false)
    }

    /// The manifest at `path`, its pages in memory when `keep`, and its page lines.
    fn read(path: &Path, keep: bool) -> Result<Option<(Manifest, RecordedPages)>, ManifestError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ManifestError::Unreadable(e)),
        };
        let spool = (file.try_clone())
            .and_then(Spool::reading)
            .map_err(ManifestError::Unreadable)?;
        let spool = Arc::new(spool);
        // The layout rendorix writes: the fields, one line per page, the checksum at the end.
        // Anything else is explained by a full parse.
        let explain = || match std::fs::read(path) {
            Ok(bytes) => why_unreadable(&bytes),
            Err(e) => ManifestError::Unreadable(e),
        };
        let Some(lines) = read_lines(&file, &spool, keep).map_err(ManifestError::Unreadable)?
        else {
            return Err(explain());
        };
        let head = serde_json::from_str::<Head>(&lines.skeleton).map_err(|_| explain())?;
        if head.format != FORMAT {
            return Err(ManifestError::NotAManifest);
        }
        if head.version != VERSION && head.version != PREVIOUS_VERSION {
            return Err(ManifestError::Version(head.version.into()));
        }
        if (head.version == VERSION) != head.urls.is_some() {
            return Err(explain());
        }
        let mut pages = lines.pages;
        let mut recorded = match lines.summed {
            Summed::Whole(summed) if summed != head.checksum => {
                return Err(ManifestError::ChecksumMismatch);
            }
            Summed::Whole(_) => RecordedPages::checked(spool),
            Summed::BeforePages {
                hasher,
                region,
                after,
            } => RecordedPages::unchecked(spool, region, (hasher, after, head.checksum.clone())),
        };
        if let Some(record) = &head.urls {
            let url_file = UrlFile::open(&urls_path(path), record)?;
            if keep {
                read_url_lists(&url_file, &mut pages)?;
            }
            recorded.take_urls_from(url_file);
        }
        let manifest = Manifest {
            format: head.format,
            version: head.version,
            generated_at: head.generated_at,
            kid: head.kid,
            base_url: head.base_url,
            refresh: head.refresh,
            scheme: head.scheme,
            expiry: head.expiry,
            shard: head.shard,
            folders: head.folders,
            pages,
            urls: head.urls,
            checksum: head.checksum,
        };
        Ok(Some((manifest, recorded)))
    }

    /// The earliest and latest `exp` over all pages.
    pub fn exp_range(&self) -> (Option<u64>, Option<u64>) {
        let first = self.pages.iter().filter_map(|p| p.exp).min();
        let last = self.pages.iter().filter_map(|p| p.exp).max();
        (first, last)
    }
}

/// Why a manifest cannot be trusted, and so every page is processed as if there were none.
/// The text completes a sentence that starts with "the manifest PATH".
#[derive(Debug)]
pub enum ManifestError {
    /// It could not be read.
    Unreadable(io::Error),
    /// It is not JSON.
    NotJson(serde_json::Error),
    /// It is JSON but not a rendorix manifest.
    NotAManifest,
    /// It has another format version.
    Version(u64),
    /// It lacks fields of its version or has others.
    Fields(serde_json::Error),
    /// Its content is a manifest, reformatted.
    Reformatted,
    /// Its checksum does not match its bytes.
    ChecksumMismatch,
    /// Its page lines are not as rendorix writes them.
    Layout,
    /// Its URL file is missing, unreadable, or not the one it records.
    UrlFile {
        /// The URL file.
        path: PathBuf,
        /// Why, completing "its URL file PATH …".
        why: String,
    },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Unreadable(e) => write!(f, "cannot be read ({e})"),
            ManifestError::NotJson(e) => write!(f, "is not valid JSON ({e})"),
            ManifestError::NotAManifest => f.write_str("is not a rendorix manifest"),
            ManifestError::Version(v) => write!(
                f,
                "has format version {v}, and this rendorix reads versions {PREVIOUS_VERSION} and {VERSION}"
            ),
            ManifestError::Fields(e) => write!(f, "does not have the expected fields ({e})"),
            ManifestError::Reformatted => {
                f.write_str("was changed by hand (it is not laid out as rendorix writes it)")
            }
            ManifestError::ChecksumMismatch => {
                f.write_str("was changed by hand (its checksum does not match its content)")
            }
            ManifestError::Layout => {
                f.write_str("does not have the layout rendorix writes; delete it")
            }
            ManifestError::UrlFile { path, why } => {
                write!(f, "cannot be used: its URL file {} {why}", path.display())
            }
        }
    }
}

impl std::error::Error for ManifestError {}

/// A relative path with `/` separators, whatever the platform.
pub fn slash_path(rel: &Path) -> String {
    let mut path = String::with_capacity(rel.as_os_str().len());
    for (i, part) in rel.iter().enumerate() {
        if i > 0 {
            path.push('/');
        }
        path.push_str(&part.to_string_lossy());
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use format::CHECKSUM_FIELD;
    use sha2::{Digest, Sha256};
    use stream::PIECE;

    fn sample() -> Manifest {
        Manifest::new(
            5,
            "k",
            "https://x.org/",
            vec![
                FolderEntry {
                    path: "a".into(),
                    mtime_ns: None,
                },
                FolderEntry {
                    path: "".into(),
                    mtime_ns: Some(3_000_000_000),
                },
            ],
            vec![PageEntry {
                path: "a/b.html".into(),
                sha256: "00".into(),
                size: 3,
                mtime_ns: 7,
                exp: Some(9),
                due: Some(5),
                kid: Some("k".into()),
                urls: UrlsJson::of(r#"[["/m/a.jpg"],["../b.jpg","/b.jpg"]]"#.into()),
            }],
        )
    }

    #[test]
    fn a_manifest_of_many_pieces_is_written_as_formatted_and_read_back_whole() {
        // ~4.5 pieces of page lines, each page with its own list: any piece lost, repeated,
        // reordered or cut would change the bytes or the checksum.
        let pages = (0..3000)
            .map(|i| PageEntry {
                path: format!("p{i:05}/index.html"),
                sha256: format!("{i:064x}"),
                size: i,
                mtime_ns: i * 7,
                exp: Some(9),
                due: Some(5),
                kid: Some("k".into()),
                urls: UrlsJson::of(format!(r#"[["/m/{i}-{}.jpg"]]"#, "x".repeat(1500))),
            })
            .collect();
        let m = Manifest::new(5, "k", "https://x.org/", Vec::new(), pages);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        m.write(&path).unwrap();
        let written = std::fs::read(&path).unwrap();
        let urls_written = std::fs::read(urls_path(&path)).unwrap();
        assert!(urls_written.len() > 4 * PIECE, "{}", urls_written.len());
        assert!(
            (written, urls_written) == m.to_files(),
            "the files differ from the formatted manifest"
        );
        let written = std::fs::read(&path).unwrap();
        let back = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(back.pages.len(), 3000);
        assert_eq!(
            back.pages[2999].urls.get().unwrap(),
            m.pages[2999].urls.get().unwrap()
        );
        let text = String::from_utf8(written).unwrap();
        let body = &text[..text.rfind(CHECKSUM_FIELD).unwrap()];
        assert_eq!(back.checksum, hex::encode(Sha256::digest(body)));
        // Opened, the pages stay in the file and are read in turn, their lists left in the
        // URL file or read in step.
        let (opened, recorded) = Manifest::open(&path).unwrap().unwrap();
        assert!(opened.pages.is_empty());
        let heads: Vec<Recorded> = recorded.read().map(Result::unwrap).collect();
        let read: Vec<Recorded> = recorded.read_with_urls().map(Result::unwrap).collect();
        assert_eq!((heads.len(), read.len()), (3000, 3000));
        for ((head, read), loaded) in heads.iter().zip(&read).zip(&back.pages) {
            let entry = read.entry();
            assert_eq!((&entry.path, &entry.sha256), (&loaded.path, &loaded.sha256));
            assert_eq!(entry.urls.get().unwrap(), loaded.urls.get().unwrap());
            assert!(head.entry().urls.is_unread());
            // The line, which a kept page is written back as, is the one its entry gives.
            for read in [head, read] {
                let mut line = Vec::new();
                read.entry().write_to(&mut line).unwrap();
                assert_eq!(read.line().as_bytes(), line);
            }
        }
    }

    #[test]
    fn page_lines_read_from_a_manifest_written_over_meanwhile_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut m = sample();
        m.pages.push(PageEntry {
            path: "b.html".into(),
            ..m.pages[0].clone()
        });
        m.write(&path).unwrap();
        let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
        // Written over in place, not replaced: the open file sees the new bytes.
        let mut other = sample();
        other.pages[0].path = "a/other.html".into();
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap()
            .write_all(&other.to_bytes())
            .unwrap();
        let read: Vec<Result<Recorded, ManifestError>> = recorded.read().collect();
        assert!(read.iter().any(Result::is_err), "{read:?}");
    }

    #[test]
    fn page_lines_edited_by_hand_end_in_a_checksum_error_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut m = sample();
        for i in 0..3 {
            m.pages.push(PageEntry {
                path: format!("p{i}.html"),
                ..m.pages[0].clone()
            });
        }
        m.write(&path).unwrap();
        let good = String::from_utf8(m.to_bytes()).unwrap();
        let edits = [
            // An exp moved later: the lines still read, the checksum gives it away at the end.
            good.replacen("\"exp\":9", "\"exp\":8", 2),
            // A line that no longer reads.
            good.replacen("{\"path\":\"p1.html\"", "{\"path\":1", 1),
        ];
        for edit in edits {
            std::fs::write(&path, &edit).unwrap();
            let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
            let read: Vec<Result<Recorded, ManifestError>> = recorded.read().collect();
            let last = read.last().unwrap();
            assert!(
                matches!(last, Err(ManifestError::ChecksumMismatch)),
                "{last:?}"
            );
            assert!(read[..read.len() - 1].iter().all(Result::is_ok));
            // Loaded whole, it is refused at once.
            assert!(Manifest::load(&path).is_err());
        }
        // Unedited, every line reads and the reading ends without an error.
        std::fs::write(&path, &good).unwrap();
        let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
        assert_eq!(recorded.read().filter(Result::is_ok).count(), 4);
        assert!(recorded.read().all(|e| e.is_ok()));
    }

    #[test]
    fn round_trips_with_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let m = sample();
        m.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\n  \"format\": \"rendorix-manifest\",\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  \"folders\": [\n    {\"path\":\"\",\"mtime_ns\":3000000000},\n    {\"path\":\"a\",\"mtime_ns\":null}\n  ],"),
            "{text}"
        );
        assert!(
            text.contains("\n    {\"path\":\"a/b.html\",\"sha256\":\"00\""),
            "{text}"
        );
        let back = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(back.to_bytes(), m.to_bytes());
        assert_eq!(back.folders, m.folders);
        let b = UrlEntry {
            original: "../b.jpg".into(),
            target: "/b.jpg".into(),
            exp: 9,
            kid: "k".into(),
        };
        let a = UrlEntry {
            original: "/m/a.jpg".into(),
            target: "/m/a.jpg".into(),
            ..b.clone()
        };
        assert_eq!(back.pages[0].url_entries().unwrap(), [a, b]);
        assert_eq!(back.exp_range(), (Some(9), Some(9)));
        // Paths that look like the layout's own markers stay inside their strings.
        let mut tricky = sample();
        let mut second = tricky.pages[0].clone();
        second.path = "a/,\"urls\":[]}\n  ],\n \"pages\": [é.html".into();
        tricky.pages.push(second);
        tricky.folders[1].path = "a/\n  \"pages\": [".into();
        tricky.base_url = "https://x.org/\"pages\": [/".into();
        tricky.write(&path).unwrap();
        let back = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(back.to_bytes(), tricky.to_bytes());
        assert_eq!(back.pages[1].path, tricky.pages[1].path);
        assert_eq!(back.folders, tricky.folders);
        assert_eq!(back.pages[1].url_entries().unwrap()[0].target, "/m/a.jpg");
        let empty = Manifest::new(5, "k", "https://x.org/", Vec::new(), Vec::new());
        empty.write(&path).unwrap();
        assert_eq!(Manifest::load(&path).unwrap().unwrap().pages.len(), 0);
    }

    #[test]
    fn the_url_file_stays_when_every_page_is_kept_and_is_checked_when_copied_or_read() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let urls = urls_path(&path);
        let mut m = sample();
        for i in 0..3 {
            m.pages.push(PageEntry {
                path: format!("p{i}.html"),
                urls: UrlsJson::of(format!(r#"[["/m/{i}.jpg"]]"#)),
                ..m.pages[0].clone()
            });
        }
        m.write(&path).unwrap();
        let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let first = inode(&urls);
        // The pages a run keeps, as read from the manifest, but for `skip`.
        let kept = |skip: Option<&str>| {
            let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
            let mut kept = PageLines::new(Spool::create(&path));
            kept.take_urls_from(recorded.url_file().unwrap().clone());
            for r in recorded.read().map(Result::unwrap) {
                if Some(r.entry().path.as_str()) != skip {
                    kept.push_recorded(r);
                }
            }
            kept
        };
        let rewrite = |lines: &PageLines| {
            let again = Manifest::new(5, "k", "https://x.org/", m.folders.clone(), Vec::new());
            again.write_with(&path, &[lines])
        };
        // Every page kept: the manifest is written again, its URL file left as it is.
        rewrite(&kept(None)).unwrap();
        assert_eq!(inode(&urls), first);
        assert!(std::fs::read(&path).unwrap() == m.to_bytes());
        // One page gone: the others' lists are copied from the old file into a new one.
        rewrite(&kept(Some("p1.html"))).unwrap();
        assert_ne!(inode(&urls), first);
        m.pages.retain(|p| p.path != "p1.html");
        let (index, lists) = m.to_files();
        assert!(std::fs::read(&path).unwrap() == index);
        assert_eq!(std::fs::read(&urls).unwrap(), lists);
        // Edited in place, its size kept: opening does not tell, reading and copying do, and
        // a failed copy leaves both files as they were.
        let edited = String::from_utf8(lists.clone())
            .unwrap()
            .replace("/m/0.jpg", "/m/9.jpg");
        std::fs::write(&urls, &edited).unwrap();
        let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
        assert_eq!(recorded.read().filter(Result::is_ok).count(), 3);
        let last = recorded.read_with_urls().last().unwrap().unwrap_err();
        assert!(last.to_string().contains("changed by hand"), "{last}");
        assert!(matches!(
            Manifest::load(&path),
            Err(ManifestError::UrlFile { .. })
        ));
        let error = rewrite(&kept(Some("p2.html"))).unwrap_err();
        assert!(error.to_string().contains("changed by hand"), "{error}");
        assert!(std::fs::read(&path).unwrap() == index);
        assert_eq!(std::fs::read_to_string(&urls).unwrap(), edited);
        // Cut short, or gone: the manifest cannot be used at all.
        std::fs::write(&urls, &lists[..lists.len() - 1]).unwrap();
        let why = Manifest::open(&path).unwrap_err().to_string();
        assert!(why.contains("bytes, and the manifest records"), "{why}");
        std::fs::remove_file(&urls).unwrap();
        let why = Manifest::load(&path).unwrap_err().to_string();
        assert!(why.ends_with("m.json.urls is missing"), "{why}");
    }

    #[test]
    fn untrustworthy_manifests_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        assert!(Manifest::load(&path).unwrap().is_none());
        let cases = [
            ("{", "is not valid JSON"),
            ("{\"format\": \"other\"}", "is not a rendorix manifest"),
            (
                "{\"format\": \"rendorix-manifest\", \"version\": 1, \"pages\": {}}",
                "has format version 1",
            ),
            (
                "{\"format\": \"rendorix-manifest\", \"version\": 5}",
                "does not have the expected fields",
            ),
        ];
        for (text, why) in cases {
            std::fs::write(&path, text).unwrap();
            assert!(
                Manifest::load(&path)
                    .unwrap_err()
                    .to_string()
                    .starts_with(why),
                "{text}: {:?}",
                Manifest::load(&path).map(|_| ())
            );
        }
        let good = String::from_utf8(sample().to_bytes()).unwrap();
        for edit in [
            good.replace("\"exp\":9", "\"exp\":99"),
            good.replace("  \"pages\"", "\"pages\""),
        ] {
            std::fs::write(&path, edit).unwrap();
            assert!(
                Manifest::load(&path)
                    .unwrap_err()
                    .to_string()
                    .contains("changed by hand")
            );
        }
    }

    #[test]
    fn slash_paths() {
        assert_eq!(slash_path(Path::new("a/b/c.html")), "a/b/c.html");
        assert_eq!(slash_path(Path::new("c.html")), "c.html");
        assert_eq!(slash_path(Path::new("")), "");
    }
}
