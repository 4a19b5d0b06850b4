//! The `*_over_time` family: aggregations of each series over its range.

use super::{Out, RangeFn, Win};
use crate::aggregate::quantile;
use crate::eval::{Evaluator, Result};
use crate::fhist::{self, Acc, go_g, kahan_inc};
use ember_model::histogram::CounterResetHint;
use std::sync::Arc;

pub(crate) fn range_fn(name: &str) -> Option<RangeFn> {
    Some(match name {
        "avg_over_time" => avg,
        "sum_over_time" => sum,
        "count_over_time" => |_, w| Ok(Some(Out::F((w.floats.len() + w.hists.len()) as f64))),
        "present_over_time" => |_, _| Ok(Some(Out::F(1.0))),
        "last_over_time" => |_, w| Ok(last(w)),
        "first_over_time" => |_, w| Ok(first(w)),
        "min_over_time" => |ev, w| {
            Ok(floats_only(ev, w, |v| {
                best(v, |cur, m| cur < m || m.is_nan()).0
            }))
        },
        "max_over_time" => |ev, w| {
            Ok(floats_only(ev, w, |v| {
                best(v, |cur, m| cur > m || m.is_nan()).0
            }))
        },
        "ts_of_min_over_time" => |ev, w| {
            Ok(floats_only(ev, w, |v| {
                best(v, |cur, m| cur <= m || m.is_nan()).1 as f64 / 1000.0
            }))
        },
        "ts_of_max_over_time" => |ev, w| {
            Ok(floats_only(ev, w, |v| {
                best(v, |cur, m| cur >= m || m.is_nan()).1 as f64 / 1000.0
            }))
        },
        "ts_of_last_over_time" => |_, w| {
            let tf = w.floats.last().map_or(0, |p| p.t);
            let th = w.hists.last().map_or(0, |p| p.t);
            Ok(Some(Out::F(tf.max(th) as f64 / 1000.0)))
        },
        "ts_of_first_over_time" => |_, w| {
            let tf = w.floats.first().map_or(i64::MAX, |p| p.t);
            let th = w.hists.first().map_or(i64::MAX, |p| p.t);
            Ok(Some(Out::F(tf.min(th) as f64 / 1000.0)))
        },
        "stddev_over_time" => |ev, w| Ok(floats_only(ev, w, |v| variance(v).sqrt())),
        "stdvar_over_time" => |ev, w| Ok(floats_only(ev, w, variance)),
        "mad_over_time" => |ev, w| {
            Ok(floats_only(ev, w, |v| {
                let mut vals: Vec<f64> = v.iter().map(|p| p.f).collect();
                if vals.iter().any(|x| x.is_nan()) {
                    return f64::NAN;
                }
                let med = quantile(0.5, &mut vals);
                let mut dev: Vec<f64> = vals.iter().map(|x| (x - med).abs()).collect();
                quantile(0.5, &mut dev)
            }))
        },
        "quantile_over_time" => quantile_over_time,
        _ => return None,
    })
}

/// The value and time of the sample `better` prefers (the first one to start).
fn best(v: &[crate::value::FPoint], better: fn(f64, f64) -> bool) -> (f64, i64) {
    let (mut m, mut t) = (v[0].f, v[0].t);
    for p in v {
        if better(p.f, m) {
            m = p.f;
            t = p.t;
        }
    }
    (m, t)
}

/// Runs `g` over the float samples; histograms in the range are ignored with an
/// info, and a range of only histograms gives nothing.
fn floats_only(
    ev: &mut Evaluator<'_>,
    w: &Win<'_>,
    g: impl Fn(&[crate::value::FPoint]) -> f64,
) -> Option<Out> {
    if w.floats.is_empty() {
        return None;
    }
    if !w.hists.is_empty() {
        ignored_in_mixed(ev, w);
    }
    Some(Out::F(g(w.floats)))
}

pub(crate) fn ignored_in_mixed(ev: &mut Evaluator<'_>, w: &Win<'_>) {
    ev.annos.info(
        format!(
            "ignored histograms in a range containing both floats and histograms for metric name {}",
            w.name()
        ),
        w.pos,
    );
}

fn quantile_over_time(ev: &mut Evaluator<'_>, w: &Win<'_>) -> Result<Option<Out>> {
    let q = w.params.first().copied().unwrap_or(f64::NAN);
    if w.floats.is_empty() {
        return Ok(None);
    }
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        ev.annos.warn(
            format!("quantile value should be between 0 and 1, got {}", go_g(q)),
            w.pos,
        );
    }
    if !w.hists.is_empty() {
        ignored_in_mixed(ev, w);
    }
    let mut v: Vec<f64> = w.floats.iter().map(|p| p.f).collect();
    Ok(Some(Out::F(quantile(q, &mut v))))
}

/// Population variance with Welford's method and compensated sums.
fn variance(v: &[crate::value::FPoint]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in v {
        count += 1.0;
        let delta = p.f - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (p.f - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

fn warn_mixed(ev: &mut Evaluator<'_>, w: &Win<'_>) {
    ev.annos.warn(
        format!(
            "encountered a mix of histograms and floats for metric name {}",
            w.name()
        ),
        w.pos,
    );
}

/// Tracks counter-reset hints of histograms summed up, and reconciled buckets.
#[derive(Default)]
struct HintSeen {
    reset: bool,
    not_reset: bool,
    reconciled: bool,
}

impl HintSeen {
    fn see(&mut self, h: &ember_model::histogram::FloatHistogram) {
        match h.counter_reset_hint {
            CounterResetHint::CounterReset => self.reset = true,
            CounterResetHint::NotCounterReset => self.not_reset = true,
            _ => {}
        }
    }

    fn report(&self, ev: &mut Evaluator<'_>, pos: usize) {
        if self.reset && self.not_reset {
            ev.annos.warn(
                "conflicting counter resets during histogram aggregation".to_string(),
                pos,
            );
        }
        if self.reconciled {
            ev.annos.info(
                "mismatched custom buckets were reconciled during aggregation".to_string(),
                pos,
            );
        }
    }
}

fn warn_exp_custom(ev: &mut Evaluator<'_>, w: &Win<'_>) {
    ev.annos.warn(
        format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
            w.name()
        ),
        w.pos,
    );
}

fn sum(ev: &mut Evaluator<'_>, w: &Win<'_>) -> Result<Option<Out>> {
    if !w.floats.is_empty() && !w.hists.is_empty() {
        warn_mixed(ev, w);
        return Ok(None);
    }
    if w.floats.is_empty() {
        let mut seen = HintSeen::default();
        let mut acc = Acc::new(&w.hists[0].h);
        seen.see(&w.hists[0].h);
        for p in &w.hists[1..] {
            seen.see(&p.h);
            match acc.add(&p.h, false, true) {
                Err(_) => {
                    warn_exp_custom(ev, w);
                    return Ok(None);
                }
                Ok(n) => seen.reconciled |= n.reconciled,
            }
        }
        seen.report(ev, w.pos);
        return Ok(Some(Out::H(Arc::new(acc.finish()))));
    }
    let (mut s, mut c) = (0.0, 0.0);
    for p in w.floats {
        (s, c) = kahan_inc(p.f, s, c);
    }
    Ok(Some(Out::F(if s.is_infinite() { s } else { s + c })))
}

fn avg(ev: &mut Evaluator<'_>, w: &Win<'_>) -> Result<Option<Out>> {
    if !w.floats.is_empty() && !w.hists.is_empty() {
        warn_mixed(ev, w);
        return Ok(None);
    }
    if w.floats.is_empty() {
        let mut seen = HintSeen::default();
        let mut sum = Acc::new(&w.hists[0].h);
        seen.see(&w.hists[0].h);
        let mut mean: Option<Acc> = None;
        let mut count = 1.0;
        for (i, p) in w.hists[1..].iter().enumerate() {
            seen.see(&p.h);
            count = (i + 2) as f64;
            if mean.is_none() {
                let mut next = sum.clone();
                match next.add(&p.h, false, true) {
                    Err(_) => {
                        warn_exp_custom(ev, w);
                        return Ok(None);
                    }
                    Ok(n) => seen.reconciled |= n.reconciled,
                }
                if !next.has_overflow() {
                    sum = next;
                    continue;
                }
                let mut m = sum.clone();
                m.div(count - 1.0);
                mean = Some(m);
            }
            let q = (count - 1.0) / count;
            let mut to_add = (*p.h).clone();
            fhist::div(&mut to_add, count);
            if let Some(m) = mean.as_mut() {
                m.mul(q);
                match m.add(&to_add, false, true) {
                    Err(_) => {
                        warn_exp_custom(ev, w);
                        return Ok(None);
                    }
                    Ok(n) => seen.reconciled |= n.reconciled,
                }
            }
        }
        seen.report(ev, w.pos);
        let h = match mean {
            Some(m) => m.finish(),
            None => {
                sum.div(count);
                sum.finish()
            }
        };
        return Ok(Some(Out::H(Arc::new(h))));
    }
    let v = w.floats;
    let (mut sum, mut count, mut mean, mut c, mut incremental) = (v[0].f, 1.0, 0.0, 0.0, false);
    for (i, p) in v[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.f, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.f / count, q * mean, q * c);
    }
    Ok(Some(Out::F(if incremental {
        mean + c
    } else {
        sum / count + c / count
    })))
}

fn last(w: &Win<'_>) -> Option<Out> {
    match (w.floats.last(), w.hists.last()) {
        (Some(f), Some(h)) if h.t > f.t => Some(Out::H(h.h.clone())),
        (Some(f), _) => Some(Out::F(f.f)),
        (None, Some(h)) => Some(Out::H(h.h.clone())),
        (None, None) => None,
    }
}

fn first(w: &Win<'_>) -> Option<Out> {
    match (w.floats.first(), w.hists.first()) {
        (Some(f), Some(h)) if h.t < f.t => Some(Out::H(h.h.clone())),
        (Some(f), _) => Some(Out::F(f.f)),
        (None, Some(h)) => Some(Out::H(h.h.clone())),
        (None, None) => None,
    }
}
