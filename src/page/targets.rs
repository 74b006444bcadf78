//! Which elements and attributes hold the URLs a browser fetches as images (spec §5 and §13),
//! with HTML's rules for them: case-insensitive keywords, `<image>` outside SVG being an `<img>`,
//! SVG's `href` and `xlink:href` only on elements in the SVG namespace.
//! The scanner asks [`visit`] what to do with each element a [`selectors`] entry matched.

use lol_html::Selector;
use lol_html::html_content::Element;

/// What to rewrite, beyond the default targets.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Attribute names rewritten on any element (`data-src`; names ending in `srcset` are
    /// parsed as srcset).
    pub extra_attributes: Vec<String>,
    /// Also sign `<meta property="og:image">` / `<meta name="twitter:image">` content.
    pub social_meta: bool,
    /// The `[refresh]` tag pages get; `None`: pages get none, and lose one they hold.
    pub refresh: Option<Refresh>,
}

/// The element that loads the refresh worker (`[refresh]`, docs/client-navigation.md), and
/// which pages get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    /// The element, as inserted at the end of the page's `<head>`; it carries the
    /// `data-rendorix-refresh` attribute, by which a later run finds it.
    pub tag: String,
    /// Every page gets it, not only those with signed URLs: the site renders protected images
    /// from scripts (a client-side router), on whatever page a visitor arrived.
    pub every_page: bool,
}

const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// What a selector matched.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Base,
    Img,
    PictureSource,
    Link,
    Video,
    Input,
    SvgImage,
    SvgReference,
    Meta,
    Extra(usize),
    RefreshScript,
    Html,
    Head,
    Body,
    Style,
    Anchor,
}

/// How an attribute's value holds its URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One URL.
    Url,
    /// A `srcset` list of candidates.
    Srcset,
    /// CSS declarations (a `style` attribute): their `url()`s.
    Css,
    /// A link's one URL: fetched when followed, so signed when protected, and otherwise not
    /// counted among the image URLs left alone.
    Link,
}

/// The elements that place the refresh tag: at the end of `<head>`, or where the parser opens
/// the head when its tags are left out. Never inside `<svg>` or `<template>`, where a script is
/// inert or parsed as something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Landmark {
    Html,
    Head,
    Body,
}

/// What the scanner does with an element.
#[derive(Debug)]
pub(crate) enum Visit<'o> {
    /// The first one sets the document's base URL.
    Base,
    /// A refresh tag, from this run or an earlier one.
    RefreshScript,
    /// An element that says where the refresh tag can go.
    Landmark(Landmark),
    /// Rewrite these attributes, when present.
    Attributes([Option<(&'o str, Kind)>; 2]),
}

/// The selectors of every target that `options` asks for, parsed once per run.
pub(crate) fn selectors(options: &Options) -> Vec<(Selector, Target)> {
    let sel = |s: &str| s.parse::<Selector>().expect("built-in selector");
    let mut selectors = vec![
        (sel("base[href]"), Target::Base),
        (sel("img"), Target::Img),
        (sel("picture source[srcset]"), Target::PictureSource),
        (sel("link"), Target::Link),
        (sel("video[poster]"), Target::Video),
        (sel("input[src]"), Target::Input),
        (sel("image"), Target::SvgImage),
        // lol_html matches names case-insensitively, so `feimage` is SVG's `feImage`.
        (sel("use"), Target::SvgReference),
        (sel("feimage"), Target::SvgReference),
    ];
    selectors.push((sel("[style]"), Target::Style));
    selectors.push((sel("a[href]"), Target::Anchor));
    selectors.push((sel("area[href]"), Target::Anchor));
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
    // Found also when refresh is off, so that turning it off removes it.
    selectors.push((sel("script[data-rendorix-refresh]"), Target::RefreshScript));
    if options.refresh.is_some() {
        selectors.push((sel("html"), Target::Html));
        selectors.push((sel("head"), Target::Head));
        selectors.push((sel("body"), Target::Body));
    }
    selectors
}

/// What to do with `el`, which the selector of `target` matched.
pub(crate) fn visit<'o>(el: &Element<'_, '_>, target: Target, options: &'o Options) -> Visit<'o> {
    let one = |name: &'o str, kind| Visit::Attributes([Some((name, kind)), None]);
    let two = |a: &'o str, b: &'o str, kind_b| {
        Visit::Attributes([Some((a, Kind::Url)), Some((b, kind_b))])
    };
    let none = Visit::Attributes([None, None]);
    #[allow(clippy::match_same_arms)] // one arm per element, as the spec lists them
    match target {
        Target::Base => Visit::Base,
        Target::RefreshScript => Visit::RefreshScript,
        Target::Html => Visit::Landmark(Landmark::Html),
        Target::Head => Visit::Landmark(Landmark::Head),
        Target::Body => Visit::Landmark(Landmark::Body),
        Target::Img => two("src", "srcset", Kind::Srcset),
        Target::PictureSource => one("srcset", Kind::Srcset),
        Target::Link if is_image_preload(el) => two("href", "imagesrcset", Kind::Srcset),
        Target::Link if is_icon(el) || has_rel(el, "prefetch") => one("href", Kind::Url),
        Target::Video => one("poster", Kind::Url),
        Target::Input if attr_is(el, "type", "image") => one("src", Kind::Url),
        Target::SvgImage if el.namespace_uri() == SVG_NS => two("href", "xlink:href", Kind::Url),
        // Outside SVG the tree builder renames <image> to <img>, so browsers fetch it as one.
        Target::SvgImage => two("src", "srcset", Kind::Srcset),
        Target::SvgReference if el.namespace_uri() == SVG_NS => {
            two("href", "xlink:href", Kind::Url)
        }
        Target::Meta if is_social_image(el) => one("content", Kind::Url),
        Target::Style => one("style", Kind::Css),
        Target::Anchor => one("href", Kind::Link),
        Target::Extra(i) => {
            let name = options.extra_attributes[i].as_str();
            let kind = if name.ends_with("srcset") {
                Kind::Srcset
            } else {
                Kind::Url
            };
            one(name, kind)
        }
        Target::Link | Target::Input | Target::Meta | Target::SvgReference => none,
    }
}

fn attr_is(el: &Element<'_, '_>, name: &str, value: &str) -> bool {
    el.get_attribute(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

/// `link[rel~=preload][as=image]`, with HTML's case-insensitive keywords.
fn is_image_preload(el: &Element<'_, '_>) -> bool {
    attr_is(el, "as", "image") && has_rel(el, "preload")
}

/// Whether `rel` holds `keyword` (HTML keywords are case-insensitive).
fn has_rel(el: &Element<'_, '_>, keyword: &str) -> bool {
    el.get_attribute("rel").is_some_and(|rel| {
        rel.split_ascii_whitespace()
            .any(|t| t.eq_ignore_ascii_case(keyword))
    })
}

/// The `rel` keywords whose `href` the browser fetches as an icon: `icon` (with or without
/// `shortcut`), Apple's touch icons and Safari's pinned-tab mask.
pub(crate) fn is_icon(el: &Element<'_, '_>) -> bool {
    [
        "icon",
        "apple-touch-icon",
        "apple-touch-icon-precomposed",
        "mask-icon",
    ]
    .iter()
    .any(|k| has_rel(el, k))
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
