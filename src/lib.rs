//! rendorix signs the image URLs of a static site at build time.
//!
//! After a site generator has written its output folder, every image URL under a protected
//! prefix (`img src`, `srcset`, `picture source`, preload links, …) is rewritten into a signed
//! URL carrying `exp`, `kid` and `sig`, which a CDN edge verifies before serving the image. The
//! pipeline, one module per stage:
//!
//! [`config`] → [`keys`] → [`walk`] (find pages, write atomically; [`folders`] lets `resign`
//! skip unchanged folders) → [`rewrite`] (scan with lol_html; [`charset`] decides the encoding,
//! [`srcset`] splits candidates) → [`sign`] (the message and its HMAC, resolved by [`urls`]) →
//! [`manifest`] and [`report`]; [`cli`] wires them.
//!
//! Signing one page in memory:
//!
//! ```
//! use rendorix::keys::Key;
//! use rendorix::rewrite::{Options, Rewriter, rewrite_bytes};
//! use rendorix::sign::Signer;
//! use rendorix::urls::MatchPrefix;
//! use url::Url;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let site = Url::parse("https://www.example.com/")?;
//! let key = Key::from_secret("k2026a", &[7u8; 32])?; // use 32 random bytes: `rendorix keygen`
//! let protected = vec![MatchPrefix::parse("/media/", &site)?];
//! let rewriter = Rewriter::new(Signer::new(key, 1_715_004_000, protected), Options::default());
//!
//! let page = br#"<img src="/media/cat.jpg?w=640" alt="cat">"#;
//! let (signed, scan) = rewrite_bytes(&rewriter, page, &Url::parse("https://www.example.com/blog/")?)?;
//! let signed = String::from_utf8(signed.expect("the page had a protected URL"))?;
//!
//! assert!(signed.starts_with(r#"<img src="/media/cat.jpg?w=640&amp;exp=1715004000&amp;kid=k2026a&amp;sig="#));
//! assert!(signed.ends_with(r#"" alt="cat">"#));
//! assert_eq!(scan.signed[0].target, "/media/cat.jpg?w=640");
//! # Ok(())
//! # }
//! ```

pub mod charset;
pub mod check;
pub mod cli;
pub mod config;
pub mod folders;
pub mod keys;
pub mod manifest;
pub mod report;
pub mod rewrite;
pub mod serve;
pub mod sign;
pub mod srcset;
pub mod urls;
pub mod verify;
pub mod walk;
