//! `ember` with no arguments: the whole stack in one process on the embedded default
//! configuration, as a newcomer starts it. The server answers on :9090, the
//! Pushgateway on :9091, the Alertmanager on :9093 and the node exporter on :9100;
//! the server scrapes the node exporter and the Pushgateway (with `honor_labels`, so
//! a pushed `job` survives the scrape).
//!
//! The ports are the fixed defaults, so the test cannot pick free ones: when any of
//! them is taken (another Prometheus, a parallel run) it says so and passes.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Kill, get, request, wait_ready_at};

/// Every port the no-argument start binds.
const PORTS: [u16; 4] = [9090, 9091, 9093, 9100];

/// Whether `port` can be bound on every interface, as `ember` binds it.
fn port_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The end of the process's log, for failure messages.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("ember.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Polls `check` every 250 ms until it gives a value, for at most `secs` seconds.
fn eventually<T>(dir: &Path, what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s; log:\n{}",
            log_tail(dir)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn json(port: u16, path: &str) -> Option<serde_json::Value> {
    let (code, body) = get(port, path)?;
    (code == 200).then(|| serde_json::from_str(&body).ok())?
}

#[test]
fn no_arguments_start_the_whole_stack() {
    let busy: Vec<u16> = PORTS.into_iter().filter(|p| !port_free(*p)).collect();
    if !busy.is_empty() {
        println!("skipped: port(s) {busy:?} already in use; `ember` with no arguments needs them");
        return;
    }
    // The working directory holds the data directory (`data/`); declared before the
    // guard so the process is killed before the directory goes.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = std::fs::File::create(dir.path().join("ember.log")).expect("log file");
    let _ember = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ember"),
    );
    let d = dir.path();

    eventually(d, "server ready on :9090", 60, || {
        matches!(get(9090, "/-/ready"), Some((200, _))).then_some(())
    });
    wait_ready_at(9091, "/-/ready");
    eventually(d, "alertmanager ready on :9093", 30, || {
        matches!(get(9093, "/-/ready"), Some((200, _))).then_some(())
    });
    let node = eventually(d, "node exporter on :9100", 30, || {
        get(9100, "/metrics").filter(|(c, _)| *c == 200)
    });
    assert!(
        node.1.contains("\nnode_cpu_seconds_total{"),
        "node exporter serves node_cpu_seconds_total"
    );
    assert!(
        d.join("data").is_dir(),
        "data directory in the working directory"
    );

    // A batch job's push, with no instance in the grouping key: the gateway exposes
    // it with job="batch", instance="", and honor_labels keeps job="batch" rather
    // than the scrape job's name.
    let (code, body) = request(
        9091,
        "PUT",
        "/metrics/job/batch",
        &[],
        b"# TYPE all_in_one_batch_done gauge\nall_in_one_batch_done 1\n",
    )
    .expect("push");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));

    // The default scrape interval is 15 s; allow for a few.
    let sample = eventually(d, "pushed group scraped by the server", 60, || {
        let v = json(
            9090,
            "/api/v1/query?query=all_in_one_batch_done%7Bjob%3D%22batch%22%7D",
        )?;
        v["data"]["result"].as_array()?.first().cloned()
    });
    assert_eq!(sample["metric"]["job"], "batch", "{sample}");
    assert!(
        sample["metric"].get("instance").is_none(),
        "instance=\"\" stays empty (absent): {sample}"
    );
    assert_eq!(sample["value"][1], "1", "{sample}");

    let targets = eventually(d, "pushgateway and node targets up", 60, || {
        let v = json(9090, "/api/v1/targets")?;
        let active = v["data"]["activeTargets"].as_array()?.clone();
        let up = |job: &str| {
            active
                .iter()
                .any(|t| t["labels"]["job"] == job && t["health"] == "up")
        };
        (up("pushgateway") && up("node")).then_some(active)
    });
    let jobs: Vec<String> = targets
        .iter()
        .map(|t| format!("{}={}", t["labels"]["job"], t["health"]))
        .collect();
    println!("targets: {}", jobs.join(", "));
}
