//! Ember's HTTP surface: Prometheus's `/api/v1/*` endpoints, the `/-/healthy`,
//! `/-/ready`, `/-/reload` and `/-/quit` lifecycle endpoints, and the UI.
//!
//! The crate knows nothing about how the server is wired: the binary hands it a
//! [`WebState`] with the pieces it serves (build information, the running
//! configuration, flags) and channels for the lifecycle requests, and the routes read
//! from there. That keeps the HTTP shapes — which Grafana, promtool and scripts depend
//! on byte for byte — in one place, apart from the components behind them. Endpoints
//! arrive here as their components land (PromQL, TSDB, rules); a path Ember does not
//! serve yet answers 404 with Prometheus's error envelope, never a made-up answer.

mod admin;
mod api;
mod federate;
mod parse_query;
mod remote_read;
mod rules_api;
mod status;
mod ui;

pub use api::QueryService;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use remote_read::RemoteReadServer;
use serde::Serialize;
pub use status::{RuntimeFacts, RuntimeFn, StatusSources};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// What `/api/v1/status/buildinfo` reports.
#[derive(Clone, Debug, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// Ember's version.
    pub version: String,
    /// Git revision the binary was built from.
    pub revision: String,
    /// Git branch.
    pub branch: String,
    /// Who built it (`user@host` in Prometheus; here the builder's user).
    pub build_user: String,
    /// UTC build date, `YYYYMMDD-HH:MM:SS`.
    pub build_date: String,
    /// The compiler; Prometheus calls this field `goVersion` and clients read that
    /// name, so it keeps it.
    pub go_version: String,
}

/// A lifecycle request from the HTTP side, answered by the binary's main loop.
#[derive(Debug)]
pub enum Lifecycle {
    /// `POST /-/reload`: reload configuration; the sender receives the outcome.
    Reload(tokio::sync::oneshot::Sender<Result<(), String>>),
    /// `POST /-/quit`: shut down gracefully.
    Quit,
}

/// Everything the routes read; shared by all requests.
pub struct WebState {
    /// Build information.
    pub build: BuildInfo,
    /// The running configuration as YAML with secrets masked.
    pub config_yaml: RwLock<String>,
    /// `global.external_labels` of the running configuration, for `/federate`.
    pub external_labels: RwLock<ember_model::Labels>,
    /// Command-line flags, name (without dashes) to value.
    pub flags: Vec<(String, String)>,
    /// Whether the server has finished starting.
    pub ready: AtomicBool,
    /// `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// Where lifecycle requests go.
    pub lifecycle: mpsc::Sender<Lifecycle>,
    /// Renders Ember's own metrics in the text format for `/metrics`.
    pub metrics: Box<dyn Fn() -> String + Send + Sync>,
    /// Storage and engine for the query API; `None` answers 503-style errors.
    pub query: Option<Arc<QueryService>>,
    /// Where remote-write requests go, when `--web.enable-remote-write-receiver`.
    pub remote_write: Option<Arc<dyn ember_storage::Appendable>>,
    /// The scrape manager, for `/api/v1/targets`.
    pub scrape: Option<Arc<tokio::sync::Mutex<ember_scrape::ScrapeManager>>>,
    /// The notifier's (active, dropped) Alertmanager URLs, for
    /// `/api/v1/alertmanagers`.
    pub alertmanagers: Option<AlertmanagersFn>,
    /// The rule manager, for `/api/v1/rules` and `/api/v1/alerts`.
    pub rules: Option<ember_rules::Manager>,
}

/// Lists the (active, dropped) Alertmanager URLs.
pub type AlertmanagersFn = Box<dyn Fn() -> (Vec<String>, Vec<String>) + Send + Sync>;

/// Builds the router over `state`.
pub fn router(state: Arc<WebState>) -> Router {
    status::mark_start();
    let prefix = ui::route_prefix(&state.flags);
    let ui_state = state.clone();
    let app = Router::new()
        .route("/", get(index))
        .merge(ui::routes(&state.flags))
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/ready", get(ready).head(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit).put(quit))
        .route("/metrics", get(metrics))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/status/config", get(status_config))
        .route("/api/v1/status/flags", get(status_flags))
        .route("/api/v1/query", get(api::query).post(api::query))
        .route(
            "/api/v1/query_range",
            get(api::query_range).post(api::query_range),
        )
        .route("/api/v1/series", get(api::series).post(api::series))
        .route("/api/v1/labels", get(api::labels).post(api::labels))
        .route("/api/v1/label/{name}/values", get(api::label_values))
        .route(
            "/api/v1/format_query",
            get(api::format_query).post(api::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(parse_query::parse_query).post(parse_query::parse_query),
        )
        .route("/api/v1/write", post(remote_write))
        .route("/api/v1/read", post(remote_read::read))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/scrape_pools", get(status::scrape_pools))
        .route("/api/v1/alertmanagers", get(alertmanagers))
        .route("/api/v1/rules", get(rules_api::rules))
        .route("/api/v1/alerts", get(rules_api::alerts))
        .route(
            "/api/v1/metadata",
            get(status::metadata).post(status::metadata),
        )
        .route(
            "/api/v1/targets/metadata",
            get(status::targets_metadata).post(status::targets_metadata),
        )
        .route("/api/v1/status/tsdb", get(status::tsdb_status))
        .route("/api/v1/status/runtimeinfo", get(status::runtime_info))
        .route("/api/v1/status/walreplay", get(status::wal_replay))
        .route(
            "/api/v1/query_exemplars",
            get(status::query_exemplars).post(status::query_exemplars),
        )
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(admin::delete_series).put(admin::delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(admin::clean_tombstones).put(admin::clean_tombstones),
        )
        .route(
            "/api/v1/admin/tsdb/snapshot",
            post(admin::snapshot).put(admin::snapshot),
        )
        .route("/federate", get(federate::federate))
        .fallback(not_found)
        .with_state(state);
    if prefix.is_empty() {
        app
    } else {
        ui::with_route_prefix(&prefix, app, ui_state)
    }
}

/// The router over `state` with the status sources the binary hands over (the
/// TSDB, runtime facts, the admin flag), ready for a listener.
pub fn router_with_status(state: Arc<WebState>, sources: Arc<StatusSources>) -> Router {
    router(state).layer(axum::Extension(sources))
}

/// [`router_with_status`] for `ember server --agent`: what needs local storage
/// answers as Prometheus's agent answers — the query, series, label, TSDB-status,
/// rules, alerts, Alertmanager and admin endpoints a 422 `execution` error
/// "unavailable with Prometheus Agent", `/federate` a plain 500 — and the rest
/// (status, targets, lifecycle, `/metrics`) works as in the server. The UI's agent
/// page and navigation follow the `agent` flag in [`WebState::flags`].
pub fn router_for_agent(state: Arc<WebState>, sources: Arc<StatusSources>) -> Router {
    let prefix = ui::route_prefix(&state.flags);
    router_with_status(state, sources).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let refusal = {
                let path = req.uri().path();
                agent_refusal(path.strip_prefix(prefix.as_str()).unwrap_or(path))
            };
            async move {
                match refusal {
                    Some(r) => r,
                    None => next.run(req).await,
                }
            }
        },
    ))
}

/// The agent's answer for `path`, when it differs from the server's.
fn agent_refusal(path: &str) -> Option<Response> {
    const UNAVAILABLE: &[&str] = &[
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/query_exemplars",
        "/api/v1/format_query",
        "/api/v1/parse_query",
        "/api/v1/labels",
        "/api/v1/series",
        "/api/v1/alertmanagers",
        "/api/v1/status/tsdb",
        "/api/v1/status/tsdb/blocks",
        "/api/v1/alerts",
        "/api/v1/rules",
    ];
    let label_values = path.starts_with("/api/v1/label/") && path.ends_with("/values");
    if UNAVAILABLE.contains(&path) || label_values || path.starts_with("/api/v1/admin/tsdb/") {
        return Some(api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "execution",
            "unavailable with Prometheus Agent",
        ));
    }
    // Federation asks the local storage for a querier, which the agent's refuses.
    (path == "/federate").then(|| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "unsupported operation with WAL-only storage\n",
        )
            .into_response()
    })
}

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    status: &'static str,
    data: T,
}

pub(crate) fn success<T: Serialize>(data: T) -> Response {
    Json(Envelope {
        status: "success",
        data,
    })
    .into_response()
}

/// A 400 `bad_data` error in Prometheus's envelope.
pub(crate) fn bad_data(msg: impl AsRef<str>) -> Response {
    api_error(StatusCode::BAD_REQUEST, "bad_data", msg.as_ref())
}

/// Prometheus's error envelope: `{"status":"error","errorType":…,"error":…}`.
fn api_error(code: StatusCode, error_type: &str, msg: &str) -> Response {
    let body = serde_json::json!({"status": "error", "errorType": error_type, "error": msg});
    (code, Json(body)).into_response()
}

/// The UI (see the `ui` module): the query page, or the agent page in agent mode;
/// Prometheus's other UI paths are routed in `ui::routes`.
async fn index(State(s): State<Arc<WebState>>) -> Response {
    ui::page(&s, ui::home_view(&s.flags))
}

async fn healthy() -> &'static str {
    "Ember Server is Healthy.\n"
}

async fn ready(State(s): State<Arc<WebState>>) -> Response {
    if s.ready.load(Ordering::Acquire) {
        "Ember Server is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

const LIFECYCLE_DISABLED: &str = "Lifecycle API is not enabled.";

async fn reload(State(s): State<Arc<WebState>>) -> Response {
    if !s.enable_lifecycle {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED).into_response();
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.lifecycle.send(Lifecycle::Reload(tx)).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match rx.await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response(),
    }
}

async fn quit(State(s): State<Arc<WebState>>) -> Response {
    if !s.enable_lifecycle {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED).into_response();
    }
    let _ = s.lifecycle.send(Lifecycle::Quit).await;
    "Requesting termination... Goodbye!".into_response()
}

async fn metrics(State(s): State<Arc<WebState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        (s.metrics)(),
    )
        .into_response()
}

async fn buildinfo(State(s): State<Arc<WebState>>) -> Response {
    success(&s.build)
}

async fn status_config(State(s): State<Arc<WebState>>) -> Response {
    let yaml = s.config_yaml.read().map(|y| y.clone()).unwrap_or_default();
    success(serde_json::json!({ "yaml": yaml }))
}

async fn status_flags(State(s): State<Arc<WebState>>) -> Response {
    let map: serde_json::Map<String, serde_json::Value> = s
        .flags
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    success(map)
}

fn labels_json(l: &ember_model::Labels) -> serde_json::Value {
    serde_json::Value::Object(
        l.iter()
            .map(|x| (x.name.clone(), serde_json::Value::String(x.value.clone())))
            .collect(),
    )
}

/// `GET /api/v1/targets`: active and dropped targets, with Prometheus's fields.
async fn alertmanagers(State(s): State<Arc<WebState>>) -> Response {
    let (active, dropped) = s.alertmanagers.as_ref().map(|f| f()).unwrap_or_default();
    let urls = |v: Vec<String>| -> Vec<serde_json::Value> {
        v.into_iter()
            .map(|u| serde_json::json!({ "url": u }))
            .collect()
    };
    success(serde_json::json!({
        "activeAlertmanagers": urls(active),
        "droppedAlertmanagers": urls(dropped),
    }))
}

/// `GET /api/v1/targets?state=active|dropped|any&scrapePool=…`.
async fn targets(
    State(s): State<Arc<WebState>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let params: Vec<(String, String)> = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let state = param("state").to_lowercase();
    let pool = param("scrapePool");
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let in_pool = |job: &str| pool.is_empty() || job == pool;
    let Some(m) = s.scrape.clone() else {
        return success(
            serde_json::json!({"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}}),
        );
    };
    let m = m.lock().await;
    let active: Vec<serde_json::Value> = m
        .targets()
        .into_iter()
        .filter(|t| show_active && in_pool(&t.job))
        .map(|t| {
            let h = &t.health;
            let health = if h.last_scrape == 0 { "unknown" } else if h.up { "up" } else { "down" };
            let dur = |d: std::time::Duration| {
                let ms = d.as_millis();
                if ms.is_multiple_of(60_000) { format!("{}m", ms / 60_000) } else if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
            };
            serde_json::json!({
                "discoveredLabels": labels_json(&t.target.discovered),
                "labels": labels_json(&t.target.labels),
                "scrapePool": t.job,
                "scrapeUrl": t.target.url,
                "globalUrl": t.target.url,
                "lastError": h.last_error,
                "lastScrape": if h.last_scrape == 0 { "0001-01-01T00:00:00Z".to_string() } else { ember_model::time::format_rfc3339_millis(h.last_scrape) },
                "lastScrapeDuration": h.last_duration.as_secs_f64(),
                "health": health,
                "scrapeInterval": dur(t.target.interval),
                "scrapeTimeout": dur(t.target.timeout),
            })
        })
        .collect();
    let mut counts = serde_json::Map::new();
    let dropped: Vec<serde_json::Value> = m
        .dropped()
        .iter()
        .filter(|(job, _)| show_dropped && in_pool(job))
        .map(|(job, l)| {
            let c = counts.entry(job.clone()).or_insert(serde_json::json!(0));
            *c = serde_json::json!(c.as_u64().unwrap_or(0) + 1);
            serde_json::json!({"discoveredLabels": labels_json(l), "scrapePool": job})
        })
        .collect();
    success(
        serde_json::json!({"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": counts}),
    )
}

/// `POST /api/v1/write`: remote write 1.0 and 2.0, snappy-compressed protobuf.
async fn remote_write(
    State(s): State<Arc<WebState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(store) = s.remote_write.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n",
        )
            .into_response();
    };
    let h = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let enc = h(header::CONTENT_ENCODING);
    if !enc.is_empty() && !enc.eq_ignore_ascii_case("snappy") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {enc:?}; only snappy is supported\n"),
        )
            .into_response();
    }
    let proto = match ember_remote::protocol(&h(header::CONTENT_TYPE)) {
        Ok(p) => p,
        Err(e) => return (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("{e}\n")).into_response(),
    };
    let res = tokio::task::spawn_blocking(move || {
        let mut app = store.appender();
        let r = ember_remote::receive(&body, proto, app.as_mut());
        match &r {
            Err(ember_remote::Error::Decode(_)) | Err(ember_remote::Error::Storage(_)) => {
                let _ = app.rollback();
                r
            }
            _ => app
                .commit()
                .map_err(|e| ember_remote::Error::Storage(e.to_string()))
                .and(r),
        }
    })
    .await;
    match res {
        Ok(Ok(w)) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            if proto == ember_remote::Protocol::V2 {
                let hm = resp.headers_mut();
                for (k, v) in [
                    ("X-Prometheus-Remote-Write-Samples-Written", w.samples),
                    ("X-Prometheus-Remote-Write-Histograms-Written", w.histograms),
                    ("X-Prometheus-Remote-Write-Exemplars-Written", w.exemplars),
                ] {
                    if let Ok(v) = axum::http::HeaderValue::from_str(&v.to_string()) {
                        hm.insert(k, v);
                    }
                }
            }
            resp
        }
        Ok(Err(ember_remote::Error::Storage(e))) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
        }
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("{} is not served by this Ember version", uri.path()),
        )
    } else {
        (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve() -> (String, mpsc::Receiver<Lifecycle>) {
        let (tx, rx) = mpsc::channel(4);
        let state = Arc::new(WebState {
            build: BuildInfo {
                version: "9.9.9".into(),
                ..Default::default()
            },
            config_yaml: RwLock::new("global: {}\n".into()),
            external_labels: RwLock::new(ember_model::Labels::default()),
            flags: vec![("web.enable-lifecycle".into(), "true".into())],
            ready: AtomicBool::new(true),
            enable_lifecycle: true,
            lifecycle: tx,
            metrics: Box::new(|| "x 1\n".into()),
            query: None,
            remote_write: None,
            scrape: None,
            alertmanagers: Some(Box::new(|| {
                (vec!["http://am:9093/api/v2/alerts".into()], Vec::new())
            })),
            rules: None,
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, router(state)).await });
        (format!("127.0.0.1:{}", addr.port()), rx)
    }

    async fn request(addr: &str, method: &str, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        let body = out
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        (code, body)
    }

    #[tokio::test]
    async fn endpoints() {
        let (addr, mut rx) = serve().await;
        assert_eq!(request(&addr, "GET", "/-/healthy").await.0, 200);
        assert_eq!(request(&addr, "GET", "/-/ready").await.0, 200);
        let (c, b) = request(&addr, "GET", "/api/v1/status/buildinfo").await;
        assert_eq!(c, 200);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["data"]["version"], "9.9.9");
        assert!(v["data"]["goVersion"].is_string());
        let (_, b) = request(&addr, "GET", "/api/v1/status/config").await;
        assert!(b.contains("global: {}"));
        // The rules API answers even without a rule manager: no groups.
        let (c, b) = request(&addr, "GET", "/api/v1/rules").await;
        assert_eq!(c, 200);
        assert!(b.contains("\"groups\":[]"), "{b}");
        // parse_query: the AST as JSON; a parse error is 400 bad_data.
        let (c, b) = request(&addr, "GET", "/api/v1/parse_query?query=sum(up)").await;
        assert_eq!(c, 200, "{b}");
        assert_eq!(
            b,
            r#"{"data":{"expr":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"grouping":[],"op":"sum","param":null,"type":"aggregation","without":false},"status":"success"}"#
        );
        let (c, b) = request(&addr, "POST", "/api/v1/parse_query?query=sum(").await;
        assert_eq!(c, 400);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["errorType"], "bad_data");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid parameter \"query\": 1:5: parse error:"),
            "{b}"
        );
        let (c, b) = request(&addr, "GET", "/api/v1/no_such_endpoint").await;
        assert_eq!(c, 404);
        assert!(b.contains("\"status\":\"error\""));
        assert_eq!(request(&addr, "GET", "/metrics").await.1, "x 1\n");
        let addr2 = addr.clone();
        let h = tokio::spawn(async move { request(&addr2, "POST", "/-/reload").await });
        match rx.recv().await.unwrap() {
            Lifecycle::Reload(done) => done.send(Err("bad".into())).unwrap(),
            Lifecycle::Quit => panic!("wrong request"),
        }
        let (c, b) = h.await.unwrap();
        assert_eq!(c, 500);
        assert!(b.contains("bad"));
    }
}
