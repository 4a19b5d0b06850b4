//! Notification templates: Alertmanager's data model (`template.Data`), its template
//! functions, the default templates, and the webhook payload (which is that data
//! model as JSON).
//!
//! The default templates (`__subject`, `slack.default.*`, `email.default.*`, …) are
//! Ember's own text. Every output that ends up in a payload — the subject line, the
//! Slack title, fallback and link, the PagerDuty, Opsgenie, VictorOps, Pushover,
//! SNS, Telegram, Discord, Webex and WeChat bodies with their exact blank lines —
//! is written to be exactly what Alertmanager 0.25 produces for the same data
//! (Teams: 0.27, which introduced it); the tests pin those outputs. The HTML e-mail
//! body is a design of Ember's own (nothing parses it), carrying the same
//! information.
//!
//! User template files (`templates:` globs) are parsed after the defaults, so that a
//! `{{ define "slack.default.title" }}` in them overrides the default, as in
//! Alertmanager.

use crate::alert::Alert;
use crate::error::Error;
use ember_model::Labels;
use ember_template::{ContentKind, FuncMap, Kv, Object, Template, Value};
use jiff::Timestamp;
use serde::Serialize;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Ember's default notification templates.
pub const DEFAULT_TEMPLATES: &str = include_str!("default.tmpl");

/// One alert as templates and webhooks see it (`template.Alert`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataAlert {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start, as Go's `time.Time` JSON.
    #[serde(serialize_with = "go_time")]
    pub starts_at: Option<Timestamp>,
    /// End; Go's zero time for firing alerts.
    #[serde(serialize_with = "go_time")]
    pub ends_at: Option<Timestamp>,
    /// Link to the source.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Fingerprint as 16 hex digits.
    pub fingerprint: String,
}

/// The data every notification template gets (`template.Data`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    /// The receiver's name, regex-quoted as Alertmanager does.
    pub receiver: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: &'static str,
    /// The alerts.
    pub alerts: Vec<DataAlert>,
    /// The group's labels.
    pub group_labels: BTreeMap<String, String>,
    /// Labels all alerts share.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations all alerts share.
    pub common_annotations: BTreeMap<String, String>,
    /// The Alertmanager's external URL.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// Ember's silence notifications (`silence_notifications:`): the silence, with
    /// no alerts and `status` `"silence"`. Templates see it as `.Silence` (nil in
    /// alert notifications); webhooks send [`crate::notify::silence_webhook_body`]
    /// instead of the alert payload.
    #[serde(skip)]
    pub silence: Option<SilenceData>,
}

/// A silence matcher as API v2 writes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcherData {
    /// `=` or `=~` (true), `!=` or `!~` (false).
    pub is_equal: bool,
    /// `=~` or `!~`.
    pub is_regex: bool,
    /// Label name.
    pub name: String,
    /// Value or pattern.
    pub value: String,
}

/// A silence's state as API v2 writes it.
#[derive(Clone, Debug, Serialize)]
pub struct SilenceStatusData {
    /// `pending`, `active` or `expired`.
    pub state: &'static str,
}

/// The silence of a silence notification: serialised as API v2's `GettableSilence`
/// (same fields, order and time format) plus `url`, the silence's page.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceData {
    /// `create` or `expire` (not serialised here: the webhook body carries it).
    #[serde(skip)]
    pub event: &'static str,
    /// The silence's id.
    pub id: String,
    /// Its state when the notification was made.
    pub status: SilenceStatusData,
    /// Last change.
    #[serde(serialize_with = "api_time")]
    pub updated_at: Timestamp,
    /// Why.
    pub comment: String,
    /// Author.
    pub created_by: String,
    /// End.
    #[serde(serialize_with = "api_time")]
    pub ends_at: Timestamp,
    /// Matchers.
    pub matchers: Vec<SilenceMatcherData>,
    /// Start.
    #[serde(serialize_with = "api_time")]
    pub starts_at: Timestamp,
    /// `<external URL>/#/silences/<id>`.
    pub url: String,
    /// The matchers as written in `amtool` and configuration files.
    #[serde(skip)]
    pub matcher_text: Vec<String>,
}

fn api_time<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::api::api_time(*t))
}

impl SilenceData {
    /// The data of `event` for `silence` at `now`.
    pub fn new(
        event: crate::config::SilenceEvent,
        silence: &crate::silence::Silence,
        now: Timestamp,
        external_url: &str,
    ) -> SilenceData {
        SilenceData {
            event: event.as_str(),
            id: silence.id.clone(),
            status: SilenceStatusData {
                state: silence.state(now).as_str(),
            },
            updated_at: silence.updated_at,
            comment: silence.comment.clone(),
            created_by: silence.created_by.clone(),
            ends_at: silence.ends_at,
            matchers: silence
                .matchers
                .iter()
                .map(|m| SilenceMatcherData {
                    is_equal: m.is_equal(),
                    is_regex: m.is_regex(),
                    name: m.name.clone(),
                    value: m.value.clone(),
                })
                .collect(),
            starts_at: silence.starts_at,
            url: format!("{external_url}/#/silences/{}", silence.id),
            matcher_text: silence.matchers.iter().map(ToString::to_string).collect(),
        }
    }

    /// The silence as templates see it (`.Silence`): `Event`, `ID`, `Matchers`
    /// (strings such as `instance="a"`), `CreatedBy`, `Comment`, `StartsAt`,
    /// `EndsAt`, `UpdatedAt` (times), `State` and `URL`.
    pub fn to_value(&self) -> Value {
        let t = |t: Timestamp| Value::object(template_time(Some(t)));
        Value::map([
            ("Event", Value::String(self.event.into())),
            ("ID", Value::String(self.id.clone())),
            (
                "Matchers",
                Value::list(self.matcher_text.iter().cloned().map(Value::String)),
            ),
            ("CreatedBy", Value::String(self.created_by.clone())),
            ("Comment", Value::String(self.comment.clone())),
            ("StartsAt", t(self.starts_at)),
            ("EndsAt", t(self.ends_at)),
            ("UpdatedAt", t(self.updated_at)),
            ("State", Value::String(self.status.state.into())),
            ("URL", Value::String(self.url.clone())),
        ])
    }
}

fn map_of(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// Go's `time.Time` JSON form: RFC 3339 with as many fraction digits as needed,
/// `0001-01-01T00:00:00Z` for the zero time.
pub fn go_time_string(t: Option<Timestamp>) -> String {
    match t {
        None => "0001-01-01T00:00:00Z".into(),
        Some(t) => ember_template::time::format(
            "2006-01-02T15:04:05.999999999Z07:00",
            &template_time(Some(t)),
        ),
    }
}

fn go_time<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&go_time_string(*t))
}

fn template_time(t: Option<Timestamp>) -> ember_template::time::Time {
    match t {
        None => ember_template::time::Time::zero(),
        Some(t) => ember_template::time::Time::from_unix(
            t.as_second(),
            u32::try_from(t.subsec_nanosecond()).unwrap_or(0),
        ),
    }
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Data {
    /// Builds the data for a notification to `receiver` about `alerts` (already
    /// with zeroed end times for firing alerts) of a group with `group_labels`.
    pub fn new(
        receiver: &str,
        group_labels: &Labels,
        alerts: &[Alert],
        external_url: &str,
        now: Timestamp,
    ) -> Data {
        let data_alerts: Vec<DataAlert> = alerts
            .iter()
            .map(|a| DataAlert {
                status: a.status(now),
                labels: map_of(&a.labels),
                annotations: map_of(&a.annotations),
                starts_at: Some(a.starts_at),
                ends_at: a.ends_at,
                generator_url: a.generator_url.clone(),
                fingerprint: format!("{:016x}", a.fingerprint()),
            })
            .collect();
        let mut d = Data {
            receiver: quote_meta(receiver),
            status: "resolved",
            common_labels: BTreeMap::new(),
            common_annotations: BTreeMap::new(),
            alerts: data_alerts,
            group_labels: map_of(group_labels),
            external_url: external_url.to_string(),
            silence: None,
        };
        d.summarize();
        d
    }

    /// The data of a silence notification to `receiver`: no alerts, `status`
    /// `"silence"`, and `.Silence`.
    pub fn for_silence(receiver: &str, silence: SilenceData, external_url: &str) -> Data {
        Data {
            receiver: quote_meta(receiver),
            status: "silence",
            alerts: Vec::new(),
            group_labels: BTreeMap::new(),
            common_labels: BTreeMap::new(),
            common_annotations: BTreeMap::new(),
            external_url: external_url.to_string(),
            silence: Some(silence),
        }
    }

    /// Keeps the first `max` alerts, returning how many were dropped. Status and
    /// common labels are then those of the alerts kept, as Alertmanager computes
    /// them after truncating (`max_alerts` of webhooks).
    pub fn truncate(&mut self, max: usize) -> usize {
        if self.alerts.len() <= max {
            return 0;
        }
        let dropped = self.alerts.len() - max;
        self.alerts.truncate(max);
        self.summarize();
        dropped
    }

    fn summarize(&mut self) {
        let common = |get: fn(&DataAlert) -> &BTreeMap<String, String>| {
            let mut it = self.alerts.iter();
            let mut c = it.next().map(get).cloned().unwrap_or_default();
            for a in it {
                let m = get(a);
                c.retain(|k, v| m.get(k) == Some(v));
            }
            c
        };
        let (labels, annotations) = (common(|a| &a.labels), common(|a| &a.annotations));
        self.common_labels = labels;
        self.common_annotations = annotations;
        let firing = self.alerts.iter().any(|a| a.status == "firing");
        self.status = if self.silence.is_some() {
            "silence"
        } else if firing {
            "firing"
        } else {
            "resolved"
        };
    }

    /// The data as a template value.
    pub fn to_value(&self) -> Value {
        let alerts: Vec<Value> = self.alerts.iter().map(alert_value).collect();
        Value::map([
            ("Receiver", Value::String(self.receiver.clone())),
            ("Status", Value::String(self.status.into())),
            ("Alerts", Value::object(Alerts::new(alerts))),
            ("GroupLabels", kv(&self.group_labels)),
            ("CommonLabels", kv(&self.common_labels)),
            ("CommonAnnotations", kv(&self.common_annotations)),
            ("ExternalURL", Value::String(self.external_url.clone())),
            (
                "Silence",
                self.silence
                    .as_ref()
                    .map(SilenceData::to_value)
                    .unwrap_or(Value::Nil),
            ),
        ])
    }
}

fn kv(m: &BTreeMap<String, String>) -> Value {
    Value::object(Kv::new(m.iter().map(|(k, v)| (k.clone(), v.clone()))))
}

fn alert_value(a: &DataAlert) -> Value {
    Value::map([
        ("Status", Value::String(a.status.into())),
        ("Labels", kv(&a.labels)),
        ("Annotations", kv(&a.annotations)),
        ("StartsAt", Value::object(template_time(a.starts_at))),
        ("EndsAt", Value::object(template_time(a.ends_at))),
        ("GeneratorURL", Value::String(a.generator_url.clone())),
        ("Fingerprint", Value::String(a.fingerprint.clone())),
    ])
}

/// `template.Alerts`: a list with `Firing` and `Resolved` methods.
struct Alerts {
    all: Value,
    items: Vec<Value>,
}

impl Alerts {
    fn new(items: Vec<Value>) -> Alerts {
        Alerts {
            all: Value::list(items.clone()),
            items,
        }
    }

    fn with_status(&self, status: &str) -> Value {
        let picked: Vec<Value> = self
            .items
            .iter()
            .filter(|a| match a {
                Value::Map(m) => m.get("Status").and_then(Value::as_str) == Some(status),
                _ => false,
            })
            .cloned()
            .collect();
        Value::object(Alerts::new(picked))
    }
}

impl Object for Alerts {
    fn type_name(&self) -> &str {
        "template.Alerts"
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let status = match name {
            "Firing" => "firing",
            "Resolved" => "resolved",
            _ => return None,
        };
        Some(ember_template::check_args(name, args, 0).map(|_| self.with_status(status)))
    }

    fn as_value(&self) -> Option<&Value> {
        Some(&self.all)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn str_arg(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) | Value::Safe(_, s) => Ok(s.clone()),
        Value::Nil | Value::NoValue => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!("wrong number of args: want {n} got {}", args.len()));
    }
    Ok(())
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_');
    }
    out
}

/// Alertmanager's template functions.
pub fn funcs() -> FuncMap {
    FuncMap::new()
        .add("toUpper", |a| {
            arity(a, 1)?;
            Ok(Value::String(str_arg(&a[0])?.to_uppercase()))
        })
        .add("toLower", |a| {
            arity(a, 1)?;
            Ok(Value::String(str_arg(&a[0])?.to_lowercase()))
        })
        .add("title", |a| {
            arity(a, 1)?;
            Ok(Value::String(title(&str_arg(&a[0])?)))
        })
        .add("join", |a| {
            arity(a, 2)?;
            let sep = str_arg(&a[0])?;
            let list = match &a[1] {
                Value::Object(o) => o.as_value().unwrap_or(&a[1]),
                v => v,
            };
            let items: Vec<String> = match list {
                Value::List(l) => l.iter().map(str_arg).collect::<Result<_, _>>()?,
                Value::Nil | Value::NoValue => Vec::new(),
                other => {
                    return Err(format!(
                        "wrong type for value; expected []string; got {}",
                        other.type_name()
                    ));
                }
            };
            Ok(Value::String(items.join(&sep)))
        })
        .add("match", |a| {
            arity(a, 2)?;
            let re = regex::Regex::new(&str_arg(&a[0])?)
                .map_err(|e| format!("error parsing regexp: {e}"))?;
            Ok(Value::Bool(re.is_match(&str_arg(&a[1])?)))
        })
        .add("reReplaceAll", |a| {
            arity(a, 3)?;
            let pat = str_arg(&a[0])?;
            let re = regex::Regex::new(&pat)
                .map_err(|e| format!("regexp: Compile({pat:?}): error parsing regexp: {e}"))?;
            let (repl, text) = (str_arg(&a[1])?, str_arg(&a[2])?);
            Ok(Value::String(
                re.replace_all(&text, repl.as_str()).into_owned(),
            ))
        })
        .add("safeHtml", |a| {
            arity(a, 1)?;
            Ok(Value::Safe(ContentKind::Html, str_arg(&a[0])?))
        })
        .add("stringSlice", |a| Ok(Value::list(a.to_vec())))
        .add("date", |a| {
            arity(a, 2)?;
            let layout = str_arg(&a[0])?;
            let t = a[1]
                .downcast_ref::<ember_template::time::Time>()
                .ok_or("date: expected a time")?;
            Ok(Value::String(t.format(&layout)))
        })
        .add("tz", |a| {
            arity(a, 2)?;
            let name = str_arg(&a[0])?;
            let t = a[1]
                .downcast_ref::<ember_template::time::Time>()
                .ok_or("tz: expected a time")?;
            let zone = jiff::tz::TimeZone::get(&name).map_err(|e| e.to_string())?;
            let ts = Timestamp::from_second(t.unix()).map_err(|e| e.to_string())?;
            let info = zone.to_offset_info(ts);
            Ok(Value::object(
                t.with_offset(info.offset().seconds(), info.abbreviation()),
            ))
        })
}

/// The text and HTML template sets of one configuration.
#[derive(Clone, Debug)]
pub struct Templates {
    text: Template,
    html: Template,
}

const FIELD: &str = "__ember_field";

impl Templates {
    /// The defaults plus the files matched by `globs` (already resolved against the
    /// configuration file's directory).
    pub fn load(globs: &[String]) -> Result<Templates, Error> {
        let mut text = Template::new("");
        let mut html = Template::new_html("");
        for t in [&mut text, &mut html] {
            t.funcs(funcs());
            t.option("missingkey=zero")
                .map_err(|e| Error::Value(e.to_string()))?;
            t.parse_named("default.tmpl", DEFAULT_TEMPLATES)
                .map_err(|e| Error::Value(format!("default templates: {e}")))?;
        }
        for pattern in globs {
            let paths = glob::glob(pattern)
                .map_err(|e| Error::Value(format!("syntax error in pattern {pattern:?}: {e}")))?;
            for p in paths {
                let p = p.map_err(|e| Error::Value(e.to_string()))?;
                let body = std::fs::read_to_string(&p).map_err(|source| Error::Io {
                    file: p.clone(),
                    source,
                })?;
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                for t in [&mut text, &mut html] {
                    t.parse_named(&name, &body)
                        .map_err(|e| Error::Value(format!("template: {}: {e}", p.display())))?;
                }
            }
        }
        Ok(Templates { text, html })
    }

    fn exec(set: &Template, text: &str, data: &Value) -> Result<String, String> {
        if text.is_empty() {
            return Ok(String::new());
        }
        let mut t = set.clone();
        t.parse_named(FIELD, text).map_err(|e| e.to_string())?;
        t.execute_template(FIELD, data).map_err(|e| e.to_string())
    }

    /// Executes a configuration field as a text template.
    pub fn text(&self, text: &str, data: &Value) -> Result<String, String> {
        Templates::exec(&self.text, text, data)
    }

    /// Executes a configuration field as an HTML template.
    pub fn html(&self, text: &str, data: &Value) -> Result<String, String> {
        Templates::exec(&self.html, text, data)
    }
}

/// Shared handle to a configuration's templates.
pub type SharedTemplates = Arc<Templates>;

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn alert(pairs: &[(&str, &str)], ends: Option<i64>) -> Alert {
        Alert {
            labels: Labels::from_pairs(pairs.iter().copied()),
            annotations: Labels::from_pairs([("summary", "boom")]),
            starts_at: ts(100),
            ends_at: ends.map(ts),
            generator_url: "http://prom/graph".into(),
            updated_at: ts(100),
            timeout: false,
        }
    }

    fn data() -> Data {
        let alerts = vec![
            alert(
                &[("alertname", "Down"), ("job", "a"), ("sev", "page")],
                None,
            ),
            alert(
                &[("alertname", "Down"), ("job", "b"), ("sev", "page")],
                None,
            ),
            alert(
                &[("alertname", "Down"), ("job", "c"), ("sev", "page")],
                Some(150),
            ),
        ];
        Data::new(
            "team-x",
            &Labels::from_pairs([("alertname", "Down")]),
            &alerts,
            "http://am:9093",
            ts(200),
        )
    }

    #[test]
    fn subject_and_slack_defaults_match_alertmanager() {
        let t = Templates::load(&[]).unwrap();
        let d = data().to_value();
        assert_eq!(
            t.text(r#"{{ template "__subject" . }}"#, &d).unwrap(),
            "[FIRING:2] Down (page)"
        );
        assert_eq!(
            t.text(r#"{{ template "slack.default.fallback" . }}"#, &d)
                .unwrap(),
            "[FIRING:2] Down (page) | http://am:9093/#/alerts?receiver=team-x"
        );
        assert_eq!(
            t.text(r#"{{ template "slack.default.username" . }}"#, &d)
                .unwrap(),
            "Alertmanager"
        );
        assert_eq!(
            t.text(r#"{{ template "__text_alert_list" .Alerts.Resolved }}"#, &d)
                .unwrap(),
            "Labels:\n - alertname = Down\n - job = c\n - sev = page\nAnnotations:\n - summary = boom\nSource: http://prom/graph\n"
        );
        let html = t
            .html(r#"{{ template "email.default.html" . }}"#, &d)
            .unwrap();
        assert!(html.contains("[FIRING:2] Down (page)"), "{html}");
    }

    #[test]
    fn webhook_json_times() {
        assert_eq!(go_time_string(None), "0001-01-01T00:00:00Z");
        let t: Timestamp = "2026-11-26T04:00:00.123456Z".parse().unwrap();
        assert_eq!(go_time_string(Some(t)), "2026-11-26T04:00:00.123456Z");
        let d = data();
        assert_eq!(d.common_labels.len(), 2);
        assert_eq!(d.status, "firing");
    }
}
