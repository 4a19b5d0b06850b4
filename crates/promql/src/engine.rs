//! The query entry points: instant and range queries over any `storage::Queryable`,
//! with the limits (`--query.max-samples`, `--query.timeout`, lookback delta).
//!
//! Before evaluation a query is prepared as Prometheus prepares it: `start()`,
//! `end()`, `range()` and `step()` become numbers, duration expressions in ranges,
//! steps and offsets are computed, `@ start()`/`@ end()` become timestamps, and
//! parentheses around function and aggregation arguments go.

use crate::Error;
use crate::eval::{EMatrix, EVal, Evaluator, drop_metadata, merge_same_labels};
use crate::value::{Sample, Series, Value};
use ember_promql_parser::{
    AtModifier, DurationExpr, DurationOp, Expr, NumberLiteral, ParserOptions, ValueType,
};
use ember_storage::Queryable;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`).
    pub lookback_delta: Duration,
    /// Most samples a query may hold at once (`--query.max-samples`).
    pub max_samples: usize,
    /// Longest a query may run (`--query.timeout`).
    pub timeout: Duration,
    /// Step of subqueries written without one (the global evaluation interval).
    pub default_subquery_step: Duration,
    /// Parser options (experimental features).
    pub parser: ParserOptions,
    /// Keep `__name__` until the end of evaluation, so that functions such as
    /// `label_replace` still see it (`--enable-feature=promql-delayed-name-removal`).
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
            parser: ParserOptions::default(),
            delayed_name_removal: false,
        }
    }
}

/// A query's result and the annotations it produced.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings and infos.
    pub annotations: crate::Annotations,
}

/// The PromQL engine.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with `opts`.
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Parses `q` with the engine's parser options.
    pub fn parse(&self, q: &str) -> Result<Expr, Error> {
        ember_promql_parser::Parser::new(self.opts.parser)
            .parse_expr(q)
            .map_err(|e| Error::Parse(e.to_string()))
    }

    /// Evaluates `q` at `t` (ms).
    pub fn instant_query(
        &self,
        store: &dyn Queryable,
        q: &str,
        t: i64,
    ) -> Result<QueryResult, Error> {
        let expr = self.parse(q)?;
        self.exec(store, q, &expr, t, t, 0, None)
    }

    /// Evaluates `q` from `start` to `end` every `step` (ms); the result is a matrix.
    pub fn range_query(
        &self,
        store: &dyn Queryable,
        q: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, Error> {
        let expr = self.parse(q)?;
        if !matches!(expr.value_type(), ValueType::Scalar | ValueType::Vector) {
            return Err(Error::Eval(format!(
                "invalid expression type {:?} for range query, must be Scalar or instant Vector",
                expr.value_type().documented()
            )));
        }
        self.exec(store, q, &expr, start, end, step.max(1), None)
    }

    /// Evaluates a parsed expression from `start` to `end` every `step` ms; a `step`
    /// of 0 makes it an instant query at `start` (a vector or scalar result, not a
    /// matrix). `cancel` stops it when set.
    #[allow(clippy::too_many_arguments)]
    pub fn exec(
        &self,
        store: &dyn Queryable,
        q: &str,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<QueryResult, Error> {
        // As in Prometheus, only a query without a step is an instant query; a
        // range query over a single step still returns a matrix.
        let instant = step == 0;
        let end = if instant { start } else { end };
        let mut expr = expr.clone();
        preprocess(&mut expr, start, end, step)?;
        let lookback = self.opts.lookback_delta.as_millis() as i64;
        let (mint, maxt) = time_bounds(&expr, start, end, lookback);
        let querier = store.querier(mint, maxt)?;
        let mut ev = Evaluator::new(
            querier.as_ref(),
            start,
            end,
            step.max(1),
            lookback,
            self.opts.max_samples,
            Some(Instant::now() + self.opts.timeout),
            self.opts.default_subquery_step.as_millis() as i64,
            self.opts.delayed_name_removal,
            cancel,
        );
        ev.plan_selector_cache(&expr);
        let v = ev.eval(&expr)?;
        let mut m = match v {
            EVal::String(s) => {
                return Ok(QueryResult {
                    value: Value::String { t: start, s },
                    annotations: std::mem::take(&mut ev.annos).finish(q),
                });
            }
            EVal::Matrix(m) => m,
        };
        if self.opts.delayed_name_removal {
            for s in &mut m {
                if s.drop_name {
                    s.metric = drop_metadata(&s.metric).into();
                }
            }
            m = merge_same_labels(m)?;
        }
        let annotations = std::mem::take(&mut ev.annos).finish(q);
        // The evaluator's label caches share the result's labels; without them
        // the labels move into the result rather than being copied.
        drop(ev);
        let value = to_value(m, expr.value_type(), instant, start)?;
        Ok(QueryResult { value, annotations })
    }
}

fn to_value(m: EMatrix, t: ValueType, instant: bool, start: i64) -> Result<Value, Error> {
    let series = |m: EMatrix| -> Vec<Series> {
        let mut out: Vec<Series> = m
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| Series {
                metric: Arc::unwrap_or_clone(s.metric),
                floats: s.floats,
                histograms: s.hists,
            })
            .collect();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        out
    };
    Ok(match (t, instant) {
        (ValueType::Scalar, true) => {
            let v = m
                .first()
                .and_then(|s| s.floats.first())
                .map_or(f64::NAN, |p| p.f);
            Value::Scalar { t: start, v }
        }
        (ValueType::Vector, true) => Value::Vector(
            m.into_iter()
                .filter_map(|s| {
                    if let Some(p) = s.hists.first() {
                        return Some(Sample {
                            metric: Arc::unwrap_or_clone(s.metric),
                            t: start,
                            f: 0.0,
                            h: Some(p.h.clone()),
                        });
                    }
                    s.floats.first().map(|p| Sample {
                        metric: Arc::unwrap_or_clone(s.metric),
                        t: start,
                        f: p.f,
                        h: None,
                    })
                })
                .collect(),
        ),
        _ => Value::Matrix(series(m)),
    })
}

/// Prepares a parsed query for evaluation at `[start, end]` with `step` (0 for an
/// instant query).
fn preprocess(e: &mut Expr, start: i64, end: i64, step: i64) -> Result<(), Error> {
    fold_query_functions(e, start, end, step);
    resolve(e, start, end, step)?;
    mark_stats_only(e, false, false);
    Ok(())
}

/// Marks selectors whose histograms only `histogram_count`, `histogram_sum` or
/// `histogram_avg` look at, so that their buckets need not be read (and, as in
/// Prometheus, counter-reset hints are worked out as the samples are read). Any
/// subquery, quantile, fraction or trim above a selector needs the buckets.
fn mark_stats_only(e: &mut Expr, stats: bool, stopper: bool) {
    let (mut stats, mut stopper) = (stats, stopper);
    match e {
        Expr::VectorSelector(vs) => {
            vs.skip_histogram_buckets = stats && !stopper;
            return;
        }
        Expr::Subquery(_) => stopper = true,
        Expr::Call(c) => match c.func.name {
            "histogram_count" | "histogram_sum" | "histogram_avg" => stats = true,
            "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => stopper = true,
            _ => {}
        },
        Expr::Binary(b) => {
            if matches!(
                b.op,
                ember_promql_parser::BinaryOp::TrimUpper | ember_promql_parser::BinaryOp::TrimLower
            ) {
                stopper = true;
            }
        }
        _ => {}
    }
    for c in e.children_mut() {
        mark_stats_only(c, stats, stopper);
    }
}

/// `start()`, `end()`, `range()` and `step()` as numbers.
fn fold_query_functions(e: &mut Expr, start: i64, end: i64, step: i64) {
    if let Expr::Call(c) = e {
        let v = match c.func.name {
            "start" => Some(start as f64 / 1000.0),
            "end" => Some(end as f64 / 1000.0),
            "range" => Some((end - start) as f64 / 1000.0),
            "step" => Some(if start != end {
                step as f64 / 1000.0
            } else {
                0.0
            }),
            _ => None,
        };
        if let Some(val) = v {
            *e = Expr::NumberLiteral(NumberLiteral {
                val,
                duration: false,
                pos_range: c.pos_range,
            });
            return;
        }
    }
    if matches!(e, Expr::MatrixSelector(_) | Expr::VectorSelector(_)) {
        return;
    }
    for c in e.children_mut() {
        fold_query_functions(c, start, end, step);
    }
}

fn unwrap_parens(e: &mut Expr) {
    while let Expr::Paren(p) = e {
        let inner = std::mem::replace(
            &mut *p.expr,
            Expr::NumberLiteral(NumberLiteral {
                val: 0.0,
                duration: false,
                pos_range: Default::default(),
            }),
        );
        *e = inner;
    }
}

/// Computes duration expressions, resolves `@ start()`/`@ end()` and removes
/// parentheses around arguments.
fn resolve(e: &mut Expr, start: i64, end: i64, step: i64) -> Result<(), Error> {
    let dur =
        |d: &DurationExpr, allow_negative: bool| -> Result<ember_promql_parser::Duration, Error> {
            duration_value(d, step, end - start, allow_negative)
        };
    let at = |a: &mut Option<AtModifier>| match a {
        Some(AtModifier::Start) => *a = Some(AtModifier::Timestamp(start)),
        Some(AtModifier::End) => *a = Some(AtModifier::Timestamp(end)),
        _ => {}
    };
    match e {
        Expr::VectorSelector(vs) => {
            if let Some(d) = &vs.original_offset_expr {
                vs.original_offset = dur(d, true)?;
            }
            at(&mut vs.at);
        }
        Expr::MatrixSelector(ms) => {
            if let Some(d) = &ms.range_expr {
                ms.range = dur(d, false)?;
            }
        }
        Expr::Subquery(sq) => {
            if let Some(d) = &sq.original_offset_expr {
                sq.original_offset = dur(d, true)?;
            }
            if let Some(d) = &sq.step_expr {
                sq.step = dur(d, false)?;
            }
            if let Some(d) = &sq.range_expr {
                sq.range = dur(d, false)?;
            }
            at(&mut sq.at);
        }
        Expr::Call(c) => c.args.iter_mut().for_each(unwrap_parens),
        Expr::Aggregate(a) => {
            unwrap_parens(&mut a.expr);
            if let Some(p) = a.param.as_mut() {
                unwrap_parens(p);
            }
        }
        _ => {}
    }
    for c in e.children_mut() {
        resolve(c, start, end, step)?;
    }
    Ok(())
}

/// The value of a duration expression, as Prometheus's duration visitor computes
/// it (in seconds, then truncated to milliseconds).
fn duration_value(
    d: &DurationExpr,
    step: i64,
    range: i64,
    allow_negative: bool,
) -> Result<ember_promql_parser::Duration, Error> {
    let pr = d.pos_range();
    let v = duration_secs(&Expr::Duration(d.clone()), step, range)?;
    if v.is_nan() || v.is_infinite() {
        return Err(Error::Eval(format!(
            "{}:{}: duration is NaN or infinite",
            pr.start, pr.end
        )));
    }
    if v <= 0.0 && !allow_negative {
        return Err(Error::Eval(format!(
            "{}:{}: duration must be greater than 0",
            pr.start, pr.end
        )));
    }
    let limit = i64::MAX as f64 / 1e9;
    if !(-limit..=limit).contains(&v) {
        return Err(Error::Eval(format!(
            "{}:{}: duration is out of range",
            pr.start, pr.end
        )));
    }
    Ok(ember_promql_parser::Duration::from_millis(
        (v * 1000.0) as i64,
    ))
}

fn duration_secs(e: &Expr, step: i64, range: i64) -> Result<f64, Error> {
    match e {
        Expr::NumberLiteral(n) => Ok(n.val),
        Expr::Paren(p) => duration_secs(&p.expr, step, range),
        Expr::Duration(d) => {
            let lhs = match &d.lhs {
                Some(l) => duration_secs(l, step, range)?,
                None => 0.0,
            };
            let rhs = match &d.rhs {
                Some(r) => duration_secs(r, step, range)?,
                None => 0.0,
            };
            let pr = d.pos_range();
            Ok(match d.op {
                DurationOp::Step => step as f64 / 1000.0,
                DurationOp::Range => range as f64 / 1000.0,
                DurationOp::MinOf => crate::aggregate::go_min(lhs, rhs),
                DurationOp::MaxOf => crate::aggregate::go_max(lhs, rhs),
                DurationOp::Add => {
                    if d.lhs.is_none() {
                        rhs
                    } else {
                        lhs + rhs
                    }
                }
                DurationOp::Sub => {
                    if d.lhs.is_none() {
                        -rhs
                    } else {
                        lhs - rhs
                    }
                }
                DurationOp::Mul => lhs * rhs,
                DurationOp::Div => {
                    if rhs == 0.0 {
                        return Err(Error::Eval(format!(
                            "{}:{}: division by zero",
                            pr.start, pr.end
                        )));
                    }
                    lhs / rhs
                }
                DurationOp::Mod => {
                    if rhs == 0.0 {
                        return Err(Error::Eval(format!(
                            "{}:{}: modulo by zero",
                            pr.start, pr.end
                        )));
                    }
                    lhs % rhs
                }
                DurationOp::Pow => lhs.powf(rhs),
            })
        }
        _ => Err(Error::Eval("unexpected duration expression".into())),
    }
}

/// The widest time range any selector needs, for opening the querier.
fn time_bounds(expr: &Expr, start: i64, end: i64, lookback: i64) -> (i64, i64) {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    expr.inspect(|e, path| {
        let (vs, range) = match e {
            Expr::VectorSelector(vs) => (vs, 0),
            Expr::MatrixSelector(ms) => match ms.vs() {
                Some(vs) => (vs, ms.range.as_millis()),
                None => return,
            },
            _ => return,
        };
        // Inside a range selector, the vector selector is seen twice; skip the inner.
        if matches!(path.last(), Some(Expr::MatrixSelector(_))) {
            return;
        }
        let (mut s, mut en) = (start, end);
        for p in path.iter() {
            if let Expr::Subquery(sq) = p {
                s -= sq.range.as_millis() + sq.original_offset.as_millis();
                en -= sq.original_offset.as_millis();
                if let Some(AtModifier::Timestamp(t)) = sq.at {
                    s = s.min(t - sq.range.as_millis());
                    en = en.max(t);
                }
            }
        }
        if let Some(AtModifier::Timestamp(t)) = vs.at {
            s = s.min(t);
            en = en.max(t);
        }
        let off = vs.original_offset.as_millis();
        s = s - off - range - lookback;
        en = en - off + lookback;
        lo = lo.min(s);
        hi = hi.max(en);
    });
    if lo == i64::MAX {
        return (start, end);
    }
    (lo.min(start - lookback), hi.max(end))
}
