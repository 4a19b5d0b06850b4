//! An alert pending for part of its `for` keeps its progress across a restart: the
//! server restores `activeAt` from `ALERTS_FOR_STATE`, shifted by the downtime as
//! Prometheus does (`--rules.alert.for-outage-tolerance`), instead of starting the
//! `for` over.

mod common;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{free_port, get, start_ember};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `activeAt` (ms) of the pending `Slow` alert, once there is one.
fn pending_active_at(port: u16) -> i64 {
    let t = Instant::now();
    loop {
        if let Some((200, body)) = get(port, "/api/v1/alerts") {
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            if let Some(a) = v["data"]["alerts"].as_array().and_then(|a| a.first()) {
                assert_eq!(a["state"], "pending", "{v}");
                let at = a["activeAt"].as_str().expect("activeAt");
                return ember_model::time::parse_rfc3339(at).expect("rfc3339");
            }
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no pending alert");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn pending_alert_keeps_its_progress_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: slow\n    interval: 1s\n    rules:\n      - alert: Slow\n        expr: vector(1)\n        for: 1h\n",
    )
    .expect("rules");
    let config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\n",
        rules.display()
    );
    let port = free_port();
    let mut ember = start_ember(dir.path(), &config, port, &[]);
    let first = pending_active_at(port);
    // Let it stay pending a while, so that ALERTS_FOR_STATE is written several times.
    std::thread::sleep(Duration::from_secs(6));
    let stopped_at = now_ms();
    let pending_before = stopped_at - first;
    let pid = ember.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let _ = ember.0.wait();
    std::thread::sleep(Duration::from_secs(2));

    let _ember = start_ember(dir.path(), &config, port, &[]);
    pending_active_at(port);
    // Wait for the restore pass (after the second evaluation, 1 s apart) to have
    // run; before it the alert shows a fresh activeAt.
    std::thread::sleep(Duration::from_secs(3));
    let restored = pending_active_at(port);
    let pending_after = now_ms() - restored;
    let downtime = now_ms() - stopped_at;
    assert!(
        restored >= first && restored - first <= downtime + 2_000,
        "activeAt moved by more than the downtime: {first} -> {restored} (down {downtime} ms)"
    );
    assert!(
        pending_after >= pending_before - 1_500,
        "the for progress restarted: pending {pending_before} ms before the restart, {pending_after} ms after"
    );
}

/// (state, activeAt, keepFiringSince) of an alert in /api/v1/alerts.
type AlertRow = (String, String, String);

/// The alerts of `name` in /api/v1/alerts.
fn alerts_of(port: u16, name: &str) -> Vec<AlertRow> {
    let Some((200, body)) = get(port, "/api/v1/alerts") else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["labels"]["alertname"] == name)
        .map(|a| {
            (
                a["state"].as_str().unwrap_or("").to_string(),
                a["activeAt"].as_str().unwrap_or("").to_string(),
                a["keepFiringSince"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Beyond Prometheus: an alert held firing by `keep_firing_for` after its condition
/// went away is still firing after a restart, with the same `activeAt` and
/// `keepFiringSince` (Prometheus forgets it and resolves it at once).
#[test]
fn keep_firing_for_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = free_port();
    let _gw = common::Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["pushgateway", "--log.level=error"])
            .arg(format!("--web.listen-address=127.0.0.1:{gw}"))
            .spawn()
            .expect("pushgateway"),
    );
    let push = |v: &str| {
        let t = Instant::now();
        loop {
            let body = format!("flag {v}\n");
            if let Some((200, _)) =
                common::request(gw, "PUT", "/metrics/job/flap", &[], body.as_bytes())
            {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "pushgateway not up");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    push("1");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: flap\n    interval: 1s\n    rules:\n      - alert: Flapping\n        expr: flag > 0\n        keep_firing_for: 1h\n",
    )
    .expect("rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: pg\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{gw}']\n",
        rules.display()
    );
    let port = free_port();
    let mut ember = start_ember(dir.path(), &config, port, &[]);
    let wait_for = |port: u16, f: &dyn Fn(&[AlertRow]) -> bool| {
        let t = Instant::now();
        loop {
            let a = alerts_of(port, "Flapping");
            if f(&a) {
                return a;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "{a:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for(port, &|a| a.len() == 1 && a[0].0 == "firing");
    // The condition goes away; keep_firing_for holds the alert.
    push("0");
    let held = wait_for(port, &|a| a.len() == 1 && !a[0].2.is_empty());
    assert_eq!(held[0].0, "firing");
    let pid = ember.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let _ = ember.0.wait();
    assert!(dir.path().join("ember/ember_rules_state.json").exists());

    let _ember = start_ember(dir.path(), &config, port, &[]);
    // After a few evaluations with the condition still false, it is still firing
    // with the same start and keep-firing time.
    std::thread::sleep(Duration::from_secs(3));
    let after = alerts_of(port, "Flapping");
    assert_eq!(after, held, "alert state across the restart");
}

/// A reload with a broken rule file is refused (500, counted as a failed reload)
/// and the running rules keep running; the error names the file, group and rule.
#[test]
fn bad_rule_file_on_reload_keeps_the_running_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: ok\n    interval: 1s\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .expect("rules");
    let config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\n",
        rules.display()
    );
    let port = free_port();
    let _ember = start_ember(dir.path(), &config, port, &["--web.enable-lifecycle"]);
    let names = || -> Vec<String> {
        let (_, body) = get(port, "/api/v1/rules").expect("rules api");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| r["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(), ["one"]);
    std::fs::write(
        &rules,
        "groups:\n  - name: ok\n    rules:\n      - record: two\n        expr: sum(\n",
    )
    .expect("rules");
    let (code, body) = common::request(port, "POST", "/-/reload", &[], b"").expect("reload");
    let body = String::from_utf8_lossy(&body).to_string();
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("rules.yml"), "error names the file: {body}");
    assert_eq!(names(), ["one"], "running rules kept");
    let (_, metrics) = get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );
}
