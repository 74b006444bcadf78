//! The expiry rule (spec §4): how far ahead of `now` a run's links expire.

use crate::core::duration::Duration;

/// Largest `exp` that fits the signed URL format's 10 digits.
pub const MAX_EXP: u64 = 9_999_999_999;

/// The expiry rule's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Longest gap between two successful runs that must not break pages.
    pub resign_interval: Duration,
    /// Longest time a page may be served from a cache after the origin replaced it.
    pub page_cache_ttl: Duration,
    /// How long a visitor may keep a page open and still load its images.
    pub open_page_allowance: Duration,
    /// `exp` is rounded up to a multiple of this.
    pub exp_granularity: Duration,
    /// Upper bound on `exp - now`.
    pub max_link_lifetime: Duration,
    /// Allowed clock skew when verifying.
    pub grace: Duration,
}

impl Default for Expiry {
    /// The spec's defaults: `24h + 1h + 12h`, rounded to the hour, at most `7d`, `30s` of grace.
    fn default() -> Expiry {
        Expiry {
            resign_interval: Duration(24 * 3600),
            page_cache_ttl: Duration(3600),
            open_page_allowance: Duration(12 * 3600),
            exp_granularity: Duration(3600),
            max_link_lifetime: Duration(7 * 86400),
            grace: Duration(30),
        }
    }
}

impl Expiry {
    /// `resign_interval + page_cache_ttl + open_page_allowance`: how long links must stay valid.
    pub fn needed(&self) -> u64 {
        self.resign_interval.0 + self.page_cache_ttl.0 + self.open_page_allowance.0
    }

    /// `page_cache_ttl + open_page_allowance`: how long a page may still be served or open after
    /// the origin replaced it.
    pub fn serving(&self) -> u64 {
        self.page_cache_ttl.0 + self.open_page_allowance.0
    }

    /// The `exp` that a run at `now` writes: `round_up(now + needed, exp_granularity)`.
    pub fn exp_for(&self, now: u64) -> u64 {
        let g = self.exp_granularity.0;
        (now + self.needed()).div_ceil(g) * g
    }

    /// The longest `exp - now` this rule can produce (rounding adds at most `granularity - 1`).
    pub fn longest_lifetime(&self) -> u64 {
        self.needed() + self.exp_granularity.0 - 1
    }

    /// The time before which the next run must happen, for a site whose earliest link expires
    /// at `earliest_exp`: after it, a page served from a cache or kept open could outlive it.
    pub fn next_run_before(&self, earliest_exp: u64) -> u64 {
        earliest_exp.saturating_sub(self.serving())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_rounded_up_to_the_granularity() {
        let e = Expiry::default();
        // 37h after 1715000000 is 1715133200, rounded up to the next whole hour.
        assert_eq!(e.exp_for(1_715_000_000), 1_715_133_600);
        assert_eq!(e.exp_for(1_715_133_600 - 37 * 3600), 1_715_133_600);
        assert_eq!(e.next_run_before(1_715_133_600), 1_715_133_600 - 13 * 3600);
    }
}
