//! `ember alertmanager`'s two extensions of Alertmanager, end to end through the
//! binary and a local webhook capture server:
//!
//! - notify on unmute (prometheus/alertmanager#3367): an alert notified, then
//!   silenced through API v2, is notified again — once, promptly — when the
//!   silence is expired, although `repeat_interval` is an hour away; with
//!   `--notify.on-unmute=false` it is not (Alertmanager's behaviour);
//! - silence notifications (prometheus/alertmanager#730): with
//!   `silence_notifications:` in alertmanager.yml, creating and expiring the silence
//!   each send one webhook with Ember's silence payload. `ember tool check
//!   alertmanager-config` accepts the block (and still rejects unknown fields in
//!   it); Debian's `amtool check-config` rejects the file, as documented.

mod common;

use common::{Am, free_port, have_binary, request, start_alertmanager};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Deliveries = Arc<Mutex<Vec<(String, Value, Instant)>>>;

/// A webhook receiver: records (path, JSON body, arrival) of every POST, answers
/// 200.
fn webhook_receiver() -> (u16, Deliveries) {
    let got: Deliveries = Arc::default();
    let g = got.clone();
    let port = common::serve_http(move |req| {
        let v = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        g.lock().unwrap().push((req.path, v, Instant::now()));
        ""
    });
    (port, got)
}

fn config(hook: u16, side: &str) -> String {
    format!(
        r#"route:
  receiver: hook
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 2s
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs:
  - url: http://127.0.0.1:{hook}/{side}/hook
- name: silences
  webhook_configs:
  - url: http://127.0.0.1:{hook}/{side}/silences
silence_notifications:
  receiver: silences
  events: [create, expire]
"#
    )
}

fn deliveries(got: &Deliveries, path: &str) -> Vec<(Value, Instant)> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p == path)
        .map(|(_, v, t)| (v.clone(), *t))
        .collect()
}

/// Waits up to `ms` for `n` deliveries to `path`; the `n`th's arrival.
fn wait_for(got: &Deliveries, path: &str, n: usize, ms: u64) -> Option<Instant> {
    let t = Instant::now();
    loop {
        if let Some((_, at)) = deliveries(got, path).get(n - 1) {
            return Some(*at);
        }
        if t.elapsed() > Duration::from_millis(ms) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn call(port: u16, method: &str, path: &str, body: &Value) -> (u16, String) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (code, out) = request(
        port,
        method,
        path,
        &[("Content-Type", "application/json")],
        &body,
    )
    .expect("alertmanager answers");
    (code, String::from_utf8_lossy(&out).into_owned())
}

struct Side {
    name: &'static str,
    port: u16,
    on_unmute: bool,
}

#[test]
fn expired_silence_renotifies_once_and_is_itself_notified() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, got) = webhook_receiver();
    let sides = [
        Side {
            name: "on",
            port: free_port(),
            on_unmute: true,
        },
        Side {
            name: "off",
            port: free_port(),
            on_unmute: false,
        },
    ];
    let mut running = Vec::new();
    for s in &sides {
        let sub = dir.path().join(s.name);
        std::fs::create_dir_all(&sub).unwrap();
        let mut flags = vec!["--web.external-url=http://am.example:9093"];
        if !s.on_unmute {
            flags.push("--notify.on-unmute=false");
        }
        running.push(start_alertmanager(
            Am::Ember,
            &sub,
            &config(hook, s.name),
            s.port,
            &flags,
        ));
    }
    let path = |s: &Side, what: &str| format!("/{}/{what}", s.name);

    // An alert, notified after group_wait.
    let alert = json!([{"labels": {"alertname": "Disk", "instance": "db-1"}, "annotations": {"summary": "full"}}]);
    for s in &sides {
        let (code, body) = call(s.port, "POST", "/api/v2/alerts", &alert);
        assert_eq!(code, 200, "{body}");
    }
    for s in &sides {
        assert!(
            wait_for(&got, &path(s, "hook"), 1, 3000).is_some(),
            "{}: first notification",
            s.name
        );
    }

    // Silenced through API v2: the silence notification says so.
    let sil = json!({
        "matchers": [{"name": "instance", "value": "db-1", "isRegex": false, "isEqual": true}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
        "createdBy": "alice", "comment": "replacing the disk"
    });
    let mut ids = Vec::new();
    for s in &sides {
        let (code, body) = call(s.port, "POST", "/api/v2/silences", &sil);
        assert_eq!(code, 200, "{body}");
        let id = serde_json::from_str::<Value>(&body).unwrap()["silenceID"]
            .as_str()
            .unwrap()
            .to_string();
        ids.push(id);
    }
    for (s, id) in sides.iter().zip(&ids) {
        assert!(wait_for(&got, &path(s, "silences"), 1, 3000).is_some());
        let (b, _) = deliveries(&got, &path(s, "silences")).remove(0);
        assert_eq!(b["version"], "ember-silence-1", "{b}");
        assert_eq!(b["type"], "silence");
        assert_eq!(b["event"], "create");
        assert_eq!(b["receiver"], "silences");
        assert_eq!(b["externalURL"], "http://am.example:9093");
        assert_eq!(b["silence"]["id"], id.as_str());
        assert_eq!(b["silence"]["createdBy"], "alice");
        assert_eq!(b["silence"]["comment"], "replacing the disk");
        assert_eq!(b["silence"]["status"]["state"], "active");
        assert_eq!(b["silence"]["endsAt"], "2100-01-01T00:00:00.000Z");
        assert_eq!(
            b["silence"]["matchers"],
            json!([{"isEqual": true, "isRegex": false, "name": "instance", "value": "db-1"}])
        );
        assert_eq!(
            b["silence"]["url"],
            format!("http://am.example:9093/#/silences/{id}")
        );
    }
    // A group_interval passes with the alert silenced: nothing is sent.
    std::thread::sleep(Duration::from_millis(2600));
    for s in &sides {
        assert_eq!(deliveries(&got, &path(s, "hook")).len(), 1, "{}", s.name);
    }

    // Expired through API v2.
    let mut expired_at = Vec::new();
    for (s, id) in sides.iter().zip(&ids) {
        expired_at.push(Instant::now());
        let (code, body) = call(
            s.port,
            "DELETE",
            &format!("/api/v2/silence/{id}"),
            &Value::Null,
        );
        assert_eq!(code, 200, "{body}");
    }
    // On: one new notification, promptly (well before the next group_interval
    // tick could have sent it, and an hour before repeat_interval).
    let at = wait_for(&got, &path(&sides[0], "hook"), 2, 3000).expect("renotified on unmute");
    let latency = at - expired_at[0];
    assert!(latency < Duration::from_millis(1000), "{latency:?}");
    // Both report the expiry.
    for (s, id) in sides.iter().zip(&ids) {
        assert!(wait_for(&got, &path(s, "silences"), 2, 3000).is_some());
        let (b, _) = deliveries(&got, &path(s, "silences")).remove(1);
        assert_eq!(b["event"], "expire", "{b}");
        assert_eq!(b["silence"]["id"], id.as_str());
        assert_eq!(b["silence"]["status"]["state"], "expired");
    }
    // Two more group_intervals: exactly one renotification with it on, none with
    // it off, one create and one expire each.
    std::thread::sleep(Duration::from_millis(4500));
    let on = deliveries(&got, &path(&sides[0], "hook"));
    assert_eq!(on.len(), 2, "{on:?}");
    assert_eq!(on[1].0["status"], "firing");
    assert_eq!(on[1].0["version"], "4");
    assert_eq!(on[1].0["alerts"][0]["labels"]["instance"], "db-1");
    assert_eq!(deliveries(&got, &path(&sides[1], "hook")).len(), 1);
    for s in &sides {
        let events: Vec<Value> = deliveries(&got, &path(s, "silences"))
            .into_iter()
            .map(|(b, _)| b["event"].clone())
            .collect();
        assert_eq!(events, [json!("create"), json!("expire")], "{}", s.name);
    }
    drop(running);
}

fn ember_check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ember"))
        .args(["tool", "check", "alertmanager-config"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn silence_notifications_pass_ember_check_and_fail_amtool() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("am.yml");
    std::fs::write(&file, config(1, "x")).unwrap();
    let (ok, out) = ember_check(&file);
    assert!(ok, "{out}");
    assert!(out.contains("SUCCESS"), "{out}");
    // Still strict: an unknown field inside the block, or a receiver that does not
    // exist, is an error.
    let bad = config(1, "x").replace(
        "  events: [create, expire]\n",
        "  events: [create]\n  send_to: x\n",
    );
    std::fs::write(&file, bad).unwrap();
    let (ok, out) = ember_check(&file);
    assert!(!ok && out.contains("send_to"), "{out}");
    let bad = config(1, "x").replace("  receiver: silences\n", "  receiver: nope\n");
    std::fs::write(&file, bad).unwrap();
    let (ok, out) = ember_check(&file);
    assert!(
        !ok && out.contains("undefined receiver \"nope\" used in silence_notifications"),
        "{out}"
    );
    // Alertmanager does not know the extension.
    if !have_binary("amtool") {
        return;
    }
    std::fs::write(&file, config(1, "x")).unwrap();
    let out = Command::new("amtool")
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("silence_notifications"), "{text}");
}
