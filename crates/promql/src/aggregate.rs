//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`,
//! `stdvar`, `quantile`, `topk`, `bottomk`, `count_values`, `limitk`,
//! `limit_ratio`) with Prometheus's numerics: Kahan-compensated sums, an incremental
//! mean once a sum overflows, Welford's variance, and its NaN ordering.

use crate::Error;
use crate::eval::{Evaluator, Result};
use crate::functions::histogram as fh;
use crate::value::{Sample, Value, Vector};
use ember_model::histogram::FloatHistogram;
use ember_model::{Labels, LabelsBuilder};
use ember_promql_parser::{AggregateExpr, AggregateOp, Expr};
use std::collections::HashMap;
use std::sync::Arc;

/// Kahan–Neumaier compensated increment, as Prometheus's `kahansum.Inc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Prometheus's `quantile` over a set of values (NaN sorts first).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0);
    let hi = (lo + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    values[lo as usize] * (1.0 - w) + values[hi as usize] * w
}

fn nan_first(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

#[derive(Default)]
struct Group {
    labels: Labels,
    f: f64,
    c: f64,
    mean: f64,
    count: f64,
    incremental: bool,
    has_float: bool,
    has_hist: bool,
    h: Option<FloatHistogram>,
    values: Vec<f64>,
    members: Vec<Sample>,
    bad_hist: bool,
}

fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    let names: Vec<&str> = grouping.iter().map(String::as_str).collect();
    if without {
        let mut n = names.clone();
        n.push("__name__");
        l.without(&n)
    } else {
        l.only(&names)
    }
}

pub(crate) fn eval_aggregate(ev: &mut Evaluator<'_>, a: &AggregateExpr) -> Result<Value> {
    let input = ev.eval_matrix(&a.expr)?;
    let pos = a.expr.pos_range().start;
    let op = a.op;
    let param = match (&a.param, op) {
        (Some(p), AggregateOp::CountValues) => {
            let Expr::StringLiteral(s) = strip(p) else {
                return Err(Error::Eval("count_values needs a string parameter".into()));
            };
            if s.val.is_empty() {
                return Err(Error::Eval(format!("invalid label name {:?}", s.val)));
            }
            Param::Label(s.val.clone())
        }
        (Some(p), _) => Param::Scalar(ev.eval_matrix(p)?),
        (None, _) => Param::None,
    };
    let scalar_param = match &param {
        Param::Scalar(m) => Some(m.clone()),
        _ => None,
    };
    let empty = Vec::new();
    let pm = scalar_param.as_ref().unwrap_or(&empty);
    ev.range_eval(&[&input, pm], |ev, v, out| {
        let p = v[1].first().map_or(f64::NAN, |s| s.f);
        aggregate_step(ev, a, op, &v[0], p, &param, pos, out)
    })
}

enum Param {
    None,
    Scalar(Vec<crate::value::Series>),
    Label(String),
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::StepInvariant(s) => strip(&s.expr),
        _ => e,
    }
}

#[allow(clippy::too_many_arguments)]
fn aggregate_step(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    op: AggregateOp,
    input: &Vector,
    p: f64,
    param: &Param,
    pos: usize,
    out: &mut Vector,
) -> Result<()> {
    let name = agg_name(op);
    if op == AggregateOp::Quantile && !(0.0..=1.0).contains(&p) && !p.is_nan() {
        ev.warn_at(
            format!(
                "quantile value should be between 0 and 1, got {}",
                crate::functions::go_g(p)
            ),
            a.param.as_ref().map_or(pos, |x| x.pos_range().start),
        );
    }
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Group> = HashMap::new();
    for s in input {
        let mut key = group_labels(&s.metric, &a.grouping, a.without);
        if op == AggregateOp::CountValues
            && let Param::Label(lbl) = param
        {
            let val = match &s.h {
                Some(h) => fh::to_string(h),
                None => format_f(s.f),
            };
            let mut b = LabelsBuilder::new(key);
            b.set(lbl.as_str(), val);
            key = b.into_labels();
        }
        let g = match groups.get_mut(&key) {
            Some(g) => g,
            None => {
                order.push(key.clone());
                groups.entry(key.clone()).or_insert_with(|| Group {
                    labels: key.clone(),
                    ..Group::default()
                })
            }
        };
        let f = s.f;
        match op {
            AggregateOp::Sum | AggregateOp::Avg => {
                g.count += 1.0;
                match &s.h {
                    Some(h) => {
                        g.has_hist = true;
                        g.h = match g.h.take() {
                            None => Some((**h).clone()),
                            Some(acc) => match fh::add(&acc, h) {
                                Ok(x) => Some(x),
                                Err(_) => {
                                    g.bad_hist = true;
                                    Some(acc)
                                }
                            },
                        };
                    }
                    None => {
                        g.has_float = true;
                        if op == AggregateOp::Sum || !g.incremental {
                            let (nf, nc) = kahan_inc(f, g.f, g.c);
                            if op == AggregateOp::Avg
                                && nf.is_infinite()
                                && g.count > 1.0
                                && !f.is_infinite()
                            {
                                // The sum overflowed: continue with an incremental mean.
                                g.incremental = true;
                                g.mean = g.f / (g.count - 1.0);
                                g.c /= g.count - 1.0;
                            } else {
                                (g.f, g.c) = (nf, nc);
                                continue;
                            }
                        }
                        let q = (g.count - 1.0) / g.count;
                        (g.mean, g.c) = kahan_inc(f / g.count, q * g.mean, q * g.c);
                    }
                }
            }
            AggregateOp::Count => g.count += 1.0,
            AggregateOp::Group => g.count = 1.0,
            AggregateOp::Min | AggregateOp::Max => {
                if s.h.is_some() {
                    ev.info_at(format!("ignored histogram in {name} aggregation"), pos);
                    continue;
                }
                if g.count == 0.0
                    || g.f.is_nan()
                    || (op == AggregateOp::Min && f < g.f)
                    || (op == AggregateOp::Max && f > g.f)
                {
                    g.f = f;
                }
                g.count += 1.0;
            }
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                if s.h.is_some() {
                    ev.info_at(format!("ignored histogram in {name} aggregation"), pos);
                    continue;
                }
                g.count += 1.0;
                if g.count == 1.0 {
                    g.mean = f;
                    g.f = if f.is_nan() || f.is_infinite() {
                        f64::NAN
                    } else {
                        0.0
                    };
                    continue;
                }
                let delta = f - g.mean;
                g.mean += delta / g.count;
                g.f += delta * (f - g.mean);
            }
            AggregateOp::Quantile => {
                if s.h.is_some() {
                    ev.info_at(format!("ignored histogram in {name} aggregation"), pos);
                    continue;
                }
                g.count += 1.0;
                g.values.push(f);
            }
            AggregateOp::CountValues => g.count += 1.0,
            AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => {
                if s.h.is_some() && matches!(op, AggregateOp::Topk | AggregateOp::Bottomk) {
                    ev.info_at(format!("ignored histogram in {name} aggregation"), pos);
                    continue;
                }
                g.count += 1.0;
                g.members.push(s.clone());
            }
        }
    }
    for key in order {
        let Some(mut g) = groups.remove(&key) else {
            continue;
        };
        if g.count == 0.0 {
            continue;
        }
        match op {
            AggregateOp::Sum | AggregateOp::Avg => {
                if g.has_float && g.has_hist {
                    ev.warn_at(
                        format!(
                            "encountered a mix of histograms and floats for {name} aggregation"
                        ),
                        pos,
                    );
                    continue;
                }
                if g.has_hist {
                    if g.bad_hist {
                        continue;
                    }
                    let Some(mut h) = g.h else { continue };
                    if op == AggregateOp::Avg {
                        fh::scale(&mut h, 1.0 / g.count);
                    }
                    out.push(Sample {
                        metric: g.labels,
                        t: 0,
                        f: 0.0,
                        h: Some(Arc::new(h)),
                    });
                    continue;
                }
                let v = match op {
                    AggregateOp::Sum => g.f + g.c,
                    _ if g.incremental => g.mean + g.c,
                    _ => g.f / g.count + g.c / g.count,
                };
                out.push(Sample::float(g.labels, 0, v));
            }
            AggregateOp::Count | AggregateOp::CountValues => {
                out.push(Sample::float(g.labels, 0, g.count))
            }
            AggregateOp::Group => out.push(Sample::float(g.labels, 0, 1.0)),
            AggregateOp::Min | AggregateOp::Max => out.push(Sample::float(g.labels, 0, g.f)),
            AggregateOp::Stdvar => out.push(Sample::float(g.labels, 0, g.f / g.count)),
            AggregateOp::Stddev => out.push(Sample::float(g.labels, 0, (g.f / g.count).sqrt())),
            AggregateOp::Quantile => {
                let v = quantile(p, &mut g.values);
                out.push(Sample::float(g.labels, 0, v));
            }
            AggregateOp::Topk | AggregateOp::Bottomk => {
                if p.is_nan() {
                    return Err(Error::Eval("Parameter value is NaN".into()));
                }
                let k = if p >= 9.223372036854776e18 {
                    i64::MAX
                } else {
                    p as i64
                };
                if k < 1 {
                    continue;
                }
                let k = (k as usize).min(g.members.len());
                let desc = op == AggregateOp::Topk;
                // NaN always ranks last; equal values keep input order.
                g.members.sort_by(|x, y| {
                    let o = match (x.f.is_nan(), y.f.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => return std::cmp::Ordering::Greater,
                        (false, true) => return std::cmp::Ordering::Less,
                        _ => x.f.partial_cmp(&y.f).unwrap_or(std::cmp::Ordering::Equal),
                    };
                    if desc { o.reverse() } else { o }
                });
                out.extend(g.members.into_iter().take(k));
            }
            AggregateOp::Limitk => {
                if p.is_nan() {
                    return Err(Error::Eval("Parameter value is NaN".into()));
                }
                let k = if p >= 9.223372036854776e18 {
                    i64::MAX
                } else {
                    p as i64
                };
                if k < 1 {
                    continue;
                }
                out.extend(g.members.into_iter().take(k as usize));
            }
            AggregateOp::LimitRatio => {
                if p.is_nan() {
                    return Err(Error::Eval("Ratio value is NaN".into()));
                }
                let r = p.clamp(-1.0, 1.0);
                if r != p {
                    ev.warn_at(
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to {}",
                            crate::functions::go_g(p),
                            crate::functions::go_g(r)
                        ),
                        pos,
                    );
                }
                for s in g.members {
                    let x = s.metric.hash64() as f64 / u64::MAX as f64;
                    let keep = if r >= 0.0 { x < r } else { x >= 1.0 + r };
                    if keep {
                        out.push(s);
                    }
                }
            }
        }
    }
    Ok(())
}

fn agg_name(op: AggregateOp) -> &'static str {
    match op {
        AggregateOp::Avg => "avg",
        AggregateOp::Bottomk => "bottomk",
        AggregateOp::Count => "count",
        AggregateOp::CountValues => "count_values",
        AggregateOp::Group => "group",
        AggregateOp::Max => "max",
        AggregateOp::Min => "min",
        AggregateOp::Quantile => "quantile",
        AggregateOp::Stddev => "stddev",
        AggregateOp::Stdvar => "stdvar",
        AggregateOp::Sum => "sum",
        AggregateOp::Topk => "topk",
        AggregateOp::Limitk => "limitk",
        AggregateOp::LimitRatio => "limit_ratio",
    }
}
