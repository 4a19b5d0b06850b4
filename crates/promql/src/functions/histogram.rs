//! Histogram functions: `histogram_quantile`, `histogram_quantiles` and
//! `histogram_fraction` over classic `le` buckets and native histograms,
//! `histogram_count`, `histogram_sum`, `histogram_avg`, `histogram_stddev`,
//! `histogram_stdvar`.

use super::{InstantFn, unwrap};
use crate::eval::{
    DERIVE_IDENTITY, DERIVE_WITHOUT_LE, DERIVE_WITHOUT_NAME, EMatrix, ESample, ESeries, EVector,
    Evaluator, FastMap, FastSet, Metric, Result, quote,
};
use crate::fhist::{self, Bucket, go_g, kahan_inc};
use crate::value::FPoint;
use ember_model::histogram::FloatHistogram;
use ember_model::{Labels, LabelsBuilder};
use ember_promql_parser::Call;
use std::sync::Arc;

pub(crate) fn instant_fn(name: &str) -> Option<InstantFn> {
    Some(match name {
        "histogram_count" => |ev, _, v, _| Ok(map_hist(ev, &v[0], |h| h.count)),
        "histogram_sum" => |ev, _, v, _| Ok(map_hist(ev, &v[0], |h| h.sum)),
        "histogram_avg" => |ev, _, v, _| Ok(map_hist(ev, &v[0], |h| h.sum / h.count)),
        "histogram_stddev" => |ev, _, v, _| Ok(map_hist(ev, &v[0], |h| variance(h).sqrt())),
        "histogram_stdvar" => |ev, _, v, _| Ok(map_hist(ev, &v[0], variance)),
        "histogram_quantile" => quantile_fn,
        "histogram_quantiles" => quantiles_fn,
        "histogram_fraction" => fraction_fn,
        _ => return None,
    })
}

/// Applies `g` to every histogram of a vector (floats are skipped).
fn map_hist(ev: &Evaluator<'_>, v: &EVector, g: impl Fn(&FloatHistogram) -> f64) -> EVector {
    v.iter()
        .filter_map(|s| {
            let h = s.h.as_ref()?;
            // Without delayed name removal only the name goes here.
            let metric = if ev.delayed_name_removal {
                s.metric.clone()
            } else {
                ev.derive(&s.metric, DERIVE_WITHOUT_NAME, |l| l.without(&["__name__"]))
            };
            Some(ESample {
                metric,
                t: s.t,
                f: g(h),
                h: None,
                drop_name: true,
            })
        })
        .collect()
}

/// Estimated variance of the observations: each bucket's observations are taken
/// to sit at its middle (geometric for exponential buckets, zero in the zero
/// bucket).
fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut var, mut c) = (0.0, 0.0);
    for b in fhist::all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        let val = if fhist::is_custom(h) {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -v } else { v }
        };
        let d = val - mean;
        (var, c) = kahan_inc(b.count * d * d, var, c);
    }
    (var + c) / h.count
}

/// Classic buckets grouped by series (without `le`), and native histograms, of
/// one step's input, as Prometheus's `resetHistograms` sorts them out.
struct Split {
    /// Labels (without `le`) and `(upper bound, cumulative count)` per group.
    classic: Vec<(Metric, Vec<(f64, f64)>)>,
    native: Vec<(Metric, Arc<FloatHistogram>)>,
}

fn split(ev: &mut Evaluator<'_>, v: &EVector, pos: usize) -> Split {
    // Groups by the address of their interned labels.
    let mut index: FastMap<usize, usize> = FastMap::default();
    let mut classic: Vec<(Metric, Vec<(f64, f64)>)> = Vec::new();
    let mut natives: Vec<&ESample> = Vec::new();
    for s in v {
        if s.h.is_some() {
            natives.push(s);
            continue;
        }
        let Some(upper) = ev.le_bound(&s.metric) else {
            warn_bad_le(ev, &s.metric, pos);
            continue;
        };
        let key = ev.derive(&s.metric, DERIVE_WITHOUT_LE, |l| l.without(&["le"]));
        let i = *index.entry(Arc::as_ptr(&key) as usize).or_insert_with(|| {
            classic.push((key, Vec::new()));
            classic.len() - 1
        });
        classic[i].1.push((upper, s.f));
    }
    let mut native = Vec::new();
    let mut dropped = vec![false; classic.len()];
    for s in natives {
        let interned = ev.derive(&s.metric, DERIVE_IDENTITY, Labels::clone);
        if let Some(&i) = index.get(&(Arc::as_ptr(&interned) as usize))
            && !dropped[i]
            && !classic[i].1.is_empty()
        {
            let name = if ev.delayed_name_removal {
                s.metric.metric_name()
            } else {
                ""
            };
            let mut msg = "vector contains a mix of classic and native histograms".to_string();
            if !name.is_empty() {
                msg.push_str(&format!(" for metric name {}", quote(name)));
            }
            ev.annos.warn(msg, pos);
            dropped[i] = true;
            continue;
        }
        if let Some(h) = &s.h {
            native.push((s.metric.clone(), h.clone()));
        }
    }
    let classic = classic
        .into_iter()
        .zip(dropped)
        .filter(|(c, d)| !d && !c.1.is_empty())
        .map(|(c, _)| c)
        .collect();
    Split { classic, native }
}

/// The warning for a bucket without a usable `le` label.
fn warn_bad_le(ev: &mut Evaluator<'_>, metric: &Labels, pos: usize) {
    let le = metric.get_or_empty("le");
    let name = if ev.delayed_name_removal {
        metric.metric_name()
    } else {
        ""
    };
    let mut msg = format!(
        "bucket label \"le\" is missing or has a malformed value of {}",
        quote(le)
    );
    if !name.is_empty() {
        msg.push_str(&format!(" for metric name {}", quote(name)));
    }
    ev.annos.warn(msg, pos);
}

/// `histogram_quantile` over classic buckets only (no native histogram in the
/// input), evaluated over the whole range at once: each input series' bound and
/// group are worked out once, and each step gathers its buckets by index. Gives
/// what [`quantile_fn`] under [`Evaluator::range_eval`] gives, annotations, errors
/// and series order included; `None` (having done nothing) when the input does
/// not qualify.
pub(crate) fn classic_quantile_range(
    ev: &mut Evaluator<'_>,
    c: &Call,
    qm: &EMatrix,
    input: &EMatrix,
) -> Result<Option<EMatrix>> {
    let steps = ev.steps();
    let n = steps.len();
    if n == 0 || input.iter().any(|s| !s.hists.is_empty()) {
        return Ok(None);
    }
    let (start, interval) = (steps[0], if n > 1 { steps[1] - steps[0] } else { 1 });
    let on_step = |t: i64| {
        let k = (t - start) / interval;
        (t >= start && (k as usize) < n && steps[k as usize] == t).then_some(k as usize)
    };
    if input
        .iter()
        .flat_map(|s| s.floats.iter())
        .any(|p| on_step(p.t).is_none())
    {
        return Ok(None);
    }
    // The parameter at each step: the first element of its vector there.
    let mut q_at: Vec<Option<f64>> = vec![None; n];
    for s in qm {
        for p in &s.floats {
            if let Some(k) = on_step(p.t)
                && q_at[k].is_none()
            {
                q_at[k] = Some(p.f);
            }
        }
        for p in &s.hists {
            if let Some(k) = on_step(p.t) {
                // A float at the same step comes first, as in the gathered vector.
                let has_float = s.floats.iter().any(|f| f.t == p.t);
                if q_at[k].is_none() && !has_float {
                    q_at[k] = Some(0.0);
                }
            }
        }
    }
    if qm.iter().any(|s| {
        s.floats
            .iter()
            .map(|p| p.t)
            .chain(s.hists.iter().map(|p| p.t))
            .any(|t| on_step(t).is_none())
    }) {
        return Ok(None);
    }
    let qpos = unwrap(&c.args[0]).pos_range().start;
    let pos = unwrap(&c.args[1]).pos_range().start;
    // Per input series: its bound and group (by the interned labels without `le`).
    let mut bound: Vec<Option<f64>> = Vec::with_capacity(input.len());
    let mut group: Vec<usize> = Vec::with_capacity(input.len());
    let mut keys: Vec<Metric> = Vec::new();
    let mut key_index: FastMap<usize, usize> = FastMap::default();
    for s in input {
        let b = ev.le_bound(&s.metric);
        bound.push(b);
        if b.is_none() {
            group.push(usize::MAX);
            continue;
        }
        let key = ev.derive(&s.metric, DERIVE_WITHOUT_LE, |l| l.without(&["le"]));
        let g = *key_index
            .entry(Arc::as_ptr(&key) as usize)
            .or_insert_with(|| {
                keys.push(key.clone());
                keys.len() - 1
            });
        group.push(g);
    }
    let out_labels: Vec<Metric> = keys.iter().map(|k| output_labels(ev, k)).collect();
    let instant = ev.is_instant();
    let base = ev.cur_samples;
    let mut held = 0usize;
    let mut buckets: Vec<Vec<(f64, f64)>> = vec![Vec::new(); keys.len()];
    let mut order: Vec<usize> = Vec::new();
    let mut touched = vec![usize::MAX; keys.len()];
    let mut cursors = vec![0usize; input.len()];
    let mut results: Vec<(usize, f64)> = Vec::new();
    // Output series by interned labels, as range_eval assembles them.
    let mut out: EMatrix = Vec::new();
    let mut out_index: FastMap<usize, usize> = FastMap::default();
    let mut last_ts: Vec<i64> = Vec::new();
    for (k, &ts) in steps.iter().enumerate() {
        ev.check_deadline()?;
        results.clear();
        if let Some(q) = q_at[k] {
            warn_quantile(ev, q, qpos);
            order.clear();
            for (si, s) in input.iter().enumerate() {
                let c = &mut cursors[si];
                while *c < s.floats.len() && s.floats[*c].t < ts {
                    *c += 1;
                }
                let Some(p) = s.floats.get(*c).filter(|p| p.t == ts) else {
                    continue;
                };
                let Some(upper) = bound[si] else {
                    warn_bad_le(ev, &s.metric, pos);
                    continue;
                };
                let g = group[si];
                if touched[g] != k {
                    touched[g] = k;
                    buckets[g].clear();
                    order.push(g);
                }
                buckets[g].push((upper, p.f));
            }
            for &g in &order {
                let r = bucket_quantile(q, &mut buckets[g]);
                if let Some((lo, hi, diff)) = r.forced {
                    let name = if ev.delayed_name_removal {
                        keys[g].metric_name().to_string()
                    } else {
                        String::new()
                    };
                    ev.annos.monotonicity(&name, pos, ts, lo, hi, diff);
                }
                results.push((g, r.value));
            }
        }
        held += results.len();
        ev.cur_samples = base + held;
        ev.check_samples(0)?;
        if instant {
            if !ev.delayed_name_removal {
                let mut seen = FastSet::default();
                for &(g, _) in &results {
                    if !seen.insert(Arc::as_ptr(&out_labels[g]) as usize) {
                        return Err(crate::Error::Eval(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                }
            }
            return Ok(Some(
                results
                    .iter()
                    .map(|&(g, f)| {
                        let mut e = ESeries::new(out_labels[g].clone(), true);
                        e.floats.push(FPoint { t: ts, f });
                        e
                    })
                    .collect(),
            ));
        }
        for &(g, f) in &results {
            let ptr = Arc::as_ptr(&out_labels[g]) as usize;
            let i = *out_index.entry(ptr).or_insert_with(|| {
                out.push(ESeries::new(out_labels[g].clone(), true));
                last_ts.push(i64::MIN);
                out.len() - 1
            });
            if last_ts[i] == ts {
                return Err(crate::Error::Eval(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
            last_ts[i] = ts;
            out[i].floats.push(FPoint { t: ts, f });
        }
    }
    Ok(Some(out))
}

/// Go's `strconv.ParseFloat` for label values.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

fn warn_quantile(ev: &mut Evaluator<'_>, q: f64, pos: usize) {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        ev.annos.warn(
            format!("quantile value should be between 0 and 1, got {}", go_g(q)),
            pos,
        );
    }
}

/// Result labels: the name goes (now, or at the end with delayed removal).
fn output_labels(ev: &Evaluator<'_>, l: &Metric) -> Metric {
    ev.drop_now(l, true)
}

pub(crate) fn quantile_fn(
    ev: &mut Evaluator<'_>,
    c: &Call,
    v: &[EVector],
    ts: i64,
) -> Result<EVector> {
    let Some(q) = v[0].first().map(|s| s.f) else {
        return Ok(Vec::new());
    };
    warn_quantile(ev, q, unwrap(&c.args[0]).pos_range().start);
    let pos = unwrap(&c.args[1]).pos_range().start;
    let sp = split(ev, &v[1], pos);
    let mut out = Vec::new();
    for (l, h) in &sp.native {
        let val = native_quantile(ev, q, h, l.metric_name(), pos);
        out.push(ESample {
            metric: output_labels(ev, l),
            t: ts,
            f: val,
            h: None,
            drop_name: true,
        });
    }
    for (l, mut buckets) in sp.classic {
        let r = bucket_quantile(q, &mut buckets);
        if let Some((lo, hi, diff)) = r.forced {
            let name = if ev.delayed_name_removal {
                l.metric_name().to_string()
            } else {
                String::new()
            };
            ev.annos.monotonicity(&name, pos, ts, lo, hi, diff);
        }
        out.push(ESample {
            metric: output_labels(ev, &l),
            t: ts,
            f: r.value,
            h: None,
            drop_name: true,
        });
    }
    Ok(out)
}

/// Prometheus's `FormatOpenMetricsFloat`.
fn openmetrics_float(f: f64) -> String {
    if f == 1.0 {
        return "1.0".into();
    }
    if f == 0.0 {
        return "0.0".into();
    }
    if f == -1.0 {
        return "-1.0".into();
    }
    let s = go_g(f);
    if s.contains(['e', '.']) || !f.is_finite() {
        return s;
    }
    s + ".0"
}

fn quantiles_fn(ev: &mut Evaluator<'_>, c: &Call, v: &[EVector], ts: i64) -> Result<EVector> {
    let label = super::string_arg(&c.args[1])?;
    let mut qs = Vec::new();
    for (i, qv) in v.iter().enumerate().skip(2) {
        let q = qv.first().map_or(f64::NAN, |s| s.f);
        warn_quantile(ev, q, unwrap(&c.args[i]).pos_range().start);
        qs.push(q);
    }
    let pos = unwrap(&c.args[0]).pos_range().start;
    let sp = split(ev, &v[0], pos);
    let with_q = |l: &Labels, q: f64| {
        let mut b = LabelsBuilder::new(l.clone());
        b.set(label.as_str(), openmetrics_float(q));
        b.into_labels()
    };
    let mut out = Vec::new();
    for &q in &qs {
        for (l, h) in &sp.native {
            let val = native_quantile(ev, q, h, l.metric_name(), pos);
            out.push(ESample {
                metric: with_q(&output_labels(ev, l), q).into(),
                t: ts,
                f: val,
                h: None,
                drop_name: true,
            });
        }
        for (l, buckets) in &sp.classic {
            let mut buckets = buckets.clone();
            let r = bucket_quantile(q, &mut buckets);
            if let Some((lo, hi, diff)) = r.forced {
                let name = if ev.delayed_name_removal {
                    l.metric_name().to_string()
                } else {
                    String::new()
                };
                ev.annos.monotonicity(&name, pos, ts, lo, hi, diff);
            }
            out.push(ESample {
                metric: with_q(&output_labels(ev, l), q).into(),
                t: ts,
                f: r.value,
                h: None,
                drop_name: true,
            });
        }
    }
    Ok(out)
}

fn fraction_fn(ev: &mut Evaluator<'_>, c: &Call, v: &[EVector], ts: i64) -> Result<EVector> {
    let (Some(lower), Some(upper)) = (v[0].first().map(|s| s.f), v[1].first().map(|s| s.f)) else {
        return Ok(Vec::new());
    };
    let pos = unwrap(&c.args[2]).pos_range().start;
    let sp = split(ev, &v[2], pos);
    let mut out = Vec::new();
    for (l, h) in &sp.native {
        let val = native_fraction(ev, lower, upper, h, l.metric_name(), pos);
        out.push(ESample {
            metric: output_labels(ev, l),
            t: ts,
            f: val,
            h: None,
            drop_name: true,
        });
    }
    for (l, mut buckets) in sp.classic {
        out.push(ESample {
            metric: output_labels(ev, &l),
            t: ts,
            f: bucket_fraction(lower, upper, &mut buckets),
            h: None,
            drop_name: true,
        });
    }
    Ok(out)
}

fn name_suffix(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" for metric name {}", quote(name))
    }
}

/// Quantile of a native histogram, as Prometheus's `HistogramQuantile`: linear
/// interpolation in custom buckets and the zero bucket, exponential interpolation
/// in exponential buckets.
pub(crate) fn native_quantile(
    ev: &mut Evaluator<'_>,
    q: f64,
    h: &FloatHistogram,
    name: &str,
    pos: usize,
) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let buckets = if forward {
        fhist::all_buckets(h)
    } else {
        fhist::all_buckets_reverse(h)
    };
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut idx = 0;
    let mut bucket: Option<Bucket> = None;
    while idx < buckets.len() {
        let b = buckets[idx];
        idx += 1;
        bucket = Some(b);
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        if count >= rank {
            break;
        }
    }
    let mut b = bucket.unwrap_or(Bucket {
        lower: 0.0,
        upper: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        count: 0.0,
    });
    let custom = fhist::is_custom(h);
    if !custom && b.lower < 0.0 && b.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            b.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            b.upper = 0.0;
        }
    } else if custom {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return b.upper;
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return b.lower;
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            ev.annos.info(
                format!(
                    "input to histogram_quantile has NaN observations, result is NaN{}",
                    name_suffix(name)
                ),
                pos,
            );
            return f64::NAN;
        }
        return b.upper;
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    if h.sum.is_nan() {
        for r in &buckets[idx..] {
            count += r.count;
        }
        if count < h.count {
            ev.annos.info(
                format!(
                    "input to histogram_quantile has NaN observations, result is skewed higher{}",
                    name_suffix(name)
                ),
                pos,
            );
        }
    }
    let fraction = rank / b.count;
    if custom || (b.lower <= 0.0 && b.upper >= 0.0) {
        return b.lower + (b.upper - b.lower) * fraction;
    }
    let (ll, lu) = (b.lower.abs().log2(), b.upper.abs().log2());
    if b.lower > 0.0 {
        return (ll + (lu - ll) * fraction).exp2();
    }
    -(lu + (ll - lu) * (1.0 - fraction)).exp2()
}

/// The fraction of observations between `lower` and `upper` in a native
/// histogram, as Prometheus's `HistogramFraction`.
pub(crate) fn native_fraction(
    ev: &mut Evaluator<'_>,
    lower: f64,
    upper: f64,
    h: &FloatHistogram,
    name: &str,
    pos: usize,
) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let custom = fhist::is_custom(h);
    let buckets = fhist::all_buckets(h);
    let (mut count, mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut idx = 0;
    while idx < buckets.len() {
        let mut b = buckets[idx];
        idx += 1;
        count += b.count;
        let mut zero = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let interpolate = |v: f64| -> f64 {
            if custom || zero {
                if b.lower == f64::NEG_INFINITY {
                    return b.count;
                }
                rank + b.count * fhist::fraction_below(&b, v, true)
            } else {
                rank + b.count * fhist::fraction_below(&b, v, false)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    if h.sum.is_nan() {
        for b in &buckets[idx..] {
            count += b.count;
        }
        if count < h.count {
            ev.annos.info(
                format!(
                    "input to histogram_fraction has NaN observations, which are excluded from all fractions{}",
                    name_suffix(name)
                ),
                pos,
            );
        }
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / h.count
}

/// Classic buckets sorted by bound, with equal bounds added up.
fn coalesce(buckets: &mut Vec<(f64, f64)>) {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut w = 0;
    for r in 0..buckets.len() {
        if w > 0 && buckets[w - 1].0 == buckets[r].0 {
            buckets[w - 1].1 += buckets[r].1;
        } else {
            buckets[w] = buckets[r];
            w += 1;
        }
    }
    buckets.truncate(w);
}

/// A classic quantile and, when counts had to be made monotonic, the smallest and
/// largest bound fixed and the largest fix.
struct BucketQuantile {
    value: f64,
    forced: Option<(f64, f64, f64)>,
}

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::from_bits(0x0010000000000000);
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < eps * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// Quantile from classic buckets `(upper bound, cumulative count)`.
fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> BucketQuantile {
    let done = |value| BucketQuantile {
        value,
        forced: None,
    };
    if q.is_nan() {
        return done(f64::NAN);
    }
    if q < 0.0 {
        return done(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return done(f64::INFINITY);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return done(f64::NAN);
    }
    coalesce(buckets);
    // Tiny differences are float noise and ignored; real decreases are removed.
    let (mut min_b, mut max_b, mut max_diff, mut forced) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, false);
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let cur = b.1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            b.1 = prev;
            continue;
        }
        if cur < prev {
            b.1 = prev;
            forced = true;
            min_b = min_b.min(b.0);
            max_b = max_b.max(b.0);
            if prev - cur > max_diff {
                max_diff = prev - cur;
            }
            continue;
        }
        prev = cur;
    }
    let forced = forced.then_some((min_b, max_b, max_diff));
    let with = |value| BucketQuantile { value, forced };
    if buckets.len() < 2 {
        return with(f64::NAN);
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return with(f64::NAN);
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|x| x.1 < rank);
    if b == buckets.len() - 1 {
        return with(buckets[buckets.len() - 2].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return with(buckets[0].0);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    with(start + (end - start) * (rank / count))
}

/// The fraction of observations between `lower` and `upper` in classic buckets.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    coalesce(buckets);
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].0 <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].0;
        }
        let upper_bound = b.0;
        let interpolate = |v: f64| -> f64 {
            if lower_bound == f64::NEG_INFINITY {
                return b.1;
            }
            rank + (b.1 - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.1;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_quantile_interpolates_and_fixes_monotonicity() {
        let mut b = vec![(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 20.0)];
        assert_eq!(bucket_quantile(0.5, &mut b).value, 1.0);
        let mut b = vec![(1.0, 10.0), (2.0, 5.0), (f64::INFINITY, 20.0)];
        let r = bucket_quantile(0.5, &mut b);
        assert_eq!(r.forced, Some((2.0, 2.0, 5.0)));
    }

    #[test]
    fn classic_fraction() {
        let mut b = vec![(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 20.0)];
        assert_eq!(bucket_fraction(0.0, 1.0, &mut b), 0.5);
        assert_eq!(bucket_fraction(0.0, 1.5, &mut b), 0.75);
    }

    #[test]
    fn openmetrics_floats() {
        assert_eq!(openmetrics_float(0.5), "0.5");
        assert_eq!(openmetrics_float(1.0), "1.0");
        assert_eq!(openmetrics_float(2.0), "2.0");
        assert_eq!(openmetrics_float(f64::NAN), "NaN");
    }
}
