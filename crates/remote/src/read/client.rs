//! The reading side: one `remote_read` entry as a [`Queryable`], as Prometheus's
//! `storage/remote/read.go` and `client.go` behave.
//!
//! Each `select` sends one `ReadRequest` (accepting STREAMED_XOR_CHUNKS first, then
//! SAMPLES, as Prometheus asks) and decodes whichever answer comes back into
//! in-memory series. Around that request:
//!
//! - `required_matchers`: a select that does not carry every one of them as an
//!   equality matcher is not sent and returns nothing;
//! - `filter_external_labels`: the server's external labels not already matched are
//!   added as equality matchers, and removed from the returned series again;
//! - `read_recent: false`: the local storage is preferred for the time it holds
//!   complete data, from the start time the callback gives: a range starting after
//!   it is not sent, one ending after it is cut there (`preferLocalStorage`).
//!
//! The HTTP exchange itself is behind [`ReadTransport`], which the binary implements
//! over the shared HTTP client (auth, TLS, proxies, headers); this crate sits below
//! the one that holds that client.

use super::ReadError;
use super::codec::{
    FrameReader, decode_chunks, from_pb_labels, snappy_decode, snappy_encode, to_label_matchers,
    to_value,
};
use super::proto::{Query, ReadHints, ReadRequest, ReadResponse, ResponseType};
use super::server::{SAMPLES_CONTENT_TYPE, STREAMED_CONTENT_TYPE};
use crate::proto::TimeSeries;
use ember_model::{Labels, LabelsBuilder, MatchType, Matcher};
use ember_storage::list::{ListSeries, Value};
use ember_storage::{
    BoxSeries, Error as StorageError, LabelHints, LabelQuerier, Querier, Queryable, SelectHints,
    SeriesSet, Timestamp,
};
use prost::Message;
use std::sync::Arc;

/// Headers every read request carries besides the configured ones.
pub const REQUEST_HEADERS: [(&str, &str); 4] = [
    ("Content-Encoding", "snappy"),
    ("Accept-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Read-Version", "0.1.0"),
];

/// Largest snappy-decoded SAMPLES response accepted.
const MAX_RESPONSE: usize = 1 << 31;

/// An HTTP answer as the transport got it.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body (not snappy-decoded).
    pub body: Vec<u8>,
}

/// Sends a read request body (already snappy-compressed) to the endpoint with
/// [`REQUEST_HEADERS`], within the configured timeout.
pub trait ReadTransport: Send + Sync {
    /// POSTs `body`; any status is a reply, only transport failures are errors.
    fn post(&self, body: Vec<u8>) -> Result<HttpReply, ReadError>;
    /// The endpoint, for error messages.
    fn url(&self) -> &str;
}

/// The local storage's start time in ms (Prometheus's `localStartTimeCallback`).
pub type StartTimeFn = Arc<dyn Fn() -> Result<Timestamp, String> + Send + Sync>;

/// The `remote_read` settings the client acts on.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// The external labels to filter by; empty when `filter_external_labels` is
    /// false.
    pub external_labels: Labels,
    /// `required_matchers`.
    pub required_matchers: Vec<(String, String)>,
    /// `read_recent`.
    pub read_recent: bool,
    /// `chunked_read_limit`: largest frame accepted; 0 for none.
    pub chunked_read_limit: u64,
}

struct Inner {
    transport: Box<dyn ReadTransport>,
    opts: ClientOptions,
    local_start: StartTimeFn,
}

/// One `remote_read` endpoint as a [`Queryable`]. Cheap to clone.
#[derive(Clone)]
pub struct RemoteReadQueryable {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteReadQueryable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReadQueryable")
            .field("url", &self.inner.transport.url())
            .field("opts", &self.inner.opts)
            .finish()
    }
}

impl RemoteReadQueryable {
    /// A queryable over `transport`; `local_start` tells where the local storage's
    /// complete data starts (only asked when `read_recent` is false).
    pub fn new(
        transport: Box<dyn ReadTransport>,
        opts: ClientOptions,
        local_start: StartTimeFn,
    ) -> Self {
        RemoteReadQueryable {
            inner: Arc::new(Inner {
                transport,
                opts,
                local_start,
            }),
        }
    }

    /// A querier that owns what it needs, so that it can outlive this handle
    /// (the server swaps its remotes on reload while queries run).
    pub fn owned_querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + 'static>, StorageError> {
        let mut maxt = maxt;
        if !self.inner.opts.read_recent {
            let start = (self.inner.local_start)().map_err(StorageError::Io)?;
            if mint > start {
                return Ok(Box::new(ember_storage::list::ListQuerier::new(Vec::new())));
            }
            maxt = maxt.min(start);
        }
        Ok(Box::new(RemoteQuerier {
            inner: self.inner.clone(),
            mint,
            maxt,
        }))
    }

    /// Sends one query and returns its series, sorted by labels, with the
    /// external labels the request added still on them.
    pub fn read(&self, query: Query) -> Result<Vec<ListSeries>, ReadError> {
        read(&self.inner, query)
    }
}

impl Queryable for RemoteReadQueryable {
    fn querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + '_>, StorageError> {
        self.owned_querier(mint, maxt)
    }
}

struct RemoteQuerier {
    inner: Arc<Inner>,
    mint: Timestamp,
    maxt: Timestamp,
}

impl LabelQuerier for RemoteQuerier {
    // Prometheus's remote querier does not implement label lookups either (its
    // fan-out turns the error into a warning); the local storage answers them.
    fn label_values(
        &self,
        _name: &str,
        _hints: &LabelHints,
        _matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    fn label_names(
        &self,
        _hints: &LabelHints,
        _matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
}

impl Querier for RemoteQuerier {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> SeriesSet<'_> {
        let opts = &self.inner.opts;
        let all_required = opts.required_matchers.iter().all(|(n, v)| {
            matchers
                .iter()
                .any(|m| m.kind == MatchType::Equal && &m.name == n && &m.value == v)
        });
        if !all_required {
            return SeriesSet::empty();
        }
        let (ms, added) = add_external_labels(matchers, &opts.external_labels);
        let query = Query {
            start_timestamp_ms: self.mint,
            end_timestamp_ms: self.maxt,
            matchers: to_label_matchers(&ms),
            hints: hints.map(|h| ReadHints {
                step_ms: h.step,
                func: h.func.clone(),
                start_ms: h.start,
                end_ms: h.end,
                grouping: h.grouping.clone(),
                by: h.by,
                range_ms: h.range,
            }),
        };
        match read(&self.inner, query) {
            Ok(series) => {
                let series = drop_labels(series, &added);
                SeriesSet::new(
                    series
                        .into_iter()
                        .map(|s| Ok(Box::new(s) as BoxSeries<'static>)),
                )
            }
            // As in Prometheus's fan-out, a remote that fails does not fail the
            // query: its error becomes a warning and local data still answers.
            Err(e) => {
                let mut set = SeriesSet::empty();
                set.warnings.push(format!("remote_read: {e}"));
                set
            }
        }
    }
}

/// Adds an equality matcher for each external label no matcher names; returns the
/// matchers and the names added (Prometheus's `addExternalLabels`).
fn add_external_labels(ms: &[Matcher], external: &Labels) -> (Vec<Matcher>, Vec<String>) {
    let mut out = ms.to_vec();
    let mut added = Vec::new();
    for l in external {
        if ms.iter().any(|m| m.name == l.name) {
            continue;
        }
        if let Ok(m) = Matcher::new(MatchType::Equal, l.name.clone(), l.value.clone()) {
            out.push(m);
            added.push(l.name.clone());
        }
    }
    (out, added)
}

/// Removes `names` from every series, keeping the set sorted and each label set
/// once (series that became equal are merged).
fn drop_labels(series: Vec<ListSeries>, names: &[String]) -> Vec<ListSeries> {
    if names.is_empty() {
        return series;
    }
    let mut out: Vec<ListSeries> = series
        .into_iter()
        .map(|mut s| {
            let mut b = LabelsBuilder::new(s.labels);
            for n in names {
                b.del(n);
            }
            s.labels = b.into_labels();
            s
        })
        .collect();
    sort_and_merge(&mut out);
    out
}

fn sort_and_merge(series: &mut Vec<ListSeries>) {
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut merged: Vec<ListSeries> = Vec::with_capacity(series.len());
    for s in series.drain(..) {
        match merged.last_mut() {
            Some(last) if last.labels == s.labels => {
                last.samples.extend(s.samples);
                last.samples.sort_by_key(|x| x.0);
                last.samples.dedup_by_key(|x| x.0);
            }
            _ => merged.push(s),
        }
    }
    *series = merged;
}

fn read(inner: &Inner, query: Query) -> Result<Vec<ListSeries>, ReadError> {
    let (mint, maxt) = (query.start_timestamp_ms, query.end_timestamp_ms);
    let req = ReadRequest {
        queries: vec![query],
        accepted_response_types: vec![
            ResponseType::StreamedXorChunks as i32,
            ResponseType::Samples as i32,
        ],
    };
    let url = inner.transport.url();
    let reply = inner.transport.post(snappy_encode(&req.encode_to_vec())?)?;
    if !(200..300).contains(&reply.status) {
        let body = String::from_utf8_lossy(&reply.body);
        return Err(ReadError::Transport(format!(
            "remote server {url} returned http status {}: {}",
            reply.status,
            body.trim_matches('\n')
        )));
    }
    let ct = reply.content_type.as_str();
    let mut series = if ct.starts_with(STREAMED_CONTENT_TYPE) {
        decode_streamed(&reply.body, inner.opts.chunked_read_limit, mint, maxt)?
    } else if ct.starts_with(SAMPLES_CONTENT_TYPE) {
        decode_samples(&reply.body)?
    } else {
        return Err(ReadError::Decode(format!("unsupported content type: {ct}")));
    };
    sort_and_merge(&mut series);
    Ok(series)
}

/// Decodes a SAMPLES body answering one query.
pub fn decode_samples(body: &[u8]) -> Result<Vec<ListSeries>, ReadError> {
    let raw = snappy_decode(body, MAX_RESPONSE)
        .map_err(|e| ReadError::Decode(format!("error reading response: {e}")))?;
    let resp = ReadResponse::decode(&raw[..])
        .map_err(|e| ReadError::Decode(format!("unable to unmarshal response body: {e}")))?;
    if resp.results.len() != 1 {
        return Err(ReadError::Decode(format!(
            "responses: want 1, got {}",
            resp.results.len()
        )));
    }
    resp.results
        .into_iter()
        .flat_map(|r| r.timeseries)
        .map(|ts| series_of(&ts))
        .collect()
}

fn series_of(ts: &TimeSeries) -> Result<ListSeries, ReadError> {
    let labels = from_pb_labels(&ts.labels)?;
    if labels.is_empty() {
        return Err(ReadError::Decode("series without labels".into()));
    }
    let mut samples: Vec<(Timestamp, Value)> = ts
        .samples
        .iter()
        .map(|s| (s.timestamp, Value::Float(s.value)))
        .chain(
            ts.histograms
                .iter()
                .filter_map(|h| Some((h.timestamp, to_value(h)?))),
        )
        .collect();
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    Ok(ListSeries { labels, samples })
}

/// Decodes a STREAMED_XOR_CHUNKS body: consecutive frames of the same series (a
/// series split over frames) become one series; samples outside `[mint, maxt]` are
/// dropped.
pub fn decode_streamed(
    body: &[u8],
    limit: u64,
    mint: Timestamp,
    maxt: Timestamp,
) -> Result<Vec<ListSeries>, ReadError> {
    let mut frames = FrameReader::new(body, limit);
    let mut out: Vec<ListSeries> = Vec::new();
    while let Some(resp) = frames.next_response()? {
        for cs in resp.chunked_series {
            let labels = from_pb_labels(&cs.labels)?;
            let start_new = out.last().is_none_or(|l| l.labels != labels);
            if start_new {
                out.push(ListSeries {
                    labels,
                    samples: Vec::new(),
                });
            }
            if let Some(s) = out.last_mut() {
                decode_chunks(&cs.chunks, mint, maxt, &mut s.samples)?;
            }
        }
    }
    out.retain(|s| !s.samples.is_empty());
    Ok(out)
}
