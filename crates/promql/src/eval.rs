//! The evaluator: walks the syntax tree once for the whole query range. Every
//! vector-valued node yields a matrix with one point per evaluation step, as in
//! Prometheus's engine, so that range queries evaluate each node once rather than
//! once per step; scalars travel the same way as a single label-less series.

use crate::annotations::{Annotations, pos_suffix};
use crate::value::{FPoint, HPoint, Matrix, Sample, Series, Value, Vector, hist_size};
use crate::{Error, functions};
use ember_model::Labels;
use ember_model::histogram::FloatHistogram;
use ember_model::value::is_stale_nan;
use ember_promql_parser::{
    AtModifier, Expr, MatrixSelector, SubqueryExpr, UnaryOp, ValueType, VectorSelector,
};
use ember_storage::{Querier, SelectHints, ValueType as VT};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// One raw sample read from storage.
#[derive(Clone, Debug)]
pub(crate) enum Raw {
    F(f64),
    H(Arc<FloatHistogram>),
}

/// A series as read from storage: labels and every sample in the queried range.
#[derive(Clone, Debug)]
pub(crate) struct RawSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<(i64, Raw)>,
}

/// State for one query.
pub(crate) struct Evaluator<'q> {
    pub(crate) querier: &'q dyn Querier,
    pub(crate) query: &'q str,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
    pub(crate) lookback: i64,
    pub(crate) max_samples: usize,
    pub(crate) cur_samples: usize,
    pub(crate) deadline: Option<Instant>,
    /// `@ start()` and `@ end()` refer to the outer query, also inside subqueries.
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    /// Step of subqueries written without one.
    pub(crate) default_subquery_step: i64,
    pub(crate) annos: Annotations,
    /// Series read per selector, so that a selector used at several steps or by
    /// several subquery evaluations is read once.
    cache: HashMap<String, Arc<Vec<RawSeries>>>,
    pub(crate) cancel: Option<&'q std::sync::atomic::AtomicBool>,
    /// An error raised inside a per-sample callback that cannot return one.
    pub(crate) pending_error: Option<Error>,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl<'q> Evaluator<'q> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        querier: &'q dyn Querier,
        query: &'q str,
        start: i64,
        end: i64,
        interval: i64,
        lookback: i64,
        max_samples: usize,
        deadline: Option<Instant>,
        default_subquery_step: i64,
        cancel: Option<&'q std::sync::atomic::AtomicBool>,
    ) -> Self {
        Evaluator {
            querier,
            query,
            start,
            end,
            interval: interval.max(1),
            lookback,
            max_samples,
            cur_samples: 0,
            deadline,
            query_start: start,
            query_end: end,
            default_subquery_step,
            annos: Annotations::default(),
            cache: HashMap::new(),
            cancel,
            pending_error: None,
        }
    }

    pub(crate) fn steps(&self) -> impl Iterator<Item = i64> + use<> {
        let (s, e, i) = (self.start, self.end, self.interval);
        (0..).map(move |k| s + k * i).take_while(move |t| *t <= e)
    }

    pub(crate) fn is_instant(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn check_deadline(&self, what: &'static str) -> Result<()> {
        if let Some(c) = self.cancel
            && c.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Error::Canceled(what));
        }
        if let Some(d) = self.deadline
            && Instant::now() > d
        {
            return Err(Error::Timeout(what));
        }
        Ok(())
    }

    pub(crate) fn add_samples(&mut self, n: usize) -> Result<()> {
        self.cur_samples += n;
        if self.cur_samples > self.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Records an error to fail the query with once the current callback returns.
    pub(crate) fn errors_later(&mut self, msg: String) {
        self.pending_error.get_or_insert(Error::Eval(msg));
    }

    pub(crate) fn info_at(&mut self, msg: String, pos: usize) {
        let s = pos_suffix(self.query, pos);
        self.annos.info(format!("{msg}{s}"));
    }

    pub(crate) fn warn_at(&mut self, msg: String, pos: usize) {
        let s = pos_suffix(self.query, pos);
        self.annos.warn(format!("{msg}{s}"));
    }

    /// Evaluates `e` over the evaluator's range.
    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Value> {
        self.check_deadline("expression evaluation")?;
        match e {
            Expr::NumberLiteral(n) => {
                let v = n.val;
                self.range_eval(&[], |_, _, out| {
                    out.push(Sample::float(Labels::empty(), 0, v));
                    Ok(())
                })
            }
            Expr::StringLiteral(s) => Ok(Value::String {
                t: self.start,
                s: s.val.clone(),
            }),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::StepInvariant(s) => self.eval(&s.expr),
            Expr::Duration(_) => Err(Error::Eval(
                "duration expressions are only valid in ranges and offsets".into(),
            )),
            Expr::Unary(u) => {
                let v = self.eval(&u.expr)?;
                if u.op == UnaryOp::Add {
                    return Ok(v);
                }
                let Value::Matrix(mut m) = v else {
                    return Err(Error::Eval("unary minus on a non-numeric value".into()));
                };
                let drop_name = u.expr.value_type() == ValueType::Vector;
                for s in &mut m {
                    if drop_name {
                        s.metric = s.metric.without(&["__name__"]);
                    }
                    for p in &mut s.floats {
                        p.f = -p.f;
                    }
                    for p in &mut s.histograms {
                        let mut h = (*p.h).clone();
                        crate::functions::histogram::scale(&mut h, -1.0);
                        p.h = Arc::new(h);
                    }
                }
                if drop_name {
                    check_no_duplicates(&m)?;
                }
                Ok(Value::Matrix(m))
            }
            Expr::VectorSelector(vs) => {
                let series = self.select(vs, 0)?;
                let m = self.vector_selector_points(vs, &series)?;
                Ok(Value::Matrix(m))
            }
            Expr::MatrixSelector(ms) => {
                if !self.is_instant() {
                    return Err(Error::Eval(
                        "cannot do range evaluation of matrix selector".into(),
                    ));
                }
                let windows = self.range_windows_for_matrix(ms)?;
                let t = self.start;
                let mut out = Vec::new();
                for w in windows {
                    let (floats, hists) = w.window_at(t);
                    if floats.is_empty() && hists.is_empty() {
                        continue;
                    }
                    out.push(Series {
                        metric: w.labels.clone(),
                        floats: floats.to_vec(),
                        histograms: hists.to_vec(),
                    });
                }
                let n: usize = out.iter().map(Series::num_samples).sum();
                self.add_samples(n)?;
                Ok(Value::Matrix(out))
            }
            Expr::Subquery(sq) => {
                if !self.is_instant() {
                    return Err(Error::Eval(
                        "cannot do range evaluation of a subquery".into(),
                    ));
                }
                let windows = self.range_windows_for_subquery(sq)?;
                let t = self.start;
                let mut out = Vec::new();
                for w in windows {
                    let (floats, hists) = w.window_at(t);
                    if floats.is_empty() && hists.is_empty() {
                        continue;
                    }
                    out.push(Series {
                        metric: w.labels.clone(),
                        floats: floats.to_vec(),
                        histograms: hists.to_vec(),
                    });
                }
                Ok(Value::Matrix(out))
            }
            Expr::Binary(b) => crate::binary::eval_binary(self, b),
            Expr::Aggregate(a) => crate::aggregate::eval_aggregate(self, a),
            Expr::Call(c) => functions::eval_call(self, c),
        }
    }

    /// Runs `f` at every step over the instant vectors of `inputs` (each a matrix, as
    /// the evaluator produces them) and assembles the output series.
    pub(crate) fn range_eval(
        &mut self,
        inputs: &[&Matrix],
        mut f: impl FnMut(&mut Self, &[Vector], &mut Vector) -> Result<()>,
    ) -> Result<Value> {
        let mut cursors: Vec<Vec<usize>> = inputs.iter().map(|m| vec![0; m.len()]).collect();
        let mut hcursors: Vec<Vec<usize>> = inputs.iter().map(|m| vec![0; m.len()]).collect();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Matrix = Vec::new();
        let mut last_ts: Vec<i64> = Vec::new();
        let instant = self.is_instant();
        let steps: Vec<i64> = self.steps().collect();
        let mut vectors: Vec<Vector> = vec![Vec::new(); inputs.len()];
        let base_samples = self.cur_samples;
        for ts in steps {
            self.check_deadline("expression evaluation")?;
            for (i, m) in inputs.iter().enumerate() {
                let v = &mut vectors[i];
                v.clear();
                for (si, s) in m.iter().enumerate() {
                    let c = &mut cursors[i][si];
                    while *c < s.floats.len() && s.floats[*c].t < ts {
                        *c += 1;
                    }
                    if *c < s.floats.len() && s.floats[*c].t == ts {
                        v.push(Sample::float(s.metric.clone(), ts, s.floats[*c].f));
                        continue;
                    }
                    let c = &mut hcursors[i][si];
                    while *c < s.histograms.len() && s.histograms[*c].t < ts {
                        *c += 1;
                    }
                    if *c < s.histograms.len() && s.histograms[*c].t == ts {
                        v.push(Sample {
                            metric: s.metric.clone(),
                            t: ts,
                            f: 0.0,
                            h: Some(s.histograms[*c].h.clone()),
                        });
                    }
                }
            }
            let mut result: Vector = Vec::new();
            f(self, &vectors, &mut result)?;
            let n: usize = result
                .iter()
                .map(|s| s.h.as_ref().map_or(1, |h| hist_size(h)))
                .sum();
            self.add_samples(n)?;
            for s in result {
                let idx = match index.get(&s.metric) {
                    Some(i) => {
                        if last_ts[*i] == ts {
                            return Err(Error::Eval(
                                "vector cannot contain metrics with the same labelset".into(),
                            ));
                        }
                        *i
                    }
                    None => {
                        out.push(Series {
                            metric: s.metric.clone(),
                            floats: Vec::new(),
                            histograms: Vec::new(),
                        });
                        last_ts.push(i64::MIN);
                        index.insert(s.metric.clone(), out.len() - 1);
                        out.len() - 1
                    }
                };
                last_ts[idx] = ts;
                match s.h {
                    Some(h) => out[idx].histograms.push(HPoint { t: ts, h }),
                    None => out[idx].floats.push(FPoint { t: ts, f: s.f }),
                }
            }
        }
        if !instant {
            // Range results are ordered by labels; instant ones keep the function's order.
            out.sort_by(|a, b| a.metric.cmp(&b.metric));
        }
        self.cur_samples = base_samples + out.iter().map(Series::num_samples).sum::<usize>();
        Ok(Value::Matrix(out))
    }

    /// Evaluates a scalar-typed or vector-typed expression to a matrix.
    pub(crate) fn eval_matrix(&mut self, e: &Expr) -> Result<Matrix> {
        match self.eval(e)? {
            Value::Matrix(m) => Ok(m),
            Value::Vector(v) => Ok(v
                .into_iter()
                .map(|s| match s.h {
                    Some(h) => Series {
                        metric: s.metric,
                        floats: vec![],
                        histograms: vec![HPoint { t: s.t, h }],
                    },
                    None => Series {
                        metric: s.metric,
                        floats: vec![FPoint { t: s.t, f: s.f }],
                        histograms: vec![],
                    },
                })
                .collect()),
            Value::Scalar { t, v } => Ok(vec![Series {
                metric: Labels::empty(),
                floats: vec![FPoint { t, f: v }],
                histograms: vec![],
            }]),
            Value::String { .. } => Err(Error::Eval("unexpected string".into())),
        }
    }

    /// The effective evaluation time of a selector or subquery at step `ts`.
    pub(crate) fn at_time(&self, at: Option<AtModifier>, ts: i64) -> i64 {
        match at {
            None => ts,
            Some(AtModifier::Timestamp(t)) => t,
            Some(AtModifier::Start) => self.query_start,
            Some(AtModifier::End) => self.query_end,
        }
    }

    /// Reads the series of a selector from storage, covering what any step needs.
    /// `range` is the matrix range in ms (0 for an instant selector).
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        range: i64,
    ) -> Result<Arc<Vec<RawSeries>>> {
        let offset = vs.original_offset.millis();
        let (first, last) = match vs.at {
            Some(_) => {
                let t = self.at_time(vs.at, self.start);
                (t, t)
            }
            None => (self.start, self.end),
        };
        let lo = first - offset - if range > 0 { range } else { self.lookback };
        let hi = last - offset;
        let key = format!("{}|{lo}|{hi}", matcher_key(vs));
        if let Some(s) = self.cache.get(&key) {
            return Ok(s.clone());
        }
        let hints = SelectHints {
            start: lo,
            end: hi,
            step: self.interval,
            range,
            ..Default::default()
        };
        let mut out = Vec::new();
        let mut total = 0usize;
        for s in self.querier.select(false, Some(&hints), &vs.label_matchers) {
            let s = s?;
            let mut it = s.iter();
            let mut samples = Vec::new();
            let mut vt = it.seek(lo + 1);
            let mut fh = FloatHistogram::default();
            while vt != VT::None {
                let t = it.at_t();
                if t > hi {
                    break;
                }
                match vt {
                    VT::Float => samples.push((t, Raw::F(it.at().1))),
                    VT::Histogram | VT::FloatHistogram => {
                        it.at_float_histogram(&mut fh);
                        samples.push((t, Raw::H(Arc::new(fh.clone()))));
                    }
                    VT::None => {}
                }
                vt = it.next();
            }
            if let Some(e) = it.err() {
                return Err(Error::Storage(e.to_string()));
            }
            total += samples.len();
            if total > self.max_samples {
                return Err(Error::TooManySamples("query execution"));
            }
            if !samples.is_empty() {
                out.push(RawSeries {
                    labels: s.labels().clone(),
                    samples,
                });
            }
        }
        let out = Arc::new(out);
        self.cache.insert(key, out.clone());
        Ok(out)
    }

    /// An instant selector at every step: the newest sample in the lookback window
    /// `(t - lookback, t]`, unless it is a staleness marker.
    pub(crate) fn vector_selector_points(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
    ) -> Result<Matrix> {
        self.selector_points(vs, series, false)
    }

    /// As [`Self::vector_selector_points`]; with `sample_time`, each point's value is
    /// the timestamp (in seconds) of the sample found, for `timestamp()`.
    pub(crate) fn selector_points(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
        sample_time: bool,
    ) -> Result<Matrix> {
        let offset = vs.original_offset.millis();
        let steps: Vec<i64> = self.steps().collect();
        let mut out = Vec::with_capacity(series.len());
        let mut n = 0;
        for s in series {
            let mut floats = Vec::new();
            let mut hists = Vec::new();
            let mut c = 0usize;
            for &ts in &steps {
                let t_eff = self.at_time(vs.at, ts) - offset;
                // With `@` all steps read the same time; the cursor must not run ahead.
                if vs.at.is_some() {
                    c = 0;
                }
                while c < s.samples.len() && s.samples[c].0 <= t_eff {
                    c += 1;
                }
                if c == 0 {
                    continue;
                }
                let (t, v) = &s.samples[c - 1];
                if *t <= t_eff - self.lookback {
                    continue;
                }
                match v {
                    Raw::F(f) if is_stale_nan(*f) => {}
                    _ if sample_time => floats.push(FPoint {
                        t: ts,
                        f: *t as f64 / 1000.0,
                    }),
                    Raw::F(f) => floats.push(FPoint { t: ts, f: *f }),
                    Raw::H(h) => hists.push(HPoint {
                        t: ts,
                        h: h.clone(),
                    }),
                }
            }
            if floats.is_empty() && hists.is_empty() {
                continue;
            }
            n += floats.len() + hists.iter().map(|h| hist_size(&h.h)).sum::<usize>();
            out.push(Series {
                metric: s.labels.clone(),
                floats,
                histograms: hists,
            });
        }
        self.add_samples(n)?;
        self.cur_samples -= n;
        Ok(out)
    }

    /// Per-series windows for a range selector argument.
    pub(crate) fn range_windows_for_matrix(
        &mut self,
        ms: &MatrixSelector,
    ) -> Result<Vec<Windowed>> {
        let vs = ms
            .vs()
            .ok_or_else(|| Error::Eval("range selector without a selector".into()))?;
        let range = ms.range.millis();
        let series = self.select(vs, range)?;
        let offset = vs.original_offset.millis();
        let at = vs.at;
        let steps: Vec<i64> = self.steps().collect();
        let ends: Vec<i64> = steps
            .iter()
            .map(|ts| self.at_time(at, *ts) - offset)
            .collect();
        Ok(series
            .iter()
            .map(|s| {
                let mut floats = Vec::new();
                let mut hists = Vec::new();
                for (t, v) in &s.samples {
                    match v {
                        Raw::F(f) if is_stale_nan(*f) => {}
                        Raw::F(f) => floats.push(FPoint { t: *t, f: *f }),
                        Raw::H(h) => hists.push(HPoint {
                            t: *t,
                            h: h.clone(),
                        }),
                    }
                }
                Windowed {
                    labels: s.labels.clone(),
                    floats,
                    histograms: hists,
                    range,
                    steps: steps.clone(),
                    ends: ends.clone(),
                }
            })
            .collect())
    }

    /// Per-series windows for a subquery argument: the inner expression is evaluated
    /// once over the union of all windows, at steps aligned to the subquery step.
    pub(crate) fn range_windows_for_subquery(
        &mut self,
        sq: &SubqueryExpr,
    ) -> Result<Vec<Windowed>> {
        let range = sq.range.millis();
        let offset = sq.original_offset.millis();
        let step = if sq.step.millis() > 0 {
            sq.step.millis()
        } else {
            self.default_subquery_step
        };
        let steps: Vec<i64> = self.steps().collect();
        let ends: Vec<i64> = steps
            .iter()
            .map(|ts| self.at_time(sq.at, *ts) - offset)
            .collect();
        let (Some(&first_end), Some(&last_end)) = (ends.iter().min(), ends.iter().max()) else {
            return Ok(Vec::new());
        };
        let lo = first_end - range;
        // First multiple of the step after the window's open start.
        let mut sub_start = step * lo.div_euclid(step);
        if sub_start <= lo {
            sub_start += step;
        }
        let saved = (self.start, self.end, self.interval);
        self.start = sub_start;
        self.end = last_end;
        self.interval = step;
        let inner = self.eval(&sq.expr);
        (self.start, self.end, self.interval) = saved;
        let m = match inner? {
            Value::Matrix(m) => m,
            other => return Err(Error::Eval(format!("subquery of a {}", other.type_name()))),
        };
        Ok(m.into_iter()
            .map(|s| Windowed {
                labels: s.metric,
                floats: s.floats,
                histograms: s.histograms,
                range,
                steps: steps.clone(),
                ends: ends.clone(),
            })
            .collect())
    }

    /// The windows of a range argument, whichever kind it is.
    pub(crate) fn range_arg(&mut self, e: &Expr) -> Result<Vec<Windowed>> {
        match e {
            Expr::MatrixSelector(ms) => self.range_windows_for_matrix(ms),
            Expr::Subquery(sq) => self.range_windows_for_subquery(sq),
            Expr::Paren(p) => self.range_arg(&p.expr),
            Expr::StepInvariant(s) => self.range_arg(&s.expr),
            _ => Err(Error::Eval("expected a range vector".into())),
        }
    }
}

/// A series with the points of a range argument and, per step, the end of its window.
#[derive(Clone, Debug)]
pub(crate) struct Windowed {
    pub(crate) labels: Labels,
    pub(crate) floats: Vec<FPoint>,
    pub(crate) histograms: Vec<HPoint>,
    pub(crate) range: i64,
    pub(crate) steps: Vec<i64>,
    pub(crate) ends: Vec<i64>,
}

impl Windowed {
    /// The points in `(end - range, end]` for the step at time `ts`.
    pub(crate) fn window_at(&self, ts: i64) -> (&[FPoint], &[HPoint]) {
        let i = self.steps.iter().position(|s| *s == ts).unwrap_or(0);
        let end = self.ends.get(i).copied().unwrap_or(ts);
        self.window(end)
    }

    /// The points in `(end - range, end]` (left-open, as in Prometheus 3).
    pub(crate) fn window(&self, end: i64) -> (&[FPoint], &[HPoint]) {
        let start = end - self.range;
        let f0 = self.floats.partition_point(|p| p.t <= start);
        let f1 = self.floats.partition_point(|p| p.t <= end);
        let h0 = self.histograms.partition_point(|p| p.t <= start);
        let h1 = self.histograms.partition_point(|p| p.t <= end);
        (
            &self.floats[f0..f1.max(f0)],
            &self.histograms[h0..h1.max(h0)],
        )
    }
}

fn matcher_key(vs: &VectorSelector) -> String {
    vs.label_matchers
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Errors when two series of a vector share a label set (e.g. after dropping names).
pub(crate) fn check_no_duplicates(m: &Matrix) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in m {
        if !seen.insert(&s.metric) {
            // Only a problem if they have points at the same time.
            let clash = m.iter().filter(|o| o.metric == s.metric).count() > 1;
            if clash {
                return Err(Error::Eval(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Removes `__name__`.
pub(crate) fn drop_name(l: &Labels) -> Labels {
    if l.has("__name__") {
        l.without(&["__name__"])
    } else {
        l.clone()
    }
}

pub(crate) use ember_promql_parser::Duration as PDuration;

/// Milliseconds of a parser duration.
pub(crate) trait Millis {
    fn millis(&self) -> i64;
}

impl Millis for PDuration {
    fn millis(&self) -> i64 {
        self.as_millis()
    }
}
