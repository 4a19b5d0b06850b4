//! The protobuf exposition format: `io.prometheus.client.MetricFamily` messages,
//! length-delimited (`application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`).
//!
//! The messages are declared with `prost`'s derive rather than generated from
//! `client_model`'s `metrics.proto`: the field numbers and kinds below are that file's
//! (proto2, so every scalar is optional and repeated scalars are unpacked on the
//! wire). This is the structured model client libraries gather into and the
//! Pushgateway stores: unlike the flat [`crate::MetricFamily`], a histogram or a
//! summary is one metric with its buckets or quantiles, and native histograms
//! (schema, spans, deltas) have a place.
//!
//! Besides the codec, two conversions that follow Go's `expfmt`:
//! [`from_flat`] groups a parsed text exposition into metrics as `TextParser` does,
//! and [`to_flat`] spells metrics out as samples as `MetricFamilyToText` writes them,
//! so that [`crate::write_text`] prints what a Go program would.
#![allow(missing_docs)]

use std::collections::HashMap;

use ember_model::labels::Label;
use prost::Message;

use crate::float::write_go_float;
use crate::model::{MetricFamily as FlatFamily, Sample};
use crate::types::MetricType as FlatType;

/// `io.prometheus.client.LabelPair`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct LabelPair {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

impl LabelPair {
    /// A pair with both fields set.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        LabelPair {
            name: Some(name.into()),
            value: Some(value.into()),
        }
    }
}

/// `io.prometheus.client.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Summary = 2,
    Untyped = 3,
    Histogram = 4,
    GaugeHistogram = 5,
}

impl MetricType {
    /// The enum's name in the `.proto` file (`COUNTER`, …), which Go prints.
    pub fn proto_name(self) -> &'static str {
        match self {
            MetricType::Counter => "COUNTER",
            MetricType::Gauge => "GAUGE",
            MetricType::Summary => "SUMMARY",
            MetricType::Untyped => "UNTYPED",
            MetricType::Histogram => "HISTOGRAM",
            MetricType::GaugeHistogram => "GAUGE_HISTOGRAM",
        }
    }
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Gauge {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Counter {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
    #[prost(message, optional, boxed, tag = "2")]
    pub exemplar: Option<Box<Exemplar>>,
    #[prost(message, optional, tag = "3")]
    pub created_timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Quantile {
    #[prost(double, optional, tag = "1")]
    pub quantile: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    pub quantile: Vec<Quantile>,
    #[prost(message, optional, tag = "4")]
    pub created_timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Untyped {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    #[prost(double, optional, tag = "4")]
    pub sample_count_float: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    #[prost(message, optional, tag = "15")]
    pub created_timestamp: Option<Timestamp>,
    #[prost(sint32, optional, tag = "5")]
    pub schema: Option<i32>,
    #[prost(double, optional, tag = "6")]
    pub zero_threshold: Option<f64>,
    #[prost(uint64, optional, tag = "7")]
    pub zero_count: Option<u64>,
    #[prost(double, optional, tag = "8")]
    pub zero_count_float: Option<f64>,
    #[prost(message, repeated, tag = "9")]
    pub negative_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, packed = "false", tag = "10")]
    pub negative_delta: Vec<i64>,
    #[prost(double, repeated, packed = "false", tag = "11")]
    pub negative_count: Vec<f64>,
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    pub positive_delta: Vec<i64>,
    #[prost(double, repeated, packed = "false", tag = "14")]
    pub positive_count: Vec<f64>,
    #[prost(message, repeated, tag = "16")]
    pub exemplars: Vec<Exemplar>,
}

impl Histogram {
    /// The observation count: the float field when set above zero, as Go reads it.
    pub fn count(&self) -> f64 {
        match self.sample_count_float {
            Some(c) if c > 0.0 => c,
            _ => self.sample_count.unwrap_or(0) as f64,
        }
    }

    /// Whether the histogram carries native (exponential) buckets.
    pub fn is_native(&self) -> bool {
        self.schema.is_some()
            && (!self.positive_span.is_empty()
                || !self.negative_span.is_empty()
                || self.zero_threshold.is_some()
                || self.bucket.is_empty())
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Bucket {
    #[prost(uint64, optional, tag = "1")]
    pub cumulative_count: Option<u64>,
    #[prost(double, optional, tag = "4")]
    pub cumulative_count_float: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub upper_bound: Option<f64>,
    #[prost(message, optional, boxed, tag = "3")]
    pub exemplar: Option<Box<Exemplar>>,
}

impl Bucket {
    /// The cumulative count, the float field winning when set above zero.
    pub fn count(&self) -> f64 {
        match self.cumulative_count_float {
            Some(c) if c > 0.0 => c,
            _ => self.cumulative_count.unwrap_or(0) as f64,
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, optional, tag = "1")]
    pub offset: Option<i32>,
    #[prost(uint32, optional, tag = "2")]
    pub length: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    #[prost(double, optional, tag = "2")]
    pub value: Option<f64>,
    #[prost(message, optional, tag = "3")]
    pub timestamp: Option<Timestamp>,
}

/// `io.prometheus.client.Metric`: one series (or one histogram or summary).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    pub counter: Option<Counter>,
    // The two large kinds are boxed: a store of many gauges (the Pushgateway's
    // usual content) should not pay for a histogram's worth of empty fields each.
    #[prost(message, optional, boxed, tag = "4")]
    pub summary: Option<Box<Summary>>,
    #[prost(message, optional, tag = "5")]
    pub untyped: Option<Untyped>,
    #[prost(message, optional, boxed, tag = "7")]
    pub histogram: Option<Box<Histogram>>,
    #[prost(int64, optional, tag = "6")]
    pub timestamp_ms: Option<i64>,
}

impl Metric {
    /// Which value field is set, in the order Go's consistency check looks.
    pub fn kind(&self) -> Option<MetricType> {
        if self.gauge.is_some() {
            Some(MetricType::Gauge)
        } else if self.counter.is_some() {
            Some(MetricType::Counter)
        } else if self.summary.is_some() {
            Some(MetricType::Summary)
        } else if self.untyped.is_some() {
            Some(MetricType::Untyped)
        } else if self.histogram.is_some() {
            Some(MetricType::Histogram)
        } else {
            None
        }
    }

    /// The label value for `name`, if the metric has that label.
    pub fn label_value(&self, name: &str) -> Option<&str> {
        self.label
            .iter()
            .find(|l| l.name.as_deref() == Some(name))
            .map(|l| l.value.as_deref().unwrap_or(""))
    }
}

/// `io.prometheus.client.MetricFamily`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricFamily {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub help: Option<String>,
    #[prost(enumeration = "MetricType", optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<Metric>,
    #[prost(string, optional, tag = "5")]
    pub unit: Option<String>,
}

impl MetricFamily {
    /// The family's type; an unset or unknown value reads as `COUNTER`, the enum's
    /// zero, as in Go.
    pub fn metric_type(&self) -> MetricType {
        self.r#type
            .and_then(|t| MetricType::try_from(t).ok())
            .unwrap_or(MetricType::Counter)
    }
}

/// Why a protobuf body or a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The bytes are not a sequence of delimited `MetricFamily` messages.
    #[error("invalid protobuf MetricFamily at byte {offset}: {reason}")]
    Decode {
        /// Where the failing message's length prefix starts.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A text-format sample that cannot become part of a metric.
    #[error("text format parsing error in line {line}: {reason}")]
    Text {
        /// The sample's position among the family's samples is all `parse` keeps, so
        /// this is the family's name instead of a line when no line is known.
        line: String,
        /// What was wrong.
        reason: String,
    },
}

/// Decodes a body of length-delimited `MetricFamily` messages, as client libraries
/// push them. An empty body holds no families.
pub fn decode_delimited(mut body: &[u8]) -> Result<Vec<MetricFamily>, ProtoError> {
    let total = body.len();
    let mut out = Vec::new();
    while !body.is_empty() {
        let offset = total - body.len();
        let len = prost::encoding::decode_varint(&mut body).map_err(|e| ProtoError::Decode {
            offset,
            reason: e.to_string(),
        })?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= body.len())
            .ok_or_else(|| ProtoError::Decode {
                offset,
                reason: format!("length {len} runs past the end of the body"),
            })?;
        let (msg, rest) = body.split_at(len);
        out.push(MetricFamily::decode(msg).map_err(|e| ProtoError::Decode {
            offset,
            reason: e.to_string(),
        })?);
        body = rest;
    }
    Ok(out)
}

/// Appends `families` as length-delimited messages.
pub fn encode_delimited(out: &mut Vec<u8>, families: &[MetricFamily]) {
    for f in families {
        // Writing into a Vec cannot run out of room.
        let _ = f.encode_length_delimited(out);
    }
}

/// Groups a parsed text exposition into metrics, as Go's `expfmt.TextParser` does:
/// a counter, gauge or untyped sample is one metric; summary quantiles and histogram
/// buckets join the metric of the same labels (less `quantile` or `le`) with its
/// `_sum` and `_count`. Counts are stored as unsigned integers, truncated as Go
/// truncates them. Families keep their input order.
pub fn from_flat(families: Vec<FlatFamily>) -> Result<Vec<MetricFamily>, ProtoError> {
    let mut out: Vec<MetricFamily> = Vec::with_capacity(families.len());
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for f in families {
        let ty = match f.metric_type {
            FlatType::Counter => MetricType::Counter,
            FlatType::Gauge => MetricType::Gauge,
            FlatType::Summary => MetricType::Summary,
            FlatType::Histogram => MetricType::Histogram,
            FlatType::GaugeHistogram => MetricType::GaugeHistogram,
            FlatType::Info | FlatType::StateSet | FlatType::Unknown => MetricType::Untyped,
        };
        let idx = match by_name.get(&f.name) {
            Some(&i) => {
                let existing = &mut out[i];
                if f.help.is_some() && existing.help.is_none() {
                    existing.help = f.help.clone();
                }
                i
            }
            None => {
                by_name.insert(f.name.clone(), out.len());
                out.push(MetricFamily {
                    name: Some(f.name.clone()),
                    help: f.help.clone(),
                    r#type: Some(ty as i32),
                    metric: Vec::new(),
                    unit: None,
                });
                out.len() - 1
            }
        };
        match ty {
            MetricType::Summary | MetricType::Histogram | MetricType::GaugeHistogram => {
                group_complex(&mut out[idx], f.samples, ty)?
            }
            _ => {
                for s in f.samples {
                    let metric = simple_metric(s, ty);
                    out[idx].metric.push(metric);
                }
            }
        }
    }
    Ok(out)
}

fn pairs(labels: Vec<Label>, skip: &str) -> Vec<LabelPair> {
    labels
        .into_iter()
        .filter(|l| l.name != skip)
        .map(|l| LabelPair::new(l.name, l.value))
        .collect()
}

fn simple_metric(s: Sample, ty: MetricType) -> Metric {
    let mut m = Metric {
        label: pairs(s.labels, ""),
        timestamp_ms: s.timestamp_ms,
        ..Metric::default()
    };
    let v = Some(s.value);
    match ty {
        MetricType::Counter => {
            m.counter = Some(Counter {
                value: v,
                ..Counter::default()
            })
        }
        MetricType::Gauge => m.gauge = Some(Gauge { value: v }),
        _ => m.untyped = Some(Untyped { value: v }),
    }
    m
}

/// Go's `uint64(f)` for the counts the text format gives as floats.
fn go_uint(f: f64) -> u64 {
    if f.is_nan() || f <= 0.0 { 0 } else { f as u64 }
}

fn group_complex(
    family: &mut MetricFamily,
    samples: Vec<Sample>,
    ty: MetricType,
) -> Result<(), ProtoError> {
    let name = family.name().to_string();
    let (special, suffix_main) = if ty == MetricType::Summary {
        ("quantile", "")
    } else {
        ("le", "_bucket")
    };
    // Metrics of this family added by this call, by their label set.
    let mut index: HashMap<Vec<LabelPair>, usize> = HashMap::new();
    for s in samples {
        let suffix = s.name.strip_prefix(name.as_str()).unwrap_or("");
        let special_value = s
            .labels
            .iter()
            .find(|l| l.name == special)
            .map(|l| l.value.clone());
        let labels = pairs(s.labels, if suffix == suffix_main { special } else { "" });
        let mut key = labels.clone();
        key.sort();
        let i = *index.entry(key).or_insert_with(|| {
            let mut m = Metric {
                label: labels,
                timestamp_ms: s.timestamp_ms,
                ..Metric::default()
            };
            if ty == MetricType::Summary {
                m.summary = Some(Box::default());
            } else {
                m.histogram = Some(Box::default());
            }
            family.metric.push(m);
            family.metric.len() - 1
        });
        let m = &mut family.metric[i];
        match (suffix, m.summary.as_mut(), m.histogram.as_mut()) {
            ("_sum", Some(sm), _) => sm.sample_sum = Some(s.value),
            ("_count", Some(sm), _) => sm.sample_count = Some(go_uint(s.value)),
            ("", Some(sm), _) => {
                let q = special_value.ok_or_else(|| ProtoError::Text {
                    line: s.name.clone(),
                    reason: "expected quantile label for summary sample".into(),
                })?;
                let q = parse_bound(&q, &s.name)?;
                sm.quantile.push(Quantile {
                    quantile: Some(q),
                    value: Some(s.value),
                });
            }
            ("_sum", _, Some(h)) => h.sample_sum = Some(s.value),
            ("_count", _, Some(h)) => h.sample_count = Some(go_uint(s.value)),
            ("_bucket", _, Some(h)) => {
                let le = special_value.ok_or_else(|| ProtoError::Text {
                    line: s.name.clone(),
                    reason: "expected le label for histogram bucket".into(),
                })?;
                let ub = parse_bound(&le, &s.name)?;
                h.bucket.push(Bucket {
                    cumulative_count: Some(go_uint(s.value)),
                    upper_bound: Some(ub),
                    ..Bucket::default()
                });
            }
            // `_created`, `_gcount`, `_gsum` and the like have no place in the text
            // parser's model.
            _ => {}
        }
    }
    Ok(())
}

fn parse_bound(text: &str, sample: &str) -> Result<f64, ProtoError> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        _ => text.parse::<f64>().map_err(|_| ProtoError::Text {
            line: sample.to_string(),
            reason: format!("expected float as value for label, got {text:?}"),
        }),
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)`, with expfmt's `+Inf`.
pub fn format_go_float(f: f64) -> String {
    let mut buf = Vec::with_capacity(24);
    write_go_float(&mut buf, f);
    String::from_utf8(buf).unwrap_or_default()
}

/// Calls `f(suffix, extra label, value)` for each sample `expfmt.MetricFamilyToText`
/// writes for `m` in a family of type `ty`: a summary's quantiles then `_sum` and
/// `_count`; a histogram's buckets, a `+Inf` bucket if the last is not one, then
/// `_sum` and `_count`. Native buckets have no spelling in the text format and are
/// left out, as Go leaves them out.
fn for_each_sample(
    m: &Metric,
    ty: MetricType,
    mut f: impl FnMut(&'static str, Option<(&'static str, f64)>, f64),
) {
    match ty {
        MetricType::Counter => f(
            "",
            None,
            m.counter.as_ref().and_then(|c| c.value).unwrap_or(0.0),
        ),
        MetricType::Gauge => f(
            "",
            None,
            m.gauge.as_ref().and_then(|c| c.value).unwrap_or(0.0),
        ),
        MetricType::Untyped => f(
            "",
            None,
            m.untyped.as_ref().and_then(|c| c.value).unwrap_or(0.0),
        ),
        MetricType::Summary => {
            let empty = Summary::default();
            let s = m.summary.as_deref().unwrap_or(&empty);
            for q in &s.quantile {
                f(
                    "",
                    Some(("quantile", q.quantile.unwrap_or(0.0))),
                    q.value.unwrap_or(0.0),
                );
            }
            f("_sum", None, s.sample_sum.unwrap_or(0.0));
            f("_count", None, s.sample_count.unwrap_or(0) as f64);
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            let empty = Histogram::default();
            let h = m.histogram.as_deref().unwrap_or(&empty);
            let mut saw_inf = false;
            for b in &h.bucket {
                let ub = b.upper_bound.unwrap_or(0.0);
                saw_inf = ub == f64::INFINITY;
                f("_bucket", Some(("le", ub)), b.count());
            }
            if !saw_inf {
                f("_bucket", Some(("le", f64::INFINITY)), h.count());
            }
            f("_sum", None, h.sample_sum.unwrap_or(0.0));
            f("_count", None, h.count());
        }
    }
}

/// Appends one family in the text format 0.0.4 as `expfmt.MetricFamilyToText` writes
/// it (see [`for_each_sample`] for the samples), straight from the metrics, so that a
/// large exposition is written without building its flat copy first. Writes nothing
/// for a family without metrics.
pub fn write_text_family<'a>(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    ty: MetricType,
    metrics: impl IntoIterator<Item = &'a Metric>,
) {
    let mut metrics = metrics.into_iter().peekable();
    if metrics.peek().is_none() {
        return;
    }
    let mut head = FlatFamily::new(name, flat_type(ty));
    head.help = help.map(str::to_string);
    crate::writer::write_text(out, std::slice::from_ref(&head));
    for m in metrics {
        for_each_sample(m, ty, |suffix, extra, v| {
            crate::writer::write_sample_line(
                out,
                name,
                suffix,
                m.label.iter().map(|l| {
                    (
                        l.name.as_deref().unwrap_or(""),
                        l.value.as_deref().unwrap_or(""),
                    )
                }),
                extra,
                v,
                m.timestamp_ms,
            );
        });
    }
}

fn flat_type(ty: MetricType) -> FlatType {
    match ty {
        MetricType::Counter => FlatType::Counter,
        MetricType::Gauge => FlatType::Gauge,
        MetricType::Summary => FlatType::Summary,
        MetricType::Untyped => FlatType::Unknown,
        MetricType::Histogram => FlatType::Histogram,
        MetricType::GaugeHistogram => FlatType::GaugeHistogram,
    }
}

/// Spells metrics out as flat samples, as [`write_text_family`] writes them. Labels
/// and metric order are kept; families with no metrics are dropped.
pub fn to_flat(families: &[MetricFamily]) -> Vec<FlatFamily> {
    let mut out = Vec::with_capacity(families.len());
    for f in families {
        if f.metric.is_empty() {
            continue;
        }
        let name = f.name();
        let ty = f.metric_type();
        let mut flat = FlatFamily::new(name, flat_type(ty));
        flat.help = f.help.clone();
        for m in &f.metric {
            for_each_sample(m, ty, |suffix, extra, v| {
                let mut labels: Vec<Label> = m
                    .label
                    .iter()
                    .map(|l| {
                        Label::new(
                            l.name.clone().unwrap_or_default(),
                            l.value.clone().unwrap_or_default(),
                        )
                    })
                    .collect();
                if let Some((n, b)) = extra {
                    labels.push(Label::new(n, format_go_float(b)));
                }
                flat.samples.push(Sample {
                    name: format!("{name}{suffix}"),
                    labels,
                    value: v,
                    timestamp_ms: m.timestamp_ms,
                    exemplar: None,
                });
            });
        }
        out.push(flat);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, parse, write_text};

    fn roundtrip(text: &str) -> String {
        let flat = parse(text.as_bytes(), Format::Text).expect("parses");
        let proto = from_flat(flat).expect("converts");
        let mut buf = Vec::new();
        encode_delimited(&mut buf, &proto);
        let back = decode_delimited(&buf).expect("decodes");
        assert_eq!(back, proto);
        let mut out = Vec::new();
        write_text(&mut out, &to_flat(&back));
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn histogram_and_summary_group_into_one_metric_each() {
        let text = "# HELP h help\n# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 1\nh_bucket{a=\"1\",le=\"1e6\"} 2\nh_sum{a=\"1\"} 1.5\nh_count{a=\"1\"} 2\n# TYPE s summary\ns{quantile=\"0.9\"} 1e-06\ns_sum 3\ns_count 4\n";
        let proto = from_flat(parse(text.as_bytes(), Format::Text).expect("parses")).expect("ok");
        assert_eq!(proto.len(), 2);
        assert_eq!(proto[0].metric.len(), 1);
        let h = proto[0].metric[0].histogram.as_ref().expect("histogram");
        assert_eq!(h.bucket.len(), 2);
        assert_eq!(h.sample_count, Some(2));
        assert_eq!(proto[0].metric[0].label, vec![LabelPair::new("a", "1")]);
        // expfmt adds the +Inf bucket and spells 1e6 as Go does.
        assert_eq!(
            roundtrip(text),
            "# HELP h help\n# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 1\nh_bucket{a=\"1\",le=\"1e+06\"} 2\nh_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 1.5\nh_count{a=\"1\"} 2\n# TYPE s summary\ns{quantile=\"0.9\"} 1e-06\ns_sum 3\ns_count 4\n"
        );
    }

    #[test]
    fn direct_writer_matches_the_flat_path() {
        let text = "# HELP h help\n# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 1\nh_sum{a=\"1\"} 1.5\nh_count{a=\"1\"} 2\n# TYPE s summary\ns{quantile=\"0.9\",b=\"x\\\"y\"} 1e-06\ns_sum{b=\"x\\\"y\"} 3\ns_count{b=\"x\\\"y\"} 4\n# TYPE g gauge\ng 1 123\n";
        let proto = from_flat(parse(text.as_bytes(), Format::Text).expect("parses")).expect("ok");
        let mut direct = Vec::new();
        for f in &proto {
            write_text_family(
                &mut direct,
                f.name(),
                f.help.as_deref(),
                f.metric_type(),
                &f.metric,
            );
        }
        let mut flat = Vec::new();
        write_text(&mut flat, &to_flat(&proto));
        assert_eq!(
            String::from_utf8(direct).expect("utf8"),
            String::from_utf8(flat).expect("utf8")
        );
    }

    #[test]
    fn untyped_and_timestamps_survive() {
        assert_eq!(
            roundtrip("a_total{x=\"y\"} 3 1000\n"),
            "# TYPE a_total untyped\na_total{x=\"y\"} 3 1000\n"
        );
    }

    #[test]
    fn truncated_body_is_an_error() {
        let f = MetricFamily {
            name: Some("x".into()),
            ..MetricFamily::default()
        };
        let mut buf = Vec::new();
        encode_delimited(&mut buf, &[f.clone(), f]);
        assert_eq!(decode_delimited(&buf).expect("whole").len(), 2);
        let err = decode_delimited(&buf[..buf.len() - 1]).expect_err("truncated");
        assert!(err.to_string().contains("runs past the end"), "{err}");
        assert!(decode_delimited(&[0xff]).is_err());
        assert!(decode_delimited(&[]).expect("empty").is_empty());
    }
}
