//! PromQL functions, one file per family: `rate.rs` (rate, increase, delta and
//! their instant forms, with the anchored and smoothed variants), `over_time.rs`
//! (the `*_over_time` family), `math.rs` (elementwise math), `time.rs` (time and
//! date functions), `labels.rs` (label_replace, label_join), `misc.rs` (sorting,
//! absent, vector/scalar, deriv, predict_linear, changes, resets, …),
//! `histogram.rs` (histogram functions) and `info.rs` (`info`).
//!
//! Functions over a range vector are evaluated series by series ([`eval_range_fn`]):
//! each series' points are read once and every step sees a window into them,
//! found by cursors that move along with the steps. `rate`, `increase` and `delta`
//! over floats find counter resets once per series, and `max_over_time` and
//! `min_over_time` answer windows with a sliding-window extreme (or, for windows
//! that move back or hold NaN, from a sparse table), with the same results as
//! scanning each window. Under an aggregation, a range function may leave the
//! name on its series for the aggregation to ignore rather than copy every label
//! set without it (`NameDrop` in `eval`). Functions over instant vectors run step by step through
//! the evaluator's `range_eval` (`histogram_quantile` over classic buckets has
//! its own range-wide path).

pub(crate) mod histogram;
mod info;
mod labels;
mod math;
mod misc;
mod over_time;
pub(crate) mod rate;
pub(crate) mod time;

use crate::Error;
use crate::eval::{
    EMatrix, ESeries, EVector, Evaluator, METADATA_LABELS, NameDrop, RangeSeries, Result, quote,
};
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
    /// For `rate` and `increase` over floats only: per point of `floats`, how many
    /// points of the series up to it fell below their predecessor (so that equal
    /// first and last entries mean no counter reset in the window); else empty.
    pub(crate) resets: &'a [u32],
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

/// Positions of a window `(lo, hi]` in a series' points, moved along as the
/// window moves (window bounds never go back from step to step, except that an
/// unexpected step back is handled by searching again).
#[derive(Default)]
struct Cursor {
    a: usize,
    b: usize,
    lo: i64,
    hi: i64,
}

impl Cursor {
    fn new() -> Self {
        Cursor {
            a: 0,
            b: 0,
            lo: i64::MIN,
            hi: i64::MIN,
        }
    }

    /// The range of points with time in `(lo, hi]`.
    fn window<T>(&mut self, pts: &[T], lo: i64, hi: i64, t: impl Fn(&T) -> i64) -> (usize, usize) {
        if lo < self.lo {
            self.a = pts.partition_point(|p| t(p) <= lo);
            self.b = self.a;
        }
        self.lo = lo;
        while self.a < pts.len() && t(&pts[self.a]) <= lo {
            self.a += 1;
        }
        if self.b < self.a {
            self.b = self.a;
        }
        // Points before `b` are at or before the last `hi` (or `lo`): only a
        // smaller `hi` can leave some of them out.
        if hi < self.hi || hi < lo {
            while self.b > self.a && t(&pts[self.b - 1]) > hi {
                self.b -= 1;
            }
        }
        self.hi = hi;
        while self.b < pts.len() && t(&pts[self.b]) <= hi {
            self.b += 1;
        }
        (self.a, self.b)
    }
}

/// Functions with a faster evaluation over whole series of floats that gives the
/// same values as the per-window one.
#[derive(Clone, Copy, PartialEq)]
enum Fast {
    None,
    /// `rate`, `increase` (counters: resets are found once per series) and
    /// `delta`: `(is_counter, is_rate)`.
    Extrapolated(bool, bool),
    /// `max_over_time` (true) and `min_over_time` (false): windows are answered
    /// from a sparse table of the series' running extremes.
    Extreme(bool),
}

/// A sparse table over a series' floats for `max_over_time`/`min_over_time`:
/// level `k` holds, for every start, what the function's fold gives over `2^k`
/// points. The fold (keep the first of equal extremes, NaN loses to anything, an
/// all-NaN run gives its last point) is associative, so any window is the fold of
/// two overlapping levels, exactly as the scan over the window would be.
#[derive(Default)]
struct ExtremeTable {
    levels: Vec<Vec<f64>>,
    max: bool,
}

impl ExtremeTable {
    fn better(&self, cur: f64, m: f64) -> bool {
        if self.max {
            cur > m || m.is_nan()
        } else {
            cur < m || m.is_nan()
        }
    }

    fn combine(&self, a: f64, b: f64) -> f64 {
        if self.better(b, a) { b } else { a }
    }

    /// Builds the levels windows of up to `max_len` points need.
    fn build(&mut self, pts: &[FPoint], max: bool, max_len: usize) {
        self.max = max;
        let n = pts.len();
        let mut k = 0;
        while (1usize << k) <= max_len.min(n) {
            if self.levels.len() <= k {
                self.levels.push(Vec::new());
            }
            let mut cur = std::mem::take(&mut self.levels[k]);
            cur.clear();
            if k == 0 {
                cur.extend(pts.iter().map(|p| p.f));
            } else {
                let prev = &self.levels[k - 1];
                let half = 1usize << (k - 1);
                cur.extend((0..=n - (1usize << k)).map(|i| self.combine(prev[i], prev[i + half])));
            }
            self.levels[k] = cur;
            k += 1;
        }
    }

    /// The fold over points `a..b` (not empty).
    fn query(&self, a: usize, b: usize) -> f64 {
        let len = b - a;
        let k = (usize::BITS - 1 - len.leading_zeros()) as usize;
        let level = &self.levels[k];
        self.combine(level[a], level[b - (1usize << k)])
    }
}

/// Functions whose range-vector evaluation never fails: their selector may be
/// read series by series (an error could otherwise overtake a storage error).
const INFALLIBLE: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "avg_over_time",
    "count_over_time",
    "last_over_time",
    "first_over_time",
    "present_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "changes",
    "resets",
    "deriv",
];

/// A range function's evaluation, series by series.
struct RangeEval<'c> {
    name: &'c str,
    f: RangeFn,
    params: Vec<Vec<f64>>,
    pos: usize,
    keep_name: bool,
    /// Series whose name goes keep their labels as they are (see `NameDrop`).
    defer_name_drop: bool,
    steps: Vec<i64>,
    ends: Vec<i64>,
    bounds: Vec<(i64, i64)>,
    range: i64,
    anchored: bool,
    smoothed: bool,
    fast: Fast,
    out: EMatrix,
    /// Samples in `out`.
    n: usize,
    p: Vec<f64>,
    resets: Vec<u32>,
    table: ExtremeTable,
    deque: Vec<usize>,
    windows: Vec<(usize, usize)>,
    extrapolation: rate::Extrapolation,
}

/// How `max_over_time`/`min_over_time` answer a series' windows.
#[derive(Clone, Copy, PartialEq)]
enum Extreme {
    /// Window by window, as every other function.
    None,
    /// From the [`ExtremeTable`].
    Table,
    /// With a sliding window (`max` true for the maximum).
    Sliding(bool),
}

impl RangeEval<'_> {
    /// Evaluates the function over one series, adding its result to `out`.
    fn series(&mut self, ev: &mut Evaluator<'_>, s: RangeSeries<'_>) -> Result<()> {
        ev.check_deadline()?;
        let RangeEval {
            name,
            f,
            params,
            pos,
            keep_name,
            defer_name_drop,
            steps,
            ends,
            bounds,
            range,
            anchored,
            smoothed,
            fast,
            out,
            n,
            p,
            resets,
            table,
            deque,
            windows,
            extrapolation,
        } = self;
        let (f, pos, keep_name, fast) = (*f, *pos, *keep_name, *fast);
        let name: &str = name;
        let drop = !keep_name || s.drop_name;
        // Once per series: no need for the per-step label cache.
        let metric = if drop && !ev.delayed_name_removal && !*defer_name_drop {
            s.without_metadata()
        } else {
            s.metric()
        };
        let mut es = ESeries::new(metric, drop);
        let (floats, hists) = (s.floats, s.hists);
        let (mut fc, mut hc) = (Cursor::new(), Cursor::new());
        resets.clear();
        if fast == Fast::Extrapolated(true, true) || fast == Fast::Extrapolated(true, false) {
            // resets[i]: how many of the points up to i are below their predecessor.
            let mut r = 0u32;
            resets.push(0);
            for w in floats.windows(2) {
                if w[1].f < w[0].f {
                    r += 1;
                }
                resets.push(r);
            }
        }
        // Windows that only move forward (as the steps of a range query make
        // them) and hold no NaN are answered by a sliding-window extreme in
        // linear time; otherwise the table pays off once several steps look at
        // overlapping windows.
        let extreme = match fast {
            Fast::Extreme(max) if hists.is_empty() && steps.len() > 4 && floats.len() > 1 => {
                windows.clear();
                let mut c = Cursor::new();
                let mut longest = 0;
                let mut forward = true;
                for &(lo, hi) in &*bounds {
                    let (a, b) = c.window(floats, lo, hi, |p| p.t);
                    longest = longest.max(b - a);
                    if let Some(&(pa, pb)) = windows.last() {
                        forward &= a >= pa && b >= pb;
                    }
                    windows.push((a, b));
                }
                if forward && !floats.iter().any(|p| p.f.is_nan()) {
                    Extreme::Sliding(max)
                } else {
                    table.build(floats, max, longest);
                    Extreme::Table
                }
            }
            _ => Extreme::None,
        };
        // The sliding window: indices of points whose value may yet be a window's
        // extreme, their values strictly better to the front, so that the front
        // is the first extreme of the window, as the fold over it keeps. Indices
        // only grow, so a vector whose front is `deque[head]` does.
        let deque = &mut *deque;
        deque.clear();
        let mut head = 0;
        let mut next = 0;
        if let Fast::Extrapolated(is_counter, is_rate) = fast
            && hists.is_empty()
        {
            for (si, ts) in steps.iter().enumerate() {
                let (lo, hi) = bounds[si];
                let (fa, fb) = fc.window(floats, lo, hi, |p| p.t);
                if fa == fb {
                    continue;
                }
                let end = ends[si];
                let r = if resets.is_empty() {
                    &[][..]
                } else {
                    &resets[fa..fb]
                };
                let v = extrapolation.eval(
                    &floats[fa..fb],
                    r,
                    end - *range,
                    end,
                    *range,
                    is_counter,
                    is_rate,
                );
                if let Some(v) = v {
                    if es.floats.capacity() == 0 {
                        es.floats.reserve(steps.len() - si);
                    }
                    es.floats.push(FPoint { t: *ts, f: v });
                }
            }
        } else {
            for (si, ts) in steps.iter().enumerate() {
                if let Extreme::Sliding(max) = extreme {
                    let (fa, fb) = windows[si];
                    for j in next.max(fa)..fb {
                        let v = floats[j].f;
                        while deque.len() > head {
                            let w = floats[deque[deque.len() - 1]].f;
                            if (max && v > w) || (!max && v < w) {
                                deque.pop();
                            } else {
                                break;
                            }
                        }
                        deque.push(j);
                    }
                    next = next.max(fb);
                    while head < deque.len() && deque[head] < fa {
                        head += 1;
                    }
                    let Some(&k) = deque.get(head) else {
                        continue;
                    };
                    if es.floats.capacity() == 0 {
                        es.floats.reserve(steps.len() - si);
                    }
                    es.floats.push(FPoint {
                        t: *ts,
                        f: floats[k].f,
                    });
                    continue;
                }
                if extreme == Extreme::Table {
                    let (fa, fb) = windows[si];
                    if fa == fb {
                        continue;
                    }
                    if es.floats.capacity() == 0 {
                        es.floats.reserve(steps.len() - si);
                    }
                    es.floats.push(FPoint {
                        t: *ts,
                        f: table.query(fa, fb),
                    });
                    continue;
                }
                let (lo, hi) = bounds[si];
                let (fa, fb) = fc.window(floats, lo, hi, |p| p.t);
                let (ha, hb) = hc.window(hists, lo, hi, |p| p.t);
                if fa == fb && ha == hb {
                    continue;
                }
                for (k, v) in params.iter().enumerate() {
                    p[k] = v.get(si).copied().unwrap_or(f64::NAN);
                }
                let end = ends[si];
                let w = Win {
                    floats: &floats[fa..fb],
                    hists: &hists[ha..hb],
                    resets: if resets.is_empty() {
                        &[]
                    } else {
                        &resets[fa..fb]
                    },
                    ts: *ts,
                    range_start: end - *range,
                    range_end: end,
                    range: *range,
                    anchored: *anchored,
                    smoothed: *smoothed,
                    params: p,
                    metric: s.metric,
                    pos,
                };
                match f(ev, &w)? {
                    Some(Out::F(v)) => {
                        if es.floats.capacity() == 0 {
                            es.floats.reserve(steps.len() - si);
                        }
                        es.floats.push(FPoint { t: *ts, f: v })
                    }
                    Some(Out::H(h)) => es.hists.push(HPoint { t: *ts, h }),
                    None => {}
                }
            }
        }
        if matches!(name, "rate" | "increase") && !es.floats.is_empty() {
            counter_name_info(ev, s.metric, pos);
        }
        if !es.is_empty() {
            *n += es.num_samples();
            ev.check_samples(*n)?;
            out.push(es);
        }
        Ok(())
    }
}

/// Evaluates a function whose argument `idx` is a range vector, series by series.
pub(crate) fn eval_range_fn(
    ev: &mut Evaluator<'_>,
    c: &Call,
    idx: usize,
    f: RangeFn,
    defer_name_drop: bool,
) -> Result<EMatrix> {
    let name = c.func.name;
    let mut params: Vec<Vec<f64>> = Vec::new();
    for (i, a) in c.args.iter().enumerate() {
        if i != idx {
            params.push(ev.scalar_steps(a)?);
        }
    }
    let arg_expr = unwrap(&c.args[idx]);
    // A selector nothing else reads is read series by series and not kept.
    let stream = match arg_expr {
        Expr::MatrixSelector(ms) => ms
            .vs()
            .filter(|vs| INFALLIBLE.contains(&name) && ev.single_use(vs)),
        _ => None,
    };
    let arg = match (stream, arg_expr) {
        (Some(_), Expr::MatrixSelector(ms)) => ev.range_arg_without_series(ms)?,
        _ => ev.range_arg(arg_expr)?,
    };
    let pos = arg_expr.pos_range().start;
    let fast = match name {
        "rate" if !arg.anchored && !arg.smoothed => Fast::Extrapolated(true, true),
        "increase" if !arg.anchored && !arg.smoothed => Fast::Extrapolated(true, false),
        "delta" if !arg.anchored && !arg.smoothed => Fast::Extrapolated(false, false),
        "max_over_time" => Fast::Extreme(true),
        "min_over_time" => Fast::Extreme(false),
        _ => Fast::None,
    };
    let mut re = RangeEval {
        name,
        f,
        p: vec![0.0; params.len()],
        params,
        pos,
        keep_name: matches!(name, "last_over_time" | "first_over_time"),
        defer_name_drop,
        steps: ev.steps(),
        bounds: arg.ends.iter().map(|&e| arg.bounds(e)).collect(),
        ends: arg.ends.clone(),
        range: arg.range,
        anchored: arg.anchored,
        smoothed: arg.smoothed,
        fast,
        out: Vec::new(),
        n: 0,
        resets: Vec::new(),
        table: ExtremeTable::default(),
        deque: Default::default(),
        extrapolation: Default::default(),
        windows: Vec::new(),
    };
    let mut done = false;
    if let Some(vs) = stream {
        done = ev.select_each(vs, arg.range, |ev, raw| {
            re.series(
                ev,
                RangeSeries {
                    metric: raw.labels,
                    shared: None,
                    floats: raw.floats,
                    hists: raw.hists,
                    drop_name: false,
                },
            )
        })?;
        if !done {
            // Storage broke label order: start over from the sorted series. The
            // functions streamed are pure but for annotations, which repeat.
            re.out.clear();
            re.n = 0;
        }
    }
    if !done {
        let arg = match stream {
            Some(_) => ev.range_arg(arg_expr)?,
            None => arg,
        };
        for i in 0..arg.len() {
            re.series(ev, arg.series(i))?;
        }
    }
    let out = re.out;
    if defer_name_drop {
        check_matrix_labels_deferred(&out)?;
        ev.name_drop = NameDrop::Deferred;
    } else if !ev.delayed_name_removal {
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
    let mut seen = crate::eval::FastSet::default();
    seen.reserve(m.len());
    for s in m {
        if !seen.insert(&s.metric) {
            return Err(Error::Eval(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// [`check_matrix_labels`] for series whose name, type and unit are still there
/// though flagged to go (see `NameDrop`): compares the labels they will have,
/// by hash first, without building them.
fn check_matrix_labels_deferred(m: &EMatrix) -> Result<()> {
    use std::hash::{BuildHasher, Hash, Hasher};
    fn kept(s: &ESeries) -> impl Iterator<Item = &ember_model::Label> {
        let drop = s.drop_name;
        s.metric
            .iter()
            .filter(move |l| !(drop && METADATA_LABELS.contains(&l.name.as_str())))
    }
    let state = foldhash::fast::RandomState::default();
    // Series index by hash, and per series the next one with the same hash.
    let mut by_hash: crate::eval::FastMap<u64, usize> = Default::default();
    by_hash.reserve(m.len());
    let mut next: Vec<Option<usize>> = vec![None; m.len()];
    for (i, s) in m.iter().enumerate() {
        let mut h = state.build_hasher();
        for l in kept(s) {
            l.hash(&mut h);
        }
        let h = h.finish();
        match by_hash.get(&h) {
            None => {
                by_hash.insert(h, i);
            }
            Some(&first) => {
                let mut at = Some(first);
                let mut last = first;
                while let Some(j) = at {
                    if kept(&m[j]).eq(kept(s)) {
                        return Err(Error::Eval(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                    last = j;
                    at = next[j];
                }
                next[last] = Some(i);
            }
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
    // Only a range function takes up the offer; every other call turns it down.
    let defer_name_drop = std::mem::take(&mut ev.name_drop) == NameDrop::Offered;
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
        return eval_range_fn(ev, c, idx, f, defer_name_drop);
    }
    if name == "histogram_quantile" && c.args.len() == 2 {
        let qm = ev.eval_matrix(&c.args[0])?;
        let input = ev.eval_matrix(&c.args[1])?;
        if let Some(m) = histogram::classic_quantile_range(ev, c, &qm, &input)? {
            return Ok(m);
        }
        let f: InstantFn = histogram::quantile_fn;
        return ev.range_eval(&[&qm, &input], |ev, v, ts| f(ev, c, v, ts));
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
