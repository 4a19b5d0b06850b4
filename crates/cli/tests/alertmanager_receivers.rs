//! The paging and chat receivers of `ember alertmanager` against Debian's
//! `prometheus-alertmanager` 0.25, the oracle: both run the same configuration,
//! whose PagerDuty (Events API v2), Opsgenie (with `update_alerts`), VictorOps,
//! Telegram, Discord, Webex, Slack (`chat.postMessage` with a bot token) and WeChat
//! (text with `send_resolved`, markdown without; the capture server hands out
//! access tokens) integrations all point at one local capture server; the same
//! alerts are posted to both, fired, partly resolved, then resolved; the requests
//! each side made must be the same: method, path and query (WeChat's token fetch
//! and the token it then sends), the headers that matter (`Content-Type`,
//! `Authorization`) and the body, byte for byte (Ember encodes JSON as Go does).
//!
//! Normalised before comparing: the side's path prefix (`/real/`, `/ember/`), and
//! nothing else — the external URL is set by flag, deduplication keys are hashes of
//! the same group key, and these payloads carry no times. The `User-Agent` differs
//! legitimately (`Alertmanager/0.25.0`, Telegram's library sends Go's default, Ember
//! sends its own) and is not compared.
//!
//! Not compared with 0.25, for want of an oracle: Pushover and PagerDuty's Events
//! API v1 (0.25 sends them to fixed `https://` endpoints, which a test cannot
//! capture without intercepting TLS), SNS (needs AWS), and Microsoft Teams (added in
//! 0.26): Teams is checked against its documented `MessageCard` payload, the others
//! by the crate's unit tests. Where `prometheus-alertmanager` is missing, Ember's
//! side still runs and is checked alone, unless `EMBER_REQUIRE_INTEROP=1` makes the
//! missing binary a failure.

mod common;

use common::{Am, free_port, have_binary, request, start_alertmanager};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A request as the capture server saw it.
#[derive(Clone, Debug, PartialEq)]
struct Captured {
    method: String,
    /// Path and query.
    target: String,
    /// Header names in lower case.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Captured {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

type Log = Arc<Mutex<Vec<Captured>>>;

/// What a receiver's API answers: Telegram's and Slack's Web API JSON (their
/// `ok` is checked), PagerDuty's and Opsgenie's 202, WeChat's token and `errcode`
/// 0, others an empty 200.
fn answer(target: &str) -> (&'static str, &'static str, &'static str) {
    if target.contains("/gettoken?") {
        return (
            "200 OK",
            "application/json",
            r#"{"errcode":0,"errmsg":"ok","access_token":"wx-token/1+2","expires_in":7200}"#,
        );
    }
    if target.contains("/wechat") {
        return (
            "200 OK",
            "application/json",
            r#"{"errcode":0,"errmsg":"ok","invaliduser":""}"#,
        );
    }
    if target.contains("/telegram/") {
        return (
            "200 OK",
            "application/json",
            r#"{"ok":true,"result":{"message_id":7,"date":0,"chat":{"id":-100,"type":"group"},"text":""}}"#,
        );
    }
    if target.contains("/slack/") {
        return ("200 OK", "application/json", r#"{"ok":true}"#);
    }
    if target.contains("/pagerduty") {
        return (
            "202 Accepted",
            "application/json",
            r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#,
        );
    }
    if target.contains("/opsgenie/") {
        return (
            "202 Accepted",
            "application/json",
            r#"{"result":"Request will be processed","took":0.1,"requestId":"x"}"#,
        );
    }
    ("200 OK", "text/plain", "")
}

/// Reads one HTTP/1.1 request (fixed length or chunked body); `None` at the end
/// of the connection.
fn read_request(r: &mut impl BufRead) -> Option<Captured> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let len = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        body = vec![0; len];
        r.read_exact(&mut body).ok()?;
    }
    Some(Captured {
        method,
        target,
        headers,
        body,
    })
}

/// A capture server: records every request, answers as [`answer`] says.
fn capture_server() -> (u16, Log) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let g = log.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                while let Some(req) = read_request(&mut r) {
                    let (status, ct, body) = answer(&req.target);
                    g.lock().unwrap().push(req);
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    (port, log)
}

/// The configuration of one side: every integration under `/{side}/…` of the
/// capture server. Ember's side also has a Teams integration (no 0.25 oracle).
fn config(port: u16, side: &str) -> String {
    let base = format!("http://127.0.0.1:{port}/{side}");
    let teams = if side == "ember" {
        format!("  msteams_configs:\n  - webhook_url: {base}/msteams\n")
    } else {
        String::new()
    };
    format!(
        r#"route:
  receiver: all
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
- name: all
  pagerduty_configs:
  - routing_key: 'rk-{{{{ .CommonLabels.team }}}}'
    url: {base}/pagerduty
    severity: '{{{{ .CommonLabels.severity }}}}'
    class: disk
    component: '{{{{ .GroupLabels.alertname }}}}'
    images:
    - src: 'http://img.example/{{{{ .Status }}}}.png'
      alt: graph
      href: http://grafana.example
    links:
    - href: http://runbook.example/disk
      text: Runbook
    details:
      team: '{{{{ .CommonLabels.team }}}}'
  opsgenie_configs:
  - api_key: og-key
    api_url: {base}/opsgenie
    update_alerts: true
    responders:
    - name: 'ops,dev'
      type: teams
    - username: oncall@example.org
      type: user
    tags: 'disk,{{{{ .CommonLabels.team }}}}'
    priority: P2
    note: 'see {{{{ .ExternalURL }}}}'
    entity: '{{{{ .GroupLabels.alertname }}}}'
    details:
      origin: ember-test
  victorops_configs:
  - api_key: vo-key
    api_url: {base}/victorops/
    routing_key: 'team-{{{{ .CommonLabels.team }}}}'
    custom_fields:
      runbook: http://runbook.example/disk
  telegram_configs:
  - bot_token: '123:abc'
    chat_id: -100
    api_url: {base}/telegram
  discord_configs:
  - webhook_url: {base}/discord
  webex_configs:
  - api_url: {base}/webex
    room_id: room-1
    http_config:
      authorization:
        credentials: webex-token
  wechat_configs:
  - api_url: '{base}/wechat/cgi-bin?lang=zh_CN'
    api_secret: 'wx secret/+&'
    corp_id: 'corp-{{{{ .CommonLabels.team }}}}'
    to_user: '{{{{ .CommonLabels.team }}}}|bob'
    to_party: '2'
    agent_id: '1000002'
    send_resolved: true
  - api_url: {base}/wechatmd
    api_secret: md-secret
    corp_id: md-corp
    to_tag: 'a&b'
    message_type: markdown
    message: '**{{{{ .Status }}}}** {{{{ .CommonAnnotations.description }}}}'
  slack_configs:
  - api_url: {base}/slack/api/chat.postMessage
    channel: '#ops'
    send_resolved: true
    http_config:
      authorization:
        credentials: xoxb-bot-token
{teams}"#
    )
}

fn rfc3339(offset_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let ms = now.as_millis() as i64 + offset_secs * 1000;
    ember_model::time::format_rfc3339_millis(ms - ms.rem_euclid(1000))
}

/// Two disk alerts of one group; `resolved` lists the instances already over.
fn alerts(start: &str, resolved: &[&str]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = ["a", "b"]
        .iter()
        .map(|i| {
            let end = if resolved.contains(i) {
                rfc3339(-1)
            } else {
                rfc3339(3600)
            };
            serde_json::json!({
                "labels": {"alertname": "DiskFull", "instance": i, "severity": "critical", "team": "infra"},
                "annotations": {
                    "summary": format!("Disk full on {i}"),
                    "description": "<b>95%</b> used & rising",
                },
                "generatorURL": "http://prom.example/graph?g0.expr=disk&g0.tab=1",
                "startsAt": start,
                "endsAt": end,
            })
        })
        .collect();
    serde_json::to_vec(&list).unwrap()
}

fn post(port: u16, body: &[u8]) {
    let (code, out) = request(
        port,
        "POST",
        "/api/v2/alerts",
        &[("Content-Type", "application/json")],
        body,
    )
    .expect("post alerts");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&out));
}

/// The requests of one side, by integration (the first path segment after the
/// side), in arrival order, with the side's prefix removed.
fn by_integration(log: &[Captured], side: &str) -> BTreeMap<String, Vec<Captured>> {
    let prefix = format!("/{side}/");
    let mut out: BTreeMap<String, Vec<Captured>> = BTreeMap::new();
    for c in log {
        let Some(rest) = c.target.strip_prefix(&prefix) else {
            continue;
        };
        let name = rest.split(['/', '?']).next().unwrap_or("").to_string();
        let mut c = c.clone();
        c.target = format!("/{rest}");
        out.entry(name).or_default().push(c);
    }
    out
}

#[test]
fn receivers_send_what_alertmanager_sends() {
    let real = have_binary("prometheus-alertmanager");
    let dir = tempfile::tempdir().unwrap();
    let (port, log) = capture_server();
    let url = ["--web.external-url=http://am.example:9093"];
    let mut sides = vec![("ember", free_port())];
    if real {
        sides.push(("real", free_port()));
    }
    let _running: Vec<_> = sides
        .iter()
        .map(|(side, p)| {
            let which = if *side == "ember" {
                Am::Ember
            } else {
                Am::Debian
            };
            start_alertmanager(which, dir.path(), &config(port, side), *p, &url)
        })
        .collect();

    // Fire both alerts, resolve one, then the other: three notifications each.
    let start = rfc3339(-30);
    for resolved in [&[][..], &["b"], &["a", "b"]] {
        let body = alerts(&start, resolved);
        for (_, p) in &sides {
            post(*p, &body);
        }
        std::thread::sleep(Duration::from_millis(3500));
    }
    let log = log.lock().unwrap().clone();
    let ember = by_integration(&log, "ember");

    // Ember alone: every integration was notified thrice (Opsgenie: create and
    // two updates twice, then close; WeChat: a token, then the messages — the
    // markdown one, without `send_resolved`, only the first: the later firing set
    // is a subset of what it was told), and Teams got its documented card.
    let counts: BTreeMap<&str, usize> = ember.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    let want: BTreeMap<&str, usize> = [
        ("discord", 3),
        ("msteams", 3),
        ("opsgenie", 7),
        ("pagerduty", 3),
        ("slack", 3),
        ("telegram", 3),
        ("victorops", 3),
        ("webex", 3),
        ("wechat", 4),
        ("wechatmd", 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, want, "Ember's requests: {ember:#?}");
    let teams: Vec<serde_json::Value> = ember["msteams"].iter().map(Captured::json).collect();
    for (card, color) in teams.iter().zip(["8C1A1A", "8C1A1A", "2DC72D"]) {
        assert_eq!(card["@context"], "http://schema.org/extensions");
        assert_eq!(card["type"], "MessageCard");
        assert_eq!(card["themeColor"], color);
        assert_eq!(card["title"], card["summary"]);
    }
    assert_eq!(teams[0]["title"], "[FIRING:2] DiskFull (critical infra)");
    assert!(
        teams[1]["text"]
            .as_str()
            .unwrap()
            .contains("# Alerts Resolved:\n\nLabels:\n  - alertname = DiskFull\n  - instance = b"),
        "{}",
        teams[1]["text"]
    );
    assert_eq!(teams[2]["title"], "[RESOLVED] DiskFull (critical infra)");
    // WeChat: one token fetch (templated, query-escaped), then the token in every
    // message, beside `api_url`'s own query.
    let wx = &ember["wechat"];
    assert_eq!(wx[0].method, "GET");
    assert_eq!(
        wx[0].target,
        "/wechat/cgi-bin/gettoken?corpid=corp-infra&corpsecret=wx+secret%2F%2B%26"
    );
    for r in &wx[1..] {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.target,
            "/wechat/cgi-bin/message/send?access_token=wx-token%2F1%2B2&lang=zh_CN"
        );
    }
    assert_eq!(wx[1].json()["touser"], "infra|bob");
    assert_eq!(
        ember["wechatmd"][1].json()["markdown"]["content"],
        "**firing** <b>95%</b> used & rising"
    );

    if !real {
        return;
    }
    let theirs = by_integration(&log, "real");
    let mut compared = 0;
    for (name, reqs) in &theirs {
        let ours = ember.get(name).cloned().unwrap_or_default();
        assert_eq!(
            reqs.len(),
            ours.len(),
            "{name}: Alertmanager made {} requests, Ember {}",
            reqs.len(),
            ours.len()
        );
        for (i, (t, o)) in reqs.iter().zip(&ours).enumerate() {
            let what = format!("{name} request {i} (left: Alertmanager, right: Ember)");
            assert_eq!(t.method, o.method, "{what}: method");
            assert_eq!(t.target, o.target, "{what}: path");
            for h in ["content-type", "authorization"] {
                assert_eq!(t.headers.get(h), o.headers.get(h), "{what}: {h}");
            }
            assert_eq!(t.json(), o.json(), "{what}: JSON body");
            assert_eq!(
                String::from_utf8_lossy(&t.body),
                String::from_utf8_lossy(&o.body),
                "{what}: body bytes"
            );
            compared += 1;
        }
    }
    let names: Vec<&String> = theirs.keys().collect();
    assert_eq!(
        names,
        [
            "discord",
            "opsgenie",
            "pagerduty",
            "slack",
            "telegram",
            "victorops",
            "webex",
            "wechat",
            "wechatmd"
        ],
        "Alertmanager's integrations"
    );
    println!("compared {compared} requests with Alertmanager 0.25's");
}
