//! The manifest's bytes, written and read by hand rather than by a generic serializer, because
//! both directions depend on the exact layout: one compact JSON line per folder and per page,
//! fields in a fixed order, the URL file's record and the checksum last. Writing splits each
//! page line of a run into its manifest line and its URL file line ([`UrlsOut`]); loading reads
//! the file a line at a time, hashes the bytes for the checksum, and parses each page line (or,
//! for [`Manifest::open`], leaves the page lines unread, their part of the hash to their reader).
//! A page line of version 5 holds its URL list, which stays in the file until asked for.
//! `serde_json` still writes and reads every JSON value, so escaping is never ours.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::site::manifest::lines::{write_end, write_merged, write_separator};
use crate::site::manifest::urls::URLS_FIELD;
use crate::site::manifest::{
    ExpiryRecord, FolderEntry, Manifest, ManifestError, PageEntry, PageLines, RefreshEntry,
    ShardRecord, Spool, UrlFileRecord, UrlsJson, UrlsOut,
};

/// Value of the `format` field.
pub const FORMAT: &str = "rendorix-manifest";
/// Value of the `version` field. Version 2 added `folders`; version 3 records a page's `exp` and
/// `kid` once instead of with each URL, and each URL as a short array (less than half the size);
/// version 4 added `refresh`; version 5 `scheme`, `expiry`, each page's `due`, and a URL's own
/// `exp`; version 6 moved the URL lists to the URL file (`urls`).
pub const VERSION: u32 = 6;
/// The version before, which is still read (its pages hold their URL lists) and written as
/// [`VERSION`] by the next run.
pub const PREVIOUS_VERSION: u32 = 5;

pub(super) const CHECKSUM_FIELD: &str = ",\n  \"checksum\": \"";
/// The start of the checksum's line.
const CHECKSUM_LINE: &str = "  \"checksum\": \"";
const FOLDERS_FIELD: &str = "\n  \"folders\": [";
const PAGES_FIELD: &str = "\n  \"pages\": [";
/// The field after the pages that records the URL file.
const URL_FILE_FIELD: &str = ",\n  \"urls\": ";

/// The fields of a page line before `"urls"`, in the order they are written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryHead<'a> {
    #[serde(borrow)]
    path: std::borrow::Cow<'a, str>,
    sha256: &'a str,
    size: u64,
    mtime_ns: u64,
    exp: Option<u64>,
    due: Option<u64>,
    #[serde(borrow)]
    kid: Option<std::borrow::Cow<'a, str>>,
}

impl PageEntry {
    /// Writes the entry as one JSON object: the fields, then the URL list as it is (the line of
    /// a run's page, which the manifest's writer splits into its page line and its URL file's
    /// line); without the list when it was left unread in the URL file.
    pub(super) fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let head = EntryHead {
            path: self.path.as_str().into(),
            sha256: &self.sha256,
            size: self.size,
            mtime_ns: self.mtime_ns,
            exp: self.exp,
            due: self.due,
            kid: self.kid.as_deref().map(Into::into),
        };
        let head = serde_json::to_string(&head).expect("a page entry serializes");
        if self.urls.is_unread() {
            return out.write_all(head.as_bytes());
        }
        out.write_all(&head.as_bytes()[..head.len() - 1])?; // all but its '}'
        out.write_all(URLS_FIELD.as_bytes())?;
        out.write_all(self.urls.get()?.as_bytes())?;
        out.write_all(b"}")
    }

    /// Parses one page line of a manifest file (without indentation and trailing comma),
    /// which starts at byte `at` of the file: the head now, the URL list left in the file
    /// (`file`) until asked for.
    fn parse_line(line: &str, at: u64, file: &Arc<Spool>) -> Option<PageEntry> {
        let (entry, urls) = PageEntry::parse_head(line)?;
        Some(match urls {
            Some(urls) => PageEntry {
                urls: UrlsJson::in_file(file, at + urls.start as u64, urls.len()),
                ..entry
            },
            None => entry,
        })
    }

    /// Parses one page line (without indentation and trailing comma), its URL list copied.
    pub(super) fn parse_whole(line: &str) -> Option<PageEntry> {
        let (entry, urls) = PageEntry::parse_head(line)?;
        Some(match urls {
            Some(urls) => PageEntry {
                urls: UrlsJson::of(line[urls].to_owned()),
                ..entry
            },
            None => entry,
        })
    }

    /// Parses one page line (without indentation and trailing comma), its URL list a part of
    /// `line`, which it shares. `scratch` is for the parse, kept from line to line.
    pub(super) fn parse_shared(line: &Arc<str>, scratch: &mut String) -> Option<PageEntry> {
        let (entry, urls) = PageEntry::parse_head_with(line, scratch)?;
        Some(match urls {
            Some(urls) => PageEntry {
                urls: UrlsJson::part_of(line, urls),
                ..entry
            },
            None => entry,
        })
    }

    /// The entry of a page line, its URL list left unread, and where the list is in the line
    /// when it holds one (version 5; a version 6 line leaves it in the URL file).
    fn parse_head(line: &str) -> Option<(PageEntry, Option<Range<usize>>)> {
        PageEntry::parse_head_with(line, &mut String::new())
    }

    /// [`PageEntry::parse_head`], with `scratch` for the head's JSON text.
    fn parse_head_with(
        line: &str,
        scratch: &mut String,
    ) -> Option<(PageEntry, Option<Range<usize>>)> {
        // Strings in the head are JSON-escaped, so the first `,"urls":` is the key. (`memmem`:
        // `str::find`'s searcher took 39% of the time reading a manifest's lines.)
        let (head, urls) = match memchr::memmem::find(line.as_bytes(), URLS_FIELD.as_bytes()) {
            Some(key) => {
                let urls = key + URLS_FIELD.len()..line.len() - 1;
                if !line.ends_with("]}") || !line[urls.clone()].starts_with('[') {
                    return None;
                }
                scratch.clear();
                scratch.push_str(&line[..key]);
                scratch.push('}');
                (scratch.as_str(), Some(urls))
            }
            None => (line, None),
        };
        let head: EntryHead = serde_json::from_str(head).ok()?;
        let entry = PageEntry {
            path: head.path.into_owned(),
            sha256: head.sha256.to_owned(),
            size: head.size,
            mtime_ns: head.mtime_ns,
            exp: head.exp,
            due: head.due,
            kid: head.kid.map(std::borrow::Cow::into_owned),
            urls: UrlsJson::default(),
        };
        Some((entry, urls))
    }
}

/// The body of a page line as a manifest file holds it: without its indentation, trailing
/// comma and newline.
pub(super) fn page_line_body(line: &str) -> &str {
    let body = line.trim_end_matches('\n');
    body.strip_suffix(',').unwrap_or(body).trim_start()
}

/// A manifest file read line by line.
pub(super) struct Lines {
    /// The file without its page lines: its fields, with `"pages": []`.
    pub(super) skeleton: String,
    /// The page entries, their URL lists left in the file; none when they were not kept.
    pub(super) pages: Vec<PageEntry>,
    /// What the checksum was found to be, or, when the page lines were left unread, what
    /// reading them needs to find it.
    pub(super) summed: Summed,
}

/// The checksum of a manifest file's bytes, or how to finish it.
pub(super) enum Summed {
    /// SHA-256 (hex) of the bytes before the checksum field.
    Whole(String),
    /// The page lines were left unread: the hash of the bytes before them (`hasher`), where
    /// they are (`region`), and the bytes after them that the checksum covers (`after`).
    BeforePages {
        hasher: Sha256,
        region: Range<u64>,
        after: Vec<u8>,
    },
}

/// The end of the page list, after the newline that ends the last page line.
const PAGES_END: &str = "  ]";

/// Reads the manifest `file` line by line, holding only the page heads: each URL list stays in
/// the file (`spool`, which reads `file`) until asked for, so a manifest of a million pages
/// (1.4 GB) is never in memory whole. Without `keep`, the page lines are not read at all: the
/// fields after them are read from the end of the file, and the checksum is left to whoever
/// reads the page lines ([`Summed::BeforePages`]). `Ok(None)` when the lines are not laid out
/// as rendorix writes them.
pub(super) fn read_lines(file: &File, spool: &Arc<Spool>, keep: bool) -> io::Result<Option<Lines>> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let (mut skeleton, mut pages) = (String::new(), Vec::new());
    let (mut in_pages, mut checksum_seen) = (false, false);
    // The line before, hashed once the next one says whether it ends before the checksum.
    let mut before: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut at = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            return Ok(None);
        };
        let body = text.trim_end_matches('\n');
        let page_line = in_pages && body.starts_with("    {");
        if page_line && !keep {
            // Everything before this line is hashed (the line before was not the last).
            hasher.update(&before);
            return Ok(after_pages(file, at)?.map(|(end, rest)| {
                // The checksum covers what follows the lines up to its own field.
                let covered = rest.rfind(CHECKSUM_FIELD).unwrap_or(0);
                let after = rest.as_bytes()[..covered].to_vec();
                skeleton.push_str(&rest);
                Lines {
                    skeleton,
                    pages,
                    summed: Summed::BeforePages {
                        hasher,
                        region: at..end,
                        after,
                    },
                }
            }));
        }
        if !checksum_seen {
            if text.starts_with(CHECKSUM_LINE) {
                // CHECKSUM_FIELD begins with the `,` and newline that end the line before.
                let Some(kept) = before.strip_suffix(b",\n") else {
                    return Ok(None);
                };
                hasher.update(kept);
                checksum_seen = true;
            } else {
                hasher.update(&before);
            }
            before.clear();
            before.extend_from_slice(&line);
        }
        if page_line {
            let entry = page_line_body(body);
            let start = at + (body.len() - body.trim_start().len()) as u64;
            match PageEntry::parse_line(entry, start, spool) {
                Some(page) => pages.push(page),
                None => return Ok(None),
            }
        } else {
            in_pages = body == PAGES_FIELD.trim_start_matches('\n');
            skeleton.push_str(text);
        }
        at += n as u64;
    }
    Ok(checksum_seen.then(|| Lines {
        skeleton,
        pages,
        summed: Summed::Whole(hex::encode(hasher.finalize())),
    }))
}

/// Where the page lines of the manifest `file`, which start at `start`, end, and the file's
/// lines after them (from the list's end to the file's), read from the end of the file.
/// `None` when its end is not laid out as rendorix writes it.
fn after_pages(file: &File, start: u64) -> io::Result<Option<(u64, String)>> {
    // The end of the list, the URL file's record, the checksum field and the closing brace:
    // under three hundred bytes.
    let len = file.metadata()?.len();
    let from = len.saturating_sub(1024).max(start);
    let mut tail = vec![0; usize::try_from(len - from).unwrap_or(0)];
    let mut file = file;
    file.seek(io::SeekFrom::Start(from))?;
    file.read_exact(&mut tail)?;
    let Ok(tail) = String::from_utf8(tail) else {
        return Ok(None);
    };
    // No page line holds a newline (JSON escapes it), so this is where the last one ends: the
    // list's end, then the URL file's record (version 6) or the checksum (version 5).
    let v6 = format!("\n{PAGES_END}{URL_FILE_FIELD}");
    let v5 = format!("\n{PAGES_END}{CHECKSUM_FIELD}");
    Ok(tail.rfind(&v6).or_else(|| tail.rfind(&v5)).map(|at| {
        let end = from + at as u64 + 1;
        (end, tail[at + 1..].to_owned())
    }))
}

impl Manifest {
    /// The manifest file's bytes: the fields, one line per folder and per page, the URL file's
    /// record, and the checksum of all before it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_files().0
    }

    /// The bytes of the manifest file and of its URL file.
    pub fn to_files(&self) -> (Vec<u8>, Vec<u8>) {
        let (mut out, mut urls_bytes) = (Vec::new(), Vec::new());
        let mut urls = UrlsOut::writing(&mut urls_bytes);
        self.write_body(&mut out, &[], &mut urls)
            .expect("writing to memory");
        drop(urls);
        let checksum = hex::encode(Sha256::digest(&out));
        out.extend_from_slice(tail(&checksum).as_bytes());
        (out, urls_bytes)
    }

    /// Writes everything before the checksum, with the page lines of `lines` merged into the
    /// manifest's own, their URL lists to `urls`.
    pub(super) fn write_body(
        &self,
        out: &mut impl Write,
        lines: &[&PageLines],
        urls: &mut UrlsOut<'_>,
    ) -> io::Result<()> {
        let string = |s: &str| serde_json::to_string(s).expect("a string serializes");
        write!(
            out,
            "{{\n  \"format\": {},\n  \"version\": {},\n  \"generated_at\": {},\n  \"kid\": {},\n  \"base_url\": {},\n  \"refresh\": {},\n  \"scheme\": {},\n  \"expiry\": {},",
            string(&self.format),
            self.version,
            self.generated_at,
            string(&self.kid),
            string(&self.base_url),
            serde_json::to_string(&self.refresh).expect("the refresh entry serializes"),
            string(&self.scheme),
            serde_json::to_string(&self.expiry).expect("the expiry records serialize")
        )?;
        if let Some(shard) = &self.shard {
            // Only in a part: a manifest has no such line, so merged parts give its bytes.
            let record = serde_json::to_string(shard).expect("the shard record serializes");
            write!(out, "\n  \"shard\": {record},")?;
        }
        out.write_all(FOLDERS_FIELD.as_bytes())?;
        for (i, folder) in self.folders.iter().enumerate() {
            write_separator(out, i)?;
            serde_json::to_writer(&mut *out, folder).map_err(io::Error::other)?;
        }
        write_end(out, self.folders.len())?;
        out.write_all(b",")?;
        out.write_all(PAGES_FIELD.as_bytes())?;
        let written = write_merged(&self.pages, lines, out, urls)?;
        write_end(out, written)?;
        let record = serde_json::to_string(&urls.record()).expect("the record serializes");
        write!(out, "{URL_FILE_FIELD}{record}")
    }
}

/// The manifest's fields without its pages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Head {
    pub(super) format: String,
    pub(super) version: u32,
    pub(super) generated_at: u64,
    pub(super) kid: String,
    pub(super) base_url: String,
    pub(super) refresh: Option<RefreshEntry>,
    pub(super) scheme: String,
    pub(super) expiry: Vec<ExpiryRecord>,
    #[serde(default)]
    pub(super) shard: Option<ShardRecord>,
    pub(super) folders: Vec<FolderEntry>,
    #[allow(dead_code)] // always [] in the skeleton
    pub(super) pages: [(); 0],
    #[serde(default)]
    pub(super) urls: Option<UrlFileRecord>,
    pub(super) checksum: String,
}

/// The end of the file, after the body whose SHA-256 is `checksum`.
pub(super) fn tail(checksum: &str) -> String {
    format!("{CHECKSUM_FIELD}{checksum}\"\n}}\n")
}

/// Why `bytes` did not load as a manifest, in the user's terms.
pub(super) fn why_unreadable(bytes: &[u8]) -> ManifestError {
    match serde_json::from_slice::<Manifest>(bytes) {
        Err(e) => why_not_a_manifest(bytes, e),
        // Every manifest rendorix writes has its layout: this one was reformatted.
        Ok(_) => ManifestError::Reformatted,
    }
}

fn why_not_a_manifest(bytes: &[u8], error: serde_json::Error) -> ManifestError {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u64>,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Err(e) => ManifestError::NotJson(e),
        Ok(Head { format, .. }) if format.as_deref() != Some(FORMAT) => ManifestError::NotAManifest,
        Ok(Head {
            version: Some(v), ..
        }) if v != u64::from(VERSION) && v != u64::from(PREVIOUS_VERSION) => {
            ManifestError::Version(v)
        }
        Ok(_) => ManifestError::Fields(error),
    }
}
