//! The checks the head applies to native histograms before taking them:
//! Prometheus 3's `Validate` (which is stricter than a structural check: without a
//! NaN sum the count must equal the buckets' total) and its `Equals`, which decides
//! whether a histogram at the latest timestamp is a harmless repeat or a conflicting
//! duplicate. They live here rather than in `ember-model` because they are the TSDB's
//! acceptance rules, pinned to what Prometheus's head does.

use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Histogram, Span};

/// Exponential schemas Prometheus accepts on append (finer ones only appear in
/// chunks from newer versions and are reduced when read).
const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

fn invalid_schema(s: i32) -> String {
    format!(
        "histogram has an invalid schema, which must be between {EXPONENTIAL_SCHEMA_MIN} and \
         {EXPONENTIAL_SCHEMA_MAX} for exponential buckets, or {CUSTOM_BUCKETS_SCHEMA} for custom \
         buckets, got schema {s}"
    )
}

fn check_spans(spans: &[Span], buckets: usize) -> Result<(), String> {
    let mut n = 0usize;
    for (i, s) in spans.iter().enumerate() {
        if i > 0 && s.offset < 0 {
            return Err(format!(
                "span number {} with offset {}: histogram has a span whose offset is negative",
                i + 1,
                s.offset
            ));
        }
        n += s.length as usize;
    }
    if n != buckets {
        return Err(format!(
            "spans need {n} buckets, have {buckets} buckets: histogram spans specify different \
             number of buckets than provided"
        ));
    }
    Ok(())
}

fn check_custom_bounds(bounds: &[f64], spans: &[Span], buckets: usize) -> Result<(), String> {
    let mut prev = f64::NEG_INFINITY;
    for (i, &b) in bounds.iter().enumerate() {
        if b.is_nan() {
            return Err("custom buckets: histogram custom bounds must not be NaN".into());
        }
        if i > 0 && b <= prev {
            return Err(format!(
                "custom buckets: previous bound is {prev:.6} and current is {b:.6}: histogram \
                 custom bounds must be in strictly increasing order"
            ));
        }
        prev = b;
    }
    if prev == f64::INFINITY {
        return Err(
            "custom buckets: last +Inf bound must not be explicitly defined: histogram custom \
             bounds must be finite"
                .into(),
        );
    }
    let (mut n, mut total) = (0usize, 0i64);
    for (i, s) in spans.iter().enumerate() {
        // Unlike exponential spans, custom-bucket spans index from bucket 0, so even
        // the first offset must not be negative.
        if s.offset < 0 {
            return Err(format!(
                "custom buckets: span number {} with offset {}: histogram has a span whose \
                 offset is negative",
                i + 1,
                s.offset
            ));
        }
        n += s.length as usize;
        total += s.length as i64 + s.offset as i64;
    }
    if n != buckets {
        return Err(format!(
            "custom buckets: spans need {n} buckets, have {buckets} buckets: histogram spans \
             specify different number of buckets than provided"
        ));
    }
    if (bounds.len() as i64 + 1) < total {
        return Err(format!(
            "custom buckets: only {} custom bounds defined which is insufficient to cover total \
             span length of {total}: histogram custom bounds are too few",
            bounds.len()
        ));
    }
    Ok(())
}

/// Checks the custom-bucket rules shared by both histogram forms.
fn check_custom_layout(
    custom_values: &[f64],
    positive_spans: &[Span],
    positive_buckets: usize,
    zero_count_is_zero: bool,
    zero_threshold: f64,
    negative: (usize, usize),
) -> Result<(), String> {
    check_custom_bounds(custom_values, positive_spans, positive_buckets)?;
    if !zero_count_is_zero {
        return Err("custom buckets: must have zero count of 0".into());
    }
    if zero_threshold != 0.0 {
        return Err("custom buckets: must have zero threshold of 0".into());
    }
    if negative.0 > 0 {
        return Err("custom buckets: must not have negative spans".into());
    }
    if negative.1 > 0 {
        return Err("custom buckets: must not have negative buckets".into());
    }
    Ok(())
}

/// Sums delta-encoded bucket counts, refusing a negative bucket.
fn sum_delta_buckets(side: &str, deltas: &[i64], total: &mut u64) -> Result<(), String> {
    let mut cur = 0i64;
    for (i, d) in deltas.iter().enumerate() {
        cur = cur.wrapping_add(*d);
        if cur < 0 {
            return Err(format!(
                "{side} side: bucket number {} has observation count of {cur}: histogram has a \
                 bucket whose observation count is negative",
                i + 1
            ));
        }
        *total = total.wrapping_add(cur as u64);
    }
    Ok(())
}

fn check_float_buckets(side: &str, buckets: &[f64]) -> Result<(), String> {
    for (i, c) in buckets.iter().enumerate() {
        if *c < 0.0 {
            return Err(format!(
                "{side} side: bucket number {} has observation count of {c}: histogram has a \
                 bucket whose observation count is negative",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Prometheus's `Histogram.Validate`.
pub(crate) fn validate(h: &Histogram) -> Result<(), String> {
    let (mut n_count, mut p_count) = (0u64, 0u64);
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        check_custom_layout(
            &h.custom_values,
            &h.positive_spans,
            h.positive_buckets.len(),
            h.zero_count == 0,
            h.zero_threshold,
            (h.negative_spans.len(), h.negative_buckets.len()),
        )?;
    } else if (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&h.schema) {
        check_spans(&h.positive_spans, h.positive_buckets.len())
            .map_err(|e| format!("positive side: {e}"))?;
        check_spans(&h.negative_spans, h.negative_buckets.len())
            .map_err(|e| format!("negative side: {e}"))?;
        sum_delta_buckets("negative", &h.negative_buckets, &mut n_count)?;
        if !h.custom_values.is_empty() {
            return Err("histogram with exponential schema must not have custom bounds".into());
        }
    } else {
        return Err(invalid_schema(h.schema));
    }
    sum_delta_buckets("positive", &h.positive_buckets, &mut p_count)?;
    let in_buckets = n_count.wrapping_add(p_count).wrapping_add(h.zero_count);
    if h.sum.is_nan() {
        // NaN observations count without landing in a bucket.
        if in_buckets > h.count {
            return Err(format!(
                "{in_buckets} observations found in buckets, but the Count field is {}: \
                 histogram's observation count should be at least the number of observations \
                 found in the buckets",
                h.count
            ));
        }
    } else if in_buckets != h.count {
        return Err(format!(
            "{in_buckets} observations found in buckets, but the Count field is {}: histogram's \
             observation count should equal the number of observations found in the buckets (in \
             absence of NaN)",
            h.count
        ));
    }
    Ok(())
}

/// Prometheus's `FloatHistogram.Validate` (which, unlike the integer one, does not
/// compare the count with the buckets: float arithmetic makes them drift).
pub(crate) fn validate_float(h: &FloatHistogram) -> Result<(), String> {
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        check_custom_layout(
            &h.custom_values,
            &h.positive_spans,
            h.positive_buckets.len(),
            h.zero_count == 0.0,
            h.zero_threshold,
            (h.negative_spans.len(), h.negative_buckets.len()),
        )?;
    } else if (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&h.schema) {
        check_spans(&h.positive_spans, h.positive_buckets.len())
            .map_err(|e| format!("positive side: {e}"))?;
        check_spans(&h.negative_spans, h.negative_buckets.len())
            .map_err(|e| format!("negative side: {e}"))?;
        check_float_buckets("negative", &h.negative_buckets)?;
        if h.zero_count < 0.0 {
            return Err(format!(
                "zero bucket has observation count of {}: histogram has a bucket whose \
                 observation count is negative",
                h.zero_count
            ));
        }
        if !h.custom_values.is_empty() {
            return Err("histogram with exponential schema must not have custom bounds".into());
        }
    } else {
        return Err(invalid_schema(h.schema));
    }
    if h.count < 0.0 {
        return Err(format!(
            "observation count is  {}: histogram's observation count is negative",
            h.count
        ));
    }
    check_float_buckets("positive", &h.positive_buckets)
}

/// Whether the spans describe the same layout once zero-length spans are folded
/// into the next one (Prometheus's `spansMatch`).
fn spans_match(a: &[Span], b: &[Span]) -> bool {
    /// The next span with its zero-length predecessors folded in, or `None` at the
    /// end (where only zero-length spans remain).
    fn next(s: &[Span], i: &mut usize) -> Option<Span> {
        let mut cur = *s.get(*i)?;
        *i += 1;
        if cur.length == 0 {
            while let Some(x) = s.get(*i) {
                *i += 1;
                cur.offset += x.offset;
                if x.length > 0 {
                    cur.length = x.length;
                    break;
                }
            }
        }
        (cur.length > 0).then_some(cur)
    }
    let (mut i, mut j) = (0, 0);
    loop {
        match (next(a, &mut i), next(b, &mut j)) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

fn float_bits_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Prometheus's `Histogram.Equals`: the counter-reset hint does not count, sums
/// compare bit for bit (so two staleness markers are equal).
pub(crate) fn equals(a: &Histogram, b: &Histogram) -> bool {
    a.schema == b.schema
        && a.count == b.count
        && a.sum.to_bits() == b.sum.to_bits()
        && (a.schema != CUSTOM_BUCKETS_SCHEMA || a.custom_values == b.custom_values)
        && a.zero_threshold == b.zero_threshold
        && a.zero_count == b.zero_count
        && spans_match(&a.negative_spans, &b.negative_spans)
        && a.negative_buckets == b.negative_buckets
        && spans_match(&a.positive_spans, &b.positive_spans)
        && a.positive_buckets == b.positive_buckets
}

/// Prometheus's `FloatHistogram.Equals`.
pub(crate) fn equals_float(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.schema == b.schema
        && a.count.to_bits() == b.count.to_bits()
        && a.sum.to_bits() == b.sum.to_bits()
        && (a.schema != CUSTOM_BUCKETS_SCHEMA || a.custom_values == b.custom_values)
        && a.zero_threshold == b.zero_threshold
        && a.zero_count.to_bits() == b.zero_count.to_bits()
        && spans_match(&a.negative_spans, &b.negative_spans)
        && float_bits_match(&a.negative_buckets, &b.negative_buckets)
        && spans_match(&a.positive_spans, &b.positive_spans)
        && float_bits_match(&a.positive_buckets, &b.positive_buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::histogram::CounterResetHint;

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    fn h() -> Histogram {
        Histogram {
            schema: 1,
            zero_threshold: 0.001,
            zero_count: 1,
            count: 6,
            sum: 10.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![2, 1],
            ..Default::default()
        }
    }

    #[test]
    fn validate_follows_prometheus_3() {
        assert_eq!(validate(&h()), Ok(()));
        // Count must equal the buckets' total unless the sum is NaN.
        let more = Histogram { count: 7, ..h() };
        assert!(validate(&more).unwrap_err().contains("should equal"));
        let nan = Histogram {
            sum: f64::NAN,
            ..more
        };
        assert_eq!(validate(&nan), Ok(()));
        let fewer = Histogram { count: 5, ..h() };
        assert!(validate(&fewer).is_err());
        let neg = Histogram {
            positive_buckets: vec![2, -3],
            ..h()
        };
        assert!(validate(&neg).unwrap_err().contains("negative"));
        assert!(validate(&Histogram { schema: 9, ..h() }).is_err());
        assert!(validate(&Histogram { schema: -5, ..h() }).is_err());
        let exp_with_bounds = Histogram {
            custom_values: vec![1.0],
            ..h()
        };
        assert!(validate(&exp_with_bounds).is_err());
        let spans = Histogram {
            positive_spans: vec![span(0, 1), span(-1, 1)],
            ..h()
        };
        assert!(validate(&spans).unwrap_err().contains("offset"));
        // A staleness marker is valid.
        let stale = Histogram {
            sum: ember_model::value::stale_nan(),
            ..Default::default()
        };
        assert_eq!(validate(&stale), Ok(()));
    }

    #[test]
    fn validate_custom_buckets() {
        let nhcb = Histogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count: 3,
            sum: 1.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1, 1],
            custom_values: vec![0.5, 1.0],
            ..Default::default()
        };
        assert_eq!(validate(&nhcb), Ok(()));
        for bad in [
            Histogram {
                custom_values: vec![1.0, 0.5],
                ..nhcb.clone()
            },
            Histogram {
                custom_values: vec![0.5, f64::INFINITY],
                ..nhcb.clone()
            },
            Histogram {
                zero_count: 1,
                count: 4,
                ..nhcb.clone()
            },
            Histogram {
                positive_spans: vec![span(2, 2)],
                ..nhcb.clone()
            },
            Histogram {
                negative_spans: vec![span(0, 1)],
                negative_buckets: vec![1],
                count: 4,
                ..nhcb.clone()
            },
        ] {
            assert!(validate(&bad).is_err(), "{bad:?}");
        }
        let f = nhcb.to_float();
        assert_eq!(validate_float(&f), Ok(()));
        assert!(
            validate_float(&FloatHistogram {
                zero_threshold: 1.0,
                ..f
            })
            .is_err()
        );
    }

    #[test]
    fn validate_float_histograms() {
        let f = h().to_float();
        assert_eq!(validate_float(&f), Ok(()));
        // Float histograms may drift: count is not compared with the buckets.
        assert_eq!(
            validate_float(&FloatHistogram {
                count: 100.5,
                ..f.clone()
            }),
            Ok(())
        );
        assert!(
            validate_float(&FloatHistogram {
                count: -1.0,
                ..f.clone()
            })
            .is_err()
        );
        assert!(
            validate_float(&FloatHistogram {
                positive_buckets: vec![1.0, -0.5],
                ..f
            })
            .is_err()
        );
    }

    #[test]
    fn equality_ignores_hint_and_empty_spans() {
        let a = h();
        let mut b = h();
        b.counter_reset_hint = CounterResetHint::NotCounterReset;
        assert!(equals(&a, &b));
        b.positive_spans = vec![span(0, 0), span(0, 2), span(3, 0)];
        assert!(equals(&a, &b));
        b.positive_spans = vec![span(1, 2)];
        assert!(!equals(&a, &b));
        let mut c = h();
        c.sum = 10.5;
        assert!(!equals(&a, &c));
        assert!(equals_float(&a.to_float(), &a.to_float()));
        let mut f = a.to_float();
        f.positive_buckets[0] = 2.5;
        assert!(!equals_float(&a.to_float(), &f));
        assert!(spans_match(&[span(3, 0), span(2, 1)], &[span(5, 1)]));
        assert!(!spans_match(&[span(0, 1)], &[]));
    }
}
