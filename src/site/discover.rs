//! Finding a site's pages, without following symbolic links, listing folders in parallel, and
//! not listing the folders whose entries `resign` can take from the manifest: [`Remembered`]
//! holds the manifest's folders, and [`super::folders`] explains why a folder that kept its
//! recorded time holds the recorded entries.

use std::borrow::Cow;
use std::fs;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::core::shard::Shard;
use crate::page::Format;
use crate::site::SiteError;
use crate::site::atomic::{TEMP_SUFFIX, is_leftover};
use crate::site::fingerprint::mtime_ns;
use crate::site::manifest::{FolderEntry, slash_path};
use crate::site::refresh::WORKER;

/// The folders a manifest recorded, for discovery to take a folder's subfolders from while the
/// folder keeps its recorded time. Such a folder's pages are not listed either: they are the
/// ones the manifest records, which `resign` reads in step with the pages found elsewhere.
#[derive(Debug, Default)]
pub(crate) struct Remembered {
    /// Sorted by path.
    folders: Vec<FolderEntry>,
}

/// What a manifest recorded of a folder.
#[derive(Debug)]
pub(crate) struct Listing<'m> {
    /// The folder's recorded time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// Names of its subfolders, each with where the manifest's list has it.
    pub folders: Vec<(&'m str, usize)>,
}

impl Remembered {
    /// The folders of a manifest.
    pub(crate) fn of(mut folders: Vec<FolderEntry>) -> Remembered {
        if !folders.is_sorted_by(|a, b| a.path <= b.path) {
            folders.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        }
        Remembered { folders }
    }

    /// What the manifest recorded of the folder `rel` (relative to the site) at `path`, if the
    /// folder still has its recorded time; `at` is where the manifest's list has it, when its
    /// parent's listing said.
    pub(crate) fn unchanged(
        &self,
        path: &Path,
        rel: &Path,
        at: Option<usize>,
    ) -> Option<Listing<'_>> {
        let rel = rel.to_str()?;
        let at = match at {
            Some(at) if self.folders.get(at).is_some_and(|f| *f.path == *rel) => at,
            _ => (self.folders)
                .binary_search_by(|f| (*f.path).cmp(rel))
                .ok()?,
        };
        let recorded = self.folders[at].mtime_ns?;
        let meta = fs::metadata(path).ok()?;
        let same = meta.is_dir() && mtime_ns(&meta) == recorded;
        same.then(|| Listing {
            mtime_ns: recorded,
            folders: self.subfolders(rel, at),
        })
    }

    /// The names of the recorded subfolders of the folder `rel`, recorded at `at`, each with
    /// where the list has it.
    fn subfolders(&self, rel: &str, at: usize) -> Vec<(&str, usize)> {
        // The paths under `rel` start with `rel/`: they follow it, after any sibling that sorts
        // between (`rel-x`, seldom many), and each subfolder comes before its own subfolders.
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        let start =
            at + 1 + partition_point_near(&self.folders[at + 1..], 0, |f| *f.path < *prefix);
        (self.folders[start..].iter().zip(start..))
            .map_while(|(f, at)| Some((f.path.strip_prefix(&*prefix)?, at)))
            .filter(|(name, _)| !name.contains('/'))
            .collect()
    }
}

/// [`slice::partition_point`] of `items` (those for which `before` holds come first), searched
/// outward from `from`, where the caller expects it: a few steps when it is near, where a binary
/// search over a million folders takes twenty.
pub(crate) fn partition_point_near<T>(
    items: &[T],
    from: usize,
    before: impl Fn(&T) -> bool,
) -> usize {
    let from = from.min(items.len());
    let mut step = 1;
    if from < items.len() && before(&items[from]) {
        // Every item before `lo` is before.
        let mut lo = from + 1;
        while lo + step <= items.len() && before(&items[lo + step - 1]) {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step).min(items.len());
        lo + items[lo..hi].partition_point(before)
    } else {
        // No item from `hi` on is before.
        let mut hi = from;
        while hi >= step && !before(&items[hi - step]) {
            hi -= step;
            step *= 2;
        }
        let lo = hi.saturating_sub(step);
        lo + items[lo..hi].partition_point(before)
    }
}

/// `("a/b", "c")` for `"a/b/c"`; `("", "c")` for `"c"`.
pub(crate) fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// One HTML file of the site. Only its relative path is kept ([`Page::path`] joins the site
/// folder to it when the file is opened): a site can have a million of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    /// Path relative to the site folder.
    pub rel: Box<Path>,
}

impl Page {
    /// The path to open, of the page in `site`.
    pub(crate) fn path(&self, site: &Path) -> PathBuf {
        site.join(&self.rel)
    }
}

/// Relative paths in one buffer, 8 bytes and the path's bytes each instead of an allocation
/// each: a site can have a data file beside every page, a million of them.
#[derive(Debug, Default)]
pub(crate) struct PathList {
    bytes: Vec<u8>,
    /// Each path's start in `bytes` (the high 40 bits) and length (the low 24 bits: a path is at
    /// most a few KiB on every file system).
    spans: Vec<u64>,
}

/// Bits of a [`PathList`] span that hold the length.
const LEN_BITS: u32 = 24;

impl PathList {
    /// Adds `rel`.
    pub(crate) fn push(&mut self, rel: &Path) {
        let bytes = path_bytes(rel);
        let len = (bytes.len() as u64).min((1 << LEN_BITS) - 1);
        self.spans.push((self.bytes.len() as u64) << LEN_BITS | len);
        self.bytes.extend_from_slice(&bytes[..len as usize]);
    }

    /// Adds the paths of `other`.
    fn append(&mut self, other: &PathList) {
        let shift = (self.bytes.len() as u64) << LEN_BITS;
        self.spans.extend(other.spans.iter().map(|s| s + shift));
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// How many.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The `at`th.
    pub(crate) fn get(&self, at: usize) -> &Path {
        span_path(&self.bytes, self.spans[at])
    }

    /// Each, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Path> {
        self.spans.iter().map(|&s| span_path(&self.bytes, s))
    }

    /// Sorts them by path.
    fn sort(&mut self) {
        let bytes = &self.bytes;
        (self.spans).sort_unstable_by(|&a, &b| span_path(bytes, a).cmp(span_path(bytes, b)));
    }
}

/// The path at `span` of `bytes` ([`PathList::spans`]).
fn span_path(bytes: &[u8], span: u64) -> &Path {
    let start = (span >> LEN_BITS) as usize;
    let len = (span & ((1 << LEN_BITS) - 1)) as usize;
    path_of(&bytes[start..start + len])
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).into()
}

#[cfg(unix)]
fn path_of(bytes: &[u8]) -> &Path {
    Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes))
}

// Elsewhere a name that is not Unicode is kept as its lossy text: the file is then not found,
// and reported.
#[cfg(not(unix))]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    match path.to_string_lossy() {
        std::borrow::Cow::Borrowed(s) => s.as_bytes().into(),
        std::borrow::Cow::Owned(s) => s.into_bytes().into(),
    }
}

#[cfg(not(unix))]
fn path_of(bytes: &[u8]) -> &Path {
    Path::new(std::str::from_utf8(bytes).unwrap_or_default())
}

/// What discovery found besides pages.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    /// The pages of the folders listed, in the manifest's order ([`slash_order`]): every page,
    /// unless folders were taken from a manifest (their pages are the ones it records).
    pub pages: Vec<Page>,
    /// Folders or files that could not be listed, with why.
    pub problems: Vec<(PathBuf, SiteError)>,
    /// HTML files that are symbolic links (not followed: their target, when inside the site,
    /// is signed under its own path).
    pub symlinks: Vec<PathBuf>,
    /// Leftover temporary files of an earlier, killed run, now removed.
    pub removed_leftovers: usize,
    /// Every folder, the site folder first, in the manifest's order ([`slash_order`]).
    pub folders: Vec<Folder>,
    /// Scripts, styles and data files (see [`is_searched`]), sorted by relative path: searched
    /// for protected references that cannot be signed where they are. Not listed in folders
    /// that are taken from the manifest.
    pub searched: PathList,
}

/// A folder of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Folder {
    /// Path relative to the site folder (empty for the site folder itself).
    pub rel: Box<Path>,
    /// The time the manifest recorded, when the folder still had it and so was not listed.
    pub unchanged_since: Option<NonZeroU64>,
    /// Whether every entry was understood: nothing unreadable, no page that is a symbolic link
    /// or has a name that is not UTF-8. Only such a folder may go unlisted next time.
    pub clean: bool,
}

/// Whether `name` is an HTML page name (`.html` / `.htm`, any letter case).
pub fn is_html(name: &Path) -> bool {
    name.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
}

/// The format of a file whose URLs rendorix signs, by its name (extensions in any letter case):
/// pages, stylesheets (`.css`), feeds and sitemaps (`.xml`, `.rss`, `.atom`), web app manifests
/// (`.webmanifest`, and `manifest.json` by the name browsers' documentation gives it).
pub fn format_of(name: &Path) -> Option<Format> {
    if is_html(name) {
        Some(Format::Html)
    } else if has_extension(name, &["css"]) {
        Some(Format::Css)
    } else if has_extension(name, &["xml", "rss", "atom"]) {
        Some(Format::Xml)
    } else if has_extension(name, &["webmanifest"])
        || name
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.eq_ignore_ascii_case("manifest.json"))
    {
        Some(Format::WebManifest)
    } else {
        None
    }
}

/// Whether `name` is a file that rendorix signs URLs in (see [`format_of`]).
pub fn is_signed(name: &Path) -> bool {
    format_of(name).is_some()
}

/// Whether `name` is a file that browsers or scripts read URLs from, where rendorix does not sign
/// them: scripts and data.
pub(crate) fn is_searched(name: &Path) -> bool {
    has_extension(name, &["js", "mjs", "cjs", "json", "txt"])
}

fn has_extension(name: &Path, extensions: &[&str]) -> bool {
    name.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Lists the HTML pages under `site`, without following symbolic links. Folders are read in
/// parallel on the current rayon pool: on sites with a folder per page, listing them is most of
/// what `resign` does when few pages are due. A folder that `remembered` knows and that still
/// has its recorded time is not listed: its subfolders are the ones recorded, and its pages,
/// the ones recorded too, are left to the caller.
pub(crate) fn discover(
    site: &Path,
    leftovers: Leftovers,
    remembered: Option<&Remembered>,
) -> Discovery {
    let mut found = discover_in(site, Path::new(""), leftovers, remembered, Some(0));
    // Paths are unique, so an unstable sort gives the one order, without a stable sort's copy
    // of half the list (tens of MB at a million pages).
    found
        .pages
        .sort_unstable_by(|a, b| slash_order(&a.rel, &b.rel));
    found.symlinks.sort_unstable();
    found
        .folders
        .sort_unstable_by(|a, b| slash_order(&a.rel, &b.rel));
    found.searched.sort();
    found
}

fn discover_in(
    dir: &Path,
    rel: &Path,
    leftovers: Leftovers,
    remembered: Option<&Remembered>,
    at: Option<usize>,
) -> Discovery {
    let found = match remembered.and_then(|r| r.unchanged(dir, rel, at)) {
        Some(listing) => Discovery::of_listing(dir, rel, &listing),
        None => Discovery::of_folder(dir, rel, leftovers),
    };
    let (found, folders) = found;
    found.with_nested(folders, leftovers, remembered)
}

/// The manifest's order of relative paths: by their text with `/` separators (see
/// [`slash_path`]), which is not [`Path`]'s order (`a-b/c` comes before `a/c` here, after it
/// there). Runs process pages in this order, so that their manifest lines can be written as
/// each batch is done.
pub(crate) fn slash_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    // Names that are not UTF-8 can read the same: then by the names themselves.
    (slash_text(a).cmp(&slash_text(b))).then_with(|| a.cmp(b))
}

/// [`slash_path`] of `rel`, borrowed where it can be.
pub(crate) fn slash_text(rel: &Path) -> Cow<'_, str> {
    match rel.to_str() {
        // Unix separators are `/` already.
        Some(text) if cfg!(unix) => Cow::Borrowed(text),
        _ => Cow::Owned(slash_path(rel)),
    }
}

/// Which leftover temporary files, of a run that was killed, discovery removes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leftovers {
    /// None: the run writes nothing.
    Keep,
    /// Every one.
    Remove,
    /// Only those of the shard's own files: the other shards, on the same folder, may be
    /// writing theirs (the refresh worker is shard 1's).
    OfShard(Shard),
}

impl Leftovers {
    /// Whether to remove the leftover `name` (`.NAME.PID.rendorix-tmp`) of the folder `rel`.
    fn removes(self, rel: &Path, name: &str) -> bool {
        match self {
            Leftovers::Keep => false,
            Leftovers::Remove => true,
            Leftovers::OfShard(shard) => {
                let of = (name.strip_prefix('.'))
                    .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
                    .and_then(|n| n.rsplit_once('.'))
                    .map(|(of, _pid)| slash_path(&rel.join(of)));
                match of {
                    Some(of) if of == WORKER => shard.index() == 1,
                    Some(of) => shard.owns(&of),
                    None => false,
                }
            }
        }
    }
}

/// A folder's subfolders: relative and full paths, and where a manifest's list has them.
type Subfolders = Vec<(PathBuf, PathBuf, Option<usize>)>;

impl Discovery {
    /// What the manifest recorded of the folder `rel` at `dir`, which still has its recorded
    /// time, and its subfolders.
    fn of_listing(dir: &Path, rel: &Path, listing: &Listing<'_>) -> (Discovery, Subfolders) {
        let found = Discovery {
            folders: vec![Folder {
                rel: rel.into(),
                unchanged_since: NonZeroU64::new(listing.mtime_ns),
                clean: true,
            }],
            ..Discovery::default()
        };
        let folders = (listing.folders.iter())
            .map(|&(name, at)| (rel.join(name), dir.join(name), Some(at)))
            .collect();
        (found, folders)
    }

    /// The pages of the folder `rel` at `dir`, listed, and its subfolders. Leftover temporary
    /// files are removed on the way, as `leftovers` says.
    fn of_folder(dir: &Path, rel: &Path, leftovers: Leftovers) -> (Discovery, Subfolders) {
        let mut found = Discovery::default();
        let mut folders = Vec::new();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                found
                    .problems
                    .push((dir.to_owned(), SiteError::ListFolder(e)));
                // Recorded all the same, so that a remembered parent still leads here next time.
                found.folders.push(Folder {
                    rel: rel.into(),
                    unchanged_since: None,
                    clean: false,
                });
                return (found, folders);
            }
        };
        let mut clean = true;
        for entry in entries {
            match entry {
                Ok(entry) => clean &= found.take_entry(&entry, rel, leftovers, &mut folders),
                Err(e) => {
                    found
                        .problems
                        .push((dir.to_owned(), SiteError::ListFolder(e)));
                    clean = false;
                }
            }
        }
        found.folders.push(Folder {
            rel: rel.into(),
            unchanged_since: None,
            clean,
        });
        (found, folders)
    }

    /// Takes in one entry of the folder `rel`: a subfolder goes to `folders`, a page to the
    /// pages, a leftover temporary file is removed. Whether the entry was understood (see
    /// [`Folder::clean`]).
    fn take_entry(
        &mut self,
        entry: &fs::DirEntry,
        rel: &Path,
        leftovers: Leftovers,
        folders: &mut Subfolders,
    ) -> bool {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            self.problems.push((path, SiteError::FileType));
            return false;
        };
        let name = entry.file_name();
        if file_type.is_dir() {
            folders.push((rel.join(&name), path, None));
            return name.to_str().is_some();
        }
        let text = name.to_string_lossy();
        if file_type.is_file() && is_leftover(&text) {
            if leftovers.removes(rel, &text) && fs::remove_file(&path).is_ok() {
                self.removed_leftovers += 1;
            }
            return true;
        }
        if !is_signed(&path) {
            // The refresh worker names the protected prefixes, and is rendorix's own.
            let worker = rel.as_os_str().is_empty() && name == WORKER;
            if file_type.is_file() && is_searched(&path) && !worker {
                self.searched.push(&rel.join(&name));
            }
            return true;
        }
        let clean = name.to_str().is_some() && !file_type.is_symlink();
        if file_type.is_symlink() {
            self.symlinks.push(path);
        } else if file_type.is_file() {
            self.pages.push(Page {
                rel: rel.join(&name).into(),
            });
        }
        clean
    }
}

impl Discovery {
    /// This folder's findings followed by those of its `folders` (relative and full paths),
    /// discovered in parallel.
    fn with_nested(
        mut self,
        folders: Subfolders,
        leftovers: Leftovers,
        remembered: Option<&Remembered>,
    ) -> Discovery {
        let nested: Vec<Discovery> = folders
            .into_par_iter()
            .map(|(rel, path, at)| discover_in(&path, &rel, leftovers, remembered, at))
            .collect();
        // Room for all at once: growing by doubling would hold old and new lists together.
        self.pages
            .reserve_exact(nested.iter().map(|n| n.pages.len()).sum());
        self.folders
            .reserve_exact(nested.iter().map(|n| n.folders.len()).sum());
        for n in nested {
            self.pages.extend(n.pages);
            self.problems.extend(n.problems);
            self.symlinks.extend(n.symlinks);
            self.removed_leftovers += n.removed_leftovers;
            self.folders.extend(n.folders);
            self.searched.append(&n.searched);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::TEMP_SUFFIX;
    use crate::site::folders::folder_time;
    use crate::site::manifest::FolderEntry;
    use std::fs::File;
    use std::time::UNIX_EPOCH;

    fn folder(path: &str, mtime_ns: Option<u64>) -> FolderEntry {
        FolderEntry {
            path: path.into(),
            mtime_ns,
        }
    }

    #[test]
    fn a_path_list_gives_back_its_paths_joined_and_sorted() {
        let mut list = PathList::default();
        list.push(Path::new("b/data.json"));
        list.push(Path::new("a.js"));
        let mut more = PathList::default();
        more.push(Path::new("é/x.txt"));
        more.push(Path::new(""));
        list.append(&more);
        assert_eq!(list.len(), 4);
        assert_eq!(list.get(2), Path::new("é/x.txt"));
        list.sort();
        let paths: Vec<&Path> = list.iter().collect();
        assert_eq!(paths, ["", "a.js", "b/data.json", "é/x.txt"].map(Path::new));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = Path::new(std::ffi::OsStr::from_bytes(b"c/\xff.json"));
            list.push(odd);
            assert_eq!(list.get(4), odd);
        }
    }

    #[test]
    fn pages_come_in_the_manifests_order() {
        let mut paths = ["a/c.html", "a-b/c.html", "a.html", "a/b/c.html", "a0.html"]
            .map(Path::new)
            .to_vec();
        paths.sort_by(|a, b| slash_order(a, b));
        let texts: Vec<String> = paths.iter().map(|p| slash_path(p)).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert_eq!(texts[0], "a-b/c.html");
    }

    #[test]
    fn splits_paths_at_the_last_slash() {
        assert_eq!(split("a/b/c.html"), ("a/b", "c.html"));
        assert_eq!(split("c.html"), ("", "c.html"));
    }

    #[test]
    fn a_folder_is_remembered_while_it_keeps_its_recorded_time() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        fs::create_dir_all(site.join("a/b")).unwrap();
        fs::create_dir_all(site.join("c")).unwrap();
        let time = folder_time(1_715_000_000);
        for rel in ["", "a", "a/b"] {
            File::open(site.join(rel))
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
        let at = u64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap();
        let remembered = Remembered::of(vec![
            folder("c", None),
            folder("a/b", Some(at)),
            folder("", Some(at)),
            folder("a-z", Some(at)),
            folder("a/b/c", None),
            folder("a", Some(at)),
        ]);
        let root = remembered.unchanged(site, Path::new(""), Some(0)).unwrap();
        assert_eq!(root.folders, [("a", 1), ("a-z", 2), ("c", 5)]);
        // Where the list has it, or looked for when the place given is not.
        for at in [Some(1), Some(4), None] {
            let a = remembered.unchanged(&site.join("a"), Path::new("a"), at);
            assert_eq!(
                a.unwrap().folders,
                [("b", 3)],
                "not a-z, nor b's own subfolder"
            );
        }
        assert!(
            remembered
                .unchanged(&site.join("c"), Path::new("c"), Some(5))
                .is_none()
        );
        // A new entry changes the folder's time: it is listed again.
        fs::write(site.join("a/new.html"), "x").unwrap();
        assert!(
            remembered
                .unchanged(&site.join("a"), Path::new("a"), None)
                .is_none()
        );
        assert!(
            remembered
                .unchanged(&site.join("a/b"), Path::new("a/b"), None)
                .is_some()
        );
    }

    #[test]
    fn a_partition_point_searched_from_anywhere_is_the_one_a_binary_search_finds() {
        for len in 0..40 {
            for point in 0..=len {
                let items: Vec<usize> = (0..len).collect();
                for from in 0..=len + 2 {
                    let found = partition_point_near(&items, from, |&i| i < point);
                    assert_eq!(found, point, "len {len}, from {from}");
                }
            }
        }
    }

    #[test]
    fn html_names_in_any_case() {
        for yes in ["a.html", "b.HTM", "c.HtMl", "d/e.htm"] {
            assert!(is_html(Path::new(yes)), "{yes}");
        }
        for no in ["a.xhtml", "b.html.gz", "html", ".html.txt"] {
            assert!(!is_html(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn discovery_sorts_skips_symlinks_and_removes_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b")).unwrap();
        fs::write(root.join("b/index.HTML"), "x").unwrap();
        fs::write(root.join("a.htm"), "x").unwrap();
        fs::write(root.join("style.css"), "x").unwrap();
        fs::write(root.join(format!(".a.htm.1{TEMP_SUFFIX}")), "half").unwrap();
        std::os::unix::fs::symlink(root.join("a.htm"), root.join("link.html")).unwrap();
        std::os::unix::fs::symlink("/", root.join("out")).unwrap();
        let found = discover(root, Leftovers::Remove, None);
        let rels: Vec<_> = found
            .pages
            .iter()
            .map(|p| p.rel.to_str().unwrap())
            .collect();
        assert_eq!(rels, ["a.htm", "b/index.HTML", "style.css"]);
        assert_eq!(found.symlinks, [root.join("link.html")]);
        assert_eq!(found.removed_leftovers, 1);
        assert!(!root.join(format!(".a.htm.1{TEMP_SUFFIX}")).exists());
        let folders: Vec<_> = found
            .folders
            .iter()
            .map(|f| (f.rel.to_str().unwrap(), f.clean))
            .collect();
        assert_eq!(
            folders,
            [("", false), ("b", true)],
            "the root holds a symlinked page"
        );
        let gone = discover(&root.join("gone"), Leftovers::Remove, None);
        assert_eq!((gone.problems.len(), gone.folders[0].clean), (1, false));
    }

    #[test]
    fn a_shard_removes_only_its_own_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("p")).unwrap();
        let shard = Shard::new(1, 2).unwrap();
        // Pages of each shard (shard_of, pinned in core::shard), each with a leftover.
        let (own, other) = ("p/1.html", "p/0.html");
        assert!(shard.owns(own) && !shard.owns(other));
        let leftover = |page: &str| {
            let (folder, name) = page.split_once('/').unwrap();
            root.join(folder).join(format!(".{name}.77{TEMP_SUFFIX}"))
        };
        for page in [own, other] {
            fs::write(root.join(page), "x").unwrap();
            fs::write(leftover(page), "half").unwrap();
        }
        fs::write(root.join(format!(".{WORKER}.77{TEMP_SUFFIX}")), "half").unwrap();
        let found = discover(root, Leftovers::OfShard(shard), None);
        assert_eq!(found.removed_leftovers, 2);
        assert!(!leftover(own).exists(), "its own page's leftover");
        assert!(leftover(other).exists(), "another shard may be writing it");
        assert!(!root.join(format!(".{WORKER}.77{TEMP_SUFFIX}")).exists());
        let other_shard = discover(root, Leftovers::OfShard(Shard::new(2, 2).unwrap()), None);
        assert_eq!(other_shard.removed_leftovers, 1);
        assert_eq!(discover(root, Leftovers::Keep, None).removed_leftovers, 0);
    }
}
