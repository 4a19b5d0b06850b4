//! The HTTP surface: the push API, `/metrics`, `/api/v1`, lifecycle endpoints and
//! the UI page, with the original's paths, status codes and bodies.

use std::io::Read;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use ember_exposition::proto::{
    self, Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType, format_go_float,
};
use ember_exposition::{Format, parse};
use serde_json::{Map, Value, json};

use crate::grouping::{GroupingKey, parse_push_path, push_path};
use crate::store::{OwnFamily, PUSH_FAILURE_TIME, PUSH_TIME};
use crate::{Gateway, now_nanos, process};

const BUILD_INFO: &str = "pushgateway_build_info";
const BUILD_INFO_HELP: &str = "A metric with a constant '1' value labeled by version, revision, branch, and the compiler version from which pushgateway was built.";
const REQUESTS: &str = "pushgateway_http_requests_total";
const REQUESTS_HELP: &str = "Total HTTP requests processed by the Pushgateway, excluding scrapes.";
const PROTO_TYPE: &str = "application/vnd.google.protobuf";
const PROTO_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The families the gateway exposes about itself, which pushes must agree with.
pub(crate) fn own_families() -> Vec<OwnFamily> {
    let mut v = vec![
        OwnFamily {
            name: BUILD_INFO,
            metric_type: MetricType::Gauge,
            help: BUILD_INFO_HELP,
        },
        OwnFamily {
            name: REQUESTS,
            metric_type: MetricType::Counter,
            help: REQUESTS_HELP,
        },
    ];
    v.extend(process::HELP.iter().map(|(name, ty, help)| OwnFamily {
        name,
        metric_type: *ty,
        help,
    }));
    v
}

pub(crate) fn router(gw: Gateway) -> Router {
    let p = gw.inner.opts.route_prefix.clone();
    let telemetry = format!("{p}{}", gw.inner.opts.telemetry_path);
    let mut r = Router::new()
        .route(&format!("{p}/-/healthy"), get(ok))
        .route(&format!("{p}/-/ready"), get(ok))
        .route(
            &format!("{p}/metrics/{{*rest}}"),
            put(push_put).post(push_post).delete(push_delete),
        )
        .route(&format!("{p}/-/quit"), put(quit).post(quit).get(quit_get))
        .route(
            &format!("{p}/api/v1/status"),
            get(api_status).options(api_options),
        )
        .route(
            &format!("{p}/api/v1/metrics"),
            get(api_metrics).options(api_options),
        )
        // The original answers OPTIONS on any API path (CORS preflight) and 404
        // on other methods of paths it does not know.
        .route(&format!("{p}/api/v1/{{*rest}}"), any(api_unknown))
        .route(&format!("{p}/status"), get(ui));
    // Without the admin flag the original does not register the route at all, so
    // every method gets 404 there.
    if gw.inner.opts.admin {
        r = r.route(
            &format!("{p}/api/v1/admin/wipe"),
            put(wipe).options(api_options),
        );
    }
    r = r.route(&telemetry, get(metrics));
    if p.is_empty() {
        r = r.route("/", get(ui));
    } else {
        r = r
            .route(&format!("{p}/"), get(ui))
            // The original's router redirects a GET of the bare prefix to the
            // prefix with a slash, and answers 404 to other methods.
            .route(&p, any(bare_prefix))
            // And it registers the refusal of `GET /-/quit` without the prefix.
            .route("/-/quit", get(quit_get));
    }
    // Pushes can be large, and the original sets no limit.
    r.layer(DefaultBodyLimit::disable()).with_state(gw)
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found")
}

async fn bare_prefix(State(gw): State<Gateway>, method: Method) -> Response {
    if method != Method::GET {
        return not_found();
    }
    let to = format!("{}/", gw.inner.opts.route_prefix);
    match HeaderValue::from_str(&to) {
        Ok(v) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response(),
        Err(_) => not_found(),
    }
}

async fn api_unknown(State(gw): State<Gateway>, method: Method) -> Response {
    if method == Method::OPTIONS {
        return api_options(State(gw)).await;
    }
    not_found()
}

impl Gateway {
    fn count(&self, code: StatusCode, handler: &'static str, method: &Method) {
        if let Ok(mut m) = self.inner.requests.lock() {
            *m.entry((code.as_u16(), handler, method.as_str().to_lowercase()))
                .or_default() += 1;
        }
    }
}

async fn ok() -> &'static str {
    "OK"
}

fn text(code: StatusCode, body: impl Into<String>) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into() + "\n",
    )
        .into_response()
}

/// The body as sent: `Content-Encoding: gzip` and `snappy` (framed) are undone.
fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, String> {
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut out = Vec::new();
    match enc.as_str() {
        "gzip" => flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?,
        "snappy" => snap::read::FrameDecoder::new(&body[..])
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?,
        _ => return Ok(body.to_vec()),
    };
    Ok(out)
}

/// Whether the Content-Type is the delimited protobuf the original accepts.
fn is_protobuf(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case(PROTO_TYPE))
    {
        return false;
    }
    let (mut encoding, mut proto) = (false, false);
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "encoding" => encoding = v == "delimited",
                "proto" => proto = v == "io.prometheus.client.MetricFamily",
                _ => {}
            }
        }
    }
    encoding && proto
}

fn parse_push(headers: &HeaderMap, body: Bytes) -> Result<Vec<MetricFamily>, String> {
    let body = decode_body(headers, body)?;
    if is_protobuf(headers) {
        proto::decode_delimited(&body).map_err(|e| e.to_string())
    } else {
        // Anything else is read as the text format, as the original does.
        let flat = parse(&body, Format::Text).map_err(|e| e.to_string())?;
        proto::from_flat(flat).map_err(|e| e.to_string())
    }
}

async fn push_put(
    State(gw): State<Gateway>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    push(gw, &rest, headers, body, true, Method::PUT)
}

async fn push_post(
    State(gw): State<Gateway>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    push(gw, &rest, headers, body, false, Method::POST)
}

/// The grouping key of a push URL, or the answer for a URL that has none.
fn group_key(rest: &str) -> Result<GroupingKey, (StatusCode, String)> {
    match parse_push_path(rest) {
        None => Err((StatusCode::NOT_FOUND, "404 page not found".into())),
        Some(Err(e)) => Err((StatusCode::BAD_REQUEST, e.to_string())),
        Some(Ok(k)) => Ok(k),
    }
}

fn push(
    gw: Gateway,
    rest: &str,
    headers: HeaderMap,
    body: Bytes,
    replace: bool,
    method: Method,
) -> Response {
    let outcome = (|| {
        let key = group_key(rest)?;
        let families = parse_push(&headers, body).map_err(|e| {
            tracing::debug!(err = %e, "failed to parse pushed metrics");
            (StatusCode::BAD_REQUEST, e)
        })?;
        let check = gw.inner.opts.check;
        let result = gw
            .write_store()
            .push(&key, families, replace, check, now_nanos());
        gw.inner.changed.notify_one();
        match result {
            // Unchecked pushes are queued without a verdict in the original.
            _ if !check => Ok(StatusCode::ACCEPTED),
            Ok(()) => Ok(StatusCode::OK),
            Err(e) => {
                tracing::error!(method = %method, err = %e, "pushed metrics are invalid or inconsistent with existing metrics");
                Err((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "pushed metrics are invalid or inconsistent with existing metrics: {e}"
                    ),
                ))
            }
        }
    })();
    let resp = match outcome {
        Ok(code) => code.into_response(),
        Err((code, msg)) => text(code, msg),
    };
    gw.count(resp.status(), "push", &method);
    resp
}

async fn push_delete(State(gw): State<Gateway>, Path(rest): Path<String>) -> Response {
    let resp = match group_key(&rest) {
        Ok(key) => {
            gw.write_store().delete(&key);
            gw.inner.changed.notify_one();
            StatusCode::ACCEPTED.into_response()
        }
        Err((code, msg)) => text(code, msg),
    };
    gw.count(resp.status(), "delete", &Method::DELETE);
    resp
}

async fn wipe(State(gw): State<Gateway>) -> Response {
    gw.write_store().wipe();
    gw.inner.changed.notify_one();
    gw.count(StatusCode::ACCEPTED, "wipe", &Method::PUT);
    StatusCode::ACCEPTED.into_response()
}

async fn quit(State(gw): State<Gateway>) -> Response {
    if !gw.inner.opts.lifecycle {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.").into_response();
    }
    gw.inner.quit.notify_one();
    (StatusCode::OK, "Requesting termination... Goodbye!").into_response()
}

async fn quit_get() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "Only POST or PUT requests allowed.",
    )
        .into_response()
}

fn own_metrics(gw: &Gateway) -> Vec<MetricFamily> {
    let b = &gw.inner.build;
    let mut out = vec![MetricFamily {
        name: Some(BUILD_INFO.into()),
        help: Some(BUILD_INFO_HELP.into()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            label: vec![
                LabelPair::new("branch", &b.branch),
                LabelPair::new("compiler", &b.compiler),
                LabelPair::new("revision", &b.revision),
                LabelPair::new("version", &b.version),
            ],
            gauge: Some(Gauge { value: Some(1.0) }),
            ..Metric::default()
        }],
        unit: None,
    }];
    let requests: Vec<Metric> = gw
        .inner
        .requests
        .lock()
        .map(|m| {
            m.iter()
                .map(|((code, handler, method), n)| Metric {
                    label: vec![
                        LabelPair::new("code", code.to_string()),
                        LabelPair::new("handler", *handler),
                        LabelPair::new("method", method.clone()),
                    ],
                    counter: Some(Counter {
                        value: Some(*n as f64),
                        ..Counter::default()
                    }),
                    ..Metric::default()
                })
                .collect()
        })
        .unwrap_or_default();
    if !requests.is_empty() {
        out.push(MetricFamily {
            name: Some(REQUESTS.into()),
            help: Some(REQUESTS_HELP.into()),
            r#type: Some(MetricType::Counter as i32),
            metric: requests,
            unit: None,
        });
    }
    out.extend(process::families());
    out
}

/// Whether the scraper prefers the delimited protobuf format (by `q`, ties going to
/// protobuf as promhttp's negotiation does when it is listed first).
fn wants_protobuf(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut best_proto = None::<f32>;
    let mut best_other = None::<f32>;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f32;
        let mut delimited = false;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "encoding" => delimited = v.trim() == "delimited",
                    _ => {}
                }
            }
        }
        if media == PROTO_TYPE && delimited {
            best_proto = Some(best_proto.map_or(q, |b| b.max(q)));
        } else if media == "text/plain"
            || media == "*/*"
            || media.starts_with("application/openmetrics-text")
        {
            best_other = Some(best_other.map_or(q, |b| b.max(q)));
        }
    }
    matches!((best_proto, best_other), (Some(p), o) if p > 0.0 && p >= o.unwrap_or(0.0))
}

async fn metrics(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let own = own_metrics(&gw);
    let protobuf = wants_protobuf(&headers);
    let mut body = Vec::new();
    {
        let store = gw.read_store();
        let families = match store.gather(&own) {
            Ok(f) => f,
            Err(errors) => {
                let msg = format!(
                    "An error has occurred while serving metrics:\n\n{} error(s) occurred:\n* {}",
                    errors.len(),
                    errors.join("\n* ")
                );
                return text(StatusCode::INTERNAL_SERVER_ERROR, msg);
            }
        };
        for f in &families {
            if protobuf {
                // One family at a time, so the copy the encoder needs stays small.
                let owned = MetricFamily {
                    name: Some(f.name.to_string()),
                    help: f.help.map(str::to_string),
                    r#type: Some(f.metric_type as i32),
                    metric: f.metrics.iter().map(|m| (*m).clone()).collect(),
                    unit: None,
                };
                proto::encode_delimited(&mut body, std::slice::from_ref(&owned));
            } else {
                proto::write_text_family(
                    &mut body,
                    f.name,
                    f.help,
                    f.metric_type,
                    f.metrics.iter().copied(),
                );
            }
        }
    }
    let ctype = if protobuf {
        PROTO_CONTENT_TYPE
    } else {
        TEXT_CONTENT_TYPE
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if std::io::Write::write_all(&mut enc, &body).is_ok()
            && let Ok(z) = enc.finish()
        {
            body = z;
            resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    (StatusCode::OK, resp_headers, body).into_response()
}

fn cors(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (k, v) in [
        (
            "access-control-allow-headers",
            "Accept, Authorization, Content-Type, Origin",
        ),
        ("access-control-allow-methods", "GET, POST, DELETE, OPTIONS"),
        ("access-control-allow-origin", "*"),
        ("access-control-expose-headers", "Date"),
        ("cache-control", "no-cache, no-store, must-revalidate"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

fn respond(data: Value) -> Response {
    cors(axum::Json(json!({"status": "success", "data": data})).into_response())
}

async fn api_options(State(gw): State<Gateway>) -> Response {
    gw.count(StatusCode::OK, "api/v1/options", &Method::OPTIONS);
    cors(StatusCode::OK.into_response())
}

async fn api_status(State(gw): State<Gateway>) -> Response {
    let b = &gw.inner.build;
    let start = gw
        .inner
        .start_time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    gw.count(StatusCode::OK, "api/v1/status", &Method::GET);
    respond(json!({
        "flags": gw.inner.opts.flags,
        "start_time": ember_model::time::format_rfc3339_nanos(start),
        "build_information": {
            "branch": b.branch,
            "buildDate": b.build_date,
            "buildUser": "",
            "goVersion": b.compiler,
            "revision": b.revision,
            "version": b.version,
        },
    }))
}

fn labels_json(m: &Metric) -> Value {
    let mut o = Map::new();
    for l in &m.label {
        o.insert(
            l.name.clone().unwrap_or_default(),
            Value::String(l.value.clone().unwrap_or_default()),
        );
    }
    Value::Object(o)
}

fn metric_json(m: &Metric, ty: MetricType) -> Value {
    let mut o = Map::new();
    o.insert("labels".into(), labels_json(m));
    match ty {
        MetricType::Summary => {
            let s = m.summary.as_deref().cloned().unwrap_or_default();
            let q: Map<String, Value> = s
                .quantile
                .iter()
                .map(|q| {
                    (
                        format_go_float(q.quantile.unwrap_or(0.0)),
                        Value::String(format_go_float(q.value.unwrap_or(0.0))),
                    )
                })
                .collect();
            o.insert("quantiles".into(), Value::Object(q));
            o.insert(
                "count".into(),
                s.sample_count.unwrap_or(0).to_string().into(),
            );
            o.insert(
                "sum".into(),
                format_go_float(s.sample_sum.unwrap_or(0.0)).into(),
            );
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            let h = m.histogram.as_deref().cloned().unwrap_or_default();
            o.insert(
                "sum".into(),
                format_go_float(h.sample_sum.unwrap_or(0.0)).into(),
            );
            let b: Map<String, Value> = h
                .bucket
                .iter()
                .map(|b| {
                    let count = match b.cumulative_count_float {
                        Some(c) if c > 0.0 => format_go_float(c),
                        _ => b.cumulative_count.unwrap_or(0).to_string(),
                    };
                    (
                        format_go_float(b.upper_bound.unwrap_or(0.0)),
                        Value::String(count),
                    )
                })
                .collect();
            o.insert("buckets".into(), Value::Object(b));
            let count = match h.sample_count_float {
                Some(c) if c > 0.0 => format_go_float(c),
                _ => h.sample_count.unwrap_or(0).to_string(),
            };
            o.insert("count".into(), count.into());
        }
        _ => {
            let v = m
                .gauge
                .as_ref()
                .and_then(|g| g.value)
                .or_else(|| m.counter.as_ref().and_then(|c| c.value))
                .or_else(|| m.untyped.as_ref().and_then(|u| u.value))
                .unwrap_or(0.0);
            o.insert("value".into(), format_go_float(v).into());
        }
    }
    Value::Object(o)
}

async fn api_metrics(State(gw): State<Gateway>) -> Response {
    let data: Vec<Value> = gw
        .read_store()
        .groups()
        .map(|g| {
            let mut o = Map::new();
            o.insert("labels".into(), json!(g.labels));
            o.insert(
                "last_push_successful".into(),
                g.last_push_successful().into(),
            );
            for (name, s) in &g.families {
                let f = &s.family;
                let ty = f.metric_type();
                let mut fam = Map::new();
                fam.insert(
                    "time_stamp".into(),
                    ember_model::time::format_rfc3339_nanos(s.pushed_at).into(),
                );
                fam.insert("type".into(), ty.proto_name().into());
                if let Some(h) = f.help.as_deref().filter(|h| !h.is_empty()) {
                    fam.insert("help".into(), h.into());
                }
                fam.insert(
                    "metrics".into(),
                    Value::Array(f.metric.iter().map(|m| metric_json(m, ty)).collect()),
                );
                o.insert(name.clone(), Value::Object(fam));
            }
            Value::Object(o)
        })
        .collect();
    gw.count(StatusCode::OK, "api/v1/metrics", &Method::GET);
    respond(Value::Array(data))
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn seconds_to_rfc3339(secs: f64) -> String {
    if secs <= 0.0 {
        "never".into()
    } else {
        ember_model::time::format_rfc3339_nanos((secs * 1e9) as i64)
    }
}

/// The UI: every group with its labels, last push times, families, and a delete
/// button that sends the same `DELETE` a script would.
async fn ui(State(gw): State<Gateway>) -> Response {
    let prefix = &gw.inner.opts.route_prefix;
    let mut rows = String::new();
    let store = gw.read_store();
    for g in store.groups() {
        let labels: Vec<String> = g
            .labels
            .iter()
            .map(|(n, v)| {
                format!(
                    "<span class=\"label\">{}=&quot;{}&quot;</span>",
                    html_escape(n),
                    html_escape(v)
                )
            })
            .collect();
        let families: Vec<String> = g
            .families
            .iter()
            .filter(|(n, _)| *n != PUSH_TIME && *n != PUSH_FAILURE_TIME)
            .map(|(n, s)| format!("{} ({})", html_escape(n), s.family.metric.len()))
            .collect();
        rows.push_str(&format!(
            "<tr class=\"group\"><td class=\"labels\">{}</td><td class=\"push-time\">{}</td><td class=\"failure-time\">{}</td><td class=\"status\">{}</td><td class=\"families\">{}</td><td><button class=\"delete\" data-path=\"{}/metrics/{}\">Delete group</button></td></tr>\n",
            labels.join(" "),
            seconds_to_rfc3339(g.push_time()),
            seconds_to_rfc3339(g.push_failure_time()),
            if g.last_push_successful() { "ok" } else { "last push failed" },
            families.join(", "),
            html_escape(prefix),
            html_escape(&push_path(&g.labels)),
        ));
    }
    let n = store.len();
    drop(store);
    let warning = gw
        .restore_problem()
        .map(|p| format!("<p class=\"warning\">Persistence: {}</p>", html_escape(&p)))
        .unwrap_or_default();
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Ember Pushgateway</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4em; text-align: left; vertical-align: top; }}
.label {{ background: #eef; border-radius: 3px; padding: 0 .3em; margin-right: .3em; font-family: monospace; }}
.warning {{ color: #a00; }}
</style></head>
<body>
<h1>Ember Pushgateway</h1>
{warning}
<p id="count">{n} group(s)</p>
<table id="groups">
<thead><tr><th>Grouping labels</th><th>Last push</th><th>Last failed push</th><th>Status</th><th>Families (metrics)</th><th></th></tr></thead>
<tbody>
{rows}</tbody></table>
<script>
document.querySelectorAll("button.delete").forEach(function (b) {{
  b.addEventListener("click", function () {{
    if (!window.confirm("Delete this group?")) return;
    fetch(b.dataset.path, {{ method: "DELETE" }}).then(function (r) {{
      if (r.status === 202) {{ window.location.reload(); }}
      else {{ r.text().then(function (t) {{ alert("Delete failed: " + t); }}); }}
    }});
  }});
}});
</script>
</body></html>
"#
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_go_marshals_them() {
        assert_eq!(
            ember_model::time::format_rfc3339_nanos(0),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            ember_model::time::format_rfc3339_nanos(1_500_000_000),
            "1970-01-01T00:00:01.5Z"
        );
        assert_eq!(
            ember_model::time::format_rfc3339_nanos(1_795_664_828_787_382_644),
            "2026-11-26T03:47:08.787382644Z"
        );
    }

    #[test]
    fn negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
            m
        };
        assert!(wants_protobuf(&h(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
        )));
        assert!(!wants_protobuf(&h(
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )));
        assert!(!wants_protobuf(&HeaderMap::new()));
    }
}
