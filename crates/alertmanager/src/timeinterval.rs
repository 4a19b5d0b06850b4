//! Time intervals (`time_intervals:` and the legacy `mute_time_intervals:`): when a
//! route is muted or active.
//!
//! Each field narrows the interval; an absent field does not restrict, but a present
//! empty list matches nothing, as in Alertmanager (Go tells a nil slice from an empty
//! one). Times are taken in the interval's `location` (a tz database name, `UTC` or
//! `Local`; default: the zone of the time given, which for Alertmanager is the
//! server's local zone).
//!
//! One deliberate difference from 0.25: the length of a month (for negative
//! `days_of_month`) is counted in calendar days. 0.25 divided the month's duration by
//! 24 hours, so a month with a DST change lost a day; later releases fixed it and
//! Ember follows the fix.

use crate::Error;
use jiff::ZonedDateTime;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer};

/// One time interval: every given condition must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeInterval {
    /// Times of day (`start_time`, `end_time`, minutes since midnight, end exclusive).
    pub times: Option<Vec<TimeRange>>,
    /// Days of the week, 0 = Sunday.
    pub weekdays: Option<Vec<InclusiveRange>>,
    /// Days of the month; negative counts from the end (-1 = last day).
    pub days_of_month: Option<Vec<InclusiveRange>>,
    /// Months, 1 = January.
    pub months: Option<Vec<InclusiveRange>>,
    /// Years.
    pub years: Option<Vec<InclusiveRange>>,
    /// The zone the other fields are read in.
    pub location: Option<Location>,
}

fn opt_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d)
}

/// A minute range within a day, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Minutes since midnight, inclusive.
    pub start_minute: u32,
    /// Minutes since midnight, exclusive (at most 1440).
    pub end_minute: u32,
}

/// An inclusive range of integers (weekdays, days of month, months, years), kept
/// with the kind it was parsed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InclusiveRange {
    /// First value.
    pub begin: i32,
    /// Last value.
    pub end: i32,
}

/// A time zone from the tz database.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    /// The name as written.
    pub name: String,
    /// The zone.
    pub tz: TimeZone,
}

impl Location {
    /// Loads a zone as Go's `time.LoadLocation` does: `""` and `UTC` are UTC, `Local`
    /// the system zone, anything else a tz database name.
    pub fn load(name: &str) -> Result<Location, Error> {
        let tz = match name {
            "" | "UTC" => TimeZone::UTC,
            "Local" => TimeZone::system(),
            _ => {
                let bad = name.contains("..") || name.starts_with('/') || name.starts_with('\\');
                if bad {
                    return Err(Error::Value("time: invalid location name".into()));
                }
                let tz = TimeZone::get(name)
                    .map_err(|_| Error::Value(format!("unknown time zone {name}")))?;
                // jiff looks names up case-insensitively; Go opens the file of that
                // exact name, so `america/new_york` is unknown there.
                if tz
                    .iana_name()
                    .is_some_and(|n| n != name && n.eq_ignore_ascii_case(name))
                {
                    return Err(Error::Value(format!("unknown time zone {name}")));
                }
                tz
            }
        };
        Ok(Location {
            name: name.to_string(),
            tz,
        })
    }
}

fn location<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Location>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => Location::load(&s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(e.to_string())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    #[serde(default, deserialize_with = "crate::yaml::z")]
    start_time: String,
    #[serde(default, deserialize_with = "crate::yaml::z")]
    end_time: String,
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawTimeRange::deserialize(d)?;
        TimeRange::new(&raw.start_time, &raw.end_time).map_err(serde::de::Error::custom)
    }
}

impl TimeRange {
    /// Parses `HH:MM` bounds as Alertmanager does (`24:00` allowed as an end).
    pub fn new(start: &str, end: &str) -> Result<TimeRange, String> {
        if start.is_empty() || end.is_empty() {
            return Err("both start and end times must be provided".into());
        }
        let start = parse_time(start)?;
        let end = parse_time(end)?;
        if start >= end {
            return Err("start time cannot be equal or greater than end time".into());
        }
        Ok(TimeRange {
            start_minute: start,
            end_minute: end,
        })
    }
}

/// `HH:MM` with `00:00`..`23:59`, or `24:00`.
fn parse_time(s: &str) -> Result<u32, String> {
    let b = s.as_bytes();
    let ok = s == "24:00"
        || (b.len() == 5
            && b[2] == b':'
            && matches!(
                (b[0], b[1]),
                (b'0' | b'1', b'0'..=b'9') | (b'2', b'0'..=b'3')
            )
            && matches!(b[3], b'0'..=b'5')
            && b[4].is_ascii_digit());
    if !ok {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    Ok(h * 60 + m)
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Go's `strconv.Atoi`: optional sign, decimal digits, no blanks.
fn atoi(s: &str) -> Result<i32, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i32>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// The kinds of inclusive range, each with its own member syntax and checks.
#[derive(Clone, Copy)]
enum RangeKind {
    Weekday,
    DayOfMonth,
    Month,
    Year,
}

fn member(kind: RangeKind, s: &str) -> Result<i32, String> {
    match kind {
        RangeKind::Weekday => WEEKDAYS
            .iter()
            .position(|d| *d == s)
            .map(|p| p as i32)
            .ok_or_else(|| format!("{s} is not a valid weekday")),
        RangeKind::Month => match MONTHS.iter().position(|m| *m == s) {
            Some(p) => Ok(p as i32 + 1),
            None => atoi(s).map_err(|_| format!("{s} is not a valid month")),
        },
        RangeKind::DayOfMonth | RangeKind::Year => atoi(s),
    }
}

/// Parses `a` or `a:b` (lower-cased first) and checks the range as 0.25 does.
fn parse_range(kind: RangeKind, input: &str) -> Result<InclusiveRange, String> {
    let s = input.to_lowercase();
    let (begin, end) = if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {s}, invalid format"));
        }
        (member(kind, parts[0])?, member(kind, parts[1])?)
    } else {
        let v = member(kind, &s)?;
        (v, v)
    };
    match kind {
        RangeKind::Weekday => {
            if begin > end {
                return Err("start day cannot be before end day".into());
            }
            if !(0..=6).contains(&begin) || !(0..=6).contains(&end) {
                return Err(format!(
                    "{input} is not a valid day of the week: out of range"
                ));
            }
        }
        RangeKind::DayOfMonth => {
            for v in [begin, end] {
                if v == 0 || !(-31..=31).contains(&v) {
                    return Err(format!("{v} is not a valid day of the month: out of range"));
                }
            }
            if begin < 0 && end > 0 {
                return Err("end day must be negative if start day is negative".into());
            }
            let norm = |v: i32| if v < 0 { 28 + v } else { v };
            if norm(begin) > norm(end) {
                return Err(format!("end day {end} is always before start day {begin}"));
            }
        }
        RangeKind::Month => {
            if begin > end {
                let name = |v: i32| {
                    usize::try_from(v - 1)
                        .ok()
                        .and_then(|i| MONTHS.get(i))
                        .copied()
                        .unwrap_or("")
                };
                return Err(format!(
                    "end month {} is before start month {}",
                    name(end),
                    name(begin)
                ));
            }
        }
        RangeKind::Year => {
            if begin > end {
                return Err(format!("end year {end} is before start year {begin}"));
            }
        }
    }
    Ok(InclusiveRange { begin, end })
}

/// Deserializes a list of ranges of one kind, by field name.
macro_rules! range_list {
    ($fn_name:ident, $kind:expr) => {
        fn $fn_name<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
            let Some(items) = Option::<Vec<Option<String>>>::deserialize(d)? else {
                return Ok(None);
            };
            items
                .into_iter()
                .map(|s| parse_range($kind, &s.unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
                .map_err(serde::de::Error::custom)
        }
    };
}

range_list!(weekdays, RangeKind::Weekday);
range_list!(days_of_month, RangeKind::DayOfMonth);
range_list!(months, RangeKind::Month);
range_list!(years, RangeKind::Year);

/// The raw form: the range lists need their kind, given by the field they sit in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeInterval {
    #[serde(default, deserialize_with = "opt_list")]
    times: Option<Vec<TimeRange>>,
    #[serde(default, deserialize_with = "weekdays")]
    weekdays: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "days_of_month")]
    days_of_month: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "months")]
    months: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "years")]
    years: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "location")]
    location: Option<Location>,
}

/// Decodes one interval with per-kind range parsing.
fn deserialize_interval<'de, D: Deserializer<'de>>(d: D) -> Result<TimeInterval, D::Error> {
    let r = RawTimeInterval::deserialize(d)?;
    Ok(TimeInterval {
        times: r.times,
        weekdays: r.weekdays,
        days_of_month: r.days_of_month,
        months: r.months,
        years: r.years,
        location: r.location,
    })
}

impl<'de> Deserialize<'de> for TimeInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_interval(d)
    }
}

fn days_in_month(date: Date) -> i32 {
    i32::from(date.days_in_month())
}

impl TimeInterval {
    /// Whether `at` lies inside the interval (read in `location` when set, else in
    /// `at`'s own zone).
    pub fn contains(&self, at: &ZonedDateTime) -> bool {
        let t = match &self.location {
            Some(loc) => at.with_time_zone(loc.tz.clone()),
            None => at.clone(),
        };
        if let Some(times) = &self.times {
            let minute = i32::from(t.hour()) * 60 + i32::from(t.minute());
            let minute = u32::try_from(minute).unwrap_or(0);
            if !times
                .iter()
                .any(|r| minute >= r.start_minute && minute < r.end_minute)
            {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let dim = days_in_month(t.date());
            let day = i32::from(t.day());
            let inside = days.iter().any(|r| {
                let begin = if r.begin < 0 {
                    dim + r.begin + 1
                } else {
                    r.begin
                };
                let end = if r.end < 0 { dim + r.end + 1 } else { r.end };
                if begin > dim {
                    return false;
                }
                let begin = begin.clamp(-dim, dim);
                let end = end.clamp(-dim, dim);
                day >= begin && day <= end
            });
            if !inside {
                return false;
            }
        }
        if let Some(months) = &self.months {
            let m = i32::from(t.month());
            if !months.iter().any(|r| m >= r.begin && m <= r.end) {
                return false;
            }
        }
        if let Some(weekdays) = &self.weekdays {
            let wd = i32::from(t.weekday().to_sunday_zero_offset());
            if !weekdays.iter().any(|r| wd >= r.begin && wd <= r.end) {
                return false;
            }
        }
        if let Some(years) = &self.years {
            let y = i32::from(t.year());
            if !years.iter().any(|r| y >= r.begin && y <= r.end) {
                return false;
            }
        }
        true
    }
}

/// Whether `at` lies in any of `intervals`.
pub fn any_contains(intervals: &[TimeInterval], at: &ZonedDateTime) -> bool {
    intervals.iter().any(|i| i.contains(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<TimeInterval, String> {
        serde_saphyr::from_str::<TimeInterval>(yaml).map_err(|e| e.to_string())
    }

    fn at(s: &str) -> ZonedDateTime {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn business_hours() {
        let ti = parse(
            "times:\n  - start_time: '09:00'\n    end_time: '17:00'\nweekdays: ['monday:friday']\nlocation: Europe/Paris\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // 2024-03-04 is a Monday.
        assert!(ti.contains(&at("2024-03-04T09:00:00+01:00[Europe/Paris]")));
        assert!(ti.contains(&at("2024-03-04T08:30:00+00:00[UTC]")));
        assert!(!ti.contains(&at("2024-03-04T17:00:00+01:00[Europe/Paris]")));
        assert!(!ti.contains(&at("2024-03-03T12:00:00+01:00[Europe/Paris]")));
    }

    #[test]
    fn days_months_years() {
        let ti = parse("days_of_month: ['-1']\nmonths: ['february']\nyears: ['2024:2025']\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(ti.contains(&at("2024-02-29T12:00:00+00:00[UTC]")));
        assert!(!ti.contains(&at("2024-02-28T12:00:00+00:00[UTC]")));
        assert!(ti.contains(&at("2025-02-28T12:00:00+00:00[UTC]")));
        assert!(!ti.contains(&at("2026-02-28T12:00:00+00:00[UTC]")));
        let ti = parse("months: ['1:3', 12]\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(ti.contains(&at("2024-12-01T00:00:00+00:00[UTC]")));
        assert!(!ti.contains(&at("2024-04-01T00:00:00+00:00[UTC]")));
        // A present, empty list matches nothing.
        let ti = parse("weekdays: []\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(!ti.contains(&at("2024-04-01T00:00:00+00:00[UTC]")));
        let ti = parse("{}").unwrap_or_else(|e| panic!("{e}"));
        assert!(ti.contains(&at("2024-04-01T00:00:00+00:00[UTC]")));
    }

    #[test]
    fn rejected_like_0_25() {
        for y in [
            "weekdays: ['friday:monday']",
            "weekdays: ['funday']",
            "days_of_month: ['0']",
            "days_of_month: ['-1:5']",
            "days_of_month: ['10:5']",
            "months: ['march:january']",
            "months: ['smarch']",
            "years: ['2020:2019']",
            "years: ['1:2:3']",
            "times: [{start_time: '10:00', end_time: '09:00'}]",
            "times: [{start_time: '10:00'}]",
            "times: [{start_time: '1:00', end_time: '09:00'}]",
            "times: [{start_time: '00:00', end_time: '24:01'}]",
            "location: Not/AZone",
            "location: europe/paris",
            "bogus: 1",
        ] {
            assert!(parse(y).is_err(), "{y} should be rejected");
        }
        // Accepted by 0.25 although odd: month numbers are not range-checked.
        assert!(parse("months: ['13']").is_ok());
        assert!(parse("times: [{start_time: '00:00', end_time: '24:00'}]").is_ok());
        assert!(parse("days_of_month: ['-3:-1', '1:5']").is_ok());
    }
}
