//! The serving side of remote read (`POST /api/v1/read`), as Prometheus's
//! `storage/remote/read_handler.go`: decode the snappy `ReadRequest`, pick the
//! response type, run each query against a [`Queryable`] and encode the answer.
//!
//! Matchers on external label names are turned into "label absent" matchers
//! before querying (the stored series do not carry external labels), and the
//! external labels are added to every returned series, so that a client sees the
//! series as they would leave this server by federation or remote write.
//!
//! The HTTP layer (status codes, concurrency gate) lives in `ember-web`; this module
//! is synchronous and transport-free so that it can be tested without a server.
//! Streamed responses are built in memory frame by frame; the bytes are the same a
//! true stream would carry.

use super::ReadError;
use super::codec::{
    ChunkEncoder, DECODE_READ_LIMIT, from_float_histogram, from_int_histogram, from_label_matchers,
    merge_labels, snappy_decode, snappy_encode, to_pb_labels, write_frame,
};
use super::proto::{
    ChunkedReadResponse, ChunkedSeries, Query, QueryResult, ReadRequest, ReadResponse, ResponseType,
};
use crate::proto::{self as pb, Sample, TimeSeries};
use ember_model::histogram::{FloatHistogram, Histogram};
use ember_model::{Labels, MatchType, Matcher};
use ember_storage::list::Value;
use ember_storage::{Queryable, SelectHints, SeriesSet, ValueType};
use prost::Message;
use std::sync::Arc;

/// `Content-Type` of a SAMPLES response (with `Content-Encoding: snappy`).
pub const SAMPLES_CONTENT_TYPE: &str = "application/x-protobuf";
/// `Content-Type` of a STREAMED_XOR_CHUNKS response.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// Limits from the `--storage.remote.read-*` flags.
#[derive(Clone, Copy, Debug)]
pub struct ServerOptions {
    /// Most samples one query of a SAMPLES response may return; 0 for no limit.
    pub sample_limit: usize,
    /// Target size of a streamed frame, labels included; a series with more
    /// chunks than fit is split over several frames.
    pub max_bytes_in_frame: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            sample_limit: 50_000_000,
            max_bytes_in_frame: 1_048_576,
        }
    }
}

/// An encoded answer.
#[derive(Debug)]
pub struct Reply {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Content-Encoding`, `snappy` for SAMPLES.
    pub content_encoding: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
}

/// Decodes a request body (snappy block of a `ReadRequest`).
pub fn decode_request(body: &[u8]) -> Result<ReadRequest, ReadError> {
    if body.len() > DECODE_READ_LIMIT {
        return Err(ReadError::BadRequest(format!(
            "request body exceeds limit {DECODE_READ_LIMIT}"
        )));
    }
    let raw = snappy_decode(body, DECODE_READ_LIMIT)?;
    ReadRequest::decode(&raw[..]).map_err(|e| ReadError::BadRequest(e.to_string()))
}

/// The first accepted type the server supports; none listed means SAMPLES.
pub fn negotiate(accepted: &[i32]) -> Result<ResponseType, ReadError> {
    if accepted.is_empty() {
        return Ok(ResponseType::Samples);
    }
    accepted
        .iter()
        .find_map(|t| ResponseType::try_from(*t).ok())
        .ok_or_else(|| {
            ReadError::BadRequest(format!(
                "server does not support any of the requested response types: {accepted:?}; supported: [SAMPLES STREAMED_XOR_CHUNKS]"
            ))
        })
}

/// Answers a decoded request from `q`, with `external` the server's external
/// labels.
pub fn handle(
    q: &dyn Queryable,
    req: &ReadRequest,
    external: &Labels,
    opts: &ServerOptions,
) -> Result<Reply, ReadError> {
    let ext = to_pb_labels(external);
    match negotiate(&req.accepted_response_types)? {
        ResponseType::Samples => {
            let mut resp = ReadResponse {
                results: Vec::with_capacity(req.queries.len()),
            };
            for query in &req.queries {
                resp.results
                    .push(query_samples(q, query, external, &ext, opts.sample_limit)?);
            }
            Ok(Reply {
                content_type: SAMPLES_CONTENT_TYPE,
                content_encoding: Some("snappy"),
                body: snappy_encode(&resp.encode_to_vec())?,
            })
        }
        ResponseType::StreamedXorChunks => {
            let mut body = Vec::new();
            for (i, query) in req.queries.iter().enumerate() {
                stream_query(q, i as i64, query, external, &ext, opts, &mut body)?;
            }
            Ok(Reply {
                content_type: STREAMED_CONTENT_TYPE,
                content_encoding: None,
                body,
            })
        }
    }
}

/// Decodes `body` and answers it: what the HTTP handler calls.
pub fn serve(
    q: &dyn Queryable,
    body: &[u8],
    external: &Labels,
    opts: &ServerOptions,
) -> Result<Reply, ReadError> {
    handle(q, &decode_request(body)?, external, opts)
}

/// The query's matchers with those naming an external label with its value
/// replaced by `name=""`: the stored series do not carry external labels, so such a
/// matcher must select series without the label (Prometheus's
/// `filterExtLabelsFromMatchers`).
fn filter_external(query: &Query, external: &Labels) -> Result<Vec<Matcher>, ReadError> {
    from_label_matchers(&query.matchers)?
        .into_iter()
        .map(|m| {
            if m.kind == MatchType::Equal && external.get_or_empty(&m.name) == m.value {
                Matcher::new(MatchType::Equal, m.name, "")
                    .map_err(|e| ReadError::BadRequest(e.to_string()))
            } else {
                Ok(m)
            }
        })
        .collect()
}

fn hints(query: &Query) -> Option<SelectHints> {
    query.hints.as_ref().map(|h| SelectHints {
        start: h.start_ms,
        end: h.end_ms,
        step: h.step_ms,
        func: h.func.clone(),
        grouping: h.grouping.clone(),
        by: h.by,
        range: h.range_ms,
        limit: 0,
    })
}

/// Runs `f` over every series of the query with its samples inside the query's
/// range (iterators may run past it).
fn each_series(
    q: &dyn Queryable,
    query: &Query,
    external: &Labels,
    sorted: bool,
    mut f: impl FnMut(&Labels, &mut dyn ember_storage::SampleIterator) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let matchers = filter_external(query, external)?;
    let (mint, maxt) = (query.start_timestamp_ms, query.end_timestamp_ms);
    let querier = q
        .querier(mint, maxt)
        .map_err(|e| ReadError::Storage(e.to_string()))?;
    let h = hints(query);
    let set: SeriesSet<'_> = querier.select(sorted, h.as_ref(), &matchers);
    for series in set {
        let series = series.map_err(|e| ReadError::Storage(e.to_string()))?;
        let mut it = series.iter();
        f(series.labels(), it.as_mut())?;
        if let Some(e) = it.err() {
            return Err(ReadError::Storage(e.to_string()));
        }
    }
    Ok(())
}

/// Moves `it` to the next sample inside `[mint, maxt]`, or `None` past the end.
fn next_in_range(
    it: &mut dyn ember_storage::SampleIterator,
    first: &mut bool,
    mint: i64,
    maxt: i64,
) -> Option<ValueType> {
    let vt = if *first {
        *first = false;
        it.seek(mint)
    } else {
        it.next()
    };
    (vt != ValueType::None && it.at_t() <= maxt).then_some(vt)
}

fn query_samples(
    q: &dyn Queryable,
    query: &Query,
    external: &Labels,
    ext: &[pb::Label],
    limit: usize,
) -> Result<QueryResult, ReadError> {
    let (mint, maxt) = (query.start_timestamp_ms, query.end_timestamp_ms);
    let mut out = QueryResult::default();
    let mut count = 0usize;
    each_series(q, query, external, false, |labels, it| {
        let mut ts = TimeSeries::default();
        let mut first = true;
        while let Some(vt) = next_in_range(it, &mut first, mint, maxt) {
            count += 1;
            if limit > 0 && count > limit {
                return Err(ReadError::BadRequest(format!(
                    "exceeded sample limit ({limit})"
                )));
            }
            match vt {
                ValueType::Float => {
                    let (timestamp, value) = it.at();
                    ts.samples.push(Sample { value, timestamp });
                }
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    let t = it.at_histogram(&mut h);
                    ts.histograms.push(from_int_histogram(t, &h));
                }
                ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    let t = it.at_float_histogram(&mut h);
                    ts.histograms.push(from_float_histogram(t, &h));
                }
                ValueType::None => break,
            }
        }
        // A series without samples in range is not part of the answer, as the
        // TSDB's querier would not have returned it.
        if !ts.samples.is_empty() || !ts.histograms.is_empty() {
            ts.labels = merge_labels(&to_pb_labels(labels), ext);
            out.timeseries.push(ts);
        }
        Ok(())
    })?;
    Ok(out)
}

fn stream_query(
    q: &dyn Queryable,
    index: i64,
    query: &Query,
    external: &Labels,
    ext: &[pb::Label],
    opts: &ServerOptions,
    body: &mut Vec<u8>,
) -> Result<(), ReadError> {
    let (mint, maxt) = (query.start_timestamp_ms, query.end_timestamp_ms);
    each_series(q, query, external, true, |labels, it| {
        let mut enc = ChunkEncoder::new();
        let mut first = true;
        while let Some(vt) = next_in_range(it, &mut first, mint, maxt) {
            let (t, v) = match vt {
                ValueType::Float => {
                    let (t, v) = it.at();
                    (t, Value::Float(v))
                }
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    let t = it.at_histogram(&mut h);
                    (t, Value::Histogram(Arc::new(h)))
                }
                ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    let t = it.at_float_histogram(&mut h);
                    (t, Value::FloatHistogram(Arc::new(h)))
                }
                ValueType::None => break,
            };
            enc.push(t, &v)?;
        }
        let chunks = enc.finish();
        if chunks.is_empty() {
            return Ok(());
        }
        let labels = merge_labels(&to_pb_labels(labels), ext);
        // Prometheus budgets each frame as the flag minus the labels' encoded sizes
        // and closes it once the chunks reach the budget.
        let budget = opts.max_bytes_in_frame as i64
            - labels.iter().map(|l| l.encoded_len() as i64).sum::<i64>();
        let mut left = budget;
        let mut pending = Vec::new();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            left -= c.encoded_len() as i64;
            pending.push(c);
            if left > 0 && i + 1 < n {
                continue;
            }
            let frame = ChunkedReadResponse {
                chunked_series: vec![ChunkedSeries {
                    labels: labels.clone(),
                    chunks: std::mem::take(&mut pending),
                }],
                query_index: index,
            };
            write_frame(body, &frame.encode_to_vec());
            left = budget;
        }
        Ok(())
    })
}
