//! Status and metadata endpoints: `/api/v1/metadata`, `/api/v1/targets/metadata`,
//! `/api/v1/status/tsdb`, `/api/v1/status/runtimeinfo`, `/api/v1/status/walreplay`
//! and `/api/v1/query_exemplars`, with Prometheus's parameters, JSON shapes and
//! error texts.
//!
//! The TSDB and the runtime facts come from [`StatusSources`], which the binary hands
//! over with [`crate::router_with_status`]; without it the endpoints still answer with
//! what the web layer knows (an empty head, the process's own facts), so a server wired
//! before these endpoints existed keeps working.

use crate::WebState;
use crate::api::{ApiError, ApiResult, Params};
use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as J, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where the status endpoints read what the web layer cannot know by itself.
#[derive(Default)]
pub struct StatusSources {
    /// The TSDB, for `/api/v1/status/tsdb` and the corruption count.
    pub tsdb: Option<Arc<ember_tsdb::Db>>,
    /// Facts about configuration loading, for `/api/v1/status/runtimeinfo`.
    pub runtime: Option<RuntimeFn>,
    /// `--web.enable-admin-api`: the `/api/v1/admin/tsdb/*` endpoints work only then.
    pub enable_admin: bool,
}

impl std::fmt::Debug for StatusSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusSources")
            .field("tsdb", &self.tsdb.is_some())
            .field("runtime", &self.runtime.is_some())
            .finish()
    }
}

/// Reports the runtime facts only the binary knows.
pub type RuntimeFn = Box<dyn Fn() -> RuntimeFacts + Send + Sync>;

/// What the binary tells `/api/v1/status/runtimeinfo`.
#[derive(Clone, Debug, Default)]
pub struct RuntimeFacts {
    /// Process start, Unix milliseconds.
    pub start_time_ms: i64,
    /// Whether the last configuration (re)load succeeded.
    pub reload_config_success: bool,
    /// When the configuration was last loaded successfully, Unix milliseconds.
    pub last_config_time_ms: i64,
    /// Prometheus's `storageRetention` text (`15d`, `10GiB`, `15d or 10GiB`).
    pub storage_retention: String,
}

pub(crate) type Sources = Option<Extension<Arc<StatusSources>>>;

fn bad(msg: &str) -> ApiError {
    ApiError::bad(msg)
}

/// An optional integer parameter; Prometheus answers `<name> must be a number`.
fn int_param(p: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad(&format!("{name} must be a number"))),
    }
}

async fn all_metadata(
    s: &WebState,
) -> Vec<(
    ember_scrape::TargetStatus,
    Vec<ember_scrape::MetricMetadata>,
)> {
    match &s.scrape {
        Some(m) => m.lock().await.metadata(),
        None => Vec::new(),
    }
}

fn meta_json(m: &ember_scrape::MetricMetadata) -> J {
    json!({"type": m.metric_type, "help": m.help, "unit": m.unit})
}

/// `GET /api/v1/metadata`: metadata per metric name across all targets.
pub(crate) async fn metadata(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let limit = int_param(&p, "limit")?.unwrap_or(-1);
    let per_metric = int_param(&p, "limit_per_metric")?.unwrap_or(-1);
    let metric = p.get("metric").unwrap_or("").to_string();
    // Distinct (type, help, unit) per name, in the order targets list them.
    let mut by_name: BTreeMap<String, Vec<ember_scrape::MetricMetadata>> = BTreeMap::new();
    for (_, mds) in all_metadata(&s).await {
        for md in mds {
            if !metric.is_empty() && md.metric != metric {
                continue;
            }
            let set = by_name.entry(md.metric.clone()).or_default();
            if per_metric > 0 && set.len() as i64 >= per_metric {
                continue;
            }
            if !set
                .iter()
                .any(|x| x.metric_type == md.metric_type && x.help == md.help && x.unit == md.unit)
            {
                set.push(md);
            }
        }
    }
    let mut out = serde_json::Map::new();
    for (name, set) in by_name {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        out.insert(name, J::Array(set.iter().map(meta_json).collect()));
    }
    Ok(crate::success(J::Object(out)))
}

/// `GET /api/v1/targets/metadata`: metadata per target.
pub(crate) async fn targets_metadata(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let limit = int_param(&p, "limit")?.unwrap_or(-1);
    let matchers = match p.get("match_target") {
        None | Some("") => None,
        Some(m) => Some(
            ember_promql_parser::parse_metric_selector(m)
                .map_err(|e| ApiError::bad(format!("invalid parameter \"match_target\": {e}")))?,
        ),
    };
    let metric = p.get("metric").unwrap_or("").to_string();
    let mut res = Vec::new();
    for (t, mds) in all_metadata(&s).await {
        if limit >= 0 && res.len() as i64 >= limit {
            break;
        }
        let labels = &t.target.labels;
        if let Some(ms) = &matchers
            && !ms
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
        {
            continue;
        }
        let target = crate::labels_json(labels);
        for md in mds {
            if metric.is_empty() {
                res.push(
                    json!({"target": target, "metric": md.metric, "type": md.metric_type,
                    "help": md.help, "unit": md.unit}),
                );
            } else if md.metric == metric {
                // Asked for one metric, Prometheus leaves out the `metric` field.
                res.push(
                    json!({"target": target, "type": md.metric_type, "help": md.help,
                    "unit": md.unit}),
                );
            }
        }
    }
    Ok(crate::success(J::Array(res)))
}

fn stats_json(v: &[ember_tsdb::postings::Stat]) -> J {
    J::Array(
        v.iter()
            .map(|s| json!({"name": s.name, "value": s.count}))
            .collect(),
    )
}

/// `GET /api/v1/status/tsdb`: head cardinality, top `limit` (10) of each list.
pub(crate) async fn tsdb_status(
    sources: Sources,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let limit = match p.get("limit") {
        None | Some("") => 10,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 1 => n as usize,
            _ => return Err(bad("limit must be a positive number")),
        },
    };
    let db = sources.and_then(|Extension(s)| s.tsdb.clone());
    let out = crate::api::blocking(move || {
        let Some(db) = db else {
            return json!({
                "headStats": {"numSeries": 0, "numLabelPairs": 0, "chunkCount": 0,
                    "minTime": i64::MAX, "maxTime": i64::MIN},
                "seriesCountByMetricName": [], "labelValueCountByLabelName": [],
                "memoryInBytesByLabelName": [], "seriesCountByLabelValuePair": [],
            });
        };
        let head = db.head();
        let st = head.postings_stats("__name__", limit);
        json!({
            "headStats": {
                "numSeries": head.num_series(),
                "numLabelPairs": st.num_label_pairs,
                "chunkCount": head.num_chunks(),
                "minTime": head.min_time(),
                "maxTime": head.max_time(),
            },
            "seriesCountByMetricName": stats_json(&st.by_metric),
            "labelValueCountByLabelName": stats_json(&st.values_per_label),
            "memoryInBytesByLabelName": stats_json(&st.bytes_per_label),
            "seriesCountByLabelValuePair": stats_json(&st.series_per_pair),
        })
    })
    .await?;
    Ok(crate::success(out))
}

/// Go's `time.Time` JSON form (RFC 3339 with nanoseconds, trailing zeros cut), UTC.
fn go_time(ms: i64) -> String {
    crate::rules_api::rfc3339(ms)
}

fn now_ms() -> i64 {
    crate::api::now_ms()
}

static PROCESS_START_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Records when the web layer started, the fallback start time.
pub(crate) fn mark_start() {
    PROCESS_START_MS.get_or_init(now_ms);
}

/// `GET /api/v1/status/runtimeinfo`.
pub(crate) async fn runtime_info(State(s): State<Arc<WebState>>, sources: Sources) -> Response {
    let sources = sources.map(|Extension(x)| x);
    let start = PROCESS_START_MS.get().copied().unwrap_or_else(now_ms);
    let facts = sources
        .as_ref()
        .and_then(|x| x.runtime.as_ref().map(|f| f()))
        .unwrap_or_else(|| RuntimeFacts {
            start_time_ms: start,
            reload_config_success: true,
            last_config_time_ms: start,
            storage_retention: retention_from_flags(&s.flags),
        });
    let corruptions = sources
        .as_ref()
        .and_then(|x| x.tsdb.as_ref())
        .map(|db| {
            db.head()
                .stats()
                .wal_corruptions
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .unwrap_or(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    crate::success(json!({
        "startTime": go_time(facts.start_time_ms),
        "CWD": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "hostname": hostname(),
        "serverTime": go_time(now_ms()),
        "reloadConfigSuccess": facts.reload_config_success,
        "lastConfigTime": go_time(facts.last_config_time_ms),
        "corruptionCount": corruptions,
        // Go reports goroutines; the nearest here is the worker threads.
        "goroutineCount": threads,
        "GOMAXPROCS": threads,
        // Go's default when no limit is set (math.MaxInt64).
        "GOMEMLIMIT": i64::MAX,
        "GOGC": env("GOGC"),
        "GODEBUG": env("GODEBUG"),
        "storageRetention": facts.storage_retention,
    }))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Prometheus's retention text from the flags: the time (default 15d when no size is
/// set), then `or` the size.
fn retention_from_flags(flags: &[(String, String)]) -> String {
    let get = |k: &str| {
        flags
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let (t, size) = (
        get("storage.tsdb.retention.time"),
        get("storage.tsdb.retention.size"),
    );
    let size = if size == "0B" { "" } else { size };
    let t = if t.is_empty() || t == "0s" {
        if size.is_empty() { "15d" } else { "" }
    } else {
        t
    };
    match (t.is_empty(), size.is_empty()) {
        (false, false) => format!("{t} or {size}"),
        (false, true) => t.to_string(),
        (true, _) => size.to_string(),
    }
}

/// `GET /api/v1/scrape_pools`: the configured scrape pools, sorted.
pub(crate) async fn scrape_pools(State(s): State<Arc<WebState>>) -> Response {
    let pools = match &s.scrape {
        Some(m) => m.lock().await.pools(),
        None => Vec::new(),
    };
    crate::success(json!({ "scrapePools": pools }))
}

/// `GET /api/v1/status/walreplay`: replay is done before the API serves, so the
/// progress is complete.
pub(crate) async fn wal_replay() -> Response {
    crate::success(json!({"min": 0, "max": 0, "current": 0}))
}

/// `GET|POST /api/v1/query_exemplars`: parameters checked as Prometheus checks them,
/// then the exemplars of the series any selector of the expression matches (as
/// Prometheus, the expression is not evaluated: `rate(a[5m]) / b` asks for the
/// exemplars of `a` and of `b`). Exemplars come from the TSDB through
/// [`ember_storage::ExemplarQueryable`]; without one the answer is empty, as
/// Prometheus's is when exemplar storage is off.
pub(crate) async fn query_exemplars(
    sources: Sources,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let mut bounds = [i64::MIN, i64::MAX];
    for (k, b) in ["start", "end"].iter().zip(bounds.iter_mut()) {
        if let Some(v) = p.get(k)
            && !v.is_empty()
        {
            *b = crate::api::parse_time(v).map_err(|e| {
                ApiError::bad(format!(
                    "invalid parameter \"{k}\": Invalid time value for '{k}': {e}"
                ))
            })?;
        }
    }
    if bounds[1] < bounds[0] {
        return Err(bad("end timestamp must not be before start timestamp"));
    }
    let query = p.get("query").unwrap_or("");
    let expr = ember_promql_parser::parse_expr(query).map_err(|e| ApiError::bad(e.to_string()))?;
    let selectors = expr.extract_selectors();
    if selectors.is_empty() {
        // Prometheus answers an expression without selectors with no data at all:
        // 204 and an empty body.
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    let Some(db) = sources.and_then(|Extension(s)| s.tsdb.clone()) else {
        return Ok(crate::success(J::Array(Vec::new())));
    };
    let [start, end] = bounds;
    let found = crate::api::blocking(move || {
        let eq: &dyn ember_storage::ExemplarQueryable = &*db;
        eq.select_exemplars(start, end, &selectors)
    })
    .await?
    .map_err(|e| ApiError::with_kind("execution", e.to_string()))?;
    Ok(crate::success(J::Array(
        found.iter().map(exemplar_series_json).collect(),
    )))
}

/// One series' exemplars in Prometheus's JSON: values as strings, timestamps as
/// seconds with millisecond decimals.
fn exemplar_series_json(s: &ember_storage::ExemplarSeries) -> J {
    let labels = |l: &ember_model::Labels| -> J {
        J::Object(
            l.iter()
                .map(|x| (x.name.clone(), J::String(x.value.clone())))
                .collect(),
        )
    };
    let exemplars: Vec<J> = s
        .exemplars
        .iter()
        .map(|e| {
            json!({
                "labels": labels(&e.labels),
                "value": crate::api::fmt_float(e.value),
                "timestamp": seconds_json(e.ts.unwrap_or(0)),
            })
        })
        .collect();
    json!({"seriesLabels": labels(&s.series_labels), "exemplars": exemplars})
}

/// Milliseconds as a JSON number of seconds, exact to the millisecond (going through
/// a decimal string avoids `1.001` coming out as `1.0009999999999999`).
fn seconds_json(ms: i64) -> J {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    let text = format!("{sign}{}.{:03}", a / 1000, a % 1000);
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(J::Number)
        .unwrap_or(J::Null)
}
