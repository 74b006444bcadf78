//! The page lines of a manifest being read, one at a time: `resign` decides page by page as it
//! reads them, so a million pages' entries are never in memory at once, and the lines are read
//! once, their part of the checksum checked on the way. Their URL lists stay in the URL file
//! unless asked for ([`RecordedPages::read_with_urls`]).

use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::site::manifest::format::page_line_body;
use crate::site::manifest::spool::Reader;
use crate::site::manifest::urls::{URLS_FIELD, UrlLines};
use crate::site::manifest::{ManifestError, PageEntry, Spool, UrlFile};

/// The page lines of a manifest opened with [`super::Manifest::open`], left in its file.
#[derive(Debug, Clone)]
pub struct RecordedPages {
    file: Arc<Spool>,
    /// Where the lines are in the file.
    region: Range<u64>,
    /// What checking the checksum still needs: the hash of the bytes before the lines, the
    /// bytes after them that it covers, and the checksum the file gives. `None` when there is
    /// nothing left to check.
    check: Option<(Sha256, Vec<u8>, String)>,
    /// The URL file that holds the pages' lists (version 6).
    url_file: Option<UrlFile>,
}

impl RecordedPages {
    /// No page lines, the checksum checked.
    pub(super) fn checked(file: Arc<Spool>) -> RecordedPages {
        RecordedPages {
            file,
            region: 0..0,
            check: None,
            url_file: None,
        }
    }

    /// The page lines at `region` of `file`, whose checksum `check` finishes (see
    /// [`RecordedPages::check`]).
    pub(super) fn unchecked(
        file: Arc<Spool>,
        region: Range<u64>,
        check: (Sha256, Vec<u8>, String),
    ) -> RecordedPages {
        RecordedPages {
            file,
            region,
            check: Some(check),
            url_file: None,
        }
    }

    /// Takes the pages' URL lists from `file`.
    pub(super) fn take_urls_from(&mut self, file: UrlFile) {
        self.url_file = Some(file);
    }

    /// The URL file that holds the pages' lists; `None` for a manifest of version 5, whose page
    /// lines hold them.
    pub fn url_file(&self) -> Option<&UrlFile> {
        self.url_file.as_ref()
    }

    /// The entries in the file's order (by path), each with its line; their URL lists left
    /// unread in the URL file (version 6) or parts of their lines (version 5). The last item is
    /// an error when the lines are not the ones the checksum vouches for (edited by hand, or the
    /// file written over since it was opened): nothing read may be acted on before then.
    pub fn read(&self) -> PageReader<'_> {
        PageReader {
            reader: BufReader::with_capacity(1 << 20, self.file.reader_of(self.region.clone())),
            pages: self,
            hasher: self.check.as_ref().map(|(hasher, ..)| hasher.clone()),
            line: Vec::with_capacity(4096),
            scratch: String::new(),
            urls: None,
            done: false,
        }
    }

    /// [`RecordedPages::read`], each entry with its URL list, read from the URL file in step
    /// (whose checksum is checked at the end too); each line then holds its list.
    pub fn read_with_urls(&self) -> PageReader<'_> {
        PageReader {
            urls: self.url_file.as_ref().map(UrlFile::lines),
            ..self.read()
        }
    }
}

/// A page's entry as a manifest's line records it, with the line: a page kept as it was is
/// written back as that line, not formatted again (most of a `resign` with nothing due).
#[derive(Debug, Clone)]
pub struct Recorded {
    entry: PageEntry,
    /// The line, without its indentation, trailing comma and newline. The entry's URL list is
    /// a part of it.
    line: Arc<str>,
}

impl Recorded {
    /// The entry.
    pub fn entry(&self) -> &PageEntry {
        &self.entry
    }

    /// The entry, to change it: its line no longer goes with it.
    pub fn into_entry(self) -> PageEntry {
        self.entry
    }

    /// The line the entry was read from.
    pub(super) fn line(&self) -> &str {
        &self.line
    }
}

/// The entries of [`RecordedPages`], read in turn.
pub struct PageReader<'a> {
    reader: BufReader<Reader<'a>>,
    pages: &'a RecordedPages,
    /// The checksum's hash so far.
    hasher: Option<Sha256>,
    line: Vec<u8>,
    /// For parsing each line's head.
    scratch: String,
    /// The URL file, read in step.
    urls: Option<UrlLines<'a>>,
    done: bool,
}

impl PageReader<'_> {
    /// The next line's entry, `None` at the end.
    fn read_one(&mut self) -> Result<Option<Recorded>, ManifestError> {
        if self.read_line()? == 0 {
            self.finish()?;
            return Ok(None);
        }
        let mut line = (std::str::from_utf8(&self.line).ok()).map(|t| Arc::from(page_line_body(t)));
        if let (Some(urls), Some(text)) = (&mut self.urls, &line) {
            line = Some(with_list(text, urls).map_err(|e| self.pages.url_file_error(&e))?);
        }
        let entry =
            (line.as_ref()).and_then(|line| PageEntry::parse_shared(line, &mut self.scratch));
        if let (Some(entry), Some(line)) = (entry, line) {
            return Ok(Some(Recorded { entry, line }));
        }
        // Edited by hand, most likely: the checksum says so once the rest is hashed.
        while self.read_line()? > 0 {}
        self.finish()?;
        Err(ManifestError::Layout)
    }

    /// Reads the next line into `line` and hashes it; its length, 0 at the end.
    fn read_line(&mut self) -> Result<usize, ManifestError> {
        self.line.clear();
        let n =
            (self.reader.read_until(b'\n', &mut self.line)).map_err(ManifestError::Unreadable)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&self.line);
        }
        Ok(n)
    }

    /// Checks, once every line is read, that they are the ones the checksum vouches for and
    /// that the file was not written over meanwhile.
    fn finish(&mut self) -> Result<(), ManifestError> {
        if let Some(urls) = self.urls.take() {
            urls.finish().map_err(|e| self.pages.url_file_error(&e))?;
        }
        if let (Some(hasher), Some((_, after, checksum))) = (self.hasher.take(), &self.pages.check)
        {
            let mut hasher = hasher;
            hasher.update(after);
            if hex::encode(hasher.finalize()) != *checksum {
                return Err(ManifestError::ChecksumMismatch);
            }
        }
        (self.pages.file.still_as_opened()).map_err(ManifestError::Unreadable)
    }
}

/// The page line `line` (without its list) with its list from `urls` (the URL file being read
/// in step).
fn with_list(line: &str, urls: &mut UrlLines<'_>) -> std::io::Result<Arc<str>> {
    let list = urls.list_for(line.as_bytes(), false)?;
    let head = line.strip_suffix('}').unwrap_or(line);
    Ok(Arc::from(format!("{head}{URLS_FIELD}{list}}}")))
}

impl RecordedPages {
    fn url_file_error(&self, e: &std::io::Error) -> ManifestError {
        ManifestError::UrlFile {
            path: (self.url_file.as_ref()).map_or_else(Default::default, |f| f.path().to_owned()),
            why: e.to_string(),
        }
    }
}

impl Iterator for PageReader<'_> {
    type Item = Result<Recorded, ManifestError>;

    fn next(&mut self) -> Option<Result<Recorded, ManifestError>> {
        if self.done {
            return None;
        }
        let read = self.read_one();
        self.done = !matches!(read, Ok(Some(_)));
        read.transpose()
    }
}
