//! The protection rules (spec §12): which URLs are protected, so that the signer signs them,
//! `check` audits them, and `serve` and every edge demand a signature for them. One rule set
//! decides for all of them, so no verifier can protect more (or less) than the site signs.
//!
//! A URL is protected when it lies under a `sign.match` prefix, under no `sign.exclude` prefix,
//! and, when `sign.extensions` is not empty, its last path segment, percent-decoded, ends in
//! one of the extensions (any letter case). Generators put CSS, JavaScript and fonts in the same
//! folders as images (`/_astro/`, `/assets/`, `/_next/static/`): the extensions keep those out.

use url::Url;

use crate::core::urls::MatchPrefix;

/// The rule set of a site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    matches: Vec<MatchPrefix>,
    exclude: Vec<MatchPrefix>,
    /// Lower case, without the dot; empty: any path.
    extensions: Vec<String>,
}

impl Protection {
    /// URLs under `matches`, not under `exclude`, with one of `extensions` (any letter case, with
    /// or without a leading dot; none: any path).
    pub fn new(
        matches: Vec<MatchPrefix>,
        exclude: Vec<MatchPrefix>,
        extensions: &[impl AsRef<str>],
    ) -> Protection {
        let extensions = extensions
            .iter()
            .map(|e| {
                let e = e.as_ref();
                e.strip_prefix('.').unwrap_or(e).to_ascii_lowercase()
            })
            .collect();
        Protection {
            matches,
            exclude,
            extensions,
        }
    }

    /// Whether `url` is protected.
    pub fn protects(&self, url: &Url) -> bool {
        self.matches.iter().any(|m| m.matches(url))
            && !self.exclude.iter().any(|m| m.matches(url))
            && self.has_protected_extension(url.path())
    }

    /// Whether the last segment of `path` (percent-decoded) ends in one of the extensions.
    fn has_protected_extension(&self, path: &str) -> bool {
        if self.extensions.is_empty() {
            return true;
        }
        let last = path.rsplit('/').next().unwrap_or("");
        let last = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
        last.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty() && self.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext))
        })
    }

    /// The `match` prefixes.
    pub fn matches(&self) -> &[MatchPrefix] {
        &self.matches
    }

    /// The `exclude` prefixes.
    pub fn exclude(&self) -> &[MatchPrefix] {
        &self.exclude
    }

    /// The extensions (lower case, without the dot); empty when any path is protected.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

impl From<Vec<MatchPrefix>> for Protection {
    /// Every URL under `matches`, whatever its extension.
    fn from(matches: Vec<MatchPrefix>) -> Protection {
        Protection::new(matches, Vec::new(), &[] as &[&str])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing;

    fn rules(matches: &[&str], exclude: &[&str], extensions: &[&str]) -> Protection {
        Protection::new(
            testing::prefixes(matches),
            testing::prefixes(exclude),
            extensions,
        )
    }

    fn protected(rules: &Protection, url: &str) -> bool {
        rules.protects(&Url::parse(url).unwrap())
    }

    const IMAGES: [&str; 7] = ["avif", "webp", "png", "jpg", "jpeg", "gif", "svg"];

    #[test]
    fn extensions_keep_styles_and_scripts_out_of_an_image_folder() {
        let r = rules(&["/_astro/"], &[], &IMAGES);
        for yes in [
            "https://www.example.com/_astro/hero.Bq3x.webp",
            "https://www.example.com/_astro/a/LOGO.PNG",
            "https://www.example.com/_astro/a.jp%67",
            "http://www.example.com/_astro/x.svg",
        ] {
            assert!(protected(&r, yes), "{yes}");
        }
        for no in [
            "https://www.example.com/_astro/index.Cz1.css",
            "https://www.example.com/_astro/page.js",
            "https://www.example.com/_astro/font.woff2",
            "https://www.example.com/_astro/",
            "https://www.example.com/_astro/.png",
            "https://www.example.com/_astro/png",
            "https://www.example.com/_astro/a.png/",
            "https://www.example.com/_astro/a.png.css",
            "https://www.example.com/other/a.png",
        ] {
            assert!(!protected(&r, no), "{no}");
        }
    }

    #[test]
    fn the_query_and_fragment_do_not_count_as_an_extension() {
        let r = rules(&["/media/"], &[], &IMAGES);
        assert!(!protected(
            &r,
            "https://www.example.com/media/img.php?f=a.png"
        ));
        assert!(protected(&r, "https://www.example.com/media/a.png?w=640#x"));
    }

    #[test]
    fn exclude_wins_on_a_segment_boundary() {
        let r = rules(
            &["/media/", "https://img.example.com/"],
            &["/media/public/"],
            &[],
        );
        assert!(!protected(&r, "https://www.example.com/media/public/a.jpg"));
        assert!(!protected(
            &r,
            "https://WWW.example.com:443/media/public/x/a.jpg"
        ));
        assert!(protected(
            &r,
            "https://www.example.com/media/publicity/a.jpg"
        ));
        assert!(protected(&r, "https://www.example.com/media/a.jpg"));
        assert!(protected(&r, "https://img.example.com/media/public/a.jpg"));
    }

    #[test]
    fn extensions_are_normalized() {
        let r = rules(&["/media/"], &[], &[".JPG", "Png"]);
        assert_eq!(r.extensions(), ["jpg", "png"]);
        assert!(protected(&r, "https://www.example.com/media/a.jpg"));
    }

    #[test]
    fn without_extensions_every_path_under_a_prefix_is_protected() {
        let r: Protection = testing::prefixes(&["/media/"]).into();
        assert!(protected(&r, "https://www.example.com/media/anything"));
        assert!(protected(&r, "https://www.example.com/media/"));
    }
}
