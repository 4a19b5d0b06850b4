//! `alertmanager.yml`: the schema, Alertmanager 0.25's defaults and checks, and
//! loading with located errors.

use crate::Error;
use crate::http::{http_config, set_directory};
use crate::matcher::{Matcher, Matchers, compile, parse_matchers};
use crate::receivers::{Problem, Receiver};
use crate::timeinterval::TimeInterval;
use crate::values::{HostPort, is_valid_label_name, label_names, secret_url, url};
use crate::yaml::{FieldPath, Index, boolean, parse, string_map, z};
use ember_config::{Duration, HttpClientConfig, Secret};
use ember_model::MatchType;
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The whole file, with defaults applied and `global` values copied into the
/// integrations that inherit them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Global settings (defaults when the section is absent).
    #[serde(deserialize_with = "z")]
    pub global: GlobalConfig,
    /// The routing tree's root.
    pub route: Option<RouteConfig>,
    /// Inhibition rules.
    #[serde(deserialize_with = "z")]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Receivers.
    #[serde(deserialize_with = "z")]
    pub receivers: Vec<Receiver>,
    /// Template file globs, joined with the config file's directory.
    #[serde(deserialize_with = "z")]
    pub templates: Vec<String>,
    /// Legacy named intervals (same meaning as `time_intervals`).
    #[serde(deserialize_with = "z")]
    pub mute_time_intervals: Vec<NamedTimeInterval>,
    /// Named time intervals.
    #[serde(deserialize_with = "z")]
    pub time_intervals: Vec<NamedTimeInterval>,
    /// Ember's extension: notifications about silences being created and expiring
    /// (prometheus/alertmanager#730). Alertmanager and `amtool check-config` reject
    /// a file that uses it (unknown field).
    pub silence_notifications: Option<SilenceNotificationsConfig>,
}

/// A silence event that `silence_notifications` can report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceEvent {
    /// A silence was created through API v2 (`amtool silence add`, the UI, an
    /// import), including the new silence an update that cannot be made in place
    /// creates.
    Create,
    /// A silence ended: at its end time, or expired early through API v2 (`amtool
    /// silence expire`, the UI), or replaced by an update.
    Expire,
}

impl SilenceEvent {
    /// The name used in the configuration, payloads and templates.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceEvent::Create => "create",
            SilenceEvent::Expire => "expire",
        }
    }
}

/// `silence_notifications:` (Ember's own): where silence events are reported.
///
/// ```yaml
/// silence_notifications:
///   receiver: team-chat          # a receiver of `receivers:`
///   events: [create, expire]     # the default; either may be left out
/// ```
///
/// The key is `events`, not `on`: YAML 1.1 readers (Go's among them) take a bare
/// `on` key for the boolean `true`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceNotificationsConfig {
    /// The receiver whose integrations carry the notifications.
    #[serde(default, deserialize_with = "z")]
    pub receiver: String,
    /// Which events to report (default: both).
    #[serde(default = "all_silence_events", deserialize_with = "silence_events")]
    pub events: Vec<SilenceEvent>,
}

fn all_silence_events() -> Vec<SilenceEvent> {
    vec![SilenceEvent::Create, SilenceEvent::Expire]
}

fn silence_events<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SilenceEvent>, D::Error> {
    let mut v = Option::<Vec<SilenceEvent>>::deserialize(d)?.unwrap_or_default();
    v.sort();
    v.dedup();
    Ok(v)
}

impl SilenceNotificationsConfig {
    /// Whether `event` is reported.
    pub fn reports(&self, event: SilenceEvent) -> bool {
        self.events.contains(&event)
    }
}

/// `global`: defaults for the integrations.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// An alert without `endsAt` is resolved after this long without update (5m).
    pub resolve_timeout: Duration,
    /// HTTP client for integrations without their own.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Default e-mail sender.
    #[serde(deserialize_with = "z")]
    pub smtp_from: String,
    /// Default HELO name (`localhost`).
    #[serde(deserialize_with = "z")]
    pub smtp_hello: String,
    /// Default SMTP server.
    pub smtp_smarthost: HostPort,
    /// Default SMTP user.
    #[serde(deserialize_with = "z")]
    pub smtp_auth_username: String,
    /// Default SMTP password.
    #[serde(deserialize_with = "z")]
    pub smtp_auth_password: Secret,
    /// File holding the default SMTP password.
    #[serde(deserialize_with = "z")]
    pub smtp_auth_password_file: String,
    /// Default CRAM-MD5 secret.
    #[serde(deserialize_with = "z")]
    pub smtp_auth_secret: Secret,
    /// Default PLAIN identity.
    #[serde(deserialize_with = "z")]
    pub smtp_auth_identity: String,
    /// Require STARTTLS by default (true).
    #[serde(deserialize_with = "boolean")]
    pub smtp_require_tls: bool,
    /// Default Slack URL.
    #[serde(deserialize_with = "secret_url")]
    pub slack_api_url: Option<Secret>,
    /// File holding the default Slack URL.
    #[serde(deserialize_with = "z")]
    pub slack_api_url_file: String,
    /// PagerDuty events URL.
    #[serde(deserialize_with = "url")]
    pub pagerduty_url: Option<String>,
    /// Opsgenie API URL.
    #[serde(deserialize_with = "url")]
    pub opsgenie_api_url: Option<String>,
    /// Default Opsgenie key.
    #[serde(deserialize_with = "z")]
    pub opsgenie_api_key: Secret,
    /// File holding the default Opsgenie key.
    #[serde(deserialize_with = "z")]
    pub opsgenie_api_key_file: String,
    /// WeChat API URL.
    #[serde(deserialize_with = "url")]
    pub wechat_api_url: Option<String>,
    /// Default WeChat secret.
    #[serde(deserialize_with = "z")]
    pub wechat_api_secret: Secret,
    /// Default WeChat corporation id.
    #[serde(deserialize_with = "z")]
    pub wechat_api_corp_id: String,
    /// VictorOps API URL.
    #[serde(deserialize_with = "url")]
    pub victorops_api_url: Option<String>,
    /// Default VictorOps key.
    #[serde(deserialize_with = "z")]
    pub victorops_api_key: Secret,
    /// File holding the default VictorOps key.
    #[serde(deserialize_with = "z")]
    pub victorops_api_key_file: String,
    /// Telegram API URL.
    #[serde(deserialize_with = "url")]
    pub telegram_api_url: Option<String>,
    /// Webex API URL.
    #[serde(deserialize_with = "url")]
    pub webex_api_url: Option<String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        let u = |s: &str| Some(s.to_string());
        GlobalConfig {
            resolve_timeout: Duration::from_secs(300),
            http_config: Some(HttpClientConfig::default()),
            smtp_from: String::new(),
            smtp_hello: "localhost".into(),
            smtp_smarthost: HostPort::default(),
            smtp_auth_username: String::new(),
            smtp_auth_password: Secret::default(),
            smtp_auth_password_file: String::new(),
            smtp_auth_secret: Secret::default(),
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            slack_api_url: None,
            slack_api_url_file: String::new(),
            pagerduty_url: u("https://events.pagerduty.com/v2/enqueue"),
            opsgenie_api_url: u("https://api.opsgenie.com/"),
            opsgenie_api_key: Secret::default(),
            opsgenie_api_key_file: String::new(),
            wechat_api_url: u("https://qyapi.weixin.qq.com/cgi-bin/"),
            wechat_api_secret: Secret::default(),
            wechat_api_corp_id: String::new(),
            victorops_api_url: u(
                "https://alert.victorops.com/integrations/generic/20131114/alert/",
            ),
            victorops_api_key: Secret::default(),
            victorops_api_key_file: String::new(),
            telegram_api_url: u("https://api.telegram.org"),
            webex_api_url: u("https://webexapis.com/v1/messages"),
        }
    }
}

/// A node of the routing tree as written (see [`crate::Route`] for the tree with
/// inherited options).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Receiver; empty inherits the parent's.
    #[serde(deserialize_with = "z")]
    pub receiver: String,
    /// Grouping labels as written; `...` groups by all labels.
    #[serde(deserialize_with = "z")]
    pub group_by: Vec<String>,
    /// Legacy equality matchers.
    #[serde(rename = "match", deserialize_with = "string_map")]
    pub match_: BTreeMap<String, String>,
    /// Legacy regex matchers (the pattern as written).
    #[serde(deserialize_with = "match_re")]
    pub match_re: BTreeMap<String, String>,
    /// Matchers, sorted.
    #[serde(deserialize_with = "matchers")]
    pub matchers: Matchers,
    /// Named intervals during which the route is muted.
    #[serde(deserialize_with = "z")]
    pub mute_time_intervals: Vec<String>,
    /// Named intervals outside which the route is muted.
    #[serde(deserialize_with = "z")]
    pub active_time_intervals: Vec<String>,
    /// Go on matching siblings after this route matched.
    #[serde(rename = "continue", deserialize_with = "boolean")]
    pub continue_: bool,
    /// Child routes.
    #[serde(deserialize_with = "z")]
    pub routes: Vec<RouteConfig>,
    /// Wait before the first notification of a new group.
    pub group_wait: Option<Duration>,
    /// Wait between notifications about changes in a group.
    pub group_interval: Option<Duration>,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Option<Duration>,
}

impl RouteConfig {
    /// `group_by` without `...`, or `None` when it names no label (then the parent's
    /// grouping applies, as in Alertmanager, even for an explicit empty list).
    pub fn group_by_labels(&self) -> Option<Vec<String>> {
        let v: Vec<String> = self
            .group_by
            .iter()
            .filter(|l| *l != "...")
            .cloned()
            .collect();
        (!v.is_empty()).then_some(v)
    }

    /// Whether `group_by` is `['...']`.
    pub fn group_by_all(&self) -> bool {
        self.group_by.iter().any(|l| l == "...")
    }

    /// All matchers of the route: `match`, `match_re` (anchored as Alertmanager does,
    /// `^(?:re)$`, which shows in route keys) and `matchers`, sorted.
    pub fn all_matchers(&self) -> Matchers {
        let mut out = Vec::new();
        out.extend(legacy_matchers(&self.match_, &self.match_re));
        out.extend(self.matchers.0.iter().cloned());
        let mut m = Matchers(out);
        m.sort();
        m
    }
}

/// Builds the matchers of legacy `match`/`match_re` maps. A `match_re` value is
/// wrapped as Alertmanager's `Regexp.String()` gives it back (`^(?:re)$`).
pub(crate) fn legacy_matchers(
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (k, v) in eq {
        if let Ok(m) = Matcher::new(MatchType::Equal, k.clone(), v.clone()) {
            out.push(m);
        }
    }
    for (k, v) in re {
        // Compiled once already while loading, so this cannot fail.
        if let Ok(m) = Matcher::new(MatchType::RegexMatch, k.clone(), format!("^(?:{v})$")) {
            out.push(m);
        }
    }
    out
}

fn match_re<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, Option<String>>>::deserialize(d)?.unwrap_or_default();
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        if !is_valid_label_name(&k) {
            return Err(serde::de::Error::custom(format!(
                "invalid label name {k:?}"
            )));
        }
        let Some(v) = v else {
            return Err(serde::de::Error::custom(format!(
                "invalid regexp value for {k:?}"
            )));
        };
        compile(&v).map_err(|e| serde::de::Error::custom(e.to_string()))?;
        out.insert(k, v);
    }
    Ok(out)
}

fn matchers<'de, D: Deserializer<'de>>(d: D) -> Result<Matchers, D::Error> {
    let lines = Option::<Vec<Option<String>>>::deserialize(d)?.unwrap_or_default();
    let mut out = Vec::new();
    for line in lines {
        let ms = parse_matchers(&line.unwrap_or_default())
            .map_err(|e| serde::de::Error::custom(e.to_string()))?;
        out.extend(ms);
    }
    let mut m = Matchers(out);
    m.sort();
    Ok(m)
}

/// An inhibition rule as written (see [`crate::InhibitRule`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitRuleConfig {
    /// Legacy equality matchers for source alerts.
    #[serde(deserialize_with = "string_map")]
    pub source_match: BTreeMap<String, String>,
    /// Legacy regex matchers for source alerts.
    #[serde(deserialize_with = "match_re")]
    pub source_match_re: BTreeMap<String, String>,
    /// Matchers for source alerts.
    #[serde(deserialize_with = "matchers")]
    pub source_matchers: Matchers,
    /// Legacy equality matchers for target alerts.
    #[serde(deserialize_with = "string_map")]
    pub target_match: BTreeMap<String, String>,
    /// Legacy regex matchers for target alerts.
    #[serde(deserialize_with = "match_re")]
    pub target_match_re: BTreeMap<String, String>,
    /// Matchers for target alerts.
    #[serde(deserialize_with = "matchers")]
    pub target_matchers: Matchers,
    /// Labels that must be equal in source and target.
    #[serde(deserialize_with = "label_names")]
    pub equal: Vec<String>,
}

/// A named list of time intervals.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamedTimeInterval {
    /// Name, referenced by routes.
    #[serde(deserialize_with = "z")]
    pub name: String,
    /// The intervals; a time inside any of them is inside.
    #[serde(deserialize_with = "z")]
    pub time_intervals: Vec<TimeInterval>,
}

/// Reads and loads a configuration file. Relative paths (templates, TLS and
/// credential files of `http_config`) are joined with the file's directory.
pub fn load_file(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let mut cfg = load_str(&text, path)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    resolve_paths(&mut cfg, &dir);
    Ok(cfg)
}

/// Loads a configuration document; `file_name` is used in errors only.
pub fn load_str(text: &str, file_name: &Path) -> Result<Config, Error> {
    let index = Index::build(text);
    let cfg: Option<Config> = parse(text, file_name, &index)?;
    let Some(mut cfg) = cfg else {
        return Err(Error::Invalid {
            file: file_name.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message: "no route provided in config".into(),
        });
    };
    let v = Validator {
        file: file_name,
        index: &index,
    };
    v.validate(&mut cfg)?;
    Ok(cfg)
}

fn resolve_paths(cfg: &mut Config, dir: &Path) {
    for t in &mut cfg.templates {
        if !t.is_empty() && Path::new(t.as_str()).is_relative() {
            *t = dir.join(t.as_str()).to_string_lossy().into_owned();
        }
    }
    if let Some(h) = &mut cfg.global.http_config {
        set_directory(h, dir);
    }
    for r in &mut cfg.receivers {
        let hs = r
            .discord_configs
            .iter_mut()
            .map(|c| &mut c.http_config)
            .chain(r.pagerduty_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.slack_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.webhook_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.opsgenie_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.wechat_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.pushover_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.victorops_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.sns_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.telegram_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.webex_configs.iter_mut().map(|c| &mut c.http_config))
            .chain(r.msteams_configs.iter_mut().map(|c| &mut c.http_config));
        for h in hs.flatten() {
            set_directory(h, dir);
        }
    }
}

struct Validator<'a> {
    file: &'a Path,
    index: &'a Index,
}

fn root() -> FieldPath {
    FieldPath::default()
}

impl Validator<'_> {
    fn err(&self, path: &FieldPath, message: impl Into<String>) -> Error {
        let pos = self.index.locate(path);
        Error::Invalid {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            field: path.to_string(),
            message: message.into(),
        }
    }

    fn problem(&self, at: &FieldPath, p: Problem) -> Error {
        let path = match p.field {
            Some(f) => at.key(f),
            None => at.clone(),
        };
        self.err(&path, p.message)
    }

    /// The checks of Go's `UnmarshalYAML` methods and `Load`, in their order as far
    /// as a first error goes: integrations and routes first (they are decoded
    /// before the config-level checks run), then the config as a whole.
    fn validate(&self, c: &mut Config) -> Result<(), Error> {
        for (i, r) in c.receivers.iter_mut().enumerate() {
            self.check_receiver(r, &root().key("receivers").index(i))?;
        }
        if let Some(r) = &c.route {
            self.check_route(r, &root().key("route"))?;
        }
        for (i, r) in c.inhibit_rules.iter().enumerate() {
            let at = root().key("inhibit_rules").index(i);
            for k in r.source_match.keys() {
                if !is_valid_label_name(k) {
                    return Err(
                        self.err(&at.key("source_match"), format!("invalid label name {k:?}"))
                    );
                }
            }
            for k in r.target_match.keys() {
                if !is_valid_label_name(k) {
                    return Err(
                        self.err(&at.key("target_match"), format!("invalid label name {k:?}"))
                    );
                }
            }
        }
        for (list, key, what) in [
            (
                &c.mute_time_intervals,
                "mute_time_intervals",
                "missing name in mute time interval",
            ),
            (
                &c.time_intervals,
                "time_intervals",
                "missing name in time interval",
            ),
        ] {
            for (i, ti) in list.iter().enumerate() {
                if ti.name.is_empty() {
                    return Err(self.err(&root().key(key).index(i), what));
                }
            }
        }
        self.check_config(c)
    }

    fn check_receiver(&self, r: &mut Receiver, at: &FieldPath) -> Result<(), Error> {
        macro_rules! each {
            ($field:ident) => {
                for (j, c) in r.$field.iter_mut().enumerate() {
                    c.check()
                        .map_err(|p| self.problem(&at.key(stringify!($field)).index(j), p))?;
                }
            };
        }
        each!(discord_configs);
        each!(email_configs);
        each!(pagerduty_configs);
        each!(slack_configs);
        each!(webhook_configs);
        each!(opsgenie_configs);
        each!(wechat_configs);
        each!(pushover_configs);
        each!(victorops_configs);
        each!(sns_configs);
        each!(telegram_configs);
        each!(webex_configs);
        each!(msteams_configs);
        if r.name.is_empty() {
            return Err(self.err(at, "missing name in receiver"));
        }
        Ok(())
    }

    fn check_route(&self, r: &RouteConfig, at: &FieldPath) -> Result<(), Error> {
        for (i, child) in r.routes.iter().enumerate() {
            self.check_route(child, &at.key("routes").index(i))?;
        }
        for k in r.match_.keys() {
            if !is_valid_label_name(k) {
                return Err(self.err(&at.key("match"), format!("invalid label name {k:?}")));
            }
        }
        let mut seen = HashSet::new();
        let mut all = false;
        for l in &r.group_by {
            if l == "..." {
                all = true;
            } else if !is_valid_label_name(l) {
                return Err(self.err(
                    &at.key("group_by"),
                    format!("invalid label name {l:?} in group_by list"),
                ));
            }
        }
        let named = r.group_by.iter().filter(|l| *l != "...").count();
        if all && named > 0 {
            return Err(self.err(
                &at.key("group_by"),
                "cannot have wildcard group_by (`...`) and other other labels at the same time",
            ));
        }
        for l in r.group_by.iter().filter(|l| *l != "...") {
            if !seen.insert(l) {
                return Err(self.err(
                    &at.key("group_by"),
                    format!("duplicated label {l:?} in group_by"),
                ));
            }
        }
        if r.group_interval.is_some_and(Duration::is_zero) {
            return Err(self.err(&at.key("group_interval"), "group_interval cannot be zero"));
        }
        if r.repeat_interval.is_some_and(Duration::is_zero) {
            return Err(self.err(&at.key("repeat_interval"), "repeat_interval cannot be zero"));
        }
        Ok(())
    }

    /// Go's `Config.UnmarshalYAML` and `Load`.
    fn check_config(&self, c: &mut Config) -> Result<(), Error> {
        let g = &c.global;
        let gp = root().key("global");
        if g.slack_api_url.is_some() && !g.slack_api_url_file.is_empty() {
            return Err(self.err(
                &gp.key("slack_api_url_file"),
                "at most one of slack_api_url & slack_api_url_file must be configured",
            ));
        }
        if !g.opsgenie_api_key.is_empty() && !g.opsgenie_api_key_file.is_empty() {
            return Err(self.err(
                &gp.key("opsgenie_api_key_file"),
                "at most one of opsgenie_api_key & opsgenie_api_key_file must be configured",
            ));
        }
        if !g.victorops_api_key.is_empty() && !g.victorops_api_key_file.is_empty() {
            return Err(self.err(
                &gp.key("victorops_api_key_file"),
                "at most one of victorops_api_key & victorops_api_key_file must be configured",
            ));
        }
        if !g.smtp_auth_password.is_empty() && !g.smtp_auth_password_file.is_empty() {
            return Err(self.err(
                &gp.key("smtp_auth_password_file"),
                "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
            ));
        }
        let global_http = g.http_config.clone().unwrap_or_default();
        let mut names = HashSet::new();
        for (i, rcv) in c.receivers.iter_mut().enumerate() {
            let at = root().key("receivers").index(i);
            if names.contains(&rcv.name) {
                return Err(self.err(
                    &at.key("name"),
                    format!("notification config name {:?} is not unique", rcv.name),
                ));
            }
            self.inherit(g, &global_http, rcv, &at)?;
            names.insert(rcv.name.clone());
        }
        let Some(route) = &c.route else {
            return Err(self.err(&root(), "no routes provided"));
        };
        let rp = root().key("route");
        if route.receiver.is_empty() {
            return Err(self.err(&rp, "root route must specify a default receiver"));
        }
        if !route.match_.is_empty() || !route.match_re.is_empty() || !route.matchers.is_empty() {
            return Err(self.err(&rp, "root route must not have any matchers"));
        }
        if !route.mute_time_intervals.is_empty() {
            return Err(self.err(
                &rp.key("mute_time_intervals"),
                "root route must not have any mute time intervals",
            ));
        }
        if !route.active_time_intervals.is_empty() {
            return Err(self.err(
                &rp.key("active_time_intervals"),
                "root route must not have any active time intervals",
            ));
        }
        self.check_receivers_used(route, &names, &rp)?;
        let mut ti_names = HashSet::new();
        for (i, mt) in c.mute_time_intervals.iter().enumerate() {
            if !ti_names.insert(mt.name.clone()) {
                return Err(self.err(
                    &root().key("mute_time_intervals").index(i).key("name"),
                    format!("mute time interval {:?} is not unique", mt.name),
                ));
            }
        }
        for (i, ti) in c.time_intervals.iter().enumerate() {
            if !ti_names.insert(ti.name.clone()) {
                return Err(self.err(
                    &root().key("time_intervals").index(i).key("name"),
                    format!("time interval {:?} is not unique", ti.name),
                ));
            }
        }
        self.check_intervals_used(route, &ti_names, &rp)?;
        if route.continue_ {
            return Err(self.err(&rp.key("continue"), "cannot have continue in root route"));
        }
        if let Some(sn) = &c.silence_notifications {
            let at = root().key("silence_notifications");
            if sn.receiver.is_empty() {
                return Err(self.err(&at, "silence_notifications must name a receiver"));
            }
            let Some(rcv) = c.receivers.iter().find(|r| r.name == sn.receiver) else {
                return Err(self.err(
                    &at.key("receiver"),
                    format!(
                        "undefined receiver {:?} used in silence_notifications",
                        sn.receiver
                    ),
                ));
            };
            if !crate::notify::integrations(rcv)
                .iter()
                .any(|(i, _)| i.carries_silences())
            {
                return Err(self.err(
                    &at.key("receiver"),
                    format!(
                        "receiver {:?} has no integration that can carry silence notifications (webhook, email, slack, pushover, sns, telegram, discord, webex, msteams)",
                        sn.receiver
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_receivers_used(
        &self,
        r: &RouteConfig,
        names: &HashSet<String>,
        at: &FieldPath,
    ) -> Result<(), Error> {
        for (i, child) in r.routes.iter().enumerate() {
            self.check_receivers_used(child, names, &at.key("routes").index(i))?;
        }
        if !r.receiver.is_empty() && !names.contains(&r.receiver) {
            return Err(self.err(
                &at.key("receiver"),
                format!("undefined receiver {:?} used in route", r.receiver),
            ));
        }
        Ok(())
    }

    fn check_intervals_used(
        &self,
        r: &RouteConfig,
        names: &HashSet<String>,
        at: &FieldPath,
    ) -> Result<(), Error> {
        for (i, child) in r.routes.iter().enumerate() {
            self.check_intervals_used(child, names, &at.key("routes").index(i))?;
        }
        for (key, list) in [
            ("active_time_intervals", &r.active_time_intervals),
            ("mute_time_intervals", &r.mute_time_intervals),
        ] {
            for (j, n) in list.iter().enumerate() {
                if !names.contains(n) {
                    return Err(self.err(
                        &at.key(key).index(j),
                        format!("undefined time interval {n:?} used in route"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Copies `global` into the integrations that leave a setting out, and reports
    /// what neither gives, as Go's `Config.UnmarshalYAML` does.
    fn inherit(
        &self,
        g: &GlobalConfig,
        global_http: &HttpClientConfig,
        rcv: &mut Receiver,
        at: &FieldPath,
    ) -> Result<(), Error> {
        let http = |h: &mut Option<HttpClientConfig>| {
            if h.is_none() {
                *h = Some(global_http.clone());
            }
        };
        let slash = |u: &mut Option<String>| {
            if let Some(u) = u {
                // Go appends to the URL's path; for a URL with a query or fragment
                // the slash belongs before them.
                let cut = u.find(['?', '#']).unwrap_or(u.len());
                let after_host = u.find("//").map_or(0, |i| i + 2);
                let path_start = u[after_host..cut].find('/').map(|p| p + after_host);
                if path_start.is_none() || !u[..cut].ends_with('/') {
                    u.insert(cut, '/');
                }
            }
        };
        for c in &mut rcv.webhook_configs {
            http(&mut c.http_config);
        }
        for (j, c) in rcv.email_configs.iter_mut().enumerate() {
            let p = at.key("email_configs").index(j);
            inherit_required(&mut c.smarthost, &g.smtp_smarthost, || {
                self.err(&p, "no global SMTP smarthost set")
            })?;
            inherit_required(&mut c.from, &g.smtp_from, || {
                self.err(&p, "no global SMTP from set")
            })?;
            if c.hello.is_empty() {
                c.hello = g.smtp_hello.clone();
            }
            if c.auth_username.is_empty() {
                c.auth_username = g.smtp_auth_username.clone();
            }
            if c.auth_password.is_empty() && c.auth_password_file.is_empty() {
                c.auth_password = g.smtp_auth_password.clone();
                c.auth_password_file = g.smtp_auth_password_file.clone();
            }
            if c.auth_secret.is_empty() {
                c.auth_secret = g.smtp_auth_secret.clone();
            }
            if c.auth_identity.is_empty() {
                c.auth_identity = g.smtp_auth_identity.clone();
            }
            if c.require_tls.is_none() {
                c.require_tls = Some(g.smtp_require_tls);
            }
        }
        for (j, c) in rcv.slack_configs.iter_mut().enumerate() {
            http(&mut c.http_config);
            if c.api_url.is_none() && c.api_url_file.is_empty() {
                if g.slack_api_url.is_none() && g.slack_api_url_file.is_empty() {
                    return Err(self.err(
                        &at.key("slack_configs").index(j),
                        "no global Slack API URL set either inline or in a file",
                    ));
                }
                c.api_url = g.slack_api_url.clone();
                c.api_url_file = g.slack_api_url_file.clone();
            }
        }
        for c in &mut rcv.pushover_configs {
            http(&mut c.http_config);
        }
        for (j, c) in rcv.pagerduty_configs.iter_mut().enumerate() {
            http(&mut c.http_config);
            inherit_required(&mut c.url, &g.pagerduty_url, || {
                self.err(
                    &at.key("pagerduty_configs").index(j),
                    "no global PagerDuty URL set",
                )
            })?;
        }
        for (j, c) in rcv.opsgenie_configs.iter_mut().enumerate() {
            let p = at.key("opsgenie_configs").index(j);
            http(&mut c.http_config);
            inherit_required(&mut c.api_url, &g.opsgenie_api_url, || {
                self.err(&p, "no global OpsGenie URL set")
            })?;
            slash(&mut c.api_url);
            if c.api_key.is_empty() && c.api_key_file.is_empty() {
                if g.opsgenie_api_key.is_empty() && g.opsgenie_api_key_file.is_empty() {
                    return Err(self.err(
                        &p,
                        "no global OpsGenie API Key set either inline or in a file",
                    ));
                }
                c.api_key = g.opsgenie_api_key.clone();
                c.api_key_file = g.opsgenie_api_key_file.clone();
            }
        }
        for (j, c) in rcv.wechat_configs.iter_mut().enumerate() {
            let p = at.key("wechat_configs").index(j);
            http(&mut c.http_config);
            inherit_required(&mut c.api_url, &g.wechat_api_url, || {
                self.err(&p, "no global Wechat URL set")
            })?;
            inherit_required(&mut c.api_secret, &g.wechat_api_secret, || {
                self.err(&p, "no global Wechat ApiSecret set")
            })?;
            inherit_required(&mut c.corp_id, &g.wechat_api_corp_id, || {
                self.err(&p, "no global Wechat CorpID set")
            })?;
            slash(&mut c.api_url);
        }
        for (j, c) in rcv.victorops_configs.iter_mut().enumerate() {
            let p = at.key("victorops_configs").index(j);
            http(&mut c.http_config);
            inherit_required(&mut c.api_url, &g.victorops_api_url, || {
                self.err(&p, "no global VictorOps URL set")
            })?;
            slash(&mut c.api_url);
            if c.api_key.is_empty() && c.api_key_file.is_empty() {
                if g.victorops_api_key.is_empty() && g.victorops_api_key_file.is_empty() {
                    return Err(self.err(&p, "no global VictorOps API Key set"));
                }
                c.api_key = g.victorops_api_key.clone();
                c.api_key_file = g.victorops_api_key_file.clone();
            }
        }
        for c in &mut rcv.sns_configs {
            http(&mut c.http_config);
        }
        for c in &mut rcv.telegram_configs {
            http(&mut c.http_config);
            if c.api_url.is_none() {
                c.api_url = g.telegram_api_url.clone();
            }
        }
        for (j, c) in rcv.discord_configs.iter_mut().enumerate() {
            http(&mut c.http_config);
            if c.webhook_url.is_none() && c.webhook_url_file.is_empty() {
                return Err(self.err(
                    &at.key("discord_configs").index(j),
                    "no discord webhook URL provided",
                ));
            }
        }
        for (j, c) in rcv.webex_configs.iter_mut().enumerate() {
            http(&mut c.http_config);
            if c.api_url.is_none() {
                if g.webex_api_url.is_none() {
                    return Err(
                        self.err(&at.key("webex_configs").index(j), "no global Webex URL set")
                    );
                }
                c.api_url = g.webex_api_url.clone();
            }
        }
        for c in &mut rcv.msteams_configs {
            http(&mut c.http_config);
        }
        Ok(())
    }
}

/// Alertmanager 0.25's template function names, for parse-time checking (Go's
/// parser rejects calls to unknown functions). The functions themselves belong to the
/// notification pipeline.
const TEMPLATE_FUNCS: &[&str] = &[
    "toUpper",
    "toLower",
    "title",
    "join",
    "match",
    "safeHtml",
    "reReplaceAll",
    "stringSlice",
];

impl Config {
    /// Parses the template files the `templates` globs match (a glob matching
    /// nothing is fine, as in Alertmanager), returning how many files were read.
    /// This is the second half of `amtool check-config`.
    pub fn check_templates(&self) -> Result<usize, Error> {
        let mut funcs = ember_template::FuncMap::new();
        for name in TEMPLATE_FUNCS {
            funcs.insert(name, |_: &[ember_template::Value]| {
                Ok(ember_template::Value::Nil)
            });
        }
        let mut tmpl = ember_template::Template::new("");
        tmpl.funcs(funcs);
        let mut count = 0;
        for pattern in &self.templates {
            let paths = glob::glob(pattern)
                .map_err(|e| Error::Value(format!("syntax error in pattern {pattern:?}: {e}")))?;
            for p in paths {
                let p = p.map_err(|e| Error::Value(e.to_string()))?;
                let text = std::fs::read_to_string(&p).map_err(|source| Error::Io {
                    file: p.clone(),
                    source,
                })?;
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                tmpl.parse_named(&name, &text)
                    .map_err(|e| Error::Value(format!("template: {}: {e}", p.display())))?;
                count += 1;
            }
        }
        Ok(count)
    }
}

/// A setting an integration may leave out when `global` has it: [`inherit_required`].
trait Unset {
    fn unset(&self) -> bool;
}

impl Unset for String {
    fn unset(&self) -> bool {
        self.is_empty()
    }
}

impl Unset for Secret {
    fn unset(&self) -> bool {
        self.is_empty()
    }
}

impl Unset for HostPort {
    fn unset(&self) -> bool {
        self.is_empty()
    }
}

impl<T> Unset for Option<T> {
    fn unset(&self) -> bool {
        self.is_none()
    }
}

/// Takes `global`'s value when `own` is unset, and fails with `err` when neither is
/// set (Go's "no global … set").
fn inherit_required<T: Unset + Clone>(
    own: &mut T,
    global: &T,
    err: impl FnOnce() -> Error,
) -> Result<(), Error> {
    if own.unset() {
        if global.unset() {
            return Err(err());
        }
        *own = global.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Result<Config, Error> {
        let text = format!(
            "route:\n  receiver: hook\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:1/hook\n- name: pager\n  pagerduty_configs:\n  - routing_key: k\n- name: empty\n{extra}"
        );
        load_str(&text, Path::new("am.yml"))
    }

    #[test]
    fn silence_notifications_block() {
        // Absent: None, as before.
        assert!(load("").unwrap().silence_notifications.is_none());
        // Events default to both.
        let c = load("silence_notifications:\n  receiver: hook\n").unwrap();
        let sn = c.silence_notifications.unwrap();
        assert_eq!(sn.receiver, "hook");
        assert_eq!(sn.events, [SilenceEvent::Create, SilenceEvent::Expire]);
        assert!(sn.reports(SilenceEvent::Expire));
        let c =
            load("silence_notifications:\n  receiver: hook\n  events: [expire, expire]\n").unwrap();
        let sn = c.silence_notifications.unwrap();
        assert_eq!(sn.events, [SilenceEvent::Expire]);
        assert!(!sn.reports(SilenceEvent::Create));
    }

    #[test]
    fn silence_notifications_stay_strict() {
        let err = |extra: &str| load(extra).unwrap_err().to_string();
        let e = err("silence_notifications:\n  receiver: hook\n  on: [create]\n");
        assert!(e.contains("on"), "{e}");
        let e = err("silence_notifications:\n  receiver: hook\n  events: [update]\n");
        assert!(e.contains("update"), "{e}");
        let e = err("silence_notifications:\n  receiver: nope\n");
        assert!(
            e.contains("undefined receiver \"nope\" used in silence_notifications"),
            "{e}"
        );
        assert!(e.contains("silence_notifications.receiver"), "{e}");
        let e = err("silence_notifications:\n  events: [create]\n");
        assert!(e.contains("must name a receiver"), "{e}");
        // Incident tools do not carry silence notifications; nor does a receiver
        // without integrations.
        for r in ["pager", "empty"] {
            let e = err(&format!("silence_notifications:\n  receiver: {r}\n"));
            assert!(e.contains("no integration that can carry"), "{e}");
        }
        // Other unknown top-level fields are still errors.
        let e = err("silence_notification:\n  receiver: hook\n");
        assert!(e.contains("silence_notification"), "{e}");
    }
}
