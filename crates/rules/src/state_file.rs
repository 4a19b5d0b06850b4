//! The alert state file: firing alerts written beside the TSDB so that a restart
//! keeps them firing, `keep_firing_for` included. The layout is in
//! `docs/format/rules_state.md`.
//!
//! Prometheus restores only the `for` progress of alerts, from the
//! `ALERTS_FOR_STATE` series; an alert held by `keep_firing_for` whose condition
//! went away is forgotten by a restart, and its resolution is sent at once
//! (prometheus/prometheus#13957, #15175). Ember keeps that state here too; the
//! `for` progress still comes from `ALERTS_FOR_STATE`, as in Prometheus.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ember_model::labels::Labels;
use serde_json::{Map, Value, json};

use crate::group::Group;
use crate::rule::{Alert, AlertState, Rule};
use crate::template::SampleValue;

const VERSION: u64 = 1;

/// Saved alerts by (group key, rule name, rule query).
pub(crate) type Saved = HashMap<(String, String, String), Vec<Alert>>;

fn opt(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

fn alert_json(a: &Alert) -> Value {
    let labels: Map<String, Value> = a
        .labels
        .iter()
        .map(|l| (l.name.clone(), Value::String(l.value.clone())))
        .collect();
    let value = match &a.value {
        SampleValue::Float(v) if v.is_finite() => Value::from(*v),
        // JSON has no NaN or infinities, and a histogram value is not needed to
        // keep an alert firing: the next evaluation sets the value again.
        _ => Value::Null,
    };
    json!({
        "labels": labels,
        "annotations": a.annotations,
        "value": value,
        "active_at": a.active_at,
        "fired_at": opt(a.fired_at),
        "last_sent_at": opt(a.last_sent_at),
        "valid_until": opt(a.valid_until),
        "keep_firing_since": opt(a.keep_firing_since),
    })
}

/// The file's content for `groups`: every firing alert of every alerting rule.
pub(crate) fn encode(groups: &[&Group]) -> String {
    let mut out = Vec::new();
    for g in groups {
        let mut rules = Vec::new();
        for r in g.rules() {
            let Rule::Alerting(a) = r else { continue };
            let firing: Vec<Value> = a
                .alerts()
                .filter(|x| x.state == AlertState::Firing)
                .map(alert_json)
                .collect();
            if !firing.is_empty() {
                rules.push(json!({"name": a.name(), "query": a.query(), "alerts": firing}));
            }
        }
        if !rules.is_empty() {
            out.push(json!({"key": g.key(), "rules": rules}));
        }
    }
    json!({"version": VERSION, "groups": out}).to_string()
}

fn alert_from(v: &Value) -> Option<Alert> {
    let labels = Labels::from_pairs(
        v["labels"]
            .as_object()?
            .iter()
            .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string())),
    );
    let annotations: BTreeMap<String, String> = v["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    Some(Alert {
        state: AlertState::Firing,
        labels,
        annotations,
        value: SampleValue::Float(v["value"].as_f64().unwrap_or(f64::NAN)),
        active_at: v["active_at"].as_i64()?,
        fired_at: v["fired_at"].as_i64(),
        resolved_at: None,
        last_sent_at: v["last_sent_at"].as_i64(),
        valid_until: v["valid_until"].as_i64(),
        keep_firing_since: v["keep_firing_since"].as_i64(),
    })
}

/// Parses a file's content.
pub(crate) fn decode(text: &str) -> Result<Saved, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if v["version"].as_u64() != Some(VERSION) {
        return Err(format!("unsupported version {}", v["version"]));
    }
    let mut out = Saved::new();
    for g in v["groups"].as_array().into_iter().flatten() {
        let key = g["key"].as_str().unwrap_or("").to_string();
        for r in g["rules"].as_array().into_iter().flatten() {
            let alerts: Vec<Alert> = r["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(alert_from)
                .collect();
            out.insert(
                (
                    key.clone(),
                    r["name"].as_str().unwrap_or("").to_string(),
                    r["query"].as_str().unwrap_or("").to_string(),
                ),
                alerts,
            );
        }
    }
    Ok(out)
}

/// Reads the file; a missing file is no state, a damaged one is logged and ignored
/// (the alerts then start over, as in Prometheus).
pub(crate) fn load(path: &Path) -> Saved {
    match std::fs::read_to_string(path) {
        Ok(text) => decode(&text).unwrap_or_else(|e| {
            tracing::error!(file = %path.display(), err = %e, "ignoring damaged alert state file");
            Saved::new()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::new(),
        Err(e) => {
            tracing::error!(file = %path.display(), err = %e, "cannot read alert state file");
            Saved::new()
        }
    }
}

/// Writes the file atomically (temporary file, then rename).
pub(crate) fn save(path: &Path, content: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

/// Puts saved firing alerts back into the matching rules of `g` (same group, rule
/// name and expression; a rule whose expression changed starts over).
pub(crate) fn apply(saved: &Saved, g: &mut Group) {
    let key = g.key();
    for r in g.rules_mut() {
        let Rule::Alerting(a) = r else { continue };
        let k = (key.clone(), a.name().to_string(), a.query().to_string());
        if let Some(alerts) = saved.get(&k) {
            for alert in alerts {
                a.insert_alert(alert.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = Alert {
            state: AlertState::Firing,
            labels: Labels::from_pairs([("alertname", "X"), ("job", "j")]),
            annotations: BTreeMap::from([("summary".to_string(), String::new())]),
            value: SampleValue::Float(2.5),
            active_at: 1000,
            fired_at: Some(2000),
            resolved_at: None,
            last_sent_at: Some(3000),
            valid_until: Some(4000),
            keep_firing_since: Some(5000),
        };
        let text = json!({"version": 1, "groups": [{"key": "f;g", "rules": [{"name": "X", "query": "up", "alerts": [alert_json(&a)]}]}]}).to_string();
        let saved = decode(&text).expect("decodes");
        let back = &saved[&("f;g".to_string(), "X".to_string(), "up".to_string())][0];
        assert_eq!(back, &a);
        assert!(decode("{\"version\": 9}").is_err());
        assert!(decode("not json").is_err());
    }
}
