//! The whole page rewrite on arbitrary bytes: no panic; every edit replaces one attribute value
//! or one URL of a `<style>` element's CSS, and only adds signatures to it (CSS escapes aside),
//! or inserts the refresh tag between tags, or removes another refresh tag; so every other byte
//! is unchanged; the output parses again and signing it again changes nothing (a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rendorix::core::keys::Key;
use rendorix::core::sign::Signer;
use rendorix::core::urls::MatchPrefix;
use rendorix::page::{Options, Refresh, Rewriter, rewrite_bytes};
use url::Url;

const EXP: u64 = 1_715_133_600;
const TAG: &str = r#"<script src="/rendorix-sw.js" async data-rendorix-refresh></script>"#;

fn rewriter() -> Rewriter {
    let site = Url::parse("https://www.example.com/").unwrap();
    let signer = Signer::new(
        Key::from_secret("k2026a", &[7u8; 32]).unwrap(),
        EXP,
        ["/media/", "https://img.example.com/"]
            .map(|m| MatchPrefix::parse(m, &site).unwrap())
            .to_vec(),
    );
    let options = Options {
        extra_attributes: vec!["data-src".into(), "data-srcset".into()],
        social_meta: true,
        refresh: Some(Refresh {
            tag: TAG.into(),
            every_page: false,
        }),
    };
    Rewriter::new(signer, options)
}

/// `s` without signature triples, and without a '?' left with nothing after it: what a value
/// was before signing, whether or not it had been signed already.
fn unsigned(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("exp=") {
        let (before, from) = rest.split_at(at);
        match triple_len(from) {
            Some(len) if before.ends_with(['?', '&']) => {
                out.push_str(&before[..before.len() - 1]);
                if before.ends_with('?') {
                    out.push('?');
                }
                rest = &from[len..];
            }
            _ => {
                out.push_str(before);
                out.push_str("exp=");
                rest = &from[4..];
            }
        }
    }
    out.push_str(rest);
    // "a.jpg?" and "a.jpg" sign to the same URL; a URL ends at a separator, a quote or the
    // `)` of a CSS `url()`.
    let mut clean = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        let ends = chars
            .peek()
            .is_none_or(|n| matches!(n, '#' | ',' | '&' | ')' | '"' | '\'') || *n <= ' ');
        if !(c == '?' && ends) {
            clean.push(c);
        }
    }
    clean
}

/// `old` and `new` differ only by signatures: as written, or (for CSS, whose replaced URLs
/// are written with escapes of their own) once CSS escapes are decoded.
fn assert_same_url(old: &str, new: &str, at: usize) {
    if unsigned(old) != unsigned(new) {
        assert_eq!(
            unsigned(&css_unescape(old)),
            unsigned(&css_unescape(new)),
            "value at {at}"
        );
    }
}

/// `s` with CSS escapes decoded (CSS Syntax §4.3.7): `\` and up to six hex digits with one
/// optional whitespace after them, an escaped newline dropped, `\` and any other character.
fn css_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
            hex.push(chars.next().unwrap());
        }
        if !hex.is_empty() {
            let n = u32::from_str_radix(&hex, 16).unwrap();
            out.push(match char::from_u32(n) {
                Some(c) if n != 0 => c,
                _ => '\u{FFFD}',
            });
            if chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                chars.next();
            }
        } else {
            match chars.next() {
                Some('\n') | None => {}
                Some(c) => out.push(c),
            }
        }
    }
    out
}

/// Length of `exp=<digits>&kid=<kid>&sig=<43 chars>` at the start of `s`.
fn triple_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 4;
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += digits;
    if digits == 0 || !s[i..].starts_with("&kid=") {
        return None;
    }
    i += 5;
    let base64url = |from: usize| {
        b[from..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
            .count()
    };
    let kid = base64url(i);
    i += kid;
    if kid == 0 || !s[i..].starts_with("&sig=") {
        return None;
    }
    i += 5;
    (base64url(i) >= 43).then_some(i + 43)
}

fuzz_target!(|page: &[u8]| {
    let rewriter = rewriter();
    let page_url = Url::parse("https://www.example.com/blog/post/").unwrap();
    let Ok((out, scan)) = rewrite_bytes(&rewriter, page, &page_url) else {
        return;
    };
    let Some(out) = out else {
        assert!(scan.edits.is_empty());
        return;
    };
    let encoding = scan.encoding.unwrap_or(encoding_rs::UTF_8);
    let mut previous_end = 0;
    for edit in &scan.edits {
        let (start, end) = (edit.range.start as usize, edit.range.end as usize);
        assert!(previous_end <= start && start <= end && end <= page.len());
        previous_end = end;
        let (text, _) = encoding.decode_without_bom_handling(&page[start..end]);
        if edit.raw && start == end {
            // Only the refresh tag is inserted, between tags, with nothing removed.
            assert_eq!(edit.value, TAG);
            assert!(
                start == 0 || start == 3 || page[start - 1] == b'>' || page[start] == b'<',
                "insertion at {start}"
            );
            continue;
        }
        if edit.raw && edit.value.is_empty() {
            // Another refresh tag, removed whole.
            let removed = String::from_utf8_lossy(&page[start..end]).to_ascii_lowercase();
            assert!(removed.starts_with("<script"), "removal at {start}");
            assert!(
                removed.contains("data-rendorix-refresh"),
                "removal at {start}"
            );
            continue;
        }
        if edit.raw {
            // A URL of a `<style>` element, its text between quotes or inside `url()`.
            assert_same_url(&text, &edit.value, start);
            continue;
        }
        // The edit covers exactly one attribute value (quoted or not) ...
        let before = page[..start]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace());
        assert!(
            matches!(before, Some(b'"' | b'\'' | b'=')),
            "edit at {start} does not start a value"
        );
        // ... and changes it only by adding signatures.
        let old = htmlize::unescape_attribute(text.as_ref());
        assert_same_url(&old, &edit.value, start);
    }
    // The output parses, and its URLs are all signed already: signing again changes nothing.
    let (again, rescan) = rewrite_bytes(&rewriter, &out, &page_url).expect("output parses");
    assert!(
        again.is_none(),
        "second pass edited {:?}",
        rescan.edits.iter().map(|e| &e.value).collect::<Vec<_>>()
    );
});
