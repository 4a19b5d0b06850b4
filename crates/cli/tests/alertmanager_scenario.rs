//! The acceptance scenario of issue 7, automated: Debian's `prometheus` evaluates
//! alerting rules over metrics pushed to `ember pushgateway` and sends the alerts to
//! both `ember alertmanager` and Debian's `prometheus-alertmanager` (one Prometheus,
//! two `alertmanagers` targets), configured the same way with three integrations on
//! one receiver: a webhook (a test HTTP server), Slack (the same test HTTP server
//! standing in for Slack's incoming webhook) and email (a tiny SMTP server written
//! below on a `TcpListener`).
//!
//! Four alerts:
//! - `ScenarioDown`: notified once per integration after `group_wait`, never again
//!   within `repeat_interval` (1m), then once resolved (`send_resolved: true`);
//! - `ScenarioSilenced`: covered by a silence created through API v2 beforehand:
//!   never notified;
//! - `ScenarioOutage` (routed to a receiver without integrations) inhibits
//!   `ScenarioInhibited` (same `zone`): never notified.
//!
//! The counts per (integration, alert, status) must be the expected ones on both
//! sides, hence equal; the delay from the push to each first notification is
//! printed for both sides and must agree within a tolerance.
//!
//! Run: `cargo test -p ember-cli --test alertmanager_scenario -- --nocapture`.

mod common;

use common::{Am, Kill, free_port, have_binary, request, start_alertmanager, wait_ready};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One notification: side (`real`/`ember`), integration, raw body, arrival time.
#[derive(Clone, Debug)]
struct Note {
    side: String,
    integration: &'static str,
    body: String,
    at: Instant,
}

type Notes = Arc<Mutex<Vec<Note>>>;

/// An HTTP server recording POSTs to `/{side}/hook` and `/{side}/slack`.
fn http_receiver(notes: Notes) -> u16 {
    common::serve_http(move |req| {
        let mut parts = req.path.trim_start_matches('/').splitn(2, '/');
        let side = parts.next().unwrap_or("").to_string();
        let integration = match parts.next() {
            Some("hook") => "webhook",
            Some("slack") => "slack",
            _ => "other",
        };
        notes.lock().unwrap().push(Note {
            side,
            integration,
            body: String::from_utf8_lossy(&req.body).into_owned(),
            at: Instant::now(),
        });
        // Slack answers "ok"; webhooks anything 2xx.
        "ok"
    })
}

/// A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no
/// extensions, so no STARTTLS and no AUTH): each message is recorded with the side
/// taken from its first recipient's local part (`real@…`, `ember@…`).
fn smtp_server(notes: Notes) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut w) = conn else { continue };
            let notes = notes.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(w.try_clone().unwrap());
                let _ = w.write_all(b"220 localhost ESMTP test\r\n");
                let mut rcpt = Vec::<String>::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-localhost\r\n250 SIZE 10000000\r\n"
                    } else if cmd.starts_with("HELO") || cmd.starts_with("MAIL") {
                        b"250 OK\r\n"
                    } else if cmd.starts_with("RCPT") {
                        let a = line.split(['<', '>']).nth(1).unwrap_or("").to_string();
                        rcpt.push(a);
                        b"250 OK\r\n"
                    } else if cmd == "DATA" {
                        let _ = w.write_all(b"354 go ahead\r\n");
                        let mut msg = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" || l == ".\n" {
                                break;
                            }
                            msg.push_str(l.strip_prefix('.').unwrap_or(&l));
                        }
                        let side = rcpt
                            .first()
                            .and_then(|a| a.split('@').next())
                            .unwrap_or("")
                            .to_string();
                        notes.lock().unwrap().push(Note {
                            side,
                            integration: "email",
                            body: msg,
                            at: Instant::now(),
                        });
                        rcpt.clear();
                        b"250 queued\r\n"
                    } else if cmd == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else if cmd == "RSET" || cmd == "NOOP" {
                        rcpt.clear();
                        b"250 OK\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    let _ = w.write_all(reply);
                }
            });
        }
    });
    port
}

fn am_config(http: u16, smtp: u16, side: &str) -> String {
    format!(
        r#"global:
  resolve_timeout: 5m
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1m
  routes:
  - matchers: [alertname="ScenarioOutage"]
    receiver: blackhole
receivers:
- name: blackhole
- name: team
  webhook_configs:
  - url: http://127.0.0.1:{http}/{side}/hook
    send_resolved: true
  slack_configs:
  - api_url: http://127.0.0.1:{http}/{side}/slack
    channel: '#ops'
    send_resolved: true
  email_configs:
  - to: {side}@example.org
    from: alertmanager@example.org
    smarthost: 127.0.0.1:{smtp}
    require_tls: false
    send_resolved: true
inhibit_rules:
- source_matchers: [alertname="ScenarioOutage"]
  target_matchers: [alertname="ScenarioInhibited"]
  equal: [zone]
"#
    )
}

fn push(port: u16, body: &str) {
    let r = request(
        port,
        "PUT",
        "/metrics/job/scenario",
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
    );
    assert!(
        matches!(r, Some((200..=202, _))),
        "push failed: {:?}",
        r.map(|x| x.0)
    );
}

fn rfc3339(offset_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    ember_model::time::format_rfc3339_millis(now.as_millis() as i64 + offset_secs * 1000)
}

/// (alert name, status) of a notification, from the integration's payload.
fn classify(n: &Note) -> (String, &'static str) {
    let names = [
        "ScenarioDown",
        "ScenarioSilenced",
        "ScenarioInhibited",
        "ScenarioOutage",
    ];
    let text = match n.integration {
        "email" => n
            .body
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
            .unwrap_or("")
            .to_string(),
        "slack" => {
            let v: serde_json::Value = serde_json::from_str(&n.body).unwrap_or_default();
            v["attachments"][0]["title"]
                .as_str()
                .unwrap_or("")
                .to_string()
        }
        _ => {
            let v: serde_json::Value = serde_json::from_str(&n.body).unwrap_or_default();
            format!(
                "[{}] {}",
                v["status"].as_str().unwrap_or("").to_ascii_uppercase(),
                v["groupLabels"]["alertname"].as_str().unwrap_or("")
            )
        }
    };
    let name = names
        .iter()
        .find(|a| text.contains(*a))
        .map_or_else(|| format!("? {text}"), |a| a.to_string());
    let status = if text.contains("RESOLVED") {
        "resolved"
    } else {
        "firing"
    };
    (name, status)
}

#[test]
fn prometheus_to_both_alertmanagers_same_notifications() {
    if !have_binary("prometheus") || !have_binary("prometheus-alertmanager") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let notes: Notes = Arc::default();
    let http = http_receiver(notes.clone());
    let smtp = smtp_server(notes.clone());
    let (real_port, ember_port, gw_port, prom_port) =
        (free_port(), free_port(), free_port(), free_port());
    let _real = start_alertmanager(
        Am::Debian,
        dir.path(),
        &am_config(http, smtp, "real"),
        real_port,
        &[],
    );
    let _ember = start_alertmanager(
        Am::Ember,
        dir.path(),
        &am_config(http, smtp, "ember"),
        ember_port,
        &[],
    );
    let _gw = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{gw_port}"))
            .arg("--persistence.file=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(gw_port);

    // The silence, through API v2, before anything fires.
    for port in [real_port, ember_port] {
        let body = serde_json::json!({
            "matchers": [{"name": "alertname", "value": "ScenarioSilenced", "isRegex": false, "isEqual": true}],
            "startsAt": rfc3339(-1),
            "endsAt": rfc3339(3600),
            "createdBy": "scenario",
            "comment": "silenced for the whole test",
        });
        let r = request(
            port,
            "POST",
            "/api/v2/silences",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(r.0, 200, "{port}: {}", String::from_utf8_lossy(&r.1));
    }

    std::fs::write(
        dir.path().join("rules.yml"),
        r#"groups:
- name: scenario
  interval: 1s
  rules:
  - alert: ScenarioDown
    expr: scenario_down > 0
    labels: {severity: warning}
    annotations: {summary: 'down in {{ $labels.zone }}'}
  - alert: ScenarioSilenced
    expr: scenario_silenced > 0
    labels: {severity: warning}
  - alert: ScenarioOutage
    expr: scenario_outage > 0
    labels: {severity: critical}
  - alert: ScenarioInhibited
    expr: scenario_inhibited > 0
    labels: {severity: warning}
"#,
    )
    .unwrap();
    let prom_cfg = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['{}']
alerting:
  alertmanagers:
  - static_configs:
    - targets: ['127.0.0.1:{real_port}', '127.0.0.1:{ember_port}']
scrape_configs:
- job_name: pushgateway
  honor_labels: true
  static_configs:
  - targets: ['127.0.0.1:{gw_port}']
"#,
        dir.path().join("rules.yml").display()
    );
    let _prom = common::start_prometheus(dir.path(), &prom_cfg, prom_port);
    wait_ready(prom_port);

    let firing = "scenario_down{zone=\"eu\"} 1\nscenario_silenced{zone=\"eu\"} 1\n\
                  scenario_outage{zone=\"us\"} 1\nscenario_inhibited{zone=\"us\"} 1\n";
    let t0 = Instant::now();
    push(gw_port, firing);

    // Firing, then well past group_wait and several group_intervals (well within
    // repeat_interval): one notification per integration and side. Meanwhile, the
    // moment each Alertmanager first lists ScenarioDown (received from Prometheus):
    // the first notifications follow it by group_wait.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received: [Option<Instant>; 2] = [None, None];
    loop {
        for (i, port) in [real_port, ember_port].into_iter().enumerate() {
            if received[i].is_none()
                && common::get(port, "/api/v2/alerts")
                    .is_some_and(|(c, b)| c == 200 && b.contains("ScenarioDown"))
            {
                received[i] = Some(Instant::now());
            }
        }
        let n = notes.lock().unwrap().len();
        if (n >= 6 && received.iter().all(Option::is_some)) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let received = received.map(|r| r.expect("Prometheus's alerts never arrived"));
    // Both list the silenced and the inhibited alert as suppressed, by what.
    for port in [real_port, ember_port] {
        let (_, body) = common::get(port, "/api/v2/alerts").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let state = |name: &str, by: &str| {
            v.as_array().unwrap().iter().any(|a| {
                a["labels"]["alertname"] == name
                    && a["status"]["state"] == "suppressed"
                    && !a["status"][by].as_array().unwrap().is_empty()
            })
        };
        assert!(state("ScenarioSilenced", "silencedBy"), "{port}: {body}");
        assert!(state("ScenarioInhibited", "inhibitedBy"), "{port}: {body}");
    }
    std::thread::sleep(Duration::from_secs(10));
    let firing_count = notes.lock().unwrap().len();

    // Resolution: ScenarioDown goes to 0.
    let t_resolve = Instant::now();
    push(
        gw_port,
        &firing.replace(
            "scenario_down{zone=\"eu\"} 1",
            "scenario_down{zone=\"eu\"} 0",
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = notes.lock().unwrap().len();
        if n >= firing_count + 6 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(6));

    let notes = notes.lock().unwrap().clone();
    let mut counts: BTreeMap<(&'static str, String, &'static str), [usize; 2]> = BTreeMap::new();
    let mut first: BTreeMap<(&'static str, &'static str), [Option<Duration>; 2]> = BTreeMap::new();
    for n in &notes {
        let i = match n.side.as_str() {
            "real" => 0,
            "ember" => 1,
            other => panic!("notification from unknown side {other:?}: {n:?}"),
        };
        let (name, status) = classify(n);
        counts.entry((n.integration, name, status)).or_default()[i] += 1;
        let base = if status == "firing" { t0 } else { t_resolve };
        let slot = &mut first.entry((n.integration, status)).or_default()[i];
        if slot.is_none() {
            *slot = Some(n.at.duration_since(base));
        }
    }
    println!("notifications (integration, alert, status): Alertmanager 0.25 vs Ember");
    for ((integration, name, status), [r, e]) in &counts {
        println!("  {integration:8} {name:18} {status:9} {r} vs {e}");
    }
    println!("first notification delay (from push / from resolving push):");
    for ((integration, status), [r, e]) in &first {
        println!("  {integration:8} {status:9} {r:?} vs {e:?}");
    }
    // From each side's receipt of the alert to its first notification: group_wait.
    let mut after_receipt = Vec::new();
    for (i, side) in ["real", "ember"].into_iter().enumerate() {
        let at = notes
            .iter()
            .filter(|n| n.side == side)
            .map(|n| n.at)
            .min()
            .unwrap();
        after_receipt.push(at.saturating_duration_since(received[i]));
    }
    println!(
        "first notification after the alert was listed by the API (group_wait 1s, 50 ms polling): {:?} vs {:?}",
        after_receipt[0], after_receipt[1]
    );
    for d in &after_receipt {
        assert!(
            (Duration::from_millis(700)..Duration::from_millis(2500)).contains(d),
            "first notification not after group_wait: {d:?}"
        );
    }

    let mut expected = BTreeMap::new();
    for integration in ["email", "slack", "webhook"] {
        for status in ["firing", "resolved"] {
            expected.insert(
                (integration, "ScenarioDown".to_string(), status),
                [1usize, 1],
            );
        }
    }
    assert_eq!(
        counts, expected,
        "counts per (integration, alert, status), [Alertmanager, Ember]"
    );
    for ((integration, status), [r, e]) in &first {
        let (r, e) = (r.unwrap(), e.unwrap());
        let diff = r.abs_diff(e);
        assert!(
            diff <= Duration::from_millis(2500),
            "{integration} {status}: first notification after {r:?} (Alertmanager) vs {e:?} (Ember)"
        );
    }
}
