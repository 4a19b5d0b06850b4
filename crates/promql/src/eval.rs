//! The evaluator: walks the syntax tree once for the whole query range. Every
//! vector-valued node yields a matrix with one point per evaluation step, as in
//! Prometheus's engine, so that range queries evaluate each node once rather than
//! once per step; scalars travel the same way as a single label-less series.
//!
//! Series carry a "drop the name" flag rather than losing `__name__` on the spot
//! when Prometheus's delayed name removal is on: functions such as `label_replace`
//! and `sum by (__name__)` can still see the name, and it goes at the very end.
//!
//! Cost model, as in Prometheus's engine: work per series is done once per series,
//! not once per step. Labels are shared ([`Metric`]) so that step vectors hold
//! references, label sets derived per step (signatures, names dropped, `le`
//! removed) are computed once per source series and interned
//! ([`Evaluator::derive`]), and the step-by-step assembly of results finds a
//! series by its label allocation before hashing labels. Storage samples are kept
//! as plain floats, histograms and staleness times per series; a selector that
//! the query uses once is read series by series and not kept
//! ([`Evaluator::select_each`]). Aggregations, range functions and
//! `histogram_quantile` over floats have series-major paths that do the same
//! arithmetic in the same order as the step-by-step ones, so that every answer,
//! annotation and error stays the same.

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

/// Fast hashing for maps keyed by addresses and label sets.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// Fast hashing for sets.
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A label set shared by the steps and nodes of a query: cloning it is a reference
/// count, and the same series keeps the same allocation from step to step (which
/// [`Evaluator::range_eval`] and the label caches use to skip hashing).
pub(crate) type Metric = Arc<Labels>;

/// A series of an intermediate result.
#[derive(Clone, Debug, Default)]
pub(crate) struct ESeries {
    pub(crate) metric: Metric,
    pub(crate) floats: Vec<FPoint>,
    pub(crate) hists: Vec<HPoint>,
    /// `__name__` (and the type and unit labels) go when the result is handed out.
    pub(crate) drop_name: bool,
}

impl ESeries {
    pub(crate) fn new(metric: impl Into<Metric>, drop_name: bool) -> Self {
        ESeries {
            metric: metric.into(),
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
    pub(crate) metric: Metric,
    /// The sample's own time (the step, except for `timestamp()` over a selector).
    pub(crate) t: i64,
    pub(crate) f: f64,
    pub(crate) h: Option<Arc<FloatHistogram>>,
    pub(crate) drop_name: bool,
}

impl ESample {
    pub(crate) fn float(metric: impl Into<Metric>, f: f64) -> Self {
        ESample {
            metric: metric.into(),
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

/// A series as read from storage: labels and every sample in the queried range,
/// floats and histograms apart (as range functions want them) and staleness
/// markers apart again (only instant selectors look at them).
#[derive(Clone, Debug)]
pub(crate) struct RawSeries {
    pub(crate) labels: Metric,
    pub(crate) floats: Vec<FPoint>,
    pub(crate) hists: Vec<HPoint>,
    /// Times of staleness markers (float or histogram).
    pub(crate) stale: Vec<i64>,
}

/// What an instant selector finds in a series at one time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Pick {
    /// The float at this index.
    F(usize),
    /// The histogram at this index.
    H(usize),
}

/// Reads series from storage into [`RawSeries`], counting samples against the
/// limit.
struct SeriesReader {
    lo: i64,
    hi: i64,
    stats_only: bool,
    max_samples: usize,
    total: usize,
    /// The last series' samples: read in place and used from here, or copied out
    /// at their final size.
    fbuf: Vec<FPoint>,
    hbuf: Vec<HPoint>,
    sbuf: Vec<i64>,
}

impl SeriesReader {
    fn new(lo: i64, hi: i64, stats_only: bool, max_samples: usize) -> Self {
        SeriesReader {
            lo,
            hi,
            stats_only,
            max_samples,
            total: 0,
            fbuf: Vec::new(),
            hbuf: Vec::new(),
            sbuf: Vec::new(),
        }
    }

    /// The samples of `s` in `(lo, hi]` as a [`RawSeries`]; `None` when there are
    /// none.
    fn read(&mut self, s: &dyn ember_storage::Series) -> Result<Option<RawSeries>> {
        if !self.load(s)? {
            return Ok(None);
        }
        Ok(Some(RawSeries {
            labels: Arc::new(s.labels().clone()),
            floats: self.fbuf.as_slice().to_vec(),
            hists: std::mem::take(&mut self.hbuf),
            stale: self.sbuf.as_slice().to_vec(),
        }))
    }

    /// The last series loaded.
    fn view<'a>(&'a self, labels: &'a Labels) -> RawView<'a> {
        RawView {
            labels,
            floats: &self.fbuf,
            hists: &self.hbuf,
            stale: &self.sbuf,
        }
    }

    /// Reads the samples of `s` in `(lo, hi]` into the buffers; false when there
    /// are none.
    fn load(&mut self, s: &dyn ember_storage::Series) -> Result<bool> {
        let (lo, hi) = (self.lo, self.hi);
        let mut it = s.iter();
        let fbuf = &mut self.fbuf;
        fbuf.clear();
        let hists = &mut self.hbuf;
        hists.clear();
        let stale = &mut self.sbuf;
        stale.clear();
        let mut vt = it.seek(lo + 1);
        while vt != VT::None {
            match vt {
                VT::Float => {
                    let (t, f) = it.at();
                    if t > hi {
                        break;
                    }
                    if is_stale_nan(f) {
                        stale.push(t);
                    } else {
                        fbuf.push(FPoint { t, f });
                    }
                }
                VT::Histogram | VT::FloatHistogram => {
                    let t = it.at_t();
                    if t > hi {
                        break;
                    }
                    let mut fh = FloatHistogram::default();
                    it.at_float_histogram(&mut fh);
                    if is_stale_nan(fh.sum) {
                        stale.push(t);
                    } else {
                        hists.push(HPoint { t, h: Arc::new(fh) });
                    }
                }
                VT::None => {}
            }
            vt = it.next();
        }
        if let Some(e) = it.err() {
            return Err(Error::Storage(e.to_string()));
        }
        self.total += fbuf.len() + hists.len() + stale.len();
        if self.total > self.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        if self.stats_only {
            stats_only(hists);
        }
        Ok(!(fbuf.is_empty() && hists.is_empty() && stale.is_empty()))
    }
}

/// Positions in a [`RawSeries`] for picking samples at non-decreasing times: each
/// cursor stands after the last element at or before the time last asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PickCursor {
    f: usize,
    h: usize,
    s: usize,
}

/// A series' samples as read from storage, borrowed (from a [`RawSeries`] or
/// from the reader's buffers).
#[derive(Clone, Copy)]
pub(crate) struct RawView<'a> {
    pub(crate) labels: &'a Labels,
    pub(crate) floats: &'a [FPoint],
    pub(crate) hists: &'a [HPoint],
    pub(crate) stale: &'a [i64],
}

impl RawSeries {
    pub(crate) fn view(&self) -> RawView<'_> {
        RawView {
            labels: &self.labels,
            floats: &self.floats,
            hists: &self.hists,
            stale: &self.stale,
        }
    }
}

impl RawView<'_> {
    /// The newest sample at or before `t` and after `t - lookback`, unless it is a
    /// staleness marker. Times must not decrease from call to call on one cursor.
    pub(crate) fn pick(&self, c: &mut PickCursor, t: i64, lookback: i64) -> Option<Pick> {
        while c.f < self.floats.len() && self.floats[c.f].t <= t {
            c.f += 1;
        }
        while c.h < self.hists.len() && self.hists[c.h].t <= t {
            c.h += 1;
        }
        while c.s < self.stale.len() && self.stale[c.s] <= t {
            c.s += 1;
        }
        let tf = if c.f > 0 {
            self.floats[c.f - 1].t
        } else {
            i64::MIN
        };
        let th = if c.h > 0 {
            self.hists[c.h - 1].t
        } else {
            i64::MIN
        };
        let tst = if c.s > 0 {
            self.stale[c.s - 1]
        } else {
            i64::MIN
        };
        let newest = tf.max(th).max(tst);
        if newest == i64::MIN || newest <= t - lookback || newest == tst {
            return None;
        }
        Some(if newest == tf {
            Pick::F(c.f - 1)
        } else {
            Pick::H(c.h - 1)
        })
    }

    /// Time of a picked sample.
    pub(crate) fn time_of(&self, p: Pick) -> i64 {
        match p {
            Pick::F(i) => self.floats[i].t,
            Pick::H(i) => self.hists[i].t,
        }
    }
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

/// [`Evaluator::derive`] kind: the name (and type and unit) dropped.
pub(crate) const DERIVE_DROP_NAME: usize = 0;
/// [`Evaluator::derive`] kind: the `le` label dropped.
pub(crate) const DERIVE_WITHOUT_LE: usize = 1;

/// [`Evaluator::derive`] kind: the labels themselves (interned).
pub(crate) const DERIVE_IDENTITY: usize = 2;
/// [`Evaluator::derive`] kind: only `__name__` dropped.
pub(crate) const DERIVE_WITHOUT_NAME: usize = 3;
/// Kinds up to this one are fixed; [`Evaluator::new_derive_kind`] counts on.
const DERIVE_FIXED: usize = 16;

/// A derived label set and what it was derived from.
struct Derived {
    _sources: (Metric, Option<Metric>),
    result: Metric,
}

/// Label sets derived during a query (see [`Evaluator::derive`]).
pub(crate) struct LabelCache {
    derived: FastMap<(usize, usize, usize), Derived>,
    interned: FastSet<Metric>,
    next_kind: usize,
    /// Parsed `le` labels by label allocation (which the entry keeps alive).
    le: FastMap<usize, (Metric, Option<f64>)>,
}

impl Default for LabelCache {
    fn default() -> Self {
        LabelCache {
            derived: FastMap::default(),
            interned: FastSet::default(),
            next_kind: DERIVE_FIXED,
            le: FastMap::default(),
        }
    }
}

impl LabelCache {
    fn intern(&mut self, l: Labels) -> Metric {
        if let Some(m) = self.interned.get(&l) {
            return m.clone();
        }
        let m = Arc::new(l);
        self.interned.insert(m.clone());
        m
    }
}

/// Whether a range function may leave the name on its series (see
/// `aggregate::eval_aggregate`): an aggregation over a function call, which reads
/// only grouping labels, offers it; the first call evaluated takes the offer
/// back, and a range function that took it up says so, so that the aggregation
/// knows the labels of series flagged `drop_name` still hold the name, type and
/// unit. This spares copying every label set without its name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum NameDrop {
    #[default]
    Off,
    Offered,
    Deferred,
}

/// State for one query.
pub(crate) struct Evaluator<'q> {
    labels: std::cell::RefCell<LabelCache>,
    deadline_checks: std::cell::Cell<u32>,
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
    /// How many selectors of the query share each set of matchers: the series of
    /// one used once are not kept once their user is done with them.
    selector_uses: HashMap<String, usize>,
    pub(crate) cancel: Option<&'q std::sync::atomic::AtomicBool>,
    pub(crate) name_drop: NameDrop,
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
            labels: Default::default(),
            deadline_checks: Default::default(),
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
            selector_uses: HashMap::new(),
            cancel,
            name_drop: NameDrop::Off,
        }
    }

    /// Notes which selectors `e` holds more than once (see `selector_uses`).
    pub(crate) fn plan_selector_cache(&mut self, e: &Expr) {
        e.inspect(|e, _| {
            if let Expr::VectorSelector(vs) = e {
                *self.selector_uses.entry(matcher_key(vs)).or_default() += 1;
            }
        });
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
        // Reading the clock costs more than a series' worth of work in the tight
        // loops that call this, so it is read on the first call and every 64th.
        let n = self.deadline_checks.get();
        self.deadline_checks.set(n.wrapping_add(1));
        if n.is_multiple_of(64)
            && let Some(d) = self.deadline
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
    pub(crate) fn drop_now(&self, l: &Metric, drop: bool) -> Metric {
        if drop && !self.delayed_name_removal && METADATA_LABELS.iter().any(|n| l.has(n)) {
            self.derive(l, DERIVE_DROP_NAME, |l| l.without(&METADATA_LABELS))
        } else {
            l.clone()
        }
    }

    /// Labels computed from `l` by `f`, once per query: later calls with the same
    /// allocation and `kind` (a `DERIVE_*` constant, or the address of the syntax
    /// node the derivation belongs to) get the same result back, and equal results
    /// share one allocation, so that per-step work over the same series neither
    /// rebuilds nor rehashes label sets.
    pub(crate) fn derive(
        &self,
        l: &Metric,
        kind: usize,
        f: impl FnOnce(&Labels) -> Labels,
    ) -> Metric {
        let key = (Arc::as_ptr(l) as usize, 0, kind);
        let mut cache = self.labels.borrow_mut();
        if let Some(d) = cache.derived.get(&key) {
            return d.result.clone();
        }
        let result = cache.intern(f(l));
        // Holding the source keeps its address from being reused for other labels.
        cache.derived.insert(
            key,
            Derived {
                _sources: (l.clone(), None),
                result: result.clone(),
            },
        );
        result
    }

    /// [`Evaluator::derive`] from two label sets.
    pub(crate) fn derive2(
        &self,
        a: &Metric,
        b: &Metric,
        kind: usize,
        f: impl FnOnce(&Labels, &Labels) -> Labels,
    ) -> Metric {
        let key = (Arc::as_ptr(a) as usize, Arc::as_ptr(b) as usize, kind);
        let mut cache = self.labels.borrow_mut();
        if let Some(d) = cache.derived.get(&key) {
            return d.result.clone();
        }
        let result = cache.intern(f(a, b));
        cache.derived.insert(
            key,
            Derived {
                _sources: (a.clone(), Some(b.clone())),
                result: result.clone(),
            },
        );
        result
    }

    /// A fresh [`Evaluator::derive`] kind, for derivations that depend on more than
    /// the labels (such as a binary operator's matching).
    pub(crate) fn new_derive_kind(&self) -> usize {
        let mut cache = self.labels.borrow_mut();
        cache.next_kind += 1;
        cache.next_kind
    }

    /// The upper bound a classic bucket's `le` label gives, parsed once per series.
    pub(crate) fn le_bound(&self, l: &Metric) -> Option<f64> {
        let key = Arc::as_ptr(l) as usize;
        let mut cache = self.labels.borrow_mut();
        if let Some((_, v)) = cache.le.get(&key) {
            return *v;
        }
        let v = functions::histogram::parse_go_float(l.get_or_empty("le"));
        cache.le.insert(key, (l.clone(), v));
        v
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
            Expr::VectorSelector(vs) if !vs.smoothed && self.single_use(vs) => {
                self.selector_points_streaming(vs).map(EVal::Matrix)
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
        // Output series by label allocation (the same series usually keeps its
        // allocation from step to step) and, failing that, by labels.
        let mut by_ptr: FastMap<usize, usize> = FastMap::default();
        let mut by_labels: FastMap<Metric, usize> = FastMap::default();
        let mut keep_alive: Vec<Metric> = Vec::new();
        let mut last_ts: Vec<i64> = Vec::new();
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
                let ptr = Arc::as_ptr(&s.metric) as usize;
                let idx = match by_ptr.get(&ptr) {
                    Some(&i) => i,
                    None => {
                        let i = match by_labels.get(&*s.metric) {
                            Some(&i) => i,
                            None => {
                                out.push(ESeries::new(s.metric.clone(), s.drop_name));
                                last_ts.push(i64::MIN);
                                by_labels.insert(s.metric.clone(), out.len() - 1);
                                out.len() - 1
                            }
                        };
                        by_ptr.insert(ptr, i);
                        // The address stands for these labels only while they live.
                        keep_alive.push(s.metric.clone());
                        i
                    }
                };
                if last_ts[idx] == ts {
                    return Err(Error::Eval(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                last_ts[idx] = ts;
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
    /// The time range `(lo, hi]` a selector reads, with its select hints.
    fn select_range(
        &self,
        vs: &VectorSelector,
        back: i64,
        fwd: i64,
        range: i64,
    ) -> (i64, i64, SelectHints) {
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
        let hints = SelectHints {
            start: lo + 1,
            end: hi,
            step: if self.is_instant() { 0 } else { self.interval },
            range,
            ..Default::default()
        };
        (lo, hi, hints)
    }

    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        back: i64,
        fwd: i64,
        range: i64,
    ) -> Result<Arc<Vec<RawSeries>>> {
        let (lo, hi, hints) = self.select_range(vs, back, fwd, range);
        let key = format!(
            "{}|{lo}|{hi}|{}",
            matcher_key(vs),
            vs.skip_histogram_buckets
        );
        if let Some(s) = self.cache.get(&key) {
            return Ok(s.clone());
        }
        let mut out = Vec::new();
        let mut reader = SeriesReader::new(lo, hi, vs.skip_histogram_buckets, self.max_samples);
        let mut set = self.querier.select(false, Some(&hints), &vs.label_matchers);
        self.annos.storage(std::mem::take(&mut set.warnings));
        for s in set {
            if let Some(r) = reader.read(s?.as_ref())? {
                out.push(r);
            }
        }
        // Storage order is unspecified; label order keeps results reproducible.
        if !out.is_sorted_by(|a, b| a.labels <= b.labels) {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        let out = Arc::new(out);
        if !self.single_use(vs) {
            self.cache.insert(key, out.clone());
        }
        Ok(out)
    }

    /// Whether no other selector of the query has the same matchers (so that its
    /// series need not be kept for another user).
    pub(crate) fn single_use(&self, vs: &VectorSelector) -> bool {
        self.selector_uses
            .get(&matcher_key(vs))
            .is_some_and(|&n| n <= 1)
    }

    /// Reads a selector's series one at a time, asking storage for label order,
    /// and hands each to `f` straight from the read buffers, keeping nothing: what
    /// an evaluation over a selector used once needs, in a fraction of the memory
    /// and without copying labels. Stops and gives false should storage not keep
    /// to label order (the caller then starts over the ordinary way).
    pub(crate) fn select_each(
        &mut self,
        vs: &VectorSelector,
        range: i64,
        mut f: impl FnMut(&mut Self, RawView<'_>) -> Result<()>,
    ) -> Result<bool> {
        let (back, fwd) = self.select_window(vs, range);
        let (lo, hi, hints) = self.select_range(vs, back, fwd, range);
        let mut reader = SeriesReader::new(lo, hi, vs.skip_histogram_buckets, self.max_samples);
        let querier = self.querier;
        let mut prev: Option<ember_storage::BoxSeries<'q>> = None;
        let mut set = querier.select(true, Some(&hints), &vs.label_matchers);
        self.annos.storage(std::mem::take(&mut set.warnings));
        for s in set {
            let s = s?;
            if prev.as_ref().is_some_and(|p| p.labels() > s.labels()) {
                return Ok(false);
            }
            if reader.load(s.as_ref())? {
                f(self, reader.view(s.labels()))?;
            }
            prev = Some(s);
        }
        Ok(true)
    }

    /// Reads a selector for an instant selector (`range` 0) or a range selector.
    pub(crate) fn select_for(
        &mut self,
        vs: &VectorSelector,
        range: i64,
    ) -> Result<Arc<Vec<RawSeries>>> {
        let (back, fwd) = self.select_window(vs, range);
        self.select(vs, back, fwd, range)
    }

    /// How far before the first and after the last window end a selector reads.
    fn select_window(&self, vs: &VectorSelector, range: i64) -> (i64, i64) {
        let lb = self.lookback;
        if range == 0 {
            (lb, if vs.smoothed { lb } else { 0 })
        } else if vs.anchored {
            (range + lb, 0)
        } else if vs.smoothed {
            (range + lb, lb)
        } else {
            (range, 0)
        }
    }

    /// An instant selector at every step: the newest sample in the lookback window
    /// `(t - lookback, t]`, unless it is a staleness marker.
    pub(crate) fn selector_points(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
    ) -> Result<EMatrix> {
        let times = self.selector_times(vs, false);
        let mut out = Vec::with_capacity(series.len());
        let mut n = 0;
        for s in series {
            if let Some(es) = self.series_points(s.view(), Some(&s.labels), &times) {
                n += es.floats.len() + es.hists.len();
                self.check_samples(n)?;
                out.push(es);
            }
        }
        Ok(out)
    }

    /// [`Evaluator::selector_points`] for a selector nothing else reads: series by
    /// series as storage hands them out, keeping none (see
    /// [`Evaluator::select_each`]).
    fn selector_points_streaming(&mut self, vs: &VectorSelector) -> Result<EMatrix> {
        let times = self.selector_times(vs, false);
        let mut out: EMatrix = Vec::new();
        let mut n = 0;
        let in_order = self.select_each(vs, 0, |ev, raw| {
            if let Some(es) = ev.series_points(raw, None, &times) {
                n += es.floats.len() + es.hists.len();
                ev.check_samples(n)?;
                out.push(es);
            }
            Ok(())
        })?;
        if !in_order {
            let series = self.select_for(vs, 0)?;
            return self.selector_points(vs, &series);
        }
        Ok(out)
    }

    /// What an instant selector finds in one series at each of `times` (as
    /// [`Evaluator::selector_times`] gives them), labelled with `shared` or a copy
    /// of the series' labels; `None` when nothing.
    fn series_points(
        &self,
        s: RawView<'_>,
        shared: Option<&Metric>,
        times: &[(i64, i64)],
    ) -> Option<ESeries> {
        let mut es = ESeries::default();
        if s.hists.is_empty() && s.stale.is_empty() {
            // Floats only: the newest point at or before each time, if recent.
            let f = &s.floats;
            let mut c = 0;
            for &(ts, t_eff) in times {
                while c < f.len() && f[c].t <= t_eff {
                    c += 1;
                }
                if c > 0 && f[c - 1].t > t_eff - self.lookback {
                    if es.floats.capacity() == 0 {
                        es.floats.reserve_exact(times.len());
                    }
                    es.floats.push(FPoint {
                        t: ts,
                        f: f[c - 1].f,
                    });
                }
            }
        } else {
            let mut c = PickCursor::default();
            for &(ts, t_eff) in times {
                match s.pick(&mut c, t_eff, self.lookback) {
                    Some(Pick::F(i)) => es.floats.push(FPoint {
                        t: ts,
                        f: s.floats[i].f,
                    }),
                    Some(Pick::H(i)) => es.hists.push(HPoint {
                        t: ts,
                        h: s.hists[i].h.clone(),
                    }),
                    None => {}
                }
            }
        }
        if es.is_empty() {
            return None;
        }
        es.metric = match shared {
            Some(m) => m.clone(),
            None => Arc::new(s.labels.clone()),
        };
        Some(es)
    }

    /// Per step, `(step, time read)` for an instant selector. With
    /// `timestamp_quirk`, `@` pins the time and the offset is ignored, as
    /// Prometheus's `timestamp()` over a selector does.
    fn selector_times(&self, vs: &VectorSelector, timestamp_quirk: bool) -> Vec<(i64, i64)> {
        let offset = vs.original_offset.as_millis();
        self.steps()
            .into_iter()
            .map(|ts| {
                let t_eff = match (vs.at, timestamp_quirk) {
                    (Some(_), true) => self.at_time(vs.at, ts),
                    _ => self.at_time(vs.at, ts) - offset,
                };
                (ts, t_eff)
            })
            .collect()
    }

    /// Per series, per step: `(step, sample time, whether a histogram)` of the
    /// sample an instant selector finds (see [`Evaluator::selector_times`] for
    /// `timestamp_quirk`).
    pub(crate) fn selector_found(
        &mut self,
        vs: &VectorSelector,
        series: &[RawSeries],
        timestamp_quirk: bool,
    ) -> Result<Vec<Found>> {
        let times = self.selector_times(vs, timestamp_quirk);
        let mut out = Vec::with_capacity(series.len());
        let mut n = 0;
        for s in series {
            let mut pts = Vec::new();
            let mut c = PickCursor::default();
            for &(ts, t_eff) in &times {
                if let Some(p) = s.view().pick(&mut c, t_eff, self.lookback) {
                    pts.push((ts, s.view().time_of(p), matches!(p, Pick::H(_))));
                }
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
            let (floats, hists) = (&s.floats, &s.hists);
            let name = s.labels.metric_name().to_string();
            let mut es = ESeries::new(s.labels.clone(), false);
            for &ts in &steps {
                let data = self.at_time(vs.at, ts) - offset;
                let (lo, hi) = (data - lb, data + lb);
                let f = window(floats, lo, hi, |p| p.t);
                let h = window(hists, lo, hi, |p| p.t);
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
            let mut es = ESeries::new(s.labels.clone(), false);
            es.floats = window(&s.floats, lo, hi, |p| p.t).to_vec();
            es.hists = window(&s.hists, lo, hi, |p| p.t).to_vec();
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
    /// What [`Evaluator::range_arg`] gives for a range selector, without reading
    /// its series (for [`Evaluator::select_each`]).
    pub(crate) fn range_arg_without_series(&self, ms: &MatrixSelector) -> Result<RangeArg> {
        let vs = ms
            .vs()
            .ok_or_else(|| Error::Eval("range selector without a selector".into()))?;
        let offset = vs.original_offset.as_millis();
        Ok(RangeArg {
            raw: None,
            sub: Vec::new(),
            ends: self
                .steps()
                .into_iter()
                .map(|ts| self.at_time(vs.at, ts) - offset)
                .collect(),
            range: ms.range.as_millis(),
            anchored: vs.anchored,
            smoothed: vs.smoothed,
            lookback: self.lookback,
        })
    }

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
                Ok(RangeArg {
                    raw: Some(series),
                    sub: Vec::new(),
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
                    raw: None,
                    sub: series,
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
/// sample, `(step, sample time, whether a histogram)`.
pub(crate) type Found = (Metric, Vec<(i64, i64, bool)>);

/// The series of a range argument (as read from storage, shared with the
/// selector cache, or a subquery's result) and, per step, the end of its window.
pub(crate) struct RangeArg {
    raw: Option<Arc<Vec<RawSeries>>>,
    sub: EMatrix,
    pub(crate) ends: Vec<i64>,
    pub(crate) range: i64,
    pub(crate) anchored: bool,
    pub(crate) smoothed: bool,
    pub(crate) lookback: i64,
}

/// One series of a range argument.
pub(crate) struct RangeSeries<'a> {
    pub(crate) metric: &'a Labels,
    /// The labels' shared allocation, when there is one.
    pub(crate) shared: Option<&'a Metric>,
    pub(crate) floats: &'a [FPoint],
    pub(crate) hists: &'a [HPoint],
    pub(crate) drop_name: bool,
}

impl RangeSeries<'_> {
    /// The series' labels as a [`Metric`], shared when possible.
    pub(crate) fn metric(&self) -> Metric {
        match self.shared {
            Some(m) => m.clone(),
            None => Arc::new(self.metric.clone()),
        }
    }

    /// [`drop_metadata`] of the labels, sharing them when there is nothing to drop.
    pub(crate) fn without_metadata(&self) -> Metric {
        if METADATA_LABELS.iter().any(|n| self.metric.has(n)) {
            Arc::new(self.metric.without(&METADATA_LABELS))
        } else {
            self.metric()
        }
    }
}

impl RangeArg {
    /// How many series there are.
    pub(crate) fn len(&self) -> usize {
        match &self.raw {
            Some(r) => r.len(),
            None => self.sub.len(),
        }
    }

    /// Series `i`.
    pub(crate) fn series(&self, i: usize) -> RangeSeries<'_> {
        match &self.raw {
            Some(r) => RangeSeries {
                metric: &r[i].labels,
                shared: Some(&r[i].labels),
                floats: &r[i].floats,
                hists: &r[i].hists,
                drop_name: false,
            },
            None => {
                let s = &self.sub[i];
                RangeSeries {
                    metric: &s.metric,
                    shared: Some(&s.metric),
                    floats: &s.floats,
                    hists: &s.hists,
                    drop_name: s.drop_name,
                }
            }
        }
    }

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
fn stats_only(hists: &mut [HPoint]) {
    let mut last: Option<Arc<FloatHistogram>> = None;
    for p in hists.iter_mut() {
        let h = &p.h;
        let mut hint = h.counter_reset_hint;
        if hint == CounterResetHint::Unknown
            && let Some(l) = &last
        {
            hint = if fhist::detect_reset(h, l) {
                CounterResetHint::CounterReset
            } else {
                CounterResetHint::NotCounterReset
            };
        }
        let stripped = FloatHistogram {
            counter_reset_hint: hint,
            schema: h.schema,
            count: h.count,
            sum: h.sum,
            ..Default::default()
        };
        // Reset detection looks at the previous histogram's buckets, not its hint.
        last = Some(p.h.clone());
        p.h = Arc::new(stripped);
    }
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
    let mut index: FastMap<Metric, usize> = FastMap::default();
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
