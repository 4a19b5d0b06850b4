//! Histogram functions (`histogram_quantile` over classic `le` buckets and native
//! histograms, `histogram_count`, `histogram_sum`, `histogram_avg`,
//! `histogram_fraction`, `histogram_stddev`, `histogram_stdvar`) and the
//! float-histogram arithmetic the operators and aggregations need.
//!
//! Arithmetic works on a bucket map: spans and deltas are expanded to absolute counts
//! by bucket index, brought to the coarser of two schemas, combined, and encoded back
//! into compact spans.

use super::{instant, scalar_of};
use crate::aggregate::format_f;
use crate::eval::{Evaluator, Result, drop_name};
use crate::value::{Sample, Value, Vector};
use ember_model::Labels;
use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};
use ember_promql_parser::Call;
use std::collections::{BTreeMap, HashMap};

/// Multiplies every count and the sum by `f`.
pub(crate) fn scale(h: &mut FloatHistogram, f: f64) {
    h.count *= f;
    h.sum *= f;
    h.zero_count *= f;
    for b in h
        .positive_buckets
        .iter_mut()
        .chain(h.negative_buckets.iter_mut())
    {
        *b *= f;
    }
}

/// Absolute counts by bucket index.
fn expand(spans: &[Span], buckets: &[f64]) -> BTreeMap<i32, f64> {
    let mut m = BTreeMap::new();
    let mut idx = 0i32;
    let mut bi = 0usize;
    for (i, s) in spans.iter().enumerate() {
        idx = if i == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if let Some(v) = buckets.get(bi) {
                *m.entry(idx).or_insert(0.0) += v;
            }
            bi += 1;
            idx += 1;
        }
    }
    m
}

/// Bucket index `i` at `from` schema, in the coarser schema `to`.
fn reduce_index(i: i32, from: i32, to: i32) -> i32 {
    if from == to || from == CUSTOM_BUCKETS_SCHEMA {
        return i;
    }
    ((i - 1) >> (from - to)) + 1
}

fn reduce(m: BTreeMap<i32, f64>, from: i32, to: i32) -> BTreeMap<i32, f64> {
    if from == to {
        return m;
    }
    let mut out = BTreeMap::new();
    for (i, v) in m {
        *out.entry(reduce_index(i, from, to)).or_insert(0.0) += v;
    }
    out
}

/// Encodes a bucket map as spans and counts, leaving out empty buckets (gaps of up to
/// two empty buckets stay inside a span, as Prometheus's compaction allows).
fn collapse(m: &BTreeMap<i32, f64>) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::new();
    let mut next: Option<i32> = None;
    for (&i, &v) in m.iter().filter(|(_, v)| **v != 0.0) {
        match next {
            Some(n) if i - n <= 2 && !spans.is_empty() => {
                buckets.extend(std::iter::repeat_n(0.0, (i - n) as usize));
                if let Some(s) = spans.last_mut() {
                    s.length += (i - n) as u32 + 1;
                }
            }
            Some(n) => {
                spans.push(Span {
                    offset: i - n,
                    length: 1,
                });
            }
            None => spans.push(Span {
                offset: i,
                length: 1,
            }),
        }
        buckets.push(v);
        next = Some(i + 1);
    }
    (spans, buckets)
}

/// `a ± b` (sign −1 for subtraction). Fails for exponential vs custom buckets or
/// different custom bounds.
fn combine(
    a: &FloatHistogram,
    b: &FloatHistogram,
    sign: f64,
) -> std::result::Result<FloatHistogram, String> {
    let ac = a.schema == CUSTOM_BUCKETS_SCHEMA;
    let bc = b.schema == CUSTOM_BUCKETS_SCHEMA;
    if ac != bc {
        return Err("vector contains a mix of histograms with exponential and custom buckets schemas for metric name".into());
    }
    if ac && a.custom_values != b.custom_values {
        return Err(
            "vector contains histograms with incompatible custom buckets for metric name".into(),
        );
    }
    let schema = a.schema.min(b.schema);
    let zt = a.zero_threshold.max(b.zero_threshold);
    let mut pos = reduce(
        expand(&a.positive_spans, &a.positive_buckets),
        a.schema,
        schema,
    );
    let mut neg = reduce(
        expand(&a.negative_spans, &a.negative_buckets),
        a.schema,
        schema,
    );
    for (i, v) in reduce(
        expand(&b.positive_spans, &b.positive_buckets),
        b.schema,
        schema,
    ) {
        *pos.entry(i).or_insert(0.0) += sign * v;
    }
    for (i, v) in reduce(
        expand(&b.negative_spans, &b.negative_buckets),
        b.schema,
        schema,
    ) {
        *neg.entry(i).or_insert(0.0) += sign * v;
    }
    let mut zero = a.zero_count + sign * b.zero_count;
    if !ac && zt > 0.0 {
        // Buckets that now fall inside the wider zero bucket join it.
        for m in [&mut pos, &mut neg] {
            let inside: Vec<i32> = m
                .keys()
                .copied()
                .filter(|i| upper_bound(*i, schema) <= zt)
                .collect();
            for i in inside {
                zero += m.remove(&i).unwrap_or(0.0);
            }
        }
    }
    let (positive_spans, positive_buckets) = collapse(&pos);
    let (negative_spans, negative_buckets) = collapse(&neg);
    Ok(FloatHistogram {
        counter_reset_hint: if sign < 0.0 {
            CounterResetHint::Gauge
        } else {
            a.counter_reset_hint
        },
        schema,
        zero_threshold: zt,
        zero_count: zero,
        count: a.count + sign * b.count,
        sum: a.sum + sign * b.sum,
        positive_spans,
        negative_spans,
        positive_buckets,
        negative_buckets,
        custom_values: a.custom_values.clone(),
    })
}

/// `a + b`.
pub(crate) fn add(
    a: &FloatHistogram,
    b: &FloatHistogram,
) -> std::result::Result<FloatHistogram, String> {
    combine(a, b, 1.0)
}

/// `a - b`.
pub(crate) fn sub(
    a: &FloatHistogram,
    b: &FloatHistogram,
) -> std::result::Result<FloatHistogram, String> {
    combine(a, b, -1.0)
}

/// Equality of value (layouts may differ).
pub(crate) fn equals(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
    a.schema == b.schema
        && same(a.count, b.count)
        && same(a.sum, b.sum)
        && a.zero_threshold == b.zero_threshold
        && same(a.zero_count, b.zero_count)
        && a.custom_values == b.custom_values
        && collapse(&expand(&a.positive_spans, &a.positive_buckets))
            == collapse(&expand(&b.positive_spans, &b.positive_buckets))
        && collapse(&expand(&a.negative_spans, &a.negative_buckets))
            == collapse(&expand(&b.negative_spans, &b.negative_buckets))
}

/// Whether `cur` shows a counter reset against `prev`: an explicit hint, or any count
/// that went down.
pub(crate) fn detect_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    match cur.counter_reset_hint {
        CounterResetHint::CounterReset => return true,
        CounterResetHint::NotCounterReset | CounterResetHint::Gauge => return false,
        CounterResetHint::Unknown => {}
    }
    if cur.count < prev.count || cur.zero_count < prev.zero_count {
        return true;
    }
    if cur.schema != prev.schema
        && (cur.schema == CUSTOM_BUCKETS_SCHEMA) != (prev.schema == CUSTOM_BUCKETS_SCHEMA)
    {
        return true;
    }
    if cur.schema == CUSTOM_BUCKETS_SCHEMA && cur.custom_values != prev.custom_values {
        return true;
    }
    let schema = cur.schema.min(prev.schema);
    for (cs, cb, ps, pb) in [
        (
            &cur.positive_spans,
            &cur.positive_buckets,
            &prev.positive_spans,
            &prev.positive_buckets,
        ),
        (
            &cur.negative_spans,
            &cur.negative_buckets,
            &prev.negative_spans,
            &prev.negative_buckets,
        ),
    ] {
        let c = reduce(expand(cs, cb), cur.schema, schema);
        let p = reduce(expand(ps, pb), prev.schema, schema);
        if p.iter().any(|(i, v)| c.get(i).copied().unwrap_or(0.0) < *v) {
            return true;
        }
    }
    false
}

/// The increase over a range of histograms, resets accounted for.
pub(crate) fn histogram_rate(
    points: &[crate::value::HPoint],
    is_counter: bool,
) -> std::result::Result<(FloatHistogram, Option<String>), String> {
    let first = &points[0].h;
    let last = &points[points.len() - 1].h;
    let mut warn = None;
    if is_counter
        && points
            .iter()
            .any(|p| p.h.counter_reset_hint == CounterResetHint::Gauge)
    {
        warn = Some("this native histogram metric is not a counter:".to_string());
    }
    let mut h = sub(last, first)?;
    if is_counter {
        for w in points.windows(2) {
            if detect_reset(&w[1].h, &w[0].h) {
                h = add(&h, &w[0].h)?;
            }
        }
    } else if first.counter_reset_hint != CounterResetHint::Gauge
        || last.counter_reset_hint != CounterResetHint::Gauge
    {
        warn = Some("this native histogram metric is not a gauge:".to_string());
    }
    h.counter_reset_hint = CounterResetHint::Gauge;
    Ok((h, warn))
}

/// Upper bound of exponential bucket `i` at `schema`.
fn upper_bound(i: i32, schema: i32) -> f64 {
    2f64.powf(i as f64 * 2f64.powi(-schema))
}

/// Prometheus's text form of a float histogram (used as a label value by
/// `count_values`).
pub(crate) fn to_string(h: &FloatHistogram) -> String {
    format!("{{count:{}, sum:{}}}", format_f(h.count), format_f(h.sum))
}

pub(crate) fn dispatch(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Option<Result<Value>> {
    Some(match name {
        "histogram_count" => map_hist(ev, c, |h| Some(h.count)),
        "histogram_sum" => map_hist(ev, c, |h| Some(h.sum)),
        "histogram_avg" => map_hist(ev, c, |h| Some(h.sum / h.count)),
        "histogram_quantile" => instant(ev, c, histogram_quantile),
        _ => return None,
    })
}

fn map_hist(
    ev: &mut Evaluator<'_>,
    c: &Call,
    g: fn(&FloatHistogram) -> Option<f64>,
) -> Result<Value> {
    instant(ev, c, move |_, _, v, _, out| {
        for s in &v[0] {
            if let Some(h) = &s.h
                && let Some(f) = g(h)
            {
                out.push(Sample::float(drop_name(&s.metric), 0, f));
            }
        }
        Ok(())
    })
}

/// Parses an `le` value as Prometheus does (Go float syntax, `+Inf`).
fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        x => x.parse::<f64>().ok(),
    }
}

fn histogram_quantile(
    ev: &mut Evaluator<'_>,
    c: &Call,
    v: &[Vector],
    _ts: i64,
    out: &mut Vector,
) -> Result<()> {
    let q = scalar_of(&v[0]);
    let pos = c.args[0].pos_range().start;
    if !(0.0..=1.0).contains(&q) && !q.is_nan() {
        ev.warn_at(
            format!(
                "quantile value should be between 0 and 1, got {}",
                super::go_g(q)
            ),
            pos,
        );
    }
    let mut groups: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
    let mut order: Vec<Labels> = Vec::new();
    let vpos = c.args[1].pos_range().start;
    for s in &v[1] {
        if let Some(h) = &s.h {
            // Native histograms are answered per series.
            let val = native_quantile(q, h);
            out.push(Sample::float(drop_name(&s.metric), 0, val));
            continue;
        }
        let Some(le) = s.metric.get("le").and_then(parse_le) else {
            let raw = s.metric.get_or_empty("le");
            ev.warn_at(
                format!("bucket label \"le\" is missing or has a malformed value of {raw:?} for metric name {:?}", s.metric.metric_name()),
                vpos,
            );
            continue;
        };
        let key = drop_name(&s.metric.without(&["le"]));
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push((le, s.f));
    }
    for key in order {
        let Some(mut buckets) = groups.remove(&key) else {
            continue;
        };
        if out.iter().any(|s| s.metric == key) {
            ev.warn_at(
                "vector contains a mix of classic and native histograms".into(),
                vpos,
            );
            continue;
        }
        let (val, forced) = bucket_quantile(q, &mut buckets);
        if forced {
            ev.info_at(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".into(),
                vpos,
            );
        }
        out.push(Sample::float(key, 0, val));
    }
    Ok(())
}

/// Quantile from classic buckets `(upper bound, cumulative count)`; also says whether
/// counts had to be made monotonic.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Same bound twice: add them up.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(l) if l.0 == b.0 => l.1 += b.1,
            _ => merged.push(*b),
        }
    }
    let mut forced = false;
    let mut max = f64::NEG_INFINITY;
    for b in merged.iter_mut() {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
            forced = true;
        }
    }
    if merged.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|x| x.1 < rank);
    if b == merged.len() - 1 {
        return (merged[merged.len() - 2].0, forced);
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return (merged[0].0, forced);
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Quantile of a native histogram, interpolating linearly within the bucket the rank
/// falls in (custom buckets) or exponentially (exponential buckets), as Prometheus.
fn native_quantile(q: f64, h: &FloatHistogram) -> f64 {
    if q.is_nan() || h.count == 0.0 || h.count.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // Buckets in ascending order of their bounds: (lower, upper, count).
    let mut bs: Vec<(f64, f64, f64)> = Vec::new();
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            let i = i as usize;
            let lo = if i == 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values.get(i - 1).copied().unwrap_or(f64::INFINITY)
            };
            let hi = h.custom_values.get(i).copied().unwrap_or(f64::INFINITY);
            bs.push((lo, hi, c));
        }
    } else {
        let neg = expand(&h.negative_spans, &h.negative_buckets);
        for (i, c) in neg.iter().rev() {
            bs.push((
                -upper_bound(*i, h.schema),
                -upper_bound(*i - 1, h.schema),
                *c,
            ));
        }
        if h.zero_count > 0.0 {
            bs.push((-h.zero_threshold, h.zero_threshold, h.zero_count));
        }
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            bs.push((upper_bound(i - 1, h.schema), upper_bound(i, h.schema), c));
        }
    }
    let rank = q * h.count;
    let mut seen = 0.0;
    for (k, (lo, hi, c)) in bs.iter().enumerate() {
        if seen + c >= rank && *c > 0.0 {
            let frac = (rank - seen) / c;
            let is_zero = h.schema != CUSTOM_BUCKETS_SCHEMA
                && *lo == -h.zero_threshold
                && *hi == h.zero_threshold
                && h.zero_count > 0.0;
            if h.schema == CUSTOM_BUCKETS_SCHEMA || is_zero {
                if lo.is_infinite() {
                    return *hi;
                }
                if hi.is_infinite() {
                    return *lo;
                }
                return lo + (hi - lo) * frac;
            }
            let _ = k;
            // Exponential interpolation inside an exponential bucket.
            if *lo > 0.0 {
                return lo * (hi / lo).powf(frac);
            }
            return hi * (lo / hi).powf(1.0 - frac);
        }
        seen += c;
    }
    bs.last().map_or(f64::NAN, |b| b.1)
}
