//! `rendorix keygen`: a fresh key from the operating system's random source.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::commands::system_now;
use crate::core::keys::{KeyError, MIN_SECRET_BYTES, valid_kid};
use crate::core::time::utc;
use crate::error::{Error, Status, UsageError};

/// A fresh `kid:secret` line: [`MIN_SECRET_BYTES`] random bytes, base64url.
pub(crate) fn generate(kid: &str) -> Result<String, Error> {
    if !valid_kid(kid) {
        return Err(KeyError::InvalidKid {
            kid: kid.to_owned(),
        }
        .into());
    }
    let mut secret = [0u8; MIN_SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(UsageError::NoRandomness)?;
    Ok(format!("{kid}:{}", URL_SAFE_NO_PAD.encode(secret)))
}

/// Prints a new key with id `kid` (default: `k` and today's date, e.g. `k20261123`), and
/// unless `quiet` where it goes.
pub(crate) fn run(kid: Option<String>, quiet: bool) -> Result<Status, Error> {
    let kid = kid.unwrap_or_else(|| format!("k{}", utc(system_now())[..10].replace('-', "")));
    let line = generate(&kid)?;
    println!("{line}");
    if quiet {
        return Ok(Status::Clean);
    }
    eprintln!(
        "Add this line to the keys environment variable (RENDORIX_KEYS by default) and to your edge; keep it secret."
    );
    Ok(Status::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::Keys;

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = generate("k1").unwrap();
        let b = generate("k1").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), "k1:".len() + 43);
        Keys::parse("V", &a).unwrap();
        assert!(generate("bad kid").is_err());
    }
}
