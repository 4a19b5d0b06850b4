//! Interop: the notifier delivers to Debian's `prometheus-alertmanager` (0.25), which
//! then lists the alert with the labels (external ones included), annotations and
//! start time sent; a resolved alert (end time in the past) leaves its active list.
//!
//! The binary is `prometheus-alertmanager` on PATH or `$EMBER_ALERTMANAGER_BIN`.
//! Without it the test says so and passes, unless `EMBER_REQUIRE_INTEROP=1`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ember_model::labels::Labels;
use ember_notifier::{Alert, Notifier, Options};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some((
        out.get(9..12)?.parse().ok()?,
        out.split_once("\r\n\r\n")?.1.to_string(),
    ))
}

fn alertmanager_bin() -> String {
    std::env::var("EMBER_ALERTMANAGER_BIN").unwrap_or_else(|_| "prometheus-alertmanager".into())
}

fn active_alerts(port: u16) -> Vec<serde_json::Value> {
    let (code, body) = get(port, "/api/v2/alerts").expect("alertmanager answers");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body)
        .expect("json")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_receives_and_resolves() {
    let bin = alertmanager_bin();
    if Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        assert!(
            std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "{bin} not installed"
        );
        println!("skipped: {bin} not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .expect("write config");
    let port = free_port();
    let _am = Kill(
        Command::new(&bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let t = Instant::now();
    while !matches!(get(port, "/-/ready"), Some((200, _))) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "alertmanager not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let config = ember_config::load_str(
        &format!(
            "global:\n  external_labels:\n    cluster: eu1\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{port}']\n"
        ),
        std::path::Path::new("ember.yml"),
        &ember_config::LoadOptions::default(),
    )
    .expect("config");
    let n = Notifier::new(Options::default());
    n.apply_config(&config.alerting, config.global.external_labels.clone());
    n.set_alertmanagers(
        &config.alerting,
        &[vec![Labels::from_pairs([(
            "__address__",
            format!("127.0.0.1:{port}"),
        )])]],
    );
    tokio::spawn(n.clone().run());

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .expect("clock");
    let firing = Alert {
        labels: Labels::from_pairs([("alertname", "DiskFull"), ("severity", "page")]),
        annotations: Labels::from_pairs([("summary", "disk / is 97% full")]),
        starts_at_ms: now_ms - 60_000,
        ends_at_ms: Some(now_ms + 300_000),
        generator_url: "http://ember:9090/graph?g0.expr=disk".into(),
    };
    n.send(vec![firing.clone()]);
    let t = Instant::now();
    let alerts = loop {
        let a = active_alerts(port);
        if !a.is_empty() {
            break a;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "alert never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "DiskFull");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["labels"]["cluster"], "eu1", "external label");
    assert_eq!(a["annotations"]["summary"], "disk / is 97% full");
    assert_eq!(a["generatorURL"], "http://ember:9090/graph?g0.expr=disk");
    assert_eq!(a["status"]["state"], "active");
    let starts = a["startsAt"].as_str().expect("startsAt");
    assert_eq!(
        ember_model::time::parse_rfc3339(starts),
        Some(firing.starts_at_ms),
        "{starts}"
    );

    // Resolved: the end time is in the past.
    n.send(vec![Alert {
        ends_at_ms: Some(now_ms - 1_000),
        ..firing
    }]);
    let t = Instant::now();
    while !active_alerts(port).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "alert never resolved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
