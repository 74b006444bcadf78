//! Feeds and sitemaps (spec §13): where an XML file holds image URLs, and how to write one back.
//!
//! `quick-xml` reads the structure, with namespaces resolved (so `media:`, `image:` or any other
//! prefix bound to the same namespace is found): RSS `<enclosure url>` and `<image><url>`,
//! Media RSS `<media:content url>` and `<media:thumbnail url>`, iTunes `<itunes:image href>`,
//! Atom `<link rel="enclosure" href>`, `<icon>` and `<logo>`, image sitemaps' `<image:loc>`,
//! and the HTML that feeds carry in RSS `<description>`, `<content:encoded>` and Atom
//! `<content type="html">` / `<summary type="html">`.
//!
//! A value's text is decoded here rather than by `quick-xml`, because a rewritten URL must
//! replace exactly the bytes that held it: [`Decoded`] keeps, for each run of decoded text, the
//! bytes it came from (a literal run, one entity or character reference, the inside of a
//! CDATA section), so an edit of the decoded text maps back to the file and every entity and
//! CDATA section around it stays as written.
//!
//! Relative URLs resolve against the file's own URL; `xml:base` is not applied.

use std::io::BufRead;
use std::ops::Range;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// What a value of the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holds {
    /// One URL.
    Url,
    /// HTML markup, as text (entity-escaped or in CDATA).
    Html,
}

/// A value of the file that holds URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value {
    /// Its bytes: inside the quotes of an attribute, or an element's whole content.
    pub range: Range<u64>,
    /// What it holds.
    pub holds: Holds,
    /// The quote around an attribute value; `None` for element content.
    pub quote: Option<u8>,
}

/// The namespaces whose elements hold URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    /// No namespace: RSS 2.0.
    None,
    Atom,
    Media,
    SitemapImage,
    Content,
    Itunes,
    Other,
}

impl Ns {
    fn of(resolved: &ResolveResult<'_>) -> Ns {
        match resolved {
            ResolveResult::Unbound => Ns::None,
            ResolveResult::Bound(ns) => match ns.as_ref() {
                "http://www.w3.org/2005/Atom" => Ns::Atom,
                "http://search.yahoo.com/mrss/" => Ns::Media,
                "http://www.google.com/schemas/sitemap-image/1.1" => Ns::SitemapImage,
                "http://purl.org/rss/1.0/modules/content/" => Ns::Content,
                "http://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Itunes,
                _ => Ns::Other,
            },
            ResolveResult::Unknown(_) => Ns::Other,
        }
    }
}

/// An element whose content is a value, while it is open.
struct Open {
    depth: usize,
    holds: Holds,
    start: u64,
}

/// Every value of the XML file read from `input` that holds URLs, in file order; or where the
/// file stops being well-formed XML, and why.
pub(crate) fn values<R: BufRead>(input: R) -> Result<Vec<Value>, (u64, String)> {
    let mut reader = NsReader::from_reader(input);
    let mut buf = Vec::new();
    let mut found = Vec::new();
    // The namespace and local name of each open element.
    let mut stack: Vec<(Ns, String)> = Vec::new();
    let mut open: Option<Open> = None;
    loop {
        let before = reader.buffer_position();
        buf.clear();
        let read = reader.read_resolved_event_into(&mut buf);
        let (ns, event) = match read {
            Ok((resolved, event)) => (Ns::of(&resolved), event),
            Err(e) => {
                let why = e.to_string();
                return Err((reader.error_position(), why));
            }
        };
        let after = reader.buffer_position();
        match event {
            Event::Empty(e) => attributes(ns, &e, before, &mut found),
            Event::Start(e) => {
                // Markup inside a value's element (Atom's XHTML content) is not text.
                open = None;
                attributes(ns, &e, before, &mut found);
                let name = e.local_name().as_ref().to_owned();
                let parent = stack.last().map(|(ns, n)| (*ns, n.as_str()));
                if let Some(holds) = content_of(ns, &name, parent, &e) {
                    open = Some(Open {
                        depth: stack.len() + 1,
                        holds,
                        start: after,
                    });
                }
                stack.push((ns, name));
            }
            Event::End(_) => {
                if let Some(o) = open.take_if(|o| o.depth == stack.len()) {
                    found.push(Value {
                        range: o.start..before,
                        holds: o.holds,
                        quote: None,
                    });
                }
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(found)
}

/// What the content of element `name` (in `ns`, inside `parent`) holds, if URLs.
fn content_of(ns: Ns, name: &str, parent: Option<(Ns, &str)>, e: &BytesStart<'_>) -> Option<Holds> {
    match (ns, name) {
        (Ns::SitemapImage, "loc") | (Ns::Atom, "icon" | "logo") => Some(Holds::Url),
        (Ns::None, "url") if parent == Some((Ns::None, "image")) => Some(Holds::Url),
        (Ns::None, "description") | (Ns::Content, "encoded") => Some(Holds::Html),
        // Atom text constructs are plain text unless typed "html".
        (Ns::Atom, "content" | "summary") if attribute(e, "type").as_deref() == Some("html") => {
            Some(Holds::Html)
        }
        _ => None,
    }
}

/// The value of the unprefixed attribute `name`, trimmed.
fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.prefix().is_none() && a.key.local_name().as_ref() == name)
        .map(|a| a.value.trim().to_owned())
}

/// Adds the URL attribute of element `e` (in `ns`, its tag read at `tag_start`) to `found`.
fn attributes(ns: Ns, e: &BytesStart<'_>, tag_start: u64, found: &mut Vec<Value>) {
    let name = match (ns, e.local_name().as_ref()) {
        (Ns::None, "enclosure") | (Ns::Media, "content" | "thumbnail") => "url",
        (Ns::Itunes, "image") => "href",
        (Ns::Atom, "link") if attribute(e, "rel").as_deref() == Some("enclosure") => "href",
        _ => return,
    };
    let content: &str = e;
    let Some(attr) = e
        .attributes()
        .flatten()
        .find(|a| a.key.prefix().is_none() && a.key.local_name().as_ref() == name)
    else {
        return;
    };
    // The value borrows from the tag's text, which starts one byte (`<`) after the tag.
    let at = attr.value.as_ptr() as usize - content.as_ptr() as usize;
    found.push(Value {
        range: tag_start + 1 + at as u64..tag_start + 1 + (at + attr.value.len()) as u64,
        holds: Holds::Url,
        quote: Some(content.as_bytes()[at - 1]),
    });
}

/// A value's text, decoded, with where each part of it came from.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The text an XML parser reports.
    pub text: String,
    runs: Vec<Run>,
    /// The offset of the value's end in the file.
    end: u64,
}

/// A run of decoded text and its source.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Where it starts in the decoded text.
    at: usize,
    /// Where its source starts in the file.
    source: u64,
    /// Its source's length; equal to its decoded length for literal text.
    source_len: u64,
    /// Whether it is literal text (as written) rather than one reference.
    literal: bool,
    /// Whether it is the inside of a CDATA section.
    cdata: bool,
}

/// How an edit of the decoded text is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// In text: `&`, `<` and `>` as entities.
    Text,
    /// Inside a CDATA section: as is.
    Cdata,
}

impl Decoded {
    /// Decodes `raw`, the bytes of a value found at `at` in the file: entity and character
    /// references, CDATA sections, comments (dropped). `None` for a reference that is not one of
    /// XML's own (a DTD's entities are not read), or a section that does not end.
    pub(crate) fn new(raw: &str, at: u64) -> Option<Decoded> {
        let mut text = String::with_capacity(raw.len());
        let mut runs: Vec<Run> = Vec::new();
        let mut literal_from = None::<usize>;
        let mut i = 0;
        let flush = |text: &mut String, runs: &mut Vec<Run>, from: Option<usize>, to: usize| {
            if let Some(from) = from
                && to > from
            {
                runs.push(Run {
                    at: text.len(),
                    source: at + from as u64,
                    source_len: (to - from) as u64,
                    literal: true,
                    cdata: false,
                });
                text.push_str(&raw[from..to]);
            }
        };
        while i < raw.len() {
            let rest = &raw[i..];
            if let Some(body) = rest.strip_prefix("<![CDATA[") {
                flush(&mut text, &mut runs, literal_from.take(), i);
                let len = body.find("]]>")?;
                runs.push(Run {
                    at: text.len(),
                    source: at + (i + 9) as u64,
                    source_len: len as u64,
                    literal: true,
                    cdata: true,
                });
                text.push_str(&body[..len]);
                i += 9 + len + 3;
            } else if let Some(comment) = rest.strip_prefix("<!--") {
                flush(&mut text, &mut runs, literal_from.take(), i);
                i += 4 + comment.find("-->")? + 3;
            } else if rest.starts_with('&') {
                flush(&mut text, &mut runs, literal_from.take(), i);
                let end = rest[..rest.len().min(12)].find(';')?;
                let c = reference(&rest[1..end])?;
                runs.push(Run {
                    at: text.len(),
                    source: at + i as u64,
                    source_len: end as u64 + 1,
                    literal: false,
                    cdata: false,
                });
                text.push(c);
                i += end + 1;
            } else {
                literal_from.get_or_insert(i);
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        flush(&mut text, &mut runs, literal_from.take(), raw.len());
        Some(Decoded {
            text,
            runs,
            end: at + raw.len() as u64,
        })
    }

    /// The run that holds decoded byte `i`, and its decoded length.
    fn run(&self, i: usize) -> Option<(&Run, usize)> {
        let n = self.runs.partition_point(|r| r.at <= i).checked_sub(1)?;
        let next = self.runs.get(n + 1).map_or(self.text.len(), |r| r.at);
        Some((&self.runs[n], next - self.runs[n].at))
    }

    /// The file's bytes that hold `range` of the decoded text, and how to escape what replaces
    /// them; `None` when the range does not lie in one text part or one CDATA section, or cuts
    /// a reference.
    pub(crate) fn source(&self, range: Range<usize>) -> Option<(Range<u64>, Escape)> {
        if range.is_empty() {
            let (at, cdata) = match self.run(range.start) {
                Some((r, len)) if range.start < r.at + len => (
                    r.literal.then(|| r.source + (range.start - r.at) as u64)?,
                    r.cdata,
                ),
                Some((r, _)) => (r.source + r.source_len, r.cdata),
                None => (self.end, false),
            };
            return Some((at..at, if cdata { Escape::Cdata } else { Escape::Text }));
        }
        let (first, _) = self.run(range.start)?;
        let (last, last_len) = self.run(range.end - 1)?;
        if first.cdata != last.cdata {
            return None;
        }
        let runs = &self.runs[self.runs.partition_point(|r| r.at < range.start)..];
        if first.cdata
            && runs
                .iter()
                .take_while(|r| r.at < range.end)
                .any(|r| r.source != first.source)
        {
            return None; // across two CDATA sections
        }
        let start = if first.literal {
            first.source + (range.start - first.at) as u64
        } else if range.start == first.at {
            first.source
        } else {
            return None;
        };
        let end = if last.literal {
            last.source + (range.end - last.at) as u64
        } else if range.end == last.at + last_len {
            last.source + last.source_len
        } else {
            return None;
        };
        let escape = if first.cdata {
            Escape::Cdata
        } else {
            Escape::Text
        };
        Some((start..end, escape))
    }
}

/// The character of an XML reference (`name` is between `&` and `;`).
fn reference(name: &str) -> Option<char> {
    let number = |digits: &str, radix| {
        u32::from_str_radix(digits, radix)
            .ok()
            .and_then(char::from_u32)
    };
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => match name.strip_prefix('#')? {
            hex if hex.starts_with(['x', 'X']) => number(&hex[1..], 16),
            dec => number(dec, 10),
        },
    }
}

/// `text` written into an XML value: as is in CDATA (`None` if it would end the section);
/// otherwise with `&`, `<`, `>` and the attribute's `quote` as entities.
pub(crate) fn escape(text: &str, escape: Escape, quote: Option<u8>) -> Option<String> {
    if escape == Escape::Cdata {
        return (!text.contains("]]>")).then(|| text.to_owned());
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quote == Some(b'"') => out.push_str("&quot;"),
            '\'' if quote == Some(b'\'') => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(xml: &str) -> Vec<(&str, Holds)> {
        values(xml.as_bytes())
            .unwrap()
            .into_iter()
            .map(|v| (&xml[v.range.start as usize..v.range.end as usize], v.holds))
            .collect()
    }

    #[test]
    fn finds_the_values_of_rss_atom_media_and_sitemaps() {
        let rss = r#"<?xml version="1.0"?>
<rss xmlns:m="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<image><url>/media/logo.png</url><title>t</title></image><url>/not-an-image</url>
<itunes:image href="/media/cover.jpg"/>
<item><description>&lt;img src="/media/a.jpg"&gt;</description>
<content:encoded><![CDATA[<img src="/media/b.jpg">]]></content:encoded>
<enclosure url='/media/c.jpg' length="1" type="image/jpeg"/>
<m:content url="/media/d.jpg" medium="image"><m:thumbnail url="/media/e.jpg"/></m:content>
</item></channel></rss>"#;
        assert_eq!(
            found(rss),
            [
                ("/media/logo.png", Holds::Url),
                ("/media/cover.jpg", Holds::Url),
                ("&lt;img src=\"/media/a.jpg\"&gt;", Holds::Html),
                ("<![CDATA[<img src=\"/media/b.jpg\">]]>", Holds::Html),
                ("/media/c.jpg", Holds::Url),
                ("/media/d.jpg", Holds::Url),
                ("/media/e.jpg", Holds::Url),
            ]
        );
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><icon>/media/i.png</icon>
<entry><link rel="alternate" href="/post/"/><link rel="enclosure" href="/media/x.png"/>
<summary>plain &lt;b&gt;</summary><content type="html">&lt;img src=&quot;/media/y.png&quot;&gt;</content>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><img src="/media/z.png"/></div></content>
</entry></feed>"#;
        assert_eq!(
            found(atom),
            [
                ("/media/i.png", Holds::Url),
                ("/media/x.png", Holds::Url),
                ("&lt;img src=&quot;/media/y.png&quot;&gt;", Holds::Html),
            ]
        );
        let sitemap = r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
<url><loc>https://example.com/</loc><image:image><image:loc>https://example.com/media/a.jpg</image:loc></image:image></url></urlset>"#;
        assert_eq!(
            found(sitemap),
            [("https://example.com/media/a.jpg", Holds::Url)]
        );
    }

    #[test]
    fn malformed_xml_is_an_error_with_its_place() {
        let err = values(&b"<rss><channel></rss>"[..]).unwrap_err();
        assert_eq!(err.0, 14, "{err:?}");
    }

    #[test]
    fn decoded_ranges_map_back_to_the_bytes_that_held_them() {
        let raw = "a&amp;b<![CDATA[<c&d>]]>&#x20;e<!-- x -->f";
        let d = Decoded::new(raw, 100).unwrap();
        assert_eq!(d.text, "a&b<c&d> ef");
        let src = |r: Range<usize>| {
            d.source(r)
                .map(|(s, e)| (&raw[(s.start - 100) as usize..(s.end - 100) as usize], e))
        };
        assert_eq!(src(0..3), Some(("a&amp;b", Escape::Text)));
        assert_eq!(src(4..7), Some(("c&d", Escape::Cdata)));
        assert_eq!(src(2..4), None, "across text and CDATA");
        assert_eq!(src(8..10), Some(("&#x20;e", Escape::Text)));
        assert_eq!(src(10..11), Some(("f", Escape::Text)));
        assert_eq!(src(3..3), Some(("", Escape::Cdata)));
        assert!(Decoded::new("&nbsp;", 0).is_none());
        assert!(Decoded::new("<![CDATA[x", 0).is_none());
    }

    #[test]
    fn escaping_follows_the_context() {
        let url = "/a.jpg?exp=1&amp;kid=k\"'<>";
        assert_eq!(
            escape(url, Escape::Text, Some(b'"')).unwrap(),
            "/a.jpg?exp=1&amp;amp;kid=k&quot;'&lt;&gt;"
        );
        assert_eq!(
            escape(url, Escape::Text, Some(b'\'')).unwrap(),
            "/a.jpg?exp=1&amp;amp;kid=k\"&apos;&lt;&gt;"
        );
        assert_eq!(escape(url, Escape::Cdata, None).unwrap(), url);
        assert_eq!(escape("a]]>b", Escape::Cdata, None), None);
    }
}
