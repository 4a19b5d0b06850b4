//! Byte sizes (`512MiB`, `1GB`), as the `units.Base2Bytes` type Prometheus uses for
//! `body_size_limit` and `storage.tsdb.retention.size`.
//!
//! Every unit is a power of 1024: `KB` and `KiB` both mean 1024 bytes (the SI
//! spelling `kB` is rejected). Decimal fractions (`1.5GB`), a leading sign and
//! sequences (`1GB512MB`) are accepted, but the two spellings cannot be mixed in
//! one value. A bare number other than `0` has no unit and is an error.

use crate::ConfigError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const PREFIXES: [&str; 6] = ["K", "M", "G", "T", "P", "E"];

/// A size in bytes; may be negative, which callers reject where it matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub i64);

impl ByteSize {
    /// The size in bytes.
    pub const fn bytes(self) -> i64 {
        self.0
    }

    fn unit(u: &str, binary_suffix: bool) -> Option<f64> {
        if u == "B" {
            return Some(1.0);
        }
        let suffix = if binary_suffix { "iB" } else { "B" };
        let prefix = u.strip_suffix(suffix)?;
        let pos = PREFIXES.iter().position(|p| *p == prefix)?;
        Some(1024f64.powi(pos as i32 + 1))
    }

    /// Parses with `iB` units first and `B` units second, reporting the second
    /// attempt's error, as `units.ParseBase2Bytes` does.
    pub(crate) fn parse(s: &str) -> Result<ByteSize, String> {
        Self::parse_with(s, true).or_else(|_| Self::parse_with(s, false))
    }

    fn parse_with(orig: &str, binary_suffix: bool) -> Result<ByteSize, String> {
        let invalid = || format!("units: invalid {orig}");
        let mut s = orig;
        let mut neg = false;
        if let Some(rest) = s.strip_prefix('-') {
            neg = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(ByteSize(0));
        }
        if s.is_empty() {
            return Err(invalid());
        }
        let mut total = 0f64;
        while !s.is_empty() {
            let b = s.as_bytes();
            if !(b[0] == b'.' || b[0].is_ascii_digit()) {
                return Err(invalid());
            }
            let (whole, rest, had_whole) = leading_int(s).ok_or_else(invalid)?;
            s = rest;
            let mut g = whole as f64;
            let mut had_frac = false;
            if let Some(rest) = s.strip_prefix('.') {
                let (frac, rest2, any) = leading_int(rest).ok_or_else(invalid)?;
                let digits = rest.len() - rest2.len();
                g += frac as f64 / 10f64.powi(digits as i32);
                had_frac = any;
                s = rest2;
            }
            if !had_whole && !had_frac {
                return Err(invalid());
            }
            let end = s
                .find(|c: char| c == '.' || c.is_ascii_digit())
                .unwrap_or(s.len());
            let unit = &s[..end];
            s = &s[end..];
            let Some(mult) = Self::unit(unit, binary_suffix) else {
                return Err(format!("units: unknown unit {unit} in {orig}"));
            };
            total += g * mult;
        }
        if neg {
            total = -total;
        }
        if total < -(2f64.powi(63)) || total > 2f64.powi(63) - 1.0 {
            return Err("units: overflow parsing unit".into());
        }
        Ok(ByteSize(total as i64))
    }
}

/// Consumes leading ASCII digits; `None` on overflow. The flag says whether any
/// digit was consumed.
fn leading_int(s: &str) -> Option<(i64, &str, bool)> {
    let mut x: i64 = 0;
    let mut i = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        if x >= (i64::MAX - 10) / 10 {
            return None;
        }
        x = x * 10 + i64::from(c - b'0');
        i += 1;
    }
    Some((x, &s[i..], i > 0))
}

impl FromStr for ByteSize {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        ByteSize::parse(s).map_err(ConfigError::Value)
    }
}

/// Formats as `units.Base2Bytes` does: every non-zero 1024-digit with its unit,
/// largest first (`1GiB512MiB`), and `0B` for zero.
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0;
        let mut parts: Vec<String> = Vec::new();
        for i in 0..=PREFIXES.len() {
            if n % 1024 != 0 || (i == 0 && n == 0) {
                let unit = if i == 0 {
                    "B".to_string()
                } else {
                    format!("{}iB", PREFIXES[i - 1])
                };
                parts.push(format!("{}{unit}", n % 1024));
            }
            n /= 1024;
            if n == 0 {
                break;
            }
        }
        parts.reverse();
        f.write_str(&parts.concat())
    }
}

impl Serialize for ByteSize {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        let s = String::deserialize(d)?;
        ByteSize::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<i64, String> {
        ByteSize::parse(s).map(ByteSize::bytes)
    }

    #[test]
    fn base_two_units_in_both_spellings() {
        assert_eq!(p("0").unwrap(), 0);
        assert_eq!(p("100B").unwrap(), 100);
        assert_eq!(p("1KB").unwrap(), 1024);
        assert_eq!(p("1KiB").unwrap(), 1024);
        assert_eq!(p("512MiB").unwrap(), 512 << 20);
        assert_eq!(p("15MB").unwrap(), 15 << 20);
        assert_eq!(p("1GB").unwrap(), 1 << 30);
        assert_eq!(p("2TB").unwrap(), 2 << 40);
        assert_eq!(p("1PiB").unwrap(), 1 << 50);
        assert_eq!(p("1EB").unwrap(), 1 << 60);
        assert_eq!(p("1.5GB").unwrap(), 3 << 29);
        assert_eq!(p("1GB512MB").unwrap(), (1 << 30) + (512 << 20));
        assert_eq!(p("-1GB").unwrap(), -(1 << 30));
        assert_eq!(p("+1KB").unwrap(), 1024);
    }

    #[test]
    fn errors_match_go_units() {
        assert_eq!(p("100").unwrap_err(), "units: unknown unit  in 100");
        assert_eq!(p("1kB").unwrap_err(), "units: unknown unit kB in 1kB");
        assert_eq!(
            p("1GiB512MB").unwrap_err(),
            "units: unknown unit GiB in 1GiB512MB"
        );
        assert_eq!(p("").unwrap_err(), "units: invalid ");
        assert_eq!(p("MB").unwrap_err(), "units: invalid MB");
        assert_eq!(p(".MB").unwrap_err(), "units: invalid .MB");
        assert_eq!(p("16EB").unwrap_err(), "units: overflow parsing unit");
        assert!("1XB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn formats_like_base2bytes() {
        assert_eq!(ByteSize(0).to_string(), "0B");
        assert_eq!(ByteSize(15 << 20).to_string(), "15MiB");
        assert_eq!(ByteSize(1536).to_string(), "1KiB512B");
        assert_eq!(ByteSize(-(1 << 30)).to_string(), "-1GiB");
        assert_eq!(ByteSize((1 << 30) + (512 << 20)).to_string(), "1GiB512MiB");
        assert_eq!(p(&ByteSize(123_456_789).to_string()).unwrap(), 123_456_789);
    }
}
