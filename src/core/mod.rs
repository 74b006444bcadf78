//! Pure logic: no file system, no environment, no config file. Everything here is a function of
//! its arguments, so it is tested directly and shared by every layer above.
//!
//! - [`keys`]: keys and their ids; [`triple`]: the `exp`/`kid`/`sig` triple's forms;
//! - [`urls`]: resolution as the browser does it, and `match` prefixes; [`rules`]: which URLs
//!   are protected; [`srcset`] and
//!   [`charset`]: the WHATWG algorithms a page's URLs depend on;
//! - [`sign`]: the message and its HMAC; [`verify`]: the verifier's steps; [`audit`]: what
//!   `check` demands of a signed URL; [`policy`]: the trait the page layer calls, which the
//!   signer and the auditor implement;
//! - [`duration`], [`expiry`] and [`time`]: the expiry rule and how times are written;
//! - [`revocation`]: revoked paths and how edges look them up; [`shard`]: which of N jobs
//!   processes a file;
//! - the schemes CDNs verify natively, one module each ([`s3`], [`cloudfront`], [`google`],
//!   [`bunny`], [`akamai`]), what they share ([`schemes`]) and one verifier over them
//!   ([`native`]).

pub mod akamai;
pub mod audit;
pub mod bunny;
pub mod charset;
pub mod cloudfront;
pub mod duration;
pub mod expiry;
pub mod google;
pub mod keys;
pub mod native;
pub mod policy;
pub mod revocation;
pub mod rules;
pub mod s3;
pub mod schemes;
pub mod shard;
pub mod sign;
pub mod srcset;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
pub mod triple;
pub mod urls;
pub mod verify;
