//! rendorix signs the image URLs of a static site at build time.
//!
//! After a site generator has written its output folder, every image URL under a protected
//! prefix (`img src`, `srcset`, `picture source`, preload links, …) is rewritten into a signed
//! URL carrying `exp`, `kid` and `sig`, which a CDN edge verifies before serving the image.
//!
//! The crate is built in layers, each importing only the ones below it
//! (`docs/architecture.md` has the map):
//!
//! - [`core`]: pure logic (keys, URLs, srcset, charset, signing, verification);
//! - [`page`]: one page, scanned and spliced as a stream;
//! - [`site`]: the site folder (discovery, atomic writes, the manifest);
//! - [`config`]: the config file, `rendorix.toml`;
//! - the commands and [`cli`], the thin layer the binary calls.
//!
//! Signing one page in memory, and verifying what was signed as an edge would:
//!
//! ```
//! use rendorix::core::keys::{Key, Keys};
//! use rendorix::core::sign::Signer;
//! use rendorix::core::urls::MatchPrefix;
//! use rendorix::core::verify::{Limits, verify};
//! use rendorix::page::{Options, Rewriter, rewrite_bytes};
//! use url::Url;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let site = Url::parse("https://www.example.com/")?;
//! let key = Key::from_secret("k2026a", &[7u8; 32])?; // use 32 random bytes: `rendorix keygen`
//! let protected = vec![MatchPrefix::parse("/media/", &site)?];
//! let rewriter = Rewriter::new(Signer::new(key.clone(), 1_715_004_000, protected), Options::default());
//!
//! let page = br#"<img src="/media/cat.jpg?w=640" alt="cat">"#;
//! let (signed, scan) = rewrite_bytes(&rewriter, page, &Url::parse("https://www.example.com/blog/")?)?;
//! let signed = String::from_utf8(signed.expect("the page had a protected URL"))?;
//!
//! assert!(signed.starts_with(r#"<img src="/media/cat.jpg?w=640&amp;exp=1715004000&amp;kid=k2026a&amp;sig="#));
//! assert!(signed.ends_with(r#"" alt="cat">"#));
//! assert_eq!(scan.signed[0].target, "/media/cat.jpg?w=640");
//!
//! // The browser requests the URL with `&`, and an edge verifies that request target.
//! let target = signed["<img src=\"".len()..signed.len() - "\" alt=\"cat\">".len()].replace("&amp;", "&");
//! let verified = verify(&target, 1_715_000_000, &Keys::from_keys(vec![key]), Limits::default())?;
//! assert_eq!(verified.unsigned_target, "/media/cat.jpg?w=640");
//! # Ok(())
//! # }
//! ```

pub mod cli;
mod commands;
pub mod config;
pub mod core;
pub mod error;
pub mod page;
mod report;
pub mod site;
