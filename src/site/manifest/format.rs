//! The manifest's bytes, written and read by hand rather than by a generic serializer, because
//! both directions depend on the exact layout: one compact JSON line per folder and per page,
//! fields in a fixed order, the checksum last. Writing copies each page's URL list as the text
//! it was loaded as; loading finds the page lines without parsing the lists, checks the
//! checksum over the bytes, and parses only each line's head. `serde_json` still writes and
//! reads every JSON value, so escaping is never ours.

use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::site::manifest::{
    ExpiryRecord, FolderEntry, Manifest, ManifestError, PageEntry, RefreshEntry, ShardRecord,
    UrlsJson,
};

/// Value of the `format` field.
pub const FORMAT: &str = "rendorix-manifest";
/// Value of the `version` field. Version 2 added `folders`; version 3 records a page's `exp` and
/// `kid` once instead of with each URL, and each URL as a short array (less than half the size);
/// version 4 added `refresh`; version 5 `scheme`, `expiry`, each page's `due`, and a URL's own
/// `exp`.
pub const VERSION: u32 = 5;

pub(super) const CHECKSUM_FIELD: &str = ",\n  \"checksum\": \"";
const FOLDERS_FIELD: &str = "\n  \"folders\": [";
const PAGES_FIELD: &str = "\n  \"pages\": [";
const URLS_FIELD: &str = ",\"urls\":";

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
    /// Writes the entry as one JSON object: the fields, then the URL list as it is.
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
        out.write_all(&head.as_bytes()[..head.len() - 1])?; // all but its '}'
        out.write_all(URLS_FIELD.as_bytes())?;
        out.write_all(self.urls.get().as_bytes())?;
        out.write_all(b"}")
    }

    /// Parses one page line of a loaded manifest (without its trailing comma). `line` is a
    /// range of `text`, which the URL list goes on sharing.
    pub(super) fn parse_line(text: &Arc<String>, line: Range<usize>) -> Option<PageEntry> {
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
            due: head.due,
            kid: head.kid.map(std::borrow::Cow::into_owned),
            urls: UrlsJson {
                text: text.clone(),
                range: urls,
            },
        })
    }
}

impl Manifest {
    /// The file's bytes: the fields, one line per folder and per page, and the checksum of all
    /// before it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_body(&mut out).expect("writing to memory");
        let checksum = hex::encode(Sha256::digest(&out));
        out.extend_from_slice(tail(&checksum).as_bytes());
        out
    }

    /// Writes everything before the checksum.
    pub(super) fn write_body(&self, out: &mut impl Write) -> io::Result<()> {
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
        write_lines(out, &self.folders, |folder, out| {
            serde_json::to_writer(out, folder).map_err(io::Error::other)
        })?;
        out.write_all(b",")?;
        out.write_all(PAGES_FIELD.as_bytes())?;
        write_lines(out, &self.pages, PageEntry::write_to)
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
    pub(super) checksum: String,
}

/// Where the parts of a manifest file are.
pub(super) struct Layout {
    /// Just after `"pages": [`.
    pub(super) pages_start: usize,
    /// At the `]` that ends the pages.
    pub(super) pages_end: usize,
    /// At `,\n  "checksum": "`.
    pub(super) checksum_at: usize,
}

impl Layout {
    pub(super) fn find(text: &str) -> Option<Layout> {
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
    pub(super) fn skeleton(&self, text: &str) -> String {
        format!(
            "{}]{}",
            &text[..self.pages_start],
            &text[self.pages_end + 1..]
        )
    }

    /// The ranges of the page lines, without indentation and commas.
    pub(super) fn lines(&self, text: &str) -> Vec<Range<usize>> {
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
pub(super) fn write_lines<W: Write, T>(
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
        }) if v != u64::from(VERSION) => ManifestError::Version(v),
        Ok(_) => ManifestError::Fields(error),
    }
}
