//! `time()`, `timestamp()` and the calendar functions (`hour`, `day_of_week`, …),
//! computed in UTC from Unix seconds without a date library.

use super::{instant, merge_same_labels};
use crate::eval::{Evaluator, Result, drop_name};
use crate::value::{Sample, Value};
use ember_model::Labels;
use ember_promql_parser::{Call, Expr};

pub(crate) fn dispatch(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Option<Result<Value>> {
    Some(match name {
        "time" => instant(ev, c, |_, _, _, ts, out| {
            out.push(Sample::float(Labels::empty(), 0, ts as f64 / 1000.0));
            Ok(())
        }),
        "timestamp" => timestamp(ev, c),
        "minute" => date_fn(ev, c, |d| d.minute as f64),
        "hour" => date_fn(ev, c, |d| d.hour as f64),
        "day_of_week" => date_fn(ev, c, |d| d.weekday as f64),
        "day_of_month" => date_fn(ev, c, |d| d.day as f64),
        "day_of_year" => date_fn(ev, c, |d| d.yday as f64),
        "days_in_month" => date_fn(ev, c, |d| days_in_month(d.year, d.month) as f64),
        "month" => date_fn(ev, c, |d| d.month as f64),
        "year" => date_fn(ev, c, |d| d.year as f64),
        _ => return None,
    })
}

fn timestamp(ev: &mut Evaluator<'_>, c: &Call) -> Result<Value> {
    let mut arg = &c.args[0];
    while let Expr::Paren(p) = arg {
        arg = &p.expr;
    }
    if let Expr::VectorSelector(vs) = arg {
        // The time of the sample found, not of the step.
        let series = ev.select(vs, 0)?;
        let mut m = ev.selector_points(vs, &series, true)?;
        for s in &mut m {
            s.metric = drop_name(&s.metric);
        }
        return Ok(Value::Matrix(merge_same_labels(m)?));
    }
    instant(ev, c, |_, _, v, ts, out| {
        for s in &v[0] {
            out.push(Sample::float(drop_name(&s.metric), 0, ts as f64 / 1000.0));
        }
        Ok(())
    })
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

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
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

fn date_fn(ev: &mut Evaluator<'_>, c: &Call, g: fn(&Civil) -> f64) -> Result<Value> {
    instant(ev, c, move |_, c, v, ts, out| {
        if c.args.is_empty() {
            out.push(Sample::float(
                Labels::empty(),
                0,
                g(&civil(ts.div_euclid(1000))),
            ));
            return Ok(());
        }
        for s in &v[0] {
            if s.h.is_some() {
                continue;
            }
            let val = if s.f.is_nan() || s.f.is_infinite() || s.f.abs() > 9.2e15 {
                f64::NAN
            } else {
                g(&civil(s.f.floor() as i64))
            };
            out.push(Sample::float(drop_name(&s.metric), 0, val));
        }
        Ok(())
    })
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
