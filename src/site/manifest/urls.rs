//! The URL file of a manifest (format version 6): each page's URL list on a line of its own,
//! `{"path":…,"urls":[…]}`, in the manifest's page order, beside the manifest as `NAME.urls`.
//! The manifest records its line count, size and SHA-256.
//!
//! URL lists are nine tenths of a manifest's bytes, and `resign` needs them only for the pages
//! it re-signs. Out of the file that every run reads and writes, a run that re-signs nothing
//! leaves them where they are, unread: at a million pages that is 1.3 GB not read, hashed and
//! written again. A run that re-signs some pages copies the others' lines from the old file as
//! they are, checking its checksum on the way.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::site::manifest::spool::Reader;
use crate::site::manifest::{ManifestError, PageEntry, Spool, UrlsJson};

/// The key before a page's URL list, in a page line that holds it and in a URL file's line.
pub(super) const URLS_FIELD: &str = ",\"urls\":";
/// [`URLS_FIELD`], as bytes.
const URLS_KEY: &[u8] = URLS_FIELD.as_bytes();
/// The key after a page line's path.
const SHA_KEY: &[u8] = b",\"sha256\":";

/// Where the URL file of the manifest at `manifest` is: `NAME.urls` beside it.
pub fn urls_path(manifest: &Path) -> PathBuf {
    let mut name = manifest.file_name().unwrap_or_default().to_owned();
    name.push(".urls");
    manifest.with_file_name(name)
}

/// What a manifest records of its URL file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlFileRecord {
    /// How many lines: one per page.
    pub lines: u64,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 (hex) of its bytes.
    pub sha256: String,
}

/// The URL file of a manifest being read, open from when the manifest was (a later run renames
/// another file over it, which leaves this one readable).
#[derive(Debug, Clone)]
pub struct UrlFile {
    path: PathBuf,
    file: Arc<Spool>,
    record: UrlFileRecord,
}

impl UrlFile {
    /// Opens the URL file at `path` that a manifest records as `record`; an error when it is
    /// missing or has another size (a run stopped between writing it and its manifest, or a
    /// hand edit). Its content is checked by whoever reads it.
    pub(super) fn open(path: &Path, record: &UrlFileRecord) -> Result<UrlFile, ManifestError> {
        let problem = |why: String| ManifestError::UrlFile {
            path: path.to_owned(),
            why,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(problem("is missing".into()));
            }
            Err(e) => return Err(problem(format!("cannot be read ({e})"))),
        };
        let size = (file.metadata()).map_err(|e| problem(format!("cannot be read ({e})")))?;
        if size.len() != record.size {
            return Err(problem(format!(
                "is {} bytes, and the manifest records {} (a run was stopped between writing the two, or it was changed by hand)",
                size.len(),
                record.size
            )));
        }
        let file = Spool::reading(file).map_err(|e| problem(format!("cannot be read ({e})")))?;
        Ok(UrlFile {
            path: path.to_owned(),
            file: Arc::new(file),
            record: record.clone(),
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What its manifest records of it.
    pub fn record(&self) -> &UrlFileRecord {
        &self.record
    }

    /// Whether it still has the size and modification time it had when it was opened.
    pub(super) fn still_as_opened(&self) -> io::Result<()> {
        self.file.still_as_opened()
    }

    /// Its lines, read in order.
    pub(super) fn lines(&self) -> UrlLines<'_> {
        UrlLines {
            file: self,
            reader: BufReader::with_capacity(1 << 20, self.file.reader_of(0..self.record.size)),
            hasher: Sha256::new(),
            line: Vec::with_capacity(4096),
            at: 0,
            held: false,
            count: 0,
        }
    }
}

/// The lines of a [`UrlFile`], read in order and hashed.
pub(super) struct UrlLines<'a> {
    file: &'a UrlFile,
    reader: BufReader<Reader<'a>>,
    hasher: Sha256,
    /// The line last read, with its newline.
    line: Vec<u8>,
    /// Where the next line starts.
    at: u64,
    /// Whether `line` is read and not yet taken.
    held: bool,
    /// Lines read.
    count: u64,
}

impl UrlLines<'_> {
    /// The line (without its newline) of the page whose line starts with `prefix`
    /// (`{"path":"…"`), and where in the file its list is; with `skip`, after the lines of
    /// pages before it, which are passed over.
    pub(super) fn find(&mut self, prefix: &[u8], skip: bool) -> io::Result<(&[u8], u64)> {
        loop {
            if !self.held {
                self.line.clear();
                let n = self.reader.read_until(b'\n', &mut self.line)?;
                if n == 0 || self.line.last() != Some(&b'\n') {
                    return Err(self.not_held(prefix));
                }
                self.hasher.update(&self.line);
                self.at += n as u64;
                self.count += 1;
                self.held = true;
            }
            let end = self.line.len() - 1;
            let list = (self.line[..end].strip_prefix(prefix))
                .and_then(|rest| rest.strip_prefix(URLS_KEY))
                .filter(|list| list.starts_with(b"[") && list.ends_with(b"]}"))
                .map(<[u8]>::len);
            if let Some(list) = list {
                self.held = false;
                let start = self.at - 1 - list as u64;
                return Ok((&self.line[..end], start));
            }
            if !skip {
                return Err(self.not_held(prefix));
            }
            self.held = false;
        }
    }

    /// The URL list (JSON text) of the page whose line (manifest line or run's line) is
    /// `line`, from its line of the file; with `skip`, after the lines of pages before it.
    pub(super) fn list_for(&mut self, line: &[u8], skip: bool) -> io::Result<&str> {
        let prefix = path_prefix(line)?;
        let (url_line, _) = self.find(prefix, skip)?;
        std::str::from_utf8(list_of(url_line, prefix)).map_err(io::Error::other)
    }

    /// The path of the file.
    pub(super) fn path(&self) -> &Path {
        &self.file.path
    }

    fn not_held(&self, prefix: &[u8]) -> io::Error {
        io::Error::other(format!(
            "does not hold the URL list of {} where the manifest puts it",
            String::from_utf8_lossy(prefix.strip_prefix(b"{\"path\":").unwrap_or(prefix))
        ))
    }

    /// Reads the lines left and checks that the file is the one its manifest records.
    pub(super) fn finish(mut self) -> io::Result<()> {
        loop {
            self.line.clear();
            let n = self.reader.read_until(b'\n', &mut self.line)?;
            if n == 0 {
                break;
            }
            self.hasher.update(&self.line);
            self.at += n as u64;
            self.count += 1;
        }
        let record = &self.file.record;
        if self.at != record.size
            || self.count != record.lines
            || hex::encode(self.hasher.finalize()) != record.sha256
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "is not the one the manifest records (its checksum differs: it was changed by hand)",
            ));
        }
        self.file.still_as_opened()
    }
}

/// Reads the URL list of each of `pages` (a loaded manifest's, in its order) from `file`, each
/// left there, and checks the file.
pub(super) fn read_url_lists(file: &UrlFile, pages: &mut [PageEntry]) -> Result<(), ManifestError> {
    let problem = |e: io::Error| ManifestError::UrlFile {
        path: file.path.clone(),
        why: e.to_string(),
    };
    let mut lines = file.lines();
    let mut prefix = Vec::with_capacity(256);
    for page in pages {
        prefix.clear();
        prefix.extend_from_slice(b"{\"path\":");
        serde_json::to_writer(&mut prefix, &page.path)
            .map_err(io::Error::other)
            .map_err(problem)?;
        let (line, start) = lines.find(&prefix, false).map_err(problem)?;
        let len = line.len() - prefix.len() - URLS_KEY.len() - 1;
        page.urls = UrlsJson::in_file(&file.file, start, len);
    }
    lines.finish().map_err(problem)
}

/// The list of the URL file line `line` (without its newline) that [`UrlLines::find`] gave for
/// `prefix`.
fn list_of<'a>(line: &'a [u8], prefix: &[u8]) -> &'a [u8] {
    &line[prefix.len() + URLS_KEY.len()..line.len() - 1]
}

/// The start of a page line up to the end of its path: `{"path":"…"`.
fn path_prefix(line: &[u8]) -> io::Result<&[u8]> {
    // Strings are JSON-escaped: the first `,"sha256":` follows the path.
    memchr::memmem::find(line, SHA_KEY)
        .map(|at| &line[..at])
        .ok_or_else(|| io::Error::other("a page line has no sha256"))
}

/// Where the URL lists of a manifest being written go.
pub(super) enum UrlsOut<'a> {
    /// To a new URL file, hashed and counted as they are written.
    Writing {
        out: &'a mut dyn Write,
        hasher: Sha256,
        size: u64,
        lines: u64,
    },
    /// Nowhere: every page is kept as it was and the URL file, recorded as this, stays.
    Kept(UrlFileRecord),
}

impl<'a> UrlsOut<'a> {
    /// Lists written to `out`.
    pub(super) fn writing(out: &'a mut dyn Write) -> UrlsOut<'a> {
        UrlsOut::Writing {
            out,
            hasher: Sha256::new(),
            size: 0,
            lines: 0,
        }
    }

    /// Whether the lists are written (not kept).
    pub(super) fn is_writing(&self) -> bool {
        matches!(self, UrlsOut::Writing { .. })
    }

    /// Writes the page line `line` to the manifest (`index`) without its URL list, and the
    /// list to the URL file: the line's own, or, for a line without one (a page kept as it
    /// was), its line of the old URL file (`old`).
    pub(super) fn put(
        &mut self,
        line: &[u8],
        old: Option<&mut UrlLines<'_>>,
        index: &mut impl Write,
    ) -> io::Result<()> {
        let key = memchr::memmem::find(line, URLS_KEY);
        match key {
            Some(key) => {
                index.write_all(&line[..key])?;
                index.write_all(b"}")?;
            }
            None => index.write_all(line)?,
        }
        if !self.is_writing() {
            return match key {
                None => Ok(()),
                Some(_) => Err(io::Error::other("a re-signed page's URL list has no file")),
            };
        }
        let prefix = path_prefix(line)?;
        match (key, old) {
            (Some(key), _) => self.emit(&[prefix, &line[key..], b"\n"]),
            (None, Some(old)) => {
                let (old_line, _) = old.find(prefix, true)?;
                self.emit(&[old_line, b"\n"])
            }
            (None, None) => Err(io::Error::other(
                "a kept page's URL list has no URL file to come from",
            )),
        }
    }

    fn emit(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let UrlsOut::Writing {
            out,
            hasher,
            size,
            lines,
        } = self
        else {
            return Ok(());
        };
        for part in parts {
            out.write_all(part)?;
            hasher.update(part);
            *size += part.len() as u64;
        }
        *lines += 1;
        Ok(())
    }

    /// What the manifest records of the URL file, once every list is written.
    pub(super) fn record(&self) -> UrlFileRecord {
        match self {
            UrlsOut::Writing {
                hasher,
                size,
                lines,
                ..
            } => UrlFileRecord {
                lines: *lines,
                size: *size,
                sha256: hex::encode(hasher.clone().finalize()),
            },
            UrlsOut::Kept(record) => record.clone(),
        }
    }
}
