//! The receivers beyond webhook, Slack and e-mail: their configuration (valid and
//! invalid, with located errors), the exact texts of the default templates, the
//! requests they send (against a local double that records them), and which
//! failures are retried.

use super::*;
use crate::alert::Alert;
use ember_model::Labels;
use jiff::Timestamp;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::path::Path;

const GROUP_KEY: &str = "{}:{alertname=\"Down\"}";

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn alert(job: &str, resolved: bool) -> Alert {
    Alert {
        labels: Labels::from_pairs([("alertname", "Down"), ("job", job), ("sev", "page")]),
        annotations: Labels::from_pairs([("summary", "boom")]),
        starts_at: ts(100),
        ends_at: resolved.then(|| ts(150)),
        generator_url: "http://prom/graph".into(),
        updated_at: ts(100),
        timeout: false,
    }
}

/// One firing (`a`) and one resolved (`b`) alert of group `alertname="Down"`.
fn mixed() -> Data {
    data(&[alert("a", false), alert("b", true)])
}

fn resolved() -> Data {
    data(&[alert("b", true)])
}

fn data(alerts: &[Alert]) -> Data {
    Data::new(
        "team-x",
        &Labels::from_pairs([("alertname", "Down")]),
        alerts,
        "http://am:9093",
        ts(200),
    )
}

/// `__text_alert_list` of one alert.
fn list(job: &str) -> String {
    format!(
        "Labels:\n - alertname = Down\n - job = {job}\n - sev = page\nAnnotations:\n - summary = boom\nSource: http://prom/graph\n"
    )
}

const SUBJECT: &str = "[FIRING:1] Down (page)";
const SOURCE: &str = "http://am:9093/#/alerts?receiver=team-x";

/// Opsgenie's, VictorOps's and WeChat's body for [`mixed`].
fn tight() -> String {
    format!(
        "boom\nAlerts Firing:\n{}\nAlerts Resolved:\n{}",
        list("a"),
        list("b")
    )
}

/// Telegram's and Discord's body for [`mixed`].
fn alerts_spaced() -> String {
    format!(
        "\n\nAlerts Firing:\n{}\n\n\nAlerts Resolved:\n{}\n\n",
        list("a"),
        list("b")
    )
}

/// Pushover's, SNS's and Webex's body for [`mixed`].
fn spaced() -> String {
    format!(
        "boom\n\nAlerts Firing:\n{}\n\n\nAlerts Resolved:\n{}\n\n",
        list("a"),
        list("b")
    )
}

fn markdown(job: &str) -> String {
    format!(
        "\nLabels:\n  - alertname = Down\n  - job = {job}\n  - sev = page\n\nAnnotations:\n  - summary = boom\n\nSource: http://prom/graph\n\n"
    )
}

#[test]
fn default_texts_are_alertmanagers() {
    let t = Templates::load(&[]).unwrap();
    let v = mixed().to_value();
    let run = |name: &str| {
        t.text(&format!("{{{{ template \"{name}\" . }}}}"), &v)
            .unwrap()
    };
    assert_eq!(run("opsgenie.default.description"), tight());
    assert_eq!(run("victorops.default.state_message"), tight());
    assert_eq!(
        run("wechat.default.message"),
        format!("{SUBJECT}\n{}\nAlertmanagerUrl:\n{SOURCE}", tight())
    );
    assert_eq!(run("pushover.default.message"), spaced());
    assert_eq!(run("sns.default.message"), spaced());
    assert_eq!(run("webex.default.message"), spaced());
    assert_eq!(run("telegram.default.message"), alerts_spaced());
    assert_eq!(run("discord.default.message"), alerts_spaced());
    assert_eq!(
        run("msteams.default.text"),
        format!(
            "\n\n# Alerts Firing:\n{}\n\n\n# Alerts Resolved:\n{}\n\n",
            markdown("a"),
            markdown("b")
        )
    );
    for name in [
        "pagerduty.default.description",
        "opsgenie.default.message",
        "victorops.default.entity_display_name",
        "pushover.default.title",
        "sns.default.subject",
        "discord.default.title",
        "msteams.default.title",
        "msteams.default.summary",
    ] {
        assert_eq!(run(name), SUBJECT, "{name}");
    }
    for name in [
        "pagerduty.default.clientURL",
        "opsgenie.default.source",
        "pushover.default.url",
    ] {
        assert_eq!(run(name), SOURCE, "{name}");
    }
    assert_eq!(run("pagerduty.default.client"), "Alertmanager");
    // Only resolved alerts: no firing part, the separators stay.
    let v = resolved().to_value();
    let run = |name: &str| {
        t.text(&format!("{{{{ template \"{name}\" . }}}}"), &v)
            .unwrap()
    };
    assert_eq!(
        run("opsgenie.default.description"),
        format!("boom\n\nAlerts Resolved:\n{}", list("b"))
    );
    assert_eq!(
        run("telegram.default.message"),
        format!("\n\n\nAlerts Resolved:\n{}\n\n", list("b"))
    );
}

#[test]
fn json_and_queries_are_encoded_as_go_does() {
    assert_eq!(
        go_json(&json!({"a": "<b> & \u{2028}\u{8}\u{c}\u{1}\"\\/"})),
        b"{\"a\":\"\\u003cb\\u003e \\u0026 \\u2028\\u0008\\u000c\\u0001\\\"\\\\/\"}\n".to_vec()
    );
    assert_eq!(query_escape("a b/c~*é"), "a+b%2Fc~%2A%C3%A9");
    assert_eq!(
        encode_query(&[("z".into(), "1".into()), ("a".into(), "x y".into())]),
        "a=x+y&z=1"
    );
    assert_eq!(
        key_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// A request as the double saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn query(&self) -> BTreeMap<String, String> {
        let q = self.target.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Access tokens handed out by the double's WeChat `gettoken`.
static WX_TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What the double answers, by path: `/s<code>` answers that status; `sns` paths
/// answer SNS's XML (`sns400`: an error); `slack-bad` and `tg-bad` Slack's and
/// Telegram's `"ok": false`; anything else 200 with a Telegram-style JSON `ok`.
fn answer(path: &str) -> (u16, &'static str, String) {
    let json = "application/json";
    if let Some(code) = path
        .split('/')
        .find_map(|seg| seg.strip_prefix('s').and_then(|c| c.parse::<u16>().ok()))
    {
        let body = if code == 400 {
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}"#
        } else {
            "failed"
        };
        return (code, json, body.into());
    }
    if path.contains("sns400") {
        return (
            400,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid parameter: TopicArn</Message></Error></ErrorResponse>".into(),
        );
    }
    if path.contains("sns") {
        return (
            200,
            "text/xml",
            "<PublishResponse><PublishResult><MessageId>1</MessageId></PublishResult></PublishResponse>".into(),
        );
    }
    if path.contains("slack-bad") {
        return (
            200,
            json,
            r#"{"ok":false,"error":"channel_not_found"}"#.into(),
        );
    }
    if path.contains("slack-text") {
        return (200, "text/plain", "ok".into());
    }
    // WeChat: `wx-notoken` refuses a token; `wx-expired` and `wx-bad` refuse the
    // message (expired token, unknown user); `wx-503` answers 503 and `wx-text`
    // not JSON to a message.
    if path.starts_with("/wx") {
        let body = if path.ends_with("/gettoken") {
            if path.contains("wx-notoken") {
                r#"{"errcode":40001,"errmsg":"invalid credential"}"#.to_string()
            } else {
                // A new token each time, so that a test sees which one was used.
                let n = WX_TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!(
                    r#"{{"errcode":0,"errmsg":"ok","access_token":"tok-{n}","expires_in":7200}}"#
                )
            }
        } else if path.contains("wx-expired") {
            r#"{"errcode":42001,"errmsg":"access_token expired"}"#.to_string()
        } else if path.contains("wx-bad") {
            r#"{"errcode":81013,"errmsg":"user & party & tag all invalid"}"#.to_string()
        } else if path.contains("wx-503") {
            return (503, "text/plain", "busy".into());
        } else if path.contains("wx-text") {
            return (200, "text/plain", "ok".into());
        } else {
            r#"{"errcode":0,"errmsg":"ok","invaliduser":""}"#.to_string()
        };
        return (200, json, body);
    }
    if path.contains("tg-bad") {
        return (
            400,
            json,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#.into(),
        );
    }
    (
        200,
        json,
        r#"{"ok":true,"result":{"message_id":1,"chat":{"id":1}}}"#.into(),
    )
}

/// A local receiver double recording every request; its base URL.
async fn double() -> (String, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let l = l.clone();
            async move {
                let target = uri
                    .path_and_query()
                    .map_or("/".to_string(), |p| p.to_string());
                let (status, ct, answer) = answer(uri.path());
                l.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    target,
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body: body.to_vec(),
                });
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::CONTENT_TYPE, ct)],
                    answer,
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

/// The first receiver's integrations of a configuration whose receivers are
/// `receivers` (YAML, indented as list items under `receivers:`).
fn integrations_of(receivers: &str) -> Vec<Integration> {
    let yaml = format!("route:\n  receiver: r\nreceivers:\n{receivers}");
    let cfg = crate::load_str(&yaml, Path::new("am.yml")).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    integrations(&cfg.receivers[0])
        .into_iter()
        .map(|(i, _)| i)
        .collect()
}

fn one(receivers: &str) -> Integration {
    integrations_of(receivers).remove(0)
}

fn load_err(yaml: &str) -> crate::Error {
    match crate::load_str(yaml, Path::new("am.yml")) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e,
    }
}

struct Env {
    templates: Templates,
    client: HttpClient,
}

impl Env {
    fn new() -> Env {
        Env {
            templates: Templates::load(&[]).unwrap(),
            client: HttpClient::new(),
        }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            group_key: GROUP_KEY,
            templates: &self.templates,
            client: &self.client,
            global_http: None,
        }
    }

    async fn send(&self, i: &Integration, d: Data) -> Result<(), NotifyError> {
        notify(i, &self.ctx(), d).await
    }
}

fn taken(log: &Log) -> Vec<Seen> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_v2_and_v1_events() {
    let (base, log) = double().await;
    let env = Env::new();
    let i = one(&format!(
        r#"- name: r
  pagerduty_configs:
  - routing_key: 'rk-{{{{ .CommonLabels.sev }}}}'
    url: {base}/pd
    class: cls
    component: '{{{{ .GroupLabels.alertname }}}}'
    group: grp
    images:
    - {{src: 'http://img/{{{{ .Status }}}}', alt: a, href: h}}
    - {{src: '', alt: dropped}}
    links:
    - {{href: 'http://runbook', text: rb}}
    - {{href: '', text: dropped}}
    details:
      extra: '{{{{ len .Alerts }}}}'
"#
    ));
    env.send(&i, mixed()).await.unwrap();
    env.send(&i, resolved()).await.unwrap();
    let seen = taken(&log);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/pd");
    assert_eq!(seen[0].header("content-type"), "application/json");
    assert!(
        seen[0]
            .header("user-agent")
            .starts_with("Ember-Alertmanager/")
    );
    let hash = key_hash(GROUP_KEY);
    assert_eq!(
        seen[0].json(),
        json!({
            "routing_key": "rk-page",
            "dedup_key": hash,
            "event_action": "trigger",
            "payload": {
                "summary": SUBJECT,
                "source": "Alertmanager",
                "severity": "error",
                "class": "cls",
                "component": "Down",
                "group": "grp",
                "custom_details": {
                    "extra": "2",
                    "firing": list("a"),
                    "resolved": list("b"),
                    "num_firing": "1",
                    "num_resolved": "1",
                },
            },
            "client": "Alertmanager",
            "client_url": SOURCE,
            "images": [{"src": "http://img/firing", "alt": "a", "href": "h"}],
            "links": [{"href": "http://runbook", "text": "rb"}],
        })
    );
    let r = seen[1].json();
    assert_eq!(r["event_action"], "resolve");
    assert_eq!(r["dedup_key"], hash);
    assert_eq!(r["payload"]["summary"], "[RESOLVED] Down (b page)");
    assert_eq!(r["images"][0]["src"], "http://img/resolved");

    // v1: the service key, the fixed endpoint (here the double), `payload: null`,
    // no client on resolve.
    let Integration::Pagerduty(c) =
        one("- name: r\n  pagerduty_configs:\n  - service_key: sk\n    severity: warning\n")
    else {
        unreachable!()
    };
    let url = format!("{base}/v1");
    pagerduty::notify(&c, &env.ctx(), &mixed(), Some(&url))
        .await
        .unwrap();
    pagerduty::notify(&c, &env.ctx(), &resolved(), Some(&url))
        .await
        .unwrap();
    let seen = taken(&log);
    let body = String::from_utf8(seen[0].body.clone()).unwrap();
    assert!(
        body.starts_with(&format!(
            "{{\"service_key\":\"sk\",\"incident_key\":\"{hash}\",\"event_type\":\"trigger\",\"description\":\"{SUBJECT}\",\"event_action\":\"\",\"payload\":null,\"client\":\"Alertmanager\","
        )),
        "{body}"
    );
    assert!(body.ends_with("}\n"));
    let details = &seen[0].json()["details"];
    assert_eq!(details["num_firing"], "1");
    assert_eq!(details["firing"], list("a"));
    let r = seen[1].json();
    assert_eq!(r["event_type"], "resolve");
    assert!(r.get("client").is_none() && r.get("client_url").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_retries_rate_limits_and_5xx_only() {
    let (base, _log) = double().await;
    let env = Env::new();
    let v2 = |path: &str| {
        one(&format!(
            "- name: r\n  pagerduty_configs:\n  - routing_key: k\n    url: {base}/{path}\n"
        ))
    };
    for (path, retry) in [
        ("s500", true),
        ("s429", true),
        ("s403", false),
        ("s404", false),
    ] {
        let e = env.send(&v2(path), mixed()).await.unwrap_err();
        assert_eq!(e.retry, retry, "v2 {path}: {}", e.message);
    }
    let e = env.send(&v2("s400"), mixed()).await.unwrap_err();
    assert!(!e.retry);
    assert_eq!(
        e.message,
        "unexpected status code 400: Event object is invalid: Length of 'routing_key' is incorrect"
    );
    let Integration::Pagerduty(c) = one("- name: r\n  pagerduty_configs:\n  - service_key: k\n")
    else {
        unreachable!()
    };
    for (path, retry) in [("s403", true), ("s429", false), ("s502", true)] {
        let url = format!("{base}/{path}");
        let e = pagerduty::notify(&c, &env.ctx(), &mixed(), Some(&url))
            .await
            .unwrap_err();
        assert_eq!(e.retry, retry, "v1 {path}: {}", e.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_creates_updates_and_closes() {
    let (base, log) = double().await;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "secret-key\n").unwrap();
    let i = one(&format!(
        r#"- name: r
  opsgenie_configs:
  - api_key_file: {}
    api_url: {base}/og
    update_alerts: true
    responders:
    - {{name: 'ops,dev', type: teams}}
    - {{username: u@example.org, type: User}}
    - {{id: '{{{{ .CommonLabels.nothing }}}}', type: '{{{{ .CommonLabels.nothing }}}}'}}
    tags: 'a,b, c'
    actions: x
    note: n
    priority: P2
    entity: '{{{{ .GroupLabels.alertname }}}}'
    details:
      team: '{{{{ .CommonLabels.sev }}}}'
"#,
        key.display()
    ));
    env.send(&i, mixed()).await.unwrap();
    env.send(&i, resolved()).await.unwrap();
    let seen = taken(&log);
    let hash = key_hash(GROUP_KEY);
    let calls: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.target.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/og/v2/alerts".to_string()),
            (
                "PUT",
                format!("/og/v2/alerts/{hash}/message?identifierType=alias")
            ),
            (
                "PUT",
                format!("/og/v2/alerts/{hash}/description?identifierType=alias")
            ),
            (
                "POST",
                format!("/og/v2/alerts/{hash}/close?identifierType=alias")
            ),
        ]
        .iter()
        .map(|(m, t)| (*m, t.as_str()))
        .collect::<Vec<_>>()
    );
    for s in &seen {
        assert_eq!(s.header("authorization"), "GenieKey secret-key");
        assert_eq!(s.header("content-type"), "application/json");
    }
    assert_eq!(
        seen[0].json(),
        json!({
            "alias": hash,
            "message": SUBJECT,
            "description": tight(),
            "details": {"alertname": "Down", "sev": "page", "team": "page"},
            "source": SOURCE,
            "responders": [
                {"name": "ops", "type": "team"},
                {"name": "dev", "type": "team"},
                {"username": "u@example.org", "type": "user"},
            ],
            "tags": ["a", "b", " c"],
            "note": "n",
            "priority": "P2",
            "entity": "Down",
            "actions": ["x"],
        })
    );
    assert_eq!(seen[1].json(), json!({"message": SUBJECT}));
    assert_eq!(seen[2].json(), json!({"description": tight()}));
    assert_eq!(seen[3].json(), json!({"source": SOURCE}));

    // Retried: 429 and 5xx; not: other 4xx.
    let og = |path: &str| {
        one(&format!(
            "- name: r\n  opsgenie_configs:\n  - api_key: k\n    api_url: {base}/{path}/\n"
        ))
    };
    for (path, retry) in [("s429", true), ("s503", true), ("s422", false)] {
        let e = env.send(&og(path), mixed()).await.unwrap_err();
        assert_eq!(e.retry, retry, "{path}: {}", e.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_messages() {
    let (base, log) = double().await;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("tok");
    std::fs::write(&tok, "123:abc\n").unwrap();
    let i = one(&format!(
        "- name: r\n  telegram_configs:\n  - api_url: {base}/tg\n    bot_token_file: {}\n    chat_id: -100\n    disable_notifications: true\n",
        tok.display()
    ));
    env.send(&i, mixed()).await.unwrap();
    let seen = taken(&log);
    assert_eq!(seen[0].target, "/tg/bot123:abc/sendMessage");
    assert_eq!(seen[0].header("content-type"), "application/json");
    assert_eq!(
        seen[0].json(),
        json!({
            "chat_id": "-100",
            "disable_notification": "true",
            "disable_web_page_preview": "true",
            "parse_mode": "HTML",
            "text": alerts_spaced(),
        })
    );
    // HTML (the default) escapes the data; other modes do not.
    let d = data(&[Alert {
        labels: Labels::from_pairs([("alertname", "Down"), ("job", "x<y&z")]),
        ..alert("a", false)
    }]);
    for (mode, want) in [("HTML", "x&lt;y&amp;z"), ("Markdown", "x<y&z")] {
        let i = one(&format!(
            "- name: r\n  telegram_configs:\n  - api_url: {base}/tg\n    bot_token: t\n    chat_id: 1\n    parse_mode: {mode}\n    message: '{{{{ .CommonLabels.job }}}}'\n"
        ));
        env.send(&i, d.clone()).await.unwrap();
        let s = taken(&log).remove(0);
        assert_eq!(s.json()["text"], want);
        assert_eq!(s.json()["parse_mode"], mode);
        assert!(s.json().get("disable_notification").is_none());
    }
    // Telegram's `ok: false` fails, and, as in Alertmanager, is retried.
    let i = one(&format!(
        "- name: r\n  telegram_configs:\n  - api_url: {base}/tg-bad\n    bot_token: t\n    chat_id: 1\n"
    ));
    let e = env.send(&i, mixed()).await.unwrap_err();
    assert!(e.retry);
    assert_eq!(e.message, "telegram: Bad Request: chat not found (400)");
}

/// The WeChat message body as Go encodes it: `text`, the addressees that are
/// set, `safe`, `msgtype`, `markdown`.
fn wechat_body(text: &str, to: &str, msgtype: &str, markdown: &str) -> String {
    let q = |s: &str| {
        String::from_utf8(go_json(s))
            .unwrap()
            .trim_end()
            .to_string()
    };
    format!(
        r#"{{"text":{{"content":{}}},{to}"safe":"0","msgtype":"{msgtype}","markdown":{{"content":{}}}}}"#,
        q(text),
        q(markdown)
    ) + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_token_and_messages() {
    let (base, log) = double().await;
    let env = Env::new();
    // `api_url` keeps its own query for the message, not for the token; the
    // secret and corp id are templates, query-escaped as Go does.
    let i = one(&format!(
        r#"- name: r
  wechat_configs:
  - api_url: '{base}/wx/cgi-bin?lang=zh_CN'
    api_secret: 'se cret/+'
    corp_id: '{{{{ .CommonLabels.sev }}}}-corp'
    to_user: '{{{{ .GroupLabels.alertname }}}}|bob'
    to_tag: '<t&1>'
    agent_id: '1000002'
"#
    ));
    let Integration::Wechat(c, token) = &i else {
        panic!("{i:?}")
    };
    assert!(
        !i.send_resolved(),
        "WeChat's send_resolved defaults to false"
    );
    assert!(!i.carries_silences());
    assert_eq!(c.message_type, "text");
    env.send(&i, mixed()).await.unwrap();
    let seen = taken(&log);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        "/wx/cgi-bin/gettoken?corpid=page-corp&corpsecret=se+cret%2F%2B"
    );
    assert_eq!(seen[0].header("content-type"), "");
    assert_eq!(seen[1].method, "POST");
    let tok = seen[1].query()["access_token"].clone();
    assert!(tok.starts_with("tok-"), "{}", seen[1].target);
    assert_eq!(
        seen[1].target,
        format!("/wx/cgi-bin/message/send?access_token={tok}&lang=zh_CN")
    );
    assert_eq!(seen[1].header("content-type"), "application/json");
    let message = format!("{SUBJECT}\n{}\nAlertmanagerUrl:\n{SOURCE}", tight());
    assert_eq!(
        String::from_utf8(seen[1].body.clone()).unwrap(),
        wechat_body(
            &message,
            r#""touser":"Down|bob","totag":"\u003ct\u00261\u003e","agentid":"1000002","#,
            "text",
            ""
        )
    );

    // The token is kept: the next message goes without fetching one.
    env.send(&i, mixed()).await.unwrap();
    let seen = taken(&log);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query()["access_token"], tok);
    // Two hours on, a new one is fetched.
    token.age(Duration::from_secs(2 * 3600 + 1));
    env.send(&i, mixed()).await.unwrap();
    let seen = taken(&log);
    assert_eq!(seen.len(), 2);
    assert!(seen[0].target.contains("/gettoken?"));
    let tok2 = seen[1].query()["access_token"].clone();
    assert_ne!(tok2, tok);

    // Markdown: the message in `markdown`, `text` empty; empty addressees left out.
    let md = one(&format!(
        "- name: r\n  wechat_configs:\n  - api_url: {base}/wx/\n    api_secret: s\n    corp_id: c\n    message_type: markdown\n    message: '**{{{{ .Status }}}}**'\n"
    ));
    env.send(&md, mixed()).await.unwrap();
    let seen = taken(&log);
    assert_eq!(seen[0].target, "/wx/gettoken?corpid=c&corpsecret=s");
    assert_eq!(
        String::from_utf8(seen[1].body.clone()).unwrap(),
        wechat_body("", "", "markdown", "**firing**")
    );

    let wx = |path: &str| {
        one(&format!(
            "- name: r\n  wechat_configs:\n  - api_url: {base}/{path}/\n    api_secret: s\n    corp_id: corp-1\n"
        ))
    };
    // An expired token (42001) is retried and forgotten: the retry fetches anew.
    let i = wx("wx-expired");
    let e = env.send(&i, mixed()).await.unwrap_err();
    assert!(e.retry);
    assert_eq!(e.message, "wechat: access_token expired (errcode 42001)");
    let e = env.send(&i, mixed()).await.unwrap_err();
    assert!(e.retry);
    let seen = taken(&log);
    let gets = seen.iter().filter(|s| s.method == "GET").count();
    assert_eq!((seen.len(), gets), (4, 2), "{seen:#?}");
    // Other error codes are final; a status other than 200 or an answer that is
    // not JSON is retried.
    let e = env.send(&wx("wx-bad"), mixed()).await.unwrap_err();
    assert!(!e.retry);
    assert_eq!(
        e.message,
        "wechat: user & party & tag all invalid (errcode 81013)"
    );
    let e = env.send(&wx("wx-503"), mixed()).await.unwrap_err();
    assert!(e.retry);
    assert_eq!(e.message, "unexpected status code 503");
    let e = env.send(&wx("wx-text"), mixed()).await.unwrap_err();
    assert!(e.retry, "{}", e.message);
    // No token: final, naming the corp id; nothing is sent.
    taken(&log);
    let e = env.send(&wx("wx-notoken"), mixed()).await.unwrap_err();
    assert!(!e.retry);
    assert_eq!(e.message, "invalid APISecret for CorpID: corp-1");
    assert_eq!(taken(&log).len(), 1);
    // A template error is final, and costs no token.
    let bad = one(&format!(
        "- name: r\n  wechat_configs:\n  - api_url: {base}/wx/\n    api_secret: s\n    corp_id: c\n    to_party: '{{{{ .Nope.x }}}}'\n"
    ));
    let e = env.send(&bad, mixed()).await.unwrap_err();
    assert!(!e.retry);
    assert!(taken(&log).is_empty());
}

/// `global` supplies WeChat's URL, secret and corp id; the URL gets its slash.
#[test]
fn wechat_globals_are_inherited() {
    let cfg = crate::load_str(
        r#"global:
  wechat_api_url: http://wx.example/cgi
  wechat_api_secret: gs
  wechat_api_corp_id: gc
route:
  receiver: r
receivers:
- name: r
  wechat_configs: [{}, {api_secret: own, corp_id: mine, api_url: 'http://own.example/x?a=1'}]
"#,
        Path::new("am.yml"),
    )
    .unwrap();
    let w = &cfg.receivers[0].wechat_configs;
    assert_eq!(w[0].api_url.as_deref(), Some("http://wx.example/cgi/"));
    assert_eq!(w[0].api_secret.expose(), "gs");
    assert_eq!(w[0].corp_id, "gc");
    assert_eq!(w[1].api_url.as_deref(), Some("http://own.example/x/?a=1"));
    assert_eq!(w[1].api_secret.expose(), "own");
    assert_eq!(w[1].corp_id, "mine");
    // Alertmanager's default URL when `global` names none.
    let cfg = crate::load_str(
        "global:\n  wechat_api_secret: s\n  wechat_api_corp_id: c\nroute:\n  receiver: r\nreceivers:\n- name: r\n  wechat_configs: [{}]\n",
        Path::new("am.yml"),
    )
    .unwrap();
    assert_eq!(
        cfg.receivers[0].wechat_configs[0].api_url.as_deref(),
        Some("https://qyapi.weixin.qq.com/cgi-bin/")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_webex_and_teams_payloads() {
    let (base, log) = double().await;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("url");
    std::fs::write(&url_file, format!("{base}/dc-file\n")).unwrap();
    let long = "x".repeat(300);
    let i = integrations_of(&format!(
        r#"- name: r
  discord_configs:
  - webhook_url: {base}/dc
  - webhook_url_file: {}
    title: {long}
  webex_configs:
  - api_url: {base}/wx
    room_id: r1
    http_config:
      authorization:
        credentials: tok
  msteams_configs:
  - webhook_url: {base}/teams
"#,
        url_file.display()
    ));
    for x in &i {
        env.send(x, mixed()).await.unwrap();
    }
    env.send(&i[0], resolved()).await.unwrap();
    let seen = taken(&log);
    let mut by: BTreeMap<&str, &Seen> = BTreeMap::new();
    for s in &seen {
        by.entry(s.target.as_str()).or_insert(s);
    }
    assert_eq!(
        by["/dc"].json(),
        json!({"content": "", "embeds": [{"title": SUBJECT, "description": alerts_spaced(), "color": 0x992D22}]})
    );
    let title = by["/dc-file"].json()["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(title, format!("{}…", "x".repeat(255)));
    assert_eq!(seen.last().unwrap().json()["embeds"][0]["color"], 0x2ECC71);
    assert_eq!(
        by["/wx"].json(),
        json!({"markdown": spaced(), "roomId": "r1"})
    );
    assert_eq!(by["/wx"].header("authorization"), "Bearer tok");
    assert_eq!(
        by["/teams"].json(),
        json!({
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": SUBJECT,
            "summary": SUBJECT,
            "text": format!("\n\n# Alerts Firing:\n{}\n\n\n# Alerts Resolved:\n{}\n\n", markdown("a"), markdown("b")),
            "themeColor": "8C1A1A",
        })
    );
    // Only 5xx is retried.
    for (path, retry) in [("s500", true), ("s429", false), ("s400", false)] {
        let i = one(&format!(
            "- name: r\n  discord_configs:\n  - webhook_url: {base}/{path}\n"
        ));
        assert_eq!(env.send(&i, mixed()).await.unwrap_err().retry, retry);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushover_parameters() {
    let (base, log) = double().await;
    let env = Env::new();
    let Integration::Pushover(c) = one(
        "- name: r\n  pushover_configs:\n  - user_key: uk\n    token: tk\n    sound: siren\n    retry: 90s\n",
    ) else {
        unreachable!()
    };
    let endpoint = format!("{base}/po");
    pushover::notify(&c, &env.ctx(), &mixed(), &endpoint)
        .await
        .unwrap();
    let mut html = c.clone();
    html.html = true;
    html.message = "  ".into();
    pushover::notify(&html, &env.ctx(), &resolved(), &endpoint)
        .await
        .unwrap();
    let seen = taken(&log);
    assert_eq!(seen[0].header("content-type"), "text/plain");
    assert!(seen[0].body.is_empty());
    let keys: Vec<&str> = seen[0]
        .target
        .split(['?', '&'])
        .skip(1)
        .map(|p| p.split('=').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "expire",
            "message",
            "priority",
            "retry",
            "sound",
            "title",
            "token",
            "url",
            "url_title",
            "user"
        ]
    );
    let q = seen[0].query();
    let want: BTreeMap<String, String> = [
        ("token", "tk"),
        ("user", "uk"),
        ("title", SUBJECT),
        ("message", spaced().trim()),
        ("url", SOURCE),
        ("url_title", ""),
        ("priority", "2"),
        ("retry", "90"),
        ("expire", "3600"),
        ("sound", "siren"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(q, want);
    let q = seen[1].query();
    assert_eq!(q["html"], "1");
    assert_eq!(q["message"], "(no details)");
    assert_eq!(q["priority"], "0");
    // The configuration: both keys required.
    let e = load_err(
        "route:\n  receiver: r\nreceivers:\n- name: r\n  pushover_configs:\n  - token: t\n",
    );
    assert_eq!(e.message(), "missing user key in Pushover config");
    assert_eq!(e.field(), Some("receivers[0].pushover_configs[0].user_key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victorops_events() {
    let (base, log) = double().await;
    let env = Env::new();
    let i = one(&format!(
        r#"- name: r
  victorops_configs:
  - api_key: k
    api_url: {base}/vo
    routing_key: 'rt-{{{{ .CommonLabels.sev }}}}'
    custom_fields:
      team: '{{{{ .GroupLabels.alertname }}}}'
"#
    ));
    let all = integrations_of(&format!(
        "- name: r\n  victorops_configs:\n  - api_key: k\n    api_url: {base}/vo/\n    routing_key: w\n    message_type: WARNING\n  - api_key: k\n    api_url: {base}/vo/\n    routing_key: f\n    message_type: FOO\n"
    ));
    env.send(&i, mixed()).await.unwrap();
    env.send(&i, resolved()).await.unwrap();
    for x in &all {
        env.send(x, mixed()).await.unwrap();
    }
    let seen = taken(&log);
    // The URL gets its slash from the configuration.
    assert_eq!(seen[0].target, "/vo/k/rt-page");
    assert_eq!(
        seen[0].json(),
        json!({
            "entity_display_name": SUBJECT,
            "entity_id": key_hash(GROUP_KEY),
            "message_type": "CRITICAL",
            "monitoring_tool": "Alertmanager",
            "state_message": tight(),
            "team": "Down",
        })
    );
    assert_eq!(seen[1].json()["message_type"], "RECOVERY");
    assert_eq!(seen[2].json()["message_type"], "WARNING");
    assert_eq!(seen[3].json()["message_type"], "CRITICAL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_publish_is_signed() {
    let (base, log) = double().await;
    let env = Env::new();
    let i = one(&format!(
        r#"- name: r
  sns_configs:
  - api_url: {base}/sns
    sigv4: {{region: eu-west-1, access_key: AK, secret_key: SK}}
    topic_arn: arn:aws:sns:eu-west-1:1:alerts.fifo
    attributes:
      sev: '{{{{ .CommonLabels.sev }}}}'
"#
    ));
    env.send(&i, mixed()).await.unwrap();
    let s = taken(&log).remove(0);
    assert_eq!(s.target, "/sns");
    assert_eq!(
        s.header("content-type"),
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    let params: BTreeMap<String, String> = form_urlencoded::parse(&s.body).into_owned().collect();
    let hash = key_hash(GROUP_KEY);
    let want: BTreeMap<String, String> = [
        ("Action", "Publish"),
        ("Version", "2010-03-31"),
        ("TopicArn", "arn:aws:sns:eu-west-1:1:alerts.fifo"),
        ("MessageDeduplicationId", hash.as_str()),
        ("MessageGroupId", hash.as_str()),
        ("Message", spaced().as_str()),
        ("Subject", SUBJECT),
        ("MessageAttributes.entry.1.Name", "sev"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "page"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(params, want);
    // The signature is over what arrived.
    let date = s.header("x-amz-date");
    let auth = sns::authorization(
        &sns::ToSign {
            method: "POST",
            host: s.header("host"),
            path: "/sns",
            query: "",
            headers: &[
                ("content-type", s.header("content-type")),
                ("x-amz-date", date),
            ],
            body: &s.body,
        },
        &sns::Credentials {
            access_key: "AK".into(),
            secret_key: "SK".into(),
            session_token: String::new(),
        },
        "eu-west-1",
        "sns",
        date,
    );
    assert_eq!(s.header("authorization"), auth);
    assert!(auth.starts_with(&format!(
        "AWS4-HMAC-SHA256 Credential=AK/{}/eu-west-1/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=",
        &date[..8]
    )));
    // SNS's errors are reported; 4xx is final.
    let i = one(&format!(
        "- name: r\n  sns_configs:\n  - api_url: {base}/sns400\n    sigv4: {{region: r, access_key: AK, secret_key: SK}}\n    phone_number: '+1555'\n"
    ));
    let e = env.send(&i, mixed()).await.unwrap_err();
    assert!(!e.retry);
    assert_eq!(
        e.message,
        "unexpected status code 400: InvalidParameter: Invalid parameter: TopicArn"
    );
    // What Ember cannot do is said at notification time.
    let i = one(
        "- name: r\n  sns_configs:\n  - topic_arn: t\n    sigv4: {region: r, role_arn: 'arn:aws:iam::1:role/x'}\n",
    );
    let e = env.send(&i, mixed()).await.unwrap_err();
    assert!(e.message.contains("role_arn"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_chat_post_message() {
    let (base, log) = double().await;
    let env = Env::new();
    let slack = |path: &str| {
        one(&format!(
            "- name: r\n  slack_configs:\n  - api_url: {base}/{path}/chat.postMessage\n    channel: '#ops'\n    http_config:\n      authorization:\n        credentials: xoxb-1\n"
        ))
    };
    env.send(&slack("slack-ok"), mixed()).await.unwrap();
    let s = taken(&log).remove(0);
    assert_eq!(s.header("authorization"), "Bearer xoxb-1");
    assert_eq!(s.json()["channel"], "#ops");
    let e = env.send(&slack("slack-bad"), mixed()).await.unwrap_err();
    assert!(!e.retry);
    assert_eq!(
        e.message,
        "channel \"#ops\": error response from Slack: channel_not_found"
    );
    // Incoming webhooks answer text, which is fine.
    env.send(&slack("slack-text"), mixed()).await.unwrap();
    // 5xx is retried, 429 is not (as for webhooks, Alertmanager 0.25).
    assert!(env.send(&slack("s503"), mixed()).await.unwrap_err().retry);
    assert!(!env.send(&slack("s429"), mixed()).await.unwrap_err().retry);
    let hook = one(&format!(
        "- name: r\n  webhook_configs:\n  - url: {base}/s429\n"
    ));
    let e = env.send(&hook, mixed()).await.unwrap_err();
    assert!(!e.retry);
}

/// Each receiver's checks: the message is Alertmanager's, located at the
/// integration's line and field.
#[test]
fn receiver_configuration_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "pagerduty_configs:\n  - severity: x",
            "receivers[0].pagerduty_configs[0].routing_key",
            "missing service or routing key in PagerDuty config",
        ),
        (
            "pagerduty_configs:\n  - routing_key: a\n    routing_key_file: /f",
            "receivers[0].pagerduty_configs[0].routing_key",
            "at most one of routing_key & routing_key_file must be configured",
        ),
        (
            "opsgenie_configs:\n  - api_key: a\n    api_key_file: /f",
            "receivers[0].opsgenie_configs[0].api_key",
            "at most one of api_key & api_key_file must be configured",
        ),
        (
            "opsgenie_configs:\n  - message: m",
            "receivers[0].opsgenie_configs[0]",
            "no global OpsGenie API Key set either inline or in a file",
        ),
        (
            "opsgenie_configs:\n  - api_key: a\n    responders: [{type: team}]",
            "receivers[0].opsgenie_configs[0].responders",
            "opsGenieConfig responder {   team} has to have at least one of id, username or name specified",
        ),
        (
            "telegram_configs:\n  - chat_id: 1",
            "receivers[0].telegram_configs[0].bot_token",
            "missing bot_token on telegram_config",
        ),
        (
            "telegram_configs:\n  - bot_token: t\n    bot_token_file: /f\n    chat_id: 1",
            "receivers[0].telegram_configs[0].bot_token",
            "at most one of bot_token & bot_token_file must be configured",
        ),
        (
            "telegram_configs:\n  - bot_token: t",
            "receivers[0].telegram_configs[0].chat_id",
            "missing chat_id on telegram_config",
        ),
        (
            "telegram_configs:\n  - bot_token: t\n    chat_id: 1\n    parse_mode: md",
            "receivers[0].telegram_configs[0].parse_mode",
            "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
        ),
        (
            "discord_configs:\n  - title: t",
            "receivers[0].discord_configs[0]",
            "no discord webhook URL provided",
        ),
        (
            "discord_configs:\n  - webhook_url: http://x\n    webhook_url_file: /f",
            "receivers[0].discord_configs[0].webhook_url",
            "at most one of webhook_url & webhook_url_file must be configured",
        ),
        (
            "webex_configs:\n  - http_config: {authorization: {credentials: c}}",
            "receivers[0].webex_configs[0].room_id",
            "missing room_id on webex_config",
        ),
        (
            "webex_configs:\n  - room_id: r",
            "receivers[0].webex_configs[0].http_config",
            "missing webex_configs.http_config.authorization",
        ),
        (
            "msteams_configs:\n  - title: t",
            "receivers[0].msteams_configs[0].webhook_url",
            "one of webhook_url or webhook_url_file must be configured",
        ),
        (
            "wechat_configs:\n  - corp_id: c",
            "receivers[0].wechat_configs[0]",
            "no global Wechat ApiSecret set",
        ),
        (
            "wechat_configs:\n  - api_secret: s",
            "receivers[0].wechat_configs[0]",
            "no global Wechat CorpID set",
        ),
        (
            "wechat_configs:\n  - {api_secret: s, corp_id: c, message_type: html}",
            "receivers[0].wechat_configs[0].message_type",
            "weChat message type \"html\" does not match valid options ^(text|markdown)$",
        ),
        (
            "pushover_configs:\n  - user_key: u",
            "receivers[0].pushover_configs[0].token",
            "missing token in Pushover config",
        ),
        (
            "victorops_configs:\n  - api_key: k",
            "receivers[0].victorops_configs[0].routing_key",
            "missing Routing key in VictorOps config",
        ),
        (
            "victorops_configs:\n  - routing_key: r",
            "receivers[0].victorops_configs[0]",
            "no global VictorOps API Key set",
        ),
        (
            "victorops_configs:\n  - api_key: k\n    routing_key: r\n    custom_fields: {entity_id: x}",
            "receivers[0].victorops_configs[0].custom_fields",
            "victorOps config contains custom field entity_id which cannot be used as it conflicts with the fixed/static fields",
        ),
        (
            "sns_configs:\n  - subject: s",
            "receivers[0].sns_configs[0].topic_arn",
            "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
        ),
        (
            "sns_configs:\n  - topic_arn: t\n    sigv4: {access_key: a}",
            "receivers[0].sns_configs[0].sigv4",
            "must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config",
        ),
    ];
    for (body, field, message) in cases {
        let yaml = format!("route:\n  receiver: r\nreceivers:\n- name: r\n  {body}\n");
        let e = load_err(&yaml);
        assert_eq!(e.message(), *message, "{yaml}");
        assert_eq!(e.field(), Some(*field), "{yaml}");
        // The integration starts on line 6; its fields below.
        assert!(e.line().is_some_and(|l| l >= 6), "{e}");
        assert!(e.to_string().starts_with("am.yml:"), "{e}");
    }
    // Unknown fields are refused (Go's strict decoding), with their line.
    let e = load_err(
        "route:\n  receiver: r\nreceivers:\n- name: r\n  telegram_configs:\n  - bot_token: t\n    chat_id: 1\n    chat: 2\n",
    );
    assert_eq!(e.line(), Some(8), "{e}");
}

/// `global` supplies URLs and keys; the integration's own win.
#[test]
fn global_defaults_are_inherited() {
    let cfg = crate::load_str(
        r#"global:
  pagerduty_url: http://pd.example/enqueue
  opsgenie_api_url: http://og.example/api
  opsgenie_api_key: ogk
  telegram_api_url: http://tg.example
  webex_api_url: http://wx.example/messages
  victorops_api_url: http://vo.example/alert
  victorops_api_key: vok
route:
  receiver: r
receivers:
- name: r
  pagerduty_configs: [{routing_key: k}]
  opsgenie_configs: [{}, {api_key: own, api_url: 'http://own.example/x?a=1'}]
  telegram_configs: [{bot_token: t, chat_id: 1}]
  webex_configs: [{room_id: r, http_config: {authorization: {credentials: c}}}]
  victorops_configs: [{routing_key: r}]
"#,
        Path::new("am.yml"),
    )
    .unwrap();
    let r = &cfg.receivers[0];
    assert_eq!(
        r.pagerduty_configs[0].url.as_deref(),
        Some("http://pd.example/enqueue")
    );
    assert_eq!(r.pagerduty_configs[0].source, r.pagerduty_configs[0].client);
    assert_eq!(r.pagerduty_configs[0].details.len(), 4);
    assert_eq!(
        r.opsgenie_configs[0].api_url.as_deref(),
        Some("http://og.example/api/")
    );
    assert_eq!(r.opsgenie_configs[0].api_key.expose(), "ogk");
    assert_eq!(r.opsgenie_configs[1].api_key.expose(), "own");
    assert_eq!(
        r.opsgenie_configs[1].api_url.as_deref(),
        Some("http://own.example/x/?a=1")
    );
    assert_eq!(
        opsgenie_endpoint_for_test(r.opsgenie_configs[1].api_url.as_deref().unwrap()),
        "http://own.example/x/v2/alerts/h/close?a=1&identifierType=alias"
    );
    assert_eq!(
        r.telegram_configs[0].api_url.as_deref(),
        Some("http://tg.example")
    );
    assert_eq!(r.telegram_configs[0].parse_mode, "HTML");
    assert_eq!(
        r.webex_configs[0].api_url.as_deref(),
        Some("http://wx.example/messages")
    );
    assert_eq!(
        r.victorops_configs[0].api_url.as_deref(),
        Some("http://vo.example/alert/")
    );
    assert_eq!(r.victorops_configs[0].api_key.expose(), "vok");
    // Alertmanager's own defaults when `global` says nothing.
    let cfg = crate::load_str(
        "route:\n  receiver: r\nreceivers:\n- name: r\n  pagerduty_configs: [{service_key: k}]\n  telegram_configs: [{bot_token: t, chat_id: 1}]\n  webex_configs: [{room_id: r, http_config: {authorization: {credentials: c}}}]\n  opsgenie_configs: [{api_key: k}]\n  victorops_configs: [{api_key: k, routing_key: r}]\n",
        Path::new("am.yml"),
    )
    .unwrap();
    let r = &cfg.receivers[0];
    assert_eq!(
        r.pagerduty_configs[0].url.as_deref(),
        Some("https://events.pagerduty.com/v2/enqueue")
    );
    assert_eq!(
        r.telegram_configs[0].api_url.as_deref(),
        Some("https://api.telegram.org")
    );
    assert_eq!(
        r.webex_configs[0].api_url.as_deref(),
        Some("https://webexapis.com/v1/messages")
    );
    assert_eq!(
        r.opsgenie_configs[0].api_url.as_deref(),
        Some("https://api.opsgenie.com/")
    );
    assert_eq!(
        r.victorops_configs[0].api_url.as_deref(),
        Some("https://alert.victorops.com/integrations/generic/20131114/alert/")
    );
    // The two keys of `global` may not both be set.
    let e = load_err(
        "global:\n  opsgenie_api_key: a\n  opsgenie_api_key_file: /f\nroute:\n  receiver: r\nreceivers:\n- name: r\n",
    );
    assert_eq!(e.field(), Some("global.opsgenie_api_key_file"));
    assert_eq!(e.line(), Some(3));
}

fn opsgenie_endpoint_for_test(api_url: &str) -> String {
    opsgenie::endpoint(api_url, "v2/alerts/h/close", true)
}

/// Opsgenie's updates are PUTs, which go their own way (one connection each):
/// over https with the integration's CA, with its authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_updates_over_https() {
    use ember_discovery::testing::{Pki, tls_front};
    let pki = Pki::new("ember");
    let (base, log) = double().await;
    let plain: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let front = tls_front(plain, pki.server_config(false)).await;
    let mut http = HttpClientConfig::default();
    http.tls_config.ca = pki.ca.clone();
    http.http_headers.insert(
        "X-Tenant".into(),
        ember_config::HttpHeader {
            values: vec!["t1".into()],
            ..Default::default()
        },
    );
    let c = OpsGenieConfig {
        api_key: ember_config::Secret::new("k"),
        api_url: Some(format!("https://{front}/og/")),
        update_alerts: true,
        http_config: Some(http),
        ..OpsGenieConfig::default()
    };
    let env = Env::new();
    opsgenie::notify(&c, &env.ctx(), &mixed()).await.unwrap();
    let seen = taken(&log);
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["POST", "PUT", "PUT"]);
    for s in &seen {
        assert_eq!(s.header("authorization"), "GenieKey k");
        assert_eq!(s.header("x-tenant"), "t1");
    }
    assert_eq!(seen[2].json(), json!({"description": tight()}));
    // Without the CA the certificate is unknown: a failure that is retried.
    let mut bare = c.clone();
    bare.http_config = None;
    let e = opsgenie::notify(&bare, &env.ctx(), &mixed())
        .await
        .unwrap_err();
    assert!(e.retry, "{}", e.message);
}

/// A silence notification's data: silence `8a7c…` on `instance="db-1"` and
/// `job=~"mysql.*"`, 100s to 7300s, by alice, at 200s.
fn silence_data(event: crate::config::SilenceEvent) -> Data {
    use ember_model::MatchType;
    let s = crate::silence::Silence {
        id: "8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a".into(),
        matchers: vec![
            crate::Matcher::new(MatchType::Equal, "instance", "db-1").unwrap(),
            crate::Matcher::new(MatchType::RegexMatch, "job", "mysql.*").unwrap(),
        ],
        starts_at: ts(100),
        ends_at: ts(7300),
        updated_at: ts(100),
        created_by: "alice".into(),
        comment: "maintenance <window> & more".into(),
    };
    Data::for_silence(
        "team-x",
        crate::tmpl::SilenceData::new(event, &s, ts(200), "http://am:9093"),
        "http://am:9093",
    )
}

const SILENCE_URL: &str = "http://am:9093/#/silences/8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a";

fn silence_text(what: &str) -> String {
    format!(
        "Silence 8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a {what}.\nMatchers: instance=\"db-1\", job=~\"mysql.*\"\nCreated by: alice\nComment: maintenance <window> & more\nStarts at: 1970-01-01 00:01:40 UTC\nEnds at: 1970-01-01 02:01:40 UTC\nState: active\nLink: {SILENCE_URL}"
    )
}

#[test]
fn silence_texts_of_the_default_templates() {
    use crate::config::SilenceEvent;
    let t = Templates::load(&[]).unwrap();
    let v = silence_data(SilenceEvent::Create).to_value();
    let run = |name: &str| {
        t.text(&format!("{{{{ template \"{name}\" . }}}}"), &v)
            .unwrap()
    };
    let subject = r#"[SILENCE CREATED] instance="db-1" job=~"mysql.*" (by alice)"#;
    for name in [
        "__subject",
        "slack.default.title",
        "email.default.subject",
        "pushover.default.title",
        "sns.default.subject",
        "discord.default.title",
        "msteams.default.title",
    ] {
        assert_eq!(run(name), subject, "{name}");
    }
    assert_eq!(run("slack.default.titlelink"), SILENCE_URL);
    assert_eq!(run("pushover.default.url"), SILENCE_URL);
    let text = silence_text("was created");
    assert_eq!(run("slack.default.text"), text);
    assert_eq!(run("msteams.default.text"), text);
    for name in [
        "pushover.default.message",
        "sns.default.message",
        "webex.default.message",
    ] {
        assert_eq!(run(name), format!("{text}\n"), "{name}");
    }
    for name in ["telegram.default.message", "discord.default.message"] {
        assert_eq!(run(name), format!("\n{text}\n"), "{name}");
    }
    let html = t
        .html(r#"{{ template "email.default.html" . }}"#, &v)
        .unwrap();
    assert!(
        html.contains("maintenance &lt;window&gt; &amp; more") && html.contains("Open the silence"),
        "{html}"
    );
    // Expired: the other words.
    let v = silence_data(SilenceEvent::Expire).to_value();
    assert_eq!(
        t.text(r#"{{ template "__subject" . }}"#, &v).unwrap(),
        r#"[SILENCE EXPIRED] instance="db-1" job=~"mysql.*" (by alice)"#
    );
    // Alert notifications see no `.Silence`.
    assert_eq!(
        t.text(
            r#"{{ if .Silence }}set{{ else }}nil{{ end }}"#,
            &mixed().to_value()
        )
        .unwrap(),
        "nil"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_notification_payloads() {
    use crate::config::SilenceEvent;
    let (base, log) = double().await;
    let env = Env::new();
    let i = integrations_of(&format!(
        "- name: r\n  webhook_configs:\n  - url: {base}/hook\n  slack_configs:\n  - api_url: {base}/slack\n  discord_configs:\n  - webhook_url: {base}/dc\n"
    ));
    assert!(i.iter().all(Integration::carries_silences));
    for x in &i {
        env.send(x, silence_data(SilenceEvent::Expire))
            .await
            .unwrap();
    }
    let seen = taken(&log);
    // The webhook: Ember's silence body, told apart by its version and type,
    // encoded as Go would.
    assert_eq!(seen[0].target, "/hook");
    assert_eq!(
        String::from_utf8(seen[0].body.clone()).unwrap(),
        concat!(
            r#"{"version":"ember-silence-1","type":"silence","event":"expire","receiver":"team-x","externalURL":"http://am:9093","#,
            r#""silence":{"id":"8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a","status":{"state":"active"},"updatedAt":"1970-01-01T00:01:40.000Z","#,
            r#""comment":"maintenance \u003cwindow\u003e \u0026 more","createdBy":"alice","endsAt":"1970-01-01T02:01:40.000Z","#,
            r#""matchers":[{"isEqual":true,"isRegex":false,"name":"instance","value":"db-1"},{"isEqual":true,"isRegex":true,"name":"job","value":"mysql.*"}],"#,
            r#""startsAt":"1970-01-01T00:01:40.000Z","url":"http://am:9093/#/silences/8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a"}}"#,
            "\n"
        )
    );
    let subject = r#"[SILENCE EXPIRED] instance="db-1" job=~"mysql.*" (by alice)"#;
    let text = silence_text("has expired");
    let slack = seen[1].json();
    assert_eq!(seen[1].target, "/slack");
    assert_eq!(slack["attachments"][0]["title"], subject);
    assert_eq!(slack["attachments"][0]["title_link"], SILENCE_URL);
    assert_eq!(slack["attachments"][0]["text"], text);
    assert_eq!(slack["attachments"][0]["color"], "good");
    let dc = seen[2].json();
    assert_eq!(dc["embeds"][0]["title"], subject);
    assert_eq!(dc["embeds"][0]["description"], format!("\n{text}\n"));
    // Incident tools do not carry them.
    let pd = one("- name: r\n  pagerduty_configs:\n  - routing_key: k\n");
    assert!(!pd.carries_silences());
}
