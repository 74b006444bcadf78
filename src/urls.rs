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

impl MatchPrefix {
    /// Parses an absolute prefix (`https://img.example.com/`, `//img.example.com/`) or a path on
    /// `base_url`'s origin (`/media/`).
    pub fn parse(text: &str, base_url: &Url) -> Result<MatchPrefix, String> {
        let url = if text.starts_with('/') {
            // A path (or a protocol-relative URL) means that place on base_url's origin/scheme.
            base_url
                .join(text)
                .map_err(|e| format!("not a valid path ({e})"))?
        } else {
            Url::parse(text).map_err(|_| {
                "write an absolute prefix such as \"https://img.example.com/\" or a path starting with '/' such as \"/media/\"".to_owned()
            })?
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http:// and https:// prefixes can be signed".into());
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the prefix has no host")?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("a prefix must not have a query or #fragment".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a prefix must not have a user name or password".into());
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

    /// Whether `url` lies under this prefix: same host and port, http or https, and a path that
    /// continues the prefix at a segment boundary.
    pub fn matches(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && url.host_str() == Some(self.host.as_str())
            && url.port() == self.port
            && under_path(url.path(), &self.path)
    }
}

fn under_path(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
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

/// A reference (an attribute's URL after character-reference decoding) split so that the
/// signature triple can be replaced without touching anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Leading spaces and controls, which the URL parser strips; kept as written.
    pub lead: &'a str,
    /// Everything before the query.
    pub head: &'a str,
    /// The query without `?` and without a trailing signature triple; `None` when empty.
    pub query: Option<&'a str>,
    /// `#…`, or empty.
    pub fragment: &'a str,
    /// Trailing spaces and controls; kept as written.
    pub trail: &'a str,
    /// Whether a signature triple was removed.
    pub was_signed: bool,
}

/// C0 controls and space: what the WHATWG URL parser strips from both ends.
fn is_c0_or_space(c: char) -> bool {
    c <= ' '
}

impl<'a> Reference<'a> {
    /// Splits `text` into its parts (SPEC §2: an existing trailing `exp`/`kid`/`sig` triple is
    /// removed; an empty query is dropped).
    pub fn split(text: &'a str) -> Reference<'a> {
        let body_start = text.len() - text.trim_start_matches(is_c0_or_space).len();
        let body_end = text.trim_end_matches(is_c0_or_space).len().max(body_start);
        let (lead, body, trail) = (
            &text[..body_start],
            &text[body_start..body_end],
            &text[body_end..],
        );
        let (before_fragment, fragment) = body.split_at(body.find('#').unwrap_or(body.len()));
        let (head, query) = match before_fragment.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (before_fragment, None),
        };
        let (query, was_signed) = match query {
            Some(q) => match strip_signature(q) {
                Some(rest) => (rest, true),
                None => (q, false),
            },
            None => ("", false),
        };
        let query = (!query.is_empty()).then_some(query);
        Reference {
            lead,
            head,
            query,
            fragment,
            trail,
            was_signed,
        }
    }

    /// The reference without signature, spaces or fragment: what the manifest calls the original.
    pub fn unsigned(&self) -> String {
        match self.query {
            Some(q) => format!("{}?{q}{}", self.head, self.fragment),
            None => format!("{}{}", self.head, self.fragment),
        }
    }
}

/// The first parameter of `query` whose name, percent-decoded, is `exp`, `kid` or `sig`. Signers
/// refuse such a query and verifiers reject it: an edge reading or stripping parameters by name
/// would act on the wrong one.
pub fn reserved_parameter(query: &str) -> Option<String> {
    query
        .split('&')
        .map(|param| percent_decode(param.split('=').next().unwrap_or("")))
        .find(|name| matches!(name.as_str(), "exp" | "kid" | "sig"))
}

/// If `query` ends with a well-formed `exp=…&kid=…&sig=…`, the query before it.
fn strip_signature(query: &str) -> Option<&str> {
    let mut parts = query.rsplitn(4, '&');
    let sig = parts.next()?.strip_prefix("sig=")?;
    let kid = parts.next()?.strip_prefix("kid=")?;
    let exp = parts.next()?.strip_prefix("exp=")?;
    let rest = parts.next().unwrap_or("");
    let ok = valid_exp(exp) && crate::keys::valid_kid(kid) && valid_sig(sig);
    ok.then_some(rest)
}

/// `exp` form: decimal digits, no sign, no leading zero, at most 10 digits.
pub fn valid_exp(exp: &str) -> bool {
    (1..=10).contains(&exp.len())
        && exp.bytes().all(|b| b.is_ascii_digit())
        && !(exp.len() > 1 && exp.starts_with('0'))
}

/// `sig` form: exactly 43 base64url characters.
pub fn valid_sig(sig: &str) -> bool {
    sig.len() == 43
        && sig
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decodes `%XX` sequences (invalid UTF-8 becomes U+FFFD); `+` stays as it is.
pub fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// Decodes `%XX` sequences into bytes; `+` and malformed escapes stay as they are.
pub fn percent_decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
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

    #[test]
    fn split_keeps_every_part() {
        let r = Reference::split(" /a.jpg?w=1#top\n");
        assert_eq!(
            (r.lead, r.head, r.query, r.fragment, r.trail),
            (" ", "/a.jpg", Some("w=1"), "#top", "\n")
        );
        assert!(!r.was_signed);
        assert_eq!(r.unsigned(), "/a.jpg?w=1#top");
    }

    #[test]
    fn split_drops_an_empty_query() {
        let r = Reference::split("a.jpg?");
        assert_eq!((r.head, r.query), ("a.jpg", None));
        let r = Reference::split("a.jpg?#f");
        assert_eq!((r.head, r.query, r.fragment), ("a.jpg", None, "#f"));
    }

    #[test]
    fn split_strips_a_trailing_signature() {
        let sig = "A".repeat(43);
        let text = format!("/a.jpg?w=1&exp=1715004000&kid=k1&sig={sig}#x");
        let r = Reference::split(&text);
        assert_eq!(
            (r.query, r.fragment, r.was_signed),
            (Some("w=1"), "#x", true)
        );
        let text = format!("/a.jpg?exp=1715004000&kid=k1&sig={sig}");
        let r = Reference::split(&text);
        assert_eq!((r.query, r.was_signed), (None, true));
    }

    #[test]
    fn malformed_or_misplaced_triples_are_reserved_parameters() {
        let sig = "A".repeat(43);
        for text in [
            format!("/a.jpg?exp=0123&kid=k1&sig={sig}"),
            format!("/a.jpg?exp=1&kid=k1&sig={}", &sig[1..]),
            format!("/a.jpg?exp=1&kid=k1&sig={sig}&w=1"),
            "/a.jpg?sig=1".to_owned(),
            "/a.jpg?w=1&%6Bid=x".to_owned(),
            "/a.jpg?exp".to_owned(),
        ] {
            let query = Reference::split(&text).query.unwrap_or("");
            assert!(reserved_parameter(query).is_some(), "{text}");
        }
        assert_eq!(reserved_parameter("expiry=1&skid=2"), None);
    }

    #[test]
    fn exp_and_sig_forms() {
        assert!(valid_exp("1715004000") && valid_exp("0") && valid_exp("9"));
        assert!(
            !valid_exp("")
                && !valid_exp("01")
                && !valid_exp("17150040000")
                && !valid_exp("+1")
                && !valid_exp("1e9")
        );
        assert!(valid_sig(
            &"a-_9".repeat(10)[..40].to_owned().repeat(2)[..43]
        ));
        assert!(!valid_sig(&"a".repeat(44)) && !valid_sig(&format!("{}=", "a".repeat(42))));
    }
}
