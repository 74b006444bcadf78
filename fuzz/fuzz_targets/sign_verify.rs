//! Signing and verifying arbitrary references: no panic; whatever is signed verifies, as a full
//! URL and as the request target a browser sends; the text only gains the triple; and changing
//! any byte of a signed request is rejected. Arbitrary text given to `verify` never panics.
#![no_main]

use encoding_rs::UTF_8;
use libfuzzer_sys::fuzz_target;
use rendorix::core::keys::{Key, Keys};
use rendorix::core::policy::Outcome;
use rendorix::core::sign::Signer;
use rendorix::core::triple::Reference;
use rendorix::core::urls::MatchPrefix;
use rendorix::core::verify::{Limits, verify};
use url::Url;

const NOW: u64 = 1_715_000_000;
const EXP: u64 = 1_715_133_600;

fuzz_target!(|data: (&str, u16, u8)| {
    let (text, pick, replacement) = data;
    let key = Key::from_secret("k2026a", &[7u8; 32]).unwrap();
    let keys = Keys::from_keys(vec![key.clone()]);
    let limits = Limits::default();
    let _ = verify(text, NOW, &keys, limits);

    let site = Url::parse("https://www.example.com/blog/post/").unwrap();
    let matches = ["/media/", "https://img.example.com/"]
        .map(|m| MatchPrefix::parse(m, &site).unwrap())
        .to_vec();
    let signer = Signer::new(key, EXP, matches);
    let Outcome::Signed(s) = signer.sign(text, &site, UTF_8) else {
        return;
    };
    // Only the triple is added (and an empty query's lone '?' dropped).
    let r = Reference::split(&s.text);
    assert!(r.was_signed, "{:?}", s.text);
    assert_eq!(r.unsigned(), s.original);
    assert_eq!(Reference::split(text).unsigned(), s.original);

    // What the browser requests verifies.
    let url = site.join(s.text.trim_matches(|c: char| c <= ' ')).unwrap();
    let target = format!("{}?{}", url.path(), url.query().unwrap());
    assert!(verify(url.as_str(), NOW, &keys, limits).is_ok(), "{url}");
    assert!(verify(&target, NOW, &keys, limits).is_ok(), "{target}");
    assert!(target.len() <= rendorix::core::verify::MAX_TARGET_LEN);

    // Any single changed byte is refused.
    let i = pick as usize % target.len();
    if target.as_bytes()[i] != replacement
        && target.is_char_boundary(i)
        && target.is_char_boundary(i + 1)
        && replacement.is_ascii()
        && replacement != b'#'
    {
        let mut tampered = target.clone().into_bytes();
        tampered[i] = replacement;
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(
            verify(&tampered, NOW, &keys, limits).is_err(),
            "{tampered} accepted"
        );
    }
});
