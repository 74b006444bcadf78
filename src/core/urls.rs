//! URL resolution and matching: which references are protected, and what the browser requests.
//!
//! All resolution goes through the `url` crate, which implements the WHATWG URL standard exactly
//! as browsers do (percent-encoding, dot segments, `\` in http paths, stripped controls). Prefixes
//! are compared on parsed URLs, never on raw strings, so `img.example.com.evil.org` or
//! `/mediafile.jpg` cannot pass for `img.example.com` or `/media/`.

use std::borrow::Cow;
use std::path::Path;

use encoding_rs::{Encoding, UTF_8};
use url::Url;

/// Resolves `text` against `base` as a browser does in a page encoded in `encoding`: the query
/// of an http(s) URL is encoded in the page's encoding, everything else in UTF-8.
pub fn resolve(
    text: &str,
    base: &Url,
    encoding: &'static Encoding,
) -> Result<Url, url::ParseError> {
    let encode: &dyn Fn(&str) -> Cow<'_, [u8]> = &|s| encoding.encode(s).0;
    let options = Url::options().base_url(Some(base));
    if encoding == UTF_8 {
        options.parse(text)
    } else {
        options.encoding_override(Some(encode)).parse(text)
    }
}

/// One `sign.match` entry: an origin (scheme-agnostic between http and https) and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchPrefix {
    host: String,
    port: Option<u16>,
    path: String,
}

/// Why a `sign.match` entry is not a prefix that can be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixError {
    /// A path that the URL parser refuses.
    BadPath(url::ParseError),
    /// Neither an absolute URL nor a path starting with `/`.
    NotAbsolute,
    /// A scheme other than http and https.
    NotHttp,
    /// No host.
    NoHost,
    /// A query or a fragment.
    QueryOrFragment,
    /// A user name or password.
    Credentials,
}

impl std::fmt::Display for PrefixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrefixError::BadPath(e) => write!(f, "not a valid path ({e})"),
            PrefixError::NotAbsolute => f.write_str(
                "write an absolute prefix such as \"https://img.example.com/\" or a path starting with '/' such as \"/media/\"",
            ),
            PrefixError::NotHttp => f.write_str("only http:// and https:// prefixes can be signed"),
            PrefixError::NoHost => f.write_str("the prefix has no host"),
            PrefixError::QueryOrFragment => {
                f.write_str("a prefix must not have a query or #fragment")
            }
            PrefixError::Credentials => {
                f.write_str("a prefix must not have a user name or password")
            }
        }
    }
}

impl std::error::Error for PrefixError {}

impl MatchPrefix {
    /// Parses an absolute prefix (`https://img.example.com/`, `//img.example.com/`) or a path on
    /// `base_url`'s origin (`/media/`).
    pub fn parse(text: &str, base_url: &Url) -> Result<MatchPrefix, PrefixError> {
        let url = if text.starts_with('/') {
            // A path (or a protocol-relative URL) means that place on base_url's origin/scheme.
            base_url.join(text).map_err(PrefixError::BadPath)?
        } else {
            Url::parse(text).map_err(|_| PrefixError::NotAbsolute)?
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PrefixError::NotHttp);
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(PrefixError::NoHost)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(PrefixError::QueryOrFragment);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PrefixError::Credentials);
        }
        Ok(MatchPrefix {
            host: host.to_owned(),
            port: url.port(),
            path: url.path().to_owned(),
        })
    }

    /// The prefix's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The prefix's port, when not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The prefix's path, as serialized (it starts with `/`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether `url` lies under this prefix: same host and port, http or https, and a path that
    /// continues the prefix at a segment boundary.
    pub fn matches(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && url.host_str() == Some(self.host.as_str())
            && url.port() == self.port
            && under_path(url.path(), &self.path)
    }
}

impl MatchPrefix {
    /// Whether some URL lies under both this prefix and `other`: same origin, and one path
    /// continues the other.
    pub fn overlaps(&self, other: &MatchPrefix) -> bool {
        self.host == other.host
            && self.port == other.port
            && (under_path(&self.path, &other.path) || under_path(&other.path, &self.path))
    }
}

fn under_path(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The request target a browser sends for `url`: its path, and its query unless empty (as
/// [`crate::core::policy::SignedUrl::target`], for a URL without signature).
pub fn target_of(url: &Url) -> String {
    match url.query() {
        Some(q) if !q.is_empty() => format!("{}?{q}", url.path()),
        _ => url.path().to_owned(),
    }
}

/// The URL a page is served at: `base_url` + its path relative to the site folder, with a
/// trailing `index.html` / `index.htm` replaced by its folder (`blog/x/index.html` -> `/blog/x/`).
pub fn page_url(base_url: &Url, relative: &Path) -> Url {
    let mut url = base_url.clone();
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    {
        let mut segments = url
            .path_segments_mut()
            .expect("http(s) base_url has a path");
        segments.pop_if_empty();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let is_index = last
                && (part.eq_ignore_ascii_case("index.html")
                    || part.eq_ignore_ascii_case("index.htm"));
            // push() percent-encodes, so a file named "a b?.html" becomes "a%20b%3F.html".
            segments.push(if is_index { "" } else { part });
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://www.example.com/").unwrap()
    }

    fn prefix(text: &str) -> MatchPrefix {
        MatchPrefix::parse(text, &base()).unwrap()
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn host_prefix_matches_both_schemes_and_normalized_hosts() {
        let p = prefix("https://img.example.com/");
        assert!(p.matches(&url("https://img.example.com/a.jpg")));
        assert!(p.matches(&url("http://img.example.com/a.jpg")));
        assert!(p.matches(&url("https://IMG.Example.COM:443/a.jpg")));
        assert!(!p.matches(&url("https://img.example.com:8443/a.jpg")));
        assert!(!p.matches(&url("https://img.example.com.evil.org/a.jpg")));
        assert!(!p.matches(&url("https://evil.org/img.example.com/a.jpg")));
        assert!(!p.matches(&url("ftp://img.example.com/a.jpg")));
    }

    #[test]
    fn path_prefix_matches_on_segment_boundaries_of_the_base_origin() {
        let p = prefix("/media/");
        assert!(p.matches(&url("https://www.example.com/media/a.jpg")));
        assert!(p.matches(&url("http://www.example.com/media/x/y.png")));
        assert!(!p.matches(&url("https://www.example.com/mediafile.jpg")));
        assert!(!p.matches(&url("https://img.example.com/media/a.jpg")));
        let p = prefix("/media");
        assert!(p.matches(&url("https://www.example.com/media/a.jpg")));
        assert!(p.matches(&url("https://www.example.com/media")));
        assert!(!p.matches(&url("https://www.example.com/mediafile.jpg")));
    }

    #[test]
    fn prefix_paths_are_normalized_like_urls() {
        let p = prefix("/a/../media/");
        assert!(p.matches(&url("https://www.example.com/media/a.jpg")));
        let p = prefix("//img.example.com/x/");
        assert!(p.matches(&url("https://img.example.com/x/a.jpg")));
    }

    #[test]
    fn bad_prefixes_are_refused() {
        let b = base();
        assert!(MatchPrefix::parse("media/", &b).is_err());
        assert!(MatchPrefix::parse("data:image/png,", &b).is_err());
        assert!(MatchPrefix::parse("https://img.example.com/?x=1", &b).is_err());
        assert!(MatchPrefix::parse("https://u:p@img.example.com/", &b).is_err());
    }

    #[test]
    fn page_urls_drop_index_and_encode_segments() {
        let b = url("https://example.com/docs/");
        assert_eq!(
            page_url(&b, Path::new("index.html")).as_str(),
            "https://example.com/docs/"
        );
        assert_eq!(
            page_url(&b, Path::new("blog/x/index.html")).as_str(),
            "https://example.com/docs/blog/x/"
        );
        assert_eq!(
            page_url(&b, Path::new("blog/x/INDEX.HTM")).as_str(),
            "https://example.com/docs/blog/x/"
        );
        assert_eq!(
            page_url(&b, Path::new("a b?/p#1.html")).as_str(),
            "https://example.com/docs/a%20b%3F/p%231.html"
        );
        assert_eq!(
            page_url(&b, Path::new("über.html")).as_str(),
            "https://example.com/docs/%C3%BCber.html"
        );
    }
}
