//! Prometheus's query API: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//! `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/format_query`,
//! `/api/v1/parse_query` — same parameters (GET or form POST), JSON shapes, number
//! formatting and status codes, so that Grafana and API clients work unchanged.

use crate::WebState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ember_model::Labels;
use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram};
use ember_promql::{Engine, Error as QError, QueryResult, Value};
use ember_storage::{LabelHints, Queryable, SelectHints};
use serde_json::{Value as J, json};
use std::fmt::Write as _;
use std::sync::Arc;

/// What the query endpoints need: the storage and the engine.
pub struct QueryService {
    /// Where samples are read: the local TSDB merged with the `remote_read` remotes.
    pub storage: Arc<dyn Queryable>,
    /// The local TSDB alone: `/federate` serves only local data, as Prometheus does.
    pub local: Arc<dyn Queryable>,
    /// The PromQL engine.
    pub engine: Engine,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryService")
    }
}

/// An API error with Prometheus's error type and status code.
pub(crate) struct ApiError {
    kind: &'static str,
    msg: String,
}

impl ApiError {
    /// The reason, as the error envelope's `error` field carries it.
    pub(crate) fn message(&self) -> &str {
        &self.msg
    }

    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        ApiError {
            kind: "bad_data",
            msg: msg.into(),
        }
    }
    pub(crate) fn with_kind(kind: &'static str, msg: impl Into<String>) -> Self {
        ApiError {
            kind,
            msg: msg.into(),
        }
    }
    fn exec(msg: impl Into<String>) -> Self {
        ApiError {
            kind: "execution",
            msg: msg.into(),
        }
    }
}

impl From<QError> for ApiError {
    fn from(e: QError) -> Self {
        let kind = match &e {
            QError::Parse(_) => "bad_data",
            QError::Timeout(_) => "timeout",
            QError::Canceled(_) => "canceled",
            QError::Storage(_) => "internal",
            _ => "execution",
        };
        ApiError {
            kind,
            msg: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = match self.kind {
            "bad_data" => StatusCode::BAD_REQUEST,
            "execution" => StatusCode::UNPROCESSABLE_ENTITY,
            "canceled" => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            "timeout" => StatusCode::SERVICE_UNAVAILABLE,
            "not_found" => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = json!({"status": "error", "errorType": self.kind, "error": self.msg});
        (
            code,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

fn ok(data: J, warnings: Vec<String>, infos: Vec<String>) -> Response {
    let mut body = json!({"status": "success", "data": data});
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    if !infos.is_empty() {
        body["infos"] = json!(infos);
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Parameters from the query string and, for form POSTs, the body.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn new(query: Option<String>, headers: &HeaderMap, body: &Bytes) -> Self {
        let mut v: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            v.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(v)
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix seconds (with fraction) or RFC 3339, as Prometheus's `parseTime`.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        let secs = f.trunc();
        let ms = ((f - secs) * 1000.0).round();
        return Ok(secs as i64 * 1000 + ms as i64);
    }
    ember_model::time::parse_rfc3339(s)
        .ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}

fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        return Ok((f * 1000.0) as i64);
    }
    ember_promql_parser::parse_duration(s)
        .map(|d| d.as_millis())
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

/// Prometheus's float format: shortest digits, exponent below 1e-6 and from 1e21.
pub(crate) fn fmt_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    format!("{f}")
}

fn ts_json(t: i64) -> J {
    let mut s = String::new();
    if t < 0 {
        s.push('-');
    }
    let a = t.unsigned_abs();
    let _ = write!(s, "{}", a / 1000);
    if !a.is_multiple_of(1000) {
        let _ = write!(s, ".{:03}", a % 1000);
    }
    serde_json::from_str(&s).unwrap_or(J::Null)
}

fn metric_json(l: &Labels) -> J {
    J::Object(
        l.iter()
            .map(|x| (x.name.clone(), J::String(x.value.clone())))
            .collect(),
    )
}

fn hist_json(h: &FloatHistogram) -> J {
    let mut o = serde_json::Map::new();
    o.insert("count".into(), J::String(fmt_float(h.count)));
    o.insert("sum".into(), J::String(fmt_float(h.sum)));
    let mut buckets = Vec::new();
    let expand = |spans: &[ember_model::histogram::Span], counts: &[f64]| {
        let mut v = Vec::new();
        let mut idx = 0i32;
        let mut k = 0;
        for (i, s) in spans.iter().enumerate() {
            idx = if i == 0 { s.offset } else { idx + s.offset };
            for _ in 0..s.length {
                if let Some(c) = counts.get(k) {
                    v.push((idx, *c));
                }
                k += 1;
                idx += 1;
            }
        }
        v
    };
    let bound = |i: i32| 2f64.powf(i as f64 * 2f64.powi(-h.schema));
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            let i = i as usize;
            let lo = if i == 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values.get(i - 1).copied().unwrap_or(f64::INFINITY)
            };
            let hi = h.custom_values.get(i).copied().unwrap_or(f64::INFINITY);
            if c != 0.0 {
                buckets.push(json!([0, fmt_float(lo), fmt_float(hi), fmt_float(c)]));
            }
        }
    } else {
        for (i, c) in expand(&h.negative_spans, &h.negative_buckets)
            .into_iter()
            .rev()
        {
            if c != 0.0 {
                buckets.push(json!([
                    1,
                    fmt_float(-bound(i)),
                    fmt_float(-bound(i - 1)),
                    fmt_float(c)
                ]));
            }
        }
        if h.zero_count != 0.0 {
            buckets.push(json!([
                3,
                fmt_float(-h.zero_threshold),
                fmt_float(h.zero_threshold),
                fmt_float(h.zero_count)
            ]));
        }
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            if c != 0.0 {
                buckets.push(json!([
                    0,
                    fmt_float(bound(i - 1)),
                    fmt_float(bound(i)),
                    fmt_float(c)
                ]));
            }
        }
    }
    if !buckets.is_empty() {
        o.insert("buckets".into(), J::Array(buckets));
    }
    J::Object(o)
}

fn value_json(v: &Value) -> J {
    match v {
        Value::Scalar { t, v } => {
            json!({"resultType": "scalar", "result": [ts_json(*t), fmt_float(*v)]})
        }
        Value::String { t, s } => json!({"resultType": "string", "result": [ts_json(*t), s]}),
        Value::Vector(vec) => {
            let r: Vec<J> = vec
                .iter()
                .map(|s| match &s.h {
                    Some(h) => json!({"metric": metric_json(&s.metric), "histogram": [ts_json(s.t), hist_json(h)]}),
                    None => json!({"metric": metric_json(&s.metric), "value": [ts_json(s.t), fmt_float(s.f)]}),
                })
                .collect();
            json!({"resultType": "vector", "result": r})
        }
        Value::Matrix(m) => {
            let r: Vec<J> = m
                .iter()
                .map(|s| {
                    let mut o = serde_json::Map::new();
                    o.insert("metric".into(), metric_json(&s.metric));
                    if !s.floats.is_empty() {
                        o.insert(
                            "values".into(),
                            J::Array(
                                s.floats
                                    .iter()
                                    .map(|p| json!([ts_json(p.t), fmt_float(p.f)]))
                                    .collect(),
                            ),
                        );
                    }
                    if !s.histograms.is_empty() {
                        o.insert(
                            "histograms".into(),
                            J::Array(
                                s.histograms
                                    .iter()
                                    .map(|p| json!([ts_json(p.t), hist_json(&p.h)]))
                                    .collect(),
                            ),
                        );
                    }
                    J::Object(o)
                })
                .collect();
            json!({"resultType": "matrix", "result": r})
        }
    }
}

pub(crate) fn service(s: &WebState) -> Result<Arc<QueryService>, ApiError> {
    s.query.clone().ok_or_else(|| ApiError {
        kind: "unavailable",
        msg: "no storage configured".into(),
    })
}

fn respond(r: QueryResult) -> Response {
    let has_hist = match &r.value {
        Value::Vector(v) => v.iter().any(|s| s.h.is_some()),
        Value::Matrix(m) => m.iter().any(|s| !s.histograms.is_empty()),
        _ => true,
    };
    if !has_hist {
        return fast_json::respond(&r);
    }
    let warnings = r.annotations.warnings.into_iter().collect();
    let infos = r.annotations.infos.into_iter().collect();
    ok(value_json(&r.value), warnings, infos)
}

/// Query results written straight into the body rather than through a
/// `serde_json::Value` tree (objects in key order, as that path writes them), with
/// timestamps as Prometheus writes them (`1.500`, three fraction digits).
mod fast_json {
    use super::*;

    fn push_str(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{08}' => out.push_str("\\b"),
                '\u{0c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn push_ts(out: &mut String, t: i64) {
        if t < 0 {
            out.push('-');
        }
        let a = t.unsigned_abs();
        let _ = write!(out, "{}", a / 1000);
        let ms = a % 1000;
        if ms != 0 {
            // Always three digits, as Prometheus's MarshalTimestamp writes them.
            let _ = write!(out, ".{ms:03}");
        }
    }

    fn push_float(out: &mut String, f: f64) {
        out.push('"');
        push_float_digits(out, f);
        out.push('"');
    }

    /// Go's `FormatFloat(f, 'f', -1, 64)` digits: whole numbers (most samples:
    /// counters, gauges of counts) by `itoa`, without the formatting machinery that
    /// dominates the JSON time of long series; the rest by `Display`, whose shortest
    /// round-trip digits are Go's. (`ryu` was tried: it picks a different last
    /// digit than Go for some values, e.g. 1658206780088562.2 for ...562.3.)
    pub(super) fn push_float_digits(out: &mut String, f: f64) {
        let a = f.abs();
        if f.is_nan() || f.is_infinite() || (a != 0.0 && !(1e-6..1e21).contains(&a)) {
            out.push_str(&fmt_float(f));
        } else if f == f.trunc() && a < 9.007_199_254_740_992e15 {
            if f == 0.0 && f.is_sign_negative() {
                out.push('-');
            }
            out.push_str(itoa::Buffer::new().format(f as i64));
        } else {
            let _ = write!(out, "{f}");
        }
    }

    fn push_metric(out: &mut String, l: &Labels) {
        out.push('{');
        for (i, x) in l.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str(out, &x.name);
            out.push(':');
            push_str(out, &x.value);
        }
        out.push('}');
    }

    fn push_list(out: &mut String, v: &std::collections::BTreeSet<String>) {
        out.push('[');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str(out, s);
        }
        out.push(']');
    }

    pub(super) fn respond(r: &QueryResult) -> Response {
        let mut out = String::with_capacity(256);
        out.push_str("{\"data\":{\"result\":");
        let kind = match &r.value {
            Value::Scalar { t, v } => {
                out.push('[');
                push_ts(&mut out, *t);
                out.push(',');
                push_float(&mut out, *v);
                out.push(']');
                "scalar"
            }
            Value::String { t, s } => {
                out.push('[');
                push_ts(&mut out, *t);
                out.push(',');
                push_str(&mut out, s);
                out.push(']');
                "string"
            }
            Value::Vector(vec) => {
                out.push('[');
                for (i, s) in vec.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"metric\":");
                    push_metric(&mut out, &s.metric);
                    out.push_str(",\"value\":[");
                    push_ts(&mut out, s.t);
                    out.push(',');
                    push_float(&mut out, s.f);
                    out.push_str("]}");
                }
                out.push(']');
                "vector"
            }
            Value::Matrix(m) => {
                out.push('[');
                for (i, s) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"metric\":");
                    push_metric(&mut out, &s.metric);
                    if !s.floats.is_empty() {
                        out.push_str(",\"values\":[");
                        for (j, p) in s.floats.iter().enumerate() {
                            if j > 0 {
                                out.push(',');
                            }
                            out.push('[');
                            push_ts(&mut out, p.t);
                            out.push(',');
                            push_float(&mut out, p.f);
                            out.push(']');
                        }
                        out.push(']');
                    }
                    out.push('}');
                }
                out.push(']');
                "matrix"
            }
        };
        out.push_str(",\"resultType\":\"");
        out.push_str(kind);
        out.push_str("\"}");
        if !r.annotations.infos.is_empty() {
            out.push_str(",\"infos\":");
            push_list(&mut out, &r.annotations.infos);
        }
        out.push_str(",\"status\":\"success\"");
        if !r.annotations.warnings.is_empty() {
            out.push_str(",\"warnings\":");
            push_list(&mut out, &r.annotations.warnings);
        }
        out.push('}');
        ([(header::CONTENT_TYPE, "application/json")], out).into_response()
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError {
        kind: "internal",
        msg: e.to_string(),
    })
}

pub(crate) async fn query(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let svc = service(&s)?;
    // A missing query is an empty one, which the parser refuses as Prometheus's does.
    let query = p.get("query").unwrap_or_default().to_string();
    let t = match p.get("time") {
        Some(t) => parse_time(t).map_err(|e| {
            ApiError::bad(format!(
                "invalid parameter \"time\": Invalid time value for 'time': {e}"
            ))
        })?,
        None => now_ms(),
    };
    let engine = engine_for(&svc, &p)?;
    let r = blocking(move || engine.instant_query(svc.storage.as_ref(), &query, t))
        .await?
        .map_err(|e| match e {
            // As Prometheus: an instant query that does not parse is a bad `query`
            // parameter (a range query's parse error comes without the prefix).
            QError::Parse(_) => ApiError::bad(format!("invalid parameter \"query\": {e}")),
            e => e.into(),
        })?;
    Ok(respond(r))
}

pub(crate) async fn query_range(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let svc = service(&s)?;
    // A missing query is an empty one, which the parser refuses as Prometheus's does.
    let query = p.get("query").unwrap_or_default().to_string();
    let start = parse_time(p.get("start").unwrap_or(""))
        .map_err(|e| ApiError::bad(format!("invalid parameter \"start\": {e}")))?;
    let end = parse_time(p.get("end").unwrap_or(""))
        .map_err(|e| ApiError::bad(format!("invalid parameter \"end\": {e}")))?;
    if end < start {
        return Err(ApiError::bad(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = parse_duration(p.get("step").unwrap_or(""))
        .map_err(|e| ApiError::bad(format!("invalid parameter \"step\": {e}")))?;
    if step <= 0 {
        return Err(ApiError::bad(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > 11_000 {
        return Err(ApiError::bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let engine = engine_for(&svc, &p)?;
    let r = blocking(move || engine.range_query(svc.storage.as_ref(), &query, start, end, step))
        .await??;
    Ok(respond(r))
}

/// The engine for one request: the server's, with its timeout shortened by the
/// `timeout` parameter when one is given (as Prometheus bounds the query's context).
fn engine_for(svc: &QueryService, p: &Params) -> Result<ember_promql::Engine, ApiError> {
    match p.get("timeout").filter(|v| !v.is_empty()) {
        None => Ok(svc.engine.clone()),
        Some(v) => {
            let ms = parse_duration(v)
                .map_err(|e| ApiError::bad(format!("invalid parameter \"timeout\": {e}")))?;
            let mut o = svc.engine.options().clone();
            o.timeout = o
                .timeout
                .min(std::time::Duration::from_millis(ms.max(0) as u64));
            Ok(ember_promql::Engine::new(o))
        }
    }
}

pub(crate) fn matchers(p: &Params) -> Result<Vec<Vec<ember_model::Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|m| {
            ember_promql_parser::parse_metric_selector(m)
                .map_err(|e| ApiError::bad(format!("invalid parameter \"match[]\": {e}")))
        })
        .collect()
}

/// [`matchers`], each set required to have a matcher that the empty value fails
/// (Prometheus's `parseMatchersParam`, for series and label queries).
fn non_empty_matchers(p: &Params) -> Result<Vec<Vec<ember_model::Matcher>>, ApiError> {
    let sets = matchers(p)?;
    if sets.iter().any(|set| set.iter().all(|m| m.matches(""))) {
        return Err(ApiError::bad(
            "match[] must contain at least one non-empty matcher",
        ));
    }
    Ok(sets)
}

pub(crate) fn range_params(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = match p.get("start") {
        Some(v) => parse_time(v).map_err(|e| {
            ApiError::bad(format!(
                "invalid parameter \"start\": Invalid time value for 'start': {e}"
            ))
        })?,
        None => i64::MIN / 2,
    };
    let end = match p.get("end") {
        Some(v) => parse_time(v).map_err(|e| {
            ApiError::bad(format!(
                "invalid parameter \"end\": Invalid time value for 'end': {e}"
            ))
        })?,
        None => i64::MAX / 2,
    };
    Ok((start, end))
}

pub(crate) async fn series(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let svc = service(&s)?;
    let sets = non_empty_matchers(&p)?;
    if sets.is_empty() {
        return Err(ApiError::bad("no match[] parameter provided"));
    }
    let (start, end) = range_params(&p)?;
    let out = blocking(move || -> Result<Vec<J>, ApiError> {
        let q = svc
            .storage
            .querier(start, end)
            .map_err(|e| ApiError::exec(e.to_string()))?;
        let hints = SelectHints {
            start,
            end,
            func: "series".into(),
            ..Default::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for m in &sets {
            for s in q.select(true, Some(&hints), m) {
                let s = s.map_err(|e| ApiError::exec(e.to_string()))?;
                seen.insert(s.labels().clone());
            }
        }
        Ok(seen.iter().map(metric_json).collect())
    })
    .await??;
    Ok(ok(J::Array(out), vec![], vec![]))
}

pub(crate) async fn labels(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let svc = service(&s)?;
    let sets = non_empty_matchers(&p)?;
    let (start, end) = range_params(&p)?;
    let out = blocking(move || -> Result<Vec<String>, ApiError> {
        let q = svc
            .storage
            .querier(start, end)
            .map_err(|e| ApiError::exec(e.to_string()))?;
        let mut names = std::collections::BTreeSet::new();
        if sets.is_empty() {
            names.extend(
                q.label_names(&LabelHints::default(), &[])
                    .map_err(|e| ApiError::exec(e.to_string()))?,
            );
        }
        for m in &sets {
            names.extend(
                q.label_names(&LabelHints::default(), m)
                    .map_err(|e| ApiError::exec(e.to_string()))?,
            );
        }
        Ok(names.into_iter().collect())
    })
    .await??;
    Ok(ok(json!(out), vec![], vec![]))
}

pub(crate) async fn label_values(
    State(s): State<Arc<WebState>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let svc = service(&s)?;
    // UTF-8 names arrive as `U__` escapes, as Prometheus's API accepts them.
    let name = unescape_label_name(&name);
    if name.is_empty() {
        return Err(ApiError::bad(format!("invalid label name: {name:?}")));
    }
    let sets = non_empty_matchers(&p)?;
    let (start, end) = range_params(&p)?;
    let out = blocking(move || -> Result<Vec<String>, ApiError> {
        let q = svc
            .storage
            .querier(start, end)
            .map_err(|e| ApiError::exec(e.to_string()))?;
        let mut vals = std::collections::BTreeSet::new();
        if sets.is_empty() {
            vals.extend(
                q.label_values(&name, &LabelHints::default(), &[])
                    .map_err(|e| ApiError::exec(e.to_string()))?,
            );
        }
        for m in &sets {
            vals.extend(
                q.label_values(&name, &LabelHints::default(), m)
                    .map_err(|e| ApiError::exec(e.to_string()))?,
            );
        }
        Ok(vals.into_iter().collect())
    })
    .await??;
    Ok(ok(json!(out), vec![], vec![]))
}

/// Reverses the `U__` value encoding of label names in URL paths.
fn unescape_label_name(s: &str) -> String {
    let Some(rest) = s.strip_prefix("U__") else {
        return s.to_string();
    };
    let mut out = String::new();
    let mut it = rest.split('_').peekable();
    let mut first = true;
    while let Some(part) = it.next() {
        if !first {
            // `_hex_` encodes a code point; a lone `__` is an underscore.
            if part.is_empty() {
                out.push('_');
                continue;
            }
            if let Ok(cp) = u32::from_str_radix(part, 16)
                && let Some(c) = char::from_u32(cp)
                && it.peek().is_some()
            {
                out.push(c);
                it.next();
                if let Some(next) = it.next() {
                    out.push_str(next);
                }
                continue;
            }
        }
        out.push_str(part);
        first = false;
    }
    out
}

pub(crate) async fn format_query(
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let query = p.get("query").unwrap_or("");
    let e = ember_promql_parser::parse_expr(query)
        .map_err(|e| ApiError::bad(format!("invalid parameter \"query\": {e}")))?;
    Ok(ok(
        J::String(ember_promql_parser::prettify(&e)),
        vec![],
        vec![],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float path writes exactly what the general formatter writes, over
    /// whole numbers, fractions, tiny and huge magnitudes and random bit patterns.
    #[test]
    fn fast_float_digits_equal_the_general_ones() {
        let mut cases = vec![
            0.0, -0.0, 1.0, -1.0, 0.1, 1.5, 100.0, 1e-6, 9.99e-7, 1e20, 1e21,
        ];
        cases.extend([
            1e15,
            1e16,
            123456789012345680.0,
            2f64.powi(53),
            2f64.powi(53) + 2.0,
        ]);
        cases.extend([
            0.3,
            2.0 / 3.0,
            1.0 / 3.0,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..200_000u64 {
            // xorshift: every exponent, and also plain decimals.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(f64::from_bits(x));
            cases.push((x % 1_000_000) as f64 / 1000.0);
            cases.push(i as f64 * 0.25 - 1000.0);
        }
        for f in cases {
            let mut fast = String::new();
            fast_json::push_float_digits(&mut fast, f);
            let a = f.abs();
            let general =
                if f.is_nan() || f.is_infinite() || (a != 0.0 && !(1e-6..1e21).contains(&a)) {
                    fmt_float(f)
                } else {
                    format!("{f}")
                };
            assert_eq!(fast, general, "{f:e} ({:#x})", f.to_bits());
        }
    }

    #[test]
    fn times_and_floats_like_prometheus() {
        assert_eq!(parse_time("1435781451.781").unwrap(), 1_435_781_451_781);
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z").unwrap(),
            1_435_781_451_781
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51+02:00").unwrap(),
            1_435_781_451_000
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(fmt_float(1.0), "1");
        assert_eq!(fmt_float(0.1), "0.1");
        assert_eq!(fmt_float(1e-7), "1e-07");
        assert_eq!(fmt_float(1.5e21), "1.5e+21");
        assert_eq!(fmt_float(f64::INFINITY), "+Inf");
        assert_eq!(ts_json(1_435_781_451_781).to_string(), "1435781451.781");
        assert_eq!(ts_json(1_000).to_string(), "1");
        assert_eq!(ts_json(1_005).to_string(), "1.005");
    }

    #[tokio::test]
    async fn vector_body_like_prometheus() {
        use axum::body::to_bytes;
        let r = QueryResult {
            value: Value::Vector(vec![ember_promql::Sample {
                metric: Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]),
                t: 1_500,
                f: f64::INFINITY,
                h: None,
            }]),
            annotations: Default::default(),
        };
        let body = to_bytes(respond(r).into_body(), 1 << 20).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"data":{"result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1.500,"+Inf"]}],"resultType":"vector"},"status":"success"}"#
        );
    }
}
