//! The notifier's Prometheus 3.x flags end to end: `--alertmanager.notification-batch-size`
//! and `--alertmanager.drain-notification-queue-on-shutdown` (also in its kingpin
//! `--no-` form) shown by `/api/v1/status/flags`, the queue drained on SIGTERM or
//! dropped; the notifier's latency summary on `/metrics`; and `ember node-exporter`
//! stopping cleanly on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Kill, free_port, get, serve_http, start_ember};

fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for the child to exit after a signal; its exit status.
fn wait_exit(k: &mut Kill, within: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = k.0.try_wait().expect("wait") {
            return s;
        }
        assert!(t.elapsed() < within, "did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn flags(port: u16) -> serde_json::Value {
    let (code, body) = get(port, "/api/v1/status/flags").expect("flags");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).expect("json")["data"].clone()
}

/// A slow Alertmanager (each request takes 2 s) and an alert resent every second:
/// batches pile up in the Alertmanager's worker (about three when the signal
/// comes). On SIGTERM, Ember sends them before exiting (draining), or drops them;
/// returns how many requests started after the signal.
fn requests_after_sigterm(extra: &[&str]) -> (usize, serde_json::Value, String) {
    let started = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&started);
    let am = serve_http(move |req| {
        if req.path == "/api/v2/alerts" {
            s.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(2));
        }
        ""
    });
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  rules:\n  - alert: Always\n    expr: vector(1)\n",
    )
    .expect("rules");
    let config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am}']\n",
        dir.path().join("rules.yml").display()
    );
    let port = free_port();
    let mut args = vec!["--rules.alert.resend-delay=500ms"];
    args.extend_from_slice(extra);
    let mut ember = start_ember(dir.path(), &config, port, &args);
    let flags = flags(port);
    // Wait for a backlog: one batch a second, one request every two seconds.
    let t = Instant::now();
    while started.load(Ordering::SeqCst) < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no alerts arrived: {}",
            get(port, "/metrics")
                .map(|r| r.1)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("notif"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(4));
    let (_, metrics) = get(port, "/metrics").expect("metrics");
    let before = started.load(Ordering::SeqCst);
    sigterm(&ember.0);
    let status = wait_exit(&mut ember, Duration::from_secs(30));
    assert!(status.success(), "{status}");
    (started.load(Ordering::SeqCst) - before, flags, metrics)
}

#[test]
fn draining_on_shutdown_and_its_flags() {
    let (after, flags, metrics) =
        requests_after_sigterm(&["--alertmanager.notification-batch-size=64"]);
    assert_eq!(flags["alertmanager.notification-batch-size"], "64");
    assert_eq!(
        flags["alertmanager.drain-notification-queue-on-shutdown"],
        "true"
    );
    assert!(
        after >= 2,
        "the queued batches were sent on shutdown: {after}"
    );
    // The latency summary, per Alertmanager, as Prometheus exports it.
    assert!(
        metrics.contains("# TYPE prometheus_notifications_latency_seconds summary"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("prometheus_notifications_latency_seconds{alertmanager=\"http://127.0.0.1:"),
        "{metrics}"
    );
    assert!(metrics.contains("quantile=\"0.99\""), "{metrics}");
    assert!(
        metrics.contains("prometheus_notifications_latency_seconds_count{alertmanager="),
        "{metrics}"
    );
}

#[test]
fn no_draining_drops_the_queue() {
    for flag in [
        "--no-alertmanager.drain-notification-queue-on-shutdown",
        "--alertmanager.drain-notification-queue-on-shutdown=false",
    ] {
        let (after, flags, _) = requests_after_sigterm(&[flag]);
        assert_eq!(
            flags["alertmanager.drain-notification-queue-on-shutdown"], "false",
            "{flag}"
        );
        // A request may start as the signal arrives, not the backlog.
        assert!(after <= 1, "{flag}: {after} requests after SIGTERM");
    }
}

#[test]
fn the_last_of_the_drain_flags_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _ember = start_ember(
        dir.path(),
        "global: {}\n",
        port,
        &[
            "--no-alertmanager.drain-notification-queue-on-shutdown",
            "--alertmanager.drain-notification-queue-on-shutdown",
        ],
    );
    assert_eq!(
        flags(port)["alertmanager.drain-notification-queue-on-shutdown"],
        "true"
    );
    assert_eq!(flags(port)["alertmanager.notification-batch-size"], "256");
}

#[test]
fn node_exporter_stops_on_sigterm() {
    let port = free_port();
    let mut ne = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args([
                "node-exporter",
                "--log.level=error",
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let t = Instant::now();
    while !matches!(get(port, "/metrics"), Some((200, _))) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "node exporter not up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sigterm(&ne.0);
    let status = wait_exit(&mut ne, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}");
}
