//! Float native histogram arithmetic with Prometheus's semantics: addition and
//! subtraction (schema reduction, zero-bucket widening, custom-bucket
//! reconciliation, counter-reset hint merging), Kahan-compensated accumulation,
//! counter-reset detection, bucket iteration with bounds, trimming and the text
//! form.
//!
//! Results are always compact (no empty buckets): Prometheus compares and prints
//! histograms after compacting them, so the layout of empty buckets never shows,
//! and working on bucket maps keyed by index keeps the code free of span surgery.

use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};
use std::collections::BTreeMap;

/// Kahan–Neumaier compensated increment, as Prometheus's `kahansum.Inc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Whether `h` has custom bucket bounds.
pub(crate) fn is_custom(h: &FloatHistogram) -> bool {
    h.schema == CUSTOM_BUCKETS_SCHEMA
}

/// Exponential and custom-bucket histograms cannot be combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Incompatible;

/// What an addition or subtraction noticed besides its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notes {
    /// One side said "counter reset", the other "no counter reset".
    pub(crate) collision: bool,
    /// Custom bucket bounds differed and were reduced to the common ones.
    pub(crate) reconciled: bool,
}

/// `x * 2^exp` without overflowing the intermediate power.
fn ldexp(mut x: f64, mut exp: i64) -> f64 {
    while exp > 1000 {
        x *= 2f64.powi(1000);
        exp -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    while exp < -1000 {
        x *= 2f64.powi(-1000);
        exp += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * 2f64.powi(exp as i32)
}

/// Upper bound of bucket `idx` of an exponential schema. The last finite bucket
/// ends at `f64::MAX` so that the bucket above it counts only infinities.
pub(crate) fn exp_bound(idx: i32, schema: i32) -> f64 {
    if !(-8..=8).contains(&schema) {
        // Outside the schemas Prometheus defines; only reachable with corrupt data.
        return 2f64.powf(idx as f64 * 2f64.powi(-schema));
    }
    if schema < 0 {
        let exp = (idx as i64) << (-schema);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let frac_idx = idx & ((1 << schema) - 1);
    let frac = (frac_idx as f64 / (1i64 << schema) as f64).exp2() / 2.0;
    let exp = (idx >> schema) as i64 + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// Upper bound of bucket `idx` in `schema` (custom bounds end with +Inf).
pub(crate) fn bound(idx: i32, schema: i32, custom: &[f64]) -> f64 {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        if idx < 0 {
            return f64::NEG_INFINITY;
        }
        return custom.get(idx as usize).copied().unwrap_or(f64::INFINITY);
    }
    exp_bound(idx, schema)
}

/// The index of bucket `idx` of schema `from` in the coarser schema `to`.
fn target_idx(idx: i32, from: i32, to: i32) -> i32 {
    let shift = (from as i64 - to as i64).clamp(0, 63);
    (((idx as i64 - 1) >> shift) + 1) as i32
}

/// `(index, count)` of every bucket the spans list, in index order.
pub(crate) fn side(spans: &[Span], buckets: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(buckets.len());
    let mut idx = 0i32;
    let mut bi = 0usize;
    for s in spans {
        idx += s.offset;
        for _ in 0..s.length {
            let Some(&v) = buckets.get(bi) else {
                return out;
            };
            out.push((idx, v));
            bi += 1;
            idx += 1;
        }
    }
    out
}

/// Spans and counts for the non-empty buckets of an index-ordered list.
fn encode(items: impl Iterator<Item = (i32, f64)>) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::new();
    let mut next: Option<i32> = None;
    for (i, v) in items {
        if v == 0.0 {
            continue;
        }
        match next {
            Some(n) if n == i => {
                if let Some(s) = spans.last_mut() {
                    s.length += 1;
                }
            }
            Some(n) => spans.push(Span {
                offset: i - n,
                length: 1,
            }),
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

/// `h` without empty buckets (Prometheus's `Compact(0)`).
pub(crate) fn compact(h: &mut FloatHistogram) {
    let (ps, pb) = encode(side(&h.positive_spans, &h.positive_buckets).into_iter());
    let (ns, nb) = encode(side(&h.negative_spans, &h.negative_buckets).into_iter());
    h.positive_spans = ps;
    h.positive_buckets = pb;
    h.negative_spans = ns;
    h.negative_buckets = nb;
}

/// One bucket with its bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) lower: f64,
    pub(crate) upper: f64,
    pub(crate) lower_inclusive: bool,
    pub(crate) upper_inclusive: bool,
    pub(crate) count: f64,
}

fn make_bucket(idx: i32, count: f64, positive: bool, h: &FloatHistogram) -> Bucket {
    let (lower, upper) = if positive {
        (
            bound(idx - 1, h.schema, &h.custom_values),
            bound(idx, h.schema, &h.custom_values),
        )
    } else {
        (
            -bound(idx, h.schema, &h.custom_values),
            -bound(idx - 1, h.schema, &h.custom_values),
        )
    };
    let (lower_inclusive, upper_inclusive) = if is_custom(h) {
        (idx == 0, true)
    } else {
        (lower < 0.0, upper > 0.0)
    };
    Bucket {
        lower,
        upper,
        lower_inclusive,
        upper_inclusive,
        count,
    }
}

/// Positive buckets, lowest first.
pub(crate) fn positive_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    side(&h.positive_spans, &h.positive_buckets)
        .into_iter()
        .map(|(i, c)| make_bucket(i, c, true, h))
        .collect()
}

/// Negative buckets, nearest to zero first.
pub(crate) fn negative_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    if is_custom(h) {
        return Vec::new();
    }
    side(&h.negative_spans, &h.negative_buckets)
        .into_iter()
        .map(|(i, c)| make_bucket(i, c, false, h))
        .collect()
}

fn zero_bucket(h: &FloatHistogram) -> Bucket {
    Bucket {
        lower: -h.zero_threshold,
        upper: h.zero_threshold,
        lower_inclusive: true,
        upper_inclusive: true,
        count: h.zero_count,
    }
}

/// A bucket next to the zero bucket may overlap it; its bound is moved to the
/// zero threshold, as Prometheus's all-bucket iterators do.
fn clamp_to_zero_bucket(mut b: Bucket, zt: f64) -> Bucket {
    if b.upper < 0.0 && b.upper > -zt {
        b.upper = -zt;
    } else if b.lower > 0.0 && b.lower < zt {
        b.lower = zt;
    }
    b
}

/// Every bucket (negative, zero if populated, positive) in ascending order.
pub(crate) fn all_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let zt = h.zero_threshold;
    let mut out: Vec<Bucket> = negative_buckets(h)
        .into_iter()
        .rev()
        .map(|b| clamp_to_zero_bucket(b, zt))
        .collect();
    if h.zero_count > 0.0 && !is_custom(h) {
        out.push(zero_bucket(h));
    }
    out.extend(
        positive_buckets(h)
            .into_iter()
            .map(|b| clamp_to_zero_bucket(b, zt)),
    );
    out
}

/// Every bucket in descending order.
pub(crate) fn all_buckets_reverse(h: &FloatHistogram) -> Vec<Bucket> {
    let mut v = all_buckets(h);
    v.reverse();
    v
}

/// Multiplies every count and the sum by `f`; a negative factor makes a gauge.
pub(crate) fn mul(h: &mut FloatHistogram, f: f64) {
    h.zero_count *= f;
    h.count *= f;
    h.sum *= f;
    for b in h
        .positive_buckets
        .iter_mut()
        .chain(h.negative_buckets.iter_mut())
    {
        *b *= f;
    }
    if f < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Divides every count and the sum by `f`; dividing by zero removes the buckets.
pub(crate) fn div(h: &mut FloatHistogram, f: f64) {
    h.zero_count /= f;
    h.count /= f;
    h.sum /= f;
    if f == 0.0 {
        h.positive_buckets.clear();
        h.negative_buckets.clear();
        h.positive_spans.clear();
        h.negative_spans.clear();
        return;
    }
    for b in h
        .positive_buckets
        .iter_mut()
        .chain(h.negative_buckets.iter_mut())
    {
        *b /= f;
    }
    if f < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Counter-reset hint of a sum or difference; `true` on a reset/no-reset clash.
fn adjust_hint(h: &mut CounterResetHint, other: CounterResetHint) -> bool {
    use CounterResetHint::*;
    match (*h, other) {
        (a, b) if a == b => false,
        (Gauge, _) => false,
        (_, Gauge) => {
            *h = Gauge;
            false
        }
        (Unknown, _) => false,
        (_, Unknown) => {
            *h = Unknown;
            false
        }
        _ => {
            *h = Unknown;
            true
        }
    }
}

/// The common custom bounds of two histograms.
fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Index in `target` bounds that the custom bucket `idx` of `bounds` falls into.
fn reconciled_index(idx: i32, bounds: &[f64], target: &[f64]) -> i32 {
    let Some(&b) = (idx >= 0).then(|| bounds.get(idx as usize)).flatten() else {
        return target.len() as i32;
    };
    target.partition_point(|t| *t < b) as i32
}

/// Counts of a bucket map: value and Kahan compensation.
type Counts = BTreeMap<i32, (f64, f64)>;

/// A histogram being accumulated, with optional Kahan compensation.
#[derive(Clone, Debug)]
pub(crate) struct Acc {
    hint: CounterResetHint,
    schema: i32,
    zt: f64,
    zc: (f64, f64),
    count: (f64, f64),
    sum: (f64, f64),
    pos: Counts,
    neg: Counts,
    custom: Vec<f64>,
    /// The hint the compensation term was created with, once it exists (the final
    /// `value + compensation` merges hints as an addition does).
    comp_hint: Option<CounterResetHint>,
}

fn counts_of(spans: &[Span], buckets: &[f64]) -> Counts {
    let mut m = Counts::new();
    for (i, v) in side(spans, buckets) {
        m.entry(i).or_insert((0.0, 0.0)).0 += v;
    }
    m
}

/// The zero count a histogram would have with the larger threshold `larger`, and
/// the threshold actually needed (widened to a bucket bound when `larger` falls
/// inside a populated bucket). With `kahan`, compensations join the sum.
fn zero_count_for_larger(
    pos: &Counts,
    neg: &Counts,
    schema: i32,
    zc: (f64, f64),
    mut larger: f64,
    kahan: bool,
) -> ((f64, f64), f64) {
    'outer: loop {
        let mut z = zc;
        for (&i, &(v, c)) in pos {
            let (lower, upper) = (exp_bound(i - 1, schema), exp_bound(i, schema));
            if lower >= larger {
                break;
            }
            z = kahan_inc(v, z.0, z.1);
            if kahan {
                z = kahan_inc(c, z.0, z.1);
            }
            if upper > larger {
                if v != 0.0 {
                    larger = upper;
                }
                break;
            }
        }
        for (&i, &(v, c)) in neg {
            let (abs_lower, abs_upper) = (exp_bound(i - 1, schema), exp_bound(i, schema));
            if abs_lower >= larger {
                break;
            }
            z = kahan_inc(v, z.0, z.1);
            if kahan {
                z = kahan_inc(c, z.0, z.1);
            }
            if abs_upper > larger {
                if v != 0.0 {
                    larger = abs_upper;
                    continue 'outer;
                }
                break;
            }
        }
        return (z, larger);
    }
}

/// Reduces a bucket map to a coarser schema. With `kahan`, values and
/// compensations of merged buckets are summed with compensation.
fn reduce(m: &Counts, from: i32, to: i32, kahan: bool) -> Counts {
    if from == to {
        return m.clone();
    }
    let mut out = Counts::new();
    for (&i, &(v, c)) in m {
        let t = target_idx(i, from, to);
        match out.get_mut(&t) {
            None => {
                out.insert(t, (v, c));
            }
            Some(e) => {
                if kahan {
                    *e = kahan_inc(v, e.0, e.1);
                    *e = kahan_inc(c, e.0, e.1);
                } else {
                    e.0 += v;
                    e.1 += c;
                }
            }
        }
    }
    out
}

fn add_count(e: &mut (f64, f64), v: f64, c: f64, kahan: bool) {
    if kahan {
        *e = kahan_inc(v, e.0, e.1);
        if c != 0.0 {
            *e = kahan_inc(c, e.0, e.1);
        }
    } else {
        e.0 += v;
    }
}

impl Acc {
    /// Starts from `h`, without compensation.
    pub(crate) fn new(h: &FloatHistogram) -> Acc {
        let custom = is_custom(h);
        Acc {
            hint: h.counter_reset_hint,
            schema: h.schema,
            zt: if custom { 0.0 } else { h.zero_threshold },
            zc: (if custom { 0.0 } else { h.zero_count }, 0.0),
            count: (h.count, 0.0),
            sum: (h.sum, 0.0),
            pos: counts_of(&h.positive_spans, &h.positive_buckets),
            neg: if custom {
                Counts::new()
            } else {
                counts_of(&h.negative_spans, &h.negative_buckets)
            },
            custom: if custom {
                h.custom_values.clone()
            } else {
                Vec::new()
            },
            comp_hint: None,
        }
    }

    fn is_custom(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Adds (or, with `negate`, subtracts) `other`. With `kahan`, counts are summed
    /// with compensation, as Prometheus's `KahanAdd`.
    pub(crate) fn add(
        &mut self,
        other: &FloatHistogram,
        negate: bool,
        kahan: bool,
    ) -> Result<Notes, Incompatible> {
        if self.is_custom() != is_custom(other) {
            return Err(Incompatible);
        }
        let mut notes = Notes {
            collision: adjust_hint(&mut self.hint, other.counter_reset_hint),
            reconciled: false,
        };
        if kahan && self.comp_hint.is_none() {
            self.comp_hint = Some(self.hint);
        }
        let sign = if negate { -1.0 } else { 1.0 };
        let mut other_pos = counts_of(&other.positive_spans, &other.positive_buckets);
        if !self.is_custom() {
            let mut other_neg = counts_of(&other.negative_spans, &other.negative_buckets);
            // Widen both zero buckets until they agree.
            let (mut ozc, mut ozt) = (other.zero_count, other.zero_threshold);
            while ozt != self.zt && !ozt.is_nan() && !self.zt.is_nan() {
                if self.zt > ozt {
                    let (z, t) = zero_count_for_larger(
                        &other_pos,
                        &other_neg,
                        other.schema,
                        (other.zero_count, 0.0),
                        self.zt,
                        false,
                    );
                    ozc = z.0;
                    ozt = t;
                }
                if ozt > self.zt {
                    let (z, t) = zero_count_for_larger(
                        &self.pos,
                        &self.neg,
                        self.schema,
                        self.zc,
                        ozt,
                        kahan,
                    );
                    self.zc = if kahan { z } else { (z.0, self.zc.1) };
                    self.zt = t;
                    let (schema, zt) = (self.schema, self.zt);
                    let inside = |i: &i32| exp_bound(*i - 1, schema) < zt;
                    self.pos.retain(|i, _| !inside(i));
                    self.neg.retain(|i, _| !inside(i));
                }
            }
            add_count(&mut self.zc, sign * ozc, 0.0, kahan);
            let (ss, os) = (self.schema, other.schema);
            if os < ss {
                self.pos = reduce(&self.pos, ss, os, kahan);
                self.neg = reduce(&self.neg, ss, os, kahan);
                self.schema = os;
            } else if os > ss {
                other_pos = reduce(&other_pos, os, ss, kahan);
                other_neg = reduce(&other_neg, os, ss, kahan);
            }
            let (schema, zt) = (self.schema, self.zt);
            for (mine, theirs) in [(&mut self.pos, other_pos), (&mut self.neg, other_neg)] {
                let mut below = true;
                for (i, (v, c)) in theirs {
                    // Buckets inside the zero bucket were counted there already.
                    if below && exp_bound(i, schema) <= zt {
                        continue;
                    }
                    below = false;
                    match mine.get_mut(&i) {
                        Some(e) => add_count(e, sign * v, sign * c, kahan),
                        None => {
                            mine.insert(i, (sign * v, sign * c));
                        }
                    }
                }
            }
        } else if self.custom == other.custom_values {
            for (i, (v, _)) in other_pos {
                match self.pos.get_mut(&i) {
                    Some(e) => add_count(e, sign * v, 0.0, kahan),
                    None => {
                        self.pos.insert(i, (sign * v, 0.0));
                    }
                }
            }
        } else {
            notes.reconciled = true;
            let target = intersect_bounds(&self.custom, &other.custom_values);
            let mut out = Counts::new();
            for (i, (v, c)) in std::mem::take(&mut self.pos) {
                let e = out
                    .entry(reconciled_index(i, &self.custom, &target))
                    .or_insert((0.0, 0.0));
                *e = kahan_inc(v, e.0, e.1);
                if kahan {
                    *e = kahan_inc(c, e.0, e.1);
                }
            }
            for (i, (v, _)) in other_pos {
                let e = out
                    .entry(reconciled_index(i, &other.custom_values, &target))
                    .or_insert((0.0, 0.0));
                *e = kahan_inc(sign * v, e.0, e.1);
            }
            if !kahan {
                for e in out.values_mut() {
                    e.1 = 0.0;
                }
            }
            out.retain(|_, e| e.0 != 0.0 || e.1 != 0.0);
            self.pos = out;
            self.custom = target;
        }
        add_count(&mut self.count, sign * other.count, 0.0, kahan);
        add_count(&mut self.sum, sign * other.sum, 0.0, kahan);
        Ok(notes)
    }

    /// Lowers the resolution to `schema` (no-op unless it is coarser).
    pub(crate) fn reduce_to(&mut self, schema: i32) {
        if self.is_custom() || schema >= self.schema || schema == CUSTOM_BUCKETS_SCHEMA {
            return;
        }
        self.pos = reduce(&self.pos, self.schema, schema, false);
        self.neg = reduce(&self.neg, self.schema, schema, false);
        self.schema = schema;
    }

    /// Sets the counter-reset hint.
    pub(crate) fn set_hint(&mut self, hint: CounterResetHint) {
        self.hint = hint;
    }

    /// Multiplies values and compensations by `f`.
    pub(crate) fn mul(&mut self, f: f64) {
        let scale = |e: &mut (f64, f64)| {
            e.0 *= f;
            e.1 *= f;
        };
        scale(&mut self.zc);
        scale(&mut self.count);
        scale(&mut self.sum);
        self.pos.values_mut().for_each(scale);
        self.neg.values_mut().for_each(scale);
        if f < 0.0 {
            self.hint = CounterResetHint::Gauge;
        }
    }

    /// Divides values and compensations by `f`; dividing by zero drops buckets.
    pub(crate) fn div(&mut self, f: f64) {
        let scale = |e: &mut (f64, f64)| {
            e.0 /= f;
            e.1 /= f;
        };
        scale(&mut self.zc);
        scale(&mut self.count);
        scale(&mut self.sum);
        if f == 0.0 {
            self.pos.clear();
            self.neg.clear();
            return;
        }
        self.pos.values_mut().for_each(scale);
        self.neg.values_mut().for_each(scale);
        if f < 0.0 {
            self.hint = CounterResetHint::Gauge;
        }
    }

    /// Whether any value overflowed to infinity.
    pub(crate) fn has_overflow(&self) -> bool {
        self.zc.0.is_infinite()
            || self.count.0.is_infinite()
            || self.sum.0.is_infinite()
            || self.pos.values().any(|e| e.0.is_infinite())
            || self.neg.values().any(|e| e.0.is_infinite())
            || self.custom.iter().any(|v| v.is_infinite())
    }

    /// The accumulated histogram: values plus compensations, compacted.
    pub(crate) fn finish(&self) -> FloatHistogram {
        let mut hint = self.hint;
        let with_comp = self.comp_hint.is_some();
        if let Some(ch) = self.comp_hint {
            adjust_hint(&mut hint, ch);
        }
        let v = |e: &(f64, f64)| if with_comp { e.0 + e.1 } else { e.0 };
        let (ps, pb) = encode(self.pos.iter().map(|(i, e)| (*i, v(e))));
        let (ns, nb) = encode(self.neg.iter().map(|(i, e)| (*i, v(e))));
        FloatHistogram {
            counter_reset_hint: hint,
            schema: self.schema,
            zero_threshold: self.zt,
            zero_count: v(&self.zc),
            count: v(&self.count),
            sum: v(&self.sum),
            positive_spans: ps,
            negative_spans: ns,
            positive_buckets: pb,
            negative_buckets: nb,
            custom_values: self.custom.clone(),
        }
    }
}

/// `a + b`, compacted.
pub(crate) fn add(
    a: &FloatHistogram,
    b: &FloatHistogram,
) -> Result<(FloatHistogram, Notes), Incompatible> {
    let mut acc = Acc::new(a);
    let n = acc.add(b, false, false)?;
    Ok((acc.finish(), n))
}

/// `a - b`, compacted; the counter-reset hint is merged as for addition (the `-`
/// operator marks its result a gauge itself).
pub(crate) fn sub(
    a: &FloatHistogram,
    b: &FloatHistogram,
) -> Result<(FloatHistogram, Notes), Incompatible> {
    let mut acc = Acc::new(a);
    let n = acc.add(b, true, false)?;
    Ok((acc.finish(), n))
}

/// Whether `cur` follows a counter reset after `prev` (Prometheus's `DetectReset`).
pub(crate) fn detect_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    match cur.counter_reset_hint {
        CounterResetHint::CounterReset => return true,
        CounterResetHint::NotCounterReset => return false,
        _ => {}
    }
    if cur.count < prev.count {
        return true;
    }
    if is_custom(cur) {
        if !is_custom(prev) {
            return true;
        }
        if cur.custom_values != prev.custom_values {
            return reset_with_mismatched_bounds(cur, prev);
        }
    }
    if cur.schema > prev.schema {
        return true;
    }
    if cur.zero_threshold < prev.zero_threshold {
        return true;
    }
    let custom = is_custom(cur);
    let ppos = counts_of(&prev.positive_spans, &prev.positive_buckets);
    let pneg = if custom {
        Counts::new()
    } else {
        counts_of(&prev.negative_spans, &prev.negative_buckets)
    };
    if !custom {
        let (pz, thr) = if cur.zero_threshold == prev.zero_threshold {
            ((prev.zero_count, 0.0), cur.zero_threshold)
        } else {
            zero_count_for_larger(
                &ppos,
                &pneg,
                prev.schema,
                (prev.zero_count, 0.0),
                cur.zero_threshold,
                false,
            )
        };
        if thr != cur.zero_threshold {
            return true;
        }
        if cur.zero_count < pz.0 {
            return true;
        }
    }
    let zt = cur.zero_threshold;
    let schema = cur.schema;
    let sides = [
        (counts_of(&cur.positive_spans, &cur.positive_buckets), ppos),
        (
            if custom {
                Counts::new()
            } else {
                counts_of(&cur.negative_spans, &cur.negative_buckets)
            },
            pneg,
        ),
    ];
    for (c, p) in sides {
        let p = if custom {
            p
        } else {
            reduce(&p, prev.schema, schema, false)
        };
        for (i, (pv, _)) in p {
            if !custom && exp_bound(i, schema) <= zt {
                continue;
            }
            match c.get(&i) {
                Some((cv, _)) => {
                    if *cv < pv {
                        return true;
                    }
                }
                None => {
                    if pv != 0.0 {
                        return true;
                    }
                }
            }
        }
    }
    false
}

/// Reset detection between custom-bucket histograms with different bounds: the
/// counts between consecutive common bounds must not decrease.
fn reset_with_mismatched_bounds(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    let mut common = intersect_bounds(&cur.custom_values, &prev.custom_values);
    common.push(f64::INFINITY);
    let segment = |h: &FloatHistogram| -> Vec<f64> {
        let mut out = vec![0.0; common.len()];
        for (i, v) in side(&h.positive_spans, &h.positive_buckets) {
            let upper = bound(i, CUSTOM_BUCKETS_SCHEMA, &h.custom_values);
            let k = common.partition_point(|b| *b < upper);
            if let Some(o) = out.get_mut(k) {
                *o += v;
            }
        }
        out
    };
    let (c, p) = (segment(cur), segment(prev));
    c.iter().zip(&p).any(|(a, b)| a < b)
}

/// Value equality in Prometheus's `Equals` sense (bit patterns, same layout of
/// populated buckets).
pub(crate) fn equals(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits();
    if a.schema != b.schema || !same(a.count, b.count) || !same(a.sum, b.sum) {
        return false;
    }
    if is_custom(a) && a.custom_values != b.custom_values {
        return false;
    }
    if a.zero_threshold != b.zero_threshold || !same(a.zero_count, b.zero_count) {
        return false;
    }
    let eq = |x: Vec<(i32, f64)>, y: Vec<(i32, f64)>| {
        x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.0 == q.0 && same(p.1, q.1))
    };
    eq(
        side(&a.positive_spans, &a.positive_buckets),
        side(&b.positive_spans, &b.positive_buckets),
    ) && eq(
        side(&a.negative_spans, &a.negative_buckets),
        side(&b.negative_spans, &b.negative_buckets),
    )
}

/// Go's `%g` (shortest representation, exponent below 1e-4 and from 1e6 on).
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{v}")
}

/// Prometheus's `FloatHistogram.String()`, used as a label value by `count_values`.
pub(crate) fn to_string(h: &FloatHistogram) -> String {
    let mut s = format!("{{count:{}, sum:{}", go_g(h.count), go_g(h.sum));
    let fmt_bucket = |b: &Bucket| {
        format!(
            "{}{},{}{}:{}",
            if b.lower_inclusive { '[' } else { '(' },
            go_g(b.lower),
            go_g(b.upper),
            if b.upper_inclusive { ']' } else { ')' },
            go_g(b.count)
        )
    };
    for b in negative_buckets(h).iter().rev() {
        if b.count != 0.0 {
            s.push_str(", ");
            s.push_str(&fmt_bucket(b));
        }
    }
    if h.zero_count != 0.0 {
        s.push_str(", ");
        s.push_str(&fmt_bucket(&zero_bucket(h)));
    }
    for b in positive_buckets(h) {
        if b.count != 0.0 {
            s.push_str(", ");
            s.push_str(&fmt_bucket(&b));
        }
    }
    s.push('}');
    s
}

/// The part of bucket `b` at or below `v` (strictly inside its finite bounds),
/// linearly or on a logarithmic scale.
pub(crate) fn fraction_below(b: &Bucket, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let (ll, lu, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
    if v > 0.0 {
        return (lv - ll) / (lu - ll);
    }
    1.0 - ((lv - lu) / (ll - lu))
}

fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        if upper > 0.0 {
            return upper / 2.0;
        }
        return upper;
    } else if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let g = (lower * upper).abs().sqrt();
    if positive { g } else { -g }
}

fn zero_if_inf(x: f64) -> f64 {
    if x.is_infinite() { 0.0 } else { x }
}

/// Count kept and midpoint of the kept part for a bucket with an infinite bound.
fn trim_infinite_bucket(upper_trim: bool, b: &Bucket, rhs: f64) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && !b.upper.is_infinite() {
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, zero_if_inf(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && !b.upper.is_infinite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, zero_if_inf(b.upper));
    }
    if upper_trim {
        return (0.0, zero_if_inf(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, zero_if_inf(b.lower))
}

fn trim_bucket(b: &Bucket, rhs: f64, upper_trim: bool, positive: bool, custom: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return trim_infinite_bucket(upper_trim, b, rhs);
    }
    let under = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * fraction_below(b, rhs, custom)
    };
    if upper_trim {
        return (under, midpoint(b.lower, rhs, positive, custom));
    }
    (b.count - under, midpoint(rhs, b.upper, positive, custom))
}

/// `h </ rhs` (keep observations below `rhs`) or `h >/ rhs` (keep those above),
/// interpolating inside the bucket that holds `rhs` and re-estimating the sum.
pub(crate) fn trim(h: &FloatHistogram, rhs: f64, upper_trim: bool) -> FloatHistogram {
    let mut out = h.clone();
    let custom = is_custom(h);
    let (mut count, mut sum) = (0.0, 0.0);
    let mut trimmed = false;
    let (mut has_pos, mut has_neg) = (false, false);
    for positive in [true, false] {
        let buckets = if positive {
            positive_buckets(h)
        } else {
            negative_buckets(h)
        };
        let store = if positive {
            &mut out.positive_buckets
        } else {
            &mut out.negative_buckets
        };
        for (i, b) in buckets.iter().enumerate() {
            if b.count == 0.0 {
                continue;
            }
            if positive {
                has_pos = true;
            } else {
                has_neg = true;
            }
            let keep_all = if upper_trim {
                b.upper <= rhs
            } else {
                b.lower >= rhs
            };
            let partial = if upper_trim {
                b.lower < rhs
            } else {
                b.upper > rhs
            };
            if keep_all {
                count += b.count;
                sum += midpoint(b.lower, b.upper, positive, custom) * b.count;
            } else if partial {
                let (keep, mid) = trim_bucket(b, rhs, upper_trim, positive, custom);
                count += keep;
                sum += mid * keep;
                if let Some(s) = store.get_mut(i)
                    && *s != keep
                {
                    *s = keep;
                    trimmed = true;
                }
            } else if let Some(s) = store.get_mut(i) {
                *s = 0.0;
                trimmed = true;
            }
        }
    }
    if h.zero_count > 0.0 {
        let z = zero_bucket(h);
        let (mut lower, mut upper) = (z.lower, z.upper);
        if has_neg && !has_pos {
            upper = 0.0;
        }
        if has_pos && !has_neg {
            lower = 0.0;
        }
        let (keep, mid) = if upper_trim {
            if rhs <= lower {
                (0.0, 0.0)
            } else if rhs >= upper {
                (z.count, (lower + upper) / 2.0)
            } else {
                (
                    z.count * (rhs - lower) / (upper - lower),
                    (lower + rhs) / 2.0,
                )
            }
        } else if rhs <= lower {
            (z.count, (lower + upper) / 2.0)
        } else if rhs >= upper {
            (0.0, 0.0)
        } else {
            (
                z.count * (upper - rhs) / (upper - lower),
                (rhs + upper) / 2.0,
            )
        };
        if out.zero_count != keep {
            out.zero_count = keep;
            trimmed = true;
        }
        sum += mid * keep;
        count += keep;
    }
    if trimmed {
        out.count = count;
        out.sum = sum;
        compact(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32, offset: i32, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count: buckets.iter().sum(),
            sum: 1.0,
            positive_spans: vec![Span {
                offset,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn exponential_bounds_match_prometheus_table() {
        // Prometheus keeps a table of these; computing them may differ in the
        // last bit, which no comparison in PromQL can notice.
        let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * 4.0 * f64::EPSILON;
        assert_eq!(exp_bound(0, 0), 1.0);
        assert_eq!(exp_bound(1, 0), 2.0);
        assert_eq!(exp_bound(-1, 0), 0.5);
        assert_eq!(exp_bound(2, 1), 2.0);
        assert!(close(exp_bound(1, 1), std::f64::consts::SQRT_2));
        assert!(close(exp_bound(1, 2), 2.0 * 0.5946035575013605));
        assert!(close(exp_bound(3, 3), 2.0 * 0.6484197773255048));
        assert!(close(exp_bound(5, 4), 2.0 * 0.620928906036742));
        assert!(close(exp_bound(11, 4), 2.0 * 0.805245165974627));
        assert!(close(exp_bound(-5, 4), 0.805245165974627));
        assert_eq!(exp_bound(1, -1), 4.0);
        assert_eq!(exp_bound(256, -2), f64::MAX);
        assert_eq!(exp_bound(1024, 0), f64::MAX);
    }

    #[test]
    fn addition_reduces_to_the_coarser_schema() {
        let a = h(1, 1, &[1.0, 2.0]); // buckets (1,√2], (√2,2]
        let b = h(0, 1, &[4.0]); // bucket (1,2]
        let (r, n) = add(&a, &b).unwrap();
        assert_eq!(n, Notes::default());
        assert_eq!(r.schema, 0);
        assert_eq!(side(&r.positive_spans, &r.positive_buckets), vec![(1, 7.0)]);
        assert_eq!(r.count, 7.0);
    }

    #[test]
    fn subtraction_drops_emptied_buckets() {
        let a = h(0, 0, &[1.0, 2.0]);
        let (r, _) = sub(&a, &a).unwrap();
        assert!(r.positive_buckets.is_empty());
        assert_eq!(r.count, 0.0);
    }

    #[test]
    fn zero_threshold_widens_to_a_bucket_bound() {
        let mut a = h(0, 0, &[1.0, 2.0]); // (0.5,1], (1,2]
        a.zero_threshold = 0.0;
        let mut b = h(0, 0, &[0.0]);
        b.zero_threshold = 1.5;
        b.count = 0.0;
        let (r, _) = add(&a, &b).unwrap();
        // 1.5 falls inside the populated (1,2] bucket: the threshold becomes 2.
        assert_eq!(r.zero_threshold, 2.0);
        assert_eq!(r.zero_count, 3.0);
        assert!(r.positive_buckets.is_empty());
    }

    #[test]
    fn custom_bounds_are_reconciled_to_the_common_ones() {
        let mut a = h(CUSTOM_BUCKETS_SCHEMA, 0, &[1.0, 2.0, 3.0]);
        a.custom_values = vec![1.0, 2.0];
        let mut b = h(CUSTOM_BUCKETS_SCHEMA, 0, &[1.0, 1.0]);
        b.custom_values = vec![2.0];
        let (r, n) = add(&a, &b).unwrap();
        assert!(n.reconciled);
        assert_eq!(r.custom_values, vec![2.0]);
        assert_eq!(
            side(&r.positive_spans, &r.positive_buckets),
            vec![(0, 4.0), (1, 4.0)]
        );
        let e = FloatHistogram::default();
        assert_eq!(add(&a, &e), Err(Incompatible));
    }

    #[test]
    fn counter_reset_hints_merge_and_collide() {
        let mut a = h(0, 0, &[1.0]);
        a.counter_reset_hint = CounterResetHint::CounterReset;
        let mut b = a.clone();
        b.counter_reset_hint = CounterResetHint::NotCounterReset;
        let (r, n) = add(&a, &b).unwrap();
        assert!(n.collision);
        assert_eq!(r.counter_reset_hint, CounterResetHint::Unknown);
        b.counter_reset_hint = CounterResetHint::Gauge;
        assert_eq!(
            add(&a, &b).unwrap().0.counter_reset_hint,
            CounterResetHint::Gauge
        );
    }

    #[test]
    fn kahan_sum_compensates() {
        let a = h(0, 0, &[1e16]);
        let b = h(0, 0, &[1.0]);
        let c = h(0, 0, &[-1e16]);
        let mut acc = Acc::new(&a);
        acc.add(&b, false, true).unwrap();
        acc.add(&c, false, true).unwrap();
        let r = acc.finish();
        assert_eq!(side(&r.positive_spans, &r.positive_buckets), vec![(0, 1.0)]);
    }

    #[test]
    fn resets_are_detected() {
        let a = h(0, 0, &[1.0, 2.0]);
        let b = h(0, 0, &[1.0, 1.0]);
        assert!(detect_reset(&b, &a));
        assert!(!detect_reset(&a, &b));
        let c = h(0, 1, &[5.0]);
        assert!(detect_reset(&c, &a)); // bucket 0 disappeared
    }

    #[test]
    fn text_form_matches_go() {
        let mut a = h(0, 0, &[1.0, 2.0]);
        a.count = 3.0;
        a.sum = 10.0;
        assert_eq!(to_string(&a), "{count:3, sum:10, (0.5,1]:1, (1,2]:2}");
        assert_eq!(go_g(1e6), "1e+06");
        assert_eq!(go_g(123456.0), "123456");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_g(1.1), "1.1");
    }

    #[test]
    fn trimming_interpolates_inside_the_bucket() {
        let mut a = h(CUSTOM_BUCKETS_SCHEMA, 0, &[2.0, 2.0]);
        a.custom_values = vec![10.0];
        let r = trim(&a, 5.0, true);
        // (-Inf,10] with a positive bound is treated as (0,10]: half kept.
        assert_eq!(r.count, 1.0);
        assert!(r.positive_buckets.len() == 1);
    }
}
