//! Signing keys from the environment (spec §6).
//!
//! Secrets live only in memory, as ready-keyed HMAC states. Nothing in this module formats a
//! secret: `Debug` shows key ids only, and every error names the variable and the key id, never
//! the value.

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
            return Err(KeyError::BadKid {
                kid: kid.to_owned(),
            });
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::Weak {
                kid: kid.to_owned(),
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
    /// A kid is not `[A-Za-z0-9_-]{1,32}`.
    BadKid { kid: String },
    /// A secret is not base64url.
    NotBase64 { kid: String },
    /// A secret has `bytes` bytes, fewer than 32.
    Weak { kid: String, bytes: usize },
    /// Two entries share a kid.
    Duplicate { kid: String },
    /// The configured signing key is not in the list.
    NoSuchKey { var: String, kid: String },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let make = "create one with `rendorix keygen`";
        match self {
            KeyError::Missing { var } => {
                write!(
                    f,
                    "environment variable {var} is not set; set it to \"kid:secret\" pairs separated by commas ({make})"
                )
            }
            KeyError::Malformed { var, entry } => write!(
                f,
                "entry {entry} of {var} is not \"kid:secret\"; separate pairs with commas and the kid from the secret with ':'"
            ),
            KeyError::BadKid { kid } => {
                write!(
                    f,
                    "key id \"{kid}\" must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'"
                )
            }
            KeyError::NotBase64 { kid } => {
                write!(
                    f,
                    "the secret of key \"{kid}\" is not base64url (A-Z a-z 0-9 - _, padding optional); {make}"
                )
            }
            KeyError::Weak { kid, bytes } => write!(
                f,
                "the secret of key \"{kid}\" has {bytes} bytes; at least {MIN_SECRET_BYTES} random bytes are required ({make})"
            ),
            KeyError::Duplicate { kid } => write!(
                f,
                "key id \"{kid}\" appears twice; give every key its own id"
            ),
            KeyError::NoSuchKey { var, kid } => write!(
                f,
                "sign.key_id is \"{kid}\" but {var} holds no key with that id; add \"{kid}:<secret>\" to {var} or change sign.key_id"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl Keys {
    /// Parses `kid:secret[,kid:secret…]` as found in environment variable `var`.
    pub fn parse(var: &str, value: &str) -> Result<Keys, KeyError> {
        let mut keys = Vec::new();
        for (i, entry) in value.split(',').map(str::trim).enumerate() {
            if entry.is_empty() && value.trim().is_empty() {
                break;
            }
            let (kid, secret) = entry.split_once(':').ok_or_else(|| KeyError::Malformed {
                var: var.to_owned(),
                entry: i + 1,
            })?;
            let kid = kid.trim();
            if !valid_kid(kid) {
                return Err(KeyError::BadKid {
                    kid: kid.to_owned(),
                });
            }
            let bytes = URL_SAFE_NO_PAD_INDIFFERENT
                .decode(secret.trim())
                .map_err(|_| KeyError::NotBase64 {
                    kid: kid.to_owned(),
                })?;
            if keys.iter().any(|k: &Key| k.kid == kid) {
                return Err(KeyError::Duplicate {
                    kid: kid.to_owned(),
                });
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
        assert_eq!(parse_err(""), KeyError::Missing { var: "V".into() });
        assert_eq!(
            parse_err("nocolon"),
            KeyError::Malformed {
                var: "V".into(),
                entry: 1
            }
        );
        assert_eq!(
            parse_err("a:AAEC"),
            KeyError::Weak {
                kid: "a".into(),
                bytes: 3
            }
        );
        assert_eq!(
            parse_err("a:not base64!"),
            KeyError::NotBase64 { kid: "a".into() }
        );
        assert_eq!(
            parse_err(&format!("a b:{SECRET}")),
            KeyError::BadKid { kid: "a b".into() }
        );
        assert_eq!(
            parse_err(&format!("a:{SECRET},a:{SECRET}")),
            KeyError::Duplicate { kid: "a".into() }
        );
        assert_eq!(
            parse_err(&format!("a:{SECRET},")),
            KeyError::Malformed {
                var: "V".into(),
                entry: 2
            }
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_secret() {
        let keys = Keys::parse("V", &format!("a:{SECRET}")).unwrap();
        assert!(!format!("{keys:?}").contains(SECRET));
        let weak = format!("a:{}", &SECRET[..20]);
        let err = Keys::parse("V", &weak).unwrap_err().to_string();
        assert!(!err.contains(&SECRET[..20]), "{err}");
        let err = keys.signing_key("V", "zz").unwrap_err().to_string();
        assert!(err.contains("\"zz\"") && !err.contains(SECRET), "{err}");
    }

    #[test]
    fn kid_form() {
        assert!(valid_kid("k2026a") && valid_kid("A_b-9") && valid_kid(&"x".repeat(32)));
        assert!(
            !valid_kid("") && !valid_kid(&"x".repeat(33)) && !valid_kid("a.b") && !valid_kid("ä")
        );
    }
}
