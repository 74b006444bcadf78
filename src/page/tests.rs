//! The page layer's behaviour, through its public entry points: every target, every byte kept,
//! base URLs, noscript, encodings, chunk boundaries, and the refresh script.

use std::io::{self, Read, Seek, SeekFrom};

use encoding_rs::UTF_8;
use url::Url;

use super::*;
use crate::core::testing::{self, PROTECTED};

const EXP: u64 = 1_715_004_000;

fn rewriter(options: Options) -> Rewriter {
    Rewriter::new(testing::signer("k1", EXP, &PROTECTED), options)
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
fn signs_icons_links_and_svg_references() {
    let html = r##"<link rel="icon" href="/media/fav.png"><link rel="SHORTCUT Icon" href="/media/fav.ico">
<link rel="apple-touch-icon" sizes="180x180" href="/media/touch.png"><link rel="mask-icon" href="/media/mask.svg" color="#000">
<link rel="prefetch" href="/media/next.png" as="image"><link rel="Prefetch" href="/media/any.png">
<svg><use href="/media/sprite.svg#logo"/><use xlink:href="/media/sprite.svg#menu"></use>
<filter><feImage href="/media/tex.png"/></filter></svg><use href="/media/not-svg.svg#x"></use>
<a href="/media/full.png"><img src="/media/thumb.png"></a><a href="/blog/">blog</a><map><area href="/media/map.png"></map>"##;
    let (_, scan) = rewrite_with(Options::default(), html);
    // Links to pages are not image URLs left alone.
    assert_eq!(scan.left_alone, 0);
    let out = unsig(&rewrite(html));
    assert_eq!(
        out,
        r##"<link rel="icon" href="/media/fav.png?✓"><link rel="SHORTCUT Icon" href="/media/fav.ico?✓">
<link rel="apple-touch-icon" sizes="180x180" href="/media/touch.png?✓"><link rel="mask-icon" href="/media/mask.svg?✓" color="#000">
<link rel="prefetch" href="/media/next.png?✓" as="image"><link rel="Prefetch" href="/media/any.png?✓">
<svg><use href="/media/sprite.svg?✓#logo"/><use xlink:href="/media/sprite.svg?✓#menu"></use>
<filter><feImage href="/media/tex.png?✓"/></filter></svg><use href="/media/not-svg.svg#x"></use>
<a href="/media/full.png?✓"><img src="/media/thumb.png?✓"></a><a href="/blog/">blog</a><map><area href="/media/map.png?✓"></map>"##
    );
}

#[test]
fn leaves_non_targets_alone() {
    let html = r#"<a name="/media/a.jpg">x</a><link rel="stylesheet" href="/media/s.css">
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
        refresh: None,
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
        assert!(
            scan.problems[0]
                .refusal
                .to_string()
                .contains("byte order mark")
        );
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

const TAG: &str = r#"<script src="/rendorix-sw.js" async data-rendorix-refresh></script>"#;

fn refresh(every_page: bool) -> Options {
    Options {
        refresh: Some(Refresh {
            tag: TAG.into(),
            every_page,
        }),
        ..Options::default()
    }
}

#[test]
fn the_refresh_tag_goes_once_at_the_end_of_the_head_never_inside_svg_or_template() {
    // The first signed image is inside <svg>, then one inside <template>: the tag stays in the
    // head, where it runs (a script in SVG is SVG's, in a template inert).
    let html = "<!doctype html><html><head><title>t</title></head><body>\
                <svg><image href=/media/s.png /></svg><template><img src=/media/t.jpg></template>\
                <noscript><img src=/media/n.jpg></noscript></body></html>";
    let (once, scan) = rewrite_with(refresh(false), html);
    assert_eq!(
        once.replace(TAG, "[TAG]").split("?exp").next().unwrap(),
        "<!doctype html><html><head><title>t</title>[TAG]</head><body><svg><image href=\"/media/s.png"
    );
    assert_eq!(once.matches("data-rendorix-refresh").count(), 1);
    assert_eq!(scan.edits.iter().filter(|e| e.raw).count(), 1);
    // Signing again keeps the one tag; off, or with nothing signed, there is none.
    let (twice, scan) = rewrite_with(refresh(false), &once);
    assert_eq!(twice, once);
    assert!(scan.edits.is_empty());
    assert!(!rewrite(html).contains("<script"));
    let (plain, _) = rewrite_with(refresh(false), "<head></head><img src=/other.jpg>");
    assert!(!plain.contains("<script"), "{plain}");
}

#[test]
fn without_a_head_end_the_tag_goes_where_the_parser_opens_the_head() {
    let img = "<img src=/media/a.jpg>";
    for (page, before) in [
        (
            format!("<!doctype html><html lang=en><head><meta charset=utf-8>{img}"),
            "<meta",
        ),
        (
            format!("<!doctype html><html lang=en><body>{img}"),
            "<body>",
        ),
        (format!("<!doctype html><html lang=en>{img}"), "<img"),
        (img.to_owned(), "<img"),
        (format!("\u{FEFF}{img}"), "<img"),
    ] {
        let (out, _) = rewrite_with(refresh(false), &page);
        let at = out.find(TAG).unwrap_or_else(|| panic!("{out}"));
        assert!(out[at + TAG.len()..].starts_with(before), "{out}");
        assert_eq!(out.replace(TAG, ""), rewrite(&page), "{page}");
    }
}

#[test]
fn another_refresh_tag_is_replaced_and_off_removes_it() {
    let old = "<!doctype html><head></head><p><script data-rendorix-refresh>(function(){})();</script>\
               <img src=/media/a.jpg>";
    let (out, _) = rewrite_with(refresh(false), old);
    assert_eq!(out.matches("data-rendorix-refresh").count(), 1);
    assert!(
        out.starts_with(&format!("<!doctype html><head>{TAG}</head><p><img src=")),
        "{out}"
    );
    let (off, scan) = rewrite_with(Options::default(), &out);
    assert!(!off.contains("<script"), "{off}");
    assert!(scan.edits.iter().any(|e| e.raw && e.value.is_empty()));
}

#[test]
fn every_page_gets_the_tag_when_scripts_render_protected_images() {
    let page = "<!doctype html><head></head><body><p>no image</p>";
    let (none, _) = rewrite_with(refresh(false), page);
    assert_eq!(none, page);
    let (every, scan) = rewrite_with(refresh(true), page);
    assert_eq!(
        every,
        format!("<!doctype html><head>{TAG}</head><body><p>no image</p>")
    );
    assert!(scan.signed.is_empty());
}

#[test]
fn undecodable_bytes_before_a_style_url_keep_its_place() {
    // Invalid UTF-8 decodes to U+FFFD, three bytes for one: the edit must still replace the
    // URL's own bytes, and every other byte stays.
    let page = b"<style>p{x:\xff\xfe\x92} a{background:url(/media/a.jpg)}</style><p>\xe2\x82</p>";
    let (out, scan) = rewrite_bytes(&rewriter(Options::default()), page, &page_url()).unwrap();
    let out = out.expect("signed");
    assert_eq!(scan.edits.len(), 1);
    let at = b"url(/media/a.jpg".len() + page.windows(4).position(|w| w == b"url(").unwrap();
    assert_eq!(out[..at], page[..at]);
    assert!(out[at..].starts_with(b"?exp=1715004000&kid=k1&sig="));
    assert_eq!(out[at + 27 + 43..], page[at..]);
}
