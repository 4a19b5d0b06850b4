//! `time()`, `timestamp()` and the calendar functions (`hour`, `day_of_week`, …),
//! computed in UTC from Unix seconds without a date library.

use super::InstantFn;
use crate::eval::{EMatrix, ESample, Evaluator, Result};
use ember_model::Labels;
use ember_model::time::{Civil, civil, days_in_month};
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
