//! Lengths of time as the config and the command line write them: `"90s"`, `"15m"`, `"1h"`,
//! `"7d"`.

use std::fmt;

/// The longest duration accepted: ten years is far beyond any sane link lifetime, and the cap
/// keeps `exp` arithmetic exact.
const MAX_SECS: u64 = 10 * 366 * 86400;

/// A length of time in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub u64);

/// Why a duration text was refused; the message says how to write one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Digits without a unit (`"90"`).
    NoUnit(String),
    /// Not `<digits><unit>` with a known unit.
    Invalid(String),
    /// More than ten years.
    TooLarge(String),
}

const HINT: &str =
    "write a whole number followed by s, m, h or d, e.g. \"90s\", \"15m\", \"1h\", \"7d\"";

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::NoUnit(text) => write!(f, "duration \"{text}\" has no unit: {HINT}"),
            DurationError::Invalid(text) => write!(f, "invalid duration \"{text}\": {HINT}"),
            DurationError::TooLarge(text) => {
                write!(f, "duration \"{text}\" is too large (at most ten years)")
            }
        }
    }
}

impl std::error::Error for DurationError {}

impl Duration {
    /// Parses `"<digits><unit>"` where unit is `s`, `m`, `h` or `d`.
    pub fn parse(text: &str) -> Result<Duration, DurationError> {
        let unit_at = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| DurationError::NoUnit(text.to_owned()))?;
        let (digits, unit) = text.split_at(unit_at);
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(DurationError::Invalid(text.to_owned())),
        };
        if digits.is_empty() {
            return Err(DurationError::Invalid(text.to_owned()));
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .filter(|&secs| secs <= MAX_SECS)
            .map(Duration)
            .ok_or_else(|| DurationError::TooLarge(text.to_owned()))
    }

    /// Seconds.
    pub fn secs(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Duration {
    /// Largest units first, e.g. `1d 13h`, `90s` -> `1m 30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        let mut first = true;
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= size {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
                first = false;
            }
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_every_unit() {
        assert_eq!(Duration::parse("90s"), Ok(Duration(90)));
        assert_eq!(Duration::parse("15m"), Ok(Duration(900)));
        assert_eq!(Duration::parse("1h"), Ok(Duration(3600)));
        assert_eq!(Duration::parse("7d"), Ok(Duration(604_800)));
        assert_eq!(Duration::parse("0s"), Ok(Duration(0)));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for bad in [
            "",
            "h",
            "1",
            "1 h",
            "1H",
            "1.5h",
            "-1h",
            "1w",
            "1h30m",
            "99999999999999999999d",
        ] {
            let e = Duration::parse(bad).unwrap_err().to_string();
            assert!(e.contains("duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_display_largest_units_first() {
        assert_eq!(Duration(90).to_string(), "1m 30s");
        assert_eq!(Duration(37 * 3600).to_string(), "1d 13h");
        assert_eq!(Duration(0).to_string(), "0s");
    }
}
