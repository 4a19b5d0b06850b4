//! The evaluator: walks the syntax tree once for the whole query range. Every
//! vector-valued node yields a matrix with one point per evaluation step, as in
//! Prometheus's engine, so that range queries evaluate each node once rather than
//! once per step; scalars travel the same way as a single label-less series.
//!
//! Series carry a "drop the name" flag rather than losing `__name__` on the spot
//! when Prometheus's delayed name removal is on: functions such as `label_replace`
//! and `sum by (__name__)` can still see the name, and it goes at the very end.

use crate::annotations::Annos;
use crate::fhist;
use crate::value::{FPoint, HPoint, hist_size};
use crate::{Error, functions};
use ember_model::Labels;
use ember_model::histogram::{CounterResetHint, FloatHistogram};
use ember_model::value::is_stale_nan;
use ember_promql_parser::{
    AtModifier, Expr, MatrixSelector, SubqueryExpr, UnaryOp, VectorSelector,
};
use ember_storage::{Querier, SelectHints, ValueType as VT};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A series of an intermediate result.
#[derive(Clone, Debug, Default)]
pub(crate) struct ESeries {
    pub(crate) metric: Labels,
    pub(crate) floats: Vec<FPoint>,
    pub(crate) hists: Vec<HPoint>,
    /// `__name__` (and the type and unit labels) go when the result is handed out.
    pub(crate) drop_name: bool,
}

impl ESeries {
    pub(crate) fn new(metric: Labels, drop_name: bool) -> Self {
        ESeries {
            metric,
            floats: Vec::new(),
            hists: Vec::new(),
            drop_name,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.floats.is_empty() && self.hists.is_empty()
    }

    pub(crate) fn num_samples(&self) -> usize {
        self.floats.len() + self.hists.iter().map(|h| hist_size(&h.h)).sum::<usize>()
    }
}

/// An intermediate matrix.
pub(crate) type EMatrix = Vec<ESeries>;

/// One element of an instant vector at a step.
#[derive(Clone, Debug)]
pub(crate) struct ESample {
    pub(crate) metric: Labels,
    /// The sample's own time (the step, except for `timestamp()` over a selector).
    pub(crate) t: i64,
    pub(crate) f: f64,
    pub(crate) h: Option<Arc<FloatHistogram>>,
    pub(crate) drop_name: bool,
}

impl ESample {
    pub(crate) fn float(metric: Labels, f: f64) -> Self {
        ESample {
            metric,
            t: 0,
            f,
            h: None,
            drop_name: false,
        }
    }
}

/// An instant vector at a step.
pub(crate) type EVector = Vec<ESample>;

/// What a node evaluates to.
#[derive(Clone, Debug)]
pub(crate) enum EVal {
    Matrix(EMatrix),
    String(String),
}

/// One raw sample read from storage.
#[derive(Clone, Debug)]
pub(crate) enum Raw {
    F(f64),
    H(Arc<FloatHistogram>),
}

impl Raw {
    fn is_stale(&self) -> bool {
        match self {
            Raw::F(f) => is_stale_nan(*f),
            Raw::H(h) => is_stale_nan(h.sum),
        }
    }
}

/// A series as read from storage: labels and every sample in the queried range.
#[derive(Clone, Debug)]
pub(crate) struct RawSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<(i64, Raw)>,
}

/// The names Prometheus drops with the metric name.
pub(crate) const METADATA_LABELS: [&str; 3] = ["__name__", "__type__", "__unit__"];

/// The labels without the metric name and its type and unit.
pub(crate) fn drop_metadata(l: &Labels) -> Labels {
    if METADATA_LABELS.iter().any(|n| l.has(n)) {
        l.without(&METADATA_LABELS)
    } else {
        l.clone()
    }
}

/// State for one query.
pub(crate) struct Evaluator<'q> {
    pub(crate) querier: &'q dyn Querier,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
    pub(crate) lookback: i64,
    pub(crate) max_samples: usize,
    pub(crate) cur_samples: usize,
    pub(crate) deadline: Option<Instant>,
    pub(crate) default_subquery_step: i64,
    pub(crate) annos: Annos,
    pub(crate) delayed_name_removal: bool,
    /// Series read per selector and time range, so that a selector used at several
    /// steps or by several subquery evaluations is read once.
    cache: HashMap<String, Arc<Vec<RawSeries>>>,
    pub(crate) cancel: Option<&'q std::sync::atomic::AtomicBool>,
}

impl<'q> Evaluator<'q> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        querier: &'q dyn Querier,
        start: i64,
        end: i64,
        interval: i64,
        lookback: i64,
        max_samples: usize,
        deadline: Option<Instant>,
        default_subquery_step: i64,
        delayed_name_removal: bool,
        cancel: Option<&'q std::sync::atomic::AtomicBool>,
    ) -> Self {
        Evaluator {
            querier,
            start,
            end,
            interval: interval.max(1),
            lookback,
            max_samples,
            cur_samples: 0,
            deadline,
            default_subquery_step,
            annos: Annos::default(),
            delayed_name_removal,
            cache: HashMap::new(),
            cancel,
        }
    }

    /// The step times of the current range.
    pub(crate) fn steps(&self) -> Vec<i64> {
        let (s, e, i) = (self.start, self.end, self.interval);
        if e < s {
            return Vec::new();
        }
        (0..=(e - s) / i).map(|k| s + k * i).collect()
    }

    pub(crate) fn is_instant(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn check_deadline(&self) -> Result<()> {
        if let Some(c) = self.cancel
            && c.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Error::Canceled("expression evaluation"));
        }
        if let Some(d) = self.deadline
            && Instant::now() > d
        {
            return Err(Error::Timeout("expression evaluation"));
        }
        Ok(())
    }

    pub(crate) fn check_samples(&self, extra: usize) -> Result<()> {
        if self.cur_samples + extra > self.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// The labels a series keeps when its name is dropped right away (without
    /// delayed name removal).
    pub(crate) fn drop_now(&self, l: &Labels, drop: bool) -> Labels {
        if drop && !self.delayed_name_removal {
            drop_metadata(l)
        } else {
            l.clone()
        }
    }

    /// Evaluates `e` over the evaluator's range.
    pub(crate) fn eval(&mut self, e: &Expr) -> Result<EVal> {
        self.check_deadline()?;
        if self.end < self.start {
            return Ok(EVal::Matrix(Vec::new()));
        }
        match e {
            Expr::NumberLiteral(n) => {
                let v = n.val;
                Ok(EVal::Matrix(self.constant(v)))
            }
            Expr::StringLiteral(s) => Ok(EVal::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::StepInvariant(s) => self.eval(&s.expr),
            Expr::Duration(_) => Err(Error::Eval(
                "duration expressions are only valid in ranges and offsets".into(),
            )),
            Expr::Unary(u) => {
                let mut m = self.eval_matrix(&u.expr)?;
                if u.op == UnaryOp::Sub {
                    for s in &mut m {
                        s.metric = self.drop_now(&s.metric, true);
                        s.drop_name = true;
                        for p in &mut s.floats {
                            p.f = -p.f;
                        }
                        for p in &mut s.hists {
                            let mut h = (*p.h).clone();
                            fhist::mul(&mut h, -1.0);
                            p.h = Arc::new(h);
                        }
                    }
                    if !self.delayed_name_removal {
                        m = merge_same_labels(m)?;
                    }
                }
                Ok(EVal::Matrix(m))
            }
            Expr::VectorSelector(vs) => {
                let series = self.select_for(vs, 0)?;
                let m = if vs.smoothed {
                    self.smoothed_points(vs, &series, vs.pos_range.start)
                } else {
                    self.selector_points(vs, &series)?
                };
                Ok(EVal::Matrix(m))
            }
            Expr::MatrixSelector(ms) => {
                if !self.is_instant() {
                    return Err(Error::Eval(
                        "cannot do range evaluation of matrix selector".into(),
                    ));
                }
                self.matrix_selector(ms).map(EVal::Matrix)
            }
            Expr::Subquery(sq) => {
                let m = self.run_subquery(sq)?;
                Ok(EVal::Matrix(m))
            }
            Expr::Binary(b) => crate::binary::eval_binary(self, b).map(EVal::Matrix),
            Expr::Aggregate(a) => crate::aggregate::eval_aggregate(self, a).map(EVal::Matrix),
            Expr::Call(c) => functions::eval_call(self, c).map(EVal::Matrix),
        }
    }

    /// Evaluates an expression that must give a matrix (vector or scalar).
    pub(crate) fn eval_matrix(&mut self, e: &Expr) -> Result<EMatrix> {
        match self.eval(e)? {
            EVal::Matrix(m) => Ok(m),
            EVal::String(_) => Err(Error::Eval("unexpected string value".into())),
        }
    }

    /// A scalar with the same value at every step.
    pub(crate) fn constant(&self, v: f64) -> EMatrix {
        let mut s = ESeries::new(Labels::empty(), false);
        s.floats = self
            .steps()
            .into_iter()
            .map(|t| FPoint { t, f: v })
            .collect();
        vec![s]
    }

    /// The value of a scalar argument at every step (NaN where it has none).
    pub(crate) fn scalar_steps(&mut self, e: &Expr) -> Result<Vec<f64>> {
        let m = self.eval_matrix(e)?;
        let steps = self.steps();
        let Some(s) = m.first() else {
            return Ok(vec![f64::NAN; steps.len()]);
        };
        let mut out = Vec::with_capacity(steps.len());
        let mut c = 0;
        for t in steps {
            while c < s.floats.len() && s.floats[c].t < t {
                c += 1;
            }
            out.push(match s.floats.get(c) {
                Some(p) if p.t == t => p.f,
                _ => f64::NAN,
            });
        }
        Ok(out)
    }

    /// Runs `f` at every step over the instant vectors of `inputs` and assembles
    /// the output series, as Prometheus's `rangeEval`. An instant query keeps the
    /// order `f` gives; a range query's series come out in no particular order.
    pub(crate) fn range_eval(
        &mut self,
        inputs: &[&EMatrix],
        mut f: impl FnMut(&mut Self, &[EVector], i64) -> Result<EVector>,
    ) -> Result<EMatrix> {
        let mut fcur: Vec<Vec<usize>> = inputs.iter().map(|m| vec![0; m.len()]).collect();
        let mut hcur: Vec<Vec<usize>> = inputs.iter().map(|m| vec![0; m.len()]).collect();
        let mut index: HashMap<Labels, (usize, i64)> = HashMap::new();
        let mut out: EMatrix = Vec::new();
        let steps = self.steps();
        let instant = self.is_instant();
        let base = self.cur_samples;
        let mut vectors: Vec<EVector> = vec![Vec::new(); inputs.len()];
        let mut held = 0usize;
        for ts in steps {
            self.check_deadline()?;
            for (i, m) in inputs.iter().enumerate() {
                let v = &mut vectors[i];
                v.clear();
                for (si, s) in m.iter().enumerate() {
                    let c = &mut fcur[i][si];
                    while *c < s.floats.len() && s.floats[*c].t < ts {
                        *c += 1;
                    }
                    if let Some(p) = s.floats.get(*c)
                        && p.t == ts
                    {
                        v.push(ESample {
                            metric: s.metric.clone(),
                            t: ts,
                            f: p.f,
                            h: None,
                            drop_name: s.drop_name,
                        });
                        continue;
                    }
                    let c = &mut hcur[i][si];
                    while *c < s.hists.len() && s.hists[*c].t < ts {
                        *c += 1;
                    }
                    if let Some(p) = s.hists.get(*c)
                        && p.t == ts
                    {
                        v.push(ESample {
                            metric: s.metric.clone(),
                            t: ts,
                            f: 0.0,
                            h: Some(p.h.clone()),
                            drop_name: s.drop_name,
                        });
                    }
                }
            }
            let result = f(self, &vectors, ts)?;
            held += result
                .iter()
                .map(|s| s.h.as_ref().map_or(1, |h| hist_size(h)))
                .sum::<usize>();
            self.cur_samples = base + held;
            self.check_samples(0)?;
            if instant {
                if !self.delayed_name_removal {
                    check_vector_labels(&result)?;
                }
                return Ok(result
                    .into_iter()
                    .map(|s| {
                        let mut e = ESeries::new(s.metric, s.drop_name);
                        match s.h {
                            Some(h) => e.hists.push(HPoint { t: ts, h }),
                            None => e.floats.push(FPoint { t: ts, f: s.f }),
                        }
                        e
                    })
                    .collect());
            }
            for s in result {
                let idx = match index.get_mut(&s.metric) {
                    Some((i, last)) => {
                        if *last == ts {
                            return Err(Error::Eval(
                                "vector cannot contain metrics with the same labelset".into(),
                            ));
                        }
                        *last = ts;
                        *i
                    }
                    None => {
                        out.push(ESeries::new(s.metric.clone(), s.drop_name));
                        index.insert(s.metric, (out.len() - 1, ts));
                        out.len() - 1
                    }
                };
                match s.h {
                    Some(h) => out[idx].hists.push(HPoint { t: ts, h }),
                    None => out[idx].floats.push(FPoint { t: ts, f: s.f }),
                }
            }
        }
        Ok(out)
    }

    /// The effective evaluation time of a selector or subquery at step `ts`.
    pub(crate) fn at_time(&self, at: Option<AtModifier>, ts: i64) -> i64 {
        match at {
            None => ts,
            Some(AtModifier::Timestamp(t)) => t,
            // Resolved before evaluation; kept for safety.
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
        }
    }

    /// Reads the series of a selector from storage with every sample it can need at
    /// any step: `back` ms before the earliest window end, `fwd` ms after the last.
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        back: i64,
        fwd: i64,
        range: i64,
    ) -> Result<Arc<Vec<RawSeries>>> {
        let offset = vs.original_offset.as_millis();
        let (first, last) = match vs.at {
            Some(_) => {
                let t = self.at_time(vs.at, self.start);
                (t, t)
            }
            None => (self.start, self.end),
        };
        let lo = first - offset - back;
        let hi = last - offset + fwd;
        let key = format!(
            "{}|{lo}|{hi}|{}",
            matcher_key(vs),
            vs.skip_histogram_buckets
        );
        if let Some(s) = self.cache.get(&key) {
            return Ok(s.clone());
        }
        let hints = SelectHints {
            start: lo + 1,
            end: hi,
            step: if self.is_instant() { 0 } else { self.interval },
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
            while vt != VT::None {
                let t = it.at_t();
                if t > hi {
                    break;
                }
                match vt {
                    VT::Float => samples.push((t, Raw::F(it.at().1))),
                    VT::Histogram | VT::FloatHistogram => {
                        let mut fh = FloatHistogram::default();
                        it.at_float_histogram(&mut fh);
                        samples.push((t, Raw::H(Arc::new(fh))));
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
            if vs.skip_histogram_buckets {
                stats_only(&mut samples);
            }
            if !samples.is_empty() {
                out.push(RawSeries {
                    labels: s.labels().clone(),
                    samples,
                });
            }
        }
        // Storage order is unspecified; label order keeps results reproducible.
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        let out = Arc::new(out);
        self.cache.insert(key, out.clone());
        Ok(out)
    }

    /// Reads a selector for an instant selector (`range` 0) or a range selector.
    pub(crate) fn select_for(
        &mut self,
        vs: &VectorSelector,
        range: i64,
    ) -> Result<Arc<Vec<RawSeries>>> {
        let lb = self.lookback;
        let (back, fwd) = if range == 0 {
            (lb, if vs.smoothed { lb } else { 0 })
        } else if vs.anchored {
            (range + lb, 0)
        } else if vs.smoothed {
            (range + lb, lb)
        } else {
            (range, 0)
        };
        self.select(vs, back, fwd, range)
    }

    /// An instant selector at every step: the newest sample in the lookback window
    /// `(t - lookback, t]`, unless it is a staleness marker. With `sample_time`,
    /// each point carries the time of the sample found instead of its value.
    pub(crate) fn selector_points(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
    ) -> Result<EMatrix> {
        let found = self.selector_found(vs, series, false)?;
        Ok(found
            .into_iter()
            .map(|(labels, pts)| {
                let mut s = ESeries::new(labels, false);
                for (ts, _, raw) in pts {
                    match raw {
                        Raw::F(f) => s.floats.push(FPoint { t: ts, f }),
                        Raw::H(h) => s.hists.push(HPoint { t: ts, h }),
                    }
                }
                s
            })
            .collect())
    }

    /// Per series, per step: `(step, sample time, sample)` of the sample an instant
    /// selector finds. With `timestamp_quirk`, `@` pins the time and the offset is
    /// ignored, as Prometheus's `timestamp()` over a selector does.
    pub(crate) fn selector_found(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
        timestamp_quirk: bool,
    ) -> Result<Vec<Found>> {
        let offset = vs.original_offset.as_millis();
        let steps = self.steps();
        let mut out = Vec::with_capacity(series.len());
        let mut n = 0;
        for s in series {
            let mut pts = Vec::new();
            let mut c = 0usize;
            for &ts in &steps {
                let t_eff = match (vs.at, timestamp_quirk) {
                    (Some(_), true) => self.at_time(vs.at, ts),
                    _ => self.at_time(vs.at, ts) - offset,
                };
                // With `@` every step reads the same time; the cursor must not run ahead.
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
                if *t <= t_eff - self.lookback || v.is_stale() {
                    continue;
                }
                pts.push((ts, *t, v.clone()));
            }
            if pts.is_empty() {
                continue;
            }
            n += pts.len();
            self.check_samples(n)?;
            out.push((s.labels.clone(), pts));
        }
        Ok(out)
    }

    /// A `smoothed` instant selector: the value at each step interpolated between
    /// the samples around it (carried forward after the last one).
    fn smoothed_points(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
        pos: usize,
    ) -> EMatrix {
        let offset = vs.original_offset.as_millis();
        let lb = self.lookback;
        let steps = self.steps();
        let mut out = Vec::new();
        for s in series {
            let (floats, hists) = split_raw(&s.samples);
            let name = s.labels.metric_name().to_string();
            let mut es = ESeries::new(s.labels.clone(), false);
            for &ts in &steps {
                let data = self.at_time(vs.at, ts) - offset;
                let (lo, hi) = (data - lb, data + lb);
                let f = window(&floats, lo, hi, |p| p.t);
                let h = window(&hists, lo, hi, |p| p.t);
                if f.is_empty() && h.is_empty() {
                    continue;
                }
                if !f.is_empty() && !h.is_empty() {
                    self.annos.warn(
                        format!(
                            "encountered a mix of histograms and floats for metric name {}",
                            quote(&name)
                        ),
                        pos,
                    );
                    continue;
                }
                if !h.is_empty() {
                    let i = h.partition_point(|p| p.t < data);
                    if i < h.len() && h[i].t == data {
                        es.hists.push(HPoint {
                            t: ts,
                            h: h[i].h.clone(),
                        });
                    } else if i > 0 && i < h.len() {
                        let (prev, next) = (&h[i - 1], &h[i]);
                        if fhist::is_custom(&prev.h) != fhist::is_custom(&next.h) {
                            self.annos.warn(
                                format!("vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}", quote(&name)),
                                pos,
                            );
                            continue;
                        }
                        let counter = prev.h.counter_reset_hint != CounterResetHint::Gauge
                            || next.h.counter_reset_hint != CounterResetHint::Gauge;
                        match functions::rate::interpolate_hist(
                            self, prev, next, data, counter, pos, &name,
                        ) {
                            Some(h) => es.hists.push(HPoint {
                                t: ts,
                                h: Arc::new(h),
                            }),
                            None => continue,
                        }
                    } else if i > 0 {
                        let mut h = (*h[i - 1].h).clone();
                        h.counter_reset_hint = CounterResetHint::Unknown;
                        es.hists.push(HPoint {
                            t: ts,
                            h: Arc::new(h),
                        });
                    }
                } else {
                    let i = f.partition_point(|p| p.t < data);
                    if i < f.len() && f[i].t == data {
                        es.floats.push(FPoint { t: ts, f: f[i].f });
                    } else if i > 0 && i < f.len() {
                        let v = functions::rate::interpolate(f[i - 1], f[i], data, false);
                        es.floats.push(FPoint { t: ts, f: v });
                    } else if i > 0 {
                        es.floats.push(FPoint {
                            t: ts,
                            f: f[i - 1].f,
                        });
                    }
                }
            }
            if !es.is_empty() {
                out.push(es);
            }
        }
        out
    }

    /// A range selector evaluated on its own (instant queries only).
    fn matrix_selector(&mut self, ms: &MatrixSelector) -> Result<EMatrix> {
        let vs = ms
            .vs()
            .ok_or_else(|| Error::Eval("range selector without a selector".into()))?;
        let range = ms.range.as_millis();
        let series = self.select_for(vs, range)?;
        let end = self.at_time(vs.at, self.start) - vs.original_offset.as_millis();
        let (mut lo, mut hi) = (end - range, end);
        if vs.anchored {
            lo -= self.lookback;
        } else if vs.smoothed {
            lo -= self.lookback;
            hi += self.lookback;
        }
        let mut out = Vec::new();
        let mut n = 0;
        for s in series.iter() {
            let (floats, hists) = split_raw(&s.samples);
            let mut es = ESeries::new(s.labels.clone(), false);
            es.floats = window(&floats, lo, hi, |p| p.t).to_vec();
            es.hists = window(&hists, lo, hi, |p| p.t).to_vec();
            if vs.anchored || vs.smoothed {
                if !es.hists.is_empty() {
                    return Err(Error::Eval(format!(
                        "{} modifier is not supported with histograms",
                        if vs.anchored { "anchored" } else { "smoothed" }
                    )));
                }
                if !es.floats.is_empty() {
                    es.floats = extend_floats(&es.floats, end - range, end, vs.smoothed);
                }
            }
            if es.is_empty() {
                continue;
            }
            n += es.num_samples();
            self.check_samples(n)?;
            out.push(es);
        }
        Ok(out)
    }

    /// Evaluates a subquery's inner expression at the subquery's own steps, covering
    /// every window the current steps need.
    pub(crate) fn run_subquery(&mut self, sq: &SubqueryExpr) -> Result<EMatrix> {
        let range = sq.range.as_millis();
        let offset = sq.original_offset.as_millis();
        let step = if sq.step.as_millis() > 0 {
            sq.step.as_millis()
        } else {
            self.default_subquery_step
        };
        let steps = self.steps();
        let (Some(&first), Some(&last)) = (steps.first(), steps.last()) else {
            return Ok(Vec::new());
        };
        let (first_end, last_end) = match sq.at {
            Some(_) => {
                let t = self.at_time(sq.at, first) - offset;
                (t, t)
            }
            None => (first - offset, last - offset),
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
        match inner? {
            EVal::Matrix(m) => Ok(m),
            EVal::String(_) => Err(Error::Eval("subquery of a string".into())),
        }
    }

    /// The per-series points and window ends of a range argument (a range selector
    /// or a subquery), for the range functions.
    pub(crate) fn range_arg(&mut self, e: &Expr) -> Result<RangeArg> {
        match e {
            Expr::MatrixSelector(ms) => {
                let vs = ms
                    .vs()
                    .ok_or_else(|| Error::Eval("range selector without a selector".into()))?;
                let range = ms.range.as_millis();
                let series = self.select_for(vs, range)?;
                let offset = vs.original_offset.as_millis();
                let ends = self
                    .steps()
                    .into_iter()
                    .map(|ts| self.at_time(vs.at, ts) - offset)
                    .collect();
                let series = series
                    .iter()
                    .map(|s| {
                        let (floats, hists) = split_raw(&s.samples);
                        ESeries {
                            metric: s.labels.clone(),
                            floats,
                            hists,
                            drop_name: false,
                        }
                    })
                    .collect();
                Ok(RangeArg {
                    series,
                    ends,
                    range,
                    anchored: vs.anchored,
                    smoothed: vs.smoothed,
                    lookback: self.lookback,
                })
            }
            Expr::Subquery(sq) => {
                let range = sq.range.as_millis();
                let offset = sq.original_offset.as_millis();
                let ends = self
                    .steps()
                    .into_iter()
                    .map(|ts| self.at_time(sq.at, ts) - offset)
                    .collect();
                let mut series = self.run_subquery(sq)?;
                // A subquery may return a reset sample several times or skip it, so
                // explicit reset hints would mislead; fall back to detection.
                for s in &mut series {
                    for p in &mut s.hists {
                        if matches!(
                            p.h.counter_reset_hint,
                            CounterResetHint::CounterReset | CounterResetHint::NotCounterReset
                        ) {
                            let mut h = (*p.h).clone();
                            h.counter_reset_hint = CounterResetHint::Unknown;
                            p.h = Arc::new(h);
                        }
                    }
                }
                Ok(RangeArg {
                    series,
                    ends,
                    range,
                    anchored: false,
                    smoothed: false,
                    lookback: self.lookback,
                })
            }
            Expr::Paren(p) => self.range_arg(&p.expr),
            Expr::StepInvariant(s) => self.range_arg(&s.expr),
            _ => Err(Error::Eval("expected a range vector".into())),
        }
    }
}

/// What an instant selector finds for one series: its labels and, per step with a
/// sample, `(step, sample time, sample)`.
pub(crate) type Found = (Labels, Vec<(i64, i64, Raw)>);

/// The series of a range argument and, per step, the end of its window.
pub(crate) struct RangeArg {
    pub(crate) series: EMatrix,
    pub(crate) ends: Vec<i64>,
    pub(crate) range: i64,
    pub(crate) anchored: bool,
    pub(crate) smoothed: bool,
    pub(crate) lookback: i64,
}

impl RangeArg {
    /// The window `(lo, hi]` read for a window ending at `end`: anchored and
    /// smoothed selectors also see a lookback's worth of samples around it.
    pub(crate) fn bounds(&self, end: i64) -> (i64, i64) {
        let (mut lo, mut hi) = (end - self.range, end);
        if self.anchored {
            lo -= self.lookback;
        } else if self.smoothed {
            lo -= self.lookback;
            hi += self.lookback;
        }
        (lo, hi)
    }
}

/// What Prometheus's histogram-stats decoding reads for selectors only used by
/// `histogram_count`, `histogram_sum` and `histogram_avg`: count and sum without
/// buckets, and counter-reset hints worked out from consecutive samples.
fn stats_only(samples: &mut [(i64, Raw)]) {
    let mut last: Option<Arc<FloatHistogram>> = None;
    for (_, r) in samples.iter_mut() {
        let Raw::H(h) = r else { continue };
        let mut hint = h.counter_reset_hint;
        let stale = is_stale_nan(h.sum);
        if !stale
            && hint == CounterResetHint::Unknown
            && let Some(l) = &last
        {
            hint = if fhist::detect_reset(h, l) {
                CounterResetHint::CounterReset
            } else {
                CounterResetHint::NotCounterReset
            };
        }
        let stripped = FloatHistogram {
            counter_reset_hint: if stale { h.counter_reset_hint } else { hint },
            schema: h.schema,
            count: h.count,
            sum: h.sum,
            ..Default::default()
        };
        if !stale {
            let mut full = (**h).clone();
            full.counter_reset_hint = hint;
            last = Some(Arc::new(full));
        }
        *r = Raw::H(Arc::new(stripped));
    }
}

/// Floats and histograms of raw samples, staleness markers left out.
pub(crate) fn split_raw(samples: &[(i64, Raw)]) -> (Vec<FPoint>, Vec<HPoint>) {
    let mut floats = Vec::new();
    let mut hists = Vec::new();
    for (t, v) in samples {
        if v.is_stale() {
            continue;
        }
        match v {
            Raw::F(f) => floats.push(FPoint { t: *t, f: *f }),
            Raw::H(h) => hists.push(HPoint {
                t: *t,
                h: h.clone(),
            }),
        }
    }
    (floats, hists)
}

/// The points with time in `(lo, hi]`.
pub(crate) fn window<T>(pts: &[T], lo: i64, hi: i64, t: impl Fn(&T) -> i64) -> &[T] {
    let a = pts.partition_point(|p| t(p) <= lo);
    let b = pts.partition_point(|p| t(p) <= hi);
    &pts[a..b.max(a)]
}

/// The floats of an anchored or smoothed window: the value at each boundary (the
/// sample at or before it, or interpolated for `smoothed`) and the samples inside.
pub(crate) fn extend_floats(
    floats: &[FPoint],
    mint: i64,
    maxt: i64,
    smoothed: bool,
) -> Vec<FPoint> {
    let mut last = floats.len() - 1;
    let first = floats[..last]
        .partition_point(|p| p.t <= mint)
        .saturating_sub(1);
    if smoothed {
        last = floats[..last].partition_point(|p| p.t < maxt);
    }
    if floats[last].t <= mint {
        return Vec::new();
    }
    let left = functions::rate::pick_left(floats, first, mint, smoothed, false);
    let right = functions::rate::pick_right(floats, last, maxt, smoothed, false);
    let mut lo = first;
    let mut hi = last as i64;
    if floats[lo].t <= mint {
        lo += 1;
    }
    if floats[last].t >= maxt {
        hi -= 1;
    }
    let mut out = Vec::with_capacity(floats.len() + 2);
    out.push(FPoint { t: mint, f: left });
    if hi >= lo as i64 {
        out.extend_from_slice(&floats[lo..=hi as usize]);
    }
    out.push(FPoint { t: maxt, f: right });
    out
}

fn matcher_key(vs: &VectorSelector) -> String {
    vs.label_matchers
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Go-quoted string, for metric names in annotations.
pub(crate) fn quote(s: &str) -> String {
    ember_model::labels::go_quote(s)
}

/// Errors when two elements of a vector share a label set.
pub(crate) fn check_vector_labels(v: &EVector) -> Result<()> {
    if v.len() <= 1 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.metric) {
            return Err(Error::Eval(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Merges series that share a label set (after names were dropped); two points at
/// the same time are an error.
pub(crate) fn merge_same_labels(m: EMatrix) -> Result<EMatrix> {
    if m.len() <= 1 {
        return Ok(m);
    }
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(m.len());
    let mut out: EMatrix = Vec::with_capacity(m.len());
    let mut merged = false;
    for s in m {
        match index.get(&s.metric) {
            Some(&i) => {
                let base = &mut out[i];
                base.floats.extend(s.floats);
                base.hists.extend(s.hists);
                merged = true;
            }
            None => {
                index.insert(s.metric.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged {
        for s in &mut out {
            s.floats.sort_by_key(|p| p.t);
            s.hists.sort_by_key(|p| p.t);
            if s.floats.windows(2).any(|w| w[0].t == w[1].t)
                || s.hists.windows(2).any(|w| w[0].t == w[1].t)
            {
                return Err(Error::Eval(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_windows_take_the_sample_before_the_start() {
        let f = [
            FPoint { t: 0, f: 1.0 },
            FPoint { t: 20, f: 2.0 },
            FPoint { t: 40, f: 3.0 },
        ];
        let e = extend_floats(&f, 10, 40, false);
        let got: Vec<(i64, f64)> = e.iter().map(|p| (p.t, p.f)).collect();
        assert_eq!(got, vec![(10, 1.0), (20, 2.0), (40, 3.0)]);
        let s = extend_floats(&f, 10, 30, true);
        let got: Vec<(i64, f64)> = s.iter().map(|p| (p.t, p.f)).collect();
        assert_eq!(got, vec![(10, 1.5), (20, 2.0), (30, 2.5)]);
    }

    #[test]
    fn same_label_sets_merge_unless_they_collide() {
        let l = Labels::from_pairs([("a", "1")]);
        let mut x = ESeries::new(l.clone(), false);
        x.floats.push(FPoint { t: 1, f: 1.0 });
        let mut y = ESeries::new(l, false);
        y.floats.push(FPoint { t: 2, f: 2.0 });
        let m = merge_same_labels(vec![x.clone(), y]).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].floats.len(), 2);
        assert!(merge_same_labels(vec![x.clone(), x]).is_err());
    }
}
