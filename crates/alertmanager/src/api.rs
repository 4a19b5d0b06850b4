//! HTTP: Alertmanager's API v2 (`/api/v2/...`) with its JSON shapes, status codes
//! and error bodies, so that `amtool`, Prometheus and Grafana work unchanged; the
//! lifecycle endpoints (`/-/healthy`, `/-/ready`, `/-/reload`) and `/metrics`.
//!
//! Times are written as Go's `strfmt.DateTime` writes them (UTC, milliseconds);
//! validation errors are 400 with the reason as a JSON string, as go-swagger
//! answers.

use crate::alert::{Alert, alert_order, label_set_order};
use crate::matcher::{Matcher, parse_matcher};
use crate::server::{Alertmanager, Inhibitor, lock};
use crate::silence::{Silence, SilenceError, SilenceState, is_uuid};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ember_model::{Labels, MatchType};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

/// The router of all endpoints, under `route_prefix` (`""` or `/` for none).
pub fn router(am: Alertmanager, route_prefix: &str) -> Router {
    let api = Router::new()
        .route("/-/healthy", get(|| async { "OK" }).head(|| async { "OK" }))
        .route("/-/ready", get(|| async { "OK" }).head(|| async { "OK" }))
        .route("/-/reload", post(reload).put(reload))
        .route("/metrics", get(metrics))
        .route("/api/v2/status", get(status))
        .route("/api/v2/receivers", get(receivers))
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(delete_silence),
        )
        .route("/", get(index))
        .with_state(am);
    let prefix = route_prefix.trim_end_matches('/');
    if prefix.is_empty() {
        api
    } else {
        Router::new().nest(prefix, api)
    }
}

fn json_response(code: StatusCode, v: &impl Serialize) -> Response {
    // go-swagger's JSON producer (Go's json.Encoder) ends with a newline.
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_request(msg: impl Into<String>) -> Response {
    json_response(StatusCode::BAD_REQUEST, &Value::String(msg.into()))
}

/// API v2 times: `2006-01-02T15:04:05.000Z`.
pub(crate) fn api_time(t: Timestamp) -> String {
    ember_model::time::format_rfc3339_millis(t.as_millisecond())
}

/// The UI: one page over API v2 (alert groups with a matcher filter, silence
/// creation, editing and expiry); its script uses relative URLs, so it works under
/// any route prefix.
async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("ui.html"),
    )
        .into_response()
}

async fn reload(State(am): State<Alertmanager>) -> Response {
    match am.reload() {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(err = %e, "Error reloading config");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            )
                .into_response()
        }
    }
}

async fn metrics(State(am): State<Alertmanager>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics_text(&am),
    )
        .into_response()
}

/// `/metrics` with Alertmanager's metric names.
pub(crate) fn metrics_text(am: &Alertmanager) -> String {
    let m = &am.inner.metrics;
    let mut out = String::new();
    let ints = lock(&m.integrations).clone();
    let names = [
        (
            "alertmanager_notifications_total",
            "The total number of attempted notifications.",
            0,
        ),
        (
            "alertmanager_notifications_failed_total",
            "The total number of failed notifications.",
            1,
        ),
        (
            "alertmanager_notification_requests_total",
            "The total number of attempted notification requests.",
            2,
        ),
        (
            "alertmanager_notification_requests_failed_total",
            "The total number of failed notification requests.",
            3,
        ),
    ];
    for (name, help, slot) in names {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for (i, v) in &ints {
            out.push_str(&format!("{name}{{integration=\"{i}\"}} {}\n", v[slot]));
        }
    }
    let now = Timestamp::now();
    let loaded = am.loaded();
    let (mut active, mut suppressed) = (0u64, 0u64);
    let alerts: Vec<Alert> = lock(&am.inner.alerts).iter().cloned().collect();
    let inhibitor = am.inhibitor(&loaded, now);
    for a in alerts.iter().filter(|a| !a.resolved_at(now)) {
        let silenced = !lock(&am.inner.silences).mutes(&a.labels, now).is_empty();
        if silenced || inhibitor.inhibited_by(&a.labels).is_some() {
            suppressed += 1;
        } else {
            active += 1;
        }
    }
    out.push_str(
        "# HELP alertmanager_alerts How many alerts by state.\n# TYPE alertmanager_alerts gauge\n",
    );
    out.push_str(&format!(
        "alertmanager_alerts{{state=\"active\"}} {active}\nalertmanager_alerts{{state=\"suppressed\"}} {suppressed}\nalertmanager_alerts{{state=\"unprocessed\"}} 0\n"
    ));
    out.push_str("# HELP alertmanager_alerts_received_total The total number of received alerts.\n# TYPE alertmanager_alerts_received_total counter\n");
    out.push_str(&format!(
        "alertmanager_alerts_received_total{{status=\"firing\"}} {}\nalertmanager_alerts_received_total{{status=\"resolved\"}} {}\n",
        *lock(&m.alerts_firing),
        *lock(&m.alerts_resolved)
    ));
    out.push_str(&format!(
        "# HELP alertmanager_alerts_invalid_total The total number of received alerts that were invalid.\n# TYPE alertmanager_alerts_invalid_total counter\nalertmanager_alerts_invalid_total {}\n",
        *lock(&m.alerts_invalid)
    ));
    let mut states: BTreeMap<&str, u64> = [("active", 0), ("expired", 0), ("pending", 0)].into();
    for s in lock(&am.inner.silences).iter() {
        *states.entry(s.state(now).as_str()).or_default() += 1;
    }
    out.push_str("# HELP alertmanager_silences How many silences by state.\n# TYPE alertmanager_silences gauge\n");
    for (s, n) in states {
        out.push_str(&format!("alertmanager_silences{{state=\"{s}\"}} {n}\n"));
    }
    out.push_str(&format!(
        "# HELP alertmanager_dispatcher_aggregation_groups Number of active aggregation groups\n# TYPE alertmanager_dispatcher_aggregation_groups gauge\nalertmanager_dispatcher_aggregation_groups {}\n",
        am.groups().len()
    ));
    out.push_str(&format!(
        "# HELP alertmanager_nflog_snapshot_size_bytes Size of the notification log entries kept.\n# TYPE alertmanager_nflog_entries gauge\nalertmanager_nflog_entries {}\n",
        lock(&am.inner.nflog).len()
    ));
    out.push_str(&format!(
        "# HELP alertmanager_config_last_reload_successful Whether the last configuration reload attempt was successful.\n# TYPE alertmanager_config_last_reload_successful gauge\nalertmanager_config_last_reload_successful {}\n",
        u8::from(m.reload_ok.load(Ordering::Relaxed))
    ));
    out.push_str(&format!(
        "# HELP alertmanager_config_last_reload_success_timestamp_seconds Timestamp of the last successful configuration reload.\n# TYPE alertmanager_config_last_reload_success_timestamp_seconds gauge\nalertmanager_config_last_reload_success_timestamp_seconds {}\n",
        *lock(&m.reload_time)
    ));
    out.push_str("# HELP alertmanager_cluster_enabled Indicates whether the clustering is enabled or not.\n# TYPE alertmanager_cluster_enabled gauge\nalertmanager_cluster_enabled 0\n");
    out
}

async fn status(State(am): State<Alertmanager>) -> Response {
    let loaded = am.loaded();
    json_response(
        StatusCode::OK,
        &json!({
            "cluster": {"peers": [], "status": "disabled"},
            "config": {"original": loaded.original},
            "uptime": api_time(am.inner.started),
            "versionInfo": {
                "branch": "",
                "buildDate": "",
                "buildUser": "",
                "goVersion": "rust",
                "revision": "",
                "version": env!("CARGO_PKG_VERSION"),
            },
        }),
    )
}

async fn receivers(State(am): State<Alertmanager>) -> Response {
    let loaded = am.loaded();
    let list: Vec<Value> = loaded
        .config
        .receivers
        .iter()
        .map(|r| json!({"name": r.name}))
        .collect();
    json_response(StatusCode::OK, &list)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

/// Parses an API time; the empty string and Go's zero time mean "not set".
fn parse_time(s: &Option<String>) -> Result<Option<Timestamp>, String> {
    let Some(s) = s.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let t: Timestamp = s.parse().map_err(|e| format!("parsing time {s:?}: {e}"))?;
    // Go's zero time (year 1) is how clients say "unset".
    if t.as_second() <= -62_135_596_800 {
        return Ok(None);
    }
    Ok(Some(t))
}

fn to_labels(m: &BTreeMap<String, String>) -> Labels {
    // Empty values mean "no such label", as Alertmanager's removeEmptyLabels.
    Labels::from_pairs(
        m.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

async fn post_alerts(State(am): State<Alertmanager>, body: Bytes) -> Response {
    let posted: Vec<PostableAlert> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"code": 400, "message": format!("parsing alerts body from \"\" failed, because {e}")}),
            );
        }
    };
    let now = Timestamp::now();
    let resolve_timeout = am.loaded().config.global.resolve_timeout.as_std();
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let m = &am.inner.metrics;
    for p in posted {
        let Some(raw_labels) = &p.labels else {
            errors.push("labels in body is required".to_string());
            continue;
        };
        let (starts, ends) = match (parse_time(&p.starts_at), parse_time(&p.ends_at)) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => {
                errors.push(e);
                continue;
            }
        };
        let starts_at = starts.or(ends).unwrap_or(now);
        let (ends_at, timeout) = match ends {
            Some(e) => (e, false),
            None => (
                jiff::SignedDuration::try_from(resolve_timeout)
                    .ok()
                    .and_then(|d| now.checked_add(d).ok())
                    .unwrap_or(Timestamp::MAX),
                true,
            ),
        };
        if ends_at > now {
            *lock(&m.alerts_firing) += 1;
        } else {
            *lock(&m.alerts_resolved) += 1;
        }
        let labels = to_labels(raw_labels);
        let check = || -> Result<(), String> {
            if labels.is_empty() {
                return Err("at least one label pair required".into());
            }
            if let Some(l) = labels.iter().find(|l| !crate::is_valid_label_name(&l.name)) {
                return Err(format!("invalid label set: invalid name {:?}", l.name));
            }
            if let Some(k) = p
                .annotations
                .keys()
                .find(|k| !crate::is_valid_label_name(k))
            {
                return Err(format!("invalid annotations: invalid name {k:?}"));
            }
            if ends_at < starts_at {
                return Err("start time must be before end time".into());
            }
            Ok(())
        };
        if let Err(e) = check() {
            *lock(&m.alerts_invalid) += 1;
            errors.push(e);
            continue;
        }
        valid.push(Alert {
            labels,
            annotations: to_labels(&p.annotations),
            starts_at,
            ends_at: Some(ends_at),
            generator_url: p.generator_url.unwrap_or_default(),
            updated_at: now,
            timeout,
        });
    }
    am.put_alerts(valid);
    if !errors.is_empty() {
        let msg = errors.join("; ");
        tracing::error!(err = %msg, "Failed to validate alerts");
        return bad_request(msg);
    }
    StatusCode::OK.into_response()
}

struct Query {
    filter: Vec<Matcher>,
    receiver: Option<regex::Regex>,
    silenced: bool,
    inhibited: bool,
    active: bool,
}

fn parse_query(raw: Option<String>) -> Result<Query, Box<Response>> {
    let mut q = Query {
        filter: Vec::new(),
        receiver: None,
        silenced: true,
        inhibited: true,
        active: true,
    };
    let raw = raw.unwrap_or_default();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let boolean = |v: &str| match v {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(Box::new(json_response(
                StatusCode::BAD_REQUEST,
                &json!({"code": 400, "message": format!("{k} in query must be of type boolean: {v:?}")}),
            ))),
        };
        match k.as_ref() {
            "filter" => match parse_matcher(&v) {
                Ok(m) => q.filter.push(m),
                Err(_) => return Err(Box::new(bad_request(format!("bad matcher format: {v}")))),
            },
            "receiver" => match regex::Regex::new(&format!("^(?:{v})$")) {
                Ok(r) => q.receiver = Some(r),
                Err(e) => return Err(Box::new(bad_request(e.to_string()))),
            },
            "silenced" => q.silenced = boolean(&v)?,
            "inhibited" => q.inhibited = boolean(&v)?,
            "active" => q.active = boolean(&v)?,
            _ => {}
        }
    }
    Ok(q)
}

#[derive(Serialize)]
struct ReceiverName {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatus {
    inhibited_by: Vec<String>,
    silenced_by: Vec<String>,
    state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert {
    annotations: BTreeMap<String, String>,
    ends_at: String,
    fingerprint: String,
    receivers: Vec<ReceiverName>,
    starts_at: String,
    status: AlertStatus,
    updated_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    generator_url: String,
    labels: BTreeMap<String, String>,
}

fn map_of(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// The alert's status now and whether `q` keeps it (Alertmanager's `alertFilter`).
fn filtered(
    am: &Alertmanager,
    inhibitor: &Inhibitor<'_>,
    q: &Query,
    a: &Alert,
    now: Timestamp,
) -> Option<AlertStatus> {
    if a.resolved_at(now) {
        return None;
    }
    let silenced_by = lock(&am.inner.silences).mutes(&a.labels, now);
    let inhibited_by: Vec<String> = inhibitor.inhibited_by(&a.labels).into_iter().collect();
    let suppressed = !silenced_by.is_empty() || !inhibited_by.is_empty();
    if !q.active && !suppressed {
        return None;
    }
    if !q.silenced && !silenced_by.is_empty() {
        return None;
    }
    if !q.inhibited && !inhibited_by.is_empty() {
        return None;
    }
    if !q
        .filter
        .iter()
        .all(|m| m.matches(a.labels.get_or_empty(&m.name)))
    {
        return None;
    }
    Some(AlertStatus {
        inhibited_by,
        silenced_by,
        state: if suppressed { "suppressed" } else { "active" },
    })
}

fn gettable(a: &Alert, status: AlertStatus, receivers: Vec<String>) -> GettableAlert {
    GettableAlert {
        annotations: map_of(&a.annotations),
        ends_at: a.ends_at.map(api_time).unwrap_or_default(),
        fingerprint: format!("{:016x}", a.fingerprint()),
        receivers: receivers
            .into_iter()
            .map(|name| ReceiverName { name })
            .collect(),
        starts_at: api_time(a.starts_at),
        status,
        updated_at: api_time(a.updated_at),
        generator_url: a.generator_url.clone(),
        labels: map_of(&a.labels),
    }
}

async fn get_alerts(State(am): State<Alertmanager>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let now = Timestamp::now();
    let loaded = am.loaded();
    let alerts: Vec<Alert> = lock(&am.inner.alerts).iter().cloned().collect();
    let inhibitor = am.inhibitor(&loaded, now);
    let mut out = Vec::new();
    for a in &alerts {
        let receivers: Vec<String> = loaded
            .route
            .matches(&a.labels)
            .iter()
            .map(|r| r.opts.receiver.clone())
            .collect();
        if let Some(re) = &q.receiver
            && !receivers.iter().any(|r| re.is_match(r))
        {
            continue;
        }
        if let Some(status) = filtered(&am, &inhibitor, &q, a, now) {
            out.push(gettable(a, status, receivers));
        }
    }
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    json_response(StatusCode::OK, &out)
}

/// A group's labels, receiver and kept alerts with their status.
type KeptGroup = (Labels, String, Vec<(Alert, AlertStatus)>);

#[derive(Serialize)]
struct AlertGroupOut {
    alerts: Vec<GettableAlert>,
    labels: BTreeMap<String, String>,
    receiver: ReceiverName,
}

async fn get_groups(State(am): State<Alertmanager>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let now = Timestamp::now();
    let loaded = am.loaded();
    let inhibitor = am.inhibitor(&loaded, now);
    // First pass: which receivers each kept alert appears under.
    let mut kept: Vec<KeptGroup> = Vec::new();
    let mut receivers_of: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for g in am.groups() {
        let receiver = g.opts.receiver.clone();
        if let Some(re) = &q.receiver
            && !re.is_match(&receiver)
        {
            continue;
        }
        let mut alerts = g.alerts();
        alerts.sort_by(alert_order);
        let list: Vec<(Alert, AlertStatus)> = alerts
            .into_iter()
            .filter_map(|a| filtered(&am, &inhibitor, &q, &a, now).map(|s| (a, s)))
            .collect();
        if list.is_empty() {
            continue;
        }
        for (a, _) in &list {
            receivers_of
                .entry(a.fingerprint())
                .or_default()
                .insert(receiver.clone());
        }
        kept.push((g.labels.clone(), receiver, list));
    }
    kept.sort_by(|a, b| label_set_order(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
    let out: Vec<AlertGroupOut> = kept
        .into_iter()
        .map(|(labels, receiver, list)| AlertGroupOut {
            alerts: list
                .into_iter()
                .map(|(a, s)| {
                    let rs = receivers_of
                        .get(&a.fingerprint())
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default();
                    gettable(&a, s, rs)
                })
                .collect(),
            labels: map_of(&labels),
            receiver: ReceiverName { name: receiver },
        })
        .collect();
    json_response(StatusCode::OK, &out)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatcherJson {
    #[serde(default = "yes")]
    is_equal: bool,
    is_regex: bool,
    name: String,
    value: String,
}

fn yes() -> bool {
    true
}

#[derive(Serialize)]
struct SilenceStatus {
    state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence {
    id: String,
    status: SilenceStatus,
    updated_at: String,
    comment: String,
    created_by: String,
    ends_at: String,
    matchers: Vec<MatcherJson>,
    starts_at: String,
}

fn gettable_silence(s: &Silence, now: Timestamp) -> GettableSilence {
    GettableSilence {
        id: s.id.clone(),
        status: SilenceStatus {
            state: s.state(now).as_str(),
        },
        updated_at: api_time(s.updated_at),
        comment: s.comment.clone(),
        created_by: s.created_by.clone(),
        ends_at: api_time(s.ends_at),
        matchers: s
            .matchers
            .iter()
            .map(|m| MatcherJson {
                is_equal: m.is_equal(),
                is_regex: m.is_regex(),
                name: m.name.clone(),
                value: m.value.clone(),
            })
            .collect(),
        starts_at: api_time(s.starts_at),
    }
}

async fn get_silences(State(am): State<Alertmanager>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let now = Timestamp::now();
    let mut list: Vec<Silence> = lock(&am.inner.silences)
        .iter()
        .filter(|s| {
            // A filter matcher must match the value of the silence's matcher on the
            // same label (Alertmanager's CheckSilenceMatchesFilterLabels).
            q.filter.iter().all(|f| {
                s.matchers
                    .iter()
                    .rev()
                    .find(|m| m.name == f.name)
                    .is_some_and(|m| f.matches(&m.value))
            })
        })
        .cloned()
        .collect();
    // Active first (soonest end first), then pending (soonest start first), then
    // expired (latest end first), as Alertmanager's SortSilences.
    let rank = |s: &Silence| match s.state(now) {
        SilenceState::Active => 0,
        SilenceState::Pending => 1,
        SilenceState::Expired => 2,
    };
    list.sort_by(|a, b| {
        rank(a).cmp(&rank(b)).then_with(|| match a.state(now) {
            SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
            SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
        })
    });
    let out: Vec<GettableSilence> = list.iter().map(|s| gettable_silence(s, now)).collect();
    json_response(StatusCode::OK, &out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: Option<String>,
    matchers: Vec<MatcherJson>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

async fn post_silence(State(am): State<Alertmanager>, body: Bytes) -> Response {
    let p: PostableSilence = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"code": 400, "message": format!("parsing silence body from \"\" failed, because {e}")}),
            );
        }
    };
    let (Ok(Some(starts_at)), Ok(Some(ends_at))) = (
        parse_time(&Some(p.starts_at.clone())),
        parse_time(&Some(p.ends_at.clone())),
    ) else {
        return bad_request("startsAt and endsAt must be valid date-times");
    };
    let mut matchers = Vec::new();
    for m in &p.matchers {
        let kind = match (m.is_regex, m.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::RegexMatch,
            (true, false) => MatchType::RegexNoMatch,
        };
        match Matcher::new(kind, m.name.clone(), m.value.clone()) {
            Ok(x) => matchers.push(x),
            Err(e) => return bad_request(e.to_string()),
        }
    }
    let now = Timestamp::now();
    if starts_at >= ends_at {
        return bad_request("Failed to create silence: start time must be before end time");
    }
    if ends_at < now {
        return bad_request("Failed to create silence: end time can't be in the past");
    }
    let sil = Silence {
        id: p.id.unwrap_or_default(),
        matchers,
        starts_at,
        ends_at,
        updated_at: now,
        created_by: p.created_by,
        comment: p.comment,
    };
    let res = am.set_silence(sil);
    match res {
        Ok(id) => json_response(StatusCode::OK, &json!({"silenceID": id})),
        Err(SilenceError::NotFound) => {
            json_response(StatusCode::NOT_FOUND, &Value::String("not found".into()))
        }
        Err(e) => bad_request(e.to_string()),
    }
}

fn uuid_error(id: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"code": 601, "message": format!("silenceID in path must be of type uuid: {id:?}")}),
    )
}

async fn get_silence(State(am): State<Alertmanager>, Path(id): Path<String>) -> Response {
    if !is_uuid(&id) {
        return uuid_error(&id);
    }
    let now = Timestamp::now();
    match lock(&am.inner.silences).get(&id) {
        Some(s) => json_response(StatusCode::OK, &gettable_silence(s, now)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_silence(State(am): State<Alertmanager>, Path(id): Path<String>) -> Response {
    if !is_uuid(&id) {
        return uuid_error(&id);
    }
    let res = am.expire_silence(&id);
    match res {
        Ok(()) => StatusCode::OK.into_response(),
        Err(SilenceError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Value::String(e.to_string()),
        ),
    }
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    am: Alertmanager,
    listener: tokio::net::TcpListener,
    route_prefix: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(am, route_prefix))
        .with_graceful_shutdown(shutdown)
        .await
}
