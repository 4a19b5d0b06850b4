//! The server's alerting wiring: `/api/v1/alertmanagers` lists the Alertmanagers
//! discovered from `alerting.alertmanagers` (after their relabeling), follows a
//! reload, and `/metrics` carries the notifier's `prometheus_notifications_*`.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, get, request, start_ember};

fn alertmanagers(port: u16) -> serde_json::Value {
    let (code, body) = get(port, "/api/v1/alertmanagers").expect("answers");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

fn wait_for(port: u16, want_active: usize) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let v = alertmanagers(port);
        if v["data"]["activeAlertmanagers"].as_array().map(Vec::len) == Some(want_active) {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "{v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn alertmanagers_api_follows_config_and_relabeling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = "alerting:\n  alertmanagers:\n    - path_prefix: /am\n      static_configs:\n        - targets: ['127.0.0.1:19093', '127.0.0.1:19094']\n      relabel_configs:\n        - source_labels: [__address__]\n          regex: '.*:19094'\n          action: drop\n";
    let _ember = start_ember(dir.path(), config, port, &["--web.enable-lifecycle"]);
    let v = wait_for(port, 1);
    assert_eq!(
        v["data"]["activeAlertmanagers"][0]["url"],
        "http://127.0.0.1:19093/am/api/v2/alerts"
    );
    assert_eq!(
        v["data"]["droppedAlertmanagers"][0]["url"],
        "http://127.0.0.1:19094/am/api/v2/alerts"
    );
    let (_, metrics) = get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("prometheus_notifications_alertmanagers_discovered 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("prometheus_notifications_queue_capacity 10000"),
        "{metrics}"
    );

    // Reload without alerting: the list empties.
    std::fs::write(dir.path().join("ember.yml"), "global: {}\n").expect("write");
    let (code, _) = request(port, "POST", "/-/reload", &[], b"").expect("reload");
    assert_eq!(code, 200);
    let v = wait_for(port, 0);
    assert_eq!(
        v["data"]["droppedAlertmanagers"].as_array().map(Vec::len),
        Some(0)
    );
}
