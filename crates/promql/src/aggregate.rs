//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`,
//! `stdvar`, `quantile`, `topk`, `bottomk`, `count_values`, `limitk`,
//! `limit_ratio`) with Prometheus's numerics: Kahan-compensated sums of floats and
//! histograms, an incremental mean once a sum overflows, Welford's variance, and
//! its NaN ordering.
//!
//! Over floats only, the arithmetic aggregations and `quantile` go series by
//! series into per-group, per-step cells ([`aggregate_floats`]); each cell sees
//! its inputs in the same order as the step-by-step evaluation would.

use crate::Error;
use crate::eval::{
    EMatrix, ESample, ESeries, EVector, Evaluator, FastMap, METADATA_LABELS, Metric, NameDrop,
    Result, drop_metadata,
};
use crate::fhist::{self, Acc, go_g, kahan_inc};
use crate::value::{FPoint, HPoint};
use ember_model::histogram::{CounterResetHint, FloatHistogram};
use ember_model::labels::{ValidationScheme, is_valid_label_name};
use ember_model::{Label, Labels, LabelsBuilder};
use ember_promql_parser::{AggregateExpr, AggregateOp, Expr};
use std::collections::HashMap;
use std::sync::Arc;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
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
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0);
    let hi = (lo + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    let (lo, hi) = (lo as usize, hi as usize);
    let (a, b) = if values.iter().any(|v| v.is_nan() || *v == 0.0) {
        values.sort_by(nan_first);
        (values[lo], values[hi])
    } else {
        // Without NaN and zeros, values that compare equal are identical, so the
        // two order statistics do not depend on how a sort would order ties.
        let (_, a, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
        let a = *a;
        let b = match rest.split_first() {
            Some((first, more)) if hi != lo => more.iter().fold(*first, |m, v| m.min(*v)),
            _ => a,
        };
        (a, b)
    };
    a * (1.0 - w) + b * w
}

fn nan_first(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Go's `math.Max`: +Inf wins, then NaN.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: -Inf wins, then NaN.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::StepInvariant(s) => strip(&s.expr),
        _ => e,
    }
}

/// Finds the group of each input series without building its group's labels
/// unless the group is new: series are matched by a hash of their grouping labels,
/// then compared label by label.
struct Grouper<'g> {
    grouping: &'g [&'g str],
    without: bool,
    hasher: foldhash::fast::RandomState,
    /// First group with each hash.
    by_hash: FastMap<u64, usize>,
    /// Per group: its labels, and the next group with the same hash.
    groups: Vec<(Labels, Option<usize>)>,
}

impl<'g> Grouper<'g> {
    fn new(grouping: &'g [&'g str], without: bool) -> Self {
        Grouper {
            grouping,
            without,
            hasher: Default::default(),
            by_hash: FastMap::default(),
            groups: Vec::new(),
        }
    }

    /// The labels of `l` that make its group ([`group_labels`]), the name, type
    /// and unit left out with `drop_meta`.
    fn key<'a>(&self, l: &'a Labels, drop_meta: bool) -> impl Iterator<Item = &'a Label> + Clone {
        let (grouping, without) = (self.grouping, self.without);
        l.iter().filter(move |l| {
            let n = l.name.as_str();
            if drop_meta && METADATA_LABELS.contains(&n) {
                false
            } else if without {
                n != "__name__" && !grouping.contains(&n)
            } else {
                grouping.contains(&n)
            }
        })
    }

    /// The group of `l`, and whether it is new.
    fn group(&mut self, l: &Labels, drop_meta: bool) -> (usize, bool) {
        use std::hash::{BuildHasher, Hash, Hasher};
        let key = self.key(l, drop_meta);
        let mut h = self.hasher.build_hasher();
        for l in key.clone() {
            l.name.hash(&mut h);
            l.value.hash(&mut h);
        }
        let h = h.finish();
        let mut at = self.by_hash.get(&h).copied();
        let mut last = None;
        while let Some(g) = at {
            if self.groups[g].0.iter().eq(key.clone()) {
                return (g, false);
            }
            last = Some(g);
            at = self.groups[g].1;
        }
        let g = self.groups.len();
        let labels = Labels::from_sorted_unchecked(key.cloned().collect());
        self.groups.push((labels, None));
        match last {
            Some(prev) => self.groups[prev].1 = Some(g),
            None => {
                self.by_hash.insert(h, g);
            }
        }
        (g, true)
    }

    /// The labels of group `g`.
    fn labels(&self, g: usize) -> Labels {
        self.groups[g].0.clone()
    }

    fn len(&self) -> usize {
        self.groups.len()
    }
}

/// The labels a group of `l` gets.
fn group_labels(l: &Labels, grouping: &[&str], without: bool) -> Labels {
    if without {
        let mut n = grouping.to_vec();
        n.push("__name__");
        l.without(&n)
    } else if grouping.is_empty() {
        Labels::empty()
    } else {
        l.only(grouping)
    }
}

/// The parameter of `topk`, `quantile`, … at every step, with what Prometheus
/// checks on it before evaluating.
struct Params {
    values: Vec<f64>,
    min: f64,
    max: f64,
    any_nan: bool,
}

fn params(ev: &mut Evaluator<'_>, p: Option<&Expr>) -> Result<Params> {
    let n = ev.steps().len();
    let Some(p) = p else {
        return Ok(Params {
            values: vec![0.0; n],
            min: 0.0,
            max: 0.0,
            any_nan: false,
        });
    };
    let constant = matches!(strip(p), Expr::NumberLiteral(_));
    let values = ev.scalar_steps(p)?;
    if constant {
        let v = values.first().copied().unwrap_or(f64::NAN);
        return Ok(Params {
            values,
            min: v,
            max: v,
            any_nan: v.is_nan(),
        });
    }
    let (mut min, mut max, mut any_nan) = (f64::MAX, -f64::MAX, false);
    for v in &values {
        max = go_max(max, *v);
        min = go_min(min, *v);
        any_nan |= v.is_nan();
    }
    Ok(Params {
        values,
        min,
        max,
        any_nan,
    })
}

#[derive(Default, Clone)]
struct Group {
    seen: bool,
    f: f64,
    mean: f64,
    kahan_c: f64,
    count: f64,
    h: Option<Acc>,
    h_mean: Option<Acc>,
    values: Vec<f64>,
    members: Vec<ESample>,
    has_float: bool,
    has_hist: bool,
    incompatible: bool,
    f_incremental: bool,
    h_incremental: bool,
    reset_seen: bool,
    not_reset_seen: bool,
    drop_name: bool,
}

pub(crate) fn eval_aggregate(ev: &mut Evaluator<'_>, a: &AggregateExpr) -> Result<EMatrix> {
    let mut grouping: Vec<&str> = a.grouping.iter().map(String::as_str).collect();
    grouping.sort_unstable();
    let pos = strip(&a.expr).pos_range().start;
    if a.op == AggregateOp::CountValues {
        let (label, quoted, utf8) = match a.param.as_deref().map(strip) {
            Some(Expr::StringLiteral(s)) => (
                s.val.clone(),
                ember_promql_parser::go_quote_bytes(s.bytes()),
                s.invalid_utf8.is_none(),
            ),
            _ => return Err(Error::Eval("count_values needs a string parameter".into())),
        };
        if !utf8 || !is_valid_label_name(&label, ValidationScheme::Utf8) {
            return Err(Error::Eval(format!("invalid label name {quoted}")));
        }
        let mut grouping: Vec<String> = grouping.iter().map(|s| s.to_string()).collect();
        if !a.without {
            grouping.push(label.clone());
            grouping.sort();
        }
        let input = ev.eval_matrix(&a.expr)?;
        let without = a.without;
        return ev.range_eval(&[&input], |_, v, _| {
            let g: Vec<&str> = grouping.iter().map(String::as_str).collect();
            Ok(count_values(&v[0], &label, &g, without))
        });
    }
    let p = params(ev, a.param.as_deref())?;
    let k_op = matches!(
        a.op,
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk | AggregateOp::LimitRatio
    );
    // Only the grouping labels of the input matter here (the `k` operators hand
    // input series out whole), so a range function below may leave the name on
    // its series rather than copy every label set without it: see
    // `NameDrop`. Then the name, type and unit of a series flagged `drop_name`
    // are left out of its group here, as they would be gone from its labels.
    if !k_op && !ev.delayed_name_removal && matches!(strip(&a.expr), Expr::Call(_)) {
        ev.name_drop = NameDrop::Offered;
    }
    let input = ev.eval_matrix(&a.expr);
    let deferred = std::mem::replace(&mut ev.name_drop, NameDrop::Off) == NameDrop::Deferred;
    let mut input = input?;
    // Group of every input series, and the labels of every group.
    let mut grouper = Grouper::new(&grouping, a.without);
    let mut series_group = Vec::with_capacity(input.len());
    let mut result: EMatrix = Vec::new();
    for s in &input {
        let (g, new) = grouper.group(&s.metric, deferred && s.drop_name);
        if new && !k_op {
            result.push(ESeries::new(grouper.labels(g), false));
        }
        series_group.push(g);
    }
    let groups = grouper.len();
    let ppos = a
        .param
        .as_deref()
        .map_or(pos, |x| strip(x).pos_range().start);
    match a.op {
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
            if p.max < 1.0 {
                return Ok(Vec::new());
            }
            if p.any_nan {
                return Err(Error::Eval("Parameter value is NaN".into()));
            }
            if p.min <= i64::MIN as f64 {
                return Err(Error::Eval(format!(
                    "Scalar value {} underflows int64",
                    go_g(p.min)
                )));
            }
            // The largest float below 2^63, as Prometheus's bound.
            if p.max >= (i64::MAX - 1023) as f64 {
                return Err(Error::Eval(format!(
                    "Scalar value {} overflows int64",
                    go_g(p.max)
                )));
            }
        }
        AggregateOp::LimitRatio => {
            if p.max == 0.0 && p.min == 0.0 {
                return Ok(Vec::new());
            }
            if p.any_nan {
                return Err(Error::Eval("Ratio value is NaN".into()));
            }
            if p.max > 1.0 {
                ev.annos.warn(
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to 1",
                        go_g(p.max)
                    ),
                    ppos,
                );
            }
            if p.min < -1.0 {
                ev.annos.warn(
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to -1",
                        go_g(p.min)
                    ),
                    ppos,
                );
            }
        }
        AggregateOp::Quantile => {
            if p.any_nan {
                ev.annos.warn(
                    "quantile value should be between 0 and 1, got NaN".to_string(),
                    ppos,
                );
            }
            if p.max > 1.0 {
                ev.annos.warn(
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        go_g(p.max)
                    ),
                    ppos,
                );
            }
            if p.min < 0.0 {
                ev.annos.warn(
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        go_g(p.min)
                    ),
                    ppos,
                );
            }
        }
        _ => {}
    }
    let steps = ev.steps();
    if !k_op
        && let Some(out) = aggregate_floats(
            ev,
            a.op,
            &p.values,
            &input,
            &series_group,
            groups,
            &steps,
            &mut result,
        )?
    {
        return Ok(out);
    }
    if deferred {
        // The step-by-step path names series in annotations: drop the names now.
        for s in &mut input {
            if s.drop_name {
                s.metric = drop_metadata(&s.metric).into();
            }
        }
    }
    let instant = ev.is_instant();
    let mut fcur = vec![0usize; input.len()];
    let mut hcur = vec![0usize; input.len()];
    let mut groups = vec![Group::default(); groups];
    let mut k_index: FastMap<Metric, usize> = FastMap::default();
    let mut k_out: EMatrix = Vec::new();
    for (si, &ts) in steps.iter().enumerate() {
        ev.check_deadline()?;
        let param = p.values.get(si).copied().unwrap_or(0.0);
        // The input elements at this step, in input order.
        let mut vec: Vec<(usize, f64, Option<Arc<FloatHistogram>>)> = Vec::new();
        for (i, s) in input.iter().enumerate() {
            let c = &mut fcur[i];
            while *c < s.floats.len() && s.floats[*c].t < ts {
                *c += 1;
            }
            if let Some(pt) = s.floats.get(*c)
                && pt.t == ts
            {
                vec.push((i, pt.f, None));
                continue;
            }
            let c = &mut hcur[i];
            while *c < s.hists.len() && s.hists[*c].t < ts {
                *c += 1;
            }
            if let Some(pt) = s.hists.get(*c)
                && pt.t == ts
            {
                vec.push((i, 0.0, Some(pt.h.clone())));
            }
        }
        if k_op {
            let out = aggregate_k(ev, a, param, &input, &series_group, &mut groups, &vec)?;
            if instant {
                return Ok(out
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
            for s in out {
                let n = k_out.len();
                let i = *k_index.entry(s.metric.clone()).or_insert_with(|| {
                    k_out.push(ESeries::new(s.metric.clone(), s.drop_name));
                    n
                });
                match s.h {
                    Some(h) => k_out[i].hists.push(HPoint { t: ts, h }),
                    None => k_out[i].floats.push(FPoint { t: ts, f: s.f }),
                }
            }
            continue;
        }
        aggregate_step(
            ev,
            a,
            param,
            &input,
            &series_group,
            &mut groups,
            &vec,
            &mut result,
            ts,
            pos,
        );
    }
    if k_op {
        return Ok(k_out);
    }
    result.retain(|s| !s.is_empty());
    Ok(result)
}

/// What a group holds at one step while aggregating floats.
#[derive(Clone, Copy, Default)]
struct Cell {
    seen: bool,
    f_incremental: bool,
    drop_name: bool,
    f: f64,
    mean: f64,
    kahan_c: f64,
    count: f64,
}

/// Most group-steps [`aggregate_floats`] holds at once.
const MAX_CELLS: usize = 1 << 22;

/// `sum`, `avg`, `count`, `min`, `max`, `group`, `stddev` and `stdvar` over input
/// of floats only, series by series: each series' points go into its group's
/// cells, one per step. Every cell sees its inputs in input order, as the step by
/// step evaluation ([`aggregate_step`]) adds them, with the same arithmetic, so
/// the results are the same; floats only means no annotations either. `None` when
/// the input does not qualify (histograms, points off the steps, too many cells).
#[allow(clippy::too_many_arguments)]
fn aggregate_floats(
    ev: &mut Evaluator<'_>,
    op: AggregateOp,
    params: &[f64],
    input: &EMatrix,
    series_group: &[usize],
    groups: usize,
    steps: &[i64],
    result: &mut EMatrix,
) -> Result<Option<EMatrix>> {
    if !matches!(
        op,
        AggregateOp::Sum
            | AggregateOp::Avg
            | AggregateOp::Count
            | AggregateOp::Min
            | AggregateOp::Max
            | AggregateOp::Group
            | AggregateOp::Stddev
            | AggregateOp::Stdvar
            | AggregateOp::Quantile
    ) || input.iter().any(|s| !s.hists.is_empty())
        || steps.is_empty()
        || groups.saturating_mul(steps.len()) > MAX_CELLS
    {
        return Ok(None);
    }
    let n = steps.len();
    if op == AggregateOp::Quantile {
        return quantile_floats(ev, params, input, series_group, groups, steps, result);
    }
    let mut cells = vec![Cell::default(); groups * n];
    for (si, s) in input.iter().enumerate() {
        ev.check_deadline()?;
        let base = series_group[si] * n;
        let drop = s.drop_name;
        let mut next = 0;
        for p in &s.floats {
            let Some(k) = step_index(steps, &mut next, p.t) else {
                return Ok(None);
            };
            let g = &mut cells[base + k];
            let f = p.f;
            if !g.seen {
                *g = Cell {
                    seen: true,
                    f,
                    mean: f,
                    count: 1.0,
                    drop_name: drop,
                    ..Cell::default()
                };
                match op {
                    AggregateOp::Stddev | AggregateOp::Stdvar => {
                        g.f = if f.is_nan() || f.is_infinite() {
                            f64::NAN
                        } else {
                            0.0
                        };
                    }
                    AggregateOp::Group => g.f = 1.0,
                    _ => {}
                }
                continue;
            }
            if drop {
                g.drop_name = true;
            }
            match op {
                AggregateOp::Sum => (g.f, g.kahan_c) = kahan_inc(f, g.f, g.kahan_c),
                AggregateOp::Avg => {
                    g.count += 1.0;
                    if !g.f_incremental {
                        let (nv, nc) = kahan_inc(f, g.f, g.kahan_c);
                        if !nv.is_infinite() {
                            (g.f, g.kahan_c) = (nv, nc);
                            continue;
                        }
                        g.f_incremental = true;
                        g.mean = g.f / (g.count - 1.0);
                        g.kahan_c /= g.count - 1.0;
                    }
                    let q = (g.count - 1.0) / g.count;
                    (g.mean, g.kahan_c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
                }
                AggregateOp::Max if g.f < f || g.f.is_nan() => g.f = f,
                AggregateOp::Min if g.f > f || g.f.is_nan() => g.f = f,
                AggregateOp::Count => g.count += 1.0,
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    g.count += 1.0;
                    let delta = f - g.mean;
                    g.mean += delta / g.count;
                    g.f += delta * (f - g.mean);
                }
                _ => {}
            }
        }
    }
    for (gi, s) in result.iter_mut().enumerate() {
        let row = &cells[gi * n..(gi + 1) * n];
        let seen = row.iter().filter(|c| c.seen).count();
        if seen == 0 {
            continue;
        }
        s.floats.reserve_exact(seen);
        for (k, g) in row.iter().enumerate() {
            if !g.seen {
                continue;
            }
            let f = match op {
                AggregateOp::Avg => {
                    if g.f_incremental {
                        g.mean + g.kahan_c
                    } else {
                        g.f / g.count + g.kahan_c / g.count
                    }
                }
                AggregateOp::Sum => g.f + g.kahan_c,
                AggregateOp::Count => g.count,
                AggregateOp::Stdvar => g.f / g.count,
                AggregateOp::Stddev => (g.f / g.count).sqrt(),
                _ => g.f,
            };
            s.floats.push(FPoint { t: steps[k], f });
            s.drop_name = g.drop_name;
        }
    }
    let mut out = std::mem::take(result);
    out.retain(|s| !s.is_empty());
    Ok(Some(out))
}

/// The index of the step at time `t`, if there is one. A series' points usually
/// fall on consecutive steps, so the step after the last one found (`next`) is
/// tried before dividing.
fn step_index(steps: &[i64], next: &mut usize, t: i64) -> Option<usize> {
    let k = if steps.get(*next) == Some(&t) {
        *next
    } else {
        let (start, n) = (steps[0], steps.len());
        let interval = if n > 1 { steps[1] - steps[0] } else { 1 };
        let k = (t - start) / interval;
        if t < start || k as usize >= n || steps[k as usize] != t {
            return None;
        }
        k as usize
    };
    *next = k + 1;
    Some(k)
}

/// `quantile` over floats only, series by series (see [`aggregate_floats`]): each
/// group-step's values are gathered in input order into one shared buffer, then
/// the quantile is taken of each.
fn quantile_floats(
    ev: &mut Evaluator<'_>,
    params: &[f64],
    input: &EMatrix,
    series_group: &[usize],
    groups: usize,
    steps: &[i64],
    result: &mut EMatrix,
) -> Result<Option<EMatrix>> {
    let n = steps.len();
    // Where each point goes, and how many values and which name flags each cell gets.
    let mut counts = vec![0u32; groups * n];
    let mut drop = vec![false; groups * n];
    for (si, s) in input.iter().enumerate() {
        ev.check_deadline()?;
        let base = series_group[si] * n;
        let mut next = 0;
        for p in &s.floats {
            let Some(k) = step_index(steps, &mut next, p.t) else {
                return Ok(None);
            };
            counts[base + k] += 1;
            drop[base + k] |= s.drop_name;
        }
    }
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    let mut total = 0usize;
    for &c in &counts {
        offsets.push(total);
        total += c as usize;
    }
    offsets.push(total);
    let mut values = vec![0.0; total];
    let mut fill = offsets.clone();
    for (si, s) in input.iter().enumerate() {
        let base = series_group[si] * n;
        let mut next = 0;
        for p in &s.floats {
            let cell = base + step_index(steps, &mut next, p.t).unwrap_or_default();
            values[fill[cell]] = p.f;
            fill[cell] += 1;
        }
    }
    for (gi, s) in result.iter_mut().enumerate() {
        for (k, &t) in steps.iter().enumerate() {
            let cell = gi * n + k;
            if counts[cell] == 0 {
                continue;
            }
            let q = params.get(k).copied().unwrap_or(0.0);
            let f = quantile(q, &mut values[offsets[cell]..offsets[cell + 1]]);
            s.floats.push(FPoint { t, f });
            s.drop_name = drop[cell];
        }
    }
    let mut out = std::mem::take(result);
    out.retain(|s| !s.is_empty());
    Ok(Some(out))
}

#[allow(clippy::too_many_arguments)]
fn aggregate_step(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    q: f64,
    input: &EMatrix,
    series_group: &[usize],
    groups: &mut [Group],
    vec: &[(usize, f64, Option<Arc<FloatHistogram>>)],
    result: &mut EMatrix,
    ts: i64,
    pos: usize,
) {
    let op = a.op;
    for g in groups.iter_mut() {
        g.seen = false;
    }
    let name = op.as_str();
    let ignored = |ev: &mut Evaluator<'_>| {
        ev.annos
            .info(format!("ignored histogram in {name} aggregation"), pos);
    };
    for (si, f, h) in vec {
        let (si, f) = (*si, *f);
        let g = &mut groups[series_group[si]];
        if !g.seen {
            // The buffer for quantile values is kept from step to step.
            let mut values = std::mem::take(&mut g.values);
            values.clear();
            *g = Group {
                seen: true,
                f,
                mean: f,
                count: 1.0,
                drop_name: input[si].drop_name,
                values,
                ..Group::default()
            };
            match op {
                AggregateOp::Sum | AggregateOp::Avg => match h {
                    None => g.has_float = true,
                    Some(h) => {
                        g.h = Some(Acc::new(h));
                        g.has_hist = true;
                        note_hint(g, h);
                    }
                },
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    if h.is_some() {
                        g.seen = false;
                        ignored(ev);
                    } else if f.is_nan() || f.is_infinite() {
                        g.f = f64::NAN;
                    } else {
                        g.f = 0.0;
                    }
                }
                AggregateOp::Quantile => {
                    if h.is_some() {
                        g.seen = false;
                        ignored(ev);
                    }
                    g.values.push(f);
                }
                AggregateOp::Group => g.f = 1.0,
                AggregateOp::Min | AggregateOp::Max if h.is_some() => {
                    g.seen = false;
                    ignored(ev);
                }
                _ => {}
            }
            continue;
        }
        if g.incompatible {
            continue;
        }
        if input[si].drop_name {
            g.drop_name = true;
        }
        match op {
            AggregateOp::Sum => match h {
                Some(h) => {
                    g.has_hist = true;
                    // With floats seen first the group is invalid anyway.
                    if g.h.is_some() {
                        note_hint(g, h);
                        match g.h.as_mut().map(|acc| acc.add(h, false, true)) {
                            Some(Err(_)) => {
                                mixed_exp_custom(ev, &input[si].metric, pos);
                                g.incompatible = true;
                            }
                            Some(Ok(n)) if n.reconciled => reconciled(ev, pos),
                            _ => {}
                        }
                    }
                }
                None => {
                    g.has_float = true;
                    (g.f, g.kahan_c) = kahan_inc(f, g.f, g.kahan_c);
                }
            },
            AggregateOp::Avg => {
                g.count += 1.0;
                match h {
                    Some(h) => {
                        g.has_hist = true;
                        if g.h.is_none() {
                            continue;
                        }
                        note_hint(g, h);
                        if !g.h_incremental {
                            let Some(cur) = g.h.as_ref() else { continue };
                            let mut v = cur.clone();
                            match v.add(h, false, true) {
                                Err(_) => {
                                    mixed_exp_custom(ev, &input[si].metric, pos);
                                    g.incompatible = true;
                                    continue;
                                }
                                Ok(n) if n.reconciled => reconciled(ev, pos),
                                Ok(_) => {}
                            }
                            if !v.has_overflow() {
                                g.h = Some(v);
                                continue;
                            }
                            g.h_incremental = true;
                            let mut m = cur.clone();
                            m.div(g.count - 1.0);
                            g.h_mean = Some(m);
                        }
                        let q = (g.count - 1.0) / g.count;
                        let mut to_add = (**h).clone();
                        fhist::div(&mut to_add, g.count);
                        let Some(m) = g.h_mean.as_mut() else { continue };
                        m.mul(q);
                        match m.add(&to_add, false, true) {
                            Err(_) => {
                                mixed_exp_custom(ev, &input[si].metric, pos);
                                g.incompatible = true;
                            }
                            Ok(n) if n.reconciled => reconciled(ev, pos),
                            Ok(_) => {}
                        }
                    }
                    None => {
                        g.has_float = true;
                        if !g.f_incremental {
                            let (nv, nc) = kahan_inc(f, g.f, g.kahan_c);
                            if !nv.is_infinite() {
                                (g.f, g.kahan_c) = (nv, nc);
                                continue;
                            }
                            // The sum would overflow: continue with an incremental mean.
                            g.f_incremental = true;
                            g.mean = g.f / (g.count - 1.0);
                            g.kahan_c /= g.count - 1.0;
                        }
                        let q = (g.count - 1.0) / g.count;
                        (g.mean, g.kahan_c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
                    }
                }
            }
            AggregateOp::Group => {}
            AggregateOp::Max => {
                if h.is_some() {
                    ignored(ev);
                    continue;
                }
                if g.f < f || g.f.is_nan() {
                    g.f = f;
                }
            }
            AggregateOp::Min => {
                if h.is_some() {
                    ignored(ev);
                    continue;
                }
                if g.f > f || g.f.is_nan() {
                    g.f = f;
                }
            }
            AggregateOp::Count => g.count += 1.0,
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                if h.is_some() {
                    ignored(ev);
                    continue;
                }
                g.count += 1.0;
                let delta = f - g.mean;
                g.mean += delta / g.count;
                g.f += delta * (f - g.mean);
            }
            AggregateOp::Quantile => {
                if h.is_some() {
                    ignored(ev);
                    continue;
                }
                g.values.push(f);
            }
            _ => {}
        }
    }
    for (ri, g) in groups.iter_mut().enumerate() {
        if !g.seen {
            continue;
        }
        let mut hist: Option<FloatHistogram> = None;
        match op {
            AggregateOp::Avg | AggregateOp::Sum => {
                if g.has_float && g.has_hist {
                    ev.annos.warn(
                        format!(
                            "encountered a mix of histograms and floats for {name} aggregation"
                        ),
                        pos,
                    );
                    continue;
                }
                if g.incompatible {
                    continue;
                }
                if g.has_hist {
                    let h = if op == AggregateOp::Avg {
                        if g.h_incremental {
                            g.h_mean.as_ref().map(Acc::finish)
                        } else {
                            g.h.as_mut().map(|acc| {
                                acc.div(g.count);
                                acc.finish()
                            })
                        }
                    } else {
                        g.h.as_ref().map(Acc::finish)
                    };
                    hist = h;
                } else if op == AggregateOp::Avg {
                    g.f = if g.f_incremental {
                        g.mean + g.kahan_c
                    } else {
                        g.f / g.count + g.kahan_c / g.count
                    };
                } else {
                    g.f += g.kahan_c;
                }
            }
            AggregateOp::Count => g.f = g.count,
            AggregateOp::Stdvar => g.f /= g.count,
            AggregateOp::Stddev => g.f = (g.f / g.count).sqrt(),
            AggregateOp::Quantile => g.f = quantile(q, &mut g.values),
            _ => {}
        }
        if g.reset_seen && g.not_reset_seen {
            ev.annos.warn(
                "conflicting counter resets during histogram aggregation".to_string(),
                pos,
            );
        }
        let s = &mut result[ri];
        match hist {
            Some(h) => s.hists.push(HPoint {
                t: ts,
                h: Arc::new(h),
            }),
            None => s.floats.push(FPoint { t: ts, f: g.f }),
        }
        s.drop_name = g.drop_name;
    }
}

fn note_hint(g: &mut Group, h: &FloatHistogram) {
    match h.counter_reset_hint {
        CounterResetHint::CounterReset => g.reset_seen = true,
        CounterResetHint::NotCounterReset => g.not_reset_seen = true,
        _ => {}
    }
}

fn mixed_exp_custom(ev: &mut Evaluator<'_>, metric: &Labels, pos: usize) {
    ev.annos.warn(
        format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
            crate::eval::quote(metric.metric_name())
        ),
        pos,
    );
}

fn reconciled(ev: &mut Evaluator<'_>, pos: usize) {
    ev.annos.info(
        "mismatched custom buckets were reconciled during aggregation".to_string(),
        pos,
    );
}

/// `topk`, `bottomk`, `limitk`, `limit_ratio` at one step.
#[allow(clippy::too_many_arguments)]
fn aggregate_k(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    param: f64,
    input: &EMatrix,
    series_group: &[usize],
    groups: &mut [Group],
    vec: &[(usize, f64, Option<Arc<FloatHistogram>>)],
) -> Result<EVector> {
    let op = a.op;
    for g in groups.iter_mut() {
        g.seen = false;
        g.members.clear();
    }
    let k = if param.is_nan() {
        0
    } else {
        (param as i64).min(input.len() as i64)
    };
    let ratio = param.clamp(-1.0, 1.0);
    if matches!(
        op,
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk
    ) && k < 1
    {
        return Ok(Vec::new());
    }
    if op == AggregateOp::LimitRatio && param == 0.0 {
        return Ok(Vec::new());
    }
    let apos = a.pos_range.start;
    for (si, f, h) in vec {
        let s = ESample {
            metric: input[*si].metric.clone(),
            t: 0,
            f: *f,
            h: h.clone(),
            drop_name: input[*si].drop_name,
        };
        let g = &mut groups[series_group[*si]];
        g.seen = true;
        match op {
            AggregateOp::Topk | AggregateOp::Bottomk => {
                if s.h.is_some() {
                    ev.annos.info(
                        format!("ignored histogram in {} aggregation", op.as_str()),
                        apos,
                    );
                    continue;
                }
                g.members.push(s);
            }
            AggregateOp::Limitk => {
                if (g.members.len() as i64) < k {
                    g.members.push(s);
                }
            }
            _ => {
                let x = s.metric.hash64() as f64 / u64::MAX as f64;
                let keep = (ratio >= 0.0 && x < ratio) || (ratio < 0.0 && x >= 1.0 + ratio);
                if keep {
                    g.members.push(s);
                }
            }
        }
    }
    let mut out = Vec::new();
    for g in groups.iter_mut() {
        if !g.seen {
            continue;
        }
        let mut m = std::mem::take(&mut g.members);
        if matches!(op, AggregateOp::Topk | AggregateOp::Bottomk) {
            let desc = op == AggregateOp::Topk;
            // NaN ranks last either way; equal values keep input order.
            m.sort_by(|x, y| match (x.f.is_nan(), y.f.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => {
                    let o = x.f.partial_cmp(&y.f).unwrap_or(std::cmp::Ordering::Equal);
                    if desc { o.reverse() } else { o }
                }
            });
            m.truncate(k.max(0) as usize);
        }
        out.extend(m);
    }
    Ok(out)
}

/// `count_values` at one step: how many elements have each value, per group.
fn count_values(v: &EVector, label: &str, grouping: &[&str], without: bool) -> EVector {
    let mut order: Vec<Labels> = Vec::new();
    let mut counts: HashMap<Labels, usize> = HashMap::new();
    for s in v {
        let val = match &s.h {
            Some(h) => fhist::to_string(h),
            None => format_f(s.f),
        };
        let mut b = LabelsBuilder::new((*s.metric).clone());
        b.set(label, val);
        let metric = b.into_labels();
        let key = group_labels(&metric, grouping, without);
        match counts.get_mut(&key) {
            Some(c) => *c += 1,
            None => {
                order.push(key.clone());
                counts.insert(key, 1);
            }
        }
    }
    order
        .into_iter()
        .map(|k| {
            let c = counts.get(&k).copied().unwrap_or(0);
            ESample::float(k, c as f64)
        })
        .collect()
}
