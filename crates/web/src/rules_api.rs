//! `/api/v1/rules` and `/api/v1/alerts`, in Prometheus's JSON shapes (Grafana's
//! alerting views and scripts read them), with the `type`, `rule_name[]`,
//! `rule_group[]`, `file[]`, `match[]` and `exclude_alerts` filters of
//! `/api/v1/rules` and its `group_limit`/`group_next_token` pagination, as
//! Prometheus 3.x's `rules` handler reads them.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use ember_model::Matcher;
use ember_rules::{Alert, AlertingRule, Group, Rule};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

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
        // Prometheus keeps an alert's value as a float, the sample's `F`, which
        // is 0 for a histogram sample: it shows "0e+00".
        ember_rules::template::SampleValue::Histogram(_) => format_e(0.0),
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
        // Prometheus leaves the list nil when alerts are excluded: `null`.
        let alerts = if exclude_alerts {
            Value::Null
        } else {
            Value::Array(active_alerts(a))
        };
        o.insert("alerts".into(), alerts);
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

/// The query's values for exactly `name` (Go's `r.Form[name]`: `rule_name[]` is
/// not `rule_name`).
fn params(query: &str, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The first value of `name`, empty if absent (Go's `r.URL.Query().Get`).
fn param(query: &str, name: &str) -> String {
    params(query, name).into_iter().next().unwrap_or_default()
}

/// Prometheus's `invalidParamError` message.
fn invalid_param(name: &str, err: impl std::fmt::Display) -> String {
    format!("invalid parameter {name:?}: {err}")
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {v:?}: invalid syntax")),
    }
}

/// `group_limit` and `group_next_token` (Prometheus's
/// `parseListRulesPaginationRequest`): the page size, if paginating, and the token.
fn pagination(query: &str) -> Result<Option<(usize, String)>, String> {
    let limit = param(query, "group_limit");
    let token = param(query, "group_next_token");
    if !token.is_empty() && limit.is_empty() {
        return Err(invalid_param(
            "group_next_token",
            "group_limit needs to be present in order to paginate over the groups",
        ));
    }
    if limit.is_empty() {
        return Ok(None);
    }
    // Go's `strconv.ParseInt(v, 10, 32)`.
    let n: i32 = limit.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        invalid_param(
            "group_limit",
            format!(
                "group_limit needs to be a valid number: strconv.ParseInt: parsing {limit:?}: {why}"
            ),
        )
    })?;
    if n <= 0 {
        return Err(invalid_param(
            "group_limit",
            "group_limit needs to be greater than 0",
        ));
    }
    Ok(Some((n as usize, token)))
}

/// The token of the page that starts with a group: Prometheus's
/// `getRuleGroupNextToken`, hex SHA-256 of `file;group`.
fn group_token(file: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{file};{group}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `match[]`: series selectors, each needing a matcher the empty value fails
/// (Prometheus's `parseMatchersParam`).
fn rule_matchers(query: &str) -> Result<Vec<Vec<Matcher>>, String> {
    let sets = params(query, "match[]")
        .iter()
        .map(|m| ember_promql_parser::parse_metric_selector(m).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if sets.iter().any(|set| set.iter().all(|m| m.matches(""))) {
        return Err("match[] must contain at least one non-empty matcher".into());
    }
    Ok(sets)
}

/// Whether a rule's labels satisfy one of the sets (all matchers of a set).
fn matches_sets(sets: &[Vec<Matcher>], labels: &ember_model::Labels) -> bool {
    sets.is_empty()
        || sets
            .iter()
            .any(|set| set.iter().all(|m| m.matches(labels.get_or_empty(&m.name))))
}

pub(crate) async fn rules(State(s): State<Arc<WebState>>, RawQuery(q): RawQuery) -> Response {
    match rule_discovery(s.rules.as_ref(), &q.unwrap_or_default()) {
        Ok(v) => success(v),
        Err(e) => bad_data(e),
    }
}

/// The `data` of `/api/v1/rules`, or the `bad_data` message; the checks and
/// filters come in the order of Prometheus's handler, whose messages they repeat.
fn rule_discovery(manager: Option<&ember_rules::Manager>, q: &str) -> Result<Value, String> {
    let names: HashSet<String> = params(q, "rule_name[]").into_iter().collect();
    let groups_wanted: HashSet<String> = params(q, "rule_group[]").into_iter().collect();
    let files: HashSet<String> = params(q, "file[]").into_iter().collect();
    let matchers = rule_matchers(q)?;
    let kind = param(q, "type").to_lowercase();
    let (want_alerting, want_recording) = match kind.as_str() {
        "" => (true, true),
        "alert" => (true, false),
        "record" => (false, true),
        other => {
            return Err(invalid_param(
                "type",
                format!("not supported value {other:?}"),
            ));
        }
    };
    let exclude_alerts = match param(q, "exclude_alerts").to_lowercase().as_str() {
        "" => false,
        v => parse_bool(v).map_err(|e| {
            invalid_param(
                "exclude_alerts",
                format!("error converting exclude_alerts: {e}"),
            )
        })?,
    };
    let page = pagination(q)?;
    let mut out = Vec::new();
    let mut next_token = None;
    let mut found_token = false;
    for g in manager.map(|m| m.groups()).unwrap_or_default() {
        let Ok(g) = g.lock() else { continue };
        let file = g.file().display().to_string();
        // A page starts at the group its token names; the groups before it were
        // on earlier pages.
        if let Some((_, token)) = &page
            && !token.is_empty()
            && !found_token
        {
            if *token != group_token(&file, g.name()) {
                continue;
            }
            found_token = true;
        }
        if !groups_wanted.is_empty() && !groups_wanted.contains(g.name()) {
            continue;
        }
        if !files.is_empty() && !files.contains(&file) {
            continue;
        }
        let rules: Vec<Value> = g
            .rules()
            .iter()
            .filter(|r| matches_sets(&matchers, r.labels()))
            .filter(|r| names.is_empty() || names.contains(r.name()))
            .filter(|r| match r {
                Rule::Alerting(_) => want_alerting,
                Rule::Recording(_) => want_recording,
            })
            .map(|r| rule_json(r, exclude_alerts))
            .collect();
        // A group without rules to show is left out, whether filters emptied it
        // or it has none, as Prometheus does.
        if rules.is_empty() {
            continue;
        }
        if let Some((limit, _)) = &page
            && out.len() == *limit
        {
            // One group more than the page holds: the next page starts with it.
            next_token = Some(group_token(&file, g.name()));
            break;
        }
        out.push(group_json(&g, rules));
    }
    if let Some((_, token)) = &page
        && !token.is_empty()
        && !found_token
    {
        return Err(invalid_param(
            "group_next_token",
            format!("invalid group_next_token '{token}'. were rule groups changed?"),
        ));
    }
    let mut data = Map::new();
    data.insert("groups".into(), Value::Array(out));
    if let Some(t) = next_token {
        data.insert("groupNextToken".into(), t.into());
    }
    Ok(Value::Object(data))
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

    #[test]
    fn a_histogram_alert_shows_prometheus_float_value() {
        let a = Alert {
            state: ember_rules::AlertState::Firing,
            labels: ember_model::Labels::from_pairs([("alertname", "H")]),
            annotations: Default::default(),
            value: ember_rules::template::SampleValue::Histogram(Arc::new(
                ember_model::histogram::FloatHistogram {
                    count: 3.0,
                    sum: 1.5,
                    ..Default::default()
                },
            )),
            active_at: 1_700_000_000_000,
            fired_at: None,
            resolved_at: None,
            last_sent_at: None,
            valid_until: None,
            keep_firing_since: None,
        };
        assert_eq!(alert_json(&a)["value"], "0e+00");
    }

    const RULES: &str = "groups:
- name: g1
  interval: 1h
  rules:
  - record: job:up:sum
    expr: sum(up)
    labels: {team: a}
  - alert: Down
    expr: up == 0
    labels: {severity: page, team: a}
- name: g2
  interval: 1h
  rules:
  - alert: Slow
    expr: vector(1)
    labels: {severity: warn, team: b}
- name: empty
  interval: 1h
  rules: []
- name: g3
  interval: 1h
  rules:
  - record: r3
    expr: vector(3)
";

    /// A rule manager over `RULES` in a file of its own; its groups evaluate once
    /// an hour, so nothing changes while a test reads them.
    fn manager(tag: &str) -> (ember_rules::Manager, String) {
        let dir =
            std::env::temp_dir().join(format!("ember-web-rules-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("rules.yml");
        std::fs::write(&file, RULES).expect("write");
        let st = Arc::new(ember_storage::list::MemStorage::new());
        let m = ember_rules::Manager::new(ember_rules::ManagerOptions {
            queryable: st.clone(),
            appendable: st,
            engine: ember_promql::Engine::default(),
            notifier: None,
            outage_tolerance: std::time::Duration::from_secs(3600),
            grace: std::time::Duration::from_secs(600),
            resend_delay: std::time::Duration::from_secs(60),
            state_file: None,
        });
        m.update(&ember_rules::RuleConfig {
            files: vec![file.clone()],
            interval: std::time::Duration::from_secs(3600),
            ..Default::default()
        })
        .expect("rules load");
        (m, file.display().to_string())
    }

    /// Group name → its rule names.
    fn listed(v: &Value) -> Vec<(String, Vec<String>)> {
        v["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| {
                let rules = g["rules"]
                    .as_array()
                    .expect("rules")
                    .iter()
                    .map(|r| r["name"].as_str().unwrap_or("").to_string())
                    .collect();
                (g["name"].as_str().unwrap_or("").to_string(), rules)
            })
            .collect()
    }

    fn names(groups: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        groups
            .iter()
            .map(|(g, r)| (g.to_string(), r.iter().map(|x| x.to_string()).collect()))
            .collect()
    }

    #[tokio::test]
    async fn filters_as_prometheus() {
        let (m, _) = manager("filters");
        let get = |q: &str| rule_discovery(Some(&m), q);
        let all = get("").expect("all");
        // The group without rules is not listed.
        assert_eq!(
            listed(&all),
            names(&[
                ("g1", &["job:up:sum", "Down"]),
                ("g2", &["Slow"]),
                ("g3", &["r3"])
            ])
        );
        assert!(all.get("groupNextToken").is_none());
        assert_eq!(all["groups"][0]["rules"][1]["alerts"], json!([]));

        // exclude_alerts: `null`, not a missing field; Go's ParseBool, any case.
        for v in ["true", "TRUE", "1", "t"] {
            let v = get(&format!("exclude_alerts={v}")).expect("excluded");
            let down = &v["groups"][0]["rules"][1];
            assert!(down.as_object().is_some_and(|o| o.contains_key("alerts")));
            assert_eq!(down["alerts"], Value::Null);
        }
        assert_eq!(
            get("exclude_alerts=False").expect("kept")["groups"][0]["rules"][1]["alerts"],
            json!([])
        );
        assert_eq!(
            get("exclude_alerts=yes").unwrap_err(),
            r#"invalid parameter "exclude_alerts": error converting exclude_alerts: strconv.ParseBool: parsing "yes": invalid syntax"#
        );

        // type, in any case.
        assert_eq!(
            listed(&get("type=ALERT").expect("alert")),
            names(&[("g1", &["Down"]), ("g2", &["Slow"])])
        );
        assert_eq!(
            listed(&get("type=Record").expect("record")),
            names(&[("g1", &["job:up:sum"]), ("g3", &["r3"])])
        );
        assert_eq!(
            get("type=rules").unwrap_err(),
            r#"invalid parameter "type": not supported value "rules""#
        );

        // match[]: selectors over the rules' labels, sets ORed.
        assert_eq!(
            listed(&get("match[]={severity=\"page\"}").expect("match")),
            names(&[("g1", &["Down"])])
        );
        assert_eq!(
            listed(&get("match[]={team=\"a\"}&match[]={team=\"b\"}").expect("or")),
            names(&[("g1", &["job:up:sum", "Down"]), ("g2", &["Slow"])])
        );
        assert_eq!(
            listed(&get("match[]={team=~\"a|b\",severity!=\"page\"}").expect("and")),
            names(&[("g1", &["job:up:sum"]), ("g2", &["Slow"])])
        );
        assert_eq!(
            get("match[]={team=\"\"}").unwrap_err(),
            "match[] must contain at least one non-empty matcher"
        );
        assert!(get("match[]={team=").is_err());

        // The other filters; names need their brackets, as in Prometheus.
        assert_eq!(
            listed(&get("rule_name[]=Slow&rule_name[]=r3").expect("names")),
            names(&[("g2", &["Slow"]), ("g3", &["r3"])])
        );
        assert_eq!(listed(&get("rule_name=Slow").expect("ignored")).len(), 3);
        assert_eq!(
            listed(&get("rule_group[]=g2&rule_group[]=empty").expect("groups")),
            names(&[("g2", &["Slow"])])
        );
        m.stop();
        cleanup("filters");
    }

    fn cleanup(tag: &str) {
        let dir =
            std::env::temp_dir().join(format!("ember-web-rules-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn pagination_as_prometheus() {
        let (m, file) = manager("pages");
        let get = |q: &str| rule_discovery(Some(&m), q);
        let first = get("group_limit=2").expect("first page");
        assert_eq!(
            listed(&first),
            names(&[("g1", &["job:up:sum", "Down"]), ("g2", &["Slow"])])
        );
        // The token names the first group of the next page (the empty group is
        // skipped, so g3), as Prometheus's sha256 of "file;group".
        let token = first["groupNextToken"].as_str().expect("token").to_string();
        assert_eq!(token, group_token(&file, "g3"));
        assert_eq!(
            group_token("f.yml", "g"),
            "715da261da1bc6bd7bd74bf00c9e2bfcae17d5105d5dfc4eb8b853e1ba5c9005"
        );
        let second = get(&format!("group_limit=2&group_next_token={token}")).expect("second");
        assert_eq!(listed(&second), names(&[("g3", &["r3"])]));
        assert!(second.get("groupNextToken").is_none());
        // Exactly a full page: no token.
        let all = get("group_limit=3").expect("all");
        assert_eq!(listed(&all).len(), 3);
        assert!(all.get("groupNextToken").is_none());

        assert_eq!(
            get("group_limit=2&group_next_token=abc").unwrap_err(),
            "invalid parameter \"group_next_token\": invalid group_next_token 'abc'. were rule groups changed?"
        );
        assert_eq!(
            get(&format!("group_next_token={token}")).unwrap_err(),
            "invalid parameter \"group_next_token\": group_limit needs to be present in order to paginate over the groups"
        );
        assert_eq!(
            get("group_limit=0").unwrap_err(),
            "invalid parameter \"group_limit\": group_limit needs to be greater than 0"
        );
        assert_eq!(
            get("group_limit=x").unwrap_err(),
            "invalid parameter \"group_limit\": group_limit needs to be a valid number: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            get("group_limit=4294967296").unwrap_err(),
            "invalid parameter \"group_limit\": group_limit needs to be a valid number: strconv.ParseInt: parsing \"4294967296\": value out of range"
        );
        m.stop();
        cleanup("pages");
    }
}
