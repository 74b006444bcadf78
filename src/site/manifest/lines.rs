//! The page lines of a run's processed pages, waiting in a file until the manifest is written.
//!
//! A run processes its pages in the manifest's order (see
//! [`crate::site::discover::slash_order`]) and hands over each batch's entries as soon as the
//! batch is done; their lines go straight to a [`Spool`] and the manifest copies them from
//! there, merged with the entries a `resign` kept. At a million pages the entries' heads alone
//! would be ~300 MB of memory; the spool holds them on disk (the page cache, mostly) instead.
//! Where no spool can be made, they stay in memory.

use std::io::{self, BufRead, BufReader, Write};

use crate::site::manifest::format::write_separator;
use crate::site::manifest::{PageEntry, Spool};

/// The entries of a run's processed pages, in manifest order: lines in a spool, or entries in
/// memory where there is none.
#[derive(Debug, Default)]
pub struct PageLines {
    spool: Option<Spool>,
    /// The entries, where there is no spool.
    held: Vec<PageEntry>,
    /// How many entries.
    count: usize,
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

    /// Adds `entry`, which must not sort before the one added last.
    pub fn push(&mut self, entry: PageEntry) {
        if self.count > 0 && entry.path < self.last {
            // A bug, not the site's doing: the manifest would be out of order, so write none.
            self.error.get_or_insert_with(|| {
                io::Error::other(format!("page {:?} came out of order", entry.path))
            });
        }
        self.count += 1;
        self.last.clone_from(&entry.path);
        match &self.spool {
            None => self.held.push(entry),
            Some(spool) => {
                let mut line = Vec::with_capacity(256);
                let kept = (entry.write_to(&mut line))
                    .and_then(|()| line.write_all(b"\n"))
                    .and_then(|()| spool.append(&line));
                if let Err(e) = kept {
                    self.error.get_or_insert(e);
                }
            }
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

    /// Writes the page lines of `kept` (sorted by path) and of these entries, merged in path
    /// order, each after its separator ([`write_separator`]); how many were written.
    pub(super) fn write_merged(
        &self,
        kept: &[PageEntry],
        out: &mut impl Write,
    ) -> io::Result<usize> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let mut merged = Merged {
            kept: kept.iter().peekable(),
            out,
            written: 0,
        };
        match &self.spool {
            None => {
                for entry in &self.held {
                    merged.kept_up_to(Some(&entry.path))?;
                    merged.line(|out| entry.write_to(out))?;
                }
            }
            Some(spool) => {
                let mut reader = BufReader::with_capacity(1 << 20, spool.reader());
                let mut line = Vec::with_capacity(4096);
                for _ in 0..self.count {
                    line.clear();
                    reader.read_until(b'\n', &mut line)?;
                    let Some(body) = line.strip_suffix(b"\n") else {
                        return Err(io::Error::other("a page line was cut short in the spool"));
                    };
                    merged.kept_up_to(Some(&line_path(body)?))?;
                    merged.line(|out| out.write_all(body))?;
                }
            }
        }
        merged.kept_up_to(None)?;
        Ok(merged.written)
    }
}

/// The page lines being written: the kept entries not written yet, and how many lines are.
struct Merged<'k, W> {
    kept: std::iter::Peekable<std::slice::Iter<'k, PageEntry>>,
    out: W,
    written: usize,
}

impl<W: Write> Merged<'_, W> {
    /// Writes one line with what `write` writes.
    fn line(&mut self, write: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
        write_separator(&mut self.out, self.written)?;
        write(&mut self.out)?;
        self.written += 1;
        Ok(())
    }

    /// Writes the kept entries that sort before or with `path`; all of them with `None`.
    fn kept_up_to(&mut self, path: Option<&str>) -> io::Result<()> {
        while let Some(entry) = (self.kept).next_if(|e| path.is_none_or(|p| e.path.as_str() <= p)) {
            self.line(|out| entry.write_to(out))?;
        }
        Ok(())
    }
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
    use crate::site::manifest::{Manifest, UrlsJson};

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
    fn spooled_and_held_lines_merge_with_kept_entries_into_the_manifest_a_list_gives() {
        let dir = tempfile::tempdir().unwrap();
        let kept = vec![entry("a.html", 20), entry("c/\"q\".html", 30)];
        let processed = ["a/b.html", "b-c/d.html", "b/d.html", "z.html"];
        let whole = (kept.iter().cloned())
            .chain(processed.iter().map(|p| entry(p, 10)))
            .collect();
        let whole = Manifest::new(5, "k", "https://x.org/", Vec::new(), whole);
        for spool in [Spool::create(&dir.path().join("m.json")), None] {
            let mut lines = PageLines::new(spool);
            for p in processed {
                lines.push(entry(p, 10));
            }
            assert_eq!(lines.len(), 4);
            let mut m = Manifest::new(5, "k", "https://x.org/", Vec::new(), kept.clone());
            m.checksum.clear();
            let path = dir.path().join("out.json");
            m.write_with(&path, Some(&lines)).unwrap();
            assert_eq!(
                String::from_utf8(std::fs::read(&path).unwrap()).unwrap(),
                String::from_utf8(whole.to_bytes()).unwrap()
            );
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
            .write_with(&dir.path().join("out.json"), Some(&lines))
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
