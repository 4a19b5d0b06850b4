//! Ember's scraper against real exporters, which answer gzip-compressed OpenMetrics or
//! text: Ember's own `node-exporter` and, when installed, Debian's
//! `prometheus-node-exporter`.

mod common;

use common::{Kill, free_port, get, start_ember};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for_up(ember_port: u16, job: &str) {
    let q = format!("/api/v1/query?query=up%7Bjob%3D%22{job}%22%7D");
    let t = Instant::now();
    loop {
        let (code, body) = get(ember_port, &q).unwrap();
        assert_eq!(code, 200, "{body}");
        if body.contains("\"1\"]") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{job} not up after 30s: {body} / targets: {:?}",
            get(ember_port, "/api/v1/targets")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let q = format!("/api/v1/query?query=count(node_cpu_seconds_total%7Bjob%3D%22{job}%22%7D)");
    let (_, body) = get(ember_port, &q).unwrap();
    assert!(body.contains("\"value\""), "{job}: no CPU series: {body}");
}

#[test]
fn scrapes_gzip_node_exporters() {
    let dir = tempfile::tempdir().unwrap();
    let (ep, np, dp) = (free_port(), free_port(), free_port());
    let _ours = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["node-exporter", "--log.level=error"])
            .arg(format!("--web.listen-address=127.0.0.1:{np}"))
            .spawn()
            .unwrap(),
    );
    let debian = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{dp}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
        .map(Kill);
    if debian.is_none() {
        assert!(
            std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "prometheus-node-exporter not installed"
        );
    }
    let _ember = start_ember(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ours\n    static_configs:\n      - targets: ['127.0.0.1:{np}']\n  - job_name: debian\n    static_configs:\n      - targets: ['127.0.0.1:{dp}']\n"
        ),
        ep,
        &[],
    );
    wait_for_up(ep, "ours");
    if debian.is_some() {
        wait_for_up(ep, "debian");
    }
}
