//! Revocation (spec §17): paths and prefixes that verifiers refuse with `revoked` after a valid
//! signature, until the end each entry carries.
//!
//! An entry names a decoded path: `/media/profiles/42.jpg` (that file) or, ending in `/`, a
//! prefix (`/media/profiles/42/`: everything under it). Decoded, because a path has many
//! percent-encoded spellings (`%C3%AB`, `%c3%ab`) and the origin serves one object for all of
//! them; every verifier decodes the request path the same way (the edges' `rxDecodePath`,
//! [`decoded_path`]) before the lookup. A lookup tries the path itself and each of its prefixes
//! that ends in `/`: one hash lookup per segment, whatever the size of the list.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

/// One revoked path or prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The decoded path; ending in `/`, a prefix.
    pub path: String,
    /// When it was revoked (Unix seconds).
    pub revoked_at: u64,
    /// Until when it is refused (Unix seconds): past the longest `exp` ever signed for it,
    /// grace included, no signed URL of it verifies anyway, and the entry is dropped.
    pub until: u64,
}

/// The revoked paths of a site, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    entries: BTreeMap<String, Revocation>,
}

impl Revocations {
    /// The list of `entries` (a later entry for the same path replaces an earlier one).
    pub fn new(entries: impl IntoIterator<Item = Revocation>) -> Revocations {
        Revocations {
            entries: entries.into_iter().map(|e| (e.path.clone(), e)).collect(),
        }
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Revocation> {
        self.entries.values()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records `entry`; an entry already there for its path keeps the later `until` and the
    /// earlier `revoked_at`, so that revoking again never shortens a revocation.
    pub fn add(&mut self, entry: Revocation) {
        match self.entries.get_mut(&entry.path) {
            Some(old) => {
                old.until = old.until.max(entry.until);
                old.revoked_at = old.revoked_at.min(entry.revoked_at);
            }
            None => {
                self.entries.insert(entry.path.clone(), entry);
            }
        }
    }

    /// Removes the entry for `path`; whether there was one.
    pub fn remove(&mut self, path: &str) -> bool {
        self.entries.remove(path).is_some()
    }

    /// Keeps `until` of the entry that covers `path` at least `until` (a link to it was signed
    /// again, with a later `exp`); whether it changed.
    pub fn extend(&mut self, path: &str, until: u64) -> bool {
        let Some(key) = self.covering(path).map(|e| e.path.clone()) else {
            return false;
        };
        let entry = self.entries.get_mut(&key).expect("found just now");
        let longer = until > entry.until;
        entry.until = entry.until.max(until);
        longer
    }

    /// Drops the entries that ended at or before `now`; how many.
    pub fn drop_ended(&mut self, now: u64) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.until > now);
        before - self.entries.len()
    }

    /// The entry that refuses decoded `path` at `now`, if any.
    pub fn refuses(&self, path: &str, now: u64) -> Option<&Revocation> {
        self.covering(path).filter(|e| now < e.until)
    }

    /// The most specific entry for decoded `path`: itself, else its longest listed prefix.
    fn covering(&self, path: &str) -> Option<&Revocation> {
        lookup_keys(path).find_map(|k| self.entries.get(k))
    }
}

/// The keys a verifier looks up for decoded `path`, most specific first: the path, then each
/// prefix of it that ends in `/`.
pub fn lookup_keys(path: &str) -> impl Iterator<Item = &str> {
    let prefixes = path
        .char_indices()
        .filter(|&(_, c)| c == '/')
        .map(|(i, _)| &path[..=i])
        .filter(move |p| p.len() < path.len())
        .collect::<Vec<_>>();
    std::iter::once(path).chain(prefixes.into_iter().rev())
}

/// The decoded form of a URL's path, as an origin resolves it and as entries are written;
/// `None` when it does not decode to UTF-8.
pub fn decoded_path(path: &str) -> Option<String> {
    percent_decode_str(path)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, until: u64) -> Revocation {
        Revocation {
            path: path.into(),
            revoked_at: 10,
            until,
        }
    }

    #[test]
    fn a_path_is_refused_by_its_own_entry_or_a_prefix_at_a_segment_boundary() {
        let list = Revocations::new([entry("/media/profiles/42/", 100), entry("/media/a.jpg", 50)]);
        assert!(list.refuses("/media/profiles/42/a.jpg", 99).is_some());
        assert!(list.refuses("/media/profiles/42/x/y.jpg", 20).is_some());
        assert!(
            list.refuses("/media/profiles/42/a.jpg", 100).is_none(),
            "ended"
        );
        assert!(list.refuses("/media/profiles/420/a.jpg", 20).is_none());
        assert!(list.refuses("/media/profiles/42", 20).is_none());
        assert!(list.refuses("/media/a.jpg", 20).is_some());
        assert!(list.refuses("/media/a.jpg.webp", 20).is_none());
        assert!(list.refuses("/media/a.jpg/", 20).is_none());
    }

    #[test]
    fn lookups_go_from_the_path_to_the_root() {
        let keys: Vec<_> = lookup_keys("/media/p/a.jpg").collect();
        assert_eq!(keys, ["/media/p/a.jpg", "/media/p/", "/media/", "/"]);
        let keys: Vec<_> = lookup_keys("/media/").collect();
        assert_eq!(keys, ["/media/", "/"]);
    }

    #[test]
    fn revoking_again_never_shortens_and_ended_entries_are_dropped() {
        let mut list = Revocations::new([entry("/m/a.jpg", 100)]);
        list.add(Revocation {
            revoked_at: 20,
            ..entry("/m/a.jpg", 60)
        });
        assert_eq!(list.entries().next().unwrap().until, 100);
        assert!(list.extend("/m/a.jpg", 150));
        assert!(!list.extend("/m/a.jpg", 120));
        assert!(!list.extend("/m/b.jpg", 900));
        list.add(entry("/m/old/", 30));
        assert_eq!(list.drop_ended(100), 1);
        assert_eq!(list.entries().len(), 1);
        assert!(list.remove("/m/a.jpg"));
        assert!(list.is_empty());
    }

    #[test]
    fn paths_are_compared_decoded() {
        assert_eq!(decoded_path("/m/Zo%C3%ABe.jpg").unwrap(), "/m/Zoëe.jpg");
        assert_eq!(decoded_path("/m/Zo%c3%abe.jpg").unwrap(), "/m/Zoëe.jpg");
        assert_eq!(decoded_path("/m/%FF.jpg"), None);
    }
}
