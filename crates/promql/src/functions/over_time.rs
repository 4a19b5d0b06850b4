//! The `*_over_time` family: aggregations of each series over its range.

use super::{Out, RangeCtx, histogram as fh, range};
use crate::aggregate::{kahan_inc, quantile};
use crate::eval::{Evaluator, Result};
use crate::value::Value;
use ember_promql_parser::Call;
use std::sync::Arc;

pub(crate) fn dispatch(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Option<Result<Value>> {
    let (idx, keep_name, f): (usize, bool, super::RangeFn) = match name {
        "avg_over_time" => (0, false, avg),
        "sum_over_time" => (0, false, sum),
        "count_over_time" => (0, false, |_, x, _| {
            Some(Out::F((x.floats.len() + x.hists.len()) as f64))
        }),
        "min_over_time" => (0, false, |ev, x, pos| {
            floats_only(ev, x, pos, "min_over_time", |v| {
                fold(v, |a, b| if b < a || a.is_nan() { b } else { a })
            })
        }),
        "max_over_time" => (0, false, |ev, x, pos| {
            floats_only(ev, x, pos, "max_over_time", |v| {
                fold(v, |a, b| if b > a || a.is_nan() { b } else { a })
            })
        }),
        "last_over_time" => (0, true, last),
        "first_over_time" => (0, true, first),
        "present_over_time" => (0, false, |_, _, _| Some(Out::F(1.0))),
        "stddev_over_time" => (0, false, |ev, x, pos| {
            floats_only(ev, x, pos, "stddev_over_time", |v| variance(v).sqrt())
        }),
        "stdvar_over_time" => (0, false, |ev, x, pos| {
            floats_only(ev, x, pos, "stdvar_over_time", variance)
        }),
        "mad_over_time" => (0, false, |ev, x, pos| {
            floats_only(ev, x, pos, "mad_over_time", |v| {
                let mut vals = v.to_vec();
                let med = quantile(0.5, &mut vals);
                let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
                quantile(0.5, &mut dev)
            })
        }),
        "quantile_over_time" => (1, false, |ev, x, pos| {
            let q = x.params.first().copied().unwrap_or(f64::NAN);
            if !(0.0..=1.0).contains(&q) && !q.is_nan() {
                ev.warn_at(
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        super::go_g(q)
                    ),
                    pos,
                );
            }
            floats_only(ev, x, pos, "quantile_over_time", |v| {
                quantile(q, &mut v.to_vec())
            })
        }),
        "ts_of_min_over_time" => (0, false, |_, x, _| ts_of(x, |a, b| b <= a)),
        "ts_of_max_over_time" => (0, false, |_, x, _| ts_of(x, |a, b| b >= a)),
        "ts_of_last_over_time" => (0, false, |_, x, _| {
            let t = x
                .floats
                .last()
                .map(|p| p.t)
                .into_iter()
                .chain(x.hists.last().map(|p| p.t))
                .max()?;
            Some(Out::F(t as f64 / 1000.0))
        }),
        "ts_of_first_over_time" => (0, false, |_, x, _| {
            let t = x
                .floats
                .first()
                .map(|p| p.t)
                .into_iter()
                .chain(x.hists.first().map(|p| p.t))
                .min()?;
            Some(Out::F(t as f64 / 1000.0))
        }),
        _ => return None,
    };
    Some(range(ev, c, idx, keep_name, f))
}

fn fold(v: &[f64], g: impl Fn(f64, f64) -> f64) -> f64 {
    v.iter().copied().fold(f64::NAN, &g)
}

/// Runs `g` over the float values; histograms in the range are ignored with an info,
/// and a range of only histograms gives nothing.
fn floats_only(
    ev: &mut Evaluator<'_>,
    x: &RangeCtx<'_>,
    pos: usize,
    name: &str,
    g: impl Fn(&[f64]) -> f64,
) -> Option<Out> {
    if x.floats.is_empty() {
        return None;
    }
    if !x.hists.is_empty() {
        ev.info_at(
            format!("ignored histograms in a range containing both floats and histograms for metric name {:?}", x.metric.metric_name()),
            pos,
        );
    }
    let _ = name;
    let v: Vec<f64> = x.floats.iter().map(|p| p.f).collect();
    Some(Out::F(g(&v)))
}

/// Population variance with Welford's method and compensated sums, as Prometheus's
/// `stdvar_over_time`.
fn variance(v: &[f64]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &x in v {
        count += 1.0;
        let delta = x - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (x - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
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

fn sum(ev: &mut Evaluator<'_>, x: &RangeCtx<'_>, pos: usize) -> Option<Out> {
    if !x.floats.is_empty() && !x.hists.is_empty() {
        return mixed(ev, x, pos);
    }
    if !x.hists.is_empty() {
        let mut acc = (*x.hists[0].h).clone();
        for p in &x.hists[1..] {
            acc = fh::add(&acc, &p.h).ok()?;
        }
        return Some(Out::H(Arc::new(acc)));
    }
    let (mut s, mut c) = (0.0, 0.0);
    for p in x.floats {
        (s, c) = kahan_inc(p.f, s, c);
    }
    Some(Out::F(if s.is_infinite() { s } else { s + c }))
}

fn avg(ev: &mut Evaluator<'_>, x: &RangeCtx<'_>, pos: usize) -> Option<Out> {
    if !x.floats.is_empty() && !x.hists.is_empty() {
        return mixed(ev, x, pos);
    }
    if !x.hists.is_empty() {
        let mut acc = (*x.hists[0].h).clone();
        for p in &x.hists[1..] {
            acc = fh::add(&acc, &p.h).ok()?;
        }
        fh::scale(&mut acc, 1.0 / x.hists.len() as f64);
        return Some(Out::H(Arc::new(acc)));
    }
    // A compensated sum, switching to an incremental mean if the sum overflows.
    let (mut s, mut c, mut mean, mut count, mut incremental) = (0.0, 0.0, 0.0, 0.0, false);
    for p in x.floats {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(p.f, s, c);
            if !ns.is_infinite() || p.f.is_infinite() || count == 1.0 {
                (s, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = s / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.f / count, q * mean, q * c);
    }
    Some(Out::F(if incremental {
        mean + c
    } else {
        s / count + c / count
    }))
}

fn last(_: &mut Evaluator<'_>, x: &RangeCtx<'_>, _: usize) -> Option<Out> {
    match (x.floats.last(), x.hists.last()) {
        (Some(f), Some(h)) if h.t > f.t => Some(Out::H(h.h.clone())),
        (Some(f), _) => Some(Out::F(f.f)),
        (None, Some(h)) => Some(Out::H(h.h.clone())),
        (None, None) => None,
    }
}

fn first(_: &mut Evaluator<'_>, x: &RangeCtx<'_>, _: usize) -> Option<Out> {
    match (x.floats.first(), x.hists.first()) {
        (Some(f), Some(h)) if h.t < f.t => Some(Out::H(h.h.clone())),
        (Some(f), _) => Some(Out::F(f.f)),
        (None, Some(h)) => Some(Out::H(h.h.clone())),
        (None, None) => None,
    }
}

fn ts_of(x: &RangeCtx<'_>, better: fn(f64, f64) -> bool) -> Option<Out> {
    let mut best: Option<(f64, i64)> = None;
    for p in x.floats {
        best = match best {
            None => Some((p.f, p.t)),
            Some((v, _)) if v.is_nan() || better(v, p.f) => Some((p.f, p.t)),
            b => b,
        };
    }
    best.map(|(_, t)| Out::F(t as f64 / 1000.0))
}
