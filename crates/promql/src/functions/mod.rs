//! PromQL functions, one file per family (as GreptimeDB lays them out): `rate.rs`
//! (rate, increase, delta and their instant forms), `over_time.rs` (the
//! `*_over_time` family), `math.rs` (elementwise math), `time.rs` (time and date
//! functions), `labels.rs` (label_replace, label_join), `misc.rs` (sorting,
//! absent, vector/scalar, deriv, predict_linear, changes, resets, …) and
//! `histogram.rs` (histogram functions and float-histogram arithmetic).

pub(crate) mod histogram;
mod labels;
mod math;
mod misc;
mod over_time;
mod rate;
mod time;

use crate::Error;
use crate::eval::{Evaluator, Result, Windowed, drop_name};
use crate::value::{FPoint, HPoint, Sample, Series, Value, Vector};
use ember_model::Labels;
use ember_promql_parser::{Call, Expr, ValueType};
use std::sync::Arc;

/// Go's `%g` for annotation texts.
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = v.abs().log10().floor() as i32;
    if (-4..21).contains(&exp) {
        return format!("{v}");
    }
    let s = format!("{v:e}");
    let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// The output of a range function at one step.
pub(crate) enum Out {
    F(f64),
    H(Arc<ember_model::histogram::FloatHistogram>),
}

/// What a range function sees at one step.
pub(crate) struct RangeCtx<'a> {
    pub(crate) floats: &'a [FPoint],
    pub(crate) hists: &'a [HPoint],
    /// Evaluation time of the step.
    pub(crate) ts: i64,
    /// End of the window (step time after `@` and offset).
    pub(crate) end: i64,
    /// Window length in ms.
    pub(crate) range: i64,
    /// Scalar arguments at this step (other than the range argument).
    pub(crate) params: &'a [f64],
    pub(crate) metric: &'a Labels,
}

type RangeFn = fn(&mut Evaluator<'_>, &RangeCtx<'_>, usize) -> Option<Out>;

/// Evaluates a function whose argument `idx` is a range vector, series by series.
pub(crate) fn eval_range_fn(
    ev: &mut Evaluator<'_>,
    c: &Call,
    idx: usize,
    keep_name: bool,
    f: RangeFn,
) -> Result<Value> {
    let mut params: Vec<Vec<f64>> = Vec::new();
    let steps: Vec<i64> = ev.steps().collect();
    for (i, a) in c.args.iter().enumerate() {
        if i == idx {
            continue;
        }
        let m = ev.eval_matrix(a)?;
        let vals = steps
            .iter()
            .map(|t| {
                m.first()
                    .and_then(|s| s.floats.iter().find(|p| p.t == *t))
                    .map_or(f64::NAN, |p| p.f)
            })
            .collect();
        params.push(vals);
    }
    let windows: Vec<Windowed> = ev.range_arg(&c.args[idx])?;
    let pos = c.args[idx].pos_range().start;
    let mut out: Vec<Series> = Vec::new();
    let mut n = 0usize;
    for w in &windows {
        ev.check_deadline("expression evaluation")?;
        let metric = if keep_name {
            w.labels.clone()
        } else {
            drop_name(&w.labels)
        };
        let mut s = Series {
            metric,
            floats: Vec::new(),
            histograms: Vec::new(),
        };
        for (si, ts) in steps.iter().enumerate() {
            let end = w.ends[si];
            let (floats, hists) = w.window(end);
            if floats.is_empty() && hists.is_empty() {
                continue;
            }
            let p: Vec<f64> = params.iter().map(|v| v[si]).collect();
            let ctx = RangeCtx {
                floats,
                hists,
                ts: *ts,
                end,
                range: w.range,
                params: &p,
                metric: &w.labels,
            };
            match f(ev, &ctx, pos) {
                Some(Out::F(v)) => s.floats.push(FPoint { t: *ts, f: v }),
                Some(Out::H(h)) => s.histograms.push(HPoint { t: *ts, h }),
                None => {}
            }
        }
        if !s.floats.is_empty() || !s.histograms.is_empty() {
            n += s.num_samples();
            out.push(s);
        }
    }
    if let Some(e) = ev.pending_error.take() {
        return Err(e);
    }
    ev.add_samples(n)?;
    ev.cur_samples -= n;
    // Dropping the name can make two series one: merge them if their points do not
    // collide, as Prometheus does.
    let out = merge_same_labels(out)?;
    Ok(Value::Matrix(out))
}

/// Merges series that share a label set (after the name was dropped); two points at
/// the same time are an error.
pub(crate) fn merge_same_labels(mut m: Vec<Series>) -> Result<Vec<Series>> {
    m.sort_by(|a, b| a.metric.cmp(&b.metric));
    let mut out: Vec<Series> = Vec::with_capacity(m.len());
    for s in m {
        match out.last_mut() {
            Some(last) if last.metric == s.metric => {
                let clash = s
                    .floats
                    .iter()
                    .any(|p| last.floats.iter().any(|q| q.t == p.t))
                    || s.histograms
                        .iter()
                        .any(|p| last.histograms.iter().any(|q| q.t == p.t));
                if clash {
                    return Err(Error::Eval(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                last.floats.extend(s.floats);
                last.floats.sort_by_key(|p| p.t);
                last.histograms.extend(s.histograms);
                last.histograms.sort_by_key(|p| p.t);
            }
            _ => out.push(s),
        }
    }
    Ok(out)
}

/// Evaluates a function of instant vectors and scalars step by step; `f` gets the
/// call, the argument vectors (empty for string arguments) and the step time.
pub(crate) fn eval_instant_fn(
    ev: &mut Evaluator<'_>,
    c: &Call,
    mut f: impl FnMut(&mut Evaluator<'_>, &Call, &[Vector], i64, &mut Vector) -> Result<()>,
) -> Result<Value> {
    let mut mats = Vec::new();
    for a in &c.args {
        if a.value_type() == ValueType::String {
            mats.push(Vec::new());
        } else {
            mats.push(ev.eval_matrix(a)?);
        }
    }
    let refs: Vec<&Vec<Series>> = mats.iter().collect();
    let mut step = 0usize;
    let start = ev.start;
    let interval = ev.interval;
    ev.range_eval(&refs, |ev, v, out| {
        let ts = start + step as i64 * interval;
        step += 1;
        f(ev, c, v, ts, out)
    })
}

/// Applies `g` to every float of a vector argument, dropping the metric name.
pub(crate) fn map_floats(v: &Vector, out: &mut Vector, g: impl Fn(f64) -> f64) {
    for s in v {
        if s.h.is_some() {
            continue;
        }
        out.push(Sample::float(drop_name(&s.metric), 0, g(s.f)));
    }
}

/// The string value of a string-literal argument.
pub(crate) fn string_arg(e: &Expr) -> Result<String> {
    match e {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        Expr::Paren(p) => string_arg(&p.expr),
        _ => Err(Error::Eval("expected a string argument".into())),
    }
}

/// The first float of a scalar argument's vector, or NaN.
pub(crate) fn scalar_of(v: &Vector) -> f64 {
    v.first().map_or(f64::NAN, |s| s.f)
}

pub(crate) fn eval_call(ev: &mut Evaluator<'_>, c: &Call) -> Result<Value> {
    let name = c.func.name;
    if let Some(r) = rate::dispatch(ev, c, name) {
        return r;
    }
    if let Some(r) = over_time::dispatch(ev, c, name) {
        return r;
    }
    if let Some(r) = misc::dispatch(ev, c, name) {
        return r;
    }
    if let Some(r) = math::dispatch(ev, c, name) {
        return r;
    }
    if let Some(r) = time::dispatch(ev, c, name) {
        return r;
    }
    if let Some(r) = labels::dispatch(ev, c, name) {
        return r;
    }
    if let Some(r) = histogram::dispatch(ev, c, name) {
        return r;
    }
    Err(Error::Eval(format!(
        "function {name:?} is not implemented in Ember yet"
    )))
}

pub(crate) use {eval_instant_fn as instant, eval_range_fn as range};
