//! Test helpers shared by the histogram chunk tests: span shorthands, a model of a
//! histogram series, and an oracle for Prometheus's append decisions written from
//! its documented rules (not from the encoder), which the property tests hold the
//! chunks to.

use std::collections::{BTreeMap, BTreeSet};

use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use ember_model::value::{is_stale_nan, stale_nan};
use proptest::prelude::*;

use crate::float_histogram::FloatHistogramChunk;
use crate::histogram::HistogramChunk;
use crate::{Appended, CounterResetHeader, Error};

pub(crate) fn sp(v: &[(i32, u32)]) -> Vec<Span> {
    v.iter()
        .map(|&(offset, length)| Span { offset, length })
        .collect()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bucket indices the spans cover, in order.
pub(crate) fn indices(spans: &[Span]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut next = 0i64;
    for (i, s) in spans.iter().enumerate() {
        let start = if i == 0 {
            s.offset as i64
        } else {
            next + s.offset as i64
        };
        out.extend((0..s.length as i64).map(|k| start + k));
        next = start + s.length as i64;
    }
    out
}

/// Spans for increasing indices.
pub(crate) fn spans_for(idx: &[i64]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut end = 0i64;
    for &i in idx {
        match spans.last_mut() {
            Some(s) if i == end => s.length += 1,
            Some(_) => spans.push(Span {
                offset: (i - end) as i32,
                length: 1,
            }),
            None => spans.push(Span {
                offset: i as i32,
                length: 1,
            }),
        }
        end = i + 1;
    }
    spans
}

/// A histogram sample as a map from bucket index to absolute count.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) hint: CounterResetHint,
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) custom: Vec<f64>,
    pub(crate) zero_count: u64,
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) pos: BTreeMap<i64, u64>,
    pub(crate) neg: BTreeMap<i64, u64>,
}

impl Sample {
    pub(crate) fn stale(&self) -> bool {
        is_stale_nan(self.sum)
    }

    pub(crate) fn to_histogram(&self) -> Histogram {
        let deltas = |m: &BTreeMap<i64, u64>| {
            let mut last = 0i64;
            m.values()
                .map(|&c| {
                    let d = c as i64 - last;
                    last = c as i64;
                    d
                })
                .collect::<Vec<_>>()
        };
        Histogram {
            counter_reset_hint: self.hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive_spans: spans_for(&self.pos.keys().copied().collect::<Vec<_>>()),
            negative_spans: spans_for(&self.neg.keys().copied().collect::<Vec<_>>()),
            positive_buckets: deltas(&self.pos),
            negative_buckets: deltas(&self.neg),
            custom_values: self.custom.clone(),
        }
    }

    /// Float form; `scale` makes counts non-integral.
    pub(crate) fn to_float(&self, scale: f64) -> FloatHistogram {
        let abs = |m: &BTreeMap<i64, u64>| m.values().map(|&c| c as f64 * scale).collect();
        FloatHistogram {
            counter_reset_hint: self.hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64 * scale,
            count: self.count as f64 * scale,
            sum: self.sum,
            positive_spans: spans_for(&self.pos.keys().copied().collect::<Vec<_>>()),
            negative_spans: spans_for(&self.neg.keys().copied().collect::<Vec<_>>()),
            positive_buckets: abs(&self.pos),
            negative_buckets: abs(&self.neg),
            custom_values: self.custom.clone(),
        }
    }
}

/// A decoded sample, normalised for comparison with a [`Sample`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) t: i64,
    pub(crate) hint: CounterResetHint,
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) custom: Vec<f64>,
    pub(crate) zero_count: f64,
    pub(crate) count: f64,
    pub(crate) sum_bits: u64,
    pub(crate) pos: BTreeMap<i64, f64>,
    pub(crate) neg: BTreeMap<i64, f64>,
}

impl Decoded {
    pub(crate) fn from_float(t: i64, h: &FloatHistogram) -> Self {
        let zip = |s: &[Span], b: &[f64]| indices(s).into_iter().zip(b.iter().copied()).collect();
        Decoded {
            t,
            hint: h.counter_reset_hint,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            custom: h.custom_values.clone(),
            zero_count: h.zero_count,
            count: h.count,
            sum_bits: h.sum.to_bits(),
            pos: zip(&h.positive_spans, &h.positive_buckets),
            neg: zip(&h.negative_spans, &h.negative_buckets),
        }
    }

    /// Whether this is `s` (scaled), allowing extra empty buckets from layout
    /// widening.
    pub(crate) fn matches(&self, t: i64, s: &Sample, scale: f64) -> Result<(), String> {
        let err = |what: &str| Err(format!("{what} differs at t={t}: {self:?} vs {s:?}"));
        if self.t != t || self.sum_bits != s.sum.to_bits() {
            return err("t/sum");
        }
        if s.stale() {
            return Ok(());
        }
        if self.schema != s.schema
            || self.zero_threshold != s.zero_threshold
            || self.zero_count != s.zero_count as f64 * scale
            || self.count != s.count as f64 * scale
        {
            return err("header fields");
        }
        if s.schema == ember_model::histogram::CUSTOM_BUCKETS_SCHEMA && self.custom != s.custom {
            return err("custom values");
        }
        for (got, want) in [(&self.pos, &s.pos), (&self.neg, &s.neg)] {
            if !want.keys().all(|k| got.contains_key(k)) {
                return err("bucket set");
            }
            for (k, v) in got {
                if *v != want.get(k).copied().unwrap_or(0) as f64 * scale {
                    return err("bucket count");
                }
            }
        }
        Ok(())
    }
}

/// Delta-encoded buckets and their spans.
pub(crate) type Stored = (Vec<i64>, Vec<(i32, u32)>);

/// One row of the appendability table: appending `second` to a chunk holding
/// `first` must do `want`.
pub(crate) struct AppendCase {
    pub(crate) name: &'static str,
    pub(crate) first: Histogram,
    pub(crate) second: Histogram,
    pub(crate) want: Expect,
    /// The second sample's buckets (delta-encoded) and spans as stored, when they
    /// differ from what was appended.
    pub(crate) stored: Option<Stored>,
    /// Where float chunks choose a different header than integer ones.
    pub(crate) float_header: Option<CounterResetHeader>,
}

pub(crate) fn with_hint(h: &Histogram, hint: CounterResetHint) -> Histogram {
    Histogram {
        counter_reset_hint: hint,
        ..h.clone()
    }
}

pub(crate) fn hist(
    count: u64,
    zero_count: u64,
    sum: f64,
    pos: &[(i32, u32)],
    pos_b: &[i64],
    neg: &[(i32, u32)],
    neg_b: &[i64],
) -> Histogram {
    Histogram {
        schema: 1,
        zero_threshold: 1e-125,
        zero_count,
        count,
        sum,
        positive_spans: sp(pos),
        negative_spans: sp(neg),
        positive_buckets: pos_b.to_vec(),
        negative_buckets: neg_b.to_vec(),
        ..Histogram::default()
    }
}

/// Prometheus's TestHistogramChunkAppendable and TestHistogramChunkAppendableGauge
/// (and their float twins) as one table: the first histogram, the second, and what appending the second
/// must do. For in-place appends with missing empty buckets, the second sample as
/// stored (with those buckets put back) is checked too.
pub(crate) fn appendable_cases() -> Vec<AppendCase> {
    let eh = hist(
        5,
        2,
        18.4,
        &[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
        &[6, -3, 0, -1, 2, 1, -4],
        &[],
        &[],
    );
    let cbh = Histogram {
        count: 24,
        sum: 18.4,
        schema: -53,
        positive_spans: eh.positive_spans.clone(),
        positive_buckets: eh.positive_buckets.clone(),
        custom_values: (1..=20).map(|x| x as f64).collect(),
        ..Histogram::default()
    };
    let more_spans = sp(&[(0, 3), (1, 1), (1, 4), (3, 3)]);
    let more = |base: &Histogram, count_add: u64, zc_add: u64, last: i64| Histogram {
        positive_spans: more_spans.clone(),
        count: base.count + count_add,
        zero_count: base.zero_count + zc_add,
        sum: 30.0,
        positive_buckets: vec![7, -2, -4, 2, -2, -1, 2, 3, 0, -5, last],
        ..base.clone()
    };
    let empty_buckets = Histogram {
        positive_buckets: vec![6, -6, 1, 1, -2, 1, 1],
        ..eh.clone()
    };
    // One extra empty bucket 10 below the others.
    let leading_empty = {
        let mut h = eh.clone();
        h.positive_spans = sp(&[(-10, 1), (9, 2), (2, 1), (3, 2), (3, 1), (1, 1)]);
        h.positive_buckets = vec![0, 6, -3, 0, -1, 2, 1, -4];
        h
    };

    use CounterResetHeader as H;
    use Expect::{InPlace, New, Recoded};
    let g = |h: &Histogram| with_hint(h, CounterResetHint::Gauge);
    let mut cases = vec![
        AppendCase {
            name: "schema change",
            first: eh.clone(),
            second: Histogram {
                schema: 2,
                ..eh.clone()
            },
            want: New(H::Unknown),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "zero threshold change",
            first: eh.clone(),
            second: Histogram {
                zero_threshold: 1e-125 + 0.1,
                ..eh.clone()
            },
            want: New(H::Unknown),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "more buckets",
            first: eh.clone(),
            second: more(&eh, 9, 1, 1),
            want: Recoded,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "bucket with observations missing",
            first: eh.clone(),
            second: Histogram {
                positive_spans: sp(&[(0, 2), (5, 2), (3, 1), (1, 1)]),
                sum: 21.0,
                positive_buckets: vec![6, -3, -1, 2, 1, -4],
                ..eh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "empty buckets missing",
            first: empty_buckets.clone(),
            second: Histogram {
                positive_spans: sp(&[(0, 1), (3, 1), (3, 1), (4, 1), (1, 1)]),
                positive_buckets: vec![7, -5, 1, 0, 1],
                ..empty_buckets.clone()
            },
            want: InPlace,
            stored: Some((
                vec![7, -7, 2, 1, -3, 3, 1],
                vec![(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
            )),
            float_header: None,
        },
        AppendCase {
            name: "new buckets and empty buckets missing",
            first: empty_buckets.clone(),
            second: Histogram {
                positive_spans: sp(&[(0, 1), (3, 1), (3, 1), (4, 1), (1, 2)]),
                positive_buckets: vec![7, -5, 1, 0, 1, 1],
                ..empty_buckets.clone()
            },
            want: Recoded,
            stored: Some((
                vec![7, -7, 2, 1, -3, 3, 1, 1],
                vec![(0, 2), (2, 1), (3, 2), (3, 1), (1, 2)],
            )),
            float_header: None,
        },
        AppendCase {
            name: "bucket decreases, same layout",
            first: eh.clone(),
            second: Histogram {
                sum: 23.0,
                positive_buckets: vec![6, -4, 1, -1, 2, 1, -4],
                ..eh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "bucket decreases while buckets are added",
            first: eh.clone(),
            second: Histogram {
                sum: 29.0,
                ..more(&eh, 0, 0, 0)
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "first bucket decreases, buckets added before it",
            first: eh.clone(),
            second: Histogram {
                positive_spans: sp(&[(-3, 2), (1, 2), (2, 1), (3, 2), (3, 1), (1, 1)]),
                sum: 26.0,
                positive_buckets: vec![1, 1, 3, -2, 0, -1, 2, 1, -4],
                ..eh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "explicit counter reset",
            first: eh.clone(),
            second: with_hint(&eh, CounterResetHint::CounterReset),
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "count decreases",
            first: eh.clone(),
            second: Histogram {
                count: 4,
                ..eh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "zero count decreases",
            first: eh.clone(),
            second: Histogram {
                zero_count: 1,
                ..eh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "chunk's empty leading bucket missing",
            first: leading_empty.clone(),
            second: eh.clone(),
            want: InPlace,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "custom buckets unchanged",
            first: cbh.clone(),
            second: cbh.clone(),
            want: InPlace,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "custom buckets increase",
            first: cbh.clone(),
            second: Histogram {
                count: 25,
                positive_buckets: vec![6, -3, 0, -1, 2, 1, -3],
                ..cbh.clone()
            },
            want: InPlace,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "custom buckets decrease",
            first: cbh.clone(),
            second: Histogram {
                count: 23,
                positive_buckets: vec![6, -3, 0, -1, 2, 1, -5],
                ..cbh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "custom bounds change",
            first: cbh.clone(),
            second: Histogram {
                custom_values: (1..=21).map(|x| x as f64).collect(),
                ..cbh.clone()
            },
            want: New(H::CounterReset),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "custom buckets, more buckets",
            first: cbh.clone(),
            second: more(&cbh, 6, 0, 1),
            want: Recoded,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "stale marker",
            first: eh.clone(),
            second: Histogram {
                sum: stale_nan(),
                count: 0,
                ..Histogram::default()
            },
            want: InPlace,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge after counter",
            first: eh.clone(),
            second: g(&eh),
            want: New(H::Gauge),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "counter after gauge",
            first: g(&eh),
            second: eh.clone(),
            want: New(H::NotCounterReset),
            stored: None,
            float_header: Some(H::Unknown),
        },
    ];
    // The gauge table: decreases and missing buckets are fine, layout changes not.
    cases.extend([
        AppendCase {
            name: "gauge schema change",
            first: g(&eh),
            second: g(&Histogram {
                schema: 2,
                ..eh.clone()
            }),
            want: New(H::Gauge),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge zero threshold change",
            first: g(&eh),
            second: g(&Histogram {
                zero_threshold: 0.1,
                ..eh.clone()
            }),
            want: New(H::Gauge),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge more buckets",
            first: g(&eh),
            second: g(&more(&eh, 9, 1, 1)),
            want: Recoded,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge buckets missing",
            first: g(&eh),
            second: g(&Histogram {
                positive_spans: sp(&[(0, 2), (2, 1), (3, 1), (4, 1), (1, 1)]),
                count: 1,
                positive_buckets: vec![6, -3, 0, -1, 3, -4],
                ..eh.clone()
            }),
            want: InPlace,
            // Bucket 9 comes back empty.
            stored: Some((
                vec![6, -3, 0, -1, -2, 5, -4],
                vec![(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
            )),
            float_header: None,
        },
        AppendCase {
            name: "gauge bucket missing and new buckets",
            first: g(&eh),
            second: g(&Histogram {
                positive_spans: sp(&[(0, 2), (5, 2), (3, 1), (1, 1)]),
                sum: 21.0,
                positive_buckets: vec![6, -3, -1, 2, 1, -4],
                ..eh.clone()
            }),
            want: Recoded,
            // Union of 0,1,4,8,9,13,15 and 0,1,7,8,12,14; counts 6,3,0,2,4,0,5,0,1,0.
            stored: Some((
                vec![6, -3, -3, 2, 2, -4, 5, -5, 1, -1],
                vec![(0, 2), (2, 1), (2, 3), (2, 4)],
            )),
            float_header: None,
        },
        AppendCase {
            name: "gauge decrease",
            first: g(&eh),
            second: g(&Histogram {
                sum: 23.0,
                count: 2,
                zero_count: 0,
                positive_buckets: vec![6, -4, 1, -1, 2, 1, -4],
                ..eh.clone()
            }),
            want: InPlace,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge decrease with buckets added before the first",
            first: g(&eh),
            second: g(&Histogram {
                positive_spans: sp(&[(-3, 2), (1, 2), (2, 1), (3, 2), (3, 1), (1, 1)]),
                sum: 26.0,
                positive_buckets: vec![1, 1, 3, -2, 0, -1, 2, 1, -4],
                ..eh.clone()
            }),
            want: Recoded,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge custom bounds change",
            first: g(&cbh),
            second: g(&Histogram {
                custom_values: (1..=21).map(|x| x as f64).collect(),
                ..cbh.clone()
            }),
            want: New(H::Gauge),
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge custom buckets decrease",
            first: g(&cbh),
            second: g(&Histogram {
                count: 23,
                positive_buckets: vec![6, -3, 0, -1, 2, 1, -5],
                ..cbh.clone()
            }),
            want: InPlace,
            stored: None,
            float_header: None,
        },
        AppendCase {
            name: "gauge custom buckets, more buckets",
            first: g(&cbh),
            second: g(&more(&cbh, 6, 0, 1)),
            want: Recoded,
            stored: None,
            float_header: None,
        },
    ]);
    cases
}

/// What an append should do, per Prometheus's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    InPlace,
    Recoded,
    New(CounterResetHeader),
}

pub(crate) fn outcome<C>(a: &Appended<C>, header: impl Fn(&C) -> CounterResetHeader) -> Expect {
    match a {
        Appended::InPlace => Expect::InPlace,
        Appended::Recoded => Expect::Recoded,
        Appended::NewChunk(c) => Expect::New(header(c)),
    }
}

enum Verdict {
    Ok {
        widens: bool,
    },
    Reset,
    /// Not appendable, but not a reset either.
    Other,
}

/// Tracks the head chunk as Prometheus's rules see it: the union of bucket indices
/// since the chunk started, and the last sample.
#[derive(Default)]
pub(crate) struct Oracle {
    pos: BTreeSet<i64>,
    neg: BTreeSet<i64>,
    last: Option<Sample>,
}

impl Oracle {
    fn widens(&self, s: &Sample) -> bool {
        s.pos.keys().any(|k| !self.pos.contains(k)) || s.neg.keys().any(|k| !self.neg.contains(k))
    }

    fn counter_verdict(&self, s: &Sample, last: &Sample) -> Verdict {
        if s.hint == CounterResetHint::CounterReset {
            return Verdict::Reset;
        }
        if s.stale() {
            return Verdict::Ok { widens: false };
        }
        if last.stale() {
            return Verdict::Other;
        }
        if s.count < last.count {
            return Verdict::Reset;
        }
        if s.schema != last.schema || s.zero_threshold != last.zero_threshold {
            return Verdict::Other;
        }
        if s.schema == ember_model::histogram::CUSTOM_BUCKETS_SCHEMA && s.custom != last.custom {
            return Verdict::Reset;
        }
        if s.zero_count < last.zero_count {
            return Verdict::Reset;
        }
        for (layout, new, old) in [
            (&self.pos, &s.pos, &last.pos),
            (&self.neg, &s.neg, &last.neg),
        ] {
            let all = layout.iter().chain(new.keys());
            for k in all {
                if old.get(k).copied().unwrap_or(0) > new.get(k).copied().unwrap_or(0) {
                    return Verdict::Reset;
                }
            }
        }
        Verdict::Ok {
            widens: self.widens(s),
        }
    }

    fn gauge_verdict(&self, s: &Sample, last: &Sample) -> Verdict {
        if s.stale() {
            return Verdict::Ok { widens: false };
        }
        if last.stale()
            || s.schema != last.schema
            || s.zero_threshold != last.zero_threshold
            || (s.schema == ember_model::histogram::CUSTOM_BUCKETS_SCHEMA
                && s.custom != last.custom)
        {
            return Verdict::Other;
        }
        Verdict::Ok {
            widens: self.widens(s),
        }
    }

    /// The expected result of appending `s` to a chunk that is `full` or not.
    pub(crate) fn expect(&self, s: &Sample, full: bool, float: bool) -> Expect {
        use CounterResetHeader as H;
        let Some(last) = &self.last else {
            return Expect::InPlace;
        };
        let gauge = s.hint == CounterResetHint::Gauge;
        let v = if gauge {
            self.gauge_verdict(s, last)
        } else {
            self.counter_verdict(s, last)
        };
        if full {
            // The new chunk's header is what the previous chunk's appendability says.
            return Expect::New(match (gauge, v, float) {
                (true, _, _) => H::Gauge,
                (false, Verdict::Reset, _) => H::CounterReset,
                (false, _, true) => H::NotCounterReset,
                (false, Verdict::Ok { .. }, false) => H::NotCounterReset,
                (false, Verdict::Other, false) => H::Unknown,
            });
        }
        match v {
            Verdict::Ok { widens: true } => Expect::Recoded,
            Verdict::Ok { widens: false } => Expect::InPlace,
            Verdict::Reset => Expect::New(H::CounterReset),
            Verdict::Other if gauge => Expect::New(H::Gauge),
            Verdict::Other => Expect::New(H::Unknown),
        }
    }

    pub(crate) fn record(&mut self, s: &Sample, e: Expect) {
        if matches!(e, Expect::New(_)) || self.last.is_none() {
            self.pos.clear();
            self.neg.clear();
        }
        if !s.stale() {
            self.pos.extend(s.pos.keys());
            self.neg.extend(s.neg.keys());
        }
        self.last = Some(s.clone());
    }
}

/// Bucket layouts a generated series switches between: (schema, zero threshold,
/// custom bounds).
fn layout_config(i: usize) -> (i32, f64, Vec<f64>) {
    match i % 4 {
        0 => (0, 2f64.powi(-128), vec![]),
        1 => (3, 0.001, vec![]),
        2 => (-53, 0.0, vec![0.1, 0.5, 1.0, 2.5, 5.0, 10.0]),
        _ => (-2, 0.0, vec![]),
    }
}

/// One step of a generated series.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    kind: u8,
    pos_mask: u16,
    neg_mask: u16,
    vals: Vec<u8>,
    zero: u8,
    dt: u16,
}

/// Steps with every kind of event.
pub(crate) fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    steps_with(0u8..100, max)
}

/// Mostly growth, so that chunks live long enough to be cut for size.
pub(crate) fn calm_steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    steps_with(prop_oneof![199 => 0u8..70, 1 => 0u8..100], max)
}

fn steps_with(kind: impl Strategy<Value = u8>, max: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            kind,
            any::<u16>(),
            any::<u16>(),
            prop::collection::vec(0u8..6, 32),
            0u8..4,
            prop_oneof![Just(15_000u16), 1u16..60_000],
        )
            .prop_map(|(kind, pos_mask, neg_mask, vals, zero, dt)| Step {
                kind,
                pos_mask,
                neg_mask,
                vals,
                zero,
                dt,
            }),
        1..max,
    )
}

/// What a step turns into.
pub(crate) enum Action {
    Append(i64, Sample),
    Reopen,
}

/// Turns steps into a series: mostly growing counters with new buckets appearing
/// and empty ones dropping out, and now and then a reset, a layout change, an
/// explicit reset hint, a staleness marker or a reopen of the chunk.
pub(crate) fn series(steps: &[Step], gauge: bool) -> Vec<Action> {
    let mut out = Vec::new();
    let mut t = 1_700_000_000_000i64;
    let mut layout = 0usize;
    let mut cur = Sample {
        hint: CounterResetHint::Unknown,
        schema: 0,
        zero_threshold: 0.0,
        custom: vec![],
        zero_count: 0,
        count: 0,
        sum: 0.0,
        pos: BTreeMap::new(),
        neg: BTreeMap::new(),
    };
    for st in steps {
        if st.kind >= 94 {
            out.push(Action::Reopen);
            continue;
        }
        t += st.dt as i64;
        if (85..90).contains(&st.kind) {
            let marker = Sample {
                sum: stale_nan(),
                hint: if gauge {
                    CounterResetHint::Gauge
                } else {
                    CounterResetHint::Unknown
                },
                ..cur.clone()
            };
            out.push(Action::Append(t, marker));
            continue;
        }
        let grow = st.kind < 70 || st.kind >= 90;
        if (80..85).contains(&st.kind) {
            layout += 1;
        }
        let (schema, zero_threshold, custom) = layout_config(layout);
        let custom_schema = schema == ember_model::histogram::CUSTOM_BUCKETS_SCHEMA;
        let side = |mask: u16, vals: &[u8], old: &BTreeMap<i64, u64>| {
            let mut m = BTreeMap::new();
            for (i, v) in vals.iter().enumerate().take(16) {
                let idx = i as i64 - if custom_schema { 0 } else { 5 };
                let prev = if grow { old.get(&idx).copied() } else { None };
                // Growing keeps every bucket that held observations.
                if mask & (1 << i) != 0 || prev.is_some_and(|p| p > 0) {
                    m.insert(idx, prev.unwrap_or(0) + *v as u64);
                }
            }
            m
        };
        let pos = side(st.pos_mask, &st.vals[..16], &cur.pos);
        let neg = if custom_schema {
            BTreeMap::new()
        } else {
            side(st.neg_mask, &st.vals[16..], &cur.neg)
        };
        let zero_count = if custom_schema {
            0
        } else if grow {
            cur.zero_count + st.zero as u64
        } else {
            st.zero as u64
        };
        let in_buckets: u64 = pos.values().chain(neg.values()).sum::<u64>() + zero_count;
        let count = if grow {
            in_buckets.max(cur.count) + (st.zero as u64 & 1)
        } else {
            in_buckets
        };
        let sum = if grow {
            cur.sum + (count - cur.count.min(count)) as f64 * 0.75
        } else {
            st.vals[0] as f64 * 1.25
        };
        let hint = if gauge {
            CounterResetHint::Gauge
        } else if st.kind >= 90 {
            CounterResetHint::CounterReset
        } else {
            CounterResetHint::Unknown
        };
        cur = Sample {
            hint,
            schema,
            zero_threshold,
            custom,
            zero_count,
            count,
            sum,
            pos,
            neg,
        };
        out.push(Action::Append(t, cur.clone()));
    }
    out
}

/// The two chunk types behind one interface for the property tests.
pub(crate) trait TestChunk: Sized {
    const FLOAT: bool;
    fn empty() -> Self;
    fn reopen(b: &[u8]) -> Result<Self, Error>;
    fn raw(&self) -> &[u8];
    fn hdr(&self) -> CounterResetHeader;
    fn full(&self) -> bool;
    fn push(&mut self, t: i64, s: &Sample) -> Result<Appended<Self>, Error>;
    /// Decodes every sample; panics on a decoding error.
    fn decode(&self) -> Vec<Decoded>;
}

/// Counts in float chunks are scaled so they are not all integers.
pub(crate) const FLOAT_SCALE: f64 = 0.5;

impl TestChunk for HistogramChunk {
    const FLOAT: bool = false;
    fn empty() -> Self {
        HistogramChunk::new()
    }
    fn reopen(b: &[u8]) -> Result<Self, Error> {
        HistogramChunk::from_bytes(b)
    }
    fn raw(&self) -> &[u8] {
        self.bytes()
    }
    fn hdr(&self) -> CounterResetHeader {
        self.counter_reset_header()
    }
    fn full(&self) -> bool {
        self.is_full()
    }
    fn push(&mut self, t: i64, s: &Sample) -> Result<Appended<Self>, Error> {
        self.append(t, &s.to_histogram())
    }
    fn decode(&self) -> Vec<Decoded> {
        let mut it = self.iter();
        let mut out = Vec::new();
        let (mut h, mut fh) = (Histogram::default(), FloatHistogram::default());
        while it.advance() {
            let t = it.at_histogram(&mut h);
            assert_eq!(it.at_float_histogram(&mut fh), t);
            let d = Decoded::from_float(t, &fh);
            assert_eq!(Decoded::from_float(t, &h.to_float()), d);
            assert_eq!(it.at_t(), t);
            out.push(d);
        }
        assert_eq!(it.err(), None);
        out
    }
}

impl TestChunk for FloatHistogramChunk {
    const FLOAT: bool = true;
    fn empty() -> Self {
        FloatHistogramChunk::new()
    }
    fn reopen(b: &[u8]) -> Result<Self, Error> {
        FloatHistogramChunk::from_bytes(b)
    }
    fn raw(&self) -> &[u8] {
        self.bytes()
    }
    fn hdr(&self) -> CounterResetHeader {
        self.counter_reset_header()
    }
    fn full(&self) -> bool {
        self.is_full()
    }
    fn push(&mut self, t: i64, s: &Sample) -> Result<Appended<Self>, Error> {
        self.append(t, &s.to_float(FLOAT_SCALE))
    }
    fn decode(&self) -> Vec<Decoded> {
        let mut it = self.iter();
        let mut out = Vec::new();
        let mut fh = FloatHistogram::default();
        while it.advance() {
            let t = it.at_float_histogram(&mut fh);
            assert_eq!(it.at_t(), t);
            out.push(Decoded::from_float(t, &fh));
        }
        assert_eq!(it.err(), None);
        out
    }
}

/// Appends a generated series through the public API, checking every decision
/// against the oracle, then decodes all chunks and compares with the input.
pub(crate) fn run_series<C: TestChunk>(
    actions: &[Action],
    gauge: bool,
) -> Result<(), TestCaseError> {
    let scale = if C::FLOAT { FLOAT_SCALE } else { 1.0 };
    let mut chunks: Vec<C> = vec![C::empty()];
    let mut per_chunk: Vec<Vec<(i64, Sample)>> = vec![vec![]];
    let mut want_headers: Vec<Option<CounterResetHeader>> = vec![None];
    let mut oracle = Oracle::default();
    for a in actions {
        let (t, s) = match a {
            Action::Reopen => {
                let Some(cur) = chunks.last_mut() else {
                    continue;
                };
                let before = cur.decode();
                *cur = C::reopen(cur.raw()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(cur.decode(), before);
                continue;
            }
            Action::Append(t, s) => (*t, s),
        };
        let Some(cur) = chunks.last_mut() else {
            return Err(TestCaseError::fail("no chunk"));
        };
        let first = oracle.last.is_none();
        let want = oracle.expect(s, cur.full(), C::FLOAT);
        let got = cur
            .push(t, s)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got_e = outcome(&got, |c: &C| c.hdr());
        prop_assert_eq!(got_e, want, "at t={} appending {:?}", t, s);
        if first {
            want_headers[0] = Some(match s.hint {
                CounterResetHint::Gauge => CounterResetHeader::Gauge,
                CounterResetHint::CounterReset => CounterResetHeader::CounterReset,
                _ => CounterResetHeader::Unknown,
            });
        }
        oracle.record(s, want);
        if let Appended::NewChunk(c) = got {
            chunks.push(*c);
            per_chunk.push(vec![]);
            want_headers.push(match want {
                Expect::New(h) => Some(h),
                _ => None,
            });
        }
        if let Some(v) = per_chunk.last_mut() {
            v.push((t, s.clone()));
        }
    }
    for ((c, samples), header) in chunks.iter().zip(&per_chunk).zip(&want_headers) {
        if samples.is_empty() {
            continue;
        }
        prop_assert_eq!(Some(c.hdr()), *header);
        let got = c.decode();
        prop_assert_eq!(got.len(), samples.len());
        for (i, (d, (t, s))) in got.iter().zip(samples).enumerate() {
            d.matches(*t, s, scale).map_err(TestCaseError::fail)?;
            if !s.stale() {
                let hint = if gauge {
                    CounterResetHint::Gauge
                } else if i == 0 {
                    CounterResetHint::Unknown
                } else {
                    CounterResetHint::NotCounterReset
                };
                prop_assert_eq!(d.hint, hint);
            }
        }
        let reopened = C::reopen(c.raw()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reopened.raw(), c.raw());
        prop_assert_eq!(reopened.decode(), got);
    }
    Ok(())
}
