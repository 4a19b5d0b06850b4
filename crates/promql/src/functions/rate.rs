//! `rate`, `increase`, `delta` (extrapolated over the range, with Prometheus's rules
//! for when to extrapolate to the range's edges and to a counter's zero point) and
//! `irate`, `idelta` (from the last two samples).

use super::{Out, RangeCtx, histogram as fh, range};
use crate::eval::{Evaluator, Result};
use crate::value::Value;
use ember_model::histogram::CounterResetHint;
use ember_promql_parser::Call;
use std::sync::Arc;

pub(crate) fn dispatch(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Option<Result<Value>> {
    let f: super::RangeFn = match name {
        "rate" => |ev, x, pos| extrapolated(ev, x, pos, true, true),
        "increase" => |ev, x, pos| extrapolated(ev, x, pos, true, false),
        "delta" => |ev, x, pos| extrapolated(ev, x, pos, false, false),
        "irate" => |ev, x, pos| instant_value(ev, x, pos, true),
        "idelta" => |ev, x, pos| instant_value(ev, x, pos, false),
        _ => return None,
    };
    let r = range(ev, c, 0, false, f);
    if matches!(name, "rate" | "increase") && r.is_ok() {
        counter_name_info(ev, c);
    }
    Some(r)
}

/// Prometheus notes rates of metrics whose names do not look like counters.
fn counter_name_info(ev: &mut Evaluator<'_>, c: &Call) {
    let Ok(windows) = ev.range_arg(&c.args[0]) else {
        return;
    };
    let pos = c.args[0].pos_range().start;
    for w in windows {
        let name = w.labels.metric_name();
        if name.is_empty() || w.floats.is_empty() {
            continue;
        }
        let counter_like = ["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|s| name.ends_with(s));
        let has_points = w.ends.iter().any(|e| !w.window(*e).0.is_empty());
        if !counter_like && has_points {
            ev.info_at(
                format!("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"),
                pos,
            );
        }
    }
}

fn mixed(ev: &mut Evaluator<'_>, x: &RangeCtx<'_>, pos: usize) -> Option<Out> {
    ev.warn_at(
        format!(
            "encountered a mix of histograms and floats for metric name {:?}",
            x.metric.metric_name()
        ),
        pos,
    );
    None
}

fn extrapolated(
    ev: &mut Evaluator<'_>,
    x: &RangeCtx<'_>,
    pos: usize,
    is_counter: bool,
    is_rate: bool,
) -> Option<Out> {
    if !x.floats.is_empty() && !x.hists.is_empty() {
        return mixed(ev, x, pos);
    }
    let range_start = x.end - x.range;
    let range_end = x.end;
    let (first_t, last_t, n_minus_one);
    let mut result_f = 0.0;
    let mut result_h = None;
    if !x.hists.is_empty() {
        n_minus_one = x.hists.len() - 1;
        first_t = x.hists[0].t;
        last_t = x.hists[n_minus_one].t;
        if n_minus_one == 0 {
            return None;
        }
        match fh::histogram_rate(x.hists, is_counter) {
            Ok((h, warn)) => {
                if let Some(w) = warn {
                    ev.warn_at(format!("{w} {:?}", x.metric.metric_name()), pos);
                }
                result_h = Some(h);
            }
            Err(w) => {
                ev.warn_at(format!("{w} {:?}", x.metric.metric_name()), pos);
                return None;
            }
        }
    } else {
        n_minus_one = x.floats.len() - 1;
        first_t = x.floats[0].t;
        last_t = x.floats[n_minus_one].t;
        if n_minus_one == 0 {
            return None;
        }
        result_f = x.floats[n_minus_one].f - x.floats[0].f;
        if is_counter {
            for w in x.floats.windows(2) {
                if w[1].f < w[0].f {
                    result_f += w[0].f;
                }
            }
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / n_minus_one as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if result_f > 0.0 && !x.floats.is_empty() && x.floats[0].f >= 0.0 {
            to_zero = sampled * (x.floats[0].f / result_f);
        } else if let Some(h) = &result_h
            && h.count > 0.0
            && !x.hists.is_empty()
            && x.hists[0].h.count >= 0.0
        {
            to_zero = sampled * (x.hists[0].h.count / h.count);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= x.range as f64 / 1000.0;
    }
    match result_h {
        Some(mut h) => {
            fh::scale(&mut h, factor);
            Some(Out::H(Arc::new(h)))
        }
        None => Some(Out::F(result_f * factor)),
    }
}

fn instant_value(
    ev: &mut Evaluator<'_>,
    x: &RangeCtx<'_>,
    pos: usize,
    is_rate: bool,
) -> Option<Out> {
    if x.floats.len() + x.hists.len() < 2 {
        return None;
    }
    // The last two samples, whichever kind they are.
    type Point<'a> = (
        i64,
        Option<f64>,
        Option<&'a Arc<ember_model::histogram::FloatHistogram>>,
    );
    let mut last: Vec<Point<'_>> = Vec::new();
    for p in x.floats.iter().rev().take(2) {
        last.push((p.t, Some(p.f), None));
    }
    for p in x.hists.iter().rev().take(2) {
        last.push((p.t, None, Some(&p.h)));
    }
    last.sort_by_key(|s| std::cmp::Reverse(s.0));
    let (s1, s0) = (&last[0], &last[1]);
    let dt = s1.0 - s0.0;
    if dt == 0 {
        return None;
    }
    match (s0.1, s1.1, s0.2, s1.2) {
        (Some(f0), Some(f1), _, _) => {
            let mut v = f1;
            if !is_rate || f1 >= f0 {
                v = f1 - f0;
            }
            if is_rate {
                v /= dt as f64 / 1000.0;
            }
            Some(Out::F(v))
        }
        (_, _, Some(h0), Some(h1)) => {
            let name = x.metric.metric_name();
            if is_rate
                && (h1.counter_reset_hint == CounterResetHint::Gauge
                    || h0.counter_reset_hint == CounterResetHint::Gauge)
            {
                ev.warn_at(
                    format!("this native histogram metric is not a counter: {name:?}"),
                    pos,
                );
            }
            if !is_rate
                && (h1.counter_reset_hint != CounterResetHint::Gauge
                    || h0.counter_reset_hint != CounterResetHint::Gauge)
            {
                ev.warn_at(
                    format!("this native histogram metric is not a gauge: {name:?}"),
                    pos,
                );
            }
            let mut r = (**h1).clone();
            if !is_rate || !fh::detect_reset(h1, h0) {
                match fh::sub(&r, h0) {
                    Ok(x) => r = x,
                    Err(_) => {
                        ev.warn_at(format!("vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"), pos);
                        return None;
                    }
                }
            }
            r.counter_reset_hint = CounterResetHint::Gauge;
            if is_rate {
                fh::scale(&mut r, 1000.0 / dt as f64);
            }
            Some(Out::H(Arc::new(r)))
        }
        _ => mixed(ev, x, pos),
    }
}
