//! `/api/v1/rules` and `/api/v1/alerts`, in Prometheus's JSON shapes (Grafana's
//! alerting views and scripts read them), with the `type`, `rule_name[]`,
//! `rule_group[]`, `file[]` and `exclude_alerts` filters of `/api/v1/rules`.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use ember_rules::{Alert, AlertingRule, Group, Rule};
use serde_json::{Map, Value, json};

use crate::{WebState, bad_data, success};

/// Go's `time.Time` JSON form for a millisecond time.
pub(crate) fn rfc3339(ms: i64) -> String {
    ember_model::time::format_rfc3339_nanos(ms.saturating_mul(1_000_000))
}

/// A float as Go's `encoding/json` writes it: whole numbers without a fraction
/// (`1`, not serde's `1.0`).
fn go_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// Go's zero time, which Prometheus prints for rules never evaluated.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn labels_json<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        labels
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<String, Value>>(),
    )
}

/// `strconv.FormatFloat(v, 'e', -1, 64)`: Prometheus's spelling of alert values.
fn format_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's `{:e}` is the shortest round-trip mantissa, as Go's -1 precision;
    // Go writes the exponent with a sign and at least two digits.
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

fn alert_json(a: &Alert) -> Value {
    let value = match &a.value {
        ember_rules::template::SampleValue::Float(v) => format_e(*v),
        ember_rules::template::SampleValue::Histogram(h) => format!("{h:?}"),
    };
    let mut o = Map::new();
    o.insert(
        "labels".into(),
        labels_json(a.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))),
    );
    o.insert(
        "annotations".into(),
        labels_json(a.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    o.insert("state".into(), a.state.as_str().into());
    o.insert("activeAt".into(), rfc3339(a.active_at).into());
    if let Some(k) = a.keep_firing_since {
        o.insert("keepFiringSince".into(), rfc3339(k).into());
    }
    o.insert("value".into(), value.into());
    Value::Object(o)
}

fn active_alerts(r: &AlertingRule) -> Vec<Value> {
    r.active_alerts().into_iter().map(alert_json).collect()
}

fn rule_json(r: &Rule, exclude_alerts: bool) -> Value {
    let mut o = Map::new();
    if let Rule::Alerting(a) = r {
        o.insert("state".into(), a.state().as_str().into());
    }
    o.insert("name".into(), r.name().into());
    o.insert("query".into(), r.query().into());
    if let Rule::Alerting(a) = r {
        o.insert(
            "duration".into(),
            go_number(a.hold_duration().as_secs_f64()),
        );
        o.insert(
            "keepFiringFor".into(),
            go_number(a.keep_firing_for().as_secs_f64()),
        );
    }
    // Recording rules omit empty labels (`omitempty`); alerting rules always have them.
    if matches!(r, Rule::Alerting(_)) || !r.labels().is_empty() {
        o.insert(
            "labels".into(),
            labels_json(
                r.labels()
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str())),
            ),
        );
    }
    if let Rule::Alerting(a) = r {
        o.insert(
            "annotations".into(),
            labels_json(
                a.annotations()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
        );
        if !exclude_alerts {
            o.insert("alerts".into(), Value::Array(active_alerts(a)));
        }
    }
    o.insert("health".into(), r.health().as_str().into());
    if let Some(e) = r.last_error().filter(|e| !e.is_empty()) {
        o.insert("lastError".into(), e.into());
    }
    o.insert(
        "evaluationTime".into(),
        go_number(r.evaluation_duration().as_secs_f64()),
    );
    o.insert(
        "lastEvaluation".into(),
        r.evaluation_timestamp()
            .map_or(ZERO_TIME.to_string(), rfc3339)
            .into(),
    );
    o.insert(
        "type".into(),
        match r {
            Rule::Alerting(_) => "alerting",
            Rule::Recording(_) => "recording",
        }
        .into(),
    );
    Value::Object(o)
}

/// The query's values for `name` (with or without `[]`).
fn params(query: &str, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub(crate) async fn rules(State(s): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let kind = params(&q, "type").pop().unwrap_or_default();
    let (want_alerting, want_recording) = match kind.as_str() {
        "" => (true, true),
        "alert" => (true, false),
        "record" => (false, true),
        other => {
            return bad_data(format!(
                "unsupported type {other:?}, expected alert or record"
            ));
        }
    };
    let exclude_alerts = match params(&q, "exclude_alerts").pop().as_deref() {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return bad_data(format!("parsing exclude_alerts: invalid syntax {other:?}"));
        }
    };
    let names: HashSet<String> = params(&q, "rule_name").into_iter().collect();
    let groups_wanted: HashSet<String> = params(&q, "rule_group").into_iter().collect();
    let files: HashSet<String> = params(&q, "file").into_iter().collect();
    let mut out = Vec::new();
    if let Some(m) = &s.rules {
        for g in m.groups() {
            let Ok(g) = g.lock() else { continue };
            if !groups_wanted.is_empty() && !groups_wanted.contains(g.name()) {
                continue;
            }
            if !files.is_empty() && !files.contains(&g.file().display().to_string()) {
                continue;
            }
            let rules: Vec<Value> = g
                .rules()
                .iter()
                .filter(|r| match r {
                    Rule::Alerting(_) => want_alerting,
                    Rule::Recording(_) => want_recording,
                })
                .filter(|r| names.is_empty() || names.contains(r.name()))
                .map(|r| rule_json(r, exclude_alerts))
                .collect();
            // Filters by rule leave out groups they empty, as Prometheus does.
            if rules.is_empty() && (!names.is_empty() || !kind.is_empty()) {
                continue;
            }
            out.push(group_json(&g, rules));
        }
    }
    success(json!({ "groups": out }))
}

fn group_json(g: &Group, rules: Vec<Value>) -> Value {
    json!({
        "name": g.name(),
        "file": g.file().display().to_string(),
        "rules": rules,
        "interval": go_number(g.interval().as_secs_f64()),
        "limit": g.limit(),
        "evaluationTime": go_number(g.evaluation_duration().as_secs_f64()),
        "lastEvaluation": g.last_evaluation().map_or(ZERO_TIME.to_string(), rfc3339),
    })
}

pub(crate) async fn alerts(State(s): State<Arc<WebState>>) -> Response {
    let mut out = Vec::new();
    if let Some(m) = &s.rules {
        for g in m.groups() {
            let Ok(g) = g.lock() else { continue };
            for r in g.rules() {
                if let Rule::Alerting(a) = r {
                    out.extend(active_alerts(a));
                }
            }
        }
    }
    success(json!({ "alerts": out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_times_as_go_writes_them() {
        assert_eq!(format_e(1.0), "1e+00");
        assert_eq!(format_e(0.5), "5e-01");
        assert_eq!(format_e(1234.5), "1.2345e+03");
        assert_eq!(format_e(1e-300), "1e-300");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_700_000_000_120), "2023-11-14T22:13:20.12Z");
    }
}
