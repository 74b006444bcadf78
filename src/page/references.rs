//! Protected references that rendorix cannot sign where they are (spec §13): in scripts, JSON
//! data, style text, and attributes it does not rewrite. The edge will refuse them, so they are
//! reported as problems, with their place.
//!
//! A byte search finds every occurrence of a protected prefix ([`Needles`]: each `match`
//! prefix's path without its leading slash, so that relative references are found too, or
//! `//host/` for a prefix at the root of an image host, also with JSON's escaped slashes). In a
//! page, occurrences inside the values that were judged are dropped; only when some remain
//! does a second parser pass tell where they stand, so that comments and
//! prose (which browsers do not fetch) are not reported. Each remaining occurrence is widened to
//! the URL around it, unescaped as its context writes it (HTML character references in an
//! attribute, `\/` and `\uXXXX` in scripts and data), resolved, and judged by the rules.
//!
//! In scripts and data, a bare relative path (`assets/img/a.png`) is judged from the site's
//! root when it is not protected from the file's own folder: bundlers (webpack, Vite) write
//! image URLs as their public path followed by such a path.
//!
//! What is not found: relative references that do not contain a prefix's last folder name
//! (`a.png` written in a page of the protected folder itself), and references under a `match`
//! prefix of `/` on the site's own origin unless they are written absolute.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use encoding_rs::Encoding;
use lol_html::html_content::{Element, TextChunk};
use lol_html::{AsciiCompatibleEncoding, ElementContentHandlers, HtmlRewriter, Selector, Settings};
use memchr::memmem;
use url::Url;

use crate::core::policy::Refusal;
use crate::core::rules::Protection;
use crate::core::triple::Reference;
use crate::core::urls::resolve;
use crate::page::{PageError, Problem};

/// How far around an occurrence a URL may extend: the longest request target the edges accept.
const MAX_URL: usize = 8192;

/// The byte strings that announce a protected URL.
#[derive(Debug)]
pub(crate) struct Needles {
    finders: Vec<memmem::Finder<'static>>,
    longest: usize,
}

impl Needles {
    /// The needles of `protection`'s `match` prefixes.
    pub(crate) fn new(protection: &Protection) -> Needles {
        let mut texts: Vec<String> = Vec::new();
        for m in protection.matches() {
            // Without its leading slash, a prefix's path is also found in the relative
            // references that reach it (`../images/a.png`, `_static/logo.png`).
            let text = if m.path().len() > 1 {
                m.path()[1..].to_owned()
            } else {
                match m.port() {
                    Some(port) => format!("//{}:{port}/", m.host()),
                    None => format!("//{}/", m.host()),
                }
            };
            for t in [text.replace('/', "\\/"), text] {
                if !texts.contains(&t) {
                    texts.push(t);
                }
            }
        }
        Needles {
            longest: texts.iter().map(String::len).max().unwrap_or(0),
            finders: texts
                .iter()
                .map(|t| memmem::Finder::new(t.as_bytes()).into_owned())
                .collect(),
        }
    }

    /// The offsets of every occurrence in `input`, sorted.
    fn find<R: Read + ?Sized>(&self, input: &mut R, buf: &mut [u8]) -> io::Result<Vec<u64>> {
        let mut hits = Vec::new();
        if self.finders.is_empty() {
            return Ok(hits);
        }
        // The last `longest - 1` bytes of a chunk are kept for the next one, so an occurrence
        // across two reads is found; occurrences that start in them are found on the next pass.
        let keep = self.longest - 1;
        let mut window: Vec<u8> = Vec::with_capacity(buf.len() + keep);
        let mut start = 0u64; // offset of window[0]
        loop {
            let n = match input.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            window.extend_from_slice(&buf[..n]);
            let searched = window.len().saturating_sub(keep);
            self.collect(&window, start, searched, &mut hits);
            window.drain(..searched);
            start += searched as u64;
        }
        self.collect(&window, start, window.len(), &mut hits);
        hits.sort_unstable();
        hits.dedup();
        Ok(hits)
    }

    /// Adds the offsets of occurrences in `window` (at `start`) that begin before `end`.
    fn collect(&self, window: &[u8], start: u64, end: usize, hits: &mut Vec<u64>) {
        for finder in &self.finders {
            hits.extend(
                finder
                    .find_iter(window)
                    .take_while(|&at| at < end)
                    .map(|at| start + at as u64),
            );
        }
    }
}

/// How the text around an occurrence is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// An attribute value: HTML character references.
    Attribute,
    /// Script, style or data: JavaScript and JSON string escapes.
    Code,
}

/// The unsigned protected references of a page, whose values in `judged` (sorted by start) the
/// scan already handled. `base` is the document's base URL.
pub(crate) fn in_page<R: Read + Seek>(
    input: &mut R,
    encoding: &'static Encoding,
    needles: &Needles,
    protection: &Protection,
    base: &Url,
    judged: &[Range<u64>],
    buf: &mut [u8],
) -> Result<Vec<Problem>, PageError> {
    input.seek(SeekFrom::Start(0))?;
    let mut hits = needles.find(input, buf)?;
    hits.retain(|&h| !inside(judged, h));
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    input.seek(SeekFrom::Start(0))?;
    let contexts = contexts(input, encoding, &hits, buf)?;
    let mut problems = Vec::new();
    for (range, context) in contexts {
        let from = hits.partition_point(|&h| h < range.start);
        let to = hits.partition_point(|&h| h < range.end);
        judge(
            input,
            encoding,
            protection,
            base,
            (&range, context),
            &hits[from..to],
            &mut problems,
        )?;
    }
    Ok(problems)
}

/// The unsigned protected references of a script, data file or feed served at `url`, whose
/// text is written as `context` says, outside the values in `judged` (sorted by start), which
/// were signed where they are.
pub(crate) fn in_file<R: Read + Seek>(
    input: &mut R,
    needles: &Needles,
    protection: &Protection,
    url: &Url,
    judged: &[Range<u64>],
    context: Context,
    buf: &mut [u8],
) -> io::Result<Vec<Problem>> {
    input.seek(SeekFrom::Start(0))?;
    let mut hits = needles.find(input, buf)?;
    hits.retain(|&h| !inside(judged, h));
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let end = input.seek(SeekFrom::End(0))?;
    let mut problems = Vec::new();
    let whole = (&(0..end), context);
    let utf8 = encoding_rs::UTF_8;
    judge(input, utf8, protection, url, whole, &hits, &mut problems)?;
    Ok(problems)
}

/// Whether `at` lies in one of `ranges` (sorted by start, not overlapping).
fn inside(ranges: &[Range<u64>], at: u64) -> bool {
    let i = ranges.partition_point(|r| r.start <= at);
    i > 0 && ranges[i - 1].contains(&at)
}

/// The attribute values, and the text of scripts and styles, that hold one of `hits`, in page
/// order.
fn contexts<R: Read>(
    input: &mut R,
    encoding: &'static Encoding,
    hits: &[u64],
    buf: &mut [u8],
) -> Result<Vec<(Range<u64>, Context)>, PageError> {
    let holds = |r: &Range<usize>| {
        let i = hits.partition_point(|&h| h < r.start as u64);
        i < hits.len() && hits[i] < r.end as u64
    };
    let found = RefCell::new(Vec::new());
    // A text node comes in chunks: its range is theirs together.
    let open = RefCell::new(None::<Range<usize>>);
    let code_text = |chunk: &mut TextChunk<'_>| {
        let r = chunk.source_location().bytes();
        let mut open = open.borrow_mut();
        let node = open.get_or_insert(r.clone());
        node.end = node.end.max(r.end);
        if chunk.last_in_text_node() {
            let node = open.take().expect("just set");
            if holds(&node) {
                found
                    .borrow_mut()
                    .push((node.start as u64..node.end as u64, Context::Code));
            }
        }
        Ok(())
    };
    let any: Selector = "*".parse().expect("built-in selector");
    let script: Selector = "script".parse().expect("built-in selector");
    let style: Selector = "style".parse().expect("built-in selector");
    let settings = Settings::new()
        .with_encoding(AsciiCompatibleEncoding::new(encoding).expect("checked by charset::detect"))
        .append_element_content_handler((
            std::borrow::Cow::Borrowed(&any),
            ElementContentHandlers::default().element(|el: &mut Element<'_, '_>| {
                for attr in el.attributes() {
                    if !may_be_fetched(el, &attr.name()) {
                        continue;
                    }
                    if let Some(loc) = attr.value_source_location() {
                        let r = loc.bytes();
                        if holds(&r) {
                            let r = r.start as u64..r.end as u64;
                            found.borrow_mut().push((r, Context::Attribute));
                        }
                    }
                }
                Ok(())
            }),
        ))
        .append_element_content_handler((
            std::borrow::Cow::Borrowed(&script),
            ElementContentHandlers::default().text(code_text),
        ))
        .append_element_content_handler((
            std::borrow::Cow::Borrowed(&style),
            ElementContentHandlers::default().text(code_text),
        ));
    let mut parser = HtmlRewriter::new(settings, |_: &[u8]| {});
    loop {
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        // The scan parsed this page already; a second parse cannot fail where the first passed.
        parser
            .write(&buf[..n])
            .map_err(|e| PageError::Parser(e.to_string()))?;
    }
    parser.end().map_err(|e| PageError::Parser(e.to_string()))?;
    let mut found = found.into_inner();
    found.sort_by_key(|(r, _)| r.start);
    Ok(found)
}

/// Whether the URL in attribute `name` of `el` may be fetched by a browser, a crawler or a
/// script: any attribute but those that name a URL without fetching it (`<base href>`, the
/// `src` of an `<input>` that is not an image button, the content of a `<meta>` that is not an
/// image).
fn may_be_fetched(el: &Element<'_, '_>, name: &str) -> bool {
    let is = |attr: &str, value: &str| {
        el.get_attribute(attr)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    match (el.tag_name().as_str(), name) {
        ("base", "href") => false,
        ("input", "src") => is("type", "image"),
        ("meta", "content") => ["property", "name", "itemprop"].iter().any(|a| {
            el.get_attribute(a)
                .is_some_and(|v| v.to_ascii_lowercase().contains("image"))
        }),
        _ => true,
    }
}

/// Widens each of `hits` (inside `range`) to its URL and adds the protected, unsigned ones to
/// `problems`.
fn judge<R: Read + Seek>(
    input: &mut R,
    encoding: &'static Encoding,
    protection: &Protection,
    base: &Url,
    (range, context): (&Range<u64>, Context),
    hits: &[u64],
    problems: &mut Vec<Problem>,
) -> io::Result<()> {
    let mut last_end = 0u64;
    for &hit in hits {
        if hit < last_end {
            continue; // inside the URL of an earlier occurrence
        }
        let from = hit.saturating_sub(MAX_URL as u64).max(range.start);
        let to = (hit + MAX_URL as u64).min(range.end);
        let mut window = Vec::with_capacity((to - from) as usize);
        input.seek(SeekFrom::Start(from))?;
        input.by_ref().take(to - from).read_to_end(&mut window)?;
        let token = token_at(&window, (hit - from) as usize);
        last_end = from + token.end as u64;
        let written = encoding
            .decode_without_bom_handling(&window[token.clone()])
            .0;
        let text = match context {
            Context::Attribute => htmlize::unescape_attribute(written.as_ref()).into_owned(),
            Context::Code => unescape_code(&written),
        };
        let Ok(mut url) = resolve(&text, base, encoding) else {
            continue;
        };
        if context == Context::Code
            && is_bare_path(&text)
            && !protection.protects(&url)
            && let Ok(rooted) = base.join("/").and_then(|root| root.join(&text))
        {
            // Bundlers write `publicPath + "assets/a.png"`: the root's, not the script's.
            url = rooted;
        }
        if protection.protects(&url) && !Reference::split(&text).was_signed {
            problems.push(Problem {
                offset: from + token.start as u64,
                url: written.into_owned(),
                refusal: Refusal::UnsignedReference {
                    target: crate::core::urls::target_of(&url),
                },
            });
        }
    }
    Ok(())
}

/// Whether `text` is a path relative to its folder without dot segments (`assets/a.png`), not
/// one from the root (`/a.png`), a parent (`../a.png`) or a URL with a scheme.
fn is_bare_path(text: &str) -> bool {
    let first = text.split('/').next().unwrap_or("");
    !first.is_empty() && !first.starts_with('.') && !first.contains(':')
}

/// The bytes around `at` in `text` that belong to the same URL: left over scheme, host and path
/// characters, right up to a quote, a space, a bracket or an escape that is not `\/` or `\u`,
/// without trailing punctuation.
fn token_at(text: &[u8], at: usize) -> Range<usize> {
    let left = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/@%+\\".contains(&b);
    let mut start = at;
    while start > 0 && left(text[start - 1]) {
        start -= 1;
    }
    let mut end = at;
    while end < text.len() {
        let b = text[end];
        if b == b'\\' {
            match text.get(end + 1) {
                Some(b'/' | b'u') => end += 2,
                _ => break,
            }
            continue;
        }
        if b <= b' ' || b == 0x7F || b"\"'`<>(){}[]|^".contains(&b) {
            break;
        }
        end += 1;
    }
    while end > at + 1 && b".,;:!".contains(&text[end - 1]) {
        end -= 1;
    }
    start..end.min(text.len())
}

/// `text` with JavaScript's and JSON's `\/` and `\uXXXX` escapes decoded.
fn unescape_code(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let unicode = rest
            .get(2..6)
            .filter(|_| rest.as_bytes().get(1) == Some(&b'u'))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        if let Some(c) = unicode {
            out.push(c);
            rest = &rest[6..];
        } else if rest.as_bytes().get(1) == Some(&b'/') {
            out.push('/');
            rest = &rest[2..];
        } else {
            out.push('\\');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing;
    use encoding_rs::UTF_8;

    fn protection() -> Protection {
        Protection::new(
            testing::prefixes(&["/media/", "https://img.example.com/"]),
            Vec::new(),
            &["png", "jpg"],
        )
    }

    fn found(page: &str, judged: &[Range<u64>]) -> Vec<(String, u64)> {
        let p = protection();
        let needles = Needles::new(&p);
        let base = Url::parse("https://www.example.com/blog/").unwrap();
        let mut buf = vec![0u8; 7]; // tiny reads: occurrences across chunk boundaries
        in_page(
            &mut io::Cursor::new(page.as_bytes()),
            UTF_8,
            &needles,
            &p,
            &base,
            judged,
            &mut buf,
        )
        .unwrap()
        .into_iter()
        .map(|p| (p.url, p.offset))
        .collect()
    }

    #[test]
    fn scripts_data_and_unrewritten_attributes_are_reported() {
        let page = r#"<a href="/media/big.jpg?w=1&amp;h=2">x</a><a href="../media/rel.png">r</a>
<script>const hero = "https://img.example.com/hero.png"; fetch('/media/data.json');</script>
<script type="application/json">{"src":"https:\/\/img.example.com\/p\/a.png","x":"\u002Fmedia\u002Fb.jpg"}</script>
<div style="background:url(/media/bg.png)"></div>"#;
        let urls: Vec<String> = found(page, &[]).into_iter().map(|(u, _)| u).collect();
        assert_eq!(
            urls,
            [
                "/media/big.jpg?w=1&amp;h=2",
                "../media/rel.png",
                "https://img.example.com/hero.png",
                "https:\\/\\/img.example.com\\/p\\/a.png",
                "/media/bg.png",
            ]
        );
    }

    #[test]
    fn judged_values_comments_prose_and_signed_urls_are_not() {
        let page = r#"<img src="/media/a.png"><!-- <img src="/media/old.png"> -->
<p>Our pictures live in /media/cat.png on the server.</p>
<script>var a = "/media/s.png?exp=1715133600&kid=k1&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
var other = "https://other.org/media/x.png"; var css = "/media/style.css";
var near = "social-media/x.png";</script>"#;
        let judged = [Range { start: 10, end: 22 }];
        assert_eq!(found(page, &judged), []);
    }

    #[test]
    fn offsets_point_at_the_start_of_the_url() {
        let page = "<script>\nlet u = \"https://img.example.com/a.jpg\";\n</script>";
        let at = page.find("https://").unwrap() as u64;
        assert_eq!(
            found(page, &[]),
            [("https://img.example.com/a.jpg".into(), at)]
        );
    }

    #[test]
    fn data_files_are_searched_whole() {
        let p = protection();
        let needles = Needles::new(&p);
        let url = Url::parse("https://www.example.com/_next/data.json").unwrap();
        let text = r#"{"a":"/media/a.png","b":"/media/b.css","c":"\/media\/c.jpg"}"#;
        let problems = in_file(
            &mut io::Cursor::new(text.as_bytes()),
            &needles,
            &p,
            &url,
            &[],
            Context::Code,
            &mut [0u8; 64],
        )
        .unwrap();
        let urls: Vec<_> = problems.iter().map(|p| p.url.as_str()).collect();
        assert_eq!(urls, ["/media/a.png", "\\/media\\/c.jpg"]);
    }

    #[test]
    fn tokens_end_at_quotes_spaces_and_trailing_punctuation() {
        let t = |s: &str, at: usize| {
            let r = token_at(s.as_bytes(), at);
            s[r].to_owned()
        };
        assert_eq!(t("see /media/a.png.", 4), "/media/a.png");
        assert_eq!(
            t("x='//img.example.com/a.png?w=1&h=2'", 3),
            "//img.example.com/a.png?w=1&h=2"
        );
        assert_eq!(
            t("url(https://img.example.com/a.png)", 12),
            "https://img.example.com/a.png"
        );
        assert_eq!(
            t(r#""https:\/\/img.example.com\/a.png\""#, 7),
            r"https:\/\/img.example.com\/a.png"
        );
        assert_eq!(
            unescape_code(r"https:\/\/x\/a\u0026b\\n"),
            r"https://x/a&b\\n"
        );
    }
}
