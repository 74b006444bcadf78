//! The manifest of a run (SPEC §7): every folder with its recorded time, every page with its
//! hash and earliest `exp`, and every signed URL. It lets a later run find the pages that need
//! work without listing unchanged folders (see [`crate::folders`]) or parsing the other pages.
//!
//! Layout: the run's fields, one compact JSON line per folder, one per page (both sorted by
//! path, so a diff shows which pages changed), then a `checksum`: the SHA-256 of every byte
//! before it, which exposes hand edits that could otherwise make `resign` skip a page that needs
//! work. Two runs over the same input with the same `--now` write the same bytes. It holds no
//! secret.
//!
//! Each page records its size and modification time, so a later run can trust the recorded hash
//! without reading the page (git's index does the same); rendorix sets the modification time of
//! every page it rewrites to the run's `now`, so these fields are deterministic too.
//!
//! Most of the file is URL lists, which `resign` needs only for the pages it re-signs. So loading
//! checks the checksum, parses each page line up to its `"urls"` and keeps the list as text,
//! unparsed (the checksum vouches that rendorix wrote it); writing copies that text back.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, mpsc};

use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::rewrite::SignedOccurrence;
use crate::walk::{HashingWriter, PageReport, hex};

/// Value of the `format` field.
pub const FORMAT: &str = "rendorix-manifest";
/// Value of the `version` field. Version 2 added `folders`; version 3 records a page's `exp` and
/// `kid` once instead of with each URL, and each URL as a short array (less than half the size).
pub const VERSION: u32 = 3;

const CHECKSUM_FIELD: &str = ",\n  \"checksum\": \"";
const FOLDERS_FIELD: &str = "\n  \"folders\": [";
const PAGES_FIELD: &str = "\n  \"pages\": [";
const URLS_FIELD: &str = ",\"urls\":";

/// The whole manifest.
#[derive(Debug, Deserialize)]
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
    /// Every folder of the site, sorted by path.
    pub folders: Vec<FolderEntry>,
    /// Every page processed, sorted by path.
    pub pages: Vec<PageEntry>,
    /// SHA-256 (hex) of the file's bytes before this field.
    #[serde(default)]
    pub checksum: String,
}

/// One folder of the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderEntry {
    /// Path relative to the site folder, with `/` separators; `""` for the site folder itself.
    pub path: String,
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
    /// The `exp` of its signed URLs (a run signs every URL of a page with one `exp` and key);
    /// `null` when it has none.
    pub exp: Option<u64>,
    /// The id of the key that signed its URLs; `null` when it has none.
    pub kid: Option<String>,
    /// Its signed URLs, in page order, as JSON text: an array with, for each URL,
    /// `[original, target]`, or `[original]` when the target is the same text (see
    /// [`PageEntry::url_entries`]).
    pub urls: UrlsJson,
}

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
    #[serde(borrow)]
    kid: Option<std::borrow::Cow<'a, str>>,
}

/// A page's signed URLs as JSON text (see [`PageEntry::urls`]), parsed only when asked. Loaded
/// lists share the manifest's text instead of each holding a copy.
#[derive(Debug, Clone)]
pub struct UrlsJson {
    text: Arc<String>,
    range: Range<usize>,
}

impl UrlsJson {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.text[self.range.clone()]
    }

    fn of(json: String) -> UrlsJson {
        let range = 0..json.len();
        UrlsJson {
            text: json.into(),
            range,
        }
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
            serde_json::to_writer(json, s).expect("writing to memory")
        };
        json.push(b'[');
        for (i, s) in signed.iter().enumerate() {
            json.extend_from_slice(if i == 0 { b"[" } else { b",[" });
            string(&mut json, &s.original);
            if s.target != s.original {
                json.push(b',');
                string(&mut json, &s.target);
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
        SignedUrls {
            count: signed.len(),
            earliest_exp: signed.iter().map(|s| s.exp).min(),
            latest_exp: signed.iter().map(|s| s.exp).max(),
            kids,
            json: UrlsJson::of(String::from_utf8(json).expect("serde_json writes UTF-8")),
        }
    }
}

impl PageEntry {
    /// The entry of a processed page; `None` for a page that failed (left out, so that a later
    /// run treats it as new). A signing run gives every URL of a page one `exp` and key; a page
    /// whose URLs differ in them cannot be recorded, and is left out the same way.
    pub fn from_report(report: PageReport) -> Option<PageEntry> {
        let done = report.result.ok()?;
        let urls = done.urls;
        if urls.earliest_exp != urls.latest_exp || urls.kids.len() > 1 {
            return None;
        }
        Some(PageEntry {
            path: slash_path(&report.page.rel),
            sha256: done.sha256,
            size: done.size,
            mtime_ns: done.mtime_ns,
            exp: urls.earliest_exp,
            kid: urls.kids.into_iter().next(),
            urls: urls.json,
        })
    }

    /// The signed URLs, parsed, each with the page's `exp` and `kid`.
    pub fn url_entries(&self) -> Result<Vec<UrlEntry>, serde_json::Error> {
        let pairs: Vec<Vec<String>> = serde_json::from_str(self.urls.get())?;
        let invalid = |what: &str| <serde_json::Error as serde::de::Error>::custom(what);
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
                match (pair.next(), pair.next(), pair.next()) {
                    (Some(original), target, None) => Ok(UrlEntry {
                        target: target.unwrap_or_else(|| original.clone()),
                        original,
                        exp,
                        kid: kid.clone(),
                    }),
                    _ => Err(invalid(
                        "a URL entry is not [original] or [original, target]",
                    )),
                }
            })
            .collect()
    }

    /// Writes the entry as one JSON object: the fields, then the URL list as it is.
    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let head = EntryHead {
            path: self.path.as_str().into(),
            sha256: &self.sha256,
            size: self.size,
            mtime_ns: self.mtime_ns,
            exp: self.exp,
            kid: self.kid.as_deref().map(Into::into),
        };
        let head = serde_json::to_string(&head).expect("a page entry serializes");
        out.write_all(&head.as_bytes()[..head.len() - 1])?; // all but its '}'
        out.write_all(URLS_FIELD.as_bytes())?;
        out.write_all(self.urls.get().as_bytes())?;
        out.write_all(b"}")
    }

    /// Parses one page line of a loaded manifest (without its trailing comma). `line` is a
    /// range of `text`, which the URL list goes on sharing.
    fn parse_line(text: &Arc<String>, line: Range<usize>) -> Option<PageEntry> {
        let s = &text[line.clone()];
        // Strings in the head are JSON-escaped, so the first `,"urls":` is the key.
        let at = s.find(URLS_FIELD)?;
        let urls = line.start + at + URLS_FIELD.len()..line.end - 1;
        if !s.ends_with("]}") || !text[urls.clone()].starts_with('[') {
            return None;
        }
        let json = format!("{}}}", &s[..at]);
        let head: EntryHead = serde_json::from_str(&json).ok()?;
        Some(PageEntry {
            path: head.path.into_owned(),
            sha256: head.sha256.to_owned(),
            size: head.size,
            mtime_ns: head.mtime_ns,
            exp: head.exp,
            kid: head.kid.map(|k| k.into_owned()),
            urls: UrlsJson {
                text: text.clone(),
                range: urls,
            },
        })
    }
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
        folders.sort_by(|a, b| a.path.cmp(&b.path));
        pages.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generated_at: now,
            kid: kid.to_owned(),
            base_url: base_url.to_owned(),
            folders,
            pages,
            checksum: String::new(),
        }
    }

    /// The file's bytes: the fields, one line per folder and per page, and the checksum of all
    /// before it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_body(&mut out).expect("writing to memory");
        let checksum = hex(&Sha256::digest(&out));
        out.extend_from_slice(tail(&checksum).as_bytes());
        out
    }

    /// Writes everything before the checksum.
    fn write_body(&self, out: &mut impl Write) -> io::Result<()> {
        let string = |s: &str| serde_json::to_string(s).expect("a string serializes");
        write!(
            out,
            "{{\n  \"format\": {},\n  \"version\": {},\n  \"generated_at\": {},\n  \"kid\": {},\n  \"base_url\": {},{FOLDERS_FIELD}",
            string(&self.format),
            self.version,
            self.generated_at,
            string(&self.kid),
            string(&self.base_url)
        )?;
        write_lines(out, &self.folders, |folder, out| {
            serde_json::to_writer(out, folder).map_err(io::Error::other)
        })?;
        out.write_all(b",")?;
        out.write_all(PAGES_FIELD.as_bytes())?;
        write_lines(out, &self.pages, PageEntry::write_to)
    }

    /// Writes the manifest atomically, first removing temporary manifests that a killed run
    /// left beside it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let leftover = |file: &str| {
            file.starts_with(&format!(".{name}.")) && file.ends_with(crate::walk::TEMP_SUFFIX)
        };
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            if leftover(&entry.file_name().to_string_lossy()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        crate::walk::write_atomically_with(path, |file| {
            let checksum = write_hashed(file, |out| self.write_body(out))?;
            file.write_all(tail(&checksum).as_bytes())
        })
    }

    /// Reads the manifest at `path`: `Ok(None)` when there is none; otherwise an error that says
    /// why it cannot be trusted (unreadable, not a manifest, another version, edited by hand).
    pub fn load(path: &Path) -> Result<Option<Manifest>, String> {
        let bytes = match read_in_halves(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot be read ({e})")),
        };
        let text: Arc<String> = match String::from_utf8(bytes) {
            Ok(s) => Arc::new(s),
            Err(e) => return Err(why_unreadable(e.as_bytes())),
        };
        // The layout rendorix writes: the fields, one line per page, the checksum at the end.
        // Anything else is explained by a full parse.
        let Some(layout) = Layout::find(&text) else {
            return Err(why_unreadable(text.as_bytes()));
        };
        let head = serde_json::from_str::<Head>(&layout.skeleton(&text))
            .map_err(|_| why_unreadable(text.as_bytes()))?;
        if head.format != FORMAT {
            return Err("is not a rendorix manifest".into());
        }
        if head.version != VERSION {
            return Err(format!(
                "has format version {}, and this rendorix reads version {VERSION}",
                head.version
            ));
        }
        // Hashing 50 MB takes as long as parsing the page lines: do both at once.
        let (summed, pages) = rayon::join(
            || hex(&Sha256::digest(&text.as_bytes()[..layout.checksum_at])),
            || -> Option<Vec<PageEntry>> {
                layout
                    .lines(&text)
                    .into_par_iter()
                    .map(|line| PageEntry::parse_line(&text, line))
                    .collect()
            },
        );
        if summed != head.checksum {
            return Err("was changed by hand (its checksum does not match its content)".into());
        }
        let pages = pages.ok_or("does not have the layout rendorix writes; delete it")?;
        Ok(Some(Manifest {
            format: head.format,
            version: head.version,
            generated_at: head.generated_at,
            kid: head.kid,
            base_url: head.base_url,
            folders: head.folders,
            pages,
            checksum: head.checksum,
        }))
    }

    /// The earliest and latest `exp` over all pages.
    pub fn exp_range(&self) -> (Option<u64>, Option<u64>) {
        let first = self.pages.iter().filter_map(|p| p.exp).min();
        let last = self.pages.iter().filter_map(|p| p.exp).max();
        (first, last)
    }
}

/// The manifest's fields without its pages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    format: String,
    version: u32,
    generated_at: u64,
    kid: String,
    base_url: String,
    folders: Vec<FolderEntry>,
    #[allow(dead_code)] // always [] in the skeleton
    pages: [(); 0],
    checksum: String,
}

/// Where the parts of a manifest file are.
struct Layout {
    /// Just after `"pages": [`.
    pages_start: usize,
    /// At the `]` that ends the pages.
    pages_end: usize,
    /// At `,\n  "checksum": "`.
    checksum_at: usize,
}

impl Layout {
    fn find(text: &str) -> Option<Layout> {
        // Strings in the fields are JSON-escaped, so the first `"pages": [` is the key; the
        // checksum is in the last line but one.
        let pages_start = text.find(PAGES_FIELD)? + PAGES_FIELD.len();
        let tail = text.len().saturating_sub(CHECKSUM_FIELD.len() + 80);
        let checksum_at = text.get(tail..)?.rfind(CHECKSUM_FIELD)? + tail;
        let pages_end = text[..checksum_at].rfind(']')?;
        (pages_start <= pages_end).then_some(Layout {
            pages_start,
            pages_end,
            checksum_at,
        })
    }

    /// The file with its pages left out: `"pages": []`.
    fn skeleton(&self, text: &str) -> String {
        format!(
            "{}]{}",
            &text[..self.pages_start],
            &text[self.pages_end + 1..]
        )
    }

    /// The ranges of the page lines, without indentation and commas.
    fn lines(&self, text: &str) -> Vec<Range<usize>> {
        let mut lines = Vec::new();
        let mut at = self.pages_start;
        for line in text[self.pages_start..self.pages_end].split('\n') {
            let start = at + (line.len() - line.trim_start().len());
            let trimmed = line.trim().trim_end_matches(',');
            if !trimmed.is_empty() {
                lines.push(start..start + trimmed.len());
            }
            at += line.len() + 1;
        }
        lines
    }
}

/// Writes `items` one per line, as the elements of a JSON array whose `[` is written.
fn write_lines<W: Write, T>(
    out: &mut W,
    items: &[T],
    write: impl Fn(&T, &mut W) -> io::Result<()>,
) -> io::Result<()> {
    for (i, item) in items.iter().enumerate() {
        out.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        write(item, out)?;
    }
    out.write_all(if items.is_empty() { b"]" } else { b"\n  ]" })
}

/// The end of the file, after the body whose SHA-256 is `checksum`.
fn tail(checksum: &str) -> String {
    format!("{CHECKSUM_FIELD}{checksum}\"\n}}\n")
}

/// Size of the pieces [`write_hashed`] hands from the formatting thread to the writing one
/// (a buffered series of writes was measured faster than one huge `write()` on this machine).
const PIECE: usize = 1 << 20;

/// Writes what `body` writes to `file` and returns its hex SHA-256. A second thread hashes and
/// writes each piece while `body` formats the next: for a manifest of tens of MB each half takes
/// about as long as the other, and `resign` waits for both.
fn write_hashed(
    file: &File,
    body: impl FnOnce(&mut Pieces) -> io::Result<()>,
) -> io::Result<String> {
    std::thread::scope(|scope| {
        let (full, full_rx) = mpsc::sync_channel::<Vec<u8>>(2);
        let (spare_tx, spare) = mpsc::channel::<Vec<u8>>();
        let writer = scope.spawn(move || -> io::Result<String> {
            let mut out = HashingWriter::new(file);
            let mut written = 0;
            for piece in full_rx {
                out.write_all(&piece)?;
                crate::walk::start_writeback(file, written, piece.len());
                written += piece.len() as u64;
                let _ = spare_tx.send(piece);
            }
            Ok(out.finish().0)
        });
        let mut out = Pieces {
            buf: Vec::with_capacity(PIECE),
            full,
            spare,
        };
        let formatted = body(&mut out).and_then(|()| out.flush());
        drop(out);
        // The writer's error first: when it stops, handing it pieces fails too.
        let checksum = writer.join().expect("the manifest writer does not panic")?;
        formatted.map(|()| checksum)
    })
}

/// The formatting end of [`write_hashed`]: fills a piece and hands it over when full.
struct Pieces {
    buf: Vec<u8>,
    full: mpsc::SyncSender<Vec<u8>>,
    /// Pieces the writer is done with, to fill again.
    spare: mpsc::Receiver<Vec<u8>>,
}

impl Write for Pieces {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut next = self.spare.try_recv().unwrap_or_default();
        next.clear();
        next.reserve(PIECE);
        let piece = std::mem::replace(&mut self.buf, next);
        self.full
            .send(piece)
            .map_err(|_| io::Error::other("the manifest writer stopped"))
    }
}

/// The bytes of the file at `path`, read by two threads at once: copying tens of MB out of the
/// page cache into fresh memory is CPU work, and nothing else can start before it ends.
#[cfg(unix)]
fn read_in_halves(path: &Path) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    // Zeroed memory from the allocator is fresh pages, not a pass over them.
    let mut bytes = vec![0u8; len];
    let (first, second) = bytes.split_at_mut(len / 2);
    let (a, b) = rayon::join(
        || file.read_exact_at(first, 0),
        || file.read_exact_at(second, (len / 2) as u64),
    );
    a.and(b)?;
    // A file that grew while being read is not one rendorix wrote in one go.
    let mut more = [0u8; 1];
    if file.read_at(&mut more, len as u64)? != 0 {
        return Err(io::Error::other("it changed while being read"));
    }
    Ok(bytes)
}

#[cfg(not(unix))]
fn read_in_halves(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Why `bytes` did not load as a manifest, in the user's terms.
fn why_unreadable(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Manifest>(bytes) {
        Err(e) => why_not_a_manifest(bytes, e),
        // Every manifest rendorix writes has its layout: this one was reformatted.
        Ok(_) => "was changed by hand (it is not laid out as rendorix writes it)".into(),
    }
}

fn why_not_a_manifest(bytes: &[u8], error: serde_json::Error) -> String {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u64>,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Err(e) => format!("is not valid JSON ({e})"),
        Ok(Head { format, .. }) if format.as_deref() != Some(FORMAT) => {
            "is not a rendorix manifest".into()
        }
        Ok(Head {
            version: Some(v), ..
        }) if v != u64::from(VERSION) => {
            format!("has format version {v}, and this rendorix reads version {VERSION}")
        }
        Ok(_) => format!("does not have the expected fields ({error})"),
    }
}

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
                kid: Some("k".into()),
                urls: UrlsJson::of(format!(r#"[["/m/{i}-{}.jpg"]]"#, "x".repeat(1500))),
            })
            .collect();
        let m = Manifest::new(5, "k", "https://x.org/", Vec::new(), pages);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        m.write(&path).unwrap();
        let written = std::fs::read(&path).unwrap();
        assert!(written.len() > 4 * PIECE, "{}", written.len());
        assert!(
            written == m.to_bytes(),
            "the file differs from the formatted manifest"
        );
        let back = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(back.pages.len(), 3000);
        assert_eq!(back.pages[2999].urls.get(), m.pages[2999].urls.get());
        let text = String::from_utf8(written).unwrap();
        let body = &text[..text.rfind(CHECKSUM_FIELD).unwrap()];
        assert_eq!(back.checksum, hex(&Sha256::digest(body)));
    }

    #[test]
    fn a_failing_write_is_reported_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-only");
        std::fs::write(&path, "").unwrap();
        // Writing to a file opened for reading fails at the first piece; the formatting side
        // must stop too, and the writer's error be the one returned.
        let file = File::open(&path).unwrap();
        let result = write_hashed(&file, |out| {
            for _ in 0..10 {
                out.write_all(&vec![b'x'; PIECE])?;
            }
            Ok(())
        });
        let error = result.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(9), "{error}"); // EBADF
    }

    #[test]
    fn a_file_is_read_whole_in_two_halves() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 2, 3, 1_000_001] {
            let path = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            assert!(read_in_halves(&path).unwrap() == bytes, "length {len}");
        }
        let missing = read_in_halves(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
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
        std::fs::write(&path, empty.to_bytes()).unwrap();
        assert_eq!(Manifest::load(&path).unwrap().unwrap().pages.len(), 0);
    }

    #[test]
    fn untrustworthy_manifests_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        assert_eq!(Manifest::load(&path).map(|m| m.is_none()), Ok(true));
        let cases = [
            ("{", "is not valid JSON"),
            ("{\"format\": \"other\"}", "is not a rendorix manifest"),
            (
                "{\"format\": \"rendorix-manifest\", \"version\": 1, \"pages\": {}}",
                "has format version 1",
            ),
            (
                "{\"format\": \"rendorix-manifest\", \"version\": 3}",
                "does not have the expected fields",
            ),
        ];
        for (text, why) in cases {
            std::fs::write(&path, text).unwrap();
            assert!(
                Manifest::load(&path).unwrap_err().starts_with(why),
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
                    .contains("changed by hand")
            );
        }
    }

    #[test]
    fn a_page_is_recorded_with_the_one_exp_and_key_of_its_urls_or_not_at_all() {
        let occurrence = |original: &str, target: &str, exp, kid: &str| SignedOccurrence {
            original: original.into(),
            target: target.into(),
            exp,
            kid: kid.into(),
            changed: true,
            offset: 0,
        };
        let report = |signed: &[SignedOccurrence]| PageReport {
            page: crate::walk::Page {
                rel: "a/b.html".into(),
                path: "site/a/b.html".into(),
            },
            result: Ok(crate::walk::PageDone {
                urls: SignedUrls::of(signed),
                urls_changed: signed.len(),
                urls_left_alone: 0,
                changed: true,
                sha256: "00".into(),
                size: 1,
                mtime_ns: 2,
                located: Vec::new(),
            }),
        };
        let one = [
            occurrence("/m/\"q\".jpg", "/m/%22q%22.jpg", 9, "k"),
            occurrence("/m/a.jpg", "/m/a.jpg", 9, "k"),
        ];
        let entry = PageEntry::from_report(report(&one)).unwrap();
        assert_eq!((entry.exp, entry.kid.as_deref()), (Some(9), Some("k")));
        assert_eq!(
            entry.urls.get(),
            r#"[["/m/\"q\".jpg","/m/%22q%22.jpg"],["/m/a.jpg"]]"#
        );
        let back: Vec<_> = entry.url_entries().unwrap();
        assert_eq!(back[0].original, "/m/\"q\".jpg");
        assert_eq!((back[1].target.as_str(), back[1].exp), ("/m/a.jpg", 9));
        let none = PageEntry::from_report(report(&[])).unwrap();
        assert_eq!((none.exp, none.kid, none.urls.get()), (None, None, "[]"));
        let two_exps = [one[0].clone(), occurrence("/m/b.jpg", "/m/b.jpg", 10, "k")];
        assert!(PageEntry::from_report(report(&two_exps)).is_none());
        let two_keys = [one[0].clone(), occurrence("/m/b.jpg", "/m/b.jpg", 9, "j")];
        assert!(PageEntry::from_report(report(&two_keys)).is_none());
        for bad in [r#"[[]]"#, r#"[["a","b","c"]]"#] {
            let entry = PageEntry {
                urls: UrlsJson::of(bad.into()),
                ..entry.clone()
            };
            assert!(entry.url_entries().is_err(), "{bad}");
        }
    }

    #[test]
    fn slash_paths() {
        assert_eq!(slash_path(Path::new("a/b/c.html")), "a/b/c.html");
        assert_eq!(slash_path(Path::new("c.html")), "c.html");
        assert_eq!(slash_path(Path::new("")), "");
    }
}
