//! Shards (spec §18): which of N jobs processes a file of the site. A file belongs to shard
//! `1 + H mod N`, where `H` is the first 8 bytes, big-endian, of the SHA-256 of its path
//! relative to the site folder with `/` separators. The partition depends on nothing but the
//! path, so every job computes it alone, the same on every machine and platform, and a page
//! added or removed moves no other page to another shard.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The most shards a run can be split into.
pub const MAX_SHARDS: u32 = 1024;

/// Shard `index` of `count` (`1 <= index <= count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`, if `1 <= index <= count <= MAX_SHARDS`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (1 <= index && index <= count && count <= MAX_SHARDS).then_some(Shard { index, count })
    }

    /// Its number, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the file at slash path `path` (relative to the site folder) is this shard's.
    pub fn owns(self, path: &str) -> bool {
        shard_of(path, self.count) == self.index
    }
}

/// The shard, from 1, of the file at slash path `path` when a run is split in `count`
/// (`count >= 1`).
pub fn shard_of(path: &str, count: u32) -> u32 {
    let digest = Sha256::digest(path.as_bytes());
    let h = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    // `count` is at most MAX_SHARDS, so the remainder fits.
    1 + u32::try_from(h % u64::from(count.max(1))).expect("below count")
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a `--shard` value is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardError(String);

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" is not a shard: give K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 2/4 for the second of four",
            self.0.escape_debug()
        )
    }
}

impl std::error::Error for ShardError {}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, as the command line takes it.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let number = |s: &str| -> Option<u32> {
            // No sign, no spaces, no leading `+`: only digits.
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        text.split_once('/')
            .and_then(|(k, n)| Shard::new(number(k)?, number(n)?))
            .ok_or_else(|| ShardError(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in [
            "0/4", "5/4", "4", "/4", "2/", "-1/4", "+1/4", " 1/4", "1/4/2", "1/1025", "a/b",
        ] {
            let error = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(error.contains("is not a shard: give K/N"), "{bad}: {error}");
        }
        assert_eq!(Shard::new(3, 8).unwrap().to_string(), "3/8");
    }

    #[test]
    fn the_partition_is_fixed_by_the_path_alone() {
        // Pinned values: the partition is part of the spec, so a change to it is a change of
        // format (parts written by one version must merge with those of the next).
        // They are what this Python gives:
        // 1 + int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") % n
        let paths = [
            "index.html",
            "a/index.html",
            "posts/hello/index.html",
            "é.html",
        ];
        assert_eq!(paths.map(|p| shard_of(p, 4)), [3, 1, 4, 4]);
        assert_eq!(paths.map(|p| shard_of(p, 3)), [1, 2, 3, 2]);
        assert_eq!(shard_of("anything", 1), 1);
    }

    #[test]
    fn shards_are_about_even() {
        let counts = (0..4000).fold([0usize; 4], |mut counts, i| {
            counts[shard_of(&format!("p{i}/index.html"), 4) as usize - 1] += 1;
            counts
        });
        assert!(
            counts.iter().all(|&n| (900..1100).contains(&n)),
            "{counts:?}"
        );
    }

    proptest! {
        #[test]
        fn every_page_lands_in_exactly_one_shard(
            paths in proptest::collection::btree_set("[a-z0-9/._-]{1,40}", 0..200),
            count in 1u32..=16,
        ) {
            let shards: Vec<Shard> = (1..=count).map(|k| Shard::new(k, count).unwrap()).collect();
            for path in &paths {
                let owners = shards.iter().filter(|s| s.owns(path)).count();
                prop_assert_eq!(owners, 1, "{}", path);
            }
        }
    }
}
