//! Functions that fit no numeric family: `vector`, `scalar`, `absent`,
//! `absent_over_time`, sorting, `changes`, `resets`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing`.

use super::{Out, RangeCtx, instant, range, scalar_of, string_arg};
use crate::Error;
use crate::aggregate::kahan_inc;
use crate::eval::{Evaluator, Result};
use crate::value::{FPoint, Sample, Value};
use ember_model::{Labels, MatchType};
use ember_promql_parser::{Call, Expr};

pub(crate) fn dispatch(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Option<Result<Value>> {
    Some(match name {
        "vector" => instant(ev, c, |_, _, v, _, out| {
            out.push(Sample::float(Labels::empty(), 0, scalar_of(&v[0])));
            Ok(())
        }),
        "scalar" => instant(ev, c, |_, _, v, _, out| {
            let f = if v[0].len() == 1 && v[0][0].h.is_none() {
                v[0][0].f
            } else {
                f64::NAN
            };
            out.push(Sample::float(Labels::empty(), 0, f));
            Ok(())
        }),
        "absent" => {
            let labels = absent_labels(&c.args[0]);
            instant(ev, c, move |_, _, v, _, out| {
                if v[0].is_empty() {
                    out.push(Sample::float(labels.clone(), 0, 1.0));
                }
                Ok(())
            })
        }
        "absent_over_time" => absent_over_time(ev, c),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => sort(ev, c, name),
        "changes" => range(ev, c, 0, false, |ev, x, pos| {
            floats_or_ignore(ev, x, pos, |p| {
                let n = p
                    .windows(2)
                    .filter(|w| !(w[0].f == w[1].f || (w[0].f.is_nan() && w[1].f.is_nan())))
                    .count();
                n as f64
            })
        }),
        "resets" => range(ev, c, 0, false, |_, x, _| {
            let mut n = x.floats.windows(2).filter(|w| w[1].f < w[0].f).count();
            n += x
                .hists
                .windows(2)
                .filter(|w| super::histogram::detect_reset(&w[1].h, &w[0].h))
                .count();
            Some(Out::F(n as f64))
        }),
        "deriv" => range(ev, c, 0, false, |ev, x, pos| {
            if x.floats.len() < 2 {
                ignored_hist(ev, x, pos);
                return None;
            }
            ignored_hist(ev, x, pos);
            let (slope, _) = linear_regression(x.floats, x.floats[0].t);
            Some(Out::F(slope))
        }),
        "predict_linear" => range(ev, c, 0, false, |ev, x, pos| {
            if x.floats.len() < 2 {
                ignored_hist(ev, x, pos);
                return None;
            }
            ignored_hist(ev, x, pos);
            let d = x.params.first().copied().unwrap_or(f64::NAN);
            let (slope, icpt) = linear_regression(x.floats, x.ts);
            Some(Out::F(slope * d + icpt))
        }),
        "double_exponential_smoothing" | "holt_winters" => range(ev, c, 0, false, |ev, x, pos| {
            let (sf, tf) = (
                x.params.first().copied().unwrap_or(f64::NAN),
                x.params.get(1).copied().unwrap_or(f64::NAN),
            );
            if !(sf > 0.0 && sf < 1.0) {
                ev.errors_later(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                    super::go_g(sf)
                ));
                return None;
            }
            if !(tf > 0.0 && tf < 1.0) {
                ev.errors_later(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                    super::go_g(tf)
                ));
                return None;
            }
            if x.floats.len() < 2 {
                ignored_hist(ev, x, pos);
                return None;
            }
            ignored_hist(ev, x, pos);
            let v = x.floats;
            let (mut s0, mut s1, mut b) = (0.0, v[0].f, v[1].f - v[0].f);
            for (i, p) in v.iter().enumerate().skip(1) {
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let x1 = p.f;
                s0 = s1;
                s1 = sf * x1 + (1.0 - sf) * (s0 + b);
            }
            Some(Out::F(s1))
        }),
        _ => return None,
    })
}

fn ignored_hist(ev: &mut Evaluator<'_>, x: &RangeCtx<'_>, pos: usize) {
    if !x.hists.is_empty() && !x.floats.is_empty() {
        ev.info_at(
            format!("ignored histograms in a range containing both floats and histograms for metric name {:?}", x.metric.metric_name()),
            pos,
        );
    }
}

fn floats_or_ignore(
    ev: &mut Evaluator<'_>,
    x: &RangeCtx<'_>,
    pos: usize,
    g: impl Fn(&[FPoint]) -> f64,
) -> Option<Out> {
    if x.floats.is_empty() {
        // Histogram-only ranges count changes between histograms.
        let n = x
            .hists
            .windows(2)
            .filter(|w| !super::histogram::equals(&w[0].h, &w[1].h))
            .count();
        return Some(Out::F(n as f64));
    }
    ignored_hist(ev, x, pos);
    Some(Out::F(g(x.floats)))
}

/// Least-squares slope and intercept (at `intercept_t`), with compensated sums, as
/// Prometheus computes them.
pub(crate) fn linear_regression(samples: &[FPoint], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init = samples[0].f;
    let mut const_y = true;
    for (i, p) in samples.iter().enumerate() {
        if const_y && i > 0 && p.f != init {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.f, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.f, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Labels `absent()` gives its result: the equality matchers of the selector (a name
/// repeated with different values is left out).
fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(m) => match m.vs() {
            Some(vs) => vs,
            None => return Labels::empty(),
        },
        Expr::Paren(p) => return absent_labels(&p.expr),
        _ => return Labels::empty(),
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut conflicted: Vec<String> = Vec::new();
    for m in &vs.label_matchers {
        if m.kind != MatchType::Equal || m.name == "__name__" {
            continue;
        }
        if let Some(p) = pairs.iter().find(|p| p.0 == m.name) {
            if p.1 != m.value {
                conflicted.push(m.name.clone());
            }
            continue;
        }
        pairs.push((m.name.clone(), m.value.clone()));
    }
    pairs.retain(|p| !conflicted.contains(&p.0));
    Labels::from_pairs(pairs)
}

fn absent_over_time(ev: &mut Evaluator<'_>, c: &Call) -> Result<Value> {
    let labels = absent_labels(&c.args[0]);
    let windows = ev.range_arg(&c.args[0])?;
    let steps: Vec<i64> = ev.steps().collect();
    let mut s = crate::value::Series {
        metric: labels,
        floats: Vec::new(),
        histograms: Vec::new(),
    };
    for (i, ts) in steps.iter().enumerate() {
        let present = windows.iter().any(|w| {
            let (f, h) = w.window(w.ends[i]);
            !f.is_empty() || !h.is_empty()
        });
        if !present {
            s.floats.push(FPoint { t: *ts, f: 1.0 });
        }
    }
    Ok(Value::Matrix(if s.floats.is_empty() {
        vec![]
    } else {
        vec![s]
    }))
}

fn sort(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Result<Value> {
    if !ev.is_instant() {
        ev.warn_at(
            "sort is ineffective for range queries since results are always ordered by labels"
                .into(),
            c.pos_range.start,
        );
    }
    let labels: Vec<String> = c.args[1..].iter().map(string_arg).collect::<Result<_>>()?;
    let m = ev.eval_matrix(&c.args[0])?;
    let mut v: Vec<crate::value::Series> = m;
    match name {
        "sort" | "sort_desc" => {
            let desc = name == "sort_desc";
            // NaN last in both directions, as Prometheus.
            v.sort_by(|a, b| {
                let (x, y) = (
                    a.floats.first().map_or(f64::NAN, |p| p.f),
                    b.floats.first().map_or(f64::NAN, |p| p.f),
                );
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ => {
                        let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                        if desc { o.reverse() } else { o }
                    }
                }
            });
            v.retain(|s| !s.floats.is_empty());
        }
        _ => {
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for l in &labels {
                    let o = natural_cmp(a.metric.get_or_empty(l), b.metric.get_or_empty(l));
                    if o != std::cmp::Ordering::Equal {
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.metric.cmp(&b.metric);
                if desc { o.reverse() } else { o }
            });
        }
    }
    let _ = Error::Eval(String::new());
    Ok(Value::Matrix(v))
}

/// Natural ordering of label values (numbers inside compare numerically), as the
/// `sort_by_label` functions use.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut ai, mut bi) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (ai.peek().copied(), bi.peek().copied()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let mut na = String::new();
                while let Some(c) = ai.peek().copied().filter(char::is_ascii_digit) {
                    na.push(c);
                    ai.next();
                }
                let mut nb = String::new();
                while let Some(c) = bi.peek().copied().filter(char::is_ascii_digit) {
                    nb.push(c);
                    bi.next();
                }
                let (ta, tb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
                let o = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                ai.next();
                bi.next();
            }
        }
    }
}
