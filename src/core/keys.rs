//! Signing keys from the environment (spec §6).
//!
//! Secrets live only in memory, as ready-keyed HMAC states. Nothing in this module formats a
//! secret: `Debug` shows key ids only, and an error about the keys variable names the variable
//! and the entry's position, never any of its text (a pair written secret first would show the
//! secret as its key id).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;

/// HMAC-SHA256, the MAC of spec §3.
pub type HmacSha256 = Hmac<Sha256>;

/// Fewest random bytes a secret must have.
pub const MIN_SECRET_BYTES: usize = 32;

/// Whether `kid` has the form `[A-Za-z0-9_-]{1,32}`.
pub fn valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One key: its id and a MAC keyed with its secret, cloned for every message.
#[derive(Clone)]
pub struct Key {
    kid: String,
    mac: HmacSha256,
}

impl Key {
    /// The key's id, as written into `kid=`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A MAC keyed with this key's secret, ready for one message.
    pub fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }

    /// Builds a key from raw secret bytes (at least [`MIN_SECRET_BYTES`]).
    pub fn from_secret(kid: &str, secret: &[u8]) -> Result<Key, KeyError> {
        if !valid_kid(kid) {
            return Err(KeyError::InvalidKid {
                kid: kid.to_owned(),
            });
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::ShortSecret {
                bytes: secret.len(),
            });
        }
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        Ok(Key {
            kid: kid.to_owned(),
            mac,
        })
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?}, secret redacted)", self.kid)
    }
}

/// Every key known to a run: the signer picks one by id, a verifier accepts any.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    keys: Vec<Key>,
}

/// A problem with the key list. The texts never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are named for what they hold: the variable, the key id
pub enum KeyError {
    /// The environment variable is not set or empty.
    Missing { var: String },
    /// Entry number `entry` (1-based) is not `kid:secret`.
    Malformed { var: String, entry: usize },
    /// The key id of an entry is not `[A-Za-z0-9_-]{1,32}`.
    BadKid { var: String, entry: usize },
    /// The secret of an entry is not base64url.
    NotBase64 { var: String, entry: usize },
    /// The secret of an entry has `bytes` bytes, fewer than 32.
    Weak {
        var: String,
        entry: usize,
        bytes: usize,
    },
    /// Entry `entry` has the key id of entry `first`.
    Duplicate {
        var: String,
        entry: usize,
        first: usize,
    },
    /// The configured signing key is not in the list.
    NoSuchKey { var: String, kid: String },
    /// A key id given as one (`keygen --kid`) that is not `[A-Za-z0-9_-]{1,32}`.
    InvalidKid { kid: String },
    /// A secret given to [`Key::from_secret`] with fewer than 32 bytes.
    ShortSecret { bytes: usize },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let make = "create one with `rendorix keygen`";
        let kid_form = "1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'";
        match self {
            KeyError::Missing { var } => write!(
                f,
                "environment variable {var} is not set; set it to \"kid:secret\" pairs separated by commas ({make})"
            ),
            KeyError::Malformed { var, entry } => write!(
                f,
                "entry {entry} of {var} is not \"kid:secret\"; separate pairs with commas and the kid from the secret with ':'"
            ),
            KeyError::BadKid { var, entry } => write!(
                f,
                "the key id of entry {entry} of {var} (before the ':') is not {kid_form}; is the pair written secret first?"
            ),
            KeyError::NotBase64 { var, entry } => write!(
                f,
                "the secret of entry {entry} of {var} is not base64url (A-Z a-z 0-9 - _, padding optional); {make}"
            ),
            KeyError::Weak { var, entry, bytes } => write!(
                f,
                "the secret of entry {entry} of {var} has {bytes} bytes; at least {MIN_SECRET_BYTES} random bytes are required ({make})"
            ),
            KeyError::Duplicate { var, entry, first } => write!(
                f,
                "entries {first} and {entry} of {var} have the same key id; give every key its own id"
            ),
            KeyError::NoSuchKey { var, kid } => write!(
                f,
                "sign.key_id is \"{kid}\" but {var} holds no key with that id; add \"{kid}:<secret>\" to {var} or change sign.key_id"
            ),
            KeyError::InvalidKid { kid } => {
                write!(f, "key id \"{kid}\" must be {kid_form}")
            }
            KeyError::ShortSecret { bytes } => write!(
                f,
                "a secret of {bytes} bytes; at least {MIN_SECRET_BYTES} random bytes are required ({make})"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl Keys {
    /// Parses `kid:secret[,kid:secret…]` as found in environment variable `var`.
    pub fn parse(var: &str, value: &str) -> Result<Keys, KeyError> {
        let mut keys = Vec::new();
        for (i, text) in value.split(',').map(str::trim).enumerate() {
            if text.is_empty() && value.trim().is_empty() {
                break;
            }
            let (var, entry) = (var.to_owned(), i + 1);
            let Some((kid, secret)) = text.split_once(':') else {
                return Err(KeyError::Malformed { var, entry });
            };
            let kid = kid.trim();
            if !valid_kid(kid) {
                return Err(KeyError::BadKid { var, entry });
            }
            let Ok(bytes) = URL_SAFE_NO_PAD_INDIFFERENT.decode(secret.trim()) else {
                return Err(KeyError::NotBase64 { var, entry });
            };
            if bytes.len() < MIN_SECRET_BYTES {
                let bytes = bytes.len();
                return Err(KeyError::Weak { var, entry, bytes });
            }
            if let Some(first) = keys.iter().position(|k: &Key| k.kid == kid) {
                let first = first + 1;
                return Err(KeyError::Duplicate { var, entry, first });
            }
            keys.push(Key::from_secret(kid, &bytes)?);
        }
        if keys.is_empty() {
            return Err(KeyError::Missing {
                var: var.to_owned(),
            });
        }
        Ok(Keys { keys })
    }

    /// A key list built from already-made keys.
    pub fn from_keys(keys: Vec<Key>) -> Keys {
        Keys { keys }
    }

    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The signing key `kid`, or the error that says how to provide it.
    pub fn signing_key(&self, var: &str, kid: &str) -> Result<Key, KeyError> {
        self.get(kid).cloned().ok_or_else(|| KeyError::NoSuchKey {
            var: var.to_owned(),
            kid: kid.to_owned(),
        })
    }

    /// The ids of all keys, in the order given.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 32 bytes 0x00..0x1f, base64url.
    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    #[test]
    fn parses_several_keys_with_or_without_padding() {
        let keys = Keys::parse("V", &format!("a:{SECRET}, b-2 : {SECRET}=")).unwrap();
        assert_eq!(keys.kids().collect::<Vec<_>>(), ["a", "b-2"]);
        assert!(keys.get("b-2").is_some());
        assert!(keys.get("c").is_none());
    }

    fn parse_err(value: &str) -> KeyError {
        Keys::parse("V", value).unwrap_err()
    }

    #[test]
    fn refuses_weak_malformed_duplicate_and_missing_keys() {
        let var = || "V".to_owned();
        assert_eq!(parse_err(""), KeyError::Missing { var: var() });
        assert_eq!(
            parse_err("nocolon"),
            KeyError::Malformed {
                var: var(),
                entry: 1
            }
        );
        assert_eq!(
            parse_err("a:AAEC"),
            KeyError::Weak {
                var: var(),
                entry: 1,
                bytes: 3
            }
        );
        assert_eq!(
            parse_err("a:not base64!"),
            KeyError::NotBase64 {
                var: var(),
                entry: 1
            }
        );
        assert_eq!(
            parse_err(&format!("b:{SECRET},a b:{SECRET}")),
            KeyError::BadKid {
                var: var(),
                entry: 2
            }
        );
        assert_eq!(
            parse_err(&format!("a:{SECRET},b:{SECRET},a:{SECRET}")),
            KeyError::Duplicate {
                var: var(),
                entry: 3,
                first: 1
            }
        );
        assert_eq!(
            parse_err(&format!("a:{SECRET},")),
            KeyError::Malformed {
                var: var(),
                entry: 2
            }
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_secret() {
        let keys = Keys::parse("V", &format!("a:{SECRET}")).unwrap();
        assert!(!format!("{keys:?}").contains(SECRET));
        let err = keys.signing_key("V", "zz").unwrap_err().to_string();
        assert!(err.contains("\"zz\"") && !err.contains(SECRET), "{err}");
        // Whatever the text: swapped, truncated, padded, spaced, weak, duplicated, a secret
        // short enough to pass as a key id.
        let short = &SECRET[..20];
        for value in [
            format!("{SECRET}:k2026a"),
            format!("k2026a:{short}"),
            format!("{short}:k2026a"),
            format!("k2026a:{SECRET}==="),
            format!("k2026a : {SECRET} x"),
            format!("k2026a:{SECRET},{SECRET}"),
            format!("{short}:{SECRET},{short}:{SECRET}"),
            format!("k2026a;{SECRET}"),
        ] {
            let Err(err) = Keys::parse("V", &value) else {
                continue;
            };
            let text = err.to_string();
            for part in value.split([',', ':', ' ', ';']).filter(|p| p.len() > 3) {
                if part != "k2026a" {
                    assert!(!text.contains(part), "{value}: {text}");
                }
            }
            assert!(!format!("{err:?}").contains(short), "{value}: {err:?}");
        }
    }

    #[test]
    fn kid_form() {
        assert!(valid_kid("k2026a") && valid_kid("A_b-9") && valid_kid(&"x".repeat(32)));
        assert!(
            !valid_kid("") && !valid_kid(&"x".repeat(33)) && !valid_kid("a.b") && !valid_kid("ä")
        );
    }
}
