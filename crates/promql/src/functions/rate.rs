//! `rate`, `increase`, `delta` (extrapolated over the range, with Prometheus's rules
//! for when to extrapolate to the range's edges and to a counter's zero point; or,
//! for `anchored` and `smoothed` ranges, taken between the values at the range's
//! edges) and `irate`, `idelta` (from the last two samples).

use super::{Out, RangeFn, Win};
use crate::eval::Evaluator;
use crate::fhist::{self, Acc};
use crate::value::{FPoint, HPoint};
use ember_model::histogram::{CounterResetHint, FloatHistogram};
use std::sync::Arc;

pub(crate) fn range_fn(name: &str) -> Option<RangeFn> {
    Some(match name {
        "rate" => |ev, w| Ok(extrapolated(ev, w, true, true)),
        "increase" => |ev, w| Ok(extrapolated(ev, w, true, false)),
        "delta" => |ev, w| Ok(extrapolated(ev, w, false, false)),
        "irate" => |ev, w| Ok(instant_value(ev, w, true)),
        "idelta" => |ev, w| Ok(instant_value(ev, w, false)),
        _ => return None,
    })
}

fn warn_mixed(ev: &mut Evaluator<'_>, w: &Win<'_>) {
    ev.annos.warn(
        format!(
            "encountered a mix of histograms and floats for metric name {}",
            w.name()
        ),
        w.pos,
    );
}

fn warn_exp_custom(ev: &mut Evaluator<'_>, name: &str, pos: usize) {
    ev.annos.warn(
        format!("vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name}"),
        pos,
    );
}

fn warn_not_counter(ev: &mut Evaluator<'_>, name: &str, pos: usize) {
    ev.annos.warn(
        format!("this native histogram metric is not a counter: {name}"),
        pos,
    );
}

fn warn_not_gauge(ev: &mut Evaluator<'_>, name: &str, pos: usize) {
    ev.annos.warn(
        format!("this native histogram metric is not a gauge: {name}"),
        pos,
    );
}

fn info_reconciled(ev: &mut Evaluator<'_>, what: &str, pos: usize) {
    ev.annos.info(
        format!("mismatched custom buckets were reconciled during {what}"),
        pos,
    );
}

fn extrapolated(
    ev: &mut Evaluator<'_>,
    w: &Win<'_>,
    is_counter: bool,
    is_rate: bool,
) -> Option<Out> {
    if !w.floats.is_empty() && !w.hists.is_empty() {
        warn_mixed(ev, w);
        return None;
    }
    if w.anchored || w.smoothed {
        if !w.hists.is_empty() {
            return extended_hist_rate(ev, w, is_counter, is_rate);
        }
        return extended_rate(w, is_counter, is_rate);
    }
    if w.hists.is_empty() {
        return extrapolate_floats(
            w.floats,
            w.resets,
            w.range_start,
            w.range_end,
            w.range,
            is_counter,
            is_rate,
        )
        .map(Out::F);
    }
    let n_minus_one = w.hists.len() - 1;
    let first_t = w.hists[0].t;
    let last_t = w.hists[n_minus_one].t;
    if n_minus_one == 0 {
        return None;
    }
    let mut h = histogram_rate(ev, w, w.hists, is_counter)?;
    let mut to_start = (first_t - w.range_start) as f64 / 1000.0;
    let mut to_end = (w.range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / n_minus_one as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter {
        // Counters cannot go below zero: do not extrapolate past the point where
        // the counter would have been zero.
        let mut to_zero = to_start;
        if h.count > 0.0 && w.hists[0].h.count >= 0.0 {
            to_zero = sampled * (w.hists[0].h.count / h.count);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= w.range as f64 / 1000.0;
    }
    fhist::mul(&mut h, factor);
    Some(Out::H(Arc::new(h)))
}

/// `rate`, `increase` or `delta` over a window `(range_start, range_end]` of
/// floats (not empty), extrapolated to the window's edges as Prometheus does.
/// `resets` is either empty or, per point, the running count of counter resets
/// in the series (see [`Win::resets`]), which lets a window without any skip the
/// scan for them.
#[inline]
pub(crate) fn extrapolate_floats(
    floats: &[FPoint],
    resets: &[u32],
    range_start: i64,
    range_end: i64,
    range: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let n_minus_one = floats.len() - 1;
    if n_minus_one == 0 {
        return None;
    }
    let first_t = floats[0].t;
    let last_t = floats[n_minus_one].t;
    let result_f = increase(floats, resets, is_counter);
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / n_minus_one as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter {
        // Counters cannot go below zero: do not extrapolate past the point where
        // the counter would have been zero.
        let mut to_zero = to_start;
        if result_f > 0.0 && floats[0].f >= 0.0 {
            to_zero = sampled * (floats[0].f / result_f);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    Some(result_f * factor(sampled, to_start, to_end, range, is_rate))
}

/// [`extrapolate_floats`] over the windows of a range query, remembering the part
/// that depends only on times: the distances from the window's edges, the
/// sampled interval and the number of points decide the extrapolation factor,
/// and at aligned steps they repeat from window to window, so the six divisions
/// that make the factor are done once per shape rather than once per window.
/// The values are the same as the plain function's, bit for bit: the factor is
/// the same expression of the same inputs, and the counter case where zero cuts
/// the extrapolation short is computed in full whenever it might apply.
#[derive(Default)]
pub(crate) struct Extrapolation {
    /// `(first_t - range_start, range_end - last_t, last_t - first_t, points - 1)`
    /// of the shape remembered.
    key: Option<(i64, i64, i64, usize)>,
    sampled: f64,
    to_start: f64,
    to_end: f64,
    factor: f64,
}

/// The extrapolation factor from the distances to the window's edges, as
/// [`extrapolate_floats`] computes it.
#[inline]
fn factor(sampled: f64, to_start: f64, to_end: f64, range: i64, is_rate: bool) -> f64 {
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    factor
}

impl Extrapolation {
    /// [`extrapolate_floats`] of the same arguments.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn eval(
        &mut self,
        floats: &[FPoint],
        resets: &[u32],
        range_start: i64,
        range_end: i64,
        range: i64,
        is_counter: bool,
        is_rate: bool,
    ) -> Option<f64> {
        let n_minus_one = floats.len() - 1;
        if n_minus_one == 0 {
            return None;
        }
        let (first, last) = (floats[0], floats[n_minus_one]);
        let result_f = increase(floats, resets, is_counter);
        let key = (
            first.t - range_start,
            range_end - last.t,
            last.t - first.t,
            n_minus_one,
        );
        if self.key != Some(key) {
            let mut to_start = key.0 as f64 / 1000.0;
            let mut to_end = key.1 as f64 / 1000.0;
            let sampled = key.2 as f64 / 1000.0;
            let avg = sampled / n_minus_one as f64;
            let threshold = avg * 1.1;
            if to_start >= threshold {
                to_start = avg / 2.0;
            }
            if to_end >= threshold {
                to_end = avg / 2.0;
            }
            *self = Extrapolation {
                key: Some(key),
                sampled,
                to_start,
                to_end,
                factor: factor(sampled, to_start, to_end, range, is_rate),
            };
        }
        if is_counter
            && result_f > 0.0
            && first.f >= 0.0
            && !surely_not_below(self.sampled, first.f, result_f, self.to_start)
        {
            let to_zero = self.sampled * (first.f / result_f);
            if to_zero < self.to_start {
                let f = factor(self.sampled, to_zero, self.to_end, range, is_rate);
                return Some(result_f * f);
            }
        }
        Some(result_f * self.factor)
    }
}

/// Whether `sampled * (f0 / result_f) >= to_start` for sure (all of them not
/// negative, `result_f` positive), judged by multiplying: with a margin far
/// above rounding errors, and only in the range where products do not overflow
/// or lose precision, so that a `true` is never wrong.
#[inline]
fn surely_not_below(sampled: f64, f0: f64, result_f: f64, to_start: f64) -> bool {
    let lhs = f0 * sampled;
    let rhs = to_start * result_f * (1.0 + 1e-9);
    lhs.is_finite() && rhs.is_finite() && (to_start == 0.0 || rhs >= 1e-290) && lhs >= rhs
}

/// The difference between the last and first float of a window, counter resets
/// added back for counters.
#[inline]
fn increase(floats: &[FPoint], resets: &[u32], is_counter: bool) -> f64 {
    let n_minus_one = floats.len() - 1;
    let mut result_f = floats[n_minus_one].f - floats[0].f;
    let no_resets = !resets.is_empty() && resets[0] == resets[n_minus_one];
    if is_counter && !no_resets {
        for p in floats.windows(2) {
            if p[1].f < p[0].f {
                result_f += p[0].f;
            }
        }
    }
    result_f
}

/// The increase over a range of histograms, resets accounted for (Prometheus's
/// `histogramRate`); `None` when the histograms cannot be combined.
fn histogram_rate(
    ev: &mut Evaluator<'_>,
    w: &Win<'_>,
    points: &[HPoint],
    is_counter: bool,
) -> Option<FloatHistogram> {
    let name = w.name();
    let pos = w.pos;
    let last = &points[points.len() - 1].h;
    let mut prev: Arc<FloatHistogram> = points[0].h.clone();
    let mut custom = fhist::is_custom(&prev);
    if is_counter
        && (prev.counter_reset_hint == CounterResetHint::Gauge
            || last.counter_reset_hint == CounterResetHint::Gauge)
    {
        warn_not_counter(ev, &name, pos);
    }
    if is_counter {
        // After a reset between the first two samples the first one does not
        // matter, not even its bucket layout.
        let second = &points[1].h;
        if fhist::detect_reset(second, &prev) {
            prev = Arc::new(FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..Default::default()
            });
            custom = fhist::is_custom(second);
        }
    }
    if fhist::is_custom(last) != custom {
        warn_exp_custom(ev, &name, pos);
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for p in &points[1..points.len() - 1] {
        if !is_counter {
            continue;
        }
        if p.h.counter_reset_hint == CounterResetHint::Gauge {
            warn_not_counter(ev, &name, pos);
        }
        min_schema = min_schema.min(p.h.schema);
        if fhist::is_custom(&p.h) != custom {
            warn_exp_custom(ev, &name, pos);
            return None;
        }
    }
    let mut acc = Acc::new(last);
    acc.reduce_to(min_schema);
    match acc.add(&prev, true, false) {
        Err(_) => {
            warn_exp_custom(ev, &name, pos);
            return None;
        }
        Ok(n) if n.reconciled => info_reconciled(ev, "subtraction", pos),
        Ok(_) => {}
    }
    if is_counter {
        for p in &points[1..] {
            if fhist::detect_reset(&p.h, &prev) {
                match acc.add(&prev, false, false) {
                    Err(_) => {
                        warn_exp_custom(ev, &name, pos);
                        return None;
                    }
                    Ok(n) if n.reconciled => info_reconciled(ev, "addition", pos),
                    Ok(_) => {}
                }
            }
            prev = p.h.clone();
        }
    } else if points[0].h.counter_reset_hint != CounterResetHint::Gauge
        || last.counter_reset_hint != CounterResetHint::Gauge
    {
        warn_not_gauge(ev, &name, pos);
    }
    acc.set_hint(CounterResetHint::Gauge);
    Some(acc.finish())
}

/// Linear interpolation between two points; a counter that went down is taken to
/// have restarted from zero.
pub(crate) fn interpolate(p1: FPoint, p2: FPoint, t: i64, is_counter: bool) -> f64 {
    let mut y1 = p1.f;
    let y2 = p2.f;
    if is_counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// The value at the left edge of a window: the first sample's, or interpolated
/// to the edge when smoothing.
pub(crate) fn pick_left(
    f: &[FPoint],
    first: usize,
    start: i64,
    smoothed: bool,
    counter: bool,
) -> f64 {
    if smoothed && f[first].t < start && first + 1 < f.len() {
        return interpolate(f[first], f[first + 1], start, counter);
    }
    f[first].f
}

/// The value at the right edge of a window.
pub(crate) fn pick_right(
    f: &[FPoint],
    last: usize,
    end: i64,
    smoothed: bool,
    counter: bool,
) -> f64 {
    if smoothed && last > 0 && f[last].t > end {
        return interpolate(f[last - 1], f[last], end, counter);
    }
    f[last].f
}

/// Interpolation between two histograms at `t`; `None` (with a warning) when they
/// cannot be combined.
pub(crate) fn interpolate_hist(
    ev: &mut Evaluator<'_>,
    p1: &HPoint,
    p2: &HPoint,
    t: i64,
    is_counter: bool,
    pos: usize,
    metric_name: &str,
) -> Option<FloatHistogram> {
    if t == p1.t {
        return Some((*p1.h).clone());
    }
    if t == p2.t {
        return Some((*p2.h).clone());
    }
    let fraction = (t - p1.t) as f64 / (p2.t - p1.t) as f64;
    if is_counter && fhist::detect_reset(&p2.h, &p1.h) {
        let mut h = (*p2.h).clone();
        fhist::mul(&mut h, fraction);
        return Some(h);
    }
    let mut acc = Acc::new(&p2.h);
    match acc.add(&p1.h, true, false) {
        Err(_) => {
            warn_exp_custom(ev, &crate::eval::quote(metric_name), pos);
            return None;
        }
        Ok(n) if n.reconciled => info_reconciled(ev, "subtraction", pos),
        Ok(_) => {}
    }
    acc.mul(fraction);
    let diff = acc.finish();
    let mut acc = Acc::new(&diff);
    match acc.add(&p1.h, false, false) {
        Err(_) => {
            warn_exp_custom(ev, &crate::eval::quote(metric_name), pos);
            return None;
        }
        Ok(n) if n.reconciled => info_reconciled(ev, "addition", pos),
        Ok(_) => {}
    }
    Some(acc.finish())
}

/// Indices of the first sample at or before the window start (or 0) and of the
/// last sample (or, smoothing, the first at or after the window end).
fn edge_indices<T>(
    pts: &[T],
    t: impl Fn(&T) -> i64,
    start: i64,
    end: i64,
    smoothed: bool,
) -> (usize, usize) {
    let mut last = pts.len() - 1;
    let first = pts[..last]
        .partition_point(|p| t(p) <= start)
        .saturating_sub(1);
    if smoothed {
        last = pts[..last].partition_point(|p| t(p) < end);
    }
    (first, last)
}

/// `rate`/`increase`/`delta` over an anchored or smoothed float window.
fn extended_rate(w: &Win<'_>, is_counter: bool, is_rate: bool) -> Option<Out> {
    let f = w.floats;
    if f.is_empty() {
        return None;
    }
    let (mut first, mut last) = edge_indices(f, |p| p.t, w.range_start, w.range_end, w.smoothed);
    if f[last].t <= w.range_start {
        return None;
    }
    if w.smoothed && f[first].t > w.range_end {
        return None;
    }
    let left = pick_left(f, first, w.range_start, w.smoothed, is_counter);
    let right = pick_right(f, last, w.range_end, w.smoothed, is_counter);
    let mut result = right - left;
    if is_counter {
        if f[first].t <= w.range_start {
            first += 1;
        }
        let mut hi = last as i64;
        if f[last].t >= w.range_end {
            hi -= 1;
        }
        last = hi.max(0) as usize;
        let inside: &[FPoint] = if hi >= first as i64 {
            &f[first..=last]
        } else {
            &[]
        };
        let mut prev = left;
        for p in inside {
            if p.f < prev {
                result += prev;
            }
            prev = p.f;
        }
        if right < prev {
            result += prev;
        }
    }
    if is_rate {
        result /= w.range as f64 / 1000.0;
    }
    Some(Out::F(result))
}

/// `rate`/`increase`/`delta` over an anchored or smoothed histogram window.
fn extended_hist_rate(
    ev: &mut Evaluator<'_>,
    w: &Win<'_>,
    is_counter: bool,
    is_rate: bool,
) -> Option<Out> {
    let h = w.hists;
    let name = w.name();
    let pos = w.pos;
    let (first, last) = edge_indices(h, |p| p.t, w.range_start, w.range_end, w.smoothed);
    if h[last].t <= w.range_start {
        return None;
    }
    if w.smoothed && h[first].t > w.range_end {
        return None;
    }
    let custom = fhist::is_custom(&h[first].h);
    for p in &h[first..=last] {
        if fhist::is_custom(&p.h) != custom {
            warn_exp_custom(ev, &name, pos);
            return None;
        }
        if is_counter && p.h.counter_reset_hint == CounterResetHint::Gauge {
            warn_not_counter(ev, &name, pos);
        }
    }
    let metric_name = w.metric.metric_name().to_string();
    let left = if w.smoothed && h[first].t < w.range_start && first + 1 < h.len() {
        interpolate_hist(
            ev,
            &h[first],
            &h[first + 1],
            w.range_start,
            is_counter,
            pos,
            &metric_name,
        )?
    } else {
        (*h[first].h).clone()
    };
    let right = if w.smoothed && last > 0 && h[last].t > w.range_end {
        interpolate_hist(
            ev,
            &h[last - 1],
            &h[last],
            w.range_end,
            is_counter,
            pos,
            &metric_name,
        )?
    } else {
        (*h[last].h).clone()
    };
    if !is_counter
        && (left.counter_reset_hint != CounterResetHint::Gauge
            || right.counter_reset_hint != CounterResetHint::Gauge)
    {
        warn_not_gauge(ev, &name, pos);
    }
    let mut acc = Acc::new(&right);
    match acc.add(&left, true, false) {
        Err(_) => {
            warn_exp_custom(ev, &name, pos);
            return None;
        }
        Ok(n) if n.reconciled => info_reconciled(ev, "subtraction", pos),
        Ok(_) => {}
    }
    if is_counter {
        let correction = hist_reset_correction(ev, w, first, last, &left, &right)?;
        if let Some(c) = correction {
            match acc.add(&c, false, false) {
                Err(_) => {
                    warn_exp_custom(ev, &name, pos);
                    return None;
                }
                Ok(n) if n.reconciled => info_reconciled(ev, "addition", pos),
                Ok(_) => {}
            }
        }
    }
    if is_rate {
        acc.div(w.range as f64 / 1000.0);
    }
    acc.set_hint(CounterResetHint::Gauge);
    Some(Out::H(Arc::new(acc.finish())))
}

/// What counter resets inside an anchored or smoothed histogram window add to
/// its increase; `Err` (as `None`) when histograms cannot be combined.
fn hist_reset_correction(
    ev: &mut Evaluator<'_>,
    w: &Win<'_>,
    first_idx: usize,
    last_idx: usize,
    left: &FloatHistogram,
    right: &FloatHistogram,
) -> Option<Option<FloatHistogram>> {
    let h = w.hists;
    let mut first = first_idx + 1;
    let mut prev: FloatHistogram = left.clone();
    if w.smoothed
        && h[first_idx].t < w.range_start
        && first_idx + 1 < h.len()
        && fhist::detect_reset(&h[first_idx + 1].h, &h[first_idx].h)
    {
        // The left interpolation already spans this reset.
        prev = (*h[first_idx + 1].h).clone();
        first += 1;
    }
    // The last sample is the right edge itself; its reset is checked below.
    let last = last_idx as i64 - 1;
    if first as i64 > last + 1 {
        return Some(None);
    }
    let mut correction: Option<Acc> = None;
    let name = w.name();
    let mut add = |ev: &mut Evaluator<'_>, c: &FloatHistogram| -> bool {
        match correction.as_mut() {
            None => {
                correction = Some(Acc::new(c));
                true
            }
            Some(acc) => match acc.add(c, false, false) {
                Err(_) => {
                    warn_exp_custom(ev, &name, w.pos);
                    false
                }
                Ok(n) => {
                    if n.reconciled {
                        info_reconciled(ev, "addition", w.pos);
                    }
                    true
                }
            },
        }
    };
    if last >= first as i64 {
        for p in &h[first..=last as usize] {
            if fhist::detect_reset(&p.h, &prev) && !add(ev, &prev) {
                return None;
            }
            prev = (*p.h).clone();
        }
    }
    if fhist::detect_reset(right, &prev) && !add(ev, &prev) {
        return None;
    }
    Some(correction.map(|a| a.finish()))
}

fn instant_value(ev: &mut Evaluator<'_>, w: &Win<'_>, is_rate: bool) -> Option<Out> {
    if w.floats.len() + w.hists.len() < 2 {
        return None;
    }
    // The last two samples, whichever kind they are, oldest first.
    #[derive(Clone)]
    struct P {
        t: i64,
        f: f64,
        h: Option<Arc<FloatHistogram>>,
    }
    let mut ss: Vec<P> = w
        .floats
        .iter()
        .skip(w.floats.len().saturating_sub(2))
        .map(|p| P {
            t: p.t,
            f: p.f,
            h: None,
        })
        .collect();
    for p in w.hists.iter().skip(w.hists.len().saturating_sub(2)) {
        let s = P {
            t: p.t,
            f: 0.0,
            h: Some(p.h.clone()),
        };
        match ss.len() {
            0 => ss.push(s),
            1 => {
                if s.t < ss[0].t {
                    ss.insert(0, s);
                } else {
                    ss.push(s);
                }
            }
            _ => {
                if s.t < ss[0].t {
                } else if s.t > ss[1].t {
                    ss[0] = ss[1].clone();
                    ss[1] = s;
                } else {
                    ss[0] = s;
                }
            }
        }
    }
    let (s0, s1) = (&ss[0], &ss[1]);
    let dt = s1.t - s0.t;
    if dt == 0 {
        return None;
    }
    let name = w.name();
    let out = match (&s0.h, &s1.h) {
        (None, None) => {
            let mut v = s1.f;
            if !is_rate || s1.f >= s0.f || s1.f.is_nan() || s0.f.is_nan() {
                v = s1.f - s0.f;
            }
            if is_rate {
                v /= dt as f64 / 1000.0;
            }
            Out::F(v)
        }
        (Some(h0), Some(h1)) => {
            if is_rate
                && (h1.counter_reset_hint == CounterResetHint::Gauge
                    || h0.counter_reset_hint == CounterResetHint::Gauge)
            {
                warn_not_counter(ev, &name, w.pos);
            }
            if !is_rate
                && (h1.counter_reset_hint != CounterResetHint::Gauge
                    || h0.counter_reset_hint != CounterResetHint::Gauge)
            {
                warn_not_gauge(ev, &name, w.pos);
            }
            let mut r = if !is_rate || !fhist::detect_reset(h1, h0) {
                let mut acc = Acc::new(h1);
                match acc.add(h0, true, false) {
                    Err(_) => {
                        warn_exp_custom(ev, &name, w.pos);
                        return None;
                    }
                    Ok(n) if n.reconciled => info_reconciled(ev, "subtraction", w.pos),
                    Ok(_) => {}
                }
                acc.finish()
            } else {
                let mut h = (**h1).clone();
                fhist::compact(&mut h);
                h
            };
            r.counter_reset_hint = CounterResetHint::Gauge;
            if is_rate {
                fhist::div(&mut r, dt as f64 / 1000.0);
            }
            Out::H(Arc::new(r))
        }
        _ => {
            warn_mixed(ev, w);
            return None;
        }
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_extrapolation_is_the_plain_one() {
        // A small deterministic generator; values near zero, counters that start
        // near zero, resets, huge and tiny magnitudes, irregular times.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let scales = [1.0, 1e-300, 1e-9, 1e3, 1e300, 0.0];
        for case in 0..4000 {
            let scale = scales[case % scales.len()];
            let n = 2 + (next() % 30) as usize;
            let mut t = (next() % 100_000) as i64;
            let mut v = if case % 3 == 0 {
                0.0
            } else {
                (next() % 50) as f64 * scale
            };
            let mut floats = Vec::with_capacity(n);
            for _ in 0..n {
                floats.push(FPoint { t, f: v });
                t += if case % 4 == 0 {
                    15_000
                } else {
                    1 + (next() % 30_000) as i64
                };
                v = match next() % 10 {
                    0 => (next() % 5) as f64 * scale,
                    1 => -v,
                    _ => v + (next() % 100) as f64 * scale / 7.0,
                };
            }
            let mut resets = vec![0u32];
            let mut r = 0;
            for w in floats.windows(2) {
                r += u32::from(w[1].f < w[0].f);
                resets.push(r);
            }
            let range = 60_000 + (next() % 300_000) as i64;
            let range_end = floats[n - 1].t + (next() % 20_000) as i64;
            let range_start = range_end - range;
            let first = floats.partition_point(|p| p.t <= range_start);
            let w = &floats[first..];
            if w.is_empty() {
                continue;
            }
            let rs: &[u32] = if case % 2 == 0 { &resets[first..] } else { &[] };
            let mut memo = Extrapolation::default();
            for (is_counter, is_rate) in [(true, true), (true, false), (false, false)] {
                for _ in 0..2 {
                    let a = extrapolate_floats(
                        w,
                        rs,
                        range_start,
                        range_end,
                        range,
                        is_counter,
                        is_rate,
                    );
                    let b = memo.eval(w, rs, range_start, range_end, range, is_counter, is_rate);
                    assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "case {case}");
                }
                memo = Extrapolation::default();
            }
        }
    }

    #[test]
    fn interpolation_restarts_counters_from_zero() {
        let a = FPoint { t: 0, f: 10.0 };
        let b = FPoint { t: 10, f: 20.0 };
        assert_eq!(interpolate(a, b, 5, true), 15.0);
        let c = FPoint { t: 10, f: 4.0 };
        assert_eq!(interpolate(a, c, 5, true), 2.0);
        assert_eq!(interpolate(a, c, 5, false), 7.0);
    }

    #[test]
    fn edges_of_smoothed_windows_are_interpolated() {
        let f = [
            FPoint { t: 0, f: 0.0 },
            FPoint { t: 10, f: 10.0 },
            FPoint { t: 20, f: 20.0 },
        ];
        assert_eq!(pick_left(&f, 0, 5, true, false), 5.0);
        assert_eq!(pick_left(&f, 0, 5, false, false), 0.0);
        assert_eq!(pick_right(&f, 2, 15, true, false), 15.0);
    }
}
