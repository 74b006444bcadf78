//! The scan of one page: `lol_html`'s handlers find every target attribute, the run's
//! [`UrlPolicy`] judges each URL in it, and the edits, signed URLs and problems are collected
//! with their byte offsets. Nothing is written here.
//!
//! `<noscript>` content reaches `lol_html` as text, so each noscript body is scanned again as
//! markup (visitors without JavaScript request those images too).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::rc::Rc;

use encoding_rs::{Encoding, UTF_8};
use lol_html::errors::RewritingError;
use lol_html::html_content::{Attribute, Element, TextChunk};
use lol_html::{
    AsciiCompatibleEncoding, ElementContentHandlers, HtmlRewriter, MemorySettings, Selector,
    Settings,
};
use url::Url;

use crate::core::charset::{self, Charset, DecodedText};
use crate::core::policy::{Outcome, Refusal, UrlPolicy};
use crate::core::srcset;
use crate::core::urls::resolve;
use crate::page::css;
use crate::page::references::{self, Needles};
use crate::page::splice::{self, charset_stays};
use crate::page::targets::{self, Kind, Landmark, Options, Refresh, Target, Visit};
use crate::page::{Edit, PageError, PageScan, Problem, Scratch, SignedOccurrence, prefix_of};
use crate::page::{Format, json, locate, xml};

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
    style: Selector,
    needles: Needles,
}

impl Rewriter {
    /// A rewriter whose URLs `policy` judges: a [`Signer`](crate::core::sign::Signer) signs
    /// them, a [`Checker`](crate::core::audit::Checker) audits them and never edits.
    pub fn new(policy: impl UrlPolicy + 'static, options: Options) -> Rewriter {
        Rewriter {
            needles: Needles::new(policy.protection()),
            policy: Box::new(policy),
            selectors: targets::selectors(&options),
            options,
            noscript: "noscript".parse().expect("built-in selector"),
            style: "style".parse().expect("built-in selector"),
        }
    }

    /// The same rewriter, giving pages the refresh tag of `refresh` ([`Options::refresh`]).
    #[must_use]
    pub fn with_refresh(mut self, refresh: Option<Refresh>) -> Rewriter {
        self.options.refresh = refresh;
        // Where the tag goes is looked for only when there is one to place.
        self.selectors = targets::selectors(&self.options);
        self
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
        input.seek(SeekFrom::Start(0))?;
        let refresh = self.options.refresh.as_ref();
        self.scan_markup(input, encoding, page_url, scratch, Some(refresh))
    }

    /// Scans markup in `encoding` read from `input` (at its first byte). A page (`page` is
    /// `Some`) gets the refresh tag it asks for, or loses the ones it has; markup inside a feed
    /// (`None`) is left as it is.
    fn scan_markup<R: Read + Seek>(
        &self,
        input: &mut R,
        encoding: &'static Encoding,
        page_url: &Url,
        scratch: &mut Scratch,
        page: Option<Option<&Refresh>>,
    ) -> Result<PageScan, PageError> {
        let state = RefCell::new(ScanState::new(encoding, page_url));
        let buf = scratch.chunk();
        self.run_parser(&state, encoding, |write| feed(input, buf, write))?;
        // The base in force at the end of the page, for references outside the targets.
        let base = state.borrow().base.clone();
        self.scan_noscripts(&state, input, encoding, buf)?;

        let mut state = state.into_inner();
        self.rewrite_styles(&mut state, input, encoding)?;
        let tags = std::mem::take(&mut state.refresh_tags);
        let landmarks = std::mem::take(&mut state.landmarks);
        let mut judged = std::mem::take(&mut state.judged);
        let mut scan = state.check_byte_order_marks(input)?;
        judged.sort_by_key(|r| r.start);
        let unsigned = references::in_page(
            input,
            encoding,
            &self.needles,
            self.policy.protection(),
            &base,
            &judged,
            scratch.chunk(),
        )?;
        scan.problems.extend(unsigned);
        if let Some(refresh) = page {
            let wanted = refresh.filter(|r| r.every_page || !scan.signed.is_empty());
            place_refresh(input, wanted, &tags, &landmarks, &mut scan.edits)?;
        }
        scan.edits.sort_by_key(|e| (e.range.start, !e.raw));
        scan.signed.sort_by_key(|s| s.offset);
        scan.problems.sort_by_key(|p| p.offset);
        charset_stays(input, &scan.edits, encoding, scratch)?;
        Ok(scan)
    }

    /// The protected references in a script, style or data file served at `url`, none of which
    /// rendorix signs (spec §13).
    pub(crate) fn unsigned_in_file<R: Read + Seek>(
        &self,
        input: &mut R,
        url: &Url,
        scratch: &mut Scratch,
    ) -> io::Result<Vec<Problem>> {
        references::in_file(
            input,
            &self.needles,
            self.policy.protection(),
            url,
            &[],
            references::Context::Code,
            scratch.chunk(),
        )
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
            std::borrow::Cow::Borrowed(&self.style),
            ElementContentHandlers::default().text(|chunk: &mut TextChunk<'_>| {
                on_style_text(chunk, &mut state.borrow_mut());
                Ok(())
            }),
        ));
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

    fn on_element(&self, el: &mut Element<'_, '_>, target: Target, state: &mut ScanState) {
        match targets::visit(el, target, &self.options) {
            Visit::Base => on_base(el, state),
            // The page's own elements, not those of a noscript body scanned again.
            Visit::RefreshScript | Visit::Landmark(_) if state.offset > 0 => {}
            Visit::RefreshScript => {
                let start = el.source_location().bytes().start as u64;
                state.refresh_tags.push((start, end_tag(el)));
            }
            Visit::Landmark(landmark) => state.landmarks.saw(el, landmark),
            Visit::Attributes(attributes) => {
                let signed_before = state.scan.signed.len();
                for (name, kind) in attributes.into_iter().flatten() {
                    self.rewrite_attribute(el, name, kind, state);
                }
                if matches!(target, Target::Link) && targets::is_icon(el) {
                    let icons = state.scan.signed[signed_before..].iter();
                    let icons: Vec<String> = icons.map(|s| s.target.clone()).collect();
                    state.scan.icons.extend(icons);
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
        state.judged.push(start..state.offset + range.end as u64);
        let decoded = htmlize::unescape_attribute(raw.as_str());
        if suspect {
            state.bom_suspects.push((start, decoded.to_string()));
        }
        let new_value = match kind {
            Kind::Url => self.judge(&decoded, start, state),
            Kind::Link => {
                let encoding = state.scan.encoding.unwrap_or(UTF_8);
                let protected = resolve(decoded.trim(), &state.base, encoding)
                    .is_ok_and(|u| self.policy.protection().protects(&u));
                if protected {
                    self.judge(&decoded, start, state)
                } else {
                    None
                }
            }
            Kind::Srcset => {
                let candidates = srcset::parse(&decoded);
                srcset::replace_urls(&decoded, &candidates, |_, url| {
                    self.judge(url, start, state)
                })
            }
            Kind::Css => {
                let encoding = state.scan.encoding.unwrap_or(UTF_8);
                let base = state.base.clone();
                let replacements =
                    self.sign_css(&decoded, &base, encoding, &mut state.scan, |_| start);
                (!replacements.is_empty()).then(|| splice_text(&decoded, &replacements))
            }
        };
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
        record(
            self.policy.as_ref(),
            url,
            offset,
            &state.base,
            encoding,
            &mut state.scan,
        )
    }

    /// The replacements, as ranges of `css` and their CSS-escaped text, that sign the protected
    /// URLs of `css` (resolved against `base`); each outcome is recorded in `scan` at the
    /// offset `offset_of` gives for the URL's range.
    fn sign_css(
        &self,
        css: &str,
        base: &Url,
        encoding: &'static Encoding,
        scan: &mut PageScan,
        offset_of: impl Fn(&Range<usize>) -> u64,
    ) -> Vec<(Range<usize>, String)> {
        let mut replacements = Vec::new();
        for u in css::urls(css) {
            let offset = offset_of(&u.range);
            let signed = record(self.policy.as_ref(), &u.value, offset, base, encoding, scan);
            if let Some(text) = signed.filter(|t| *t != u.value) {
                replacements.push((u.range, css::escape(&text, u.quote)));
            }
        }
        replacements
    }

    /// Scans a stylesheet served at `url` (spec §13): its `url()` and `image-set()` URLs, with
    /// the edits that sign the protected ones. Nothing is written.
    fn scan_css<R: Read + Seek>(&self, input: &mut R, url: &Url) -> Result<PageScan, PageError> {
        let mut bytes = Vec::new();
        let (bom, css) = read_utf8(input, &mut bytes)?;
        let mut scan = PageScan {
            encoding: Some(UTF_8),
            ..PageScan::default()
        };
        let at = |r: &Range<usize>| (bom + r.start) as u64;
        let replacements = self.sign_css(css, url, UTF_8, &mut scan, at);
        scan.edits = replacements
            .into_iter()
            .map(|(r, value)| Edit {
                range: (bom + r.start) as u64..(bom + r.end) as u64,
                value,
                raw: true,
            })
            .collect();
        scan.problems.sort_by_key(|p| p.offset);
        Ok(scan)
    }

    /// Scans a file of `format` served at `url`, as [`scan`](Rewriter::scan) does a page.
    pub fn scan_as<R: Read + Seek>(
        &self,
        format: Format,
        input: &mut R,
        url: &Url,
        scratch: &mut Scratch,
    ) -> Result<PageScan, PageError> {
        match format {
            Format::Html => self.scan(input, url, scratch),
            Format::Css => self.scan_css(input, url),
            Format::Xml => self.scan_xml(input, url, scratch),
            Format::WebManifest => self.scan_manifest(input, url, scratch),
        }
    }

    /// Scans a web app manifest served at `url` (spec §13): the `src` of its image resources,
    /// resolved against the manifest's URL as browsers do, with the edits that sign the
    /// protected ones, and the protected references elsewhere in it. Nothing is written.
    fn scan_manifest<R: Read + Seek>(
        &self,
        input: &mut R,
        url: &Url,
        scratch: &mut Scratch,
    ) -> Result<PageScan, PageError> {
        let mut bytes = Vec::new();
        let (bom, text) = read_utf8(input, &mut bytes)?;
        let sources = json::sources(text).map_err(|(line, column, why)| PageError::Json {
            line,
            column,
            why,
        })?;
        let mut scan = PageScan {
            encoding: Some(UTF_8),
            ..PageScan::default()
        };
        let mut judged = Vec::with_capacity(sources.len());
        for range in sources {
            let at = (bom + range.start) as u64..(bom + range.end) as u64;
            judged.push(at.clone());
            let Some(value) = json::decode(&text[range]) else {
                continue;
            };
            let signed = record(
                self.policy.as_ref(),
                &value,
                at.start,
                url,
                UTF_8,
                &mut scan,
            );
            if let Some(signed) = signed.filter(|s| *s != value) {
                scan.edits.push(Edit {
                    range: at,
                    value: json::encode(&signed),
                    raw: true,
                });
            }
        }
        let unsigned = references::in_file(
            input,
            &self.needles,
            self.policy.protection(),
            url,
            &judged,
            references::Context::Code,
            scratch.chunk(),
        )?;
        scan.problems.extend(unsigned);
        scan.problems.sort_by_key(|p| p.offset);
        Ok(scan)
    }

    /// Scans a feed or sitemap served at `url` (spec §13): the URLs of its media elements and
    /// of the HTML it carries, with the edits that sign the protected ones, and the protected
    /// references elsewhere in it. Nothing is written.
    fn scan_xml<R: Read + Seek>(
        &self,
        input: &mut R,
        url: &Url,
        scratch: &mut Scratch,
    ) -> Result<PageScan, PageError> {
        input.rewind()?;
        let values = match xml::values(io::BufReader::new(&mut *input)) {
            Ok(values) => values,
            Err((offset, why)) => {
                input.rewind()?;
                let place = locate::places(&mut *input, std::iter::once(offset), UTF_8)?;
                let (line, column) = place.first().copied().unwrap_or((1, 1));
                return Err(PageError::Xml { line, column, why });
            }
        };
        let mut scan = PageScan {
            encoding: Some(UTF_8),
            ..PageScan::default()
        };
        let mut judged = Vec::with_capacity(values.len());
        for value in values {
            let mut bytes = Vec::with_capacity((value.range.end - value.range.start) as usize);
            input.seek(SeekFrom::Start(value.range.start))?;
            input
                .by_ref()
                .take(value.range.end - value.range.start)
                .read_to_end(&mut bytes)?;
            // quick-xml read the file as UTF-8 already; a value it did not decode is not one.
            let Some(decoded) = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|raw| xml::Decoded::new(raw, value.range.start))
            else {
                continue; // unsigned protected references in it are reported below
            };
            judged.push(value.range.clone());
            match value.holds {
                xml::Holds::Url => self.sign_xml_url(&decoded, value.quote, url, &mut scan),
                xml::Holds::Html => self.sign_xml_html(&decoded, url, &mut scan, scratch)?,
            }
        }
        let unsigned = references::in_file(
            input,
            &self.needles,
            self.policy.protection(),
            url,
            &judged,
            references::Context::Attribute,
            scratch.chunk(),
        )?;
        scan.problems.extend(unsigned);
        scan.edits.sort_by_key(|e| e.range.start);
        scan.signed.sort_by_key(|s| s.offset);
        scan.problems.sort_by_key(|p| p.offset);
        Ok(scan)
    }

    /// Signs the one URL of an XML value (an attribute in `quote`, or element text).
    fn sign_xml_url(
        &self,
        decoded: &xml::Decoded,
        quote: Option<u8>,
        url: &Url,
        scan: &mut PageScan,
    ) {
        let text = decoded.text.trim_start();
        let lead = decoded.text.len() - text.len();
        let text = text.trim_end();
        let Some((range, escape)) = decoded.source(lead..lead + text.len()) else {
            return;
        };
        let offset = range.start;
        let signed = record(self.policy.as_ref(), text, offset, url, UTF_8, scan);
        if let Some(value) = signed
            .filter(|s| s != text)
            .and_then(|s| xml::escape(&s, escape, quote))
        {
            scan.edits.push(Edit {
                range,
                value,
                raw: true,
            });
        }
    }

    /// Signs the URLs of the HTML that an XML value carries, as a page served at `url` would
    /// have them signed, with every edit mapped back to the bytes of the file.
    fn sign_xml_html(
        &self,
        decoded: &xml::Decoded,
        url: &Url,
        scan: &mut PageScan,
        scratch: &mut Scratch,
    ) -> Result<(), PageError> {
        let html = decoded.text.as_bytes();
        let mut inner = self.scan_markup(&mut io::Cursor::new(html), UTF_8, url, scratch, None)?;
        let source = |at: u64| {
            let at = at as usize;
            decoded.source(at..at).map_or(0, |(r, _)| r.start)
        };
        for edit in inner.edits {
            let range = edit.range.start as usize..edit.range.end as usize;
            let markup = if edit.raw {
                edit.value
            } else {
                let before = range.start.checked_sub(1).map_or(b' ', |i| html[i]);
                splice::attribute_text(&edit.value, before)
            };
            let written = decoded
                .source(range)
                .and_then(|(r, escape)| Some((r, xml::escape(&markup, escape, None)?)));
            let Some((range, value)) = written else {
                // The value straddles a CDATA section's edge: it stays, and says so.
                let offset = source(edit.range.start);
                if let Some(i) = inner
                    .signed
                    .iter()
                    .position(|s| s.offset == edit.range.start)
                {
                    let s = inner.signed.remove(i);
                    scan.problems.push(Problem {
                        offset,
                        url: s.original,
                        refusal: Refusal::UnsignedReference { target: s.target },
                    });
                }
                continue;
            };
            scan.edits.push(Edit {
                range,
                value,
                raw: true,
            });
        }
        scan.signed
            .extend(inner.signed.into_iter().map(|s| SignedOccurrence {
                offset: source(s.offset),
                ..s
            }));
        scan.problems
            .extend(inner.problems.into_iter().map(|p| Problem {
                offset: source(p.offset),
                ..p
            }));
        scan.left_alone += inner.left_alone;
        for (prefix, n) in inner.unprotected {
            *scan.unprotected.entry(prefix).or_default() += n;
        }
        Ok(())
    }

    /// Signs the URLs of every `<style>` element found, each against the base in force where
    /// it stood, as edits of the page's bytes.
    fn rewrite_styles<R: Read + Seek>(
        &self,
        state: &mut ScanState,
        input: &mut R,
        encoding: &'static Encoding,
    ) -> Result<(), PageError> {
        for (range, base) in std::mem::take(&mut state.styles) {
            let mut bytes = Vec::with_capacity((range.end - range.start) as usize);
            input.seek(SeekFrom::Start(range.start))?;
            input
                .by_ref()
                .take(range.end - range.start)
                .read_to_end(&mut bytes)?;
            // Undecodable bytes become U+FFFD, which is not as long as they were: offsets in the
            // text are mapped back to the bytes they came from.
            let css = DecodedText::new(&bytes, encoding);
            let byte_at = |i: usize| css.byte_offset(i);
            let replacements = self.sign_css(&css.text, &base, encoding, &mut state.scan, |r| {
                range.start + byte_at(r.start) as u64
            });
            for (r, value) in replacements {
                let (from, to) = (byte_at(r.start), byte_at(r.end));
                // Only the bytes that hold exactly the URL's text are replaced.
                let written = bytes
                    .get(from..to)
                    .and_then(|b| encoding.decode_without_bom_handling_and_without_replacement(b));
                if written.as_deref() != Some(&css.text[r.clone()]) {
                    let offset = range.start + from as u64;
                    if let Some(i) = state.scan.signed.iter().rposition(|s| s.offset == offset) {
                        let s = state.scan.signed.remove(i);
                        state.scan.problems.push(Problem {
                            offset,
                            url: s.original,
                            refusal: Refusal::Undecodable {
                                encoding: encoding.name(),
                            },
                        });
                    }
                    continue;
                }
                state.scan.edits.push(Edit {
                    range: range.start + from as u64..range.start + to as u64,
                    value,
                    raw: true,
                });
            }
            state.judged.push(range);
        }
        Ok(())
    }
}

/// Reads a whole stylesheet or manifest into `bytes`: its text after any UTF-8 byte order mark,
/// and that mark's length (the text's offset in the file).
fn read_utf8<'b, R: Read + Seek>(
    input: &mut R,
    bytes: &'b mut Vec<u8>,
) -> Result<(usize, &'b str), PageError> {
    input.rewind()?;
    input.read_to_end(bytes)?;
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = std::str::from_utf8(&bytes[bom..])
        .map_err(|_| PageError::UnsupportedEncoding("an encoding other than UTF-8"))?;
    Ok((bom, text))
}

/// Records what `policy` makes of `url` (found at `offset`, resolved against `base`) in `scan`,
/// and returns the text to write in its place (`None`: leave it).
fn record(
    policy: &dyn UrlPolicy,
    url: &str,
    offset: u64,
    base: &Url,
    encoding: &'static Encoding,
    scan: &mut PageScan,
) -> Option<String> {
    match policy.judge(url, base, encoding) {
        Outcome::Signed(s) => {
            scan.signed.push(SignedOccurrence {
                original: s.original,
                target: s.target,
                exp: s.exp,
                due: s.due,
                kid: s.kid,
                changed: s.text != url,
                offset,
            });
            Some(s.text)
        }
        Outcome::LeftAlone => {
            scan.left_alone += 1;
            let prefix = resolve(url.trim(), base, encoding)
                .ok()
                .and_then(|u| prefix_of(&u, base));
            if let Some(prefix) = prefix {
                *scan.unprotected.entry(prefix).or_default() += 1;
            }
            None
        }
        Outcome::Failed(refusal) => {
            scan.problems.push(Problem {
                offset,
                url: url.to_owned(),
                refusal,
            });
            None
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
    /// The page's refresh tags: where each starts, and where it ends once its end tag is seen.
    refresh_tags: Vec<(u64, EndTag)>,
    /// Where a refresh tag can go.
    landmarks: Landmarks,
    /// Target values whose text may have lost a leading byte order mark (see [`value_of`]),
    /// with that text: checked against the page's bytes once the parse is done.
    bom_suspects: Vec<(u64, String)>,
    /// The same for the `<base href>` in force.
    base_bom_suspect: Option<u64>,
    /// Every target value handled, signed or not.
    judged: Vec<Range<u64>>,
    /// The text of each `<style>` element, with the base URL in force there.
    styles: Vec<(Range<u64>, Url)>,
    open_style: Option<Range<u64>>,
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
            refresh_tags: Vec::new(),
            landmarks: Landmarks::default(),
            bom_suspects: Vec::new(),
            base_bom_suspect: None,
            judged: Vec::new(),
            styles: Vec::new(),
            open_style: None,
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

/// Collects the text of a `<style>` element, which comes in chunks.
fn on_style_text(chunk: &TextChunk<'_>, state: &mut ScanState) {
    let range = chunk.source_location().bytes();
    let range = state.offset + range.start as u64..state.offset + range.end as u64;
    let open = state.open_style.get_or_insert(range.clone());
    open.end = open.end.max(range.end);
    if chunk.last_in_text_node() {
        let text = state.open_style.take().expect("just set");
        if text.end > text.start {
            state.styles.push((text, state.base.clone()));
        }
    }
}

/// `text` with each range of `replacements` (ordered, not overlapping) replaced.
fn splice_text(text: &str, replacements: &[(Range<usize>, String)]) -> String {
    let mut out = String::with_capacity(text.len() + replacements.len() * 80);
    let mut at = 0;
    for (range, value) in replacements {
        out.push_str(&text[at..range.start]);
        out.push_str(value);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
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

/// Where an element's end tag starts and ends, set by `lol_html` once it reaches it (its end-tag
/// handlers must own what they write to).
type EndTag = Rc<Cell<Option<(u64, u64)>>>;

/// The place of `el`'s end tag, once it is parsed; never set for an element without one.
fn end_tag(el: &mut Element<'_, '_>) -> EndTag {
    let end = EndTag::default();
    let set = end.clone();
    let _ = el.on_end_tag(Box::new(move |tag| {
        let at = tag.source_location().bytes();
        set.set(Some((at.start as u64, at.end as u64)));
        Ok(())
    }));
    end
}

/// The first `<html>`, `<head>` and `<body>` of a page: where the refresh tag goes.
#[derive(Debug, Default)]
struct Landmarks {
    /// The end of the `<html>` start tag.
    html: Option<u64>,
    /// The end of the `<head>` start tag.
    head: Option<u64>,
    /// `</head>`, once parsed.
    head_end: Option<EndTag>,
    /// The start of the `<body>` start tag.
    body: Option<u64>,
}

impl Landmarks {
    fn saw(&mut self, el: &mut Element<'_, '_>, landmark: Landmark) {
        let tag = el.source_location().bytes();
        match landmark {
            Landmark::Html if self.html.is_none() => self.html = Some(tag.end as u64),
            Landmark::Head if self.head.is_none() => {
                self.head = Some(tag.end as u64);
                self.head_end = Some(end_tag(el));
            }
            Landmark::Body if self.body.is_none() => self.body = Some(tag.start as u64),
            _ => {}
        }
    }

    /// Where the tag goes: before `</head>`; else where the parser puts elements in the head
    /// (after `<head>`, before `<body>`, after `<html>`); else at the start, after a byte order
    /// mark, where it opens the head of a page that has no such tags.
    fn place<R: Read + Seek>(&self, input: &mut R) -> io::Result<u64> {
        let head_end = self
            .head_end
            .as_ref()
            .and_then(|c| c.get())
            .map(|(start, _)| start);
        if let Some(at) = head_end.or(self.head).or(self.body).or(self.html) {
            return Ok(at);
        }
        let mut start = Vec::with_capacity(3);
        input.seek(SeekFrom::Start(0))?;
        input.by_ref().take(3).read_to_end(&mut start)?;
        Ok(Encoding::for_bom(&start).map_or(0, |(_, len)| len as u64))
    }
}

/// The edits that leave a page with exactly one refresh tag, the one `wanted`, or none: a tag
/// that is not it (an older one, or one a page should not have) is removed, and `wanted` is
/// inserted unless the page holds it already.
fn place_refresh<R: Read + Seek>(
    input: &mut R,
    wanted: Option<&Refresh>,
    tags: &[(u64, EndTag)],
    landmarks: &Landmarks,
    edits: &mut Vec<Edit>,
) -> io::Result<()> {
    let mut kept = false;
    for (start, end) in tags {
        let Some((_, end)) = end.get() else {
            continue; // a script without an end tag runs to the end of the page: left alone
        };
        if !kept && let Some(refresh) = wanted {
            let mut bytes = Vec::with_capacity(refresh.tag.len());
            input.seek(SeekFrom::Start(*start))?;
            input.by_ref().take(end - start).read_to_end(&mut bytes)?;
            if bytes == refresh.tag.as_bytes() {
                kept = true;
                continue;
            }
        }
        edits.push(Edit {
            range: *start..end,
            value: String::new(),
            raw: true,
        });
    }
    if let Some(refresh) = wanted
        && !kept
    {
        let at = landmarks.place(input)?;
        edits.push(Edit {
            range: at..at,
            value: refresh.tag.clone(),
            raw: true,
        });
    }
    Ok(())
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
