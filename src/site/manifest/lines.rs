//! The page lines of a run, waiting in a file until the manifest is written.
//!
//! A run processes its pages in the manifest's order (see
//! [`crate::site::discover::slash_order`]) and hands over each batch's entries as soon as the
//! batch is done; a `resign` hands over the entries it keeps as it decides on them, in the same
//! order. Their lines go straight to a [`Spool`] and the manifest copies them from there, the
//! run's sources merged by path. At a million pages the entries' heads alone would be ~300 MB
//! of memory; the spool holds them on disk (the page cache, mostly) instead. Where no spool can
//! be made, they stay in memory.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::site::manifest::spool::Reader;
use crate::site::manifest::urls::UrlLines;
use crate::site::manifest::{PageEntry, Recorded, Spool, UrlFile, UrlsJson, UrlsOut};

/// How many bytes of lines [`PageLines`] gathers before it appends them to its spool.
const PENDING: usize = 1 << 20;

/// The entries of a run's pages (those processed, or those a `resign` kept), in manifest
/// order: lines in a spool, or entries in memory where there is none.
#[derive(Debug, Default)]
pub struct PageLines {
    spool: Option<Spool>,
    /// Lines not in the spool yet: they go there a megabyte at a time, not a system call each.
    pending: Vec<u8>,
    /// The entries, where there is no spool.
    held: Vec<PageEntry>,
    /// How many entries.
    count: usize,
    /// How many of them left their URL list unread in `url_file`.
    unread: usize,
    /// The URL file of the manifest the entries were read from, which holds the lists they
    /// left unread.
    url_file: Option<UrlFile>,
    /// The path of the last entry, which the next may not sort before.
    last: String,
    /// The first failure to keep a line: the manifest cannot be written.
    error: Option<io::Error>,
}

impl PageLines {
    /// None yet, kept in `spool` when there is one.
    pub fn new(spool: Option<Spool>) -> PageLines {
        PageLines {
            spool,
            ..PageLines::default()
        }
    }

    /// Takes the URL lists that entries leave unread from `file`.
    pub fn take_urls_from(&mut self, file: UrlFile) {
        self.url_file = Some(file);
    }

    /// The URL file the lists left unread are in.
    pub(super) fn url_file(&self) -> Option<&UrlFile> {
        self.url_file.as_ref()
    }

    /// Whether every entry left its URL list unread.
    pub(super) fn all_unread(&self) -> bool {
        self.unread == self.count
    }

    /// Adds `entry`, which must not sort before the one added last.
    pub fn push(&mut self, entry: PageEntry) {
        self.count_in(&entry.path);
        self.unread += usize::from(entry.urls.is_unread());
        if self.spool.is_none() {
            return self.held.push(entry);
        }
        let written =
            (entry.write_to(&mut self.pending)).and_then(|()| self.pending.write_all(b"\n"));
        self.written(written);
    }

    /// Adds a manifest's entry as it was read, which must not sort before the one added last:
    /// its line is copied as the manifest had it. The line's checksum held, so these are the
    /// bytes rendorix wrote for the entry (or ones it reads as the same).
    pub fn push_recorded(&mut self, recorded: Recorded) {
        if self.spool.is_none() {
            return self.push(recorded.into_entry());
        }
        self.count_in(&recorded.entry().path);
        self.unread += usize::from(recorded.entry().urls.is_unread());
        self.pending.extend_from_slice(recorded.line().as_bytes());
        self.pending.push(b'\n');
        self.written(Ok(()));
    }

    /// Counts in the entry at `path`, checking the order.
    fn count_in(&mut self, path: &str) {
        if self.count > 0 && *path < *self.last {
            // A bug, not the site's doing: the manifest would be out of order, so write none.
            self.error.get_or_insert_with(|| {
                io::Error::other(format!("page {path:?} came out of order"))
            });
        }
        self.count += 1;
        self.last.replace_range(.., path);
    }

    /// After a line went to `pending`: appends them to the spool once there is enough.
    fn written(&mut self, mut kept: io::Result<()>) {
        if let (Ok(()), Some(spool)) = (&kept, &self.spool)
            && self.pending.len() >= PENDING
        {
            kept = spool.append(&self.pending).map(drop);
            self.pending.clear();
        }
        if let Err(e) = kept {
            self.error.get_or_insert(e);
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Each entry, read back from the spool where it waits there, with its URL list (one left
    /// unread read from the URL file, in step), in order, handed to `each`.
    pub fn for_each(&self, mut each: impl FnMut(PageEntry)) -> io::Result<()> {
        let mut source = self.source()?;
        let mut old = (self.url_file.as_ref())
            .filter(|_| self.unread > 0)
            .map(UrlFile::lines);
        let mut line = Vec::new();
        while source.next_line(&mut line)?.is_some() {
            let body = std::str::from_utf8(&line).map_err(io::Error::other)?;
            let mut entry = PageEntry::parse_whole(body)
                .ok_or_else(|| io::Error::other("a page line in the spool cannot be read"))?;
            if let (true, Some(old)) = (entry.urls.is_unread(), &mut old) {
                entry.urls = UrlsJson::of(old.list_for(&line, true)?.to_owned());
            }
            each(entry);
        }
        old.map_or(Ok(()), UrlLines::finish)
    }

    /// The lines, to be read in order.
    fn source(&self) -> io::Result<Source<'_>> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        Ok(match &self.spool {
            None => Source::Entries(self.held.iter()),
            Some(spool) => Source::Spooled {
                reader: BufReader::with_capacity(1 << 20, spool.reader().chain(&self.pending)),
                left: self.count,
            },
        })
    }
}

/// Page lines of one source, read in order.
enum Source<'a> {
    /// Entries in memory, each written out as its line.
    Entries(std::slice::Iter<'a, PageEntry>),
    /// Lines in a spool.
    Spooled {
        reader: BufReader<io::Chain<Reader<'a>, &'a [u8]>>,
        left: usize,
    },
}

impl Source<'_> {
    /// Puts the next line (without its newline) in `line`, and returns its path; `None` at the
    /// end.
    fn next_line(&mut self, line: &mut Vec<u8>) -> io::Result<Option<String>> {
        match self {
            Source::Entries(entries) => match entries.next() {
                Some(entry) => {
                    line.clear();
                    entry.write_to(line)?;
                    Ok(Some(entry.path.clone()))
                }
                None => Ok(None),
            },
            Source::Spooled { .. } => match self.next_text(line)? {
                true => line_path(line).map(Some),
                false => Ok(None),
            },
        }
    }

    /// Puts the next line (without its newline) in `line`; whether there was one.
    fn next_text(&mut self, line: &mut Vec<u8>) -> io::Result<bool> {
        line.clear();
        match self {
            Source::Entries(entries) => match entries.next() {
                Some(entry) => entry.write_to(line).map(|()| true),
                None => Ok(false),
            },
            Source::Spooled { left: 0, .. } => Ok(false),
            Source::Spooled { reader, left } => {
                *left -= 1;
                reader.read_until(b'\n', line)?;
                if line.pop() != Some(b'\n') {
                    return Err(io::Error::other("a page line was cut short in the spool"));
                }
                Ok(true)
            }
        }
    }
}

/// Writes the page lines of `entries` (sorted by path) and of each of `lines`, merged in path
/// order, each after its separator ([`write_separator`]), their URL lists to `urls`; how many
/// were written.
pub(super) fn write_merged(
    entries: &[PageEntry],
    lines: &[&PageLines],
    out: &mut impl Write,
    urls: &mut UrlsOut<'_>,
) -> io::Result<usize> {
    let mut sources = vec![Source::Entries(entries.iter())];
    // Each source's old URL file, read as the lists it left unread are copied from it.
    let mut olds: Vec<Option<UrlLines<'_>>> = vec![None];
    for l in lines {
        sources.push(l.source()?);
        let copied = urls.is_writing() && l.unread > 0;
        olds.push(l.url_file.as_ref().filter(|_| copied).map(UrlFile::lines));
    }
    let written = write_lines(&mut sources, &mut olds, out, urls)?;
    for old in olds.into_iter().flatten() {
        let path = old.path().display().to_string();
        old.finish()
            .map_err(|e| io::Error::new(e.kind(), format!("the URL file {path} {e}")))?;
    }
    Ok(written)
}

/// [`write_merged`]'s merge of `sources`, each with its old URL file.
fn write_lines(
    sources: &mut [Source<'_>],
    olds: &mut [Option<UrlLines<'_>>],
    out: &mut impl Write,
    urls: &mut UrlsOut<'_>,
) -> io::Result<usize> {
    // Each source's next line and its path; a source whose path is `None` is done.
    let mut heads: Vec<(Option<String>, Vec<u8>)> = Vec::with_capacity(sources.len());
    for source in sources.iter_mut() {
        let mut line = Vec::with_capacity(4096);
        heads.push((source.next_line(&mut line)?, line));
    }
    let mut written = 0;
    loop {
        let mut live = (heads.iter().enumerate()).filter(|(_, (path, _))| path.is_some());
        if let (Some((i, _)), None) = (live.next(), live.next()) {
            // One source left (often the only one): its lines follow in its order, their paths
            // not needed.
            let line = &mut heads[i].1;
            loop {
                write_separator(out, written)?;
                urls.put(line, olds[i].as_mut(), out)?;
                written += 1;
                if !sources[i].next_text(line)? {
                    return Ok(written);
                }
            }
        }
        // A handful of sources: the smallest path by a scan; on a tie, the first source.
        let next = (heads.iter().enumerate())
            .filter_map(|(i, (path, _))| path.as_ref().map(|p| (p, i)))
            .min()
            .map(|(_, i)| i);
        let Some(i) = next else {
            return Ok(written);
        };
        write_separator(out, written)?;
        urls.put(&heads[i].1, olds[i].as_mut(), out)?;
        written += 1;
        let (path, line) = &mut heads[i];
        *path = sources[i].next_line(line)?;
    }
}

/// Writes what goes before an element of a JSON array whose `[` is written and which has
/// `written` elements so far: each element on a line of its own.
pub(super) fn write_separator(out: &mut impl Write, written: usize) -> io::Result<()> {
    out.write_all(if written == 0 { b"\n    " } else { b",\n    " })
}

/// Ends a JSON array of `written` elements written one per line.
pub(super) fn write_end(out: &mut impl Write, written: usize) -> io::Result<()> {
    out.write_all(if written == 0 { b"]" } else { b"\n  ]" })
}

/// The path of a page line, which [`PageEntry::write_to`] starts with `{"path":`.
fn line_path(line: &[u8]) -> io::Result<String> {
    let unreadable = || io::Error::other("a page line in the spool has no path");
    let rest = line.strip_prefix(b"{\"path\":").ok_or_else(unreadable)?;
    // The first value only: what follows it is the rest of the line.
    let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<String>();
    values.next().and_then(Result::ok).ok_or_else(unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::manifest::{Manifest, urls_path};

    fn entry(path: &str, exp: u64) -> PageEntry {
        PageEntry {
            path: path.into(),
            sha256: "00".into(),
            size: 1,
            mtime_ns: 2,
            exp: Some(exp),
            due: Some(exp - 5),
            kid: Some("k".into()),
            urls: UrlsJson::of(format!(r#"[["/m/{path}.jpg"]]"#)),
        }
    }

    #[test]
    fn spooled_and_held_lines_merge_with_entries_into_the_manifest_a_list_gives() {
        let dir = tempfile::tempdir().unwrap();
        let held = vec![entry("a.html", 20), entry("c/\"q\".html", 30)];
        let kept = ["a/a.html", "b/c.html", "zz.html"];
        let processed = ["a/b.html", "b-c/d.html", "b/d.html", "z.html"];
        let whole = (held.iter().cloned())
            .chain(kept.iter().map(|p| entry(p, 40)))
            .chain(processed.iter().map(|p| entry(p, 10)))
            .collect();
        let whole = Manifest::new(5, "k", "https://x.org/", Vec::new(), whole);
        for spooled in [true, false] {
            let spool = || spooled.then(|| Spool::create(&dir.path().join("m.json")).unwrap());
            let (mut lines, mut kept_lines) = (PageLines::new(spool()), PageLines::new(spool()));
            for p in processed {
                lines.push(entry(p, 10));
            }
            for p in kept {
                kept_lines.push(entry(p, 40));
            }
            assert_eq!(lines.len(), 4);
            let mut m = Manifest::new(5, "k", "https://x.org/", Vec::new(), held.clone());
            m.checksum.clear();
            let path = dir.path().join("out.json");
            m.write_with(&path, &[&kept_lines, &lines]).unwrap();
            let (index, urls) = whole.to_files();
            assert_eq!(
                String::from_utf8(std::fs::read(&path).unwrap()).unwrap(),
                String::from_utf8(index).unwrap()
            );
            assert_eq!(std::fs::read(urls_path(&path)).unwrap(), urls);
            let mut back = Vec::new();
            kept_lines.for_each(|e| back.push(e.path)).unwrap();
            assert_eq!(back, kept);
        }
    }

    #[test]
    fn recorded_lines_are_written_back_as_they_were_read() {
        let dir = tempfile::tempdir().unwrap();
        let paths = ["a.html", "b/c.html", "b/d.html", "z.html"];
        let entries: Vec<PageEntry> = paths.iter().map(|p| entry(p, 40)).collect();
        let path = dir.path().join("m.json");
        Manifest::new(5, "k", "https://x.org/", Vec::new(), entries.clone())
            .write(&path)
            .unwrap();
        let (_, recorded) = Manifest::open(&path).unwrap().unwrap();
        // The third page's file changed in size, not in content: its entry is written anew.
        let mut expected = entries.clone();
        expected[2].size = 9;
        let new = entry("b/cc.html", 10);
        for spooled in [true, false] {
            let spool = || spooled.then(|| Spool::create(&dir.path().join("m.json")).unwrap());
            let (mut kept, mut processed) = (PageLines::new(spool()), PageLines::new(spool()));
            kept.take_urls_from(recorded.url_file().unwrap().clone());
            for (i, r) in recorded.read().map(Result::unwrap).enumerate() {
                if i == 2 {
                    kept.push(PageEntry {
                        size: 9,
                        ..r.into_entry()
                    });
                } else {
                    kept.push_recorded(r);
                }
            }
            let write = |lines: &[&PageLines]| {
                let mut m = Manifest::new(5, "k", "https://x.org/", Vec::new(), Vec::new());
                m.checksum.clear();
                let out = dir.path().join("out.json");
                m.write_with(&out, lines).unwrap();
                let urls = std::fs::read(urls_path(&out)).unwrap();
                (std::fs::read(&out).unwrap(), urls)
            };
            let whole =
                |pages| Manifest::new(5, "k", "https://x.org/", Vec::new(), pages).to_files();
            // Read back, each kept entry has its list, from the URL file.
            let mut lists = Vec::new();
            kept.for_each(|e| lists.push(e.urls.get().unwrap().into_owned()))
                .unwrap();
            let originals: Vec<String> = (entries.iter())
                .map(|e| e.urls.get().unwrap().into_owned())
                .collect();
            assert_eq!(lists, originals);
            // Alone (their paths not read back), and merged with a run's lines.
            assert_eq!(write(&[&kept, &processed]), whole(expected.clone()));
            processed.push(new.clone());
            let mut merged = expected.clone();
            merged.insert(2, new.clone());
            assert_eq!(write(&[&kept, &processed]), whole(merged));
        }
    }

    #[test]
    fn an_entry_out_of_order_keeps_the_manifest_from_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = PageLines::new(Spool::create(&dir.path().join("m.json")));
        lines.push(entry("b.html", 10));
        lines.push(entry("a.html", 10));
        let m = Manifest::new(5, "k", "https://x.org/", Vec::new(), Vec::new());
        let error = m
            .write_with(&dir.path().join("out.json"), &[&lines])
            .unwrap_err();
        assert!(error.to_string().contains("out of order"), "{error}");
        assert!(!dir.path().join("out.json").exists());
    }

    #[test]
    fn line_paths_are_read_back_whatever_they_hold() {
        for path in ["a.html", "a/\"urls\":[/b.html", "é/,\"urls\":.html", "\\"] {
            let mut line = Vec::new();
            entry(path, 9).write_to(&mut line).unwrap();
            assert_eq!(line_path(&line).unwrap(), path);
        }
    }
}
