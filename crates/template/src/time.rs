//! Go's `time.Time` and `time.Duration` as template values, and Go's layout-based
//! formatting (`.StartsAt.Format "2006-01-02 15:04:05"`).
//!
//! Layouts are written with Go's reference time, Mon Jan 2 15:04:05 MST 2006; every
//! element Go's `time.Format` knows is supported: `2006 06 01 1 Jan January 02 2 _2 002
//! __2 15 03 3 04 4 05 5 PM pm Mon Monday MST -0700 -07:00 -07 -070000 -07:00:00` and
//! their `Z` forms, and fractional seconds `.000`/`.999` (or with `,`). Times carry a
//! fixed UTC offset and zone abbreviation; there is no time zone database here, so
//! converting to a named location is the host's job.

use std::any::Any;

use crate::value::{Object, Value, check_args};

/// An instant with a fixed offset from UTC and a zone abbreviation (Go's `time.Time`
/// without locations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time {
    secs: i64,
    nanos: u32,
    offset: i32,
    zone: String,
}

/// Seconds from year 1 to 1970, for Go's zero time.
const UNIX_TO_YEAR1: i64 = 62_135_596_800;

impl Time {
    /// The instant `secs` + `nanos` after the Unix epoch, in UTC.
    pub fn from_unix(secs: i64, nanos: u32) -> Time {
        let secs = secs.saturating_add(i64::from(nanos / 1_000_000_000));
        Time {
            secs,
            nanos: nanos % 1_000_000_000,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    /// The instant `ms` milliseconds after the Unix epoch, in UTC.
    pub fn from_unix_millis(ms: i64) -> Time {
        Time::from_unix(
            ms.div_euclid(1000),
            (ms.rem_euclid(1000) * 1_000_000) as u32,
        )
    }

    /// Go's zero `time.Time` (January 1, year 1, 00:00:00 UTC).
    pub fn zero() -> Time {
        Time::from_unix(-UNIX_TO_YEAR1, 0)
    }

    /// The same instant shown at a fixed offset (seconds east of UTC) with a zone
    /// abbreviation; an empty abbreviation prints as `+hhmm` for `MST`, as in Go.
    pub fn with_offset(&self, offset: i32, zone: &str) -> Time {
        Time {
            offset,
            zone: zone.to_string(),
            ..self.clone()
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn nanos(&self) -> u32 {
        self.nanos
    }

    /// Offset from UTC in seconds.
    pub fn offset(&self) -> i32 {
        self.offset
    }

    /// Formats with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        format(layout, self)
    }

    /// Go's `Time.String`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn go_string(&self) -> String {
        format("2006-01-02 15:04:05.999999999 -0700 MST", self)
    }

    fn is_zero(&self) -> bool {
        self.secs == -UNIX_TO_YEAR1 && self.nanos == 0
    }

    fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    fn add_nanos(&self, d: i64) -> Time {
        let total = self.unix_nanos() + i128::from(d);
        Time {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            ..self.clone()
        }
    }

    fn civil(&self) -> Civil {
        Civil::from_local(self.secs + i64::from(self.offset))
    }
}

/// Broken-down local time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    yday: u32,
    wday: u32,
    hour: u32,
    min: u32,
    sec: u32,
}

impl Civil {
    fn from_local(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let yday = (days - days_from_civil(year, 1, 1)) as u32 + 1;
        Civil {
            year,
            month,
            day,
            yday,
            wday: (days + 4).rem_euclid(7) as u32,
            hour: sod / 3600,
            min: sod / 60 % 60,
            sec: sod % 60,
        }
    }
}

/// Proleptic Gregorian calendar date of a day count since 1970-01-01 (the
/// era-based algorithm popularised by Howard Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds with trailing zeros kept (`.000`); separator and digit count.
    Frac0(u8, usize),
    /// Fractional seconds with trailing zeros dropped (`.999`).
    Frac9(u8, usize),
}

/// Finds the first layout element: (literal prefix length, element, element length).
fn next_std(layout: &str) -> Option<(usize, Std, usize)> {
    let b = layout.as_bytes();
    let has = |i: usize, s: &str| layout[i..].starts_with(s);
    for i in 0..b.len() {
        if !layout.is_char_boundary(i) {
            continue;
        }
        let found = match b[i] {
            b'J' if has(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if has(i, "Jan") => Some((Std::Month, 3)),
            b'M' if has(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if has(i, "Mon") => Some((Std::WeekDay, 3)),
            b'M' if has(i, "MST") => Some((Std::Tz, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize],
                2,
            )),
            b'0' if has(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if has(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if has(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if has(i, "_2006") => {
                // "_2006" is a literal underscore followed by the year.
                return Some((i + 1, Std::LongYear, 4));
            }
            b'_' if has(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'_' if has(i, "_2") => Some((Std::UnderDay, 2)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if has(i, "PM") => Some((Std::PM, 2)),
            b'p' if has(i, "pm") => Some((Std::Pm, 2)),
            b'-' if has(i, "-070000") => Some((Std::NumSecondsTz, 7)),
            b'-' if has(i, "-07:00:00") => Some((Std::NumColonSecondsTz, 9)),
            b'-' if has(i, "-0700") => Some((Std::NumTz, 5)),
            b'-' if has(i, "-07:00") => Some((Std::NumColonTz, 6)),
            b'-' if has(i, "-07") => Some((Std::NumShortTz, 3)),
            b'Z' if has(i, "Z070000") => Some((Std::Iso8601SecondsTz, 7)),
            b'Z' if has(i, "Z07:00:00") => Some((Std::Iso8601ColonSecondsTz, 9)),
            b'Z' if has(i, "Z0700") => Some((Std::Iso8601Tz, 5)),
            b'Z' if has(i, "Z07:00") => Some((Std::Iso8601ColonTz, 6)),
            b'Z' if has(i, "Z07") => Some((Std::Iso8601ShortTz, 3)),
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                // Only a run of digits that ends here is a fractional second.
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    let n = j - (i + 1);
                    Some((
                        if ch == b'0' {
                            Std::Frac0(b[i], n)
                        } else {
                            Std::Frac9(b[i], n)
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return Some((i, std, len));
        }
    }
    None
}

fn push_int(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let s = v.unsigned_abs().to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// Formats `t` with a Go layout string.
pub fn format(layout: &str, t: &Time) -> String {
    let c = t.civil();
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    while let Some((pre, std, len)) = next_std(rest) {
        out.push_str(&rest[..pre]);
        rest = &rest[pre + len..];
        match std {
            Std::Year => push_int(&mut out, c.year.rem_euclid(100), 2),
            Std::LongYear => push_int(&mut out, c.year, 4),
            Std::Month => out.push_str(&MONTHS[c.month as usize - 1][..3]),
            Std::LongMonth => out.push_str(MONTHS[c.month as usize - 1]),
            Std::NumMonth => push_int(&mut out, i64::from(c.month), 0),
            Std::ZeroMonth => push_int(&mut out, i64::from(c.month), 2),
            Std::WeekDay => out.push_str(&DAYS[c.wday as usize][..3]),
            Std::LongWeekDay => out.push_str(DAYS[c.wday as usize]),
            Std::Day => push_int(&mut out, i64::from(c.day), 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, i64::from(c.day), 0);
            }
            Std::ZeroDay => push_int(&mut out, i64::from(c.day), 2),
            Std::UnderYearDay => {
                let s = c.yday.to_string();
                for _ in s.len()..3 {
                    out.push(' ');
                }
                out.push_str(&s);
            }
            Std::ZeroYearDay => push_int(&mut out, i64::from(c.yday), 3),
            Std::Hour => push_int(&mut out, i64::from(c.hour), 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                push_int(
                    &mut out,
                    i64::from(h),
                    if std == Std::Hour12 { 0 } else { 2 },
                );
            }
            Std::Minute => push_int(&mut out, i64::from(c.min), 0),
            Std::ZeroMinute => push_int(&mut out, i64::from(c.min), 2),
            Std::Second => push_int(&mut out, i64::from(c.sec), 0),
            Std::ZeroSecond => push_int(&mut out, i64::from(c.sec), 2),
            Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumColonTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonSecondsTz
                );
                if iso && t.offset == 0 {
                    out.push('Z');
                    continue;
                }
                let zone = t.offset / 60;
                let abs = zone.unsigned_abs();
                out.push(if zone < 0 { '-' } else { '+' });
                push_int(&mut out, i64::from(abs / 60), 2);
                let colon = matches!(
                    std,
                    Std::Iso8601ColonTz
                        | Std::NumColonTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                );
                if !matches!(std, Std::Iso8601ShortTz | Std::NumShortTz) {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, i64::from(abs % 60), 2);
                }
                if matches!(
                    std,
                    Std::Iso8601SecondsTz
                        | Std::NumSecondsTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                ) {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, i64::from(t.offset.unsigned_abs() % 60), 2);
                }
            }
            Std::Tz => {
                if !t.zone.is_empty() {
                    out.push_str(&t.zone);
                } else {
                    let zone = t.offset / 60;
                    out.push(if zone < 0 { '-' } else { '+' });
                    push_int(&mut out, i64::from(zone.unsigned_abs() / 60), 2);
                    push_int(&mut out, i64::from(zone.unsigned_abs() % 60), 2);
                }
            }
            Std::Frac0(sep, n) | Std::Frac9(sep, n) => {
                let digits = format!("{:09}", t.nanos);
                let mut frac = &digits[..n.min(9)];
                if let Std::Frac9(..) = std {
                    frac = frac.trim_end_matches('0');
                    if frac.is_empty() {
                        continue;
                    }
                }
                out.push(sep as char);
                out.push_str(frac);
            }
        }
    }
    out.push_str(rest);
    out
}

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let c = || self.civil();
        let no_args = |v: Value| check_args(name, args, 0).map(|_| v);
        Some(match name {
            "Format" => check_args(name, args, 1).and_then(|_| match &args[0] {
                Value::String(l) => Ok(Value::String(format(l, self))),
                other => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )),
            }),
            "String" => no_args(Value::String(self.go_string())),
            "Unix" => no_args(Value::Int(self.secs)),
            "UnixMilli" => no_args(Value::Int(
                (self.unix_nanos() / 1_000_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            )),
            "UnixNano" => no_args(Value::Int(
                self.unix_nanos().clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            )),
            "UTC" => no_args(Value::object(self.with_offset(0, "UTC"))),
            "IsZero" => no_args(Value::Bool(self.is_zero())),
            "Year" => no_args(Value::Int(c().year)),
            // Go's Month and Weekday are types that print as names.
            "Month" => no_args(Value::String(MONTHS[c().month as usize - 1].into())),
            "Weekday" => no_args(Value::String(DAYS[c().wday as usize].into())),
            "Day" => no_args(Value::Int(c().day.into())),
            "YearDay" => no_args(Value::Int(c().yday.into())),
            "Hour" => no_args(Value::Int(c().hour.into())),
            "Minute" => no_args(Value::Int(c().min.into())),
            "Second" => no_args(Value::Int(c().sec.into())),
            "Nanosecond" => no_args(Value::Int(self.nanos.into())),
            "Add" => check_args(name, args, 1).and_then(|_| match duration_arg(&args[0]) {
                Some(d) => Ok(Value::object(self.add_nanos(d))),
                None => Err(format!(
                    "wrong type for value; expected time.Duration; got {}",
                    args[0].type_name()
                )),
            }),
            "Sub" | "Before" | "After" | "Equal" => {
                check_args(name, args, 1).and_then(|_| match args[0].downcast_ref::<Time>() {
                    Some(u) => Ok(match name {
                        "Sub" => Value::object(Duration(
                            (self.unix_nanos() - u.unix_nanos())
                                .clamp(i64::MIN as i128, i64::MAX as i128)
                                as i64,
                        )),
                        "Before" => Value::Bool(self.unix_nanos() < u.unix_nanos()),
                        "After" => Value::Bool(self.unix_nanos() > u.unix_nanos()),
                        _ => Value::Bool(self.unix_nanos() == u.unix_nanos()),
                    }),
                    None => Err(format!(
                        "wrong type for value; expected time.Time; got {}",
                        args[0].type_name()
                    )),
                })
            }
            _ => return None,
        })
    }

    fn to_text(&self) -> String {
        self.go_string()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn duration_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        v => v.downcast_ref::<Duration>().map(|d| d.0),
    }
}

/// Go's `time.Duration`: signed nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub i64);

impl Duration {
    /// Go's `Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
    pub fn go_string(&self) -> String {
        let neg = self.0 < 0;
        let mut u = self.0.unsigned_abs();
        let mut out = String::new();
        // Built backwards like Go's, then reversed.
        let frac = |out: &mut String, u: &mut u64, prec: u32| {
            let mut print = false;
            for _ in 0..prec {
                let digit = *u % 10;
                print = print || digit != 0;
                if print {
                    out.push(char::from(b'0' + digit as u8));
                }
                *u /= 10;
            }
            if print {
                out.push('.');
            }
        };
        let int = |out: &mut String, mut v: u64| {
            if v == 0 {
                out.push('0');
            }
            while v > 0 {
                out.push(char::from(b'0' + (v % 10) as u8));
                v /= 10;
            }
        };
        if u < 1_000_000_000 {
            let prec = match u {
                0 => return "0s".into(),
                1..=999 => {
                    out.push_str("sn");
                    0
                }
                1_000..=999_999 => {
                    out.push_str("sµ");
                    3
                }
                _ => {
                    out.push_str("sm");
                    6
                }
            };
            frac(&mut out, &mut u, prec);
            int(&mut out, u);
        } else {
            out.push('s');
            frac(&mut out, &mut u, 9);
            int(&mut out, u % 60);
            u /= 60;
            if u > 0 {
                out.push('m');
                int(&mut out, u % 60);
                u /= 60;
                if u > 0 {
                    out.push('h');
                    int(&mut out, u);
                }
            }
        }
        if neg {
            out.push('-');
        }
        out.chars().rev().collect()
    }
}

impl Object for Duration {
    fn type_name(&self) -> &str {
        "time.Duration"
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let d = self.0;
        let v = match name {
            "String" => Value::String(self.go_string()),
            "Hours" => Value::Float(d as f64 / 3.6e12),
            "Minutes" => Value::Float(d as f64 / 6e10),
            "Seconds" => Value::Float(d as f64 / 1e9),
            "Milliseconds" => Value::Int(d / 1_000_000),
            "Microseconds" => Value::Int(d / 1_000),
            "Nanoseconds" => Value::Int(d),
            "Abs" => Value::object(Duration(d.saturating_abs())),
            _ => return None,
        };
        Some(check_args(name, args, 0).map(|_| v))
    }

    fn to_text(&self) -> String {
        self.go_string()
    }

    fn truth(&self) -> bool {
        self.0 != 0
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let s = |n: i64| Duration(n).go_string();
        assert_eq!(s(0), "0s");
        assert_eq!(s(1), "1ns");
        assert_eq!(s(1_500), "1.5µs");
        assert_eq!(s(1_500_000), "1.5ms");
        assert_eq!(s(1_500_000_000), "1.5s");
        assert_eq!(s(90_000_000_000), "1m30s");
        assert_eq!(s(3_600_000_000_000), "1h0m0s");
        assert_eq!(s(-3_723_500_000_000), "-1h2m3.5s");
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468_i64, -1, 0, 59, 365, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(Time::zero().format("2006-01-02"), "0001-01-01");
    }
}
