//! Functions that fit no numeric family: `vector`, `scalar`, `absent`,
//! `absent_over_time`, sorting, `changes`, `resets`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing`.

use super::over_time::ignored_in_mixed;
use super::{InstantFn, Out, RangeFn, Win, scalar_of, string_arg, unwrap};
use crate::Error;
use crate::eval::{EMatrix, ESample, ESeries, Evaluator, Result};
use crate::fhist::{self, kahan_inc};
use crate::value::{FPoint, HPoint};
use ember_model::{Labels, LabelsBuilder, MatchType};
use ember_promql_parser::{Call, Expr};

pub(crate) fn instant_fn(name: &str) -> Option<InstantFn> {
    Some(match name {
        "vector" => |_, _, v, _| Ok(vec![ESample::float(Labels::empty(), scalar_of(&v[0]))]),
        "scalar" => |_, _, v, _| {
            let mut floats = v[0].iter().filter(|s| s.h.is_none());
            let f = match (floats.next(), floats.next()) {
                (Some(s), None) => s.f,
                _ => f64::NAN,
            };
            Ok(vec![ESample::float(Labels::empty(), f)])
        },
        "absent" => |_, c, v, _| {
            if !v[0].is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![ESample::float(absent_labels(&c.args[0]), 1.0)])
        },
        "sort" | "sort_desc" => |_, c, v, _| {
            let desc = c.func.name == "sort_desc";
            let mut out: Vec<ESample> = v[0].iter().filter(|s| s.h.is_none()).cloned().collect();
            // NaN goes last either way.
            out.sort_by(|a, b| match (a.f.is_nan(), b.f.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => {
                    let o = a.f.partial_cmp(&b.f).unwrap_or(std::cmp::Ordering::Equal);
                    if desc { o.reverse() } else { o }
                }
            });
            Ok(out)
        },
        "sort_by_label" | "sort_by_label_desc" => |_, c, v, _| {
            let desc = c.func.name == "sort_by_label_desc";
            let labels: Vec<String> = c.args[1..].iter().map(string_arg).collect::<Result<_>>()?;
            let mut out = v[0].clone();
            out.sort_by(|a, b| {
                for l in &labels {
                    let (x, y) = (a.metric.get_or_empty(l), b.metric.get_or_empty(l));
                    if x == y {
                        continue;
                    }
                    let less = natsort_less(x, y);
                    let o = if less {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    };
                    return if desc { o.reverse() } else { o };
                }
                let o = a.metric.cmp(&b.metric);
                if desc { o.reverse() } else { o }
            });
            Ok(out)
        },
        _ => return None,
    })
}

pub(crate) fn range_fn(name: &str) -> Option<RangeFn> {
    Some(match name {
        "changes" => |_, w| Ok(changes_or_resets(w, false)),
        "resets" => |_, w| Ok(changes_or_resets(w, true)),
        "deriv" => |ev, w| {
            let Some(()) = two_floats(ev, w) else {
                return Ok(None);
            };
            let (slope, _) = linear_regression(w.floats, w.floats[0].t);
            Ok(Some(Out::F(slope)))
        },
        "predict_linear" => |ev, w| {
            let d = w.params.first().copied().unwrap_or(f64::NAN);
            let Some(()) = two_floats(ev, w) else {
                return Ok(None);
            };
            let (slope, icpt) = linear_regression(w.floats, w.ts);
            Ok(Some(Out::F(slope * d + icpt)))
        },
        "double_exponential_smoothing" | "holt_winters" => smoothing,
        _ => return None,
    })
}

/// Needs two float samples; a single float among histograms gets an info.
fn two_floats(ev: &mut Evaluator<'_>, w: &Win<'_>) -> Option<()> {
    if w.floats.len() < 2 {
        if w.floats.len() == 1 && !w.hists.is_empty() {
            ignored_in_mixed(ev, w);
        }
        return None;
    }
    if !w.hists.is_empty() {
        ignored_in_mixed(ev, w);
    }
    Some(())
}

fn smoothing(ev: &mut Evaluator<'_>, w: &Win<'_>) -> Result<Option<Out>> {
    let sf = w.params.first().copied().unwrap_or(f64::NAN);
    let tf = w.params.get(1).copied().unwrap_or(f64::NAN);
    if !(sf > 0.0 && sf < 1.0) {
        return Err(Error::Eval(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if !(tf > 0.0 && tf < 1.0) {
        return Err(Error::Eval(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    let Some(()) = two_floats(ev, w) else {
        return Ok(None);
    };
    let v = w.floats;
    let (mut s0, mut s1, mut b) = (0.0, v[0].f, v[1].f - v[0].f);
    for (i, p) in v.iter().enumerate().skip(1) {
        let x = sf * p.f;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(Out::F(s1)))
}

/// Where an anchored window starts: the newest sample at or before the window
/// start (of either kind) is the baseline. `None` when no sample is inside.
fn first_indices(w: &Win<'_>) -> Option<(usize, usize)> {
    if !w.anchored {
        return Some((0, 0));
    }
    let lf = w.floats.partition_point(|p| p.t <= w.range_start) as i64 - 1;
    let lh = w.hists.partition_point(|p| p.t <= w.range_start) as i64 - 1;
    if lf + 1 >= w.floats.len() as i64 && lh + 1 >= w.hists.len() as i64 {
        return None;
    }
    if lf < 0 && lh < 0 {
        return Some((0, 0));
    }
    if lh < 0 || (lf >= 0 && w.floats[lf as usize].t >= w.hists[lh as usize].t) {
        return Some((lf.max(0) as usize, (lh + 1) as usize));
    }
    Some(((lf + 1) as usize, lh.max(0) as usize))
}

/// Counts value changes (or counter resets) between consecutive samples of either
/// kind; a switch between float and histogram counts as one.
fn changes_or_resets(w: &Win<'_>, resets: bool) -> Option<Out> {
    let (f0, h0) = first_indices(w)?;
    let (fl, hl) = (&w.floats[f0..], &w.hists[h0..]);
    let mut merged: Vec<(i64, Option<f64>, Option<&HPoint>)> =
        Vec::with_capacity(fl.len() + hl.len());
    let (mut i, mut j) = (0, 0);
    while i < fl.len() || j < hl.len() {
        if j >= hl.len() || (i < fl.len() && fl[i].t < hl[j].t) {
            merged.push((fl[i].t, Some(fl[i].f), None));
            i += 1;
        } else {
            merged.push((hl[j].t, None, Some(&hl[j])));
            j += 1;
        }
    }
    let mut n = 0;
    for p in merged.windows(2) {
        let (a, b) = (&p[0], &p[1]);
        let hit = match (a.1, b.1, a.2, b.2) {
            (Some(x), Some(y), _, _) => {
                if resets {
                    y < x
                } else {
                    x != y && !(x.is_nan() && y.is_nan())
                }
            }
            (_, _, Some(x), Some(y)) => {
                if resets {
                    fhist::detect_reset(&y.h, &x.h)
                } else {
                    !fhist::equals(&y.h, &x.h)
                }
            }
            _ => true,
        };
        if hit {
            n += 1;
        }
    }
    Some(Out::F(n as f64))
}

/// Least-squares slope and intercept (at `intercept_t`), with compensated sums.
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

/// Labels `absent()` gives its result: the equality matchers of the selector, but
/// no label that another matcher also constrains.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match unwrap(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(m) => match m.vs() {
            Some(vs) => vs,
            None => return Labels::empty(),
        },
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new(Labels::empty());
    let mut has = std::collections::HashSet::new();
    for m in &vs.label_matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.kind == MatchType::Equal && !has.contains(&m.name) {
            b.set(m.name.as_str(), m.value.as_str());
            has.insert(m.name.clone());
        } else {
            b.del(&m.name);
        }
    }
    b.into_labels()
}

/// `absent_over_time`: 1 at the steps where no series has a sample in its window.
pub(crate) fn absent_over_time(ev: &mut Evaluator<'_>, c: &Call, idx: usize) -> Result<EMatrix> {
    let arg = ev.range_arg(unwrap(&c.args[idx]))?;
    let steps = ev.steps();
    let labels = match unwrap(&c.args[idx]) {
        Expr::Subquery(_) => Labels::empty(),
        e => absent_labels(e),
    };
    let mut s = ESeries::new(labels, true);
    for (i, ts) in steps.iter().enumerate() {
        let (lo, hi) = arg.bounds(arg.ends[i]);
        let present = (0..arg.len()).any(|i| {
            let x = arg.series(i);
            !crate::eval::window(x.floats, lo, hi, |p| p.t).is_empty()
                || !crate::eval::window(x.hists, lo, hi, |p| p.t).is_empty()
        });
        if !present {
            s.floats.push(FPoint { t: *ts, f: 1.0 });
        }
    }
    Ok(if s.floats.is_empty() { vec![] } else { vec![s] })
}

/// Natural order of label values as the `natsort` package Prometheus uses defines
/// it: runs of digits compare as numbers, everything else as text.
pub(crate) fn natsort_less(a: &str, b: &str) -> bool {
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                if i > start {
                    out.push(&s[start..i]);
                }
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        let Some(y) = cb.get(i) else {
            return false;
        };
        let last_a = i == ca.len() - 1;
        let last_b = i == cb.len() - 1;
        match (x.parse::<i64>(), y.parse::<i64>()) {
            (Ok(p), Ok(q))
                if x.bytes().all(|c| c.is_ascii_digit())
                    && y.bytes().all(|c| c.is_ascii_digit()) =>
            {
                if p == q {
                    if last_a {
                        return true;
                    } else if last_b {
                        return false;
                    }
                    continue;
                }
                return p < q;
            }
            _ => {
                if x == y {
                    if last_a {
                        return true;
                    } else if last_b {
                        return false;
                    }
                    continue;
                }
                return x < y;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_of_label_values() {
        assert!(natsort_less("a2", "a10"));
        assert!(!natsort_less("a10", "a2"));
        assert!(natsort_less("a", "b"));
        assert!(natsort_less("x1", "x1y"));
        assert!(!natsort_less("x1y", "x1"));
    }

    #[test]
    fn regression_is_exact_on_a_line() {
        let pts: Vec<FPoint> = (0..5)
            .map(|i| FPoint {
                t: i * 1000,
                f: 3.0 + 2.0 * i as f64,
            })
            .collect();
        let (slope, icpt) = linear_regression(&pts, 0);
        assert_eq!((slope, icpt), (2.0, 3.0));
        let flat = vec![FPoint { t: 0, f: 1.0 }, FPoint { t: 1000, f: 1.0 }];
        assert_eq!(linear_regression(&flat, 0), (0.0, 1.0));
    }
}
