//! WAL record payloads, encoded exactly as Prometheus's `tsdb/record` package does
//! (the v1 sample encodings Prometheus writes by default; the v2 sample record with
//! start timestamps is read too).

use crate::Error;
use crate::enc::{Dec, put_be64, put_str, put_uvarint, put_varint};
use ember_model::Labels;
use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

/// Record type bytes.
pub mod kind {
    /// Series definitions.
    pub const SERIES: u8 = 1;
    /// Float samples.
    pub const SAMPLES: u8 = 2;
    /// Deletion intervals.
    pub const TOMBSTONES: u8 = 3;
    /// Exemplars.
    pub const EXEMPLARS: u8 = 4;
    /// Out-of-order mmap markers (WBL only).
    pub const MMAP_MARKERS: u8 = 5;
    /// Metadata.
    pub const METADATA: u8 = 6;
    /// Integer native histograms.
    pub const HISTOGRAM_SAMPLES: u8 = 7;
    /// Float native histograms.
    pub const FLOAT_HISTOGRAM_SAMPLES: u8 = 8;
    /// Integer histograms with custom buckets.
    pub const CUSTOM_BUCKETS_HISTOGRAM_SAMPLES: u8 = 9;
    /// Float histograms with custom buckets.
    pub const CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES: u8 = 10;
    /// Float samples with start timestamps.
    pub const SAMPLES_V2: u8 = 11;
}

/// A series definition.
#[derive(Clone, Debug, PartialEq)]
pub struct RefSeries {
    /// Series reference.
    pub r: u64,
    /// Labels.
    pub labels: Labels,
}

/// A float sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    /// Series reference.
    pub r: u64,
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A deletion interval for one series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stone {
    /// Series reference.
    pub r: u64,
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp.
    pub maxt: i64,
}

/// An exemplar.
#[derive(Clone, Debug, PartialEq)]
pub struct RefExemplar {
    /// Series reference.
    pub r: u64,
    /// Timestamp.
    pub t: i64,
    /// Value.
    pub v: f64,
    /// Exemplar labels.
    pub labels: Labels,
}

/// Metadata of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefMetadata {
    /// Series reference.
    pub r: u64,
    /// Metric type as the WAL numbers it (0 unknown, 1 counter, 2 gauge, 3 histogram,
    /// 4 gauge histogram, 5 summary, 6 info, 7 stateset).
    pub metric_type: u8,
    /// Unit.
    pub unit: String,
    /// Help.
    pub help: String,
}

/// An integer histogram sample.
#[derive(Clone, Debug, PartialEq)]
pub struct RefHistogram {
    /// Series reference.
    pub r: u64,
    /// Timestamp.
    pub t: i64,
    /// The histogram.
    pub h: Histogram,
}

/// A float histogram sample.
#[derive(Clone, Debug, PartialEq)]
pub struct RefFloatHistogram {
    /// Series reference.
    pub r: u64,
    /// Timestamp.
    pub t: i64,
    /// The histogram.
    pub h: FloatHistogram,
}

/// A decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Series definitions.
    Series(Vec<RefSeries>),
    /// Float samples.
    Samples(Vec<RefSample>),
    /// Deletions.
    Tombstones(Vec<Stone>),
    /// Exemplars.
    Exemplars(Vec<RefExemplar>),
    /// Metadata.
    Metadata(Vec<RefMetadata>),
    /// Integer histograms (exponential or custom buckets).
    Histograms(Vec<RefHistogram>),
    /// Float histograms (exponential or custom buckets).
    FloatHistograms(Vec<RefFloatHistogram>),
    /// A type this build does not know; replay skips it, as Prometheus does.
    Unknown(u8),
}

fn put_labels(b: &mut Vec<u8>, l: &Labels) {
    put_uvarint(b, l.len() as u64);
    for x in l {
        put_str(b, &x.name);
        put_str(b, &x.value);
    }
}

fn get_labels(d: &mut Dec<'_>) -> Result<Labels, Error> {
    let n = d.uvarint()? as usize;
    let mut v = Vec::with_capacity(n.min(256));
    for _ in 0..n {
        let name = d.str()?;
        let value = d.str()?;
        v.push((name, value));
    }
    Ok(Labels::from_pairs(v))
}

/// Encodes series definitions.
pub fn encode_series(series: &[RefSeries], b: &mut Vec<u8>) {
    b.push(kind::SERIES);
    for s in series {
        put_be64(b, s.r);
        put_labels(b, &s.labels);
    }
}

/// Encodes float samples (v1: deltas to the first sample's reference and time).
pub fn encode_samples(samples: &[RefSample], b: &mut Vec<u8>) {
    b.push(kind::SAMPLES);
    let Some(first) = samples.first() else { return };
    put_be64(b, first.r);
    put_be64(b, first.t as u64);
    for s in samples {
        put_varint(b, s.r as i64 - first.r as i64);
        put_varint(b, s.t - first.t);
        put_be64(b, s.v.to_bits());
    }
}

/// Encodes deletion intervals.
pub fn encode_tombstones(stones: &[Stone], b: &mut Vec<u8>) {
    b.push(kind::TOMBSTONES);
    for s in stones {
        put_be64(b, s.r);
        put_varint(b, s.mint);
        put_varint(b, s.maxt);
    }
}

/// Encodes exemplars.
pub fn encode_exemplars(ex: &[RefExemplar], b: &mut Vec<u8>) {
    b.push(kind::EXEMPLARS);
    let Some(first) = ex.first() else { return };
    put_be64(b, first.r);
    put_be64(b, first.t as u64);
    for e in ex {
        put_varint(b, e.r as i64 - first.r as i64);
        put_varint(b, e.t - first.t);
        put_be64(b, e.v.to_bits());
        put_labels(b, &e.labels);
    }
}

/// Encodes metadata.
pub fn encode_metadata(md: &[RefMetadata], b: &mut Vec<u8>) {
    b.push(kind::METADATA);
    for m in md {
        put_uvarint(b, m.r);
        b.push(m.metric_type);
        put_uvarint(b, 2);
        put_str(b, "UNIT");
        put_str(b, &m.unit);
        put_str(b, "HELP");
        put_str(b, &m.help);
    }
}

fn put_spans(b: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(b, spans.len() as u64);
    for s in spans {
        put_varint(b, s.offset as i64);
        put_uvarint(b, s.length as u64);
    }
}

fn get_spans(d: &mut Dec<'_>) -> Result<Vec<Span>, Error> {
    let n = d.uvarint()? as usize;
    let mut v = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let offset = d.varint()? as i32;
        let length = d.uvarint()? as u32;
        v.push(Span { offset, length });
    }
    Ok(v)
}

/// The framing both histogram record kinds share: entries split by bucket kind into
/// one record each (Prometheus keeps custom-bucket histograms in their own record
/// types), a base series reference and timestamp, then per entry the deltas from them
/// followed by `body`.
fn encode_histogram_records<T>(
    hs: &[T],
    kinds: [u8; 2],
    key: impl Fn(&T) -> (u64, i64, bool),
    body: impl Fn(&mut Vec<u8>, &T),
) -> Vec<Vec<u8>> {
    let (custom, exp): (Vec<&T>, Vec<&T>) = hs.iter().partition(|h| key(h).2);
    let mut out = Vec::new();
    for (k, list) in [(kinds[0], exp), (kinds[1], custom)] {
        let Some(first) = list.first() else { continue };
        let (base_r, base_t, _) = key(first);
        let mut b = vec![k];
        put_be64(&mut b, base_r);
        put_be64(&mut b, base_t as u64);
        for h in &list {
            let (r, t, _) = key(h);
            put_varint(&mut b, r as i64 - base_r as i64);
            put_varint(&mut b, t - base_t);
            body(&mut b, h);
        }
        out.push(b);
    }
    out
}

fn put_custom(b: &mut Vec<u8>, custom_values: &[f64]) {
    put_uvarint(b, custom_values.len() as u64);
    for v in custom_values {
        put_be64(b, v.to_bits());
    }
}

/// Encodes integer histograms: one record for exponential schemas and, when there are
/// any, a second for custom-bucket ones (Prometheus keeps them in separate types).
pub fn encode_histograms(hs: &[RefHistogram]) -> Vec<Vec<u8>> {
    encode_histogram_records(
        hs,
        [
            kind::HISTOGRAM_SAMPLES,
            kind::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES,
        ],
        |h| (h.r, h.t, h.h.uses_custom_buckets()),
        |b, h| {
            let x = &h.h;
            b.push(x.counter_reset_hint as u8);
            put_varint(b, x.schema as i64);
            put_be64(b, x.zero_threshold.to_bits());
            put_uvarint(b, x.zero_count);
            put_uvarint(b, x.count);
            put_be64(b, x.sum.to_bits());
            put_spans(b, &x.positive_spans);
            put_spans(b, &x.negative_spans);
            for list in [&x.positive_buckets, &x.negative_buckets] {
                put_uvarint(b, list.len() as u64);
                for v in list.iter() {
                    put_varint(b, *v);
                }
            }
            if x.uses_custom_buckets() {
                put_custom(b, &x.custom_values);
            }
        },
    )
}

/// Encodes float histograms, split by bucket kind like [`encode_histograms`].
pub fn encode_float_histograms(hs: &[RefFloatHistogram]) -> Vec<Vec<u8>> {
    encode_histogram_records(
        hs,
        [
            kind::FLOAT_HISTOGRAM_SAMPLES,
            kind::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES,
        ],
        |h| (h.r, h.t, h.h.uses_custom_buckets()),
        |b, h| {
            let x = &h.h;
            b.push(x.counter_reset_hint as u8);
            put_varint(b, x.schema as i64);
            for f in [x.zero_threshold, x.zero_count, x.count, x.sum] {
                put_be64(b, f.to_bits());
            }
            put_spans(b, &x.positive_spans);
            put_spans(b, &x.negative_spans);
            for list in [&x.positive_buckets, &x.negative_buckets] {
                put_uvarint(b, list.len() as u64);
                for v in list.iter() {
                    put_be64(b, v.to_bits());
                }
            }
            if x.uses_custom_buckets() {
                put_custom(b, &x.custom_values);
            }
        },
    )
}

fn get_custom(d: &mut Dec<'_>, schema: i32) -> Result<Vec<f64>, Error> {
    if schema != ember_model::histogram::CUSTOM_BUCKETS_SCHEMA {
        return Ok(Vec::new());
    }
    let n = d.uvarint()? as usize;
    let mut v = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        v.push(f64::from_bits(d.be64()?));
    }
    Ok(v)
}

/// Decodes a record.
pub fn decode(rec: &[u8]) -> Result<Record, Error> {
    let Some((&k, body)) = rec.split_first() else {
        return Err(Error::InvalidRecord("empty record".into()));
    };
    let mut d = Dec::new(body);
    Ok(match k {
        kind::SERIES => {
            let mut v = Vec::new();
            while !d.is_empty() {
                let r = d.be64()?;
                v.push(RefSeries {
                    r,
                    labels: get_labels(&mut d)?,
                });
            }
            Record::Series(v)
        }
        kind::SAMPLES => {
            let mut v = Vec::new();
            if !d.is_empty() {
                let base_r = d.be64()?;
                let base_t = d.be64()? as i64;
                while !d.is_empty() {
                    let r = (base_r as i64).wrapping_add(d.varint()?) as u64;
                    let t = base_t.wrapping_add(d.varint()?);
                    let val = f64::from_bits(d.be64()?);
                    v.push(RefSample { r, t, v: val });
                }
            }
            Record::Samples(v)
        }
        kind::SAMPLES_V2 => {
            let mut v: Vec<RefSample> = Vec::new();
            if !d.is_empty() {
                let r = d.varint()? as u64;
                let t = d.varint()?;
                let _st = d.varint()?;
                let val = f64::from_bits(d.be64()?);
                v.push(RefSample { r, t, v: val });
                let first_t = t;
                let mut prev_r = r;
                while !d.is_empty() {
                    let r = (prev_r as i64).wrapping_add(d.varint()?) as u64;
                    let t = first_t.wrapping_add(d.varint()?);
                    // Start-timestamp marker: 0 none, 1 same as previous, 2 explicit.
                    if d.byte()? == 2 {
                        d.varint()?;
                    }
                    let val = f64::from_bits(d.be64()?);
                    v.push(RefSample { r, t, v: val });
                    prev_r = r;
                }
            }
            Record::Samples(v)
        }
        kind::TOMBSTONES => {
            let mut v = Vec::new();
            while !d.is_empty() {
                v.push(Stone {
                    r: d.be64()?,
                    mint: d.varint()?,
                    maxt: d.varint()?,
                });
            }
            Record::Tombstones(v)
        }
        kind::EXEMPLARS => {
            let mut v = Vec::new();
            if !d.is_empty() {
                let base_r = d.be64()?;
                let base_t = d.be64()? as i64;
                while !d.is_empty() {
                    let r = (base_r as i64).wrapping_add(d.varint()?) as u64;
                    let t = base_t.wrapping_add(d.varint()?);
                    let val = f64::from_bits(d.be64()?);
                    v.push(RefExemplar {
                        r,
                        t,
                        v: val,
                        labels: get_labels(&mut d)?,
                    });
                }
            }
            Record::Exemplars(v)
        }
        kind::METADATA => {
            let mut v = Vec::new();
            while !d.is_empty() {
                let r = d.uvarint()?;
                let metric_type = d.byte()?;
                let n = d.uvarint()?;
                let (mut unit, mut help) = (String::new(), String::new());
                for _ in 0..n {
                    let name = d.str()?;
                    let value = d.str()?;
                    match name {
                        "UNIT" => unit = value.to_owned(),
                        "HELP" => help = value.to_owned(),
                        _ => {}
                    }
                }
                v.push(RefMetadata {
                    r,
                    metric_type,
                    unit,
                    help,
                });
            }
            Record::Metadata(v)
        }
        kind::HISTOGRAM_SAMPLES | kind::CUSTOM_BUCKETS_HISTOGRAM_SAMPLES => {
            let mut v = Vec::new();
            if !d.is_empty() {
                let base_r = d.be64()?;
                let base_t = d.be64()? as i64;
                while !d.is_empty() {
                    let r = (base_r as i64).wrapping_add(d.varint()?) as u64;
                    let t = base_t.wrapping_add(d.varint()?);
                    let counter_reset_hint = CounterResetHint::from_u8(d.byte()?);
                    let schema = d.varint()? as i32;
                    let zero_threshold = f64::from_bits(d.be64()?);
                    let zero_count = d.uvarint()?;
                    let count = d.uvarint()?;
                    let sum = f64::from_bits(d.be64()?);
                    let positive_spans = get_spans(&mut d)?;
                    let negative_spans = get_spans(&mut d)?;
                    let mut buckets = [Vec::new(), Vec::new()];
                    for b in &mut buckets {
                        let n = d.uvarint()? as usize;
                        b.reserve(n.min(4096));
                        for _ in 0..n {
                            b.push(d.varint()?);
                        }
                    }
                    let [positive_buckets, negative_buckets] = buckets;
                    let custom_values = get_custom(&mut d, schema)?;
                    v.push(RefHistogram {
                        r,
                        t,
                        h: Histogram {
                            counter_reset_hint,
                            schema,
                            zero_threshold,
                            zero_count,
                            count,
                            sum,
                            positive_spans,
                            negative_spans,
                            positive_buckets,
                            negative_buckets,
                            custom_values,
                        },
                    });
                }
            }
            Record::Histograms(v)
        }
        kind::FLOAT_HISTOGRAM_SAMPLES | kind::CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES => {
            let mut v = Vec::new();
            if !d.is_empty() {
                let base_r = d.be64()?;
                let base_t = d.be64()? as i64;
                while !d.is_empty() {
                    let r = (base_r as i64).wrapping_add(d.varint()?) as u64;
                    let t = base_t.wrapping_add(d.varint()?);
                    let counter_reset_hint = CounterResetHint::from_u8(d.byte()?);
                    let schema = d.varint()? as i32;
                    let zero_threshold = f64::from_bits(d.be64()?);
                    let zero_count = f64::from_bits(d.be64()?);
                    let count = f64::from_bits(d.be64()?);
                    let sum = f64::from_bits(d.be64()?);
                    let positive_spans = get_spans(&mut d)?;
                    let negative_spans = get_spans(&mut d)?;
                    let mut buckets = [Vec::new(), Vec::new()];
                    for b in &mut buckets {
                        let n = d.uvarint()? as usize;
                        b.reserve(n.min(4096));
                        for _ in 0..n {
                            b.push(f64::from_bits(d.be64()?));
                        }
                    }
                    let [positive_buckets, negative_buckets] = buckets;
                    let custom_values = get_custom(&mut d, schema)?;
                    v.push(RefFloatHistogram {
                        r,
                        t,
                        h: FloatHistogram {
                            counter_reset_hint,
                            schema,
                            zero_threshold,
                            zero_count,
                            count,
                            sum,
                            positive_spans,
                            negative_spans,
                            positive_buckets,
                            negative_buckets,
                            custom_values,
                        },
                    });
                }
            }
            Record::FloatHistograms(v)
        }
        other => Record::Unknown(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_golden_bytes() {
        // Laid out per Prometheus's samplesV1: type 2, BE64 ref 5, BE64 ts 1000, then
        // per sample varint ref delta, varint ts delta, BE64 value bits.
        let mut b = Vec::new();
        encode_samples(
            &[
                RefSample {
                    r: 5,
                    t: 1000,
                    v: 1.0,
                },
                RefSample {
                    r: 6,
                    t: 1015,
                    v: 2.0,
                },
            ],
            &mut b,
        );
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(
            hex,
            "02000000000000000500000000000003e800003ff0000000000000021e4000000000000000"
        );
        assert_eq!(
            decode(&b).unwrap(),
            Record::Samples(vec![
                RefSample {
                    r: 5,
                    t: 1000,
                    v: 1.0
                },
                RefSample {
                    r: 6,
                    t: 1015,
                    v: 2.0
                }
            ])
        );
    }

    #[test]
    fn round_trips() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        let mut b = Vec::new();
        encode_series(
            &[
                RefSeries {
                    r: 1,
                    labels: l.clone(),
                },
                RefSeries {
                    r: 2,
                    labels: Labels::empty(),
                },
            ],
            &mut b,
        );
        assert_eq!(
            decode(&b).unwrap(),
            Record::Series(vec![
                RefSeries {
                    r: 1,
                    labels: l.clone()
                },
                RefSeries {
                    r: 2,
                    labels: Labels::empty()
                }
            ])
        );
        let mut b = Vec::new();
        encode_tombstones(
            &[Stone {
                r: 3,
                mint: -5,
                maxt: 9,
            }],
            &mut b,
        );
        assert_eq!(
            decode(&b).unwrap(),
            Record::Tombstones(vec![Stone {
                r: 3,
                mint: -5,
                maxt: 9
            }])
        );
        let mut b = Vec::new();
        let ex = vec![RefExemplar {
            r: 9,
            t: 7,
            v: 0.5,
            labels: l.clone(),
        }];
        encode_exemplars(&ex, &mut b);
        assert_eq!(decode(&b).unwrap(), Record::Exemplars(ex));
        let mut b = Vec::new();
        let md = vec![RefMetadata {
            r: 1,
            metric_type: 1,
            unit: "seconds".into(),
            help: "h".into(),
        }];
        encode_metadata(&md, &mut b);
        assert_eq!(decode(&b).unwrap(), Record::Metadata(md));
        let h = Histogram {
            schema: 1,
            count: 5,
            zero_count: 1,
            sum: 3.5,
            zero_threshold: 0.001,
            positive_spans: vec![Span {
                offset: -2,
                length: 2,
            }],
            positive_buckets: vec![3, -2],
            ..Default::default()
        };
        let custom = Histogram {
            schema: ember_model::histogram::CUSTOM_BUCKETS_SCHEMA,
            count: 2,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![2],
            custom_values: vec![0.5, 1.0],
            ..Default::default()
        };
        let hs = vec![
            RefHistogram {
                r: 1,
                t: 10,
                h: h.clone(),
            },
            RefHistogram {
                r: 2,
                t: 10,
                h: custom.clone(),
            },
        ];
        let recs = encode_histograms(&hs);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            decode(&recs[0]).unwrap(),
            Record::Histograms(vec![hs[0].clone()])
        );
        assert_eq!(
            decode(&recs[1]).unwrap(),
            Record::Histograms(vec![hs[1].clone()])
        );
        let fh = vec![RefFloatHistogram {
            r: 4,
            t: 1,
            h: h.to_float(),
        }];
        let recs = encode_float_histograms(&fh);
        assert_eq!(decode(&recs[0]).unwrap(), Record::FloatHistograms(fh));
        assert!(decode(&[2, 0, 0]).is_err());
        assert_eq!(decode(&[99]).unwrap(), Record::Unknown(99));
    }
}
