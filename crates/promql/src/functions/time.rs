//! `time()`, `timestamp()` and the calendar functions (`hour`, `day_of_week`, …),
//! computed in UTC from Unix seconds without a date library.

use super::InstantFn;
use crate::eval::{EMatrix, ESample, Evaluator, Result};
use ember_model::Labels;
use ember_promql_parser::VectorSelector;

/// The date functions: of the step time without arguments, else of each value
/// (taken as Unix seconds).
macro_rules! date {
    ($g:expr) => {
        |ev, c, v, ts| {
            let g: fn(&Civil) -> f64 = $g;
            if c.args.is_empty() {
                return Ok(vec![ESample::float(
                    Labels::empty(),
                    g(&civil(ts.div_euclid(1000))),
                )]);
            }
            Ok(v[0]
                .iter()
                .filter(|s| s.h.is_none())
                .map(|s| ESample {
                    metric: ev.drop_now(&s.metric, true),
                    t: s.t,
                    f: g(&civil(go_int64(s.f))),
                    h: None,
                    drop_name: true,
                })
                .collect())
        }
    };
}

pub(crate) fn instant_fn(name: &str) -> Option<InstantFn> {
    Some(match name {
        "time" => |_, _, _, ts| Ok(vec![ESample::float(Labels::empty(), ts as f64 / 1000.0)]),
        "timestamp" => |ev, _, v, _| {
            Ok(v[0]
                .iter()
                .map(|s| ESample {
                    metric: ev.drop_now(&s.metric, true),
                    t: s.t,
                    f: s.t as f64 / 1000.0,
                    h: None,
                    drop_name: true,
                })
                .collect())
        },
        "minute" => date!(|d| d.minute as f64),
        "hour" => date!(|d| d.hour as f64),
        "day_of_week" => date!(|d| d.weekday as f64),
        "day_of_month" => date!(|d| d.day as f64),
        "day_of_year" => date!(|d| d.yday as f64),
        "days_in_month" => date!(|d| days_in_month(d.year, d.month) as f64),
        "month" => date!(|d| d.month as f64),
        "year" => date!(|d| d.year as f64),
        _ => return None,
    })
}

/// `timestamp(selector)`: the time of the sample each step finds, not the step's.
pub(crate) fn timestamp_of_selector(
    ev: &mut Evaluator<'_>,
    vs: &VectorSelector,
) -> Result<EMatrix> {
    let series = ev.select_for(vs, 0)?;
    let found = ev.selector_found(vs, &series, true)?;
    let mut out = Vec::with_capacity(found.len());
    for (labels, pts) in found {
        let mut s = crate::eval::ESeries::new(ev.drop_now(&labels, true), true);
        s.floats = pts
            .into_iter()
            .map(|(ts, t, _)| crate::value::FPoint {
                t: ts,
                f: t as f64 / 1000.0,
            })
            .collect();
        out.push(s);
    }
    if !ev.delayed_name_removal {
        out = crate::eval::merge_same_labels(out)?;
    }
    Ok(out)
}

/// Go's `int64(f)` on amd64: truncation, and the minimum for what does not fit.
fn go_int64(f: f64) -> i64 {
    if f.is_nan() || !(i64::MIN as f64..i64::MAX as f64).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// A UTC calendar date and time.
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) weekday: u32,
    pub(crate) yday: u32,
}

/// The UTC date of a Unix time in seconds (Howard Hinnant's days-to-civil).
pub(crate) fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + if leap && m > 2 { 1 } else { 0 };
    Civil {
        year: y,
        month: m,
        day: d,
        hour: (sod / 3600) as u32,
        minute: ((sod % 3600) / 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
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
            (d.year, d.month, d.day, d.hour, d.minute),
            (1969, 12, 31, 23, 59)
        );
    }
}
