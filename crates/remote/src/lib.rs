//! Remote storage: the remote-write receiver (1.0 and 2.0 messages, snappy) that lets
//! Prometheus, agents and other Embers write into Ember, with the messages shared by
//! the sender and remote read.
//!
//! The protobuf messages are declared in [`proto`] with `prost`'s derive rather than
//! compiled from Prometheus's `.proto` files, which import gogoproto; this keeps the
//! build free of `protoc` and of a `.proto` compiler.
//!
//! Remote read, both the `/api/v1/read` server and the client `Queryable` for
//! `remote_read` entries, is in [`read`].
//!
//! The remote-write sender (the WAL watcher and one queue per `remote_write`
//! entry) is in [`write`].

pub mod proto;
pub mod read;
pub mod write;

use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use ember_model::value::{Exemplar, Metadata, MetricType};
use ember_model::{Labels, LabelsBuilder};
use ember_storage::{Appender, Error as StorageError, HistogramRef};
use prost::Message;

/// Remote-write errors; all are the sender's fault (HTTP 400) except storage
/// failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Body not snappy or not the declared message.
    #[error("{0}")]
    Decode(String),
    /// Content type or encoding not supported.
    #[error("{0}")]
    Unsupported(String),
    /// Some samples were refused (out of order, duplicates, invalid labels); the rest
    /// were stored.
    #[error("{0}")]
    Rejected(String),
    /// The storage failed.
    #[error("{0}")]
    Storage(String),
}

/// Which message a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `prometheus.WriteRequest` (remote write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

/// Picks the protocol from `Content-Type`, as Prometheus's receiver does (no
/// `proto=` parameter means 1.0).
pub fn protocol(content_type: &str) -> Result<Protocol, Error> {
    let ct = content_type.trim();
    if ct.is_empty() {
        return Ok(Protocol::V1);
    }
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    if media != "application/x-protobuf" {
        return Err(Error::Unsupported(format!(
            "unsupported Content-Type {ct:?}; expected application/x-protobuf"
        )));
    }
    for p in parts {
        if let Some(v) = p.strip_prefix("proto=") {
            return match v.trim_matches('"') {
                "prometheus.WriteRequest" => Ok(Protocol::V1),
                "io.prometheus.write.v2.Request" => Ok(Protocol::V2),
                other => Err(Error::Unsupported(format!(
                    "unknown remote write protobuf message {other:?}"
                ))),
            };
        }
    }
    Ok(Protocol::V1)
}

/// What a request added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Float samples stored.
    pub samples: usize,
    /// Histogram samples stored.
    pub histograms: usize,
    /// Exemplars stored.
    pub exemplars: usize,
}

fn labels_of(pairs: impl Iterator<Item = (String, String)>) -> Result<Labels, String> {
    let mut b = LabelsBuilder::new(Labels::empty());
    let mut seen = std::collections::HashSet::new();
    for (n, v) in pairs {
        if n.is_empty() {
            return Err("invalid label name \"\"".into());
        }
        if !seen.insert(n.clone()) {
            return Err(format!("duplicate label name {n:?}"));
        }
        b.set(n, v);
    }
    let l = b.into_labels();
    if l.is_empty() {
        return Err("empty label set".into());
    }
    Ok(l)
}

/// A protobuf histogram is a float histogram when its count is a float (Prometheus's
/// `IsFloatHistogram`), otherwise an integer one with delta-encoded buckets.
fn convert_histogram(h: &proto::Histogram) -> (Option<Histogram>, Option<FloatHistogram>) {
    let hint = CounterResetHint::from_u8(h.reset_hint as u8);
    let spans = |s: &[proto::BucketSpan]| {
        s.iter()
            .map(|x| Span {
                offset: x.offset,
                length: x.length,
            })
            .collect::<Vec<_>>()
    };
    if let Some(proto::Count::CountFloat(count)) = h.count {
        let zero = match h.zero_count {
            Some(proto::ZeroCount::ZeroCountFloat(f)) => f,
            Some(proto::ZeroCount::ZeroCountInt(i)) => i as f64,
            None => 0.0,
        };
        return (
            None,
            Some(FloatHistogram {
                counter_reset_hint: hint,
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                zero_count: zero,
                count,
                sum: h.sum,
                positive_spans: spans(&h.positive_spans),
                negative_spans: spans(&h.negative_spans),
                positive_buckets: h.positive_counts.clone(),
                negative_buckets: h.negative_counts.clone(),
                custom_values: h.custom_values.clone(),
            }),
        );
    }
    let count = match h.count {
        Some(proto::Count::CountInt(i)) => i,
        _ => 0,
    };
    let zero = match h.zero_count {
        Some(proto::ZeroCount::ZeroCountInt(i)) => i,
        _ => 0,
    };
    (
        Some(Histogram {
            counter_reset_hint: hint,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: zero,
            count,
            sum: h.sum,
            positive_spans: spans(&h.positive_spans),
            negative_spans: spans(&h.negative_spans),
            positive_buckets: h.positive_deltas.clone(),
            negative_buckets: h.negative_deltas.clone(),
            custom_values: h.custom_values.clone(),
        }),
        None,
    )
}

/// One series of either protocol, normalised.
struct SeriesIn {
    labels: Labels,
    samples: Vec<(i64, f64)>,
    histograms: Vec<proto::Histogram>,
    exemplars: Vec<(Labels, f64, i64)>,
    metadata: Option<Metadata>,
}

fn metric_type(t: i32) -> MetricType {
    match t {
        1 => MetricType::Counter,
        2 => MetricType::Gauge,
        3 => MetricType::Histogram,
        4 => MetricType::GaugeHistogram,
        5 => MetricType::Summary,
        6 => MetricType::Info,
        7 => MetricType::StateSet,
        _ => MetricType::Unknown,
    }
}

fn decode(body: &[u8], proto: Protocol) -> Result<Vec<SeriesIn>, Error> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::Decode(format!("snappy decode: {e}")))?;
    match proto {
        Protocol::V1 => {
            let req = proto::WriteRequest::decode(&raw[..])
                .map_err(|e| Error::Decode(format!("decoding remote write request: {e}")))?;
            let mut out = Vec::with_capacity(req.timeseries.len());
            for ts in req.timeseries {
                let labels = labels_of(ts.labels.into_iter().map(|l| (l.name, l.value)))
                    .map_err(Error::Rejected)?;
                let exemplars = ts
                    .exemplars
                    .into_iter()
                    .map(|e| {
                        Ok((
                            labels_of(e.labels.into_iter().map(|l| (l.name, l.value)))
                                .unwrap_or_default(),
                            e.value,
                            e.timestamp,
                        ))
                    })
                    .collect::<Result<_, Error>>()?;
                out.push(SeriesIn {
                    labels,
                    samples: ts
                        .samples
                        .into_iter()
                        .map(|s| (s.timestamp, s.value))
                        .collect(),
                    histograms: ts.histograms,
                    exemplars,
                    metadata: None,
                });
            }
            Ok(out)
        }
        Protocol::V2 => {
            let req = proto::v2::Request::decode(&raw[..])
                .map_err(|e| Error::Decode(format!("decoding remote write 2.0 request: {e}")))?;
            let sym = |i: u32| -> Result<String, Error> {
                req.symbols
                    .get(i as usize)
                    .cloned()
                    .ok_or_else(|| Error::Decode(format!("symbol reference {i} out of range")))
            };
            let pairs = |refs: &[u32]| -> Result<Vec<(String, String)>, Error> {
                if !refs.len().is_multiple_of(2) {
                    return Err(Error::Decode("odd number of label references".into()));
                }
                refs.chunks(2)
                    .map(|p| Ok((sym(p[0])?, sym(p[1])?)))
                    .collect()
            };
            let mut out = Vec::with_capacity(req.timeseries.len());
            for ts in &req.timeseries {
                let labels =
                    labels_of(pairs(&ts.labels_refs)?.into_iter()).map_err(Error::Rejected)?;
                let mut exemplars = Vec::new();
                for e in &ts.exemplars {
                    exemplars.push((
                        labels_of(pairs(&e.labels_refs)?.into_iter()).unwrap_or_default(),
                        e.value,
                        e.timestamp,
                    ));
                }
                let metadata = match &ts.metadata {
                    Some(m) if m.r#type != 0 || m.help_ref != 0 || m.unit_ref != 0 => {
                        Some(Metadata {
                            metric_type: metric_type(m.r#type),
                            help: sym(m.help_ref)?,
                            unit: sym(m.unit_ref)?,
                        })
                    }
                    _ => None,
                };
                out.push(SeriesIn {
                    labels,
                    samples: ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
                    histograms: ts.histograms.clone(),
                    exemplars,
                    metadata,
                });
            }
            Ok(out)
        }
    }
}

/// Decodes a snappy-compressed request and appends it. Samples the storage refuses
/// (out of order, duplicates, too old) are counted and reported in the error while
/// everything else is committed, as Prometheus's receiver does.
pub fn receive(body: &[u8], proto: Protocol, app: &mut dyn Appender) -> Result<Written, Error> {
    let series = decode(body, proto)?;
    let mut w = Written::default();
    let mut first_err: Option<String> = None;
    let mut rejected = 0usize;
    for s in series {
        let mut r = None;
        for (t, v) in &s.samples {
            match app.append(r, &s.labels, *t, *v) {
                Ok(x) => {
                    r = Some(x);
                    w.samples += 1;
                }
                Err(
                    e @ (StorageError::OutOfOrderSample
                    | StorageError::OutOfBounds
                    | StorageError::TooOldSample
                    | StorageError::DuplicateSampleForTimestamp),
                ) => {
                    rejected += 1;
                    first_err.get_or_insert_with(|| format!("{e} for series {}", s.labels));
                }
                Err(e) => return Err(Error::Storage(e.to_string())),
            }
        }
        for h in &s.histograms {
            let (ih, fhh) = convert_histogram(h);
            let res = match (&ih, &fhh) {
                (Some(x), _) => {
                    app.append_histogram(r, &s.labels, h.timestamp, HistogramRef::Int(x))
                }
                (_, Some(x)) => {
                    app.append_histogram(r, &s.labels, h.timestamp, HistogramRef::Float(x))
                }
                _ => continue,
            };
            match res {
                Ok(x) => {
                    r = Some(x);
                    w.histograms += 1;
                }
                Err(e) => {
                    rejected += 1;
                    first_err.get_or_insert_with(|| format!("{e} for series {}", s.labels));
                }
            }
        }
        for (l, v, t) in &s.exemplars {
            let e = Exemplar {
                labels: l.clone(),
                value: *v,
                ts: Some(*t),
            };
            if app.append_exemplar(r, &s.labels, &e).is_ok() {
                w.exemplars += 1;
            }
        }
        if let Some(m) = &s.metadata {
            let _ = app.update_metadata(r, &s.labels, m);
        }
    }
    match first_err {
        Some(e) => Err(Error::Rejected(format!(
            "{e} ({rejected} samples rejected)"
        ))),
        None => Ok(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_storage::list::MemStorage;
    use ember_storage::{Appendable, Queryable, ValueType};

    fn encode<M: Message>(m: &M) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&m.encode_to_vec())
            .unwrap()
    }

    fn count(st: &MemStorage) -> usize {
        let q = st.querier(i64::MIN, i64::MAX).unwrap();
        let m = ember_model::Matcher::new(ember_model::MatchType::RegexMatch, "__name__", ".+")
            .unwrap();
        q.select(false, None, &[m])
            .map(|s| {
                let s = s.unwrap();
                let mut it = s.iter();
                let mut n = 0;
                while it.next() != ValueType::None {
                    n += 1;
                }
                n
            })
            .sum()
    }

    #[test]
    fn v1_and_v2_requests() {
        let st = MemStorage::new();
        let req = proto::WriteRequest {
            timeseries: vec![proto::TimeSeries {
                labels: vec![
                    proto::Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    proto::Label {
                        name: "job".into(),
                        value: "a".into(),
                    },
                ],
                samples: vec![
                    proto::Sample {
                        value: 1.0,
                        timestamp: 10,
                    },
                    proto::Sample {
                        value: 2.0,
                        timestamp: 20,
                    },
                ],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let mut app = st.appender();
        let w = receive(
            &encode(&req),
            protocol("application/x-protobuf").unwrap(),
            app.as_mut(),
        )
        .unwrap();
        app.commit().unwrap();
        assert_eq!(w.samples, 2);
        let v2 = proto::v2::Request {
            symbols: vec![
                "".into(),
                "__name__".into(),
                "up".into(),
                "job".into(),
                "b".into(),
            ],
            timeseries: vec![proto::v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![proto::v2::Sample {
                    value: 5.0,
                    timestamp: 30,
                    start_timestamp: 0,
                }],
                ..Default::default()
            }],
        };
        let p = protocol("application/x-protobuf;proto=io.prometheus.write.v2.Request").unwrap();
        assert_eq!(p, Protocol::V2);
        let mut app = st.appender();
        receive(&encode(&v2), p, app.as_mut()).unwrap();
        app.commit().unwrap();
        assert_eq!(count(&st), 3);
        // Out of order: rejected, the rest kept.
        let mut bad = req.clone();
        bad.timeseries[0].samples = vec![
            proto::Sample {
                value: 9.0,
                timestamp: 5,
            },
            proto::Sample {
                value: 3.0,
                timestamp: 40,
            },
        ];
        let mut app = st.appender();
        let e = receive(&encode(&bad), Protocol::V1, app.as_mut()).unwrap_err();
        app.commit().unwrap();
        assert!(e.to_string().contains("out of order"), "{e}");
        assert_eq!(count(&st), 4);
        // Garbage.
        let mut app = st.appender();
        assert!(matches!(
            receive(b"not snappy", Protocol::V1, app.as_mut()),
            Err(Error::Decode(_))
        ));
        assert!(protocol("text/plain").is_err());
    }
}
