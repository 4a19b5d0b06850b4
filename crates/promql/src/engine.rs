//! The query entry points: instant and range queries over any `storage::Queryable`,
//! with the limits (`--query.max-samples`, `--query.timeout`, lookback delta).

use crate::Error;
use crate::annotations::Annotations;
use crate::eval::Evaluator;
use crate::value::{Matrix, Sample, Value};
use ember_promql_parser::{Expr, ParserOptions, ValueType};
use ember_storage::Queryable;
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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
            parser: ParserOptions::default(),
        }
    }
}

/// A query's result and the annotations it produced.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings and infos.
    pub annotations: Annotations,
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
        self.exec(store, q, &expr, t, t, 1, None)
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
                type_name(expr.value_type())
            )));
        }
        self.exec(store, q, &expr, start, end, step.max(1), None)
    }

    /// Evaluates a parsed expression; `cancel` stops it when set.
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
        let lookback = self.opts.lookback_delta.as_millis() as i64;
        let (mint, maxt) = time_bounds(expr, start, end, lookback);
        let querier = store.querier(mint, maxt)?;
        let mut ev = Evaluator::new(
            querier.as_ref(),
            q,
            start,
            end,
            step,
            lookback,
            self.opts.max_samples,
            Some(Instant::now() + self.opts.timeout),
            self.opts.default_subquery_step.as_millis() as i64,
            cancel,
        );
        let v = ev.eval(expr)?;
        let instant = start == end;
        let value = match (v, expr.value_type(), instant) {
            (Value::Matrix(m), ValueType::Scalar, true) => {
                let f = m
                    .first()
                    .and_then(|s| s.floats.first())
                    .map_or(f64::NAN, |p| p.f);
                Value::Scalar { t: start, v: f }
            }
            (Value::Matrix(m), ValueType::Vector, true) => Value::Vector(to_vector(m, start)),
            (Value::Matrix(mut m), _, false) => {
                m.retain(|s| !s.floats.is_empty() || !s.histograms.is_empty());
                m.sort_by(|a, b| a.metric.cmp(&b.metric));
                Value::Matrix(m)
            }
            (v, _, _) => v,
        };
        Ok(QueryResult {
            value,
            annotations: std::mem::take(&mut ev.annos),
        })
    }
}

fn to_vector(m: Matrix, t: i64) -> Vec<Sample> {
    m.into_iter()
        .filter_map(|s| {
            if let Some(p) = s.floats.first() {
                Some(Sample {
                    metric: s.metric,
                    t,
                    f: p.f,
                    h: None,
                })
            } else {
                s.histograms.first().map(|p| Sample {
                    metric: s.metric,
                    t,
                    f: 0.0,
                    h: Some(p.h.clone()),
                })
            }
        })
        .collect()
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
        ValueType::None => "none",
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
                if let Some(ember_promql_parser::AtModifier::Timestamp(t)) = sq.at {
                    s = s.min(t - sq.range.as_millis());
                    en = en.max(t);
                }
            }
        }
        if let Some(ember_promql_parser::AtModifier::Timestamp(t)) = vs.at {
            s = s.min(t);
            en = en.max(t);
        }
        let off = vs.original_offset.as_millis();
        s = s - off - if range > 0 { range } else { lookback };
        en -= off;
        lo = lo.min(s);
        hi = hi.max(en);
    });
    if lo == i64::MAX {
        return (start, end);
    }
    // `@ start()`/`end()` and offsets can only move within what the steps cover, but a
    // generous margin costs nothing for the head.
    (lo.min(start - lookback), hi.max(end))
}
