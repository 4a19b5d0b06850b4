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
    let restored = pending_active_at(port);
    // Wait for the restore pass (after the first evaluation) to have run.
    std::thread::sleep(Duration::from_secs(2));
    let restored = pending_active_at(port).max(restored);
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
