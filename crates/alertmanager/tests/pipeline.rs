//! The running Alertmanager in process: group timers, deduplication, resolved
//! notifications, silences, inhibition, failing receivers, Slack and e-mail
//! payloads, persistence across restarts and reload — through the HTTP API, against
//! local test doubles of the receivers.

use ember_alertmanager::{Alertmanager, Options, api};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type Got = Arc<Mutex<Vec<(String, Value, Instant)>>>;

/// A receiver double: records POSTs; paths containing `fail500` or `fail400`
/// answer with that status.
async fn receiver() -> (u16, Got) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Got = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = l.accept().await else {
                return;
            };
            let g = g.clone();
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut r = BufReader::new(r);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let status = if path.contains("fail500") {
                        "500 Internal Server Error"
                    } else if path.contains("fail400") {
                        "400 Bad Request"
                    } else {
                        "200 OK"
                    };
                    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    g.lock().unwrap().push((path, v, Instant::now()));
                    let resp = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                    let _ = w.write_all(resp.as_bytes()).await;
                }
            });
        }
    });
    (port, got)
}

fn count(got: &Got, path: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p == path)
        .count()
}

fn bodies(got: &Got, path: &str) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p == path)
        .map(|(_, v, _)| v.clone())
        .collect()
}

/// One HTTP/1.0 exchange: status and body.
async fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (code, body)
}

struct Running {
    am: Alertmanager,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start(dir: &Path, config: &str, storage: bool) -> Running {
    start_with(dir, config, storage, true).await
}

async fn start_with(dir: &Path, config: &str, storage: bool, notify_on_unmute: bool) -> Running {
    let file = dir.join("am.yml");
    std::fs::write(&file, config).unwrap();
    let am = Alertmanager::new(Options {
        config_file: file,
        storage_path: storage.then(|| dir.join("data")),
        external_url: "http://am.example:9093".into(),
        notify_on_unmute,
        ..Options::default()
    })
    .unwrap();
    am.start();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let served = am.clone();
    tokio::spawn(async move {
        let _ = api::serve(served, l, "", async {
            let _ = rx.await;
        })
        .await;
    });
    Running {
        am,
        port,
        stop: Some(tx),
    }
}

fn hook_config(port: u16, timers: &str, extra: &str) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n{timers}\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{port}/hook\n{extra}"
    )
}

async fn post(port: u16, alerts: Value) {
    let (code, body) = http(port, "POST", "/api/v2/alerts", &alerts.to_string()).await;
    assert_eq!(code, 200, "{body}");
}

fn alert(name: &str, instance: &str) -> Value {
    json!({"labels": {"alertname": name, "instance": instance}, "annotations": {"summary": "s"}})
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_wait_interval_repeat_and_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let timers = "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 4s";
    let am = start(dir.path(), &hook_config(hp, timers, ""), false).await;
    let t0 = Instant::now();
    post(am.port, json!([alert("A", "1")])).await;
    sleep_ms(600).await;
    assert_eq!(count(&got, "/hook"), 0, "notified before group_wait");
    sleep_ms(900).await;
    assert_eq!(count(&got, "/hook"), 1, "one notification after group_wait");
    let first = got.lock().unwrap()[0].2 - t0;
    assert!(first >= Duration::from_millis(950), "{first:?}");
    // Re-sending the same alert changes nothing: no notification before repeat.
    post(am.port, json!([alert("A", "1")])).await;
    sleep_ms(1500).await;
    assert_eq!(count(&got, "/hook"), 1, "duplicate within repeat_interval");
    // A new alert in the group goes out at the next group_interval tick.
    post(am.port, json!([alert("A", "2")])).await;
    sleep_ms(1300).await;
    assert_eq!(count(&got, "/hook"), 2);
    assert_eq!(
        bodies(&got, "/hook")[1]["alerts"].as_array().unwrap().len(),
        2
    );
    // Unchanged: repeated once repeat_interval has passed.
    sleep_ms(4500).await;
    assert_eq!(count(&got, "/hook"), 3, "repeat after repeat_interval");
    let b = &bodies(&got, "/hook")[2];
    assert_eq!(b["groupKey"], r#"{}:{alertname="A"}"#);
    assert_eq!(b["version"], "4");
    assert_eq!(b["externalURL"], "http://am.example:9093");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolved_notification_and_old_alerts_skip_group_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let timers = "  group_wait: 10s\n  group_interval: 1s";
    let am = start(dir.path(), &hook_config(hp, timers, ""), false).await;
    // Started long before group_wait: no reason to wait.
    let mut a = alert("Old", "1");
    a["startsAt"] = json!("2020-01-01T00:00:00Z");
    post(am.port, json!([a.clone()])).await;
    sleep_ms(500).await;
    assert_eq!(count(&got, "/hook"), 1);
    // Resolve it via endsAt.
    a["endsAt"] = json!("2020-01-01T01:00:00Z");
    post(am.port, json!([a])).await;
    sleep_ms(1500).await;
    let b = bodies(&got, "/hook");
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(b[1]["status"], "resolved");
    assert_eq!(b[1]["alerts"][0]["endsAt"], "2020-01-01T01:00:00Z");
    // The resolved alert has left the group: nothing more.
    sleep_ms(1500).await;
    assert_eq!(count(&got, "/hook"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_and_inhibited_alerts_are_not_notified() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let timers = "  group_wait: 500ms\n  group_interval: 1s\n  group_by: [alertname, instance]";
    let cfg = hook_config(hp, timers, "inhibit_rules:\n- source_matchers: [alertname=Outage]\n  target_matchers: [alertname=Down]\n  equal: [instance]\n")
        .replace("  group_by: [alertname]\n", "");
    let am = start(dir.path(), &cfg, false).await;
    let sil = json!({
        "matchers": [{"name": "instance", "value": "quiet", "isRegex": false, "isEqual": true}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
        "createdBy": "test", "comment": "shh"
    });
    let (code, body) = http(am.port, "POST", "/api/v2/silences", &sil.to_string()).await;
    assert_eq!(code, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        am.port,
        json!([
            alert("Outage", "x"),
            alert("Down", "x"),
            alert("Down", "quiet"),
            alert("Down", "y")
        ]),
    )
    .await;
    sleep_ms(1200).await;
    let names: Vec<String> = bodies(&got, "/hook")
        .iter()
        .map(|b| {
            format!(
                "{}/{}",
                b["commonLabels"]["alertname"], b["commonLabels"]["instance"]
            )
            .replace('"', "")
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["Down/y", "Outage/x"]);
    // The API reports why.
    let (_, body) = http(am.port, "GET", "/api/v2/alerts?active=false", "").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let states: Vec<(String, usize, usize)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["labels"]["instance"].as_str().unwrap().to_string(),
                a["status"]["silencedBy"].as_array().unwrap().len(),
                a["status"]["inhibitedBy"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.contains(&("quiet".into(), 1, 0)) && states.contains(&("x".into(), 0, 1)));
    // Silence lookups and expiry.
    let (code, _) = http(am.port, "GET", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(code, 200);
    let (code, _) = http(am.port, "DELETE", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(code, 200);
    let (code, body) = http(am.port, "DELETE", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(
        (code, body.trim()),
        (500, format!("\"silence {id} already expired\"").as_str())
    );
    let (code, _) = http(am.port, "GET", "/api/v2/silence/not-a-uuid", "").await;
    assert_eq!(code, 422);
    // Once the silence has expired, the alert is notified at the next flush.
    sleep_ms(1500).await;
    assert!(
        bodies(&got, "/hook")
            .iter()
            .any(|b| b["commonLabels"]["instance"] == "quiet")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_integration_does_not_block_others() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let cfg = format!(
        "route:\n  receiver: r\n  group_wait: 200ms\n  group_interval: 1s\nreceivers:\n- name: r\n  webhook_configs:\n  - url: http://127.0.0.1:{hp}/fail500\n  - url: http://127.0.0.1:{hp}/fail400\n  - url: http://127.0.0.1:{hp}/ok\n"
    );
    let am = start(dir.path(), &cfg, false).await;
    post(am.port, json!([alert("A", "1")])).await;
    sleep_ms(2500).await;
    assert_eq!(
        count(&got, "/ok"),
        1,
        "the healthy integration got its notification"
    );
    assert_eq!(count(&got, "/fail400"), 1, "4xx is not retried");
    assert!(count(&got, "/fail500") >= 2, "5xx is retried with backoff");
    let m = am.am.metrics_text();
    assert!(
        m.contains("alertmanager_notifications_failed_total{integration=\"webhook\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("alertmanager_notifications_total{integration=\"webhook\"} 3"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_payload_with_default_templates() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let cfg = format!(
        "route:\n  receiver: team-x\n  group_by: [alertname]\n  group_wait: 200ms\nreceivers:\n- name: team-x\n  slack_configs:\n  - api_url: http://127.0.0.1:{hp}/slack\n    channel: '#alerts'\n    fields:\n    - title: Severity\n      value: '{{{{ .CommonLabels.severity }}}}'\n"
    );
    let am = start(dir.path(), &cfg, false).await;
    post(
        am.port,
        json!([{"labels": {"alertname": "Disk", "instance": "a", "severity": "page"}}]),
    )
    .await;
    sleep_ms(1000).await;
    let b = bodies(&got, "/slack");
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0],
        json!({
            "channel": "#alerts",
            "username": "Alertmanager",
            "attachments": [{
                "title": "[FIRING:1] Disk (a page)",
                "title_link": "http://am.example:9093/#/alerts?receiver=team-x",
                "text": "",
                "fallback": "[FIRING:1] Disk (a page) | http://am.example:9093/#/alerts?receiver=team-x",
                "callback_id": "",
                "fields": [{"title": "Severity", "value": "page", "short": false}],
                "footer": "",
                "color": "danger",
                "mrkdwn_in": ["fallback", "pretext", "text"]
            }]
        })
    );
}

/// A minimal SMTP server: records each message's DATA.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = l.accept().await else {
                return;
            };
            let g = g.clone();
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut r = BufReader::new(r);
                let _ = w.write_all(b"220 fake ESMTP\r\n").await;
                let mut envelope = Vec::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let up = cmd.to_ascii_uppercase();
                    if up.starts_with("EHLO") {
                        let _ = w
                            .write_all(b"250-fake\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
                            .await;
                    } else if up.starts_with("AUTH PLAIN") {
                        envelope.push(cmd.clone());
                        let _ = w.write_all(b"235 ok\r\n").await;
                    } else if up.starts_with("DATA") {
                        let _ = w.write_all(b"354 go\r\n").await;
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        g.lock()
                            .unwrap()
                            .push(format!("{}\n{data}", envelope.join("\n")));
                        let _ = w.write_all(b"250 queued\r\n").await;
                    } else if up.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        envelope.push(cmd);
                        let _ = w.write_all(b"250 ok\r\n").await;
                    }
                }
            });
        }
    });
    (port, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_through_smtp_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (sp, got) = smtp_server().await;
    let cfg = format!(
        "global:\n  smtp_smarthost: 127.0.0.1:{sp}\n  smtp_from: 'Ember <am@example.org>'\n  smtp_require_tls: false\n  smtp_auth_username: u\n  smtp_auth_password: p\nroute:\n  receiver: mail\n  group_by: [alertname]\n  group_wait: 200ms\nreceivers:\n- name: mail\n  email_configs:\n  - to: 'ops@example.org, dev@example.org'\n    send_resolved: true\n    text: '{{{{ template \"__text_alert_list\" .Alerts }}}}'\n"
    );
    let am = start(dir.path(), &cfg, false).await;
    post(am.port, json!([alert("Disk", "a")])).await;
    sleep_ms(1200).await;
    let mails = got.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert!(m.contains("AUTH PLAIN AHUAcA=="), "{m}");
    assert!(m.contains("MAIL FROM:<am@example.org>"), "{m}");
    assert!(
        m.contains("RCPT TO:<ops@example.org>") && m.contains("RCPT TO:<dev@example.org>"),
        "{m}"
    );
    assert!(m.contains("Subject: [FIRING:1] Disk (a)\r\n"), "{m}");
    assert!(
        m.contains("To: ops@example.org, dev@example.org\r\n"),
        "{m}"
    );
    assert!(m.contains("From: Ember <am@example.org>\r\n"), "{m}");
    assert!(m.contains("Content-Type: text/plain; charset=UTF-8"), "{m}");
    assert!(m.contains("Labels:\r\n - alertname =3D Disk\r\n"), "{m}");
    assert!(m.contains("Content-Type: text/html; charset=UTF-8"), "{m}");
    let _ = am;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_silences_and_does_not_resend() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let timers = "  group_wait: 200ms\n  group_interval: 1s";
    let cfg = hook_config(hp, timers, "");
    let mut a = alert("A", "1");
    a["startsAt"] = json!("2020-01-01T00:00:00Z");
    let sil = json!({
        "matchers": [{"name": "instance", "value": "2", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
        "createdBy": "test", "comment": "c"
    });
    {
        let am = start(dir.path(), &cfg, true).await;
        let (code, _) = http(am.port, "POST", "/api/v2/silences", &sil.to_string()).await;
        assert_eq!(code, 200);
        post(am.port, json!([a.clone()])).await;
        sleep_ms(700).await;
        assert_eq!(count(&got, "/hook"), 1);
        am.am.flush();
    }
    let am = start(dir.path(), &cfg, true).await;
    let (_, body) = http(am.port, "GET", "/api/v2/silences", "").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    post(am.port, json!([a])).await;
    sleep_ms(1500).await;
    assert_eq!(count(&got, "/hook"), 1, "re-sent after restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_old_config_when_new_one_is_bad_and_bad_alerts_get_400() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, _got) = receiver().await;
    let am = start(dir.path(), &hook_config(hp, "", ""), false).await;
    std::fs::write(dir.path().join("am.yml"), "route: {receiver: nope}\n").unwrap();
    let (code, body) = http(am.port, "POST", "/-/reload", "").await;
    assert_eq!(code, 500, "{body}");
    let (_, body) = http(am.port, "GET", "/api/v2/receivers", "").await;
    assert_eq!(body.trim(), r#"[{"name":"hook"}]"#);
    assert!(
        am.am
            .metrics_text()
            .contains("alertmanager_config_last_reload_successful 0")
    );
    std::fs::write(
        dir.path().join("am.yml"),
        hook_config(hp, "", "- name: other\n"),
    )
    .unwrap();
    let (code, _) = http(am.port, "POST", "/-/reload", "").await;
    assert_eq!(code, 200);
    let (_, body) = http(am.port, "GET", "/api/v2/receivers", "").await;
    assert_eq!(body.trim(), r#"[{"name":"hook"},{"name":"other"}]"#);
    // Malformed alerts: 400 with the reason, nothing stored.
    let (code, body) = http(am.port, "POST", "/api/v2/alerts", r#"[{"labels":{"a":"b"},"startsAt":"2020-01-02T00:00:00Z","endsAt":"2020-01-01T00:00:00Z"}]"#).await;
    assert_eq!(
        (code, body.trim()),
        (400, "\"start time must be before end time\"")
    );
    let (code, _) = http(am.port, "POST", "/api/v2/alerts", "{").await;
    assert_eq!(code, 400);
    let (_, body) = http(am.port, "GET", "/api/v2/alerts", "").await;
    assert_eq!(body.trim(), "[]");
}

/// Creates a silence on `matchers` (name, value) ending at `ends` (RFC 3339);
/// returns its id.
async fn silence(port: u16, matchers: &[(&str, &str)], ends: &str) -> String {
    let ms: Vec<Value> = matchers
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v, "isRegex": false, "isEqual": true}))
        .collect();
    let sil = json!({
        "matchers": ms, "startsAt": "2020-01-01T00:00:00Z", "endsAt": ends,
        "createdBy": "test", "comment": "quiet please"
    });
    let (code, body) = http(port, "POST", "/api/v2/silences", &sil.to_string()).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn expire(port: u16, id: &str) {
    let (code, body) = http(port, "DELETE", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(code, 200, "{body}");
}

/// Waits up to `ms` for the `n`th delivery to `path`; returns when it came.
async fn wait_for(got: &Got, path: &str, n: usize, ms: u64) -> Option<Instant> {
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(ms) {
        if let Some((_, _, at)) = got
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .nth(n - 1)
        {
            return Some(*at);
        }
        sleep_ms(20).await;
    }
    None
}

fn instances(b: &Value) -> Vec<String> {
    let mut v: Vec<String> = b["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["instance"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Notify on unmute (prometheus/alertmanager#3367): a notified alert, silenced for
/// a while, is notified again as soon as the silence is expired — once, and not
/// while another silence or an inhibition still mutes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmuted_alerts_are_notified_again_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (hp, got) = receiver().await;
    let timers = "  group_wait: 200ms\n  group_interval: 1s\n  repeat_interval: 1h";
    let cfg = hook_config(
        hp,
        timers,
        "inhibit_rules:\n- source_matchers: [alertname=Outage]\n  target_matchers: [alertname=A]\n  equal: [instance]\n",
    );
    let am = start(dir.path(), &cfg, false).await;
    post(am.port, json!([alert("A", "x"), alert("A", "y")])).await;
    assert!(wait_for(&got, "/hook", 1, 2000).await.is_some());
    // Two silences on x; flushes see it muted and send nothing.
    let s1 = silence(am.port, &[("instance", "x")], "2100-01-01T00:00:00Z").await;
    let s2 = silence(
        am.port,
        &[("alertname", "A"), ("instance", "x")],
        "2100-01-01T00:00:00Z",
    )
    .await;
    sleep_ms(1300).await;
    assert_eq!(count(&got, "/hook"), 1, "nothing new while silenced");
    // x is still silenced by s2: the flush on unmute sends nothing.
    expire(am.port, &s1).await;
    sleep_ms(400).await;
    assert_eq!(count(&got, "/hook"), 1, "notified while still silenced");
    // Now unmuted: notified at once, although the firing set is the one notified
    // before the silence and repeat_interval is an hour away.
    let t = Instant::now();
    expire(am.port, &s2).await;
    let at = wait_for(&got, "/hook", 2, 2000).await.expect("renotified");
    assert!(at - t < Duration::from_millis(500), "{:?}", at - t);
    assert_eq!(instances(&bodies(&got, "/hook")[1]), ["x", "y"]);
    // Once.
    sleep_ms(2300).await;
    assert_eq!(count(&got, "/hook"), 2, "notified twice for one unmute");
    // Silenced again, then inhibited as well (by an Outage on x, which the
    // silence mutes too): expiring the silence flushes both groups; x stays muted
    // by the inhibition, while the Outage, never notified, goes out at once.
    let s3 = silence(am.port, &[("instance", "x")], "2100-01-01T00:00:00Z").await;
    post(am.port, json!([alert("Outage", "x")])).await;
    sleep_ms(1300).await;
    assert_eq!(count(&got, "/hook"), 2, "the Outage is silenced");
    expire(am.port, &s3).await;
    assert!(wait_for(&got, "/hook", 3, 600).await.is_some());
    sleep_ms(1300).await;
    let groups: Vec<(String, Vec<String>)> = bodies(&got, "/hook")
        .iter()
        .map(|b| {
            (
                b["groupLabels"]["alertname"].as_str().unwrap().to_string(),
                instances(b),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("A".to_string(), vec!["x".to_string(), "y".to_string()]),
            ("A".to_string(), vec!["x".to_string(), "y".to_string()]),
            ("Outage".to_string(), vec!["x".to_string()]),
        ],
        "an inhibited alert was notified"
    );
}

/// A silence reaching its end time unmutes as an expiry does; with
/// `notify_on_unmute` off, Alertmanager's behaviour: nothing before
/// repeat_interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_end_time_unmutes_and_the_option_restores_alertmanagers_behaviour() {
    let timers = "  group_wait: 200ms\n  group_interval: 1s\n  repeat_interval: 1h";
    let mut runs = Vec::new();
    for on in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (hp, got) = receiver().await;
        let am = start_with(dir.path(), &hook_config(hp, timers, ""), false, on).await;
        post(am.port, json!([alert("A", "x")])).await;
        assert!(wait_for(&got, "/hook", 1, 2000).await.is_some());
        let end = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1800);
        silence(am.port, &[("instance", "x")], &end.to_string()).await;
        runs.push((dir, got, am, end));
    }
    for (on, (_, got, _, end)) in [true, false].into_iter().zip(&runs) {
        let at = wait_for(got, "/hook", 2, 4500).await;
        if on {
            let at = at.expect("renotified at the silence's end");
            // The wall clock at arrival, from the monotonic one.
            let late =
                jiff::Timestamp::now() - jiff::SignedDuration::try_from(at.elapsed()).unwrap();
            let late = late.duration_since(*end);
            assert!(
                late < jiff::SignedDuration::from_millis(500) && !late.is_negative(),
                "{late:?}"
            );
            assert_eq!(count(got, "/hook"), 2);
        } else {
            assert!(at.is_none(), "renotified with notify_on_unmute off");
        }
    }
}

/// `(event, silence id)` of the silence notifications received on `/silences`.
fn silence_events(got: &Got) -> Vec<(String, String)> {
    bodies(got, "/silences")
        .iter()
        .map(|b| {
            assert_eq!(b["version"], "ember-silence-1", "{b}");
            assert_eq!(b["type"], "silence", "{b}");
            (
                b["event"].as_str().unwrap().to_string(),
                b["silence"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Silence notifications (prometheus/alertmanager#730): on create and expire,
/// through the webhook as Ember's silence payload; a silence that ends while
/// Ember is down is reported once after the restart, and not again after the next.
/// Each run has its own runtime, dropped to stop it.
#[test]
fn silence_notifications_on_create_and_expire_across_restarts() {
    let rt = |threads| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    };
    let receivers_rt = rt(1);
    let (hp, got) = receivers_rt.block_on(receiver());
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "{}- name: sil\n  webhook_configs:\n  - url: http://127.0.0.1:{hp}/silences\nsilence_notifications:\n  receiver: sil\n",
        hook_config(hp, "  group_wait: 200ms", "")
    );
    let ev = |e: &str, id: &str| (e.to_string(), id.to_string());

    // Run 1: two silences created; one replaced by an update that changes its
    // matchers (the old one expires, a new one is created), which is then expired
    // through the API; the other is left to end while Ember is down.
    let (s1, s1b, s2) = rt(2).block_on(async {
        let am = start(dir.path(), &cfg, true).await;
        let s1 = silence(am.port, &[("instance", "a")], "2100-01-01T00:00:00Z").await;
        // Each delivery is its own task: one at a time keeps the order.
        assert!(wait_for(&got, "/silences", 1, 2000).await.is_some());
        let end = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
        let s2 = silence(am.port, &[("instance", "b")], &end.to_string()).await;
        assert!(wait_for(&got, "/silences", 2, 2000).await.is_some());
        let (code, body) = http(am.port, "GET", &format!("/api/v2/silence/{s1}"), "").await;
        assert_eq!(code, 200);
        let mut upd: Value = serde_json::from_str(&body).unwrap();
        upd["matchers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "job", "value": "db", "isRegex": false, "isEqual": true}));
        let (code, body) = http(am.port, "POST", "/api/v2/silences", &upd.to_string()).await;
        assert_eq!(code, 200, "{body}");
        let s1b = serde_json::from_str::<Value>(&body).unwrap()["silenceID"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(s1b, s1);
        assert!(wait_for(&got, "/silences", 4, 2000).await.is_some());
        expire(am.port, &s1b).await;
        assert!(wait_for(&got, "/silences", 5, 2000).await.is_some());
        sleep_ms(300).await;
        (s1, s1b, s2)
    });
    let mut first = silence_events(&got);
    first[2..4].sort();
    assert_eq!(
        first,
        [
            ev("create", &s1),
            ev("create", &s2),
            ev("create", &s1b),
            ev("expire", &s1),
            ev("expire", &s1b)
        ]
    );
    let b = &bodies(&got, "/silences")[0];
    assert_eq!(b["silence"]["createdBy"], "test");
    assert_eq!(b["silence"]["comment"], "quiet please");
    assert_eq!(b["silence"]["status"]["state"], "active");
    assert_eq!(b["silence"]["matchers"][0]["name"], "instance");
    assert_eq!(b["receiver"], "sil");
    assert_eq!(
        bodies(&got, "/silences")[4]["silence"]["status"]["state"],
        "expired"
    );
    // s2 ends while nothing runs.
    std::thread::sleep(Duration::from_millis(1600));

    // Run 2: s2's end is reported once, at start.
    rt(2).block_on(async {
        let _am = start(dir.path(), &cfg, true).await;
        assert!(wait_for(&got, "/silences", 6, 2000).await.is_some());
        sleep_ms(500).await;
    });
    // Run 3: nothing new.
    rt(2).block_on(async {
        let _am = start(dir.path(), &cfg, true).await;
        sleep_ms(1200).await;
    });
    assert_eq!(silence_events(&got)[5..], [ev("expire", &s2)]);
    assert_eq!(count(&got, "/hook"), 0);
    drop(receivers_rt);
}
