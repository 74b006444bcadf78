//! The signature triple `exp`, `kid`, `sig` (spec §2): its forms, and splitting a reference so
//! that a trailing triple can be replaced without touching anything else.

use crate::core::keys::valid_kid;

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
    /// Splits `text` into its parts (spec §2: an existing trailing `exp`/`kid`/`sig` triple is
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
    let ok = valid_exp(exp) && valid_kid(kid) && valid_sig(sig);
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
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
#[cfg(test)]
mod tests {
    use super::*;

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
