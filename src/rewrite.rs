//! Finding and signing the image URLs of one page (SPEC §5).
//!
//! lol_html is used as a streaming *scanner*: its handlers read each target attribute and the
//! exact byte range of its value in the source, and record an [`Edit`]. [`splice`] then copies
//! the page, replacing only those ranges. Letting lol_html re-serialize modified tags instead
//! would normalize the spacing between attributes and the `/>` of the whole tag; splicing keeps
//! every byte outside the rewritten values as it was, and keeps memory flat on huge pages
//! because both passes stream.
//!
//! `<noscript>` content reaches lol_html as text, so each noscript body is scanned again as
//! markup (visitors without JavaScript request those images too).

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;

use encoding_rs::{Encoding, UTF_8};
use lol_html::errors::RewritingError;
use lol_html::html_content::{Element, TextChunk};
use lol_html::{
    AsciiCompatibleEncoding, ElementContentHandlers, HtmlRewriter, MemorySettings, Selector,
    Settings,
};
use url::Url;

use crate::charset::{self, Charset};
use crate::check::Checker;
use crate::sign::{Outcome, Signer};
use crate::srcset;
use crate::urls::resolve;

/// Bytes fed to the parser per call, and copied per call by [`splice`].
const CHUNK: usize = 64 * 1024;

/// Most memory one page's parser may buffer (one tag larger than this fails the page).
const PARSER_MEMORY_LIMIT: usize = 64 * 1024 * 1024;
const SVG_NS: &str = "http://www.w3.org/2000/svg";

thread_local! {
    /// Each thread's chunk buffer, reused from page to page (see [`Chunk`]).
    static CHUNKS: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A [`CHUNK`]-sized buffer borrowed from the thread's own and given back when dropped.
/// Allocating and zeroing two fresh 64 KiB buffers per page (one to scan, one to splice) was
/// ~7% of the instructions of a scan (callgrind, 300 pages of the benchmark site).
struct Chunk(Vec<u8>);

impl Chunk {
    fn take() -> Chunk {
        let mut buf = CHUNKS.take(); // empty when already taken further up this thread's stack
        buf.resize(CHUNK, 0);
        Chunk(buf)
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        CHUNKS.set(std::mem::take(&mut self.0));
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for Chunk {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// What to rewrite, beyond the default targets.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Attribute names rewritten on any element (`data-src`; names ending in `srcset` are
    /// parsed as srcset).
    pub extra_attributes: Vec<String>,
    /// Also sign `<meta property="og:image">` / `<meta name="twitter:image">` content.
    pub social_meta: bool,
    /// Insert [`REFRESH_SCRIPT`] before the first signed element of each page that lacks it.
    pub refresh: bool,
}

/// The opt-in `[refresh]` script, as inserted: when a signed image fails to load, it fetches
/// the page again and takes the freshly signed URLs of the same image (README: "Refresh").
pub const REFRESH_SCRIPT: &str = concat!(
    "<script data-rendorix-refresh>",
    include_str!("assets/refresh.js"),
    "</script>"
);

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
    /// The reference as found, without signature (SPEC §7 "original").
    pub original: String,
    /// The unsigned request target.
    pub target: String,
    /// Its `exp`.
    pub exp: u64,
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
    /// What is wrong and what to do.
    pub message: String,
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
    /// Protected URLs that could not be signed.
    pub problems: Vec<Problem>,
}

/// Why a page could not be processed at all; it is left unchanged.
#[derive(Debug)]
pub enum PageError {
    /// The page's encoding cannot be rewritten byte-preservingly.
    UnsupportedEncoding(&'static str),
    /// The parser refused the page.
    Parse(String),
    /// Signing would push the page's `<meta charset>` out of the first 1024 bytes.
    CharsetMoved,
    /// The `<base href>` starts with a byte order mark, so every relative URL is in doubt.
    BaseByteOrderMark,
    /// Reading the page failed.
    Io(io::Error),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::UnsupportedEncoding(name) => write!(
                f,
                "the page is encoded in {name}, which cannot be rewritten safely; left unchanged (re-encode it as UTF-8)"
            ),
            PageError::Parse(why) => write!(f, "{why}; left unchanged"),
            PageError::CharsetMoved => f.write_str(
                "signing the URLs before <meta charset> would push it past the first 1024 bytes, where browsers look for it, and change how the page is decoded; left unchanged (put <meta charset> first in <head>)",
            ),
            PageError::BaseByteOrderMark => f.write_str(
                "the <base href> starts with a byte order mark (U+FEFF), which browsers keep as part of the URL; left unchanged (remove it)",
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

#[derive(Debug, Clone, Copy)]
enum Target {
    Base,
    Img,
    PictureSource,
    Link,
    Video,
    Input,
    SvgImage,
    Meta,
    Extra(usize),
    RefreshScript,
}

/// What the rewriter does with each URL it finds.
#[derive(Debug)]
enum Mode {
    /// Sign protected URLs.
    Sign(Signer),
    /// Only check them (`rendorix check`); nothing is ever edited.
    Check(Checker),
}

/// Rewrites pages: the signer (or checker), and the parsed selectors of every target. Build once
/// per run and share it between threads; each page gets its own parser.
#[derive(Debug)]
pub struct Rewriter {
    mode: Mode,
    options: Options,
    selectors: Vec<(Selector, Target)>,
    noscript: Selector,
}

impl Rewriter {
    /// A rewriter that signs with `signer`.
    pub fn new(signer: Signer, options: Options) -> Rewriter {
        Rewriter::with_mode(Mode::Sign(signer), options)
    }

    /// A rewriter that only checks every protected URL with `checker` and never edits.
    pub fn checking(checker: Checker, options: Options) -> Rewriter {
        Rewriter::with_mode(Mode::Check(checker), options)
    }

    fn with_mode(mode: Mode, options: Options) -> Rewriter {
        let sel = |s: &str| s.parse::<Selector>().expect("built-in selector");
        let mut selectors = vec![
            (sel("base[href]"), Target::Base),
            (sel("img"), Target::Img),
            (sel("picture source[srcset]"), Target::PictureSource),
            (sel("link[as]"), Target::Link),
            (sel("video[poster]"), Target::Video),
            (sel("input[src]"), Target::Input),
            (sel("image"), Target::SvgImage),
        ];
        if options.social_meta {
            selectors.push((sel("meta[content]"), Target::Meta));
        }
        for (i, name) in options.extra_attributes.iter().enumerate() {
            // Config validation allows only [A-Za-z0-9_.:-] names; escape the ones CSS treats specially.
            let escaped: String = name
                .chars()
                .flat_map(|c| {
                    (c == ':' || c == '.')
                        .then_some('\\')
                        .into_iter()
                        .chain([c])
                })
                .collect();
            selectors.push((sel(&format!("[{escaped}]")), Target::Extra(i)));
        }
        if options.refresh {
            selectors.push((sel("script[data-rendorix-refresh]"), Target::RefreshScript));
        }
        Rewriter {
            mode,
            options,
            selectors,
            noscript: sel("noscript"),
        }
    }

    /// Scans one page read from `input` (which must start at the page's first byte) served at
    /// `page_url`, and returns the edits and what was signed. Nothing is written.
    pub fn scan<R: Read + Seek>(
        &self,
        input: &mut R,
        page_url: &Url,
    ) -> Result<PageScan, PageError> {
        let mut prefix = Vec::with_capacity(charset::PRESCAN_BYTES);
        input
            .by_ref()
            .take(charset::PRESCAN_BYTES as u64)
            .read_to_end(&mut prefix)?;
        let encoding = match charset::detect(&prefix) {
            Charset::Supported(enc) => enc,
            Charset::Unsupported(enc) => return Err(PageError::UnsupportedEncoding(enc.name())),
        };
        let state = RefCell::new(ScanState {
            scan: PageScan {
                encoding: Some(encoding),
                ..PageScan::default()
            },
            base: page_url.clone(),
            base_seen: false,
            offset: 0,
            noscripts: Vec::new(),
            open_noscript: None,
            processed_element: None,
            processed: Vec::new(),
            first_signed_element: None,
            has_refresh_script: false,
            bom_suspects: Vec::new(),
            base_bom_suspect: None,
        });
        let mut buf = Chunk::take();
        self.run_parser(&state, encoding, |write| {
            write(&prefix)?;
            feed(input, &mut buf, write)
        })?;

        // Scan noscript bodies as markup, each against the base URL in force where it stood.
        // In document order; a noscript nested in one is scanned after the rest.
        let mut pending =
            std::collections::VecDeque::from(std::mem::take(&mut state.borrow_mut().noscripts));
        while let Some((range, base)) = pending.pop_front() {
            {
                let mut s = state.borrow_mut();
                s.offset = range.start;
                s.base = base;
                s.base_seen = true; // a <base> inside <noscript> does not apply to the page
            }
            input.seek(SeekFrom::Start(range.start))?;
            let mut body = input.by_ref().take(range.end - range.start);
            self.run_parser(&state, encoding, |write| feed(&mut body, &mut buf, write))?;
            pending.extend(state.borrow_mut().noscripts.drain(..));
        }

        let state = state.into_inner();
        let mut scan = state.scan;
        if let Some(at) = state.base_bom_suspect
            && starts_with_bom(input, at)?
        {
            return Err(PageError::BaseByteOrderMark);
        }
        for (at, url) in state.bom_suspects {
            if starts_with_bom(input, at)? {
                scan.edits.retain(|e| e.range.start != at);
                scan.signed.retain(|s| s.offset != at);
                scan.problems.retain(|p| p.offset != at);
                scan.problems.push(Problem {
                    offset: at,
                    url,
                    message: "the value starts with a byte order mark (U+FEFF), which browsers keep as part of the URL; remove it".to_owned(),
                });
            }
        }
        // The refresh script goes right before the first signed element, so that its error
        // listener exists before any signed image can fail.
        if self.options.refresh
            && matches!(self.mode, Mode::Sign(_))
            && !state.has_refresh_script
            && !scan.signed.is_empty()
            && let Some(at) = state.first_signed_element
        {
            scan.edits.push(Edit {
                range: at..at,
                value: REFRESH_SCRIPT.to_owned(),
                raw: true,
            });
        }
        scan.edits.sort_by_key(|e| (e.range.start, !e.raw));
        scan.signed.sort_by_key(|s| s.offset);
        scan.problems.sort_by_key(|p| p.offset);
        charset_stays(input, &scan.edits, encoding)?;
        Ok(scan)
    }

    fn run_parser(
        &self,
        state: &RefCell<ScanState>,
        encoding: &'static Encoding,
        drive: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<(), PageError>) -> Result<(), PageError>,
    ) -> Result<(), PageError> {
        let mut settings = Settings::new()
            .with_encoding(
                AsciiCompatibleEncoding::new(encoding).expect("checked by charset::detect"),
            )
            // Strict: markup the streaming parser cannot parse unambiguously fails the page
            // rather than risk rewriting text that a browser does not treat as a tag.
            .with_strict(true)
            .with_memory_settings(
                MemorySettings::new()
                    .with_preallocated_parsing_buffer_size(4096)
                    .with_max_allowed_memory_usage(PARSER_MEMORY_LIMIT),
            );
        for (selector, target) in &self.selectors {
            let target = *target;
            settings = settings.append_element_content_handler((
                std::borrow::Cow::Borrowed(selector),
                ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
                    self.on_element(el, target, &mut state.borrow_mut());
                    Ok(())
                }),
            ));
        }
        settings = settings.append_element_content_handler((
            std::borrow::Cow::Borrowed(&self.noscript),
            ElementContentHandlers::default().text(|chunk: &mut TextChunk<'_>| {
                on_noscript_text(chunk, &mut state.borrow_mut());
                Ok(())
            }),
        ));
        let mut parser = HtmlRewriter::new(settings, |_: &[u8]| {});
        drive(&mut |bytes: &[u8]| parser.write(bytes).map_err(parse_error))?;
        parser.end().map_err(parse_error)
    }

    fn on_element(&self, el: &Element<'_, '_>, target: Target, state: &mut ScanState) {
        match target {
            Target::Base => on_base(el, state),
            Target::Img => {
                self.rewrite_attribute(el, "src", Kind::Url, state);
                self.rewrite_attribute(el, "srcset", Kind::Srcset, state);
            }
            Target::PictureSource => self.rewrite_attribute(el, "srcset", Kind::Srcset, state),
            Target::Link if is_image_preload(el) => {
                self.rewrite_attribute(el, "href", Kind::Url, state);
                self.rewrite_attribute(el, "imagesrcset", Kind::Srcset, state);
            }
            Target::Video => self.rewrite_attribute(el, "poster", Kind::Url, state),
            Target::Input if attr_is(el, "type", "image") => {
                self.rewrite_attribute(el, "src", Kind::Url, state)
            }
            Target::SvgImage if el.namespace_uri() == SVG_NS => {
                self.rewrite_attribute(el, "href", Kind::Url, state);
                self.rewrite_attribute(el, "xlink:href", Kind::Url, state);
            }
            // Outside SVG the tree builder renames <image> to <img>, so browsers fetch it as one.
            Target::SvgImage => {
                self.rewrite_attribute(el, "src", Kind::Url, state);
                self.rewrite_attribute(el, "srcset", Kind::Srcset, state);
            }
            Target::Meta if is_social_image(el) => {
                self.rewrite_attribute(el, "content", Kind::Url, state)
            }
            Target::Extra(i) => {
                let name = &self.options.extra_attributes[i];
                let kind = if name.ends_with("srcset") {
                    Kind::Srcset
                } else {
                    Kind::Url
                };
                self.rewrite_attribute(el, name, kind, state);
            }
            Target::RefreshScript => state.has_refresh_script = true,
            Target::Link | Target::Input | Target::Meta => {}
        }
    }

    /// Signs the URL(s) in attribute `name` of `el` and records the edit.
    fn rewrite_attribute(
        &self,
        el: &Element<'_, '_>,
        name: &str,
        kind: Kind,
        state: &mut ScanState,
    ) {
        let Some(attr) = el
            .attributes()
            .iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
        else {
            return;
        };
        let Some((raw, range, suspect)) = value_of(attr) else {
            return; // an attribute without a value has no URL
        };
        let start = state.offset + range.start as u64;
        // An extra attribute may also be a default target: handle each value of an element once.
        let element_start = state.offset + el.source_location().bytes().start as u64;
        if state.processed_element != Some(element_start) {
            state.processed_element = Some(element_start);
            state.processed.clear();
        }
        if state.processed.contains(&start) {
            return;
        }
        state.processed.push(start);
        let decoded = htmlize::unescape_attribute(raw.as_str());
        if suspect {
            state.bom_suspects.push((start, decoded.to_string()));
        }
        let encoding = state.scan.encoding.unwrap_or(UTF_8);
        let sign = |url: &str, state: &mut ScanState| -> Option<String> {
            let outcome = match &self.mode {
                Mode::Sign(signer) => signer.sign(url, &state.base, encoding),
                Mode::Check(checker) => checker.check(url, &state.base, encoding),
            };
            match outcome {
                Outcome::Signed(s) => {
                    state.scan.signed.push(SignedOccurrence {
                        original: s.original,
                        target: s.target,
                        exp: s.exp,
                        kid: s.kid,
                        changed: s.text != url,
                        offset: start,
                    });
                    Some(s.text)
                }
                Outcome::LeftAlone => {
                    state.scan.left_alone += 1;
                    None
                }
                Outcome::Failed(message) => {
                    state.scan.problems.push(Problem {
                        offset: start,
                        url: url.to_owned(),
                        message,
                    });
                    None
                }
            }
        };
        let signed_before = state.scan.signed.len();
        let new_value = match kind {
            Kind::Url => sign(&decoded, state),
            Kind::Srcset => {
                let candidates = srcset::parse(&decoded);
                srcset::replace_urls(&decoded, &candidates, |_, url| sign(url, state))
            }
        };
        if state.scan.signed.len() > signed_before
            && state.offset == 0
            && state.first_signed_element.is_none()
        {
            state.first_signed_element = Some(element_start);
        }
        // A value that comes out as it was (a re-sign in the same window, or a check) is not
        // an edit, so a page whose URLs all stay the same is not rewritten.
        if let Some(value) = new_value.filter(|v| *v != decoded) {
            state.scan.edits.push(Edit {
                range: start..state.offset + range.end as u64,
                value,
                raw: false,
            });
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Url,
    Srcset,
}

struct ScanState {
    scan: PageScan,
    /// The document base URL in force at the current position.
    base: Url,
    base_seen: bool,
    /// Added to the parser's positions (non-zero while scanning a noscript body).
    offset: u64,
    /// Noscript bodies found, with the base URL in force there.
    noscripts: Vec<(Range<u64>, Url)>,
    open_noscript: Option<Range<u64>>,
    /// The element whose target attributes `processed` lists.
    processed_element: Option<u64>,
    /// Value offsets of that element's target attributes handled so far.
    processed: Vec<u64>,
    /// Where the first element with a signed URL starts (outside `<noscript>`).
    first_signed_element: Option<u64>,
    /// The page already holds the refresh script.
    has_refresh_script: bool,
    /// Target values whose text may have lost a leading byte order mark (see [`value_of`]),
    /// with that text: checked against the page's bytes once the parse is done.
    bom_suspects: Vec<(u64, String)>,
    /// The same for the `<base href>` in force.
    base_bom_suspect: Option<u64>,
}

/// An attribute's value as lol_html decodes it, and whether that text can differ from the
/// browser's. lol_html decodes a value with `Encoding::decode`, which drops a leading byte order
/// mark (and turns `FF FE` into UTF-16), while a browser keeps U+FEFF as part of the URL. An
/// ASCII text exactly as long as the raw value proves that nothing was dropped: dropping a
/// UTF-8 mark leaves it 3 bytes short, a UTF-16 decoding half as long. Anything else is checked
/// against the page's bytes after the parse ([`starts_with_bom`]).
fn value_of(attr: &lol_html::html_content::Attribute<'_>) -> Option<(String, Range<usize>, bool)> {
    let range = attr.value_source_location()?.bytes();
    let value = attr.value();
    let suspect = !(value.is_ascii() && value.len() == range.len());
    Some((value, range, suspect))
}

/// Whether the page's bytes at `at` start with a byte order mark.
fn starts_with_bom<R: Read + Seek>(input: &mut R, at: u64) -> io::Result<bool> {
    let mut head = Vec::with_capacity(3);
    input.seek(SeekFrom::Start(at))?;
    input.by_ref().take(3).read_to_end(&mut head)?;
    Ok(Encoding::for_bom(&head).is_some())
}

/// The first `<base href>` sets the base URL for what follows it (HTML: only the first counts).
fn on_base(el: &Element<'_, '_>, state: &mut ScanState) {
    if state.base_seen {
        return;
    }
    state.base_seen = true;
    let Some((href, range, suspect)) = el
        .attributes()
        .iter()
        .find(|a| a.name() == "href")
        .and_then(value_of)
    else {
        return;
    };
    if suspect {
        state.base_bom_suspect = Some(state.offset + range.start as u64);
    }
    let href = htmlize::unescape_attribute(href.as_str());
    // An unparsable href leaves the page URL as base, as in browsers.
    if let Ok(url) = resolve(&href, &state.base, state.scan.encoding.unwrap_or(UTF_8)) {
        state.base = url;
    }
}

fn on_noscript_text(chunk: &TextChunk<'_>, state: &mut ScanState) {
    let range = chunk.source_location().bytes();
    let range = state.offset + range.start as u64..state.offset + range.end as u64;
    let open = state.open_noscript.get_or_insert(range.clone());
    open.end = open.end.max(range.end);
    if chunk.last_in_text_node() {
        let body = state.open_noscript.take().expect("just set");
        if body.end > body.start {
            state.noscripts.push((body, state.base.clone()));
        }
    }
}

fn attr_is(el: &Element<'_, '_>, name: &str, value: &str) -> bool {
    el.get_attribute(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

/// `link[rel~=preload][as=image]`, with HTML's case-insensitive keywords.
fn is_image_preload(el: &Element<'_, '_>) -> bool {
    attr_is(el, "as", "image")
        && el.get_attribute("rel").is_some_and(|rel| {
            rel.split_ascii_whitespace()
                .any(|t| t.eq_ignore_ascii_case("preload"))
        })
}

fn is_social_image(el: &Element<'_, '_>) -> bool {
    const NAMES: [&str; 5] = [
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "twitter:image",
        "twitter:image:src",
    ];
    ["property", "name"]
        .iter()
        .filter_map(|a| el.get_attribute(a))
        .any(|v| NAMES.iter().any(|n| v.trim().eq_ignore_ascii_case(n)))
}

fn parse_error(e: RewritingError) -> PageError {
    PageError::Parse(match e {
        RewritingError::MemoryLimitExceeded(_) => {
            format!(
                "a single tag is larger than {} MiB",
                PARSER_MEMORY_LIMIT >> 20
            )
        }
        RewritingError::ParsingAmbiguity(e) => {
            format!("the markup is ambiguous to a streaming parser ({e}); fix the markup")
        }
        other => other.to_string(),
    })
}

fn feed<R: Read + ?Sized>(
    input: &mut R,
    buf: &mut [u8],
    write: &mut dyn FnMut(&[u8]) -> Result<(), PageError>,
) -> Result<(), PageError> {
    loop {
        let n = match input.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        write(&buf[..n])?;
    }
}

/// Copies `input` to `output`, replacing each edit's range by its value, HTML-escaped for the
/// quoting the value had (an unquoted value is written double-quoted, since signed URLs hold
/// `=`) and encoded in the page's `encoding`. `edits` must be ordered and not overlap.
pub fn splice<R: Read, W: Write>(
    mut input: R,
    edits: &[Edit],
    encoding: &'static Encoding,
    mut output: W,
) -> io::Result<()> {
    let mut buf = Chunk::take();
    let mut pos = 0u64; // offset of buf[0] in the input
    let mut cursor = 0u64; // next input byte to copy
    let mut last = 0u8; // last input byte copied
    let mut next = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = pos + n as u64;
        while cursor < end {
            let local = |at: u64| (at - pos) as usize;
            match edits.get(next) {
                Some(e) if e.range.start < end => {
                    if e.range.start > cursor {
                        output.write_all(&buf[local(cursor)..local(e.range.start)])?;
                        last = buf[local(e.range.start) - 1];
                    }
                    if e.raw {
                        output.write_all(&encoding.encode(&e.value).0)?;
                    } else {
                        write_value(&e.value, last, encoding, &mut output)?;
                    }
                    cursor = cursor.max(e.range.end);
                    next += 1;
                }
                _ => {
                    output.write_all(&buf[local(cursor)..n])?;
                    last = buf[n - 1];
                    cursor = end;
                }
            }
        }
        pos = end;
    }
    if next < edits.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the page became shorter while it was processed",
        ));
    }
    output.flush()
}

fn write_value(
    value: &str,
    before: u8,
    encoding: &'static Encoding,
    out: &mut impl Write,
) -> io::Result<()> {
    let quote = if before == b'\'' { b'\'' } else { b'"' };
    let quoted = !matches!(before, b'"' | b'\'');
    let mut escaped = String::with_capacity(value.len() + 32);
    if quoted {
        escaped.push(char::from(quote));
    }
    // Copied in runs between the bytes to escape: ASCII bytes never occur inside a multi-byte
    // character, so every run is whole characters.
    let mut rest = value;
    while let Some(i) = rest.bytes().position(|b| b == b'&' || b == quote) {
        escaped.push_str(&rest[..i]);
        escaped.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    escaped.push_str(rest);
    if quoted {
        escaped.push(char::from(quote));
    }
    if encoding == UTF_8 {
        out.write_all(escaped.as_bytes())
    } else {
        // Characters the encoding lacks become numeric character references, which decode back
        // to the same characters inside an attribute.
        out.write_all(&encoding.encode(&escaped).0)
    }
}

/// Signed URLs are longer: edits in the first 1024 bytes can push a `<meta charset>` out of the
/// browser's prescan, and the signed page would be decoded as something else than `encoding`,
/// which the scan detected.
fn charset_stays<R: Read + Seek>(
    input: &mut R,
    edits: &[Edit],
    encoding: &'static Encoding,
) -> Result<(), PageError> {
    // A pushed-out declaration leaves the default, UTF-8, and edits (escaped attribute values)
    // cannot bring in another one: a UTF-8 page cannot change, so its head is not read again.
    if encoding == UTF_8 {
        return Ok(());
    }
    let early = edits
        .iter()
        .take_while(|e| e.range.start < charset::PRESCAN_BYTES as u64)
        .count();
    let Some(last) = early.checked_sub(1).map(|i| &edits[i]) else {
        return Ok(());
    };
    let mut head = Vec::new();
    input.seek(SeekFrom::Start(0))?;
    input
        .by_ref()
        .take(last.range.end + charset::PRESCAN_BYTES as u64)
        .read_to_end(&mut head)?;
    let mut signed_head = Vec::with_capacity(head.len() + early * 80);
    splice(&head[..], &edits[..early], encoding, &mut signed_head)?;
    if charset::detect(&signed_head) == Charset::Supported(encoding) {
        Ok(())
    } else {
        Err(PageError::CharsetMoved)
    }
}

/// Scans and splices a page held in memory: the rewritten bytes (`None` when nothing changed).
pub fn rewrite_bytes(
    rewriter: &Rewriter,
    page: &[u8],
    page_url: &Url,
) -> Result<(Option<Vec<u8>>, PageScan), PageError> {
    let scan = rewriter.scan(&mut io::Cursor::new(page), page_url)?;
    if scan.edits.is_empty() {
        return Ok((None, scan));
    }
    let mut out = Vec::with_capacity(page.len() + scan.edits.len() * 80);
    splice(page, &scan.edits, scan.encoding.unwrap_or(UTF_8), &mut out)?;
    Ok((Some(out), scan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;
    use crate::urls::MatchPrefix;

    const EXP: u64 = 1_715_004_000;

    fn rewriter(options: Options) -> Rewriter {
        let base = Url::parse("https://www.example.com/").unwrap();
        let matches =
            ["https://img.example.com/", "/media/"].map(|m| MatchPrefix::parse(m, &base).unwrap());
        let key = Key::from_secret("k1", &[7u8; 32]).unwrap();
        Rewriter::new(Signer::new(key, EXP, matches.to_vec()), options)
    }

    fn page_url() -> Url {
        Url::parse("https://www.example.com/blog/post/").unwrap()
    }

    fn rewrite_with(options: Options, html: &str) -> (String, PageScan) {
        let (out, scan) = rewrite_bytes(&rewriter(options), html.as_bytes(), &page_url()).unwrap();
        (
            out.map(|b| String::from_utf8(b).unwrap())
                .unwrap_or_else(|| html.to_owned()),
            scan,
        )
    }

    fn rewrite(html: &str) -> String {
        rewrite_with(Options::default(), html).0
    }

    /// Replaces every signature triple by "✓" so expectations stay readable.
    fn unsig(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("exp=1715004000&amp;kid=k1&amp;sig=") {
            out.push_str(&rest[..i]);
            out.push('✓');
            rest = &rest[i + "exp=1715004000&amp;kid=k1&amp;sig=".len() + 43..];
        }
        out + rest
    }

    #[test]
    fn signs_every_default_target() {
        let html = r#"<img src="/media/a.jpg" srcset="/media/a.jpg 1x, /media/b.jpg 2x">
<picture><source srcset="/media/c.avif" type="image/avif"><img src="/media/d.jpg"></picture>
<link rel="preload" as="image" href="/media/e.jpg" imagesrcset="/media/e.jpg 1x">
<video poster="/media/f.jpg"></video><input type="image" src="/media/g.jpg">
<svg><image href="/media/h.svg"/><image xlink:href="/media/i.svg"/></svg>"#;
        let out = unsig(&rewrite(html));
        assert_eq!(
            out,
            r#"<img src="/media/a.jpg?✓" srcset="/media/a.jpg?✓ 1x, /media/b.jpg?✓ 2x">
<picture><source srcset="/media/c.avif?✓" type="image/avif"><img src="/media/d.jpg?✓"></picture>
<link rel="preload" as="image" href="/media/e.jpg?✓" imagesrcset="/media/e.jpg?✓ 1x">
<video poster="/media/f.jpg?✓"></video><input type="image" src="/media/g.jpg?✓">
<svg><image href="/media/h.svg?✓"/><image xlink:href="/media/i.svg?✓"/></svg>"#
        );
    }

    #[test]
    fn leaves_non_targets_alone() {
        let html = r#"<a href="/media/a.jpg">x</a><link rel="stylesheet" href="/media/s.css">
<link rel="preload" as="font" href="/media/f.woff2"><input type="text" src="/media/x.jpg">
<source src="/media/v.mp4"><script src="/media/s.js"></script><image href="/media/html-image-href.jpg">"#;
        let (out, scan) = rewrite_with(Options::default(), html);
        assert_eq!(out, html);
        assert!(scan.edits.is_empty());
    }

    #[test]
    fn html_image_is_an_img() {
        let html = r#"<image src="/media/a.jpg" srcset="/media/b.jpg 2x">"#;
        assert_eq!(
            unsig(&rewrite(html)),
            r#"<image src="/media/a.jpg?✓" srcset="/media/b.jpg?✓ 2x">"#
        );
    }

    #[test]
    fn ambiguous_markup_fails_the_page() {
        let r = rewriter(Options::default());
        let page = b"<select><xmp><img src=\"/media/a.jpg\"></xmp></select>";
        let err = rewrite_bytes(&r, page, &page_url()).unwrap_err();
        assert!(err.to_string().contains("ambiguous"), "{err}");
    }

    #[test]
    fn keywords_match_case_insensitively() {
        let html = r#"<LINK REL="Preload Foo" AS="IMAGE" HREF="/media/e.jpg"><INPUT TYPE="Image" SRC="/media/g.jpg">"#;
        assert_eq!(
            unsig(&rewrite(html)),
            r#"<LINK REL="Preload Foo" AS="IMAGE" HREF="/media/e.jpg?✓"><INPUT TYPE="Image" SRC="/media/g.jpg?✓">"#
        );
    }

    #[test]
    fn every_byte_outside_values_is_kept() {
        let html = "<img\n  src = '/media/a.jpg'   alt=\"x\"\t/><img src=/media/b.jpg class=c><IMG SRC=\"/media/c.jpg\"/ >";
        assert_eq!(
            unsig(&rewrite(html)),
            "<img\n  src = '/media/a.jpg?✓'   alt=\"x\"\t/><img src=\"/media/b.jpg?✓\" class=c><IMG SRC=\"/media/c.jpg?✓\"/ >"
        );
    }

    #[test]
    fn character_references_are_decoded_then_ampersands_escaped() {
        let html = r#"<img src="/media/a.jpg?w=1&amp;h=2&copy=3&#38;x=&times2">"#;
        let (out, scan) = rewrite_with(Options::default(), html);
        // &copy (no semicolon) decodes in an attribute only when not followed by '=' or alnum.
        assert_eq!(
            scan.signed[0].original,
            "/media/a.jpg?w=1&h=2&copy=3&x=&times2"
        );
        assert_eq!(
            unsig(&out),
            r#"<img src="/media/a.jpg?w=1&amp;h=2&amp;copy=3&amp;x=&amp;times2&amp;✓">"#
        );
    }

    #[test]
    fn values_are_escaped_for_the_quote_before_them() {
        let written = |before: u8| {
            let mut out = Vec::new();
            write_value("/ä.jpg?a=\"1\"&b='2'&&", before, UTF_8, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(written(b'"'), "/ä.jpg?a=&quot;1&quot;&amp;b='2'&amp;&amp;");
        assert_eq!(written(b'\''), "/ä.jpg?a=\"1\"&amp;b=&#39;2&#39;&amp;&amp;");
        // Unquoted: written double-quoted.
        assert_eq!(
            written(b'='),
            "\"/ä.jpg?a=&quot;1&quot;&amp;b='2'&amp;&amp;\""
        );
    }

    #[test]
    fn quotes_inside_values_are_escaped_for_their_quoting() {
        let html = "<img src='/media/a.jpg?q=&#39;x&#39;&r=\"'>";
        let out = rewrite(html);
        assert!(
            out.starts_with("<img src='/media/a.jpg?q=&#39;x&#39;&amp;r=\"&amp;exp="),
            "{out}"
        );
    }

    #[test]
    fn base_href_applies_to_what_follows() {
        let html = r#"<img src="a.jpg"><base href="/media/"><img src="b.jpg"><base href="/other/"><img src="c.jpg">"#;
        let (out, scan) = rewrite_with(Options::default(), html);
        assert!(out.starts_with(r#"<img src="a.jpg">"#));
        let targets: Vec<_> = scan.signed.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(targets, ["/media/b.jpg", "/media/c.jpg"]);
        assert_eq!(scan.left_alone, 1);
    }

    #[test]
    fn noscript_and_template_images_are_signed() {
        let html = r#"<noscript><img src="/media/n.jpg" srcset="/media/n2.jpg 2x"></noscript><template><img src="/media/t.jpg"></template>"#;
        let (out, scan) = rewrite_with(Options::default(), html);
        assert_eq!(
            unsig(&out),
            r#"<noscript><img src="/media/n.jpg?✓" srcset="/media/n2.jpg?✓ 2x"></noscript><template><img src="/media/t.jpg?✓"></template>"#
        );
        assert_eq!(scan.signed.len(), 3);
    }

    #[test]
    fn noscript_uses_the_base_in_force() {
        let html = r#"<head><base href="/media/x/"></head><noscript><img src="n.jpg"></noscript>"#;
        let (_, scan) = rewrite_with(Options::default(), html);
        assert_eq!(scan.signed[0].target, "/media/x/n.jpg");
    }

    #[test]
    fn extra_attributes_and_social_meta_are_opt_in() {
        let html = r#"<meta property="og:image" content="https://img.example.com/og.jpg"><img data-src="/media/l.jpg" data-srcset="/media/l.jpg 1x, /media/l2.jpg 2x" src="/media/p.gif">"#;
        let (out, _) = rewrite_with(Options::default(), html);
        assert_eq!(
            unsig(&out),
            r#"<meta property="og:image" content="https://img.example.com/og.jpg"><img data-src="/media/l.jpg" data-srcset="/media/l.jpg 1x, /media/l2.jpg 2x" src="/media/p.gif?✓">"#
        );
        let options = Options {
            extra_attributes: vec!["data-src".into(), "data-srcset".into(), "src".into()],
            social_meta: true,
            refresh: false,
        };
        let (out, scan) = rewrite_with(options.clone(), html);
        assert_eq!(
            unsig(&out),
            r#"<meta property="og:image" content="https://img.example.com/og.jpg?✓"><img data-src="/media/l.jpg?✓" data-srcset="/media/l.jpg?✓ 1x, /media/l2.jpg?✓ 2x" src="/media/p.gif?✓">"#
        );
        assert_eq!(scan.signed.len(), 5, "src listed as extra is signed once");
        let (_, scan) = rewrite_with(
            options,
            r#"<img src="https://other.org/a.jpg"><img src="/media/a.jpg?sig=1">"#,
        );
        assert_eq!(
            (scan.left_alone, scan.problems.len()),
            (1, 1),
            "and counted once"
        );
    }

    #[test]
    fn reserved_parameters_are_problems_and_left_alone() {
        let html = "<p>\n  <img src=\"/media/a.jpg?sig=x\"><img src=\"/media/b.jpg\">";
        let (out, scan) = rewrite_with(Options::default(), html);
        assert!(out.contains("\"/media/a.jpg?sig=x\""));
        assert!(out.contains("/media/b.jpg?exp="));
        assert_eq!(scan.problems.len(), 1);
        assert_eq!(scan.problems[0].offset, 16);
        assert_eq!(scan.problems[0].url, "/media/a.jpg?sig=x");

        // A newline inside the name is dropped by the browser's URL parser: it requests "kid=1".
        let html = "<img src=\"/media/c.jpg?k&#10;id=1\">";
        let (out, scan) = rewrite_with(Options::default(), html);
        assert_eq!(out, html);
        assert_eq!(scan.problems.len(), 1);
        assert!(
            scan.problems[0].message.contains("\"kid\""),
            "{:?}",
            scan.problems
        );
    }

    #[test]
    fn one_byte_chunks_give_the_same_result() {
        let html = r#"<!doctype html><html><head><base href="/media/"><meta charset="utf-8"></head><body>
<img src="a.jpg" srcset="b.jpg 1x,c.jpg 2x"><noscript><img src='n.jpg'></noscript>
<picture><source srcset="/media/w_3,h_2/s.jpg 300w"></picture><!-- <img src="/media/c.jpg"> --></body></html>"#;
        let whole = rewrite(html);
        struct OneByte<'a>(io::Cursor<&'a [u8]>);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(1);
                self.0.read(&mut buf[..n])
            }
        }
        impl Seek for OneByte<'_> {
            fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
                self.0.seek(to)
            }
        }
        let r = rewriter(Options::default());
        let scan = r
            .scan(&mut OneByte(io::Cursor::new(html.as_bytes())), &page_url())
            .unwrap();
        let mut out = Vec::new();
        splice(
            OneByte(io::Cursor::new(html.as_bytes())),
            &scan.edits,
            UTF_8,
            &mut out,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole);
        assert_eq!(scan.signed.len(), 5);
        assert!(whole.contains("<!-- <img src=\"/media/c.jpg\"> -->"));
    }

    #[test]
    fn a_value_starting_with_a_byte_order_mark_is_a_problem_not_a_signature() {
        // Found by `cargo fuzz run rewrite`: lol_html's value() drops the mark, a browser keeps
        // it (U+FEFF then "/media/…" is a relative path), so the signed URL was not the one
        // requested.
        let r = rewriter(Options::default());
        for page in [
            &b"<img src=\"\xEF\xBB\xBF/media/a.jpg\"><img src=/media/b.jpg>"[..],
            b"<img srcset=\"\xEF\xBB\xBF/media/a.jpg 2x\"><img src=/media/b.jpg>",
            b"<meta charset=windows-1252><img src=\"\xEF\xBB\xBF/media/a.jpg\"><img src=/media/b.jpg>",
        ] {
            let (out, scan) = rewrite_bytes(&r, page, &page_url()).unwrap();
            let shown = String::from_utf8_lossy(page);
            assert_eq!(scan.signed.len(), 1, "{shown}");
            assert_eq!(scan.signed[0].target, "/media/b.jpg");
            assert_eq!(scan.problems.len(), 1, "{shown}");
            assert!(scan.problems[0].message.contains("byte order mark"));
            let out = out.unwrap();
            let kept = page.windows(3).position(|w| w == b"\xEF\xBB\xBF").unwrap();
            assert_eq!(out[..kept + 20], page[..kept + 20], "{shown}");
        }
        // A mark inside a value is an ordinary character; non-ASCII values are still signed.
        let (_, scan) = rewrite_bytes(
            &r,
            "<img src=\"/media/\u{feff}é.jpg\">".as_bytes(),
            &page_url(),
        )
        .unwrap();
        assert_eq!(scan.signed[0].target, "/media/%EF%BB%BF%C3%A9.jpg");
        // A marked <base href> puts every relative URL in doubt: the page is left unchanged.
        let page = b"<base href=\"\xEF\xBB\xBFhttps://img.example.com/g/\"><img src=a.jpg>";
        let err = rewrite_bytes(&r, page, &page_url()).unwrap_err();
        assert!(matches!(err, PageError::BaseByteOrderMark), "{err}");
    }

    #[test]
    fn legacy_encodings_keep_their_bytes() {
        let mut page = b"<meta charset=windows-1252><p>caf\xE9</p><img alt=\"\xE9\" src=\"/media/caf\xE9.jpg?t=\xE9\">".to_vec();
        let r = rewriter(Options::default());
        let (out, scan) = rewrite_bytes(&r, &page, &page_url()).unwrap();
        let out = out.unwrap();
        assert_eq!(scan.signed[0].target, "/media/caf%C3%A9.jpg?t=%E9");
        let at = out.windows(4).position(|w| w == b"?t=\xE9").unwrap();
        assert_eq!(
            &out[..at],
            b"<meta charset=windows-1252><p>caf\xE9</p><img alt=\"\xE9\" src=\"/media/caf\xE9.jpg"
        );
        page.clear();
    }

    #[test]
    fn utf16_pages_are_refused() {
        let r = rewriter(Options::default());
        let err = rewrite_bytes(&r, b"\xFF\xFE<\0i\0m\0g\0", &page_url()).unwrap_err();
        assert!(err.to_string().contains("UTF-16LE"), "{err}");
    }

    #[test]
    fn resigning_output_gives_the_same_output() {
        let html = r#"<img src="/media/a.jpg?w=1#f" srcset="/media/a.jpg 1x, https://img.example.com/b.jpg 2x">"#;
        let once = rewrite(html);
        assert_eq!(rewrite(&once), once);
    }

    #[test]
    fn a_meta_charset_pushed_out_of_the_prescan_leaves_the_page_unchanged() {
        // Found by `cargo fuzz run rewrite`: the signed page decoded as UTF-8, not windows-1252.
        let links = |n: usize| "<link rel=preload as=image href=/media/a.jpg>".repeat(n);
        let page = |n: usize| {
            let mut p = format!("{}<meta charset=windows-1252>", links(n)).into_bytes();
            p.extend_from_slice(b"<img src=\"/media/caf\xE9.jpg\">");
            p
        };
        let r = rewriter(Options::default());
        // 20 links: the meta ends near byte 940, and the signatures would push it past 1024.
        let err = rewrite_bytes(&r, &page(20), &page_url()).unwrap_err();
        assert!(matches!(err, PageError::CharsetMoved), "{err}");
        assert!(err.to_string().contains("<meta charset>"));
        // One link: the meta stays inside the prescan, and the page is signed.
        let (out, scan) = rewrite_bytes(&r, &page(1), &page_url()).unwrap();
        assert!(out.is_some());
        assert_eq!(scan.encoding, Some(encoding_rs::WINDOWS_1252));
        // Without a meta, nothing can move.
        let (out, _) = rewrite_bytes(&r, links(40).as_bytes(), &page_url()).unwrap();
        assert!(out.is_some());
    }

    #[test]
    fn the_refresh_script_goes_once_before_the_first_signed_element() {
        let refresh = || Options {
            refresh: true,
            ..Options::default()
        };
        assert!(REFRESH_SCRIPT.len() < 2048, "{}", REFRESH_SCRIPT.len());
        let html = "<!doctype html><head><link rel=preload as=image href=/other.jpg></head>\
                    <noscript><img src=/media/n.jpg></noscript><p>x</p>\
                    <picture><source srcset=\"/media/a.webp\"><img src=/media/a.jpg></picture>";
        let (once, scan) = rewrite_with(refresh(), html);
        let at = once.find("<picture>").unwrap() + "<picture>".len();
        assert_eq!(&once[at..at + REFRESH_SCRIPT.len()], REFRESH_SCRIPT);
        assert_eq!(once.matches("data-rendorix-refresh").count(), 1);
        assert_eq!(scan.edits.iter().filter(|e| e.raw).count(), 1);
        // Signing again keeps the one script; off, or with nothing signed, there is none.
        let (twice, scan) = rewrite_with(refresh(), &once);
        assert_eq!(twice, once);
        assert!(scan.edits.is_empty());
        assert!(!rewrite(html).contains("<script"));
        let (plain, _) = rewrite_with(
            refresh(),
            "<img src=/other.jpg><noscript><img src=/media/n.jpg></noscript>",
        );
        assert!(!plain.contains("<script"), "{plain}");
    }
}
