//! Prometheus durations: `1h30m`, `5m`, `1y` (always 365 days), `250ms`.
//!
//! The AST keeps ranges, steps and offsets as signed nanoseconds, as Go's
//! `time.Duration` does, because Prometheus rounds `foo[1.5]` to the nanosecond when
//! parsing and only truncates to milliseconds when printing and evaluating; keeping the
//! same unit keeps both steps identical.

use std::fmt;

const MS: i64 = 1_000_000;

/// A signed span of time in nanoseconds (Go's `time.Duration`); `Display` prints it
/// the way Prometheus's `model.Duration` does (`1h30m`, `90d`, `-5m`, `0s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Duration {
    /// The zero duration.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        Duration(nanos)
    }

    /// A duration of `ms` milliseconds (saturating).
    pub const fn from_millis(ms: i64) -> Self {
        Duration(ms.saturating_mul(MS))
    }

    /// Seconds as a float, rounded to the nanosecond the way the parser converts a
    /// number in duration position (`foo[1.5]`). Out-of-range values saturate.
    pub fn from_secs_f64(secs: f64) -> Self {
        Duration((secs * 1e9).round() as i64)
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The duration in whole milliseconds, truncated toward zero as Prometheus does.
    pub const fn as_millis(self) -> i64 {
        self.0 / MS
    }

    /// The duration in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Whether the duration is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::Neg for Duration {
    type Output = Duration;
    fn neg(self) -> Duration {
        Duration(self.0.saturating_neg())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = ms.saturating_neg();
        }
        // Years and weeks only when they divide evenly: `90d` reads better than `12w6d`.
        const UNITS: [(&str, i64, bool); 7] = [
            ("y", 1000 * 60 * 60 * 24 * 365, true),
            ("w", 1000 * 60 * 60 * 24 * 7, true),
            ("d", 1000 * 60 * 60 * 24, false),
            ("h", 1000 * 60 * 60, false),
            ("m", 1000 * 60, false),
            ("s", 1000, false),
            ("ms", 1, false),
        ];
        for (unit, mult, exact) in UNITS {
            if exact && ms % mult != 0 {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

/// Parses a Prometheus duration (`model.ParseDuration`): units from largest to smallest,
/// each at most once, `0` allowed without a unit, no sign. The error texts are
/// Prometheus's.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match s {
        "0" => return Ok(Duration(0)),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || {
        format!(
            "not a valid duration string: {}",
            crate::strconv::go_quote(s)
        )
    };
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut last_unit_pos = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            return Err(invalid());
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let v: u64 = s[start..i].parse().map_err(|_| invalid())?;
        let unit_start = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if i == unit_start {
            return Err(invalid());
        }
        let unit = &s[unit_start..i];
        let (pos, mult): (u32, u64) = match unit {
            "ms" => (7, 1_000_000),
            "s" => (6, 1_000_000_000),
            "m" => (5, 60 * 1_000_000_000),
            "h" => (4, 3600 * 1_000_000_000),
            "d" => (3, 24 * 3600 * 1_000_000_000),
            "w" => (2, 7 * 24 * 3600 * 1_000_000_000),
            "y" => (1, 365 * 24 * 3600 * 1_000_000_000),
            _ => {
                return Err(format!(
                    "unknown unit {} in duration {}",
                    crate::strconv::go_quote(unit),
                    crate::strconv::go_quote(s)
                ));
            }
        };
        if pos <= last_unit_pos {
            return Err(invalid());
        }
        last_unit_pos = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".to_string());
        }
        total += v * mult;
        if total > i64::MAX as u64 {
            return Err("duration out of range".to_string());
        }
    }
    Ok(Duration(total as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_prometheus() {
        assert_eq!(
            parse_duration("1h30m"),
            Ok(Duration::from_millis(90 * 60_000))
        );
        assert_eq!(parse_duration("1m30ms"), Ok(Duration::from_millis(60_030)));
        assert_eq!(
            parse_duration("1y"),
            Ok(Duration::from_millis(365 * 86_400_000))
        );
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration("5m1h"),
            Err(r#"not a valid duration string: "5m1h""#.to_string())
        );
        assert_eq!(
            parse_duration("5y1hs"),
            Err(r#"unknown unit "hs" in duration "5y1hs""#.to_string())
        );
        assert_eq!(
            parse_duration("1.5m"),
            Err(r#"unknown unit "." in duration "1.5m""#.to_string())
        );
        assert_eq!(
            parse_duration("300y"),
            Err("duration out of range".to_string())
        );
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn prints_like_prometheus() {
        let d = |ms: i64| Duration::from_millis(ms).to_string();
        assert_eq!(d(0), "0s");
        assert_eq!(d(90 * 60_000), "1h30m");
        assert_eq!(d(90 * 86_400_000), "90d");
        assert_eq!(d(14 * 86_400_000), "2w");
        assert_eq!(d(365 * 86_400_000), "1y");
        assert_eq!(d(1001), "1s1ms");
        assert_eq!(d(-300_000), "-5m");
        assert_eq!(Duration::from_nanos(999_999).to_string(), "0s");
    }
}
