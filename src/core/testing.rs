//! What the unit tests of every layer build their signers from: one site, its usual protected
//! prefixes, and keys with well-known (and so never secret) bytes.

use url::Url;

use crate::core::keys::Key;
use crate::core::sign::Signer;
use crate::core::urls::MatchPrefix;

/// The site every unit test signs for.
pub(crate) const SITE: &str = "https://www.example.com/";

/// The prefixes most tests protect: an image host and a path on the site.
pub(crate) const PROTECTED: [&str; 2] = ["https://img.example.com/", "/media/"];

/// [`SITE`], parsed.
pub(crate) fn site() -> Url {
    Url::parse(SITE).expect("a valid URL")
}

/// Key `kid` with 32 bytes of 7: the tests' usual signing key.
pub(crate) fn key(kid: &str) -> Key {
    Key::from_secret(kid, &[7u8; 32]).expect("a valid key")
}

/// `texts` as prefixes on [`SITE`].
pub(crate) fn prefixes(texts: &[&str]) -> Vec<MatchPrefix> {
    texts
        .iter()
        .map(|t| MatchPrefix::parse(t, &site()).expect("a valid prefix"))
        .collect()
}

/// A signer with [`key`] `kid` that writes `exp` into URLs under `protected`.
pub(crate) fn signer(kid: &str, exp: u64, protected: &[&str]) -> Signer {
    Signer::new(key(kid), exp, prefixes(protected))
}
