pub mod charset;
pub mod config;
pub mod keys;
pub mod rewrite;
pub mod sign;
pub mod srcset;
pub mod urls;
