//! PromQL functions, one file per family: `rate.rs` (rate, increase, delta and
//! their instant forms, with the anchored and smoothed variants), `over_time.rs`
//! (the `*_over_time` family), `math.rs` (elementwise math), `time.rs` (time and
//! date functions), `labels.rs` (label_replace, label_join), `misc.rs` (sorting,
//! absent, vector/scalar, deriv, predict_linear, changes, resets, …),
//! `histogram.rs` (histogram functions) and `info.rs` (`info`).
//!
//! Functions over a range vector are evaluated series by series ([`eval_range_fn`]):
//! each series' points are read once and every step sees a window into them.
//! Functions over instant vectors run step by step through the evaluator's
//! `range_eval`.

pub(crate) mod histogram;
mod info;
mod labels;
mod math;
mod misc;
mod over_time;
pub(crate) mod rate;
pub(crate) mod time;

use crate::Error;
use crate::eval::{EMatrix, ESeries, EVector, Evaluator, Result, quote, window};
use crate::value::{FPoint, HPoint};
use ember_model::Labels;
use ember_model::histogram::FloatHistogram;
use ember_promql_parser::{Call, Expr, ValueType};
use std::sync::Arc;

/// The output of a range function at one step.
pub(crate) enum Out {
    F(f64),
    H(Arc<FloatHistogram>),
}

/// What a range function sees at one step.
pub(crate) struct Win<'a> {
    pub(crate) floats: &'a [FPoint],
    pub(crate) hists: &'a [HPoint],
    /// Evaluation time of the step.
    pub(crate) ts: i64,
    /// The window `(range_start, range_end]` (after `@` and offset).
    pub(crate) range_start: i64,
    pub(crate) range_end: i64,
    /// Window length in ms.
    pub(crate) range: i64,
    pub(crate) anchored: bool,
    pub(crate) smoothed: bool,
    /// Scalar arguments at this step, in argument order (the range argument left out).
    pub(crate) params: &'a [f64],
    pub(crate) metric: &'a Labels,
    /// Where the range argument starts in the query.
    pub(crate) pos: usize,
}

impl Win<'_> {
    pub(crate) fn name(&self) -> String {
        quote(self.metric.metric_name())
    }
}

pub(crate) type RangeFn = fn(&mut Evaluator<'_>, &Win<'_>) -> Result<Option<Out>>;

/// A function of instant vectors and scalars at one step: gets the call, the
/// argument vectors (empty for string arguments) and the step time.
pub(crate) type InstantFn = fn(&mut Evaluator<'_>, &Call, &[EVector], i64) -> Result<EVector>;

/// The argument without parentheses, as Prometheus's preprocessing leaves it.
pub(crate) fn unwrap(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap(&p.expr),
        Expr::StepInvariant(s) => unwrap(&s.expr),
        _ => e,
    }
}

/// Evaluates a function whose argument `idx` is a range vector, series by series.
pub(crate) fn eval_range_fn(
    ev: &mut Evaluator<'_>,
    c: &Call,
    idx: usize,
    f: RangeFn,
) -> Result<EMatrix> {
    let name = c.func.name;
    let mut params: Vec<Vec<f64>> = Vec::new();
    for (i, a) in c.args.iter().enumerate() {
        if i != idx {
            params.push(ev.scalar_steps(a)?);
        }
    }
    let arg = ev.range_arg(unwrap(&c.args[idx]))?;
    let pos = unwrap(&c.args[idx]).pos_range().start;
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let steps = ev.steps();
    let mut out: EMatrix = Vec::new();
    let mut n = 0usize;
    let mut p = vec![0.0; params.len()];
    for s in &arg.series {
        ev.check_deadline()?;
        let drop = !keep_name || s.drop_name;
        let mut es = ESeries::new(ev.drop_now(&s.metric, drop), drop);
        for (si, ts) in steps.iter().enumerate() {
            let end = arg.ends[si];
            let (lo, hi) = arg.bounds(end);
            let floats = window(&s.floats, lo, hi, |p| p.t);
            let hists = window(&s.hists, lo, hi, |p| p.t);
            if floats.is_empty() && hists.is_empty() {
                continue;
            }
            for (k, v) in params.iter().enumerate() {
                p[k] = v.get(si).copied().unwrap_or(f64::NAN);
            }
            let w = Win {
                floats,
                hists,
                ts: *ts,
                range_start: end - arg.range,
                range_end: end,
                range: arg.range,
                anchored: arg.anchored,
                smoothed: arg.smoothed,
                params: &p,
                metric: &s.metric,
                pos,
            };
            match f(ev, &w)? {
                Some(Out::F(v)) => es.floats.push(FPoint { t: *ts, f: v }),
                Some(Out::H(h)) => es.hists.push(HPoint { t: *ts, h }),
                None => {}
            }
        }
        if matches!(name, "rate" | "increase") && !es.floats.is_empty() {
            counter_name_info(ev, &s.metric, pos);
        }
        if !es.is_empty() {
            n += es.num_samples();
            ev.check_samples(n)?;
            out.push(es);
        }
    }
    if !ev.delayed_name_removal {
        check_matrix_labels(&out)?;
    }
    Ok(out)
}

/// Prometheus notes rates of metrics whose names do not look like counters.
fn counter_name_info(ev: &mut Evaluator<'_>, metric: &Labels, pos: usize) {
    let name = metric.metric_name();
    if name.is_empty() {
        return;
    }
    let counter_like = ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s));
    if !counter_like {
        ev.annos.info(
            format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                quote(name)
            ),
            pos,
        );
    }
}

fn check_matrix_labels(m: &EMatrix) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(m.len());
    for s in m {
        if !seen.insert(&s.metric) {
            return Err(Error::Eval(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Evaluates a function of instant vectors and scalars step by step.
pub(crate) fn eval_instant_fn(ev: &mut Evaluator<'_>, c: &Call, f: InstantFn) -> Result<EMatrix> {
    let mut mats = Vec::with_capacity(c.args.len());
    for a in &c.args {
        if a.value_type() == ValueType::String {
            mats.push(Vec::new());
        } else {
            mats.push(ev.eval_matrix(a)?);
        }
    }
    let refs: Vec<&EMatrix> = mats.iter().collect();
    ev.range_eval(&refs, |ev, v, ts| f(ev, c, v, ts))
}

/// The string value of a string-literal argument.
pub(crate) fn string_arg(e: &Expr) -> Result<String> {
    match unwrap(e) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(Error::Eval("expected a string argument".into())),
    }
}

/// A string argument that names a label: `None` when its bytes are not UTF-8
/// (Prometheus rejects such names; the parser keeps the text readable).
pub(crate) fn label_name_arg(e: &Expr) -> Result<Option<String>> {
    match unwrap(e) {
        Expr::StringLiteral(s) if s.invalid_utf8.is_some() => Ok(None),
        Expr::StringLiteral(s) => Ok(Some(s.val.clone())),
        _ => Err(Error::Eval("expected a string argument".into())),
    }
}

/// The first float of a scalar argument's vector, or NaN.
pub(crate) fn scalar_of(v: &EVector) -> f64 {
    v.first().map_or(f64::NAN, |s| s.f)
}

/// Functions that may be used with `anchored`.
const ANCHORED_SAFE: &[&str] = &["changes", "delta", "increase", "rate", "resets"];
/// Functions that may be used with `smoothed`.
const SMOOTHED_SAFE: &[&str] = &["delta", "increase", "rate"];

pub(crate) fn eval_call(ev: &mut Evaluator<'_>, c: &Call) -> Result<EMatrix> {
    let name = c.func.name;
    match name {
        "label_replace" => return labels::label_replace(ev, c),
        "label_join" => return labels::label_join(ev, c),
        "info" => return info::info(ev, c),
        "timestamp" => {
            if let Expr::VectorSelector(vs) = unwrap(&c.args[0]) {
                return time::timestamp_of_selector(ev, vs);
            }
        }
        _ => {}
    }
    if matches!(
        name,
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
    ) && !ev.is_instant()
    {
        ev.annos.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            c.pos_range.start,
        );
    }
    let matrix_arg = c
        .args
        .iter()
        .position(|a| matches!(unwrap(a), Expr::MatrixSelector(_) | Expr::Subquery(_)));
    if let Some(idx) = matrix_arg {
        if let Expr::MatrixSelector(ms) = unwrap(&c.args[idx])
            && let Some(vs) = ms.vs()
        {
            let check = |safe: &[&str], what: &str| -> Result<()> {
                if safe.contains(&name) {
                    return Ok(());
                }
                Err(Error::Eval(format!(
                    "{what} modifier can only be used with: {} - not with {name}",
                    safe.join(", ")
                )))
            };
            if vs.anchored {
                check(ANCHORED_SAFE, "anchored")?;
            } else if vs.smoothed {
                check(SMOOTHED_SAFE, "smoothed")?;
            }
        }
        let f = rate::range_fn(name)
            .or_else(|| over_time::range_fn(name))
            .or_else(|| misc::range_fn(name));
        if name == "absent_over_time" {
            return misc::absent_over_time(ev, c, idx);
        }
        let Some(f) = f else {
            return Err(Error::Eval(format!(
                "function {name:?} is not implemented in Ember yet"
            )));
        };
        return eval_range_fn(ev, c, idx, f);
    }
    let f = math::instant_fn(name)
        .or_else(|| time::instant_fn(name))
        .or_else(|| misc::instant_fn(name))
        .or_else(|| histogram::instant_fn(name));
    match f {
        Some(f) => eval_instant_fn(ev, c, f),
        None => Err(Error::Eval(format!(
            "function {name:?} is not implemented in Ember yet"
        ))),
    }
}
