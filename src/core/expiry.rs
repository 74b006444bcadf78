//! The expiry rule (spec §4): how far ahead of `now` a run's links expire; and the per-path
//! rules (spec §17) that give a prefix its own `open_page_allowance` and `max_link_lifetime`.

use url::Url;

use crate::core::duration::Duration;
use crate::core::urls::MatchPrefix;

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

/// One `[[expiry.rule]]`: the URLs under `prefix` get their own allowance and lifetime guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryRule {
    /// The prefix as written in the config (for the summary and the manifest).
    pub text: String,
    /// The prefix, parsed like a `sign.match` entry.
    pub prefix: MatchPrefix,
    /// How long a visitor may keep a page open and still load these images.
    pub open_page_allowance: Duration,
    /// Upper bound on `exp - now` for these URLs.
    pub max_link_lifetime: Duration,
}

/// A site's expiry: the `[expiry]` settings, and the rules that override two of them for some
/// prefixes. The most specific rule (the longest prefix path) decides a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifetimes {
    /// `[expiry]`, which decides every URL under no rule.
    pub default: Expiry,
    /// The rules, most specific first.
    rules: Vec<ExpiryRule>,
}

impl Lifetimes {
    /// The settings `default`, overridden for the prefixes of `rules`.
    pub fn new(default: Expiry, mut rules: Vec<ExpiryRule>) -> Lifetimes {
        rules.sort_by_key(|r| std::cmp::Reverse(specificity(&r.prefix)));
        Lifetimes { default, rules }
    }

    /// The rules, most specific first.
    pub fn rules(&self) -> &[ExpiryRule] {
        &self.rules
    }

    /// The expiry settings of rule `rule` (`None`: the default).
    pub fn expiry(&self, rule: Option<usize>) -> Expiry {
        match rule.map(|i| &self.rules[i]) {
            None => self.default,
            Some(r) => Expiry {
                open_page_allowance: r.open_page_allowance,
                max_link_lifetime: r.max_link_lifetime,
                ..self.default
            },
        }
    }

    /// Every setting in force: the default (`None`), then each rule.
    pub fn all(&self) -> impl Iterator<Item = (Option<&ExpiryRule>, Expiry)> + '_ {
        std::iter::once((None, self.default))
            .chain((self.rules.iter().enumerate()).map(|(i, r)| (Some(r), self.expiry(Some(i)))))
    }

    /// A value for each setting, computed by `f`, to be looked up by URL.
    pub fn map<T>(&self, f: impl Fn(&Expiry) -> T) -> PerRule<T> {
        PerRule {
            default: f(&self.default),
            rules: (0..self.rules.len())
                .map(|i| (self.rules[i].prefix.clone(), f(&self.expiry(Some(i)))))
                .collect(),
        }
    }

    /// The longest `exp - now` any setting allows: what a verifier must accept.
    pub fn max_link_lifetime(&self) -> Duration {
        self.all()
            .map(|(_, e)| e.max_link_lifetime)
            .max()
            .unwrap_or(self.default.max_link_lifetime)
    }
}

/// How specific a prefix is: its path's length.
fn specificity(p: &MatchPrefix) -> usize {
    p.path().len()
}

/// A value per expiry setting (an `exp`, a due time): the default, and one per rule prefix,
/// most specific first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerRule<T> {
    default: T,
    rules: Vec<(MatchPrefix, T)>,
}

impl<T> PerRule<T> {
    /// The value for `url`: its most specific rule's, or the default.
    pub fn get(&self, url: &Url) -> &T {
        (self.rules.iter())
            .find(|(p, _)| p.matches(url))
            .map_or(&self.default, |(_, v)| v)
    }

    /// The value for URLs under no rule.
    pub fn default_value(&self) -> &T {
        &self.default
    }
}

impl<T> From<T> for PerRule<T> {
    /// One value for every URL.
    fn from(value: T) -> PerRule<T> {
        PerRule {
            default: value,
            rules: Vec::new(),
        }
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

    fn rule(prefix: &str, allowance_h: u64) -> ExpiryRule {
        let site = Url::parse("https://www.example.com/").unwrap();
        ExpiryRule {
            text: prefix.into(),
            prefix: MatchPrefix::parse(prefix, &site).unwrap(),
            open_page_allowance: Duration(allowance_h * 3600),
            max_link_lifetime: Duration(7 * 86400),
        }
    }

    #[test]
    fn the_most_specific_rule_decides() {
        let lifetimes = Lifetimes::new(
            Expiry::default(),
            vec![rule("/media/", 2), rule("/media/profiles/", 1)],
        );
        let exps = lifetimes.map(|e| e.exp_for(1_715_000_000));
        let exp = |u: &str| *exps.get(&Url::parse(u).unwrap());
        // 24h + 1h + allowance after now, rounded up to the hour.
        let at = |hours: u64| (1_715_000_000 + hours * 3600).div_ceil(3600) * 3600;
        assert_eq!(exp("https://www.example.com/media/profiles/a.jpg"), at(26));
        assert_eq!(exp("https://www.example.com/media/profiles"), at(27));
        assert_eq!(exp("https://www.example.com/media/a.jpg"), at(27));
        assert_eq!(exp("https://www.example.com/mediax/a.jpg"), at(37));
        assert_eq!(exp("https://img.example.com/media/profiles/a.jpg"), at(37));
        assert_eq!(lifetimes.all().count(), 3);
        assert_eq!(lifetimes.rules()[0].text, "/media/profiles/");
    }
}
