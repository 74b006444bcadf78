//! The scan of one page: `lol_html`'s handlers find every target attribute, the run's
//! [`UrlPolicy`] judges each URL in it, and the edits, signed URLs and problems are collected
//! with their byte offsets. Nothing is written here.
//!
//! `<noscript>` content reaches `lol_html` as text, so each noscript body is scanned again as
//! markup (visitors without JavaScript request those images too).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use encoding_rs::{Encoding, UTF_8};
use lol_html::errors::RewritingError;
use lol_html::html_content::{Attribute, Element, TextChunk};
use lol_html::{
    AsciiCompatibleEncoding, ElementContentHandlers, HtmlRewriter, MemorySettings, Selector,
    Settings,
};
use url::Url;

use crate::core::charset::{self, Charset};
use crate::core::policy::{Outcome, Refusal, UrlPolicy};
use crate::core::srcset;
use crate::core::urls::resolve;
use crate::page::splice::charset_stays;
use crate::page::targets::{self, Kind, Options, REFRESH_SCRIPT, Target, Visit};
use crate::page::{Edit, PageError, PageScan, Problem, Scratch, SignedOccurrence};

/// Most memory one page's parser may buffer (one tag larger than this fails the page).
const PARSER_MEMORY_LIMIT: usize = 64 * 1024 * 1024;

/// Scans pages: the policy that judges each URL, and the parsed selectors of every target.
/// Build once per run and share it between threads; each page gets its own parser.
#[derive(Debug)]
pub struct Rewriter {
    policy: Box<dyn UrlPolicy>,
    options: Options,
    selectors: Vec<(Selector, Target)>,
    noscript: Selector,
}

impl Rewriter {
    /// A rewriter whose URLs `policy` judges: a [`Signer`](crate::core::sign::Signer) signs
    /// them, a [`Checker`](crate::core::audit::Checker) audits them and never edits.
    pub fn new(policy: impl UrlPolicy + 'static, options: Options) -> Rewriter {
        Rewriter {
            policy: Box::new(policy),
            selectors: targets::selectors(&options),
            options,
            noscript: "noscript".parse().expect("built-in selector"),
        }
    }

    /// Scans one page read from `input` (which must start at the page's first byte) served at
    /// `page_url`, and returns the edits and what was signed. Nothing is written.
    pub fn scan<R: Read + Seek>(
        &self,
        input: &mut R,
        page_url: &Url,
        scratch: &mut Scratch,
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
        let state = RefCell::new(ScanState::new(encoding, page_url));
        let buf = scratch.chunk();
        self.run_parser(&state, encoding, |write| {
            write(&prefix)?;
            feed(input, buf, write)
        })?;
        self.scan_noscripts(&state, input, encoding, buf)?;

        let state = state.into_inner();
        let first_signed_element = state.first_signed_element;
        let has_refresh_script = state.has_refresh_script;
        let mut scan = state.check_byte_order_marks(input)?;
        // The refresh script goes right before the first signed element, so that its error
        // listener exists before any signed image can fail.
        if self.options.refresh
            && !has_refresh_script
            && !scan.signed.is_empty()
            && let Some(at) = first_signed_element
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
        charset_stays(input, &scan.edits, encoding, scratch)?;
        Ok(scan)
    }

    /// Scans noscript bodies as markup, each against the base URL in force where it stood. In
    /// document order; a noscript nested in one is scanned after the rest.
    fn scan_noscripts<R: Read + Seek>(
        &self,
        state: &RefCell<ScanState>,
        input: &mut R,
        encoding: &'static Encoding,
        buf: &mut [u8],
    ) -> Result<(), PageError> {
        let mut pending = VecDeque::from(std::mem::take(&mut state.borrow_mut().noscripts));
        while let Some((range, base)) = pending.pop_front() {
            {
                let mut s = state.borrow_mut();
                s.offset = range.start;
                s.base = base;
                s.base_seen = true; // a <base> inside <noscript> does not apply to the page
            }
            input.seek(SeekFrom::Start(range.start))?;
            let mut body = input.by_ref().take(range.end - range.start);
            self.run_parser(state, encoding, |write| feed(&mut body, buf, write))?;
            pending.extend(state.borrow_mut().noscripts.drain(..));
        }
        Ok(())
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
        match targets::visit(el, target, &self.options) {
            Visit::Base => on_base(el, state),
            Visit::RefreshScript => state.has_refresh_script = true,
            Visit::Attributes(attributes) => {
                for (name, kind) in attributes.into_iter().flatten() {
                    self.rewrite_attribute(el, name, kind, state);
                }
            }
        }
    }

    /// Judges the URL(s) in attribute `name` of `el` and records the edit.
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
        let element_start = state.offset + el.source_location().bytes().start as u64;
        if !state.claim(element_start, start) {
            return;
        }
        let decoded = htmlize::unescape_attribute(raw.as_str());
        if suspect {
            state.bom_suspects.push((start, decoded.to_string()));
        }
        let signed_before = state.scan.signed.len();
        let new_value = match kind {
            Kind::Url => self.judge(&decoded, start, state),
            Kind::Srcset => {
                let candidates = srcset::parse(&decoded);
                srcset::replace_urls(&decoded, &candidates, |_, url| {
                    self.judge(url, start, state)
                })
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

    /// Judges one URL of the value at `offset`, records the outcome, and returns the text to
    /// write in its place (`None`: leave it).
    fn judge(&self, url: &str, offset: u64, state: &mut ScanState) -> Option<String> {
        let encoding = state.scan.encoding.unwrap_or(UTF_8);
        match self.policy.judge(url, &state.base, encoding) {
            Outcome::Signed(s) => {
                state.scan.signed.push(SignedOccurrence {
                    original: s.original,
                    target: s.target,
                    exp: s.exp,
                    kid: s.kid,
                    changed: s.text != url,
                    offset,
                });
                Some(s.text)
            }
            Outcome::LeftAlone => {
                state.scan.left_alone += 1;
                None
            }
            Outcome::Failed(refusal) => {
                state.scan.problems.push(Problem {
                    offset,
                    url: url.to_owned(),
                    refusal,
                });
                None
            }
        }
    }
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

impl ScanState {
    fn new(encoding: &'static Encoding, page_url: &Url) -> ScanState {
        ScanState {
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
        }
    }

    /// Whether the value at `value_start` of the element at `element_start` is still to be
    /// handled, marking it handled: an extra attribute may also be a default target, and each
    /// value of an element is judged once.
    fn claim(&mut self, element_start: u64, value_start: u64) -> bool {
        if self.processed_element != Some(element_start) {
            self.processed_element = Some(element_start);
            self.processed.clear();
        }
        if self.processed.contains(&value_start) {
            return false;
        }
        self.processed.push(value_start);
        true
    }

    /// The scan, once the values that lost a leading byte order mark to `lol_html`'s decoding
    /// (see [`value_of`]) are turned from signatures into problems; an error when the `<base
    /// href>` did.
    fn check_byte_order_marks<R: Read + Seek>(self, input: &mut R) -> Result<PageScan, PageError> {
        if let Some(at) = self.base_bom_suspect
            && starts_with_bom(input, at)?
        {
            return Err(PageError::BaseByteOrderMark);
        }
        let mut scan = self.scan;
        for (at, url) in self.bom_suspects {
            if starts_with_bom(input, at)? {
                scan.edits.retain(|e| e.range.start != at);
                scan.signed.retain(|s| s.offset != at);
                scan.problems.retain(|p| p.offset != at);
                scan.problems.push(Problem {
                    offset: at,
                    url,
                    refusal: Refusal::ByteOrderMark,
                });
            }
        }
        Ok(scan)
    }
}

/// An attribute's value as `lol_html` decodes it, and whether that text can differ from the
/// browser's. `lol_html` decodes a value with `Encoding::decode`, which drops a leading byte order
/// mark (and turns `FF FE` into UTF-16), while a browser keeps U+FEFF as part of the URL. An
/// ASCII text exactly as long as the raw value proves that nothing was dropped: dropping a
/// UTF-8 mark leaves it 3 bytes short, a UTF-16 decoding half as long. Anything else is checked
/// against the page's bytes after the parse ([`starts_with_bom`]).
fn value_of(attr: &Attribute<'_>) -> Option<(String, Range<usize>, bool)> {
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

fn parse_error(e: RewritingError) -> PageError {
    match e {
        RewritingError::MemoryLimitExceeded(_) => PageError::TagTooLarge {
            limit_mib: PARSER_MEMORY_LIMIT >> 20,
        },
        RewritingError::ParsingAmbiguity(e) => PageError::Ambiguous(e.to_string()),
        other => PageError::Parser(other.to_string()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::Key;
    use crate::core::sign::Signer;
    use crate::core::urls::MatchPrefix;
    use crate::page::{rewrite_bytes, splice};

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
            out.map_or_else(|| html.to_owned(), |b| String::from_utf8(b).unwrap()),
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
            scan.problems[0].refusal.to_string().contains("\"kid\""),
            "{:?}",
            scan.problems
        );
    }

    /// A reader that returns one byte per call, so every chunk boundary falls everywhere.
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

    #[test]
    fn one_byte_chunks_give_the_same_result() {
        let html = r#"<!doctype html><html><head><base href="/media/"><meta charset="utf-8"></head><body>
<img src="a.jpg" srcset="b.jpg 1x,c.jpg 2x"><noscript><img src='n.jpg'></noscript>
<picture><source srcset="/media/w_3,h_2/s.jpg 300w"></picture><!-- <img src="/media/c.jpg"> --></body></html>"#;
        let whole = rewrite(html);
        let r = rewriter(Options::default());
        let mut scratch = Scratch::new();
        let scan = r
            .scan(
                &mut OneByte(io::Cursor::new(html.as_bytes())),
                &page_url(),
                &mut scratch,
            )
            .unwrap();
        let mut out = Vec::new();
        splice(
            OneByte(io::Cursor::new(html.as_bytes())),
            &scan.edits,
            UTF_8,
            &mut out,
            &mut scratch,
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
            assert!(scan.problems[0].refusal.to_string().contains("byte order mark"));
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
