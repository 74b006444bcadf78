//! Unix seconds as UTC text, for summaries, findings and verdicts; and the times a user gives
//! (`--now`, `--until`): Unix seconds, an RFC 3339 date and time, or an offset from the clock.

use std::fmt;

use crate::core::duration::Duration;

/// `secs` (Unix time) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(secs: u64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A time given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// An instant, Unix seconds.
    At(u64),
    /// Seconds from the system clock (`+3d`, `-1h`).
    Offset(i64),
}

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenError(String);

impl fmt::Display for WhenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" is not a time: give Unix seconds (1715000000), an RFC 3339 time (2026-12-05T00:00:00Z, 2026-12-05T01:00:00+01:00, or a date: 2026-12-05) or an offset from now (+3d, -1h, +90m)",
            self.0
        )
    }
}

impl std::error::Error for WhenError {}

impl When {
    /// Parses Unix seconds, an RFC 3339 time or date, or a signed duration.
    pub fn parse(text: &str) -> Result<When, WhenError> {
        let bad = || WhenError(text.to_owned());
        if let Some(rest) = text.strip_prefix('+').or_else(|| text.strip_prefix('-')) {
            let secs = Duration::parse(rest).map_err(|_| bad())?.secs();
            // Durations are at most ten years, far inside i64.
            let secs = i64::try_from(secs).map_err(|_| bad())?;
            return Ok(When::Offset(if text.starts_with('-') {
                -secs
            } else {
                secs
            }));
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse().map(When::At).map_err(|_| bad());
        }
        rfc3339(text).map(When::At).ok_or_else(bad)
    }

    /// The instant, given the system clock `clock`.
    pub fn resolve(self, clock: u64) -> u64 {
        match self {
            When::At(secs) => secs,
            When::Offset(offset) => clock.saturating_add_signed(offset),
        }
    }
}

/// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t`, `z` or a space allowed, as
/// RFC 3339 permits), as Unix seconds; fractions are dropped. `None` for anything else, a time
/// before 1970 included.
fn rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let (mut secs, offset) = if b.len() == 10 {
        (0, 0)
    } else {
        if !matches!(b.get(10), Some(b'T' | b't' | b' '))
            || b.get(13) != Some(&b':')
            || b.get(16) != Some(&b':')
        {
            return None;
        }
        let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
        // 60: a leap second, which Unix time folds into the next.
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return None;
            }
        }
        let offset = match &b[at..] {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), ..] if b.len() == at + 6 && b[at + 3] == b':' => {
                let (h, m) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let minutes = h * 60 + m;
                if *sign == b'+' { minutes } else { -minutes }
            }
            _ => return None,
        };
        (hour * 3600 + minute * 60 + second, offset * 60)
    };
    secs += unix_days(year, month, day) * 86400 - offset;
    u64::try_from(secs).ok()
}

/// Days from 1970-01-01 to the date (Howard Hinnant's days-from-civil algorithm; negative
/// before 1970).
pub fn unix_days(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_users_write_them() {
        let at = |t: &str| When::parse(t).unwrap();
        assert_eq!(at("1715000000"), When::At(1_715_000_000));
        assert_eq!(at("2024-05-06T14:00:00Z"), When::At(1_715_004_000));
        assert_eq!(at("2024-05-06t14:00:00.999z"), When::At(1_715_004_000));
        assert_eq!(at("2024-05-06 16:00:00+02:00"), When::At(1_715_004_000));
        assert_eq!(at("2024-05-06T13:30:00-00:30"), When::At(1_715_004_000));
        assert_eq!(at("2000-02-29"), When::At(951_782_400));
        assert_eq!(at("+3d"), When::Offset(3 * 86400));
        assert_eq!(at("-90m"), When::Offset(-5400));
        assert_eq!(at("+3d").resolve(100), 100 + 3 * 86400);
        assert_eq!(at("-1h").resolve(100), 0, "before 1970 stops at 0");
        for secs in [0, 951_782_400, 1_715_004_000, 4_102_444_799, 9_999_999_999] {
            assert_eq!(When::parse(&utc(secs)), Ok(When::At(secs)), "{}", utc(secs));
        }
        for bad in [
            "",
            "+",
            "3d",
            "+3x",
            "2026-13-01",
            "2026-02-29",
            "2026-12-05T24:00:00Z",
            "2026-12-05T00:00:00",
            "2026-12-05T00:00Z",
            "2026-12-05T00:00:00+1:00",
            "1969-12-31T23:59:59Z",
            "soon",
            "17150000000000000000000",
        ] {
            let error = When::parse(bad).unwrap_err().to_string();
            assert!(
                error.contains("is not a time") && error.contains("+3d"),
                "{bad}"
            );
        }
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_715_004_000), "2024-05-06T14:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(9_999_999_999), "2286-11-20T17:46:39Z");
    }
}
