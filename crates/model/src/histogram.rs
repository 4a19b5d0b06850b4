//! Native histograms: the integer form ([`Histogram`], as scraped and as stored in
//! histogram chunks, buckets delta-encoded) and the float form ([`FloatHistogram`],
//! absolute counts, what PromQL computes with). The layout follows Prometheus's
//! `model/histogram` so that chunks, WAL records and remote-write messages map field
//! for field.

/// Whether a histogram sample starts a new counter epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum CounterResetHint {
    /// Cannot tell from this sample alone.
    #[default]
    Unknown = 0,
    /// A counter reset happened at this sample.
    CounterReset = 1,
    /// Definitely no counter reset at this sample.
    NotCounterReset = 2,
    /// A gauge histogram: resets do not apply.
    Gauge = 3,
}

impl CounterResetHint {
    /// From the two-bit code used in chunk headers.
    pub fn from_u8(v: u8) -> Self {
        match v & 3 {
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        }
    }
}

/// The schema number that marks custom (classic-style) bucket boundaries.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// A run of consecutive buckets: `offset` buckets after the previous span's end (or
/// from index 0 for the first span), `length` buckets long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Gap before this span, in buckets.
    pub offset: i32,
    /// Number of buckets in the span.
    pub length: u32,
}

/// An integer native histogram; bucket counts are stored as deltas from the previous
/// bucket (the first as an absolute value).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Histogram {
    /// Counter-reset information.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: bucket boundaries are powers of `2^(2^-schema)`; -53 means custom.
    pub schema: i32,
    /// Observations with absolute value up to this fall in the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Delta-encoded positive bucket counts.
    pub positive_buckets: Vec<i64>,
    /// Delta-encoded negative bucket counts.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}

/// A float native histogram with absolute bucket counts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset information.
    pub counter_reset_hint: CounterResetHint,
    /// See [`Histogram::schema`].
    pub schema: i32,
    /// See [`Histogram::zero_threshold`].
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Absolute positive bucket counts.
    pub positive_buckets: Vec<f64>,
    /// Absolute negative bucket counts.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}

/// Turns delta-encoded counts into absolute ones.
fn absolute(deltas: &[i64]) -> Vec<f64> {
    let mut cur = 0i64;
    deltas
        .iter()
        .map(|d| {
            cur = cur.wrapping_add(*d);
            cur as f64
        })
        .collect()
}

impl Histogram {
    /// Whether this histogram uses custom bucket boundaries.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// The float form with absolute counts.
    pub fn to_float(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: absolute(&self.positive_buckets),
            negative_buckets: absolute(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }

    /// Checks internal consistency: spans cover exactly the buckets given, counts are
    /// non-negative, and the total is at least the sum of buckets.
    pub fn validate(&self) -> Result<(), String> {
        check_spans(
            "positive",
            &self.positive_spans,
            self.positive_buckets.len(),
        )?;
        check_spans(
            "negative",
            &self.negative_spans,
            self.negative_buckets.len(),
        )?;
        if self.uses_custom_buckets() && !self.negative_buckets.is_empty() {
            return Err("custom buckets: must not have negative buckets".into());
        }
        let mut total = self.zero_count as i128;
        for deltas in [&self.positive_buckets, &self.negative_buckets] {
            let mut cur = 0i128;
            for d in deltas.iter() {
                cur += *d as i128;
                if cur < 0 {
                    return Err(format!("bucket count {cur} is negative"));
                }
                total += cur;
            }
        }
        if (self.count as i128) < total && !self.sum.is_nan() {
            return Err(format!(
                "{} observations found in buckets, but the Count field is {}",
                total, self.count
            ));
        }
        Ok(())
    }
}

fn check_spans(side: &str, spans: &[Span], buckets: usize) -> Result<(), String> {
    let mut n = 0usize;
    for (i, s) in spans.iter().enumerate() {
        if i > 0 && s.offset < 0 {
            return Err(format!(
                "{side} side: span number {} with offset {}",
                i + 1,
                s.offset
            ));
        }
        n += s.length as usize;
    }
    if n != buckets {
        return Err(format!(
            "{side} side: spans need {n} buckets, have {buckets} buckets"
        ));
    }
    Ok(())
}

impl FloatHistogram {
    /// Whether this histogram uses custom bucket boundaries.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_float_accumulates_deltas() {
        let h = Histogram {
            schema: 0,
            count: 6,
            zero_count: 1,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![2, 1],
            ..Default::default()
        };
        assert_eq!(h.to_float().positive_buckets, vec![2.0, 3.0]);
        assert!(h.validate().is_ok());
        let bad = Histogram {
            count: 1,
            ..h.clone()
        };
        assert!(bad.validate().is_err());
        let bad = Histogram {
            positive_buckets: vec![1],
            ..h
        };
        assert!(bad.validate().is_err());
    }
}
