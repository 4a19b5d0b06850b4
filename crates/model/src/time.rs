//! UTC calendar arithmetic for millisecond timestamps.
//!
//! PromQL's date functions, the API's RFC 3339 parameters and the JSON status pages all
//! need the same conversions between Unix time and the civil (proleptic Gregorian)
//! calendar. They live here, once, rather than pulling in a date crate for two small
//! formulas (Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for every
//! `i64` day count the timestamps can reach).

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The proleptic Gregorian year (0 is 1 BC).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 is Sunday, as Go's `time.Weekday`.
    pub weekday: u32,
    /// 1 to 366.
    pub yday: u32,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The UTC date and time of a Unix time in seconds.
pub fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUMULATIVE[(month - 1) as usize] + day + u32::from(is_leap(year) && month > 2);
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        minute: ((sod % 3600) / 60) as u32,
        second: (sod % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

/// Days since 1970-01-01 of a civil date (`month` 1 to 12).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The number of days in a month (`month` 1 to 12) of a year.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `2006-01-02T15:04:05.000Z` for a millisecond timestamp, as Prometheus's JSON prints
/// times.
pub fn format_rfc3339_millis(ms: i64) -> String {
    let d = civil(ms.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        d.year,
        d.month,
        d.day,
        d.hour,
        d.minute,
        d.second,
        ms.rem_euclid(1000)
    )
}

/// Go's `time.RFC3339Nano` in UTC, as `time.Time` marshals to JSON: nanoseconds
/// with trailing zeros cut, and no fraction at all on a whole second
/// (`2026-11-26T03:47:08.787382644Z`, `1970-01-01T00:00:01.5Z`, `1970-01-01T00:00:00Z`).
pub fn format_rfc3339_nanos(nanos: i64) -> String {
    let d = civil(nanos.div_euclid(1_000_000_000));
    let frac = nanos.rem_euclid(1_000_000_000);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    );
    if frac != 0 {
        let f = format!(".{frac:09}");
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Milliseconds since the epoch of an RFC 3339 time (`2006-01-02T15:04:05.999Z` or with a
/// `±hh:mm` offset); fractions beyond milliseconds are truncated. `None` when malformed.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo)
        || d < 1
        || d > i64::from(days_in_month(y, mo as u32))
        || h > 23
        || mi > 59
        || se > 59
    {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &b[start..i.min(start + 3)];
        for k in 0..3 {
            ms = ms * 10 + digits.get(k).map_or(0, |c| i64::from(c - b'0'));
        }
    }
    let off = match *b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let hh = num(i + 1..i + 3)?;
            let mm = num(i + 4..i + 6)?;
            let off = hh * 3600 + mm * 60;
            if sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - off) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let d = civil(0);
        assert_eq!(
            (d.year, d.month, d.day, d.weekday, d.yday),
            (1970, 1, 1, 4, 1)
        );
        let d = civil(951_782_400); // 2000-02-29 00:00 UTC
        assert_eq!((d.year, d.month, d.day, d.yday), (2000, 2, 29, 60));
        let d = civil(-1);
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (1969, 12, 31, 23, 59, 59)
        );
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn days_round_trip() {
        for days in (-800_000i64..800_000).step_by(997) {
            let c = civil(days * 86_400);
            assert_eq!(
                days_from_civil(c.year, i64::from(c.month), i64::from(c.day)),
                days
            );
        }
    }

    #[test]
    fn rfc3339_nanos_as_go() {
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_nanos(1_500_000_000),
            "1970-01-01T00:00:01.5Z"
        );
        assert_eq!(
            format_rfc3339_nanos(1_795_664_828_787_382_644),
            "2026-11-26T03:47:08.787382644Z"
        );
        assert_eq!(
            format_rfc3339_nanos(1_700_000_000_120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.1239Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            parse_rfc3339("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T20:13:20-02:00"),
            Some(1_700_000_000_000)
        );
        for bad in [
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
            "2023-02-30T22:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20Zjunk",
            "2023-11-14T22:13:20+0200",
            "+023-11-14T22:13:20Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
