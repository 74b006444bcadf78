//! Properties that must hold for every input, checked on generated cases (proptest shrinks any
//! counterexample to a small one).

use std::fmt::Write as _;

use proptest::prelude::*;
use rendorix::core::keys::{Key, Keys};
use rendorix::core::policy::Outcome;
use rendorix::core::sign::Signer;
use rendorix::core::srcset;
use rendorix::core::urls::MatchPrefix;
use rendorix::core::verify::{Limits, verify};
use rendorix::page::{Options, Rewriter, rewrite_bytes};
use url::Url;

const NOW: u64 = 1_715_000_000;
const EXP: u64 = 1_715_133_600;

fn key() -> Key {
    Key::from_secret("k2026a", &[7u8; 32]).unwrap()
}

fn base() -> Url {
    Url::parse("https://www.example.com/blog/post/").unwrap()
}

fn signer() -> Signer {
    let site = Url::parse("https://www.example.com/").unwrap();
    Signer::new(
        key(),
        EXP,
        vec![
            MatchPrefix::parse("/media/", &site).unwrap(),
            MatchPrefix::parse("https://img.example.com/", &site).unwrap(),
        ],
    )
}

/// References in the forms pages use, with awkward characters in path and query.
fn reference() -> impl Strategy<Value = String> {
    let segment = "[a-zA-Z0-9 ._~%é,()'@!-]{1,12}";
    let query = prop::option::of("[a-zA-Z0-9=&%+ ,é._-]{0,20}");
    let fragment = prop::option::of("[a-z0-9]{0,6}");
    let form = prop::sample::select(vec![
        "/media/",
        "https://img.example.com/",
        "//img.example.com/",
        "../../media/",
        "https://IMG.example.com:443/",
    ]);
    (form, prop::collection::vec(segment, 1..4), query, fragment).prop_map(
        |(form, segments, query, fragment)| {
            let mut r = format!("{form}{}", segments.join("/"));
            if let Some(q) = query {
                r.push('?');
                r.push_str(&q);
            }
            if let Some(f) = fragment {
                r.push('#');
                r.push_str(&f);
            }
            r
        },
    )
}

fn signed(reference: &str) -> Option<String> {
    match signer().sign(reference, &base(), encoding_rs::UTF_8) {
        Outcome::Signed(s) => Some(s.text),
        _ => None,
    }
}

/// The request target a browser sends for `reference` on the page.
fn request(reference: &str) -> (String, String) {
    let url = base().join(reference).unwrap();
    (url.path().to_owned(), url.query().unwrap_or("").to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// Signing changes what the browser requests only by appending the triple to the query.
    #[test]
    fn signing_only_appends_the_triple(r in reference()) {
        let Some(s) = signed(&r) else { return Ok(()) };
        let (path, query) = request(&r);
        let (signed_path, signed_query) = request(&s);
        prop_assert_eq!(&signed_path, &path);
        // The original query, then '&' when it was not empty, then the triple.
        let at = signed_query.rfind("exp=").unwrap();
        let expected = if query.is_empty() { String::new() } else { format!("{query}&") };
        prop_assert_eq!(&signed_query[..at], expected.as_str());
        let triple = format!("exp={EXP}&kid=k2026a&sig=");
        prop_assert!(signed_query[at..].starts_with(&triple));
        // And the signed request verifies.
        let keys = Keys::from_keys(vec![key()]);
        let target = format!("{signed_path}?{signed_query}");
        prop_assert!(verify(&target, NOW, &keys, Limits::default()).is_ok());
    }

    /// Changing any byte of the signed request target is rejected.
    #[test]
    fn tampering_any_byte_is_rejected(r in reference(), pick in any::<prop::sample::Index>(), replacement in 0x21u8..0x7f) {
        let Some(s) = signed(&r) else { return Ok(()) };
        let (path, query) = request(&s);
        let target = format!("{path}?{query}");
        let i = pick.index(target.len());
        prop_assume!(target.as_bytes()[i] != replacement && target.is_char_boundary(i) && target.is_char_boundary(i + 1));
        let mut tampered = target.clone().into_bytes();
        tampered[i] = replacement;
        let tampered = String::from_utf8(tampered).unwrap();
        let keys = Keys::from_keys(vec![key()]);
        prop_assert!(verify(&tampered, NOW, &keys, Limits::default()).is_err(), "{} accepted", tampered);
    }

    /// Signing a page twice gives the same bytes as signing it once.
    #[test]
    fn sign_after_sign_is_a_fixed_point(refs in prop::collection::vec(reference(), 1..6), srcset_refs in prop::collection::vec(reference(), 0..4)) {
        let mut page = String::from("<!doctype html><p>text</p>\n");
        for r in &refs {
            let _ = writeln!(page, "<img src=\"{}\" alt=x>", r.replace('&', "&amp;").replace('"', "&quot;"));
        }
        let candidates: Vec<String> = srcset_refs.iter().filter(|r| !r.contains([' ', ','])).map(|r| format!("{} 2x", r.replace('&', "&amp;"))).collect();
        if !candidates.is_empty() {
            let _ = writeln!(page, "<img srcset=\"{}\">", candidates.join(", "));
        }
        let rewriter = Rewriter::new(signer(), Options::default());
        let once = rewrite_bytes(&rewriter, page.as_bytes(), &base()).unwrap().0.unwrap_or_else(|| page.clone().into_bytes());
        let twice = rewrite_bytes(&rewriter, &once, &base()).unwrap().0.unwrap_or_else(|| once.clone());
        prop_assert_eq!(String::from_utf8(twice).unwrap(), String::from_utf8(once).unwrap());
    }

    /// Parsing a srcset, writing its candidates back, and parsing again gives the same candidates.
    #[test]
    fn srcset_parse_serialize_parse_is_stable(input in "[a-z0-9/.,:;() \t\n=?&xwh-]{0,60}") {
        let first = srcset::parse(&input);
        let serialized = first
            .iter()
            .map(|c| if c.descriptors.is_empty() { c.url.to_owned() } else { format!("{} {}", c.url, c.descriptors.join(" ")) })
            .collect::<Vec<_>>()
            .join(", ");
        let second = srcset::parse(&serialized);
        let urls = |cs: &[srcset::Candidate<'_>]| cs.iter().map(|c| c.url.to_owned()).collect::<Vec<_>>();
        let descs = |cs: &[srcset::Candidate<'_>]| cs.iter().map(|c| c.descriptors.join(" ")).collect::<Vec<_>>();
        prop_assert_eq!(urls(&second), urls(&first));
        prop_assert_eq!(descs(&second), descs(&first));
    }
}
