//! URLs in CSS (spec §13): `url(…)`, quoted or not, and the strings of `image-set(…)`, found by
//! `cssparser` (the CSS Syntax tokenizer Servo and Firefox use; `lol_html` already depends on it),
//! with the byte range of each URL's text so that only that text is replaced. Comments, strings
//! elsewhere, `@import` and every other byte are left as written.
//!
//! A replacement is written back escaped for where it stands: inside quotes, `\` and the quote
//! are escaped; unquoted, also spaces, quotes and parentheses. A URL written without escapes (the
//! usual case) therefore keeps every byte it had and only gains its signature.

use std::fmt::Write as _;
use std::ops::Range;

use cssparser::{Parser, ParserInput, Token};

/// How deep nested blocks are searched; deeper ones (which no real stylesheet has) are skipped
/// rather than risk the stack.
const MAX_DEPTH: usize = 64;

/// A URL written in CSS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CssUrl {
    /// Where its text is: inside the quotes, or inside `url(` and `)` without the spaces.
    pub(crate) range: Range<usize>,
    /// Its value, CSS escapes decoded.
    pub(crate) value: String,
    /// The quote it is written in; `None` in an unquoted `url()`.
    pub(crate) quote: Option<char>,
}

/// Every URL of `css`, in order.
pub(crate) fn urls(css: &str) -> Vec<CssUrl> {
    let mut input = ParserInput::new(css);
    let mut parser = Parser::new(&mut input);
    let mut out = Vec::new();
    walk(&mut parser, Context::Plain, 0, &mut out);
    out
}

/// What the strings of a block are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Not URLs.
    Plain,
    /// Inside `url(`: its one string is the URL.
    Url,
    /// Inside `image-set(`: every string is a URL.
    ImageSet,
}

fn walk(parser: &mut Parser<'_, '_>, context: Context, depth: usize, out: &mut Vec<CssUrl>) {
    loop {
        let start = parser.position();
        let token = match parser.next_including_whitespace_and_comments() {
            Ok(token) => token.clone(),
            Err(_) => return,
        };
        let end = parser.position();
        let text_start = start.byte_index();
        match token {
            Token::UnquotedUrl(value) => {
                let written = parser.slice(start..end);
                out.push(CssUrl {
                    range: unquoted_range(written, text_start),
                    value: value.to_string(),
                    quote: None,
                });
            }
            Token::QuotedString(value) if context != Context::Plain => {
                let written = parser.slice(start..end);
                let quote = written.chars().next();
                let closed = written.len() >= 2 && written.ends_with(quote.unwrap_or('"'));
                let inner_end = if closed {
                    end.byte_index() - 1
                } else {
                    end.byte_index()
                };
                out.push(CssUrl {
                    range: text_start + 1..inner_end,
                    value: value.to_string(),
                    quote,
                });
            }
            Token::Function(name) if depth < MAX_DEPTH => {
                let inner = if name.eq_ignore_ascii_case("url") {
                    Context::Url
                } else if name.eq_ignore_ascii_case("image-set")
                    || name.eq_ignore_ascii_case("-webkit-image-set")
                {
                    Context::ImageSet
                } else {
                    Context::Plain
                };
                let _ = parser.parse_nested_block(|p| {
                    walk(p, inner, depth + 1, out);
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
            }
            Token::ParenthesisBlock | Token::SquareBracketBlock | Token::CurlyBracketBlock
                if depth < MAX_DEPTH =>
            {
                let _ = parser.parse_nested_block(|p| {
                    walk(p, Context::Plain, depth + 1, out);
                    Ok::<(), cssparser::ParseError<'_, ()>>(())
                });
            }
            _ => {}
        }
    }
}

/// The range of the URL inside `written` (`url(  a.png )`), which starts at `at`.
fn unquoted_range(written: &str, at: usize) -> Range<usize> {
    let open = written.find('(').map_or(0, |i| i + 1);
    let body = &written[open..];
    let body = body.strip_suffix(')').unwrap_or(body);
    let lead = body.len() - body.trim_start_matches(is_css_space).len();
    let inner = body.trim_matches(is_css_space);
    let start = at + open + lead;
    start..start + inner.len()
}

fn is_css_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

/// `value` written for a URL in `quote` (`None`: an unquoted `url()`), escaped as CSS needs.
pub(crate) fn escape(value: &str, quote: Option<char>) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        let needs = match quote {
            Some(q) => c == q || c == '\\' || c == '\n' || c == '\r' || c == '\x0C',
            None => {
                c == '\\'
                    || c == '"'
                    || c == '\''
                    || c == '('
                    || c == ')'
                    || c.is_ascii_whitespace()
                    || c.is_control()
            }
        };
        if !needs {
            out.push(c);
        } else if c.is_control() || c.is_ascii_whitespace() {
            // A hex escape ends at the space that follows it.
            let _ = write!(out, "\\{:x} ", u32::from(c));
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(css: &str) -> Vec<(&str, String, Option<char>)> {
        urls(css)
            .into_iter()
            .map(|u| (&css[u.range.clone()], u.value, u.quote))
            .collect()
    }

    #[test]
    fn quoted_unquoted_and_image_set_urls_are_found_with_their_text() {
        let css = r#"a { background: url( /m/a.png ) } b{background:url("/m/b.png")}
c { background-image: image-set("/m/c.avif" type("image/avif") 1x, url('/m/d.png') 2x) }
d { background: -webkit-image-set('/m/e.png' 1x) } e { mask: URL(/m/f.svg#i) }"#;
        assert_eq!(
            found(css),
            [
                ("/m/a.png", "/m/a.png".into(), None),
                ("/m/b.png", "/m/b.png".into(), Some('"')),
                ("/m/c.avif", "/m/c.avif".into(), Some('"')),
                ("/m/d.png", "/m/d.png".into(), Some('\'')),
                ("/m/e.png", "/m/e.png".into(), Some('\'')),
                ("/m/f.svg#i", "/m/f.svg#i".into(), None),
            ]
        );
    }

    #[test]
    fn comments_other_strings_and_imports_are_not_urls() {
        let css = r#"/* url(/m/x.png) */ a::after { content: "/m/y.png" }
@import "/m/s.css"; b { font-family: "url(/m/z.png)" }"#;
        assert!(found(css).is_empty(), "{:?}", found(css));
    }

    #[test]
    fn escapes_are_decoded_and_kept_in_the_text() {
        let css = r#"a { background: url(/m/a\ b.png) } b { background: url("/m/c\"d.png") }"#;
        assert_eq!(
            found(css),
            [
                (r"/m/a\ b.png", "/m/a b.png".into(), None),
                (r#"/m/c\"d.png"#, "/m/c\"d.png".into(), Some('"')),
            ]
        );
    }

    #[test]
    fn values_are_escaped_for_their_place() {
        assert_eq!(escape("/m/a.png?exp=1&kid=k", None), "/m/a.png?exp=1&kid=k");
        assert_eq!(escape("/m/a b(1).png", None), r"/m/a\20 b\(1\).png");
        assert_eq!(escape("/m/a\"b'.png", Some('"')), r#"/m/a\"b'.png"#);
        assert_eq!(escape("/m/a\"b'.png", Some('\'')), r#"/m/a"b\'.png"#);
        // What is escaped reads back as the value.
        for (value, quote) in [("/m/a b(1)\\.png", None), ("/m/\"'\\.png", Some('"'))] {
            let css = match quote {
                Some(q) => format!("a{{b:url({q}{}{q})}}", escape(value, quote)),
                None => format!("a{{b:url({})}}", escape(value, quote)),
            };
            assert_eq!(urls(&css)[0].value, value, "{css}");
        }
    }

    #[test]
    fn deep_nesting_does_not_exhaust_the_stack() {
        let css = format!(
            "{}url(/m/a.png){}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(urls(&css).len() <= 1);
        let shallow = format!("{}url(/m/a.png){}", "(".repeat(10), ")".repeat(10));
        assert_eq!(urls(&shallow).len(), 1);
    }
}
