//! Prometheus durations (`1h30m`, `5m`, `1y`), as prometheus/common's `model.Duration`.
//!
//! The syntax is not Go's `time.ParseDuration`: units go from `y` (always 365 days)
//! down to `ms`, each at most once and in decreasing order, without fractions or
//! signs, and a bare `0` is allowed. Values are kept in nanoseconds, as Go keeps
//! them, so that the overflow limit (about 292 years) is the same.

use crate::ConfigError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;
const W: u64 = 7 * D;
const Y: u64 = 365 * D;

/// Units in the only order Prometheus accepts them; the position doubles as the
/// ordering key, so `1m1d` (a month and a day?) is rejected.
const UNITS: [(&str, u64); 7] = [
    ("y", Y),
    ("w", W),
    ("d", D),
    ("h", H),
    ("m", M),
    ("s", S),
    ("ms", MS),
];

/// A non-negative duration written in Prometheus's syntax.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    nanos: u64,
}

impl Duration {
    /// The zero duration.
    pub const ZERO: Duration = Duration { nanos: 0 };

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Duration {
        Duration { nanos: secs * S }
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration { nanos: ms * MS }
    }

    /// Whether this is zero, which Prometheus uses for "not set" in many places.
    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whole milliseconds, the resolution of Prometheus timestamps.
    pub const fn as_millis(self) -> u64 {
        self.nanos / MS
    }

    /// The same span as a [`std::time::Duration`].
    pub const fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.nanos)
    }

    /// Parses Prometheus's syntax; the error text is prometheus/common's.
    pub(crate) fn parse(s: &str) -> Result<Duration, String> {
        match s {
            "0" => return Ok(Duration::ZERO),
            "" => return Err("empty duration string".into()),
            _ => {}
        }
        let invalid = || format!("not a valid duration string: {s:?}");
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: u64 = 0;
        let mut last_unit = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(invalid());
            }
            let value: u64 = s[start..i].parse().map_err(|_| invalid())?;
            let unit_start = i;
            while i < bytes.len() && !bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == unit_start {
                return Err(invalid());
            }
            let unit = &s[unit_start..i];
            let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
                return Err(format!("unknown unit {unit:?} in duration {s:?}"));
            };
            if pos < last_unit {
                return Err(invalid());
            }
            last_unit = pos + 1;
            let mult = UNITS[pos].1;
            if value > (1u64 << 63) / mult {
                return Err("duration out of range".into());
            }
            total += value * mult;
            if total > i64::MAX as u64 {
                return Err("duration out of range".into());
            }
        }
        Ok(Duration { nanos: total })
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.as_std()
    }
}

impl FromStr for Duration {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Duration::parse(s).map_err(ConfigError::Value)
    }
}

/// Formats as prometheus/common does: largest units first, years and weeks only
/// when they divide evenly (`90d` reads better than `12w6d`), `0s` for zero.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.nanos / MS;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, mult, exact) in [
            ("y", Y / MS, true),
            ("w", W / MS, true),
            ("d", D / MS, false),
            ("h", H / MS, false),
            ("m", M / MS, false),
            ("s", S / MS, false),
            ("ms", 1, false),
        ] {
            if exact && !ms.is_multiple_of(mult) {
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

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duration({self})")
    }
}

impl Serialize for Duration {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        // YAML `30` arrives as the text "30" (the deserializer keeps the source
        // text for string targets), which then fails for lack of a unit, as in Go.
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Duration, String> {
        Duration::parse(s)
    }

    #[test]
    fn parses_prometheus_syntax() {
        assert_eq!(p("0").unwrap(), Duration::ZERO);
        assert_eq!(p("0s").unwrap(), Duration::ZERO);
        assert_eq!(p("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(p("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(p("1y").unwrap(), Duration::from_secs(365 * 86400));
        assert_eq!(p("1w").unwrap(), Duration::from_secs(7 * 86400));
        assert_eq!(p("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(p("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            p("1y2w3d4h5m6s7ms").unwrap().as_millis(),
            ((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7
        );
        assert_eq!(p("90m").unwrap(), Duration::from_secs(5400));
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        assert_eq!(p("").unwrap_err(), "empty duration string");
        for bad in [
            "-1h", "1.5h", "1m1d", "1s1s", "h", "1", "30 s", "1h ", " 1h",
        ] {
            assert!(p(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            p("-1h").unwrap_err(),
            r#"not a valid duration string: "-1h""#
        );
        assert_eq!(p("5x").unwrap_err(), r#"unknown unit "x" in duration "5x""#);
        assert_eq!(
            p("1us").unwrap_err(),
            r#"unknown unit "us" in duration "1us""#
        );
        assert_eq!(p("300y").unwrap_err(), "duration out of range");
        assert_eq!(
            p("99999999999999999999s").unwrap_err(),
            r#"not a valid duration string: "99999999999999999999s""#
        );
        assert!(p("292y").is_ok());
        assert!("1h".parse::<Duration>().is_ok());
        assert_eq!(
            "x".parse::<Duration>().unwrap_err().to_string(),
            r#"not a valid duration string: "x""#
        );
    }

    #[test]
    fn formats_like_prometheus() {
        for (input, want) in [
            ("0", "0s"),
            ("90s", "1m30s"),
            ("1h30m", "1h30m"),
            ("90d", "90d"),
            ("14d", "2w"),
            ("365d", "1y"),
            ("366d", "366d"),
            ("1d1ms", "1d1ms"),
            ("61m", "1h1m"),
        ] {
            assert_eq!(p(input).unwrap().to_string(), want, "{input}");
        }
    }

    #[test]
    fn std_conversion() {
        assert_eq!(
            Duration::from_secs(2).as_std(),
            std::time::Duration::from_secs(2)
        );
        let d: std::time::Duration = Duration::from_millis(5).into();
        assert_eq!(d, std::time::Duration::from_millis(5));
    }
}
