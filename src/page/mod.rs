//! One page: find its protected URLs and write it back with only their values changed
//! (spec §5).
//!
//! `lol_html` is used as a streaming *scanner* (`scan`): its handlers read each target
//! attribute (`targets` says which) and the exact byte range of its value in the source, judge
//! the URL with the run's [`UrlPolicy`](crate::core::policy::UrlPolicy), and record an [`Edit`].
//! [`splice`](splice::splice) then copies the page, replacing only those ranges. Letting
//! `lol_html` re-serialize modified tags instead would normalize the spacing between attributes
//! and the `/>` of the whole tag; splicing keeps every byte outside the rewritten values as it
//! was, and keeps memory flat on huge pages because both passes stream. `locate` turns byte
//! offsets into the line and column that reports show.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;

use encoding_rs::{Encoding, UTF_8};
use url::Url;

use crate::core::policy::Refusal;

pub(crate) mod css;
mod json;
pub(crate) mod locate;
mod references;
mod scan;
mod splice;
mod targets;
#[cfg(test)]
mod tests;
mod xml;

pub use scan::Rewriter;
pub use splice::splice;
pub use targets::{Options, Refresh};

/// Bytes fed to the parser per call, and copied per call by [`splice()`].
const CHUNK: usize = 64 * 1024;

/// A page's working buffer, reused from page to page by whoever processes many of them: the
/// chunks that scanning feeds the parser and that splicing copies. Allocating and zeroing a
/// fresh 64 KiB buffer per pass was ~7% of the instructions of a scan (callgrind, 300 pages of
/// the benchmark site).
#[derive(Debug, Default)]
pub struct Scratch {
    chunk: Vec<u8>,
}

impl Scratch {
    /// A new, still empty buffer (it grows to 64 KiB on first use).
    pub fn new() -> Scratch {
        Scratch::default()
    }

    fn chunk(&mut self) -> &mut [u8] {
        if self.chunk.len() < CHUNK {
            self.chunk.resize(CHUNK, 0);
        }
        &mut self.chunk
    }
}

/// A replacement of one attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The value's bytes in the page (inside the quotes, if any).
    pub range: Range<u64>,
    /// The new value, before HTML escaping and encoding; for an insertion (`raw`), markup.
    pub value: String,
    /// `value` is markup inserted as is at an empty `range`, not an attribute value.
    pub raw: bool,
}

/// One signed URL of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOccurrence {
    /// The reference as found, without signature (spec §7 "original").
    pub original: String,
    /// The unsigned request target.
    pub target: String,
    /// Its `exp`.
    pub exp: u64,
    /// From when a run must re-sign it ([`crate::core::policy::SignedUrl::due`]).
    pub due: u64,
    /// The key that signed it.
    pub kid: String,
    /// Whether the URL's text differs from what the page held (a new or moved signature).
    pub changed: bool,
    /// Byte offset of the attribute value.
    pub offset: u64,
}

/// A URL that should have been signed but was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Byte offset of the attribute value.
    pub offset: u64,
    /// The URL as found.
    pub url: String,
    /// What is wrong (its text says what to do).
    pub refusal: Refusal,
}

/// Everything the scan of one page found.
#[derive(Debug, Clone, Default)]
pub struct PageScan {
    /// The page's encoding.
    pub encoding: Option<&'static Encoding>,
    /// Replacements, ordered by position.
    pub edits: Vec<Edit>,
    /// Signed URLs, in page order.
    pub signed: Vec<SignedOccurrence>,
    /// URLs in target attributes that are not protected (other hosts, `data:`, …).
    pub left_alone: usize,
    /// How many of those lie under each prefix (see [`prefix_of`]), for telling a user whose
    /// `match` matches nothing where the page's images are.
    pub unprotected: BTreeMap<String, usize>,
    /// Protected URLs that could not be signed.
    pub problems: Vec<Problem>,
    /// The request targets of the signed URLs of its icon links (`rel=icon` and the like),
    /// which browsers fetch outside the page's service worker.
    pub icons: Vec<String>,
}

/// Why a page could not be processed at all; it is left unchanged.
#[derive(Debug)]
pub enum PageError {
    /// The page's encoding cannot be rewritten byte-preservingly.
    UnsupportedEncoding(&'static str),
    /// A single tag is larger than the parser may buffer.
    TagTooLarge {
        /// The limit, in MiB.
        limit_mib: usize,
    },
    /// Markup that a streaming parser cannot parse unambiguously (`lol_html`'s explanation).
    Ambiguous(String),
    /// Any other refusal of the parser (its text).
    Parser(String),
    /// Signing would push the page's `<meta charset>` out of the first 1024 bytes.
    CharsetMoved,
    /// The `<base href>` starts with a byte order mark, so every relative URL is in doubt.
    BaseByteOrderMark,
    /// A feed or sitemap that is not well-formed XML.
    Xml {
        /// Where the parser stopped: 1-based line and column.
        line: usize,
        /// See `line`.
        column: usize,
        /// `quick-xml`'s explanation.
        why: String,
    },
    /// A web app manifest that is not valid JSON.
    Json {
        /// Where: 1-based line and column.
        line: usize,
        /// See `line`.
        column: usize,
        /// `serde_json`'s explanation.
        why: String,
    },
    /// Reading the page failed.
    Io(io::Error),
}

/// The kinds of file whose URLs are signed, each in its own syntax (spec §5 and §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An HTML page.
    Html,
    /// A stylesheet.
    Css,
    /// A feed or sitemap.
    Xml,
    /// A web app manifest.
    WebManifest,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::UnsupportedEncoding(name) => write!(
                f,
                "the page is encoded in {name}, which cannot be rewritten safely; left unchanged (re-encode it as UTF-8)"
            ),
            PageError::TagTooLarge { limit_mib } => write!(
                f,
                "a single tag is larger than {limit_mib} MiB; left unchanged"
            ),
            PageError::Ambiguous(why) => write!(
                f,
                "the markup is ambiguous to a streaming parser ({why}); fix the markup; left unchanged"
            ),
            PageError::Parser(why) => write!(f, "{why}; left unchanged"),
            PageError::CharsetMoved => f.write_str(
                "signing the URLs before <meta charset> would push it past the first 1024 bytes, where browsers look for it, and change how the page is decoded; left unchanged (put <meta charset> first in <head>)",
            ),
            PageError::BaseByteOrderMark => f.write_str(
                "the <base href> starts with a byte order mark (U+FEFF), which browsers keep as part of the URL; left unchanged (remove it)",
            ),
            PageError::Xml { line, column, why } => write!(
                f,
                "not well-formed XML at line {line}, column {column} ({why}); fix the template that writes it; left unchanged"
            ),
            PageError::Json { line, column, why } => write!(
                f,
                "not valid JSON at line {line}, column {column} ({why}); left unchanged"
            ),
            PageError::Io(e) => write!(f, "cannot read the page: {e}"),
        }
    }
}

impl std::error::Error for PageError {}

impl From<io::Error> for PageError {
    fn from(e: io::Error) -> Self {
        PageError::Io(e)
    }
}

/// The folder that `url` is in, as a user would write it in `sign.match`: a path such as
/// `/static/` on the origin of `own`, or `https://cdn.example.org/img/` elsewhere; a file at the
/// root gives the root. `None` for URLs that are not http(s).
pub fn prefix_of(url: &Url, own: &Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let path = url.path();
    let folder = match path[1..].find('/') {
        Some(i) => &path[..i + 2],
        None => "/",
    };
    if url.host() == own.host() && url.port_or_known_default() == own.port_or_known_default() {
        Some(folder.to_owned())
    } else {
        Some(format!("{}{folder}", url.origin().ascii_serialization()))
    }
}

/// Scans and splices a page held in memory: the rewritten bytes (`None` when nothing changed).
pub fn rewrite_bytes(
    rewriter: &Rewriter,
    page: &[u8],
    page_url: &Url,
) -> Result<(Option<Vec<u8>>, PageScan), PageError> {
    let mut scratch = Scratch::new();
    let scan = rewriter.scan(&mut io::Cursor::new(page), page_url, &mut scratch)?;
    if scan.edits.is_empty() {
        return Ok((None, scan));
    }
    let mut out = Vec::with_capacity(page.len() + scan.edits.len() * 80);
    let encoding = scan.encoding.unwrap_or(UTF_8);
    splice(page, &scan.edits, encoding, &mut out, &mut scratch)?;
    Ok((Some(out), scan))
}
