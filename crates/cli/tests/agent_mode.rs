//! `ember server --agent` against Debian's `prometheus --enable-feature=agent`
//! (2.42): both scrape the same target every second and remote-write to their
//! own receiver (a Debian `prometheus --web.enable-remote-write-receiver`); the
//! receivers must hold the same series with the same number of samples over a
//! fixed past window, the agents must answer the query API and refuse
//! `rule_files` alike, and Ember's agent must lose nothing across a SIGTERM
//! restart while its WAL stays bounded by truncation.

mod common;

use common::{Kill, free_port, get, have_prometheus, serve_exposition, wait_ready};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TARGET: &str = "# TYPE agent_gauge gauge\nagent_gauge{k=\"a\"} 1\nagent_gauge{k=\"b\"} 2\n# TYPE agent_events_total counter\nagent_events_total 7\n";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn config(target: u16, receiver: u16, extra: &str) -> String {
    format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n{extra}scrape_configs:\n  - job_name: t\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\nremote_write:\n  - url: http://127.0.0.1:{receiver}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s}}\n"
    )
}

fn receiver(dir: &Path, port: u16) -> Kill {
    Kill(
        Command::new("prometheus")
            .arg("--config.file=/dev/null")
            .arg(format!("--storage.tsdb.path={}", dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn prom_agent(cfg: &Path, data: &Path, port: u16) -> Command {
    let mut c = Command::new("prometheus");
    c.arg("--enable-feature=agent")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.agent.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn ember_agent(cfg: &Path, data: &Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ember"));
    c.args(["server", "--agent", "--log.level=error"])
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.agent.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Prometheus has no lower bound: truncate often so the test sees it.
        .arg("--storage.agent.wal-truncate-frequency=2s")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn json(port: u16, path: &str) -> (u16, Value) {
    let (code, body) = get(port, path).unwrap_or_else(|| panic!("no answer from {port}{path}"));
    (
        code,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")),
    )
}

/// Per series (its labels as JSON) the number of samples the receiver holds in
/// `(at - secs, at]`.
fn counts(port: u16, at: f64, secs: u32) -> BTreeMap<String, u64> {
    let q = format!("/api/v1/query?query=%7Bjob%3D%22t%22%7D%5B{secs}s%5D&time={at:.3}");
    let (code, v) = json(port, &q);
    assert_eq!(code, 200, "{v}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"].to_string(),
                r["values"].as_array().unwrap().len() as u64,
            )
        })
        .collect()
}

/// The series (full label sets) of job `t` the receiver holds.
fn series(port: u16) -> Vec<String> {
    let (code, v) = json(port, "/api/v1/series?match%5B%5D=%7Bjob%3D%22t%22%7D");
    assert_eq!(code, 200, "{v}");
    let mut s: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.to_string())
        .collect();
    s.sort();
    s
}

fn wal_files(data: &Path) -> (usize, usize) {
    let mut segs = 0;
    let mut checkpoints = 0;
    for e in std::fs::read_dir(data.join("wal")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("checkpoint.") {
            checkpoints += 1;
        } else if name.parse::<u32>().is_ok() {
            segs += 1;
        }
    }
    (segs, checkpoints)
}

#[test]
fn agent_mode_matches_prometheus_agent() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = serve_exposition("text/plain; version=0.0.4", TARGET);
    let (recv_p, recv_e) = (free_port(), free_port());
    let _rp = receiver(&d.join("recv_p"), recv_p);
    let _re = receiver(&d.join("recv_e"), recv_e);
    wait_ready(recv_p);
    wait_ready(recv_e);

    // A configuration with rule_files is refused by both, before serving.
    let bad = d.join("bad.yml");
    std::fs::write(
        &bad,
        format!("rule_files: [r.yml]\n{}", config(target, recv_p, "")),
    )
    .unwrap();
    let p = prom_agent(&bad, &d.join("bad_p"), free_port())
        .status()
        .unwrap();
    let e = ember_agent(&bad, &d.join("bad_e"), free_port())
        .status()
        .unwrap();
    assert!(!p.success() && !e.success(), "prometheus {p}, ember {e}");
    assert_eq!(e.code(), Some(2), "Prometheus 3 exits 2 on a bad config");

    let (port_p, port_e) = (free_port(), free_port());
    let cfg_p = d.join("p.yml");
    let cfg_e = d.join("e.yml");
    std::fs::write(&cfg_p, config(target, recv_p, "")).unwrap();
    std::fs::write(&cfg_e, config(target, recv_e, "")).unwrap();
    let _p = Kill(
        prom_agent(&cfg_p, &d.join("agent_p"), port_p)
            .spawn()
            .unwrap(),
    );
    let data_e = d.join("agent_e");
    let mut ember = Kill(ember_agent(&cfg_e, &data_e, port_e).spawn().unwrap());
    wait_ready(port_p);
    wait_ready(port_e);

    // The query API answers alike.
    for path in [
        "/api/v1/query?query=up",
        "/api/v1/query_range?query=up&start=0&end=1&step=1",
    ] {
        let (cp, vp) = json(port_p, path);
        let (ce, ve) = json(port_e, path);
        assert_eq!(cp, ce, "{path}");
        assert_eq!(vp["errorType"], ve["errorType"], "{path}");
        assert_eq!(vp["error"], ve["error"], "{path}: {vp} vs {ve}");
    }
    let (code, v) = json(port_e, "/api/v1/status/flags");
    assert_eq!(code, 200);
    assert_eq!(v["data"]["agent"], "true");
    assert_eq!(json(port_e, "/api/v1/targets").0, 200);

    std::thread::sleep(Duration::from_secs(24));
    // A window that both agents scraped all through, and whose samples both
    // queues have sent (batch deadline 1 s).
    let at = now() - 3.0;
    let (cp, ce) = (counts(recv_p, at, 10), counts(recv_e, at, 10));
    assert!(!cp.is_empty(), "Prometheus's receiver got nothing");
    assert_eq!(cp, ce, "samples per series over 10 s: prometheus vs ember");
    assert!(ce.values().all(|n| *n == 10), "{ce:?}");
    assert_eq!(series(recv_p), series(recv_e));

    // SIGTERM, restart on the same directory: what was scraped before the stop
    // reaches the receiver, scraping resumes.
    let stopped = now();
    Command::new("kill")
        .args(["-TERM", &ember.0.id().to_string()])
        .status()
        .unwrap();
    let _ = ember.0.wait();
    let before = counts(recv_e, stopped, 8);
    assert!(
        before.values().all(|n| *n >= 7),
        "samples lost before the stop: {before:?}"
    );
    let cp = counts(recv_p, stopped - 1.0, 7);
    assert_eq!(cp, counts(recv_e, stopped - 1.0, 7));
    ember = Kill(ember_agent(&cfg_e, &data_e, port_e).spawn().unwrap());
    wait_ready(port_e);
    std::thread::sleep(Duration::from_secs(10));
    let after = counts(recv_e, now() - 2.0, 5);
    assert_eq!(after.len(), before.len());
    assert!(after.values().all(|n| *n >= 4), "after restart: {after:?}");

    // Truncation every 2 s keeps the WAL to a few segments and one checkpoint.
    let (segs, checkpoints) = wal_files(&data_e);
    assert!(
        segs <= 5 && checkpoints <= 1,
        "{segs} segments, {checkpoints} checkpoints"
    );
    let (_, metrics) = get(port_e, "/metrics").unwrap();
    let created = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_agent_checkpoint_creations_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(created >= 1.0, "no checkpoint: {metrics}");
    drop(ember);
}
